/// The loop as a Swift task executor: tasks with the loop as executor preference run here.
///
/// The serial-executor role (for actors pinned to the loop) lives in a separate object,
/// ``LoopSerialExecutor``: one object conforming to both protocols makes every nonisolated await pay an
/// extra enqueue.
extension EventLoop: Executor, TaskExecutor {
    /// Enqueues a job of a task that prefers this loop. Safe from any thread.
    public func enqueue(_ job: consuming ExecutorJob) {
        enqueue(.task(UnownedJob(job)))
    }

    /// The loop as an unowned task executor reference.
    @inline(__always)
    public func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        UnownedTaskExecutor(ordinary: self)
    }

    /// The serial executor for actors whose jobs must run on this loop.
    ///
    /// ```swift
    /// actor Counter {
    ///     let loop: EventLoop
    ///     var count = 0
    ///     init(loop: EventLoop) { self.loop = loop }
    ///     nonisolated var unownedExecutor: UnownedSerialExecutor { loop.serialExecutor.asUnownedSerialExecutor() }
    /// }
    /// ```
    public var serialExecutor: LoopSerialExecutor { serialFacade }
}

/// A serial executor that runs an actor's jobs on an ``EventLoop``'s thread, in order.
///
/// ### Thread safety
/// Enqueueing is safe from any thread; jobs run on the loop thread.
public final class LoopSerialExecutor: SerialExecutor {
    /// The loop that runs the jobs. Unowned: the loop owns its facade.
    public unowned let loop: EventLoop

    init(loop: EventLoop) { self.loop = loop }

    /// Enqueues an actor job. Safe from any thread.
    public func enqueue(_ job: consuming ExecutorJob) {
        loop.enqueue(.actor(UnownedJob(job)))
    }

    /// An unowned reference to this executor, for an actor's `unownedExecutor`.
    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// Two facades of the same loop are the same execution context.
    public func isSameExclusiveExecutionContext(other: LoopSerialExecutor) -> Bool {
        loop === other.loop
    }

    /// Stops the process unless called on the loop's thread.
    public func checkIsolated() {
        precondition(loop.inEventLoop, "expected to run on event loop '\(loop.name)'")
    }
}

import AsyncIOSystem
@_spi(ExperimentalScheduling) import _Concurrency
import Synchronization

/// The loop as Swift's default (global) executor while ``EventLoop/run(debug:handlesInterrupt:defaultExecutor:_:)``
/// runs with `defaultExecutor: true`: plain `Task {}`, `Task.detached {}`, default actors and
/// `Task.sleep` on Swift's clocks then run on the loop's thread, as everything does in asyncio.
///
/// ### What is official and what is not
/// Swift has no stable API for replacing the global executor at run time. Swift 6.3's
/// `ExecutorFactory` (SE-0464, experimental) picks the executors once, at process start, for the whole
/// process: it cannot hand them to a loop for the life of one `run` and back. So this file uses the
/// concurrency runtime's global-enqueue hooks (`swift_task_enqueueGlobal_hook`,
/// `…WithDelay_hook`, `…WithDeadline_hook`), which every Swift runtime on Linux exports and which
/// SwiftNIO's opt-in `installSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor` uses: unofficial,
/// hence opt-in, and confined to this file and `GlobalExecutorHooks` in AsyncIOSystem.
///
/// ### Where jobs go
/// Every global job goes to the loop that took over, whichever thread enqueues it: with an
/// ``EventLoopGroup``, `Task {}` from any of its loops runs on the `run` loop (start work on a group
/// loop with ``spawn(name:eager:_:)``). A delayed job becomes a loop timer. Jobs the loop can no longer
/// run (it is shutting down) go back to Swift's own pool, as do `Task {}`s still suspended when `run`
/// returns: the loop cannot tell a new task's job from a resumed one, so it cannot track, cancel and
/// await them as it does spawned tasks. End them before `run` returns, or use `spawn`.
enum GlobalExecutorTakeover {
    /// The loop that took over, kept alive while jobs may still reach it from other threads.
    static let target = Mutex<EventLoop?>(nil)

    /// Makes `loop` the global executor. Throws `.busy` if another loop (or library) already is.
    static func install(_ loop: EventLoop) throws {
        let context = Unmanaged.passUnretained(loop).toOpaque()
        let installed = target.withLock { target -> Bool in
            guard target == nil else { return false }
            guard GlobalExecutorHooks.takeOver(context: context, sink: sink, delayedSink: delayedSink) else {
                return false
            }
            target = loop
            return true
        }
        if !installed {
            throw EventLoopError(.busy, operation: "EventLoop.run(defaultExecutor: true)",
                                 detail: "another loop or library already runs Swift's global executor")
        }
    }

    /// Gives the global executor back to Swift's pool.
    static func uninstall(_ loop: EventLoop) {
        target.withLock { target in
            guard target === loop else { return }
            GlobalExecutorHooks.release()
            target = nil
        }
    }

    private static let sink: GlobalExecutorHooks.Sink = { context, job in
        let job = unsafeBitCast(job!, to: UnownedJob.self)
        // On the loop's own thread (the common case: a task of the loop starts or wakes another) the
        // loop is running, hence alive: no lock.
        if let current = CurrentLoopSlot.get(), current == context {
            Unmanaged<EventLoop>.fromOpaque(current).takeUnretainedValue().enqueue(.task(job))
            return
        }
        guard let loop = target.withLock({ $0 }) else {
            GlobalExecutorHooks.enqueueOnOriginalPool(unsafeBitCast(job, to: UnsafeMutableRawPointer.self))
            return
        }
        loop.enqueue(.task(job))
    }

    private static let delayedSink: GlobalExecutorHooks.DelayedSink = { _, delay, job in
        let pointer = job!
        guard let loop = target.withLock({ $0 }) else {
            GlobalExecutorHooks.enqueueOnOriginalPool(after: delay, pointer)
            return
        }
        let deadline = loop.nowNanoseconds.addingSaturated(Int64(clamping: delay))
        _ = loop.schedule(deadline: deadline, action: .job(unsafeBitCast(pointer, to: UnownedJob.self)))
    }
}

/// Delayed jobs on the loop's timers: Swift 6.3's `Task.sleep` asks the executor a task runs on for
/// this (the experimental `SchedulingExecutor`, SPI) before it falls back to Swift's default executor's
/// timers, which run on a Dispatch thread. With it, `Task.sleep(for:)` in a task of the loop costs one
/// heap entry and wakes on the loop, as ``EventLoop/sleep(for:)`` does.
@_spi(ExperimentalScheduling) extension EventLoop: SchedulingExecutor {
    /// Runs `job` on the loop after `delay` on `clock`. Safe from any thread.
    public func enqueue<C: Clock>(_ job: consuming ExecutorJob, after delay: C.Duration, tolerance: C.Duration?, clock: C) {
        let nanoseconds = (delay as? Duration)?.nanosecondsClamped ?? 0
        _ = schedule(deadline: nowNanoseconds.addingSaturated(max(0, nanoseconds)), action: .job(UnownedJob(job)))
    }

    /// Runs `job` on the loop at `instant` on `clock`. Safe from any thread.
    public func enqueue<C: Clock>(_ job: consuming ExecutorJob, at instant: C.Instant, tolerance: C.Duration?, clock: C) {
        let delay = clock.now.duration(to: instant)
        let nanoseconds = (delay as? Duration)?.nanosecondsClamped ?? 0
        _ = schedule(deadline: nowNanoseconds.addingSaturated(max(0, nanoseconds)), action: .job(UnownedJob(job)))
    }
}

import AsyncIOSystem
import Logging

extension EventLoop {
    /// Schedules `callback` to run on the loop in its next turn, after work already queued
    /// (asyncio's `call_soon` and `call_soon_threadsafe` in one).
    ///
    /// - Returns: `false` if the loop has closed and the callback will never run.
    ///
    /// Called from a task, the callback sees that task's task-local values (asyncio copies the context
    /// into callbacks): it runs in a small task made now, which copies them.
    ///
    /// ### Thread safety
    /// Safe from any thread. Callbacks from one thread run in the order they were scheduled.
    @discardableResult
    public func callSoon(_ callback: @escaping @Sendable () -> Void) -> Bool {
        guard Self.callerIsATask else { return execute(callback) }
        if isClosed { return false }
        Task(name: "callback", executorPreference: self) { [self] in
            // A closed loop forwards its jobs to Swift's pool: the callback then never runs, as promised.
            guard inEventLoop else { return }
            await withDebugName("callback") { callback() }
        }
        return true
    }

    /// Whether the caller runs in a task, whose task-local values a callback must carry.
    @inline(__always)
    static var callerIsATask: Bool { withUnsafeCurrentTask { $0 != nil } }

    /// Internal `callSoon` for loop-confined closures that need not be `Sendable` when called on the loop.
    @discardableResult
    func execute(_ callback: @escaping () -> Void) -> Bool {
        if inEventLoop {
            ready.push(.callback(callback))
            return true
        }
        nonisolated(unsafe) let callback = callback
        return enqueueFromOtherThread(.callback(callback))
    }
}

/// A timer callback scheduled from a task: a task made at scheduling time (so it copies the caller's
/// task-local values) waits here until the timer fires, then runs the callback; it ends without running
/// it if the timer is cancelled. Loop-confined: fired and cancelled by the loop, parked by its task.
final class CallbackCarrier: @unchecked Sendable {
    private enum State { case waiting, fired, cancelled }
    private var state = State.waiting
    private var parked: UnsafeContinuation<Void, Never>?
    private let callback: @Sendable () -> Void

    init(_ callback: @escaping @Sendable () -> Void) { self.callback = callback }

    /// Starts the carrying task on `loop`.
    func start(on loop: EventLoop) {
        Task(name: "timer callback", executorPreference: loop) { [self] in
            if state == .waiting { await withInheritedContinuation { parked = $0 } }
            guard state == .fired else { return }
            await loop.withDebugName("timer callback") {
                guard loop.isDebug else { return callback() }
                let started = MonotonicClock.nanoseconds()
                callback()
                loop.reportIfSlow("a timer callback held the event loop too long", task: "timer callback", since: started)
            }
        }
    }

    func fire() { settle(.fired) }
    func cancel() { settle(.cancelled) }

    private func settle(_ outcome: State) {
        guard state == .waiting else { return }
        state = outcome
        parked.take()?.resume()
    }
}

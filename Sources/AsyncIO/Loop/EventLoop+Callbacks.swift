extension EventLoop {
    /// Schedules `callback` to run on the loop in its next turn, after work already queued
    /// (asyncio's `call_soon` and `call_soon_threadsafe` in one).
    ///
    /// - Returns: `false` if the loop has closed and the callback will never run.
    ///
    /// ### Thread safety
    /// Safe from any thread. Callbacks from one thread run in the order they were scheduled.
    @discardableResult
    public func callSoon(_ callback: @escaping @Sendable () -> Void) -> Bool {
        execute(callback)
    }

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

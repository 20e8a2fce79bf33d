import AsyncIOSystem

/// Runs blocking `work` on the shared offload pool and returns its result, keeping the loop free
/// (asyncio.to_thread).
///
/// The shared pool has `min(32, cores + 4)` threads (Python's default), started on first use and
/// shut down, after finishing its queued work, when ``EventLoop/run(debug:handlesInterrupt:_:)`` returns. For a pool of
/// your own, use ``ThreadPool``.
///
/// - Throws: What `work` throws; `CancellationError` if cancelled before the work starts.
///
/// ### Cancellation
/// Cancelled before it starts, the work is skipped; once started it runs to completion and its result
/// is returned.
public func offload<Success: Sendable>(_ work: @escaping @Sendable () throws -> Success) async throws -> Success {
    while true {
        do {
            return try await SharedOffloadPool.pool().run(work)
        } catch let error as EventLoopError where error.code == .closed {
            // Another `EventLoop.run` ended and shut this pool down before it took the work (a refused
            // job never ran, so trying again is safe); the next call to `pool()` starts a new one.
            continue
        }
    }
}

/// The lazily started pool behind ``offload(_:)``.
enum SharedOffloadPool {
    private static let holder = LockedState<ThreadPool?>(nil)

    static func pool() throws -> ThreadPool {
        try holder.withLock { pool in
            if let pool { return pool }
            let started = try ThreadPool(threads: min(32, SystemInfo.coreCount + 4), name: "aio-offload")
            pool = started
            return started
        }
    }

    /// Finishes the queued work, stops the threads, and lets the next ``offload(_:)`` start a new pool.
    static func shutDownIfStarted() {
        let pool = holder.withLock { pool -> ThreadPool? in
            defer { pool = nil }
            return pool
        }
        pool?.shutdown()
    }
}

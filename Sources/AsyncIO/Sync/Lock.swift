import AsyncIOSystem

/// A mutual-exclusion lock for tasks (asyncio.Lock): FIFO, and usable from tasks on any loop.
///
/// ```swift
/// let lock = Lock()
/// try await lock.withLock { try await updateSharedState() }
/// ```
///
/// Release hands the lock straight to the first waiter, so a task that arrives later cannot barge in.
///
/// ### Thread safety
/// Every member is safe from any thread.
public final class Lock: Sendable {
    struct State {
        var isLocked = false
        var waiters = WaiterQueue<Void>()
    }
    let state = LockedState(State())

    /// Creates an unlocked lock.
    public init() {}

    /// Whether some task holds the lock.
    public var isLocked: Bool { state.withLock { $0.isLocked } }

    /// How many tasks wait to acquire the lock now (Trio's `statistics()`).
    public var waitingCount: Int { state.withLock { $0.waiters.count } }

    /// Acquires the lock, waiting in FIFO order while another task holds it.
    ///
    /// - Throws: `CancellationError` if cancelled while waiting.
    ///
    /// ### Cancellation
    /// Safe: a cancelled waiter leaves the queue and never takes the lock. If it is cancelled after the
    /// lock was handed to it, it returns normally holding the lock (release it), so no hand-off is lost.
    public func acquire() async throws {
        try await suspendAsWaiter(
            "Lock",
            state,
            tryNow: { state in
                guard !state.isLocked && state.waiters.isEmpty else { return false }
                state.isLocked = true
                return true
            },
            makeID: { $0.waiters.makeID() },
            enqueue: { state, id, continuation in
                state.waiters.append(.init(id: id, payload: (), continuation: continuation))
            },
            dequeue: { state, id in state.waiters.remove(id: id)?.continuation }
        )
    }

    /// Acquires the lock even if the task is cancelled (``Condition`` must hold its lock again before it
    /// returns or throws, as asyncio's does). No cancellation handler is installed, so the waiter is only
    /// ever resumed by a release.
    func acquireIgnoringCancellation() async {
        if tryAcquire() { return }
        let id = state.withLock { $0.waiters.makeID() }
        try! await withInheritedThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
            let ready = state.withLock { state -> Bool in
                if !state.isLocked && state.waiters.isEmpty {
                    state.isLocked = true
                    return true
                }
                state.waiters.append(.init(id: id, payload: (), continuation: continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Acquires the lock if it is free, without waiting.
    public func tryAcquire() -> Bool {
        state.withLock { state in
            guard !state.isLocked && state.waiters.isEmpty else { return false }
            state.isLocked = true
            return true
        }
    }

    /// Releases the lock, handing it to the first waiter if there is one.
    ///
    /// - Throws: ``SyncError`` if the lock is not locked (asyncio's `RuntimeError`).
    public func release() throws(SyncError) {
        let next = try state.withLock { (state: inout State) throws(SyncError) -> UnsafeContinuation<Void, any Error>? in
            guard state.isLocked else { throw SyncError("release() of an unlocked Lock") }
            if let waiter = state.waiters.popFirst() { return waiter.continuation }  // stays locked: handed over
            state.isLocked = false
            return nil
        }
        next?.resume()
    }

    /// Runs `body` holding the lock, and releases it however `body` ends.
    ///
    /// ### Cancellation
    /// Cancelled while waiting for the lock: throws `CancellationError` without running `body`.
    public func withLock<Result>(_ body: () async throws -> Result) async throws -> Result {
        try await acquire()
        defer { try! release() }
        return try await body()
    }
}

/// Misuse of a synchronisation primitive: releasing what is not held, over-releasing a bounded
/// semaphore, waiting on a condition without its lock.
public struct SyncError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was wrong.
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}


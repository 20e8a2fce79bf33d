import AsyncIOSystem

/// A counter of permits tasks acquire and release (asyncio.Semaphore): FIFO, usable from any loop.
///
/// A release hands its permit straight to the first waiter, so a waiter is never overtaken.
///
/// ### Thread safety
/// Every member is safe from any thread.
public class Semaphore: @unchecked Sendable {
    struct State {
        var value: Int
        var waiters = WaiterQueue<Void>()
    }
    let state: LockedState<State>
    /// For ``BoundedSemaphore``: the most permits there may be.
    let bound: Int?

    /// Creates a semaphore with `value` permits.
    public init(value: Int = 1) {
        precondition(value >= 0, "a Semaphore starts with 0 or more permits")
        state = LockedState(State(value: value))
        bound = nil
    }

    init(value: Int, bound: Int) {
        state = LockedState(State(value: value))
        self.bound = bound
    }

    /// Permits available now.
    public var value: Int { state.withLock { $0.value } }

    /// Whether ``acquire()`` would wait.
    public var isLocked: Bool { state.withLock { $0.value == 0 || !$0.waiters.isEmpty } }

    /// How many tasks wait to acquire the semaphore now (Trio's `statistics()`).
    public var waitingCount: Int { state.withLock { $0.waiters.count } }

    /// Takes a permit, waiting in FIFO order while there is none.
    ///
    /// ### Cancellation
    /// Safe: a cancelled waiter never takes a permit; one handed to it just before it was cancelled is
    /// kept (it returns normally), so no permit is lost.
    public func acquire() async throws {
        try await suspendAsWaiter(
            "Semaphore",
            state,
            tryNow: { state in
                guard state.value > 0 && state.waiters.isEmpty else { return false }
                state.value -= 1
                return true
            },
            makeID: { $0.waiters.makeID() },
            enqueue: { state, id, continuation in
                state.waiters.append(.init(id: id, payload: (), continuation: continuation))
            },
            dequeue: { state, id in state.waiters.remove(id: id)?.continuation }
        )
    }

    /// Takes a permit if one is free, without waiting.
    public func tryAcquire() -> Bool {
        state.withLock { state in
            guard state.value > 0 && state.waiters.isEmpty else { return false }
            state.value -= 1
            return true
        }
    }

    /// Returns a permit, handing it to the first waiter if there is one.
    ///
    /// - Throws: ``SyncError`` for a ``BoundedSemaphore`` released past its initial value.
    public func release() throws(SyncError) {
        let bound = self.bound
        let next = try state.withLock { (state: inout State) throws(SyncError) -> UnsafeContinuation<Void, any Error>? in
            if let waiter = state.waiters.popFirst() { return waiter.continuation }
            if let bound, state.value >= bound { throw SyncError("BoundedSemaphore released too many times") }
            state.value += 1
            return nil
        }
        next?.resume()
    }

    /// Runs `body` holding a permit.
    ///
    /// ### Cancellation
    /// Cancelled while waiting: throws `CancellationError` without running `body`.
    public func withPermit<Result>(_ body: () async throws -> Result) async throws -> Result {
        try await acquire()
        defer { try! release() }
        return try await body()
    }
}

/// A ``Semaphore`` that refuses to be released past its initial value (asyncio.BoundedSemaphore).
public final class BoundedSemaphore: Semaphore, @unchecked Sendable {
    /// Creates a semaphore with `value` permits, which is also the most it may ever hold.
    public override init(value: Int = 1) {
        precondition(value >= 0, "a BoundedSemaphore starts with 0 or more permits")
        super.init(value: value, bound: value)
    }
}

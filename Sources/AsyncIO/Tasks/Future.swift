import AsyncIOSystem

/// A result that is set once, by anyone, and awaited by any number of tasks on any loops (asyncio's
/// `Future`, `loop.create_future()`).
///
/// Use it to bridge callbacks to `await`, or to hand one result to many waiters:
///
/// ```swift
/// let answer = Future<Int>()
/// loop.call(after: .seconds(1)) { answer.complete(42) }
/// let value = try await answer.value  // 42, a second later
/// ```
///
/// ### Thread safety
/// Every member is safe from any thread. Each waiter resumes on its own executor (its loop).
public final class Future<Value: Sendable>: Sendable {
    private struct State {
        var result: Result<Value, any Error>?
        var waiters = WaiterQueue<Void>()
    }
    private let state = LockedState(State())

    /// Creates a future with no result yet.
    public init() {}

    /// Whether the future has a result (a value, an error, or cancellation).
    public var isDone: Bool { state.withLock { $0.result != nil } }

    /// Whether the future was cancelled with ``cancel()``.
    public var isCancelled: Bool {
        state.withLock { state in
            if case .failure(let error) = state.result { return error is CancellationError }
            return false
        }
    }

    /// The result if there is one, without waiting (asyncio's `result()` / `exception()` on a done
    /// future).
    public var result: Result<Value, any Error>? { state.withLock { $0.result } }

    /// How many tasks wait in ``value`` now.
    public var waitingCount: Int { state.withLock { $0.waiters.count } }

    /// Sets the value and wakes every waiter (asyncio's `set_result`).
    ///
    /// - Returns: `false` if the future already had a result; that result stands.
    @discardableResult
    public func complete(_ value: Value) -> Bool { resolve(.success(value)) }

    /// Sets an error and wakes every waiter, who throw it (asyncio's `set_exception`).
    ///
    /// - Returns: `false` if the future already had a result.
    @discardableResult
    public func fail(_ error: any Error) -> Bool { resolve(.failure(error)) }

    /// Sets the result from `result`.
    ///
    /// - Returns: `false` if the future already had a result.
    @discardableResult
    public func resolve(_ result: Result<Value, any Error>) -> Bool {
        let woken = state.withLock { state -> [WaiterQueue<Void>.Waiter]? in
            guard state.result == nil else { return nil }
            state.result = result
            return state.waiters.removeAll()
        }
        guard let woken else { return false }
        for waiter in woken { waiter.continuation.resume() }
        return true
    }

    /// Cancels the future: every waiter throws `CancellationError` (asyncio's `cancel()`).
    ///
    /// - Returns: `false` if the future already had a result.
    @discardableResult
    public func cancel() -> Bool { resolve(.failure(CancellationError())) }

    /// The value, once the future has one.
    ///
    /// - Throws: The error the future was failed with; `CancellationError` if it was cancelled or the
    ///   waiting task is cancelled.
    ///
    /// ### Cancellation
    /// Cancelling a waiting task (or the deadline of a ``withTimeout(_:_:)-(_,()->_)`` around it) takes
    /// only that waiter out: the future and its other waiters are untouched (unlike asyncio, where
    /// cancelling a task that awaits a future cancels the future).
    public var value: Value {
        get async throws {
            try await suspendAsWaiter(
                "Future",
                state,
                tryNow: { $0.result != nil },
                makeID: { $0.waiters.makeID() },
                enqueue: { state, id, continuation in
                    state.waiters.append(.init(id: id, payload: (), continuation: continuation))
                },
                dequeue: { state, id in state.waiters.remove(id: id)?.continuation }
            )
            return try state.withLock { $0.result! }.get()
        }
    }
}

import AsyncIOSystem

/// A flag tasks can wait for (asyncio.Event): ``set()`` wakes every waiter, ``clear()`` resets it.
///
/// ### Thread safety
/// Every member is safe from any thread.
public final class Event: Sendable {
    struct State {
        var isSet = false
        var waiters = WaiterQueue<Void>()
    }
    let state = LockedState(State())

    /// Creates a cleared event.
    public init() {}

    /// Whether the flag is set.
    public var isSet: Bool { state.withLock { $0.isSet } }

    /// How many tasks wait in ``wait()`` now (Trio's `statistics()`), for tests and introspection.
    public var waitingCount: Int { state.withLock { $0.waiters.count } }

    /// Sets the flag and wakes every waiting task. Setting twice is harmless.
    public func set() {
        let woken = state.withLock { state -> [WaiterQueue<Void>.Waiter] in
            state.isSet = true
            return state.waiters.removeAll()
        }
        for waiter in woken { waiter.continuation.resume() }
    }

    /// Clears the flag; later ``wait()`` calls suspend again.
    public func clear() { state.withLock { $0.isSet = false } }

    /// Returns once the flag is set (at once if it already is).
    ///
    /// ### Cancellation
    /// Safe: the waiter leaves the queue and throws `CancellationError`.
    public func wait() async throws {
        try await suspendAsWaiter(
            "Event",
            state,
            tryNow: { $0.isSet },
            makeID: { $0.waiters.makeID() },
            enqueue: { state, id, continuation in
                state.waiters.append(.init(id: id, payload: (), continuation: continuation))
            },
            dequeue: { state, id in state.waiters.remove(id: id)?.continuation }
        )
    }
}

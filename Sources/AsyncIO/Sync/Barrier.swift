import AsyncIOSystem

/// Thrown by ``Barrier/wait()`` when the barrier is broken: aborted, reset while tasks waited, or a
/// waiting task was cancelled (asyncio.BrokenBarrierError).
public struct BrokenBarrierError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String { "the barrier is broken" }
}

/// A rendezvous for a fixed number of tasks (asyncio.Barrier): each ``wait()`` blocks until `parties`
/// tasks are waiting, then all go on together and the barrier is ready for the next round.
///
/// ### Thread safety
/// Every member is safe from any thread.
public final class Barrier: Sendable {
    struct State {
        var arrived = 0
        var isBroken = false
        var waiters = WaiterQueue<Void>()
    }
    /// How many tasks each round waits for.
    public let parties: Int
    private let state = LockedState(State())

    /// Creates a barrier for `parties` tasks.
    public init(parties: Int) {
        precondition(parties > 0, "a Barrier needs at least one party")
        self.parties = parties
    }

    /// Tasks waiting in the current round.
    public var waitingCount: Int { state.withLock { $0.waiters.count } }
    /// Whether the barrier is broken (see ``BrokenBarrierError``).
    public var isBroken: Bool { state.withLock { $0.isBroken } }

    /// Waits until `parties` tasks are waiting, and returns this task's arrival index in the round
    /// (0 for the first, `parties - 1` for the one that released the others).
    ///
    /// - Throws: ``BrokenBarrierError`` if the barrier is or becomes broken; `CancellationError` if
    ///   cancelled while waiting (which breaks the barrier for the others, as in asyncio).
    ///
    /// ### Cancellation
    /// The cancelled task leaves, and the barrier breaks: the other waiters get ``BrokenBarrierError``.
    public func wait() async throws -> Int {
        enum Step { case broken, released(Int, [WaiterQueue<Void>.Waiter]), wait(Int, UInt64) }
        let step = state.withLock { state -> Step in
            if state.isBroken { return .broken }
            let index = state.arrived
            state.arrived += 1
            if state.arrived == parties {
                state.arrived = 0
                return .released(index, state.waiters.removeAll())
            }
            return .wait(index, state.waiters.makeID())
        }
        switch step {
        case .broken:
            throw BrokenBarrierError()
        case .released(let index, let others):
            for waiter in others { waiter.continuation.resume() }
            return index
        case .wait(let index, let id):
            let state = self.state
            let loop = EventLoop.current
            let noted = loop?.beginWait(.primitive("Barrier")) ?? false
            defer { if noted { loop?.endWait() } }
            try await withCancellableContinuation(on: loop) { (continuation: UnsafeContinuation<Void, any Error>) in
                enum Outcome { case broken, cancelled, waiting }
                let outcome = state.withLock { state -> Outcome in
                    if state.isBroken { return .broken }
                    if Task.isCancelled { return .cancelled }
                    state.waiters.append(.init(id: id, payload: (), continuation: continuation))
                    return .waiting
                }
                switch outcome {
                case .broken: continuation.resume(throwing: BrokenBarrierError())
                case .cancelled:
                    Self.breakBarrier(state)
                    continuation.resume(throwing: CancellationError())
                case .waiting: break
                }
            } onCancel: {
                let mine = state.withLock { $0.waiters.remove(id: id) }
                if let mine {
                    Self.breakBarrier(state)
                    mine.continuation.resume(throwing: CancellationError())
                }
            }
            return index
        }
    }

    /// Breaks the barrier: waiting tasks and later ``wait()`` calls get ``BrokenBarrierError`` until
    /// ``reset()``.
    public func abort() { Self.breakBarrier(state) }

    /// Makes the barrier usable again; tasks waiting now get ``BrokenBarrierError``.
    public func reset() {
        let waiting = state.withLock { state -> [WaiterQueue<Void>.Waiter] in
            state.arrived = 0
            state.isBroken = false
            return state.waiters.removeAll()
        }
        for waiter in waiting { waiter.continuation.resume(throwing: BrokenBarrierError()) }
    }

    private static func breakBarrier(_ state: LockedState<State>) {
        let waiting = state.withLock { state -> [WaiterQueue<Void>.Waiter] in
            state.isBroken = true
            state.arrived = 0
            return state.waiters.removeAll()
        }
        for waiter in waiting { waiter.continuation.resume(throwing: BrokenBarrierError()) }
    }
}

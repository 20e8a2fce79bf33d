import AsyncIOSystem

/// Runs `operation` so that cancelling the caller does not cancel it (asyncio.shield).
///
/// `operation` runs as a task of its own on the current loop (tracked by it, so ``EventLoop/run(debug:handlesInterrupt:_:)``
/// still awaits it on the way out). If the caller is cancelled, it stops waiting at once with
/// `CancellationError` while `operation` runs to completion; its result is then discarded.
///
/// - Returns: What `operation` returned.
/// - Throws: What `operation` threw, or `CancellationError` if the caller was cancelled first.
///
/// ### Cancellation
/// The caller's cancellation is not passed on: that is the point. The caller throws
/// `CancellationError` immediately.
public func shield<Success: Sendable>(
    _ operation: sending @escaping () async throws -> Success
) async throws -> Success {
    let loop = try EventLoop.requireCurrent("shield")
    let outcome = Outcome<Success>()
    loop.spawn(name: "shielded") {
        let result: Result<Success, any Error>
        do { result = .success(try await operation()) } catch { result = .failure(error) }
        outcome.complete(result)
    }
    return try await withCancellableWait(on: loop) {
        try await outcome.value()
    } onCancel: {
        outcome.complete(.failure(CancellationError()))
    }
}

/// A result that can be completed once, from any thread, and awaited by one task.
final class Outcome<Value: Sendable>: @unchecked Sendable {
    private enum State {
        case empty
        case waiting(CheckedContinuation<Value, any Error>)
        case done(Result<Value, any Error>)
    }
    private let state = LockedState(State.empty)

    /// Completes with `result`; later completions are ignored. Never resumes under the lock.
    func complete(_ result: Result<Value, any Error>) {
        let waiter = state.withLock { state -> CheckedContinuation<Value, any Error>? in
            switch state {
            case .empty:
                state = .done(result)
                return nil
            case .waiting(let continuation):
                state = .done(result)
                return continuation
            case .done:
                return nil
            }
        }
        waiter?.resume(with: result)
    }

    func value() async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            let ready = state.withLock { state -> Result<Value, any Error>? in
                if case .done(let result) = state { return result }
                state = .waiting(continuation)
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}

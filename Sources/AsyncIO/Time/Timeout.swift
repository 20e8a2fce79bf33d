/// Thrown by ``withTimeout(_:_:)-(_,()->_)`` and ``withDeadline(_:_:)-(_,()->_)`` when, and only when,
/// their deadline passed while the body waited.
public struct TimeoutError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The deadline that passed, on the loop's clock.
    public let deadline: LoopClock.Instant

    /// Creates an error for `deadline`.
    public init(deadline: LoopClock.Instant) { self.deadline = deadline }

    public var description: String { "the operation timed out (deadline \(deadline))" }
}

/// Runs `operation`, cancelling its AsyncIO waits if it has not finished after `timeout`
/// (asyncio.timeout, wait_for).
///
/// ```swift
/// let line = try await withTimeout(.seconds(5)) { try await reader.readLine() }
/// ```
///
/// The deadline is a ``CancelScope``: no task and no thread, and a timer only once the body waits.
/// After a ``TimeoutError`` the caller carries on (retry, log, move on): only the waits inside the scope
/// were cancelled, never the calling task. Awaits not built on the loop are not interrupted: see
/// ``CancelScope``.
///
/// - Returns: What `operation` returned. If the deadline passed but `operation` returned anyway (it
///   caught the cancellation, or it did not wait), its value is returned, as in asyncio.
/// - Throws: ``TimeoutError`` if the deadline cancelled a wait and `operation` ended by throwing;
///   otherwise what `operation` threw. If the calling task itself is cancelled, `CancellationError`,
///   even when the deadline passed at the same moment (the deadline never steals an outer
///   cancellation). ``EventLoopError`` `.notOnLoop` outside a task running on a loop.
///
/// ### Cancellation
/// Cancelling the calling task cancels `operation`'s waits as usual and the call throws what
/// `operation` throws (`CancellationError` for loop operations), never ``TimeoutError``.
@inlinable
public nonisolated(nonsending) func withTimeout<Value>(
    _ timeout: Duration,
    _ operation: () async throws -> Value
) async throws -> Value {
    let loop = try EventLoop.requireCurrent("withTimeout")
    return try await withDeadline(loop.now.advanced(by: timeout), operation)
}

/// Runs `operation` with a ``CancelScope`` whose deadline is `timeout` from now; `operation` can read
/// and move it (asyncio's `async with asyncio.timeout(...) as cm: cm.reschedule(...)`).
///
/// See ``withTimeout(_:_:)-(_,()->_)`` for the results and errors.
///
/// ### Cancellation
/// As ``withTimeout(_:_:)-(_,()->_)``.
@inlinable
public nonisolated(nonsending) func withTimeout<Value>(
    _ timeout: Duration,
    _ operation: (CancelScope) async throws -> Value
) async throws -> Value {
    let loop = try EventLoop.requireCurrent("withTimeout")
    return try await withDeadline(loop.now.advanced(by: timeout), operation)
}

/// Runs `operation`, cancelling its AsyncIO waits if it has not finished by `deadline` on the loop's
/// clock (asyncio.timeout_at).
///
/// See ``withTimeout(_:_:)-(_,()->_)`` for the results and errors.
///
/// ### Cancellation
/// As ``withTimeout(_:_:)-(_,()->_)``.
@inlinable
public nonisolated(nonsending) func withDeadline<Value>(
    _ deadline: LoopClock.Instant,
    _ operation: () async throws -> Value
) async throws -> Value {
    // Not through the scope-taking form: a closure around `operation` would cost an executor switch
    // after it returned (the compiler hops back after every closure call).
    let scope = try CancelScope.open(deadline: deadline, "withDeadline")
    defer { scope.close() }
    do {
        return try await CancelScope.withCurrent(scope, operation)
    } catch {
        throw scope.timeoutError(for: error, deadline: deadline)
    }
}

/// Runs `operation` with a ``CancelScope`` whose deadline is `deadline` (`nil`: none yet);
/// `operation` can read and move it.
///
/// See ``withTimeout(_:_:)-(_,()->_)`` for the results and errors.
///
/// ### Cancellation
/// As ``withTimeout(_:_:)-(_,()->_)``.
@inlinable
public nonisolated(nonsending) func withDeadline<Value>(
    _ deadline: LoopClock.Instant?,
    _ operation: (CancelScope) async throws -> Value
) async throws -> Value {
    let (outcome, scope) = try await runInScope(deadline: deadline, "withDeadline", operation)
    if case .failure(let error) = outcome { throw scope.timeoutError(for: error, deadline: deadline) }
    return try outcome.get()
}

extension CancelScope {
    /// What a timeout whose body threw `error` throws: ``TimeoutError`` if this scope cancelled the body's
    /// waits (and the task itself was not cancelled), else `error`.
    @inlinable
    func timeoutError(for error: any Error, deadline: LoopClock.Instant?) -> any Error {
        guard isCancelled && !Task.isCancelled else { return error }
        return TimeoutError(deadline: self.deadline ?? deadline ?? loop.now)
    }
}

/// Runs `operation`, cancelling its AsyncIO waits after `timeout`; returns `nil` instead of throwing
/// when that happened (trio's `move_on_after`).
///
/// ```swift
/// if let reply = try await moveOnAfter(.seconds(1), { _ in try await reader.readLine() }) {
///     print(reply)
/// } else {
///     print("no reply within a second; going on")
/// }
/// ```
///
/// - Returns: What `operation` returned, or `nil` if the deadline cancelled a wait and `operation`
///   ended by throwing.
/// - Throws: What `operation` threw otherwise; `CancellationError` if the calling task is cancelled;
///   ``EventLoopError`` `.notOnLoop` outside a task running on a loop.
///
/// ### Cancellation
/// As ``withTimeout(_:_:)-(_,()->_)``: an outer cancellation is thrown, never turned into `nil`.
@inlinable
public nonisolated(nonsending) func moveOnAfter<Value>(
    _ timeout: Duration,
    _ operation: (CancelScope) async throws -> Value
) async throws -> Value? {
    let loop = try EventLoop.requireCurrent("moveOnAfter")
    return try await moveOnAt(loop.now.advanced(by: timeout), operation)
}

/// As ``moveOnAfter(_:_:)``, with a deadline on the loop's clock (trio's `move_on_at`).
///
/// ### Cancellation
/// As ``moveOnAfter(_:_:)``.
@inlinable
public nonisolated(nonsending) func moveOnAt<Value>(
    _ deadline: LoopClock.Instant?,
    _ operation: (CancelScope) async throws -> Value
) async throws -> Value? {
    let (outcome, scope) = try await runInScope(deadline: deadline, "moveOnAt", operation)
    if case .failure = outcome, scope.isCancelled && !Task.isCancelled { return nil }
    return try outcome.get()
}

/// Runs `operation` in a new ``CancelScope`` with `deadline`, closes the scope, and returns what
/// `operation` returned or threw with the scope, for the caller to tell a deadline from an error.
@inlinable
nonisolated(nonsending) func runInScope<Value>(
    deadline: LoopClock.Instant?,
    _ function: StaticString,
    _ operation: (CancelScope) async throws -> Value
) async throws -> (Result<Value, any Error>, CancelScope) {
    let scope = try CancelScope.open(deadline: deadline, function)
    defer { scope.close() }
    do {
        return (.success(try await CancelScope.withCurrent(scope) { try await operation(scope) }), scope)
    } catch {
        return (.failure(error), scope)
    }
}

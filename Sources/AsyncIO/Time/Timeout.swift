/// Thrown by ``withTimeout(_:_:)`` and ``withDeadline(_:_:)`` when, and only when, their deadline fired.
public struct TimeoutError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The deadline that passed, on the loop's clock.
    public let deadline: LoopClock.Instant

    /// Creates an error for `deadline`.
    public init(deadline: LoopClock.Instant) { self.deadline = deadline }

    public var description: String { "the operation timed out (deadline \(deadline))" }
}

/// Runs `operation`, cancelling it if it has not finished after `timeout` (asyncio.timeout, wait_for).
///
/// ```swift
/// let line = try await withTimeout(.seconds(5)) { try await reader.readLine() }
/// ```
///
/// - Returns: What `operation` returned. If the deadline fired but `operation` returned anyway (it caught
///   the cancellation), its value is returned, as in asyncio.
/// - Throws: ``TimeoutError`` if the deadline fired and `operation` ended by throwing; otherwise what
///   `operation` threw. If the calling task itself is cancelled, `CancellationError`, even when the
///   deadline fired at the same moment (the deadline never steals an outer cancellation).
///
/// Must be called from a task running on an ``EventLoop``: the deadline is a timer on that loop.
///
/// ### Cancellation
/// Cancelling the calling task cancels `operation` and the call throws what `operation` throws
/// (`CancellationError` for loop operations), never ``TimeoutError``.
@inlinable
public func withTimeout<Result>(
    _ timeout: Duration,
    _ operation: () async throws -> Result
) async throws -> Result {
    let loop = requireCurrentLoop("withTimeout")
    return try await withDeadline(loop.now.advanced(by: timeout), operation)
}

/// Runs `operation`, cancelling it if it has not finished by `deadline` on the loop's clock
/// (asyncio.timeout_at).
///
/// See ``withTimeout(_:_:)`` for the results and errors.
///
/// ### How it works
/// `operation` runs as a child task started in place on the loop (no hop), and the deadline is one
/// entry in the loop's timer heap that cancels that child. Swift's task cancellation cannot be undone,
/// so cancelling the child, not the caller, is what lets the caller go on after a ``TimeoutError``:
/// retry, log, or move on. The function is inlinable so that its generic parts are specialised in the
/// caller; the scope itself is non-generic.
///
/// ### Cancellation
/// As ``withTimeout(_:_:)``.
@inlinable
public func withDeadline<Result>(
    _ deadline: LoopClock.Instant,
    _ operation: () async throws -> Result
) async throws -> Result {
    let loop = requireCurrentLoop("withDeadline")
    let box = ResultBox<Result>()
    let fired = await withoutActuallyEscaping(operation) { operation in
        // SAFETY: the child task runs on this loop's thread while the caller waits for it, so
        // `operation` and what it captures are never used from two threads at once.
        nonisolated(unsafe) let operation = operation
        return await runTimeoutScope(loop: loop, deadline: deadline.nanoseconds) {
            do {
                box.result = .success(try await operation())
            } catch {
                box.result = .failure(error)
            }
        }
    }
    switch box.result! {
    case .success(let value):
        return value
    case .failure(let error):
        if fired && !Task.isCancelled { throw TimeoutError(deadline: deadline) }
        throw error
    }
}

/// The non-generic core of a timeout scope: runs `body` as a child task started in place on `loop`,
/// with a timer at `deadline` that cancels that child; returns whether the timer fired.
@usableFromInline
func runTimeoutScope(loop: EventLoop, deadline: Int64, _ body: @escaping @Sendable () async -> Void) async -> Bool {
    let timerBox = TimerBox()
    let parentName = loop.isDebug ? loop.currentTaskName : nil
    await withTaskGroup(of: Void.self) { group in
        group.addImmediateTask(executorPreference: loop) {
            withUnsafeCurrentTask { task in
                timerBox.timer = loop.schedule(deadline: deadline, action: .cancelTask(task!))
            }
            await loop.withDebugName("\(parentName ?? "a task") (timeout scope)") { await body() }
            // The timer must not outlive the child it would cancel.
            timerBox.timer!.cancel()
        }
        await group.waitForAll()
    }
    return timerBox.timer!.hasFired
}

/// The timer of one timeout scope, handed from the child task back to the scope.
private final class TimerBox: @unchecked Sendable {
    var timer: TimerHandle?
}

/// The loop of the calling task; stops the process with a clear message when there is none.
@usableFromInline
func requireCurrentLoop(_ function: StaticString) -> EventLoop {
    guard let loop = EventLoop.current else {
        preconditionFailure("\(function) must be called from a task running on an EventLoop (EventLoop.run, spawn)")
    }
    return loop
}

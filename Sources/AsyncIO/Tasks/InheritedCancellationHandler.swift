// A cancellation handler around a wait, as `withTaskCancellationHandler` installs one, without its
// executor switches. It calls the two runtime entry points the standard library's function calls,
// through forwarding functions of the C shim (Sources/CAsyncIOLinux/shim.c).

/// Runs `operation` with `handler` as the task's cancellation handler, as the standard library's
/// `withTaskCancellationHandler(operation:onCancel:isolation:)` does, with fewer executor switches.
///
/// The standard library's function is not inlinable. A call to it costs four executor switches, each
/// one a check of the task's executor preference under the task's status lock:
/// - it switches to its `isolation` on entry;
/// - `operation`, a closure of no particular isolation, switches to the generic executor on entry;
/// - the function switches back to its `isolation` after `operation` returns;
/// - the caller switches back after the function returns, because it was a call of another module.
///
/// Each of these finds the task already where it must be. Here `operation` inherits its caller's
/// isolation and the function is inlined into its caller, which leaves one: the compiler keeps the
/// switch after the call of a closure. A wait that is a continuation needs none: use
/// ``withInheritedThrowingContinuation(onCancel:_:)``.
///
/// The semantics are the standard library's, from the same runtime calls: the handler is installed
/// before `operation` runs and removed after it returns or throws. If the task is already cancelled,
/// the runtime runs the handler at once, on the calling thread, and `operation` still runs. Otherwise
/// the handler runs on the thread that cancels the task, concurrently with `operation`: it must be
/// safe from any thread and idempotent.
///
/// ### Cancellation
/// `handler` runs when the task is cancelled (at once, if it already is); `operation` decides what
/// cancellation means for the wait, usually by being resumed from `handler`.
@inline(always)
package nonisolated(nonsending) func withInheritedCancellationHandler<T>(
    _ operation: nonisolated(nonsending) () async throws -> T,
    onCancel handler: @Sendable () -> Void
) async rethrows -> T {
    // SAFETY: `handler`'s context lives in the caller's frame for the whole call; the record that
    // points to it is removed, here, before the call returns.
    let record = taskAddCancellationHandler(handler: handler)
    defer { taskRemoveCancellationHandler(record: record) }
    return try await operation()
}

/// Suspends the current task as ``withInheritedThrowingContinuation(_:)`` does, with `handler` as its
/// cancellation handler while it waits: `withTaskCancellationHandler` around
/// `withUnsafeThrowingContinuation`, with none of their executor switches.
///
/// Those two cost six executor switches a wait, each one a check of the task's executor preference
/// under the task's status lock (four for `withTaskCancellationHandler`, as
/// ``withInheritedCancellationHandler(_:onCancel:)`` tells, two for the continuation's wrapper). On the
/// echo server's request path, whose every wait for a socket was one of these, that was four switches
/// a request, and at 1,000 connections each of them missed the cache on the task's status. Every call
/// here is inlined, and the compiler emits no switch around the continuation primitive.
///
/// `handler` is installed before `body` runs, and removed when the task resumes. If the task is
/// already cancelled, the runtime runs `handler` at once, before `body`: a handler that resumes the
/// continuation must do it later (from a job of the loop), after `body` has stored it.
///
/// ### Cancellation
/// `handler` runs when the task is cancelled (at once, if it already is), from the cancelling thread;
/// it should have the wait resumed with `CancellationError`. It must be safe from any thread,
/// idempotent, and do nothing once the wait has resumed.
@inline(always)
package nonisolated(nonsending) func withInheritedThrowingContinuation<T>(
    onCancel handler: @Sendable () -> Void,
    _ body: (UnsafeContinuation<T, any Error>) -> Void
) async throws -> T {
    // SAFETY: as in `withInheritedCancellationHandler`: the record goes before `handler`'s context.
    let record = taskAddCancellationHandler(handler: handler)
    defer { taskRemoveCancellationHandler(record: record) }
    return try await withInheritedThrowingContinuation(body)
}

/// The runtime's `swift_task_addCancellationHandler` (declared as the standard library declares its
/// `_taskAddCancellationHandler`), through the C shim's forwarding function of the same convention:
/// installs `handler` as a cancellation record of the current task, runs it at once if the task is
/// already cancelled, and returns the record.
@usableFromInline
@_silgen_name("casyncio_task_add_cancellation_handler")
func taskAddCancellationHandler(handler: () -> Void) -> UnsafeRawPointer

/// The runtime's `swift_task_removeCancellationHandler` (`_taskRemoveCancellationHandler` in the
/// standard library), through the C shim: removes and frees the record `taskAddCancellationHandler`
/// returned.
@usableFromInline
@_silgen_name("casyncio_task_remove_cancellation_handler")
func taskRemoveCancellationHandler(record: UnsafeRawPointer)

/// Throws `CancellationError` if the current task is cancelled: `Task.checkCancellation()` for the
/// library's waits, which check before they suspend. The standard library's check takes a reference to
/// the task and releases it (two atomic operations), and an async function that inlines it reserves
/// room for a `CancellationError` (a type of a resilient module, so of unknown size: a task allocation
/// on every call, thrown or not). This one asks the runtime through the C shim and makes the error
/// out of line.
@inline(__always)
@usableFromInline
package func checkTaskCancellation() throws {
    if currentTaskIsCancelled() { throw cancellation() }
}

/// The error ``checkTaskCancellation()`` throws, made out of line.
@inline(never)
@usableFromInline
func cancellation() -> any Error { CancellationError() }

/// The runtime's `swift_task_isCancelled` of `swift_task_getCurrent` (false outside a task), through
/// the C shim.
@usableFromInline
@_silgen_name("casyncio_current_task_is_cancelled")
func currentTaskIsCancelled() -> Bool

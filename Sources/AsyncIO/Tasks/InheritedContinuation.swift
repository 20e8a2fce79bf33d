// The one file of AsyncIO that imports the compiler's `Builtin` module (the `BuiltinModule` experimental
// feature, set for this target in Package.swift): for the continuation primitive itself, without the
// standard library's wrapper around it.
import Builtin

/// Suspends the current task and hands `body` its continuation, as `withUnsafeThrowingContinuation`
/// does, without the wrapper's two executor switches.
///
/// The standard library's `withUnsafeThrowingContinuation(isolation:_:)` switches to its `isolation`
/// before it runs `body`, and the compiler switches back after it returns. Both are checks that find
/// the task already where it must be: the caller runs on its isolation, and a continuation resumes the
/// task on the executor it was suspended on. But each one asks the runtime for the task's executor
/// preference under the task's status lock, and every task of a loop has one: on the request path of
/// the HTTP server, where each wait for a socket is one of these, they were two of its four executor
/// switches a request. The primitive underneath (`Builtin.withUnsafeThrowingContinuation`) records the
/// current executor in the continuation, as the wrapper does, and the compiler emits no switch around
/// it: the semantics are the wrapper's, without the checks.
///
/// `body` runs synchronously, before the task suspends. Resume the continuation exactly once, from any
/// thread; the task then runs on the executor it was suspended on (for a task of a loop, the loop).
///
/// ### Cancellation
/// Not observed: resume the continuation from a cancellation handler to end the wait early.
@inline(__always) @usableFromInline
package nonisolated(nonsending) func withInheritedThrowingContinuation<T>(
    _ body: (UnsafeContinuation<T, any Error>) -> Void
) async throws -> T {
    try await Builtin.withUnsafeThrowingContinuation { (raw: Builtin.RawUnsafeContinuation) -> Void in
        // SAFETY: `UnsafeContinuation` is a frozen struct whose only stored property is this raw
        // continuation (the standard library's wrapper makes it with `UnsafeContinuation(raw)`, which is
        // not public): the same bits, the same type.
        body(unsafeBitCast(raw, to: UnsafeContinuation<T, any Error>.self))
    }
}

/// As ``withInheritedThrowingContinuation(_:)``, for a wait that cannot fail
/// (`withUnsafeContinuation`'s counterpart).
///
/// ### Cancellation
/// Not observed: resume the continuation from a cancellation handler to end the wait early.
@inline(__always) @usableFromInline
package nonisolated(nonsending) func withInheritedContinuation<T>(
    _ body: (UnsafeContinuation<T, Never>) -> Void
) async -> T {
    await Builtin.withUnsafeContinuation { (raw: Builtin.RawUnsafeContinuation) -> Void in
        // SAFETY: as in `withInheritedThrowingContinuation`: the same bits, the same type.
        body(unsafeBitCast(raw, to: UnsafeContinuation<T, Never>.self))
    }
}

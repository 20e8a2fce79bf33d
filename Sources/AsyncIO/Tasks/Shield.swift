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
    let outcome = Future<Success>()
    loop.spawn(name: "shielded") {
        do { outcome.complete(try await operation()) } catch { outcome.fail(error) }
    }
    // Cancelling this waiter takes it out of the future; the shielded task goes on.
    return try await outcome.value
}

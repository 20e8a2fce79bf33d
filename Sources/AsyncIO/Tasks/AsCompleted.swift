/// The results of operations run concurrently, in the order they finish (asyncio.as_completed).
///
/// The operations start when iteration starts, as child tasks of one driver task on the current loop
/// (or on the global executor off a loop). Iteration is fail-fast: the first error ends it with that
/// error and cancels the operations still running. Ending the iteration early (or cancelling the
/// iterating task) cancels them too, so no task outlives its consumer.
///
/// ```swift
/// for try await page in asCompleted(urls.map { url in { try await fetch(url) } }) {
///     print(page.title)
/// }
/// ```
///
/// To keep going past failures, return a `Result` from each operation.
///
/// ### Cancellation
/// Cancelling the task that iterates ends the iteration and cancels every operation.
public func asCompleted<Success: Sendable>(
    _ operations: [@Sendable () async throws -> Success]
) -> AsyncThrowingStream<Success, any Error> {
    let (stream, continuation) = AsyncThrowingStream.makeStream(
        of: Success.self,
        bufferingPolicy: .unbounded  // bounded by operations.count
    )
    let drive: @Sendable () async -> Void = {
        do {
            try await withThrowingTaskGroup(of: Success.self) { group in
                for operation in operations { group.addTask { try await operation() } }
                for try await value in group { continuation.yield(value) }
            }
            continuation.finish()
        } catch {
            continuation.finish(throwing: error)
        }
    }
    let driver: Task<Void, any Error>
    if let loop = EventLoop.current {
        driver = loop.spawn(name: "asCompleted") { await drive() }
    } else {
        driver = Task { await drive() }
    }
    continuation.onTermination = { _ in driver.cancel() }
    return stream
}

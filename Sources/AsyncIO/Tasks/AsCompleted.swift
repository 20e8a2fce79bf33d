/// The outcomes of operations run concurrently, each on its own, in the order they finish
/// (asyncio.as_completed).
///
/// A failure is one element like any other (asyncio's `as_completed` yields awaitables that raise one by
/// one): iteration goes on until every operation has finished. For iteration that stops at the first
/// error, use ``asCompletedFailFast(_:)``.
///
/// ```swift
/// for try await outcome in asCompleted(urls.map { url in { try await fetch(url) } }) {
///     switch outcome {
///     case .success(let page): print(page.title)
///     case .failure(let error): print("failed: \(error)")
///     }
/// }
/// ```
///
/// The operations start when the sequence is made, as child tasks of one task on the current loop (or
/// of Swift's pool off a loop). Dropping the sequence before the end (leaving the loop with `break`, or
/// a thrown error) cancels the operations still running, so none outlives its consumer.
///
/// ### Cancellation
/// `next()` throws `CancellationError` when the iterating task is cancelled, or when the deadline of a
/// ``withTimeout(_:_:)-(_,()->_)`` around the iteration passes; the operations are cancelled when the
/// sequence is dropped.
public func asCompleted<Success: Sendable>(
    _ operations: [@Sendable () async throws -> Success]
) -> CompletionSequence<Success> {
    CompletionSequence(operations)
}

/// The results of operations run concurrently, in the order they finish; the first error ends the
/// iteration with that error and cancels the operations still running (fail-fast).
///
/// ### Cancellation
/// As ``asCompleted(_:)``.
public func asCompletedFailFast<Success: Sendable>(
    _ operations: [@Sendable () async throws -> Success]
) -> AsyncThrowingMapSequence<CompletionSequence<Success>, Success> {
    CompletionSequence(operations).map { try $0.get() }
}

/// The outcomes of ``asCompleted(_:)``'s operations, in the order they finish.
public struct CompletionSequence<Success: Sendable>: AsyncSequence, Sendable {
    public typealias Element = Result<Success, any Error>

    private let driver: Driver

    init(_ operations: [@Sendable () async throws -> Success]) {
        driver = Driver(operations)
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(driver: driver) }

    /// Yields each outcome as its operation finishes.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let driver: Driver
        var received = 0

        /// The next outcome, or `nil` once every operation has finished.
        ///
        /// - Throws: `CancellationError` if the iterating task is cancelled or a scope's deadline passes.
        ///
        /// ### Cancellation
        /// Safe: an outcome not yet received stays for the next call.
        public mutating func next() async throws -> Result<Success, any Error>? {
            guard received < driver.count else { return nil }
            let outcome = try await driver.outcomes.get()
            received += 1
            return outcome
        }
    }

    /// Runs the operations; cancels them when the last copy of the sequence goes away.
    final class Driver: Sendable {
        let count: Int
        let outcomes = Queue<Result<Success, any Error>>()
        private let task: Task<Void, Never>

        init(_ operations: [@Sendable () async throws -> Success]) {
            count = operations.count
            let outcomes = self.outcomes
            let drive: @Sendable () async -> Void = {
                await withTaskGroup(of: Void.self) { group in
                    for operation in operations {
                        group.addTask {
                            let outcome: Result<Success, any Error>
                            do { outcome = .success(try await operation()) } catch { outcome = .failure(error) }
                            _ = outcomes.tryPut(outcome)
                        }
                    }
                }
            }
            if let loop = EventLoop.current {
                task = Task(name: "asCompleted", executorPreference: loop, operation: drive)
            } else {
                task = Task(name: "asCompleted", operation: drive)
            }
        }

        deinit { task.cancel() }
    }
}

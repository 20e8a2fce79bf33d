/// Runs every operation concurrently as child tasks and returns all their results, in argument order
/// (asyncio.gather).
///
/// Fail-fast: the first error cancels the other operations, waits for them, and is rethrown.
///
/// ```swift
/// let (user, posts) = try await gather({ try await fetchUser() }, { try await fetchPosts() })
/// ```
///
/// - Throws: The first error any operation throws.
///
/// ### Cancellation
/// Cancelling the caller cancels every operation; the call throws once all have finished.
public func gather<each Success: Sendable>(
    _ operations: repeat sending @escaping () async throws -> each Success
) async throws -> (repeat each Success) {
    let results = try await withThrowingTaskGroup(of: (Int, any Sendable).self) { group in
        var index = 0
        for operation in repeat each operations {
            let slot = index
            // SAFETY: each operation was passed `sending`, and each goes to exactly one child task.
            nonisolated(unsafe) let operation = operation
            group.addTask { (slot, try await operation()) }
            index += 1
        }
        var results = [(any Sendable)?](repeating: nil, count: index)
        // The first error thrown by next() leaves the group, which cancels and awaits the rest.
        let waiting = EventLoop.noteWaitingForChildTasks("child tasks (gather)")
        defer { waiting?.endWait() }
        while let (slot, value) = try await group.next() { results[slot] = value }
        return results
    }
    var cursor = 0
    func take<T>(_: T.Type) -> T {
        defer { cursor += 1 }
        return results[cursor] as! T
    }
    return (repeat take((each Success).self))
}

/// Runs every operation concurrently and returns each one's outcome, errors included, in argument order
/// (asyncio.gather with `return_exceptions=True`). One failure does not cancel the others.
///
/// ### Cancellation
/// Cancelling the caller cancels every operation; their outcomes (often `CancellationError`) are returned.
public func gatherResults<each Success: Sendable>(
    _ operations: repeat sending @escaping () async throws -> each Success
) async -> (repeat Result<each Success, any Error>) {
    let results = await withTaskGroup(of: (Int, Result<any Sendable, any Error>).self) { group in
        var index = 0
        for operation in repeat each operations {
            let slot = index
            // SAFETY: each operation was passed `sending`, and each goes to exactly one child task.
            nonisolated(unsafe) let operation = operation
            group.addTask {
                do { return (slot, .success(try await operation())) } catch { return (slot, .failure(error)) }
            }
            index += 1
        }
        var results = [Result<any Sendable, any Error>?](repeating: nil, count: index)
        let waiting = EventLoop.noteWaitingForChildTasks("child tasks (gather)")
        defer { waiting?.endWait() }
        for await (slot, result) in group { results[slot] = result }
        return results
    }
    var cursor = 0
    func take<T>(_: T.Type) -> Result<T, any Error> {
        defer { cursor += 1 }
        return results[cursor]!.map { $0 as! T }
    }
    return (repeat take((each Success).self))
}

/// Runs the operations concurrently and returns their results in order (asyncio.gather over a list).
///
/// Fail-fast, as the variadic ``gather(_:)``.
///
/// ### Cancellation
/// Cancelling the caller cancels every operation.
public func gather<Success: Sendable>(
    _ operations: [@Sendable () async throws -> Success]
) async throws -> [Success] {
    try await withThrowingTaskGroup(of: (Int, Success).self) { group in
        for (slot, operation) in operations.enumerated() {
            group.addTask { (slot, try await operation()) }
        }
        var results = [Success?](repeating: nil, count: operations.count)
        let waiting = EventLoop.noteWaitingForChildTasks("child tasks (gather)")
        defer { waiting?.endWait() }
        while let (slot, value) = try await group.next() { results[slot] = value }
        return results.map { $0! }
    }
}

/// Runs the operations concurrently and returns each one's outcome, errors included, in order
/// (asyncio.gather over a list with `return_exceptions=True`). One failure does not cancel the others.
///
/// ### Cancellation
/// Cancelling the caller cancels every operation; their outcomes (often `CancellationError`) are returned.
public func gatherResults<Success: Sendable>(
    _ operations: [@Sendable () async throws -> Success]
) async -> [Result<Success, any Error>] {
    await withTaskGroup(of: (Int, Result<Success, any Error>).self) { group in
        for (slot, operation) in operations.enumerated() {
            group.addTask {
                do { return (slot, .success(try await operation())) } catch { return (slot, .failure(error)) }
            }
        }
        var results = [Result<Success, any Error>?](repeating: nil, count: operations.count)
        let waiting = EventLoop.noteWaitingForChildTasks("child tasks (gather)")
        defer { waiting?.endWait() }
        for await (slot, result) in group { results[slot] = result }
        return results.map { $0! }
    }
}

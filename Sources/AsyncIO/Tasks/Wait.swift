/// When ``wait(_:returnWhen:timeout:)`` returns (asyncio's `FIRST_COMPLETED`, `FIRST_EXCEPTION`,
/// `ALL_COMPLETED`).
public enum ReturnWhen: Sendable, Hashable {
    /// As soon as any task finishes, however it finishes.
    case firstCompleted
    /// As soon as any task finishes by throwing; when all have finished if none throws.
    case firstException
    /// When every task has finished.
    case allCompleted
}

/// Waits for `tasks` to finish, as `returnWhen` says, for at most `timeout`, and returns which are done
/// and which are still pending (asyncio.wait). It throws nothing the tasks throw and cancels nothing:
/// read each done task's `result`, and cancel or await the pending ones yourself.
///
/// ```swift
/// let (done, pending) = try await wait(downloads, returnWhen: .firstCompleted, timeout: .seconds(5))
/// for task in pending { task.cancel() }
/// ```
///
/// - Parameters:
///   - tasks: The tasks to watch, in any state.
///   - returnWhen: When to return (``ReturnWhen/allCompleted`` by default).
///   - timeout: The longest to wait; `nil` waits as long as `returnWhen` needs. Needs a loop.
/// - Returns: The tasks that had finished when the call returned, and the others, each in the order of
///   `tasks`.
/// - Throws: `CancellationError` if the waiting task is cancelled; ``EventLoopError`` `.notOnLoop` for
///   a timeout outside a task running on a loop.
///
/// ### Cancellation
/// Cancelling the waiting task ends the wait with `CancellationError`; the watched tasks are not
/// cancelled (as in asyncio).
public func wait<Success: Sendable, Failure: Error>(
    _ tasks: [Task<Success, Failure>],
    returnWhen: ReturnWhen = .allCompleted,
    timeout: Duration? = nil
) async throws -> (done: [Task<Success, Failure>], pending: [Task<Success, Failure>]) {
    guard !tasks.isEmpty else { return ([], []) }
    let loop = EventLoop.current
    if timeout != nil, loop == nil { throw EventLoop.notOnLoop("wait(_:returnWhen:timeout:)") }
    // One watcher per task reports its index when it ends (true: it threw). A watcher cannot be
    // cancelled out of `task.result`, so it lives as long as its task, holding only this queue.
    let finished = Queue<(index: Int, threw: Bool)>()
    for (index, task) in tasks.enumerated() {
        let watch: @Sendable () async -> Void = {
            let threw: Bool
            if case .failure = await task.result { threw = true } else { threw = false }
            _ = finished.tryPut((index, threw))
        }
        if let loop { Task(executorPreference: loop, operation: watch) } else { Task(operation: watch) }
    }
    var done = [Bool](repeating: false, count: tasks.count)
    var doneCount = 0
    func record(_ event: (index: Int, threw: Bool)) -> Bool {
        if !done[event.index] {
            done[event.index] = true
            doneCount += 1
        }
        switch returnWhen {
        case .firstCompleted: return true
        case .firstException: return event.threw || doneCount == tasks.count
        case .allCompleted: return doneCount == tasks.count
        }
    }
    func collect() async throws {
        while try !record(await finished.get()) {}
    }
    if let timeout {
        _ = try await moveOnAfter(timeout) { _ in try await collect() }
    } else {
        try await collect()
    }
    // Tasks that finished while we returned count as done too.
    while let event = finished.tryGet() { _ = record(event) }
    var doneTasks: [Task<Success, Failure>] = [], pending: [Task<Success, Failure>] = []
    for (index, task) in tasks.enumerated() {
        if done[index] { doneTasks.append(task) } else { pending.append(task) }
    }
    return (doneTasks, pending)
}

import Synchronization
import AsyncIOSystem

/// What the loop knows about a live task it spawned (asyncio's `all_tasks()` entries).
public struct TaskInfo: Sendable, CustomStringConvertible {
    /// Whether the task is running on the loop right now or waiting.
    public enum State: Sendable, Hashable {
        /// Its job is running on the loop thread now.
        case running
        /// It is suspended or queued.
        case waiting
    }

    /// The task's name (`Task-N` unless one was given).
    public let name: String
    /// Running or waiting.
    public let state: State
    /// Time since it was spawned, on the loop's clock.
    public let age: Duration
    /// Whether cancellation was requested.
    public let isCancelled: Bool

    public var description: String {
        "\(name) [\(state == .running ? "running" : "waiting")\(isCancelled ? ", cancelled" : "")] age \(age)"
    }
}

/// The live tasks spawned on a loop; guarded by the loop's registry mutex.
struct TaskRegistry: ~Copyable {
    var records: [UInt64: TaskRecord] = [:]
    /// Task address (which is also its job's address) to record id, for slow-job reports.
    var byJob: [UInt: UInt64] = [:]
    var nextID: UInt64 = 0

    func name(of job: UInt) -> String? {
        byJob[job].flatMap { records[$0]?.name }
    }

    mutating func remove(_ record: TaskRecord) {
        records[record.id] = nil
        if let job = record.job { byJob[job] = nil }
    }
}

/// One spawned task. Mutable fields change only under the registry mutex.
final class TaskRecord: @unchecked Sendable {
    let id: UInt64
    let name: String
    let started: Int64
    /// The task's address, once it has started.
    var job: UInt?
    var cancel: (@Sendable () -> Void)?
    var isCancelRequested = false

    init(id: UInt64, name: String, started: Int64) {
        self.id = id
        self.name = name
        self.started = started
    }
}

extension EventLoop {
    /// Starts `operation` as a new task on the loop (asyncio's `create_task`).
    ///
    /// The task and every child task it creates run on the loop's thread. The loop tracks it until it
    /// finishes: it is listed in ``tasks``, and ``run(debug:_:)`` cancels and awaits it on the way out.
    ///
    /// - Parameters:
    ///   - name: The task's name in ``tasks`` and slow-job reports; `Task-N` by default.
    ///   - eager: Start running `operation` at once, on the caller's stack, until its first suspension
    ///     (asyncio's eager task factory). It saves a trip through the ready queue; it applies only when
    ///     called on the loop's thread.
    ///   - operation: The work.
    /// - Returns: The task, to await its value or cancel it.
    ///
    /// ### Thread safety
    /// Safe from any thread: from another thread this is asyncio's `run_coroutine_threadsafe`.
    @discardableResult
    public func spawn<Success: Sendable>(
        name: String? = nil,
        eager: Bool = false,
        _ operation: sending @escaping () async throws -> Success
    ) -> Task<Success, any Error> {
        let started = nowNanoseconds
        let record = registry.withLock { registry -> TaskRecord in
            registry.nextID += 1
            let record = TaskRecord(id: registry.nextID, name: name ?? "Task-\(registry.nextID)", started: started)
            registry.records[record.id] = record
            return record
        }
        let body: () async throws -> Success = { [self] in
            withUnsafeCurrentTask { current in
                guard let current else { return }
                let job = unsafeBitCast(current, to: UInt.self)
                registry.withLock { registry in
                    record.job = job
                    registry.byJob[job] = record.id
                }
                if isDebug && inEventLoop { startingTaskName = record.name }
            }
            defer { registry.withLock { $0.remove(record) } }
            return try await operation()
        }
        let task: Task<Success, any Error>
        if eager && inEventLoop {
            task = Task.immediate(name: record.name, executorPreference: self, operation: body)
        } else {
            task = Task(name: record.name, executorPreference: self, operation: body)
        }
        let cancelNow = registry.withLock { _ -> Bool in
            record.cancel = { task.cancel() }
            return record.isCancelRequested
        }
        if cancelNow { task.cancel() }
        return task
    }

    /// The live tasks spawned with ``spawn(name:eager:_:)`` (asyncio's `all_tasks()`), oldest first.
    ///
    /// ### Thread safety
    /// Safe from any thread; off the loop, `running` is a snapshot that may already be stale.
    public var tasks: [TaskInfo] {
        let now = nowNanoseconds
        let running = inEventLoop ? currentJob.map { UInt(bitPattern: $0) } : nil
        return registry.withLock { registry in
            registry.records.values.sorted { $0.id < $1.id }.map { record in
                TaskInfo(
                    name: record.name,
                    state: record.job != nil && record.job == running ? .running : .waiting,
                    age: .nanoseconds(now - record.started),
                    isCancelled: record.isCancelRequested
                )
            }
        }
    }

    /// How many spawned tasks are alive.
    public var taskCount: Int { registry.withLock { $0.records.count } }

    /// Requests cancellation of every live spawned task.
    func cancelAllTasks() {
        let cancels = registry.withLock { registry -> [@Sendable () -> Void] in
            registry.records.values.compactMap { record in
                record.isCancelRequested = true
                return record.cancel
            }
        }
        for cancel in cancels { cancel() }
    }
}

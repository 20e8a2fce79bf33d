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

/// The live tasks spawned on a loop, keyed by task address; guarded by the loop's registry mutex.
///
/// A task enters when its first job runs (that is when its address is known) and leaves when its body
/// returns. Tasks spawned but not yet started are only counted, in `pending`.
struct TaskRegistry {
    var records: [UInt: TaskRecord] = [:]
    var pending = 0
    var nextID: UInt64 = 0
    /// Set once the loop shuts down: tasks that start afterwards cancel themselves at once.
    var isCancellingAll = false

    /// In debug mode or while inspected: tasks the loop runs but did not spawn (the main task,
    /// connection tasks, callback carriers), for slow-job reports and the inspector. Not listed in
    /// ``EventLoop/tasks``.
    var named: [UInt: NamedTask] = [:]

    func name(of job: UInt) -> String? { records[job]?.name ?? named[job]?.name }
}

/// A task the loop runs but did not spawn, named for reports (see ``EventLoop/withDebugName(_:_:)``).
struct NamedTask {
    let id: UInt64
    let name: String
    let started: Int64
    /// The tracked task it descends from (0: none known).
    let parent: UInt64
}

/// One started task. A struct in the registry's table: spawning allocates no record object.
struct TaskRecord: @unchecked Sendable {
    let id: UInt64
    let givenName: String?
    let started: Int64
    /// The tracked task it was spawned from, while inspected (0: none known).
    let parent: UInt64
    /// The running task; the copy is a strong reference, so it stays valid for `cancel()`.
    let task: UnsafeCurrentTask
    var isCancelRequested = false

    /// The given name, or asyncio's `Task-N`.
    var name: String { givenName ?? "Task-\(id)" }
}

extension EventLoop {
    /// Starts `operation` as a new task on the loop (asyncio's `create_task`).
    ///
    /// The task and every child task it creates run on the loop's thread. The loop tracks it until it
    /// finishes: it is listed in ``tasks``, and ``run(debug:handlesInterrupt:_:)`` cancels and awaits it on the way out.
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
        CurrentTaskHandles.calibrate(on: self)
        let id = registry.withLock { registry -> UInt64 in
            registry.pending += 1
            registry.nextID += 1
            return registry.nextID
        }
        let parent = isInspected.load(ordering: .relaxed) ? InspectedTask.id : 0
        let body: () async throws -> Success = { [self] in
            let address = withUnsafeCurrentTask { current in
                startTracking(current!, id: id, name: name, parent: parent)
            }
            do {
                // A spawned task outlives the scope it was started in: deadlines of its creator's
                // withTimeout do not apply to it (task-local values are copied into new tasks).
                let value = isInspected.load(ordering: .relaxed)
                    ? try await Self.runInspected(id: id, operation)
                    : CancelScope.current == nil
                    ? try await operation()
                    : try await CancelScope.outsideScopes(operation)
                registry.withLock { _ = $0.records.removeValue(forKey: address) }
                return value
            } catch {
                // The record goes first: its copy of the task is a reference like a handle's.
                registry.withLock { _ = $0.records.removeValue(forKey: address) }
                reportIfUnretrievable(error, taskName: name ?? "Task-\(id)")
                throw error
            }
        }
        if eager && inEventLoop {
            return Task.immediate(name: name, executorPreference: self, operation: body)
        }
        return Task(name: name, executorPreference: self, operation: body)
    }

    /// Runs a spawned task's body with its id bound as the inspector's ancestor of what it starts.
    @inline(never)
    private static func runInspected<Success>(
        id: UInt64, _ operation: () async throws -> Success
    ) async throws -> Success {
        try await InspectedTask.$id.withValue(id) {
            CancelScope.current == nil ? try await operation() : try await CancelScope.outsideScopes(operation)
        }
    }

    /// Enters a task that has just started into the registry; returns its address.
    private func startTracking(_ task: UnsafeCurrentTask, id: UInt64, name: String?, parent: UInt64) -> UInt {
        let address = unsafeBitCast(task, to: UInt.self)
        let started = nowNanoseconds
        let cancelNow = registry.withLock { registry -> Bool in
            registry.pending -= 1
            registry.records[address] = TaskRecord(
                id: id, givenName: name, started: started, parent: parent, task: task,
                isCancelRequested: registry.isCancellingAll
            )
            return registry.isCancellingAll
        }
        if cancelNow { task.cancel() }
        if isDebug && inEventLoop { startingTaskName = name ?? "Task-\(id)" }
        return address
    }

    /// The live tasks spawned with ``spawn(name:eager:_:)`` (asyncio's `all_tasks()`), oldest first.
    ///
    /// ### Thread safety
    /// Safe from any thread; off the loop, `running` is a snapshot that may already be stale.
    public var tasks: [TaskInfo] {
        let now = nowNanoseconds
        let running = inEventLoop ? currentJob.map { UInt(bitPattern: $0) } : nil
        return registry.withLock { registry in
            registry.records.sorted { $0.value.id < $1.value.id }.map { address, record in
                TaskInfo(
                    name: record.name,
                    state: address == running ? .running : .waiting,
                    age: .nanoseconds(now - record.started),
                    isCancelled: record.isCancelRequested
                )
            }
        }
    }

    /// In debug mode or while inspected: names the running task `name` in slow-job reports and the
    /// inspector while `body` runs (for tasks the loop did not spawn itself). Otherwise it just runs
    /// `body`.
    package nonisolated(nonsending) func withDebugName<T>(
        _ name: @autoclosure () -> String,
        _ body: () async throws -> T
    ) async rethrows -> T {
        let inspected = isInspected.load(ordering: .relaxed)
        guard isDebug || inspected,
              let address = withUnsafeCurrentTask(body: { $0.map { unsafeBitCast($0, to: UInt.self) } }) else {
            return try await body()
        }
        let name = name()
        let parent = inspected ? InspectedTask.id : 0
        let started = nowNanoseconds
        let id = registry.withLock { registry -> UInt64 in
            registry.nextID += 1
            registry.named[address] = NamedTask(id: registry.nextID, name: name, started: started, parent: parent)
            return registry.nextID
        }
        if inEventLoop { startingTaskName = name }
        defer { registry.withLock { _ = $0.named.removeValue(forKey: address) } }
        guard inspected else { return try await body() }
        return try await InspectedTask.$id.withValue(id) { try await body() }
    }

    /// The name of the task whose job runs now, if the loop knows it.
    var currentTaskName: String? {
        guard inEventLoop, let job = currentJob else { return nil }
        return registry.withLock { $0.name(of: UInt(bitPattern: job)) }
    }

    /// How many spawned tasks are alive.
    public var taskCount: Int { registry.withLock { $0.records.count + $0.pending } }

    /// Requests cancellation of every live spawned task, and of those that start from now on.
    ///
    /// Cancellation runs the tasks' cancellation handlers, which may call back into the loop (spawn,
    /// list tasks), so it happens after the registry lock is released. The copies of `UnsafeCurrentTask`
    /// taken under the lock hold strong references, so no task is freed in between.
    func cancelAllTasks() {
        let tasks = registry.withLock { registry -> [UnsafeCurrentTask] in
            registry.isCancellingAll = true
            var tasks: [UnsafeCurrentTask] = []
            for (address, var record) in registry.records where !record.isCancelRequested {
                record.isCancelRequested = true
                registry.records[address] = record
                tasks.append(record.task)
            }
            return tasks
        }
        for task in tasks { task.cancel() }
    }
}

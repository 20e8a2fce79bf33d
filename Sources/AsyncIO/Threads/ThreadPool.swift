import AsyncIOSystem

/// A fixed set of threads for blocking work, so the event loop never blocks (asyncio's
/// `run_in_executor` with a `ThreadPoolExecutor`).
///
/// ```swift
/// let pool = try ThreadPool(threads: 4, name: "disk")
/// let data = try await pool.run { try readWholeFile(path) }
/// pool.shutdown()
/// ```
///
/// ### Thread safety
/// Every member is safe from any thread. ``shutdown()`` waits for the threads, so do not call it from one
/// of them.
public final class ThreadPool: @unchecked Sendable {
    private let condition = ThreadCondition()
    // Guarded by `condition`.
    private var queue: [UnownedJob] = []
    private var head = 0
    private var isShuttingDown = false
    private var threads: [SystemThread] = []
    private var liveWorkers = 0

    /// Starts `threads` threads named `name-N`.
    ///
    /// - Throws: ``EventLoopError`` `.system` if a thread cannot be created (the others are stopped).
    public init(threads count: Int, name: String = "aio-pool") throws {
        precondition(count > 0, "a ThreadPool needs at least one thread")
        var started: [SystemThread] = []
        for index in 0..<count {
            do {
                started.append(try SystemThread.spawn(name: "\(name)-\(index)") { [self] in workerLoop() })
            } catch {
                condition.withLock {
                    threads = started
                    liveWorkers = started.count
                }
                shutdown()
                throw EventLoopError(.system, operation: "ThreadPool.init", underlying: error)
            }
        }
        condition.withLock {
            threads = started
            liveWorkers = started.count
        }
    }

    /// Runs `work` on a pool thread and returns its result.
    ///
    /// On a test loop with virtual time the clock does not jump while the work runs.
    ///
    /// `work` runs in a task of the pool that carries the caller's task-local values (asyncio's
    /// `to_thread` copies the context likewise), so a `@TaskLocal` read inside it sees the caller's value.
    ///
    /// - Throws: What `work` throws; `CancellationError` if the task is cancelled before the work starts;
    ///   ``EventLoopError`` `.closed` after ``shutdown()``.
    ///
    /// ### Cancellation
    /// Cancelled before it starts, the work is skipped and the call throws `CancellationError` at once.
    /// Once started, the work runs to completion (a thread cannot be interrupted) and its result is
    /// returned.
    public func run<Success: Sendable>(_ work: @escaping @Sendable () throws -> Success) async throws -> Success {
        let loop = EventLoop.current
        loop?.beginExternalWork()
        defer { loop?.endExternalWork() }
        let job = PoolJob(resumeOn: loop)
        let outcome = ResultBox<Success>()
        let noted = loop?.beginWait(.thread) ?? false
        defer { if noted { loop?.endWait() } }
        try await withCancellableContinuation(on: loop) { (continuation: UnsafeContinuation<Void, any Error>) in
            job.work = {
                do { outcome.result = .success(try work()) } catch { outcome.result = .failure(error) }
            }
            if !job.arm(continuation) { return }
            if condition.withLock({ isShuttingDown }) {
                job.fail(EventLoopError(.closed, operation: "ThreadPool.run"))
                return
            }
            // The task is made here, in the caller's task, so it copies the caller's task-local
            // values; its job runs on a pool thread (the pool is its executor).
            Task(executorPreference: self) { job.runIfNotCancelled() }
        } onCancel: {
            job.cancel()
        }
        return try outcome.result!.get()
    }

    private func workerLoop() {
        while true {
            let job: UnownedJob? = condition.withLock {
                while head == queue.count && !isShuttingDown { condition.waitLocked() }
                if head == queue.count {
                    liveWorkers -= 1
                    return nil
                }
                let job = queue[head]
                head += 1
                if head > 64 && head * 2 > queue.count {
                    queue.removeFirst(head)
                    head = 0
                }
                return job
            }
            guard let job else { return }
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    /// Finishes the queued work, then stops and joins the threads. Calling it twice is harmless.
    public func shutdown() {
        let toJoin: [SystemThread] = condition.withLock {
            isShuttingDown = true
            condition.broadcast()
            defer { threads = [] }
            return threads
        }
        for thread in toJoin { thread.join() }
    }
}

extension ThreadPool: TaskExecutor {
    /// Runs a job of a task whose executor preference is the pool on one of its threads. Safe from any
    /// thread. After ``shutdown()`` has stopped every thread, jobs go to Swift's global pool.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let accepted = condition.withLock { () -> Bool in
            if isShuttingDown && liveWorkers == 0 { return false }
            queue.append(job)
            condition.signal()
            return true
        }
        if !accepted { GlobalExecutorHooks.enqueueOnOriginalPool(unsafeBitCast(job, to: UnsafeMutableRawPointer.self)) }
    }
}

/// One submitted piece of work and its waiter: new → waiting → running → done, or cancelled.
private final class PoolJob: @unchecked Sendable {
    private enum State {
        case new
        case waiting(UnsafeContinuation<Void, any Error>)
        case running(UnsafeContinuation<Void, any Error>)
        case finished
        case cancelled
    }
    private let state = LockedState(State.new)
    /// Set before ``arm(_:)``; read by the worker after the job is handed over under the pool lock.
    var work: (() -> Void)?
    /// The loop of the waiting task, if any: the waiter is resumed from there, in its next turn.
    private let loop: EventLoop?

    init(resumeOn loop: EventLoop?) { self.loop = loop }

    /// Installs the waiter; false (and the waiter resumed with `CancellationError`) if already cancelled.
    func arm(_ continuation: UnsafeContinuation<Void, any Error>) -> Bool {
        let cancelled = state.withLock { state -> Bool in
            if case .cancelled = state { return true }
            state = .waiting(continuation)
            return false
        }
        if cancelled { continuation.resume(throwing: CancellationError()) }
        return !cancelled
    }

    func cancel() {
        let waiter = state.withLock { state -> UnsafeContinuation<Void, any Error>? in
            switch state {
            case .new:
                state = .cancelled
                return nil
            case .waiting(let continuation):
                state = .cancelled
                return continuation
            default:
                return nil
            }
        }
        waiter?.resume(throwing: CancellationError())
    }

    func fail(_ error: any Error) {
        let waiter = state.withLock { state -> UnsafeContinuation<Void, any Error>? in
            guard case .waiting(let continuation) = state else { return nil }
            state = .finished
            return continuation
        }
        waiter?.resume(throwing: error)
    }

    func runIfNotCancelled() {
        let continuation = state.withLock { state -> UnsafeContinuation<Void, any Error>? in
            guard case .waiting(let continuation) = state else { return nil }
            state = .running(continuation)
            return continuation
        }
        guard let continuation else { return }
        work?()
        work = nil
        state.withLock { $0 = .finished }
        // Resuming from the waiter's own loop, not this thread: the resume then always comes after the
        // waiter has suspended (the loop is busy with it until then), and the hand-off goes through the
        // loop's inbox lock rather than the concurrency runtime's internal atomics.
        if let loop, loop.execute({ continuation.resume() }) { return }
        continuation.resume()
    }
}

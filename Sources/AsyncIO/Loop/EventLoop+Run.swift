import Synchronization
import AsyncIOSystem

extension EventLoop {
    /// Runs `main` as the main task on a new loop on the calling thread and returns its result
    /// (asyncio.run).
    ///
    /// On the way out, whether `main` returned or threw, the loop cancels and awaits the tasks still
    /// alive, fails pending timers and waits, closes every registration, and closes its own descriptors.
    /// No thread is created: the loop runs on the caller's thread and is gone when this returns.
    ///
    /// ```swift
    /// @main struct Hello {
    ///     static func main() throws {
    ///         try EventLoop.run {
    ///             try await EventLoop.current!.sleep(for: .seconds(1))
    ///             print("hello")
    ///         }
    ///     }
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - debug: Report jobs that hold the loop longer than 100 ms (also on when the environment
    ///     variable `AIO_DEBUG` is `1`).
    ///   - main: The main task.
    /// - Returns: What `main` returned.
    /// - Throws: What `main` threw, or ``EventLoopError``: `.system` if the loop cannot be created,
    ///   `.wouldDeadlock` if this thread is already running a loop (a task cannot run a loop inside its
    ///   own: spawn the work on the current loop instead).
    public static func run<Result>(
        debug: Bool = false,
        _ main: sending @escaping () async throws -> Result
    ) throws -> Result {
        try refuseNestedRun("EventLoop.run")
        let loop = try EventLoop(name: "main", debug: debug || Environment.flag("AIO_DEBUG"))
        // As asyncio.run shuts down the default executor: no offload thread outlives the run.
        defer { SharedOffloadPool.shutDownIfStarted() }
        return try loop.runMain(main)
    }

    /// Runs `main` on this loop on the calling thread, then shuts the loop down (see ``run(debug:_:)``).
    @discardableResult
    package func runMain<Result>(_ main: sending @escaping () async throws -> Result) throws -> Result {
        try Self.refuseNestedRun("runMain")
        guard phase == .idle else { throw EventLoopError(.closed, operation: "runMain: an EventLoop runs its main task once") }
        let box = ResultBox<Result>()
        let mainTask = Task(name: "main", executorPreference: self) {
            do {
                box.result = .success(try await main())
            } catch {
                box.result = .failure(error)
            }
        }
        run(until: { box.isDone })
        if !box.isDone {
            // stop() was called: the main task is cancelled like the others.
            mainTask.cancel()
            run(until: { box.isDone })
        }
        shutdown()
        return try box.result!.get()
    }

    /// Throws if the calling thread is already running a loop: running another one inside it would block
    /// the outer loop until the inner one ends, and the same one would run inside itself.
    static func refuseNestedRun(_ operation: String) throws {
        if CurrentLoopSlot.get() != nil { throw EventLoopError(.wouldDeadlock, operation: operation) }
    }

    /// Cancels and awaits what is still alive, fails what still waits, and closes the loop.
    package func shutdown() {
        guard phase != .closed else { return }
        let previous = CurrentLoopSlot.get()
        CurrentLoopSlot.set(Unmanaged.passUnretained(self).toOpaque())
        defer { CurrentLoopSlot.set(previous) }
        phase = .shuttingDown
        lifecycle.store(Phase.shuttingDown.rawValue, ordering: .releasing)

        cancelAllTasks()
        run(until: { taskCount == 0 })

        // What is left belongs to tasks the loop does not track: wake them with errors and let them finish.
        var rounds = 0
        repeat {
            for timer in timers.removeAll() where timer.state == .pending {
                timer.state = .cancelled
                let action = timer.action
                timer.action = .none
                if case .resume(let continuation) = action { continuation.resume(throwing: CancellationError()) }
            }
            for registration in Array(poller.registrations.values) { registration.close() }
            runOnce(mayBlock: false)
            rounds += 1
        } while (!ready.isEmpty || !timers.isEmpty || inbox.withLock({ !$0.work.isEmpty })) && rounds < 1000

        let leftovers = inbox.withLock { box -> [LoopWork] in
            lifecycle.store(Phase.closed.rawValue, ordering: .releasing)
            var taken: [LoopWork] = []
            swap(&taken, &box.work)
            return taken
        }
        phase = .closed
        locals.removeAll()  // per-loop singletons may hold sockets, and so the loop: break the cycle
        for work in leftovers {
            if case .task(let job) = work { globalConcurrentExecutor.enqueue(job) }
            if case .actor(let job) = work { globalConcurrentExecutor.enqueue(job) }
        }
        while let work = ready.pop() {
            if case .task(let job) = work { globalConcurrentExecutor.enqueue(job) }
            if case .actor(let job) = work { globalConcurrentExecutor.enqueue(job) }
        }
        poller.close()
    }

    /// Runs `operation` on the loop and blocks the calling thread until it finishes
    /// (asyncio's `run_coroutine_threadsafe(...).result()`), for threads that are not running async code.
    ///
    /// From async code on another loop or the global pool, use ``spawn(name:eager:_:)`` and await the
    /// task's value instead: that does not block a thread.
    ///
    /// - Returns: What `operation` returned.
    /// - Throws: What `operation` threw; ``EventLoopError`` `.wouldDeadlock` when called on this loop's own
    ///   thread; `.closed` if the loop has shut down.
    ///
    /// ### Thread safety
    /// Safe from any thread except the loop's own.
    public func submit<Success: Sendable>(
        _ operation: sending @escaping () async throws -> Success
    ) throws -> Success {
        if inEventLoop { throw EventLoopError(.wouldDeadlock, operation: "submit") }
        if isClosed { throw EventLoopError(.closed, operation: "submit") }
        let latch = ThreadLatch()
        let box = ResultBox<Success>()
        spawn {
            do {
                box.result = .success(try await operation())
            } catch {
                box.result = .failure(error)
            }
            latch.open()
        }
        latch.wait()
        return try box.result!.get()
    }
}

/// Carries a result from the loop thread to whoever waits for it; the handoff is ordered by the waiter.
@usableFromInline
final class ResultBox<Value>: @unchecked Sendable {
    @usableFromInline
    var result: Result<Value, any Error>? {
        didSet { isDone = result != nil }
    }
    /// Whether `result` is set; a stored flag, because the loop checks it every turn and reading the
    /// generic optional there costs a runtime metadata lookup.
    @usableFromInline
    private(set) var isDone = false

    @usableFromInline
    init() {}
}

/// Reads flags from the environment.
enum Environment {
    static func flag(_ name: String) -> Bool { SystemEnvironment.value(of: name) == "1" }
}

import Logging
import Synchronization
import AsyncIOSystem

extension EventLoop {
    /// Runs `main` as the main task on a new loop on the calling thread and returns its result
    /// (asyncio.run). `main` receives the loop.
    ///
    /// On the way out, whether `main` returned or threw, the loop cancels and awaits the tasks still
    /// alive, fails pending timers and waits, closes every registration, and closes its own descriptors.
    /// No thread is created: the loop runs on the caller's thread and is gone when this returns.
    ///
    /// ```swift
    /// @main struct Hello {
    ///     static func main() throws {
    ///         try EventLoop.run { loop in
    ///             try await loop.sleep(for: .seconds(1))
    ///             print("hello")
    ///         }
    ///     }
    /// }
    /// ```
    ///
    /// ### `Task {}` and the loop
    /// Work started with ``spawn(name:eager:_:)``, and every child task (`async let`, task groups,
    /// ``gather(_:_:)``), runs on the loop. A plain `Task {}` does not inherit the loop: Swift sends it to
    /// its global pool, where loop-bound calls throw ``EventLoopError`` `.notOnLoop`. With
    /// `defaultExecutor: true` the loop is also Swift's global executor while `run` runs, so `Task {}`,
    /// `Task.detached {}`, default actors and `Task.sleep` run on the loop too, as in asyncio. That uses
    /// the concurrency runtime's enqueue hooks, which are not official Swift API (see
    /// `EventLoop+DefaultExecutor.swift`); one loop at a time can hold them.
    ///
    /// ### Ctrl-C
    /// As in `asyncio.run`, the first `SIGINT` cancels the main task: its `defer` blocks and `catch`
    /// clauses run, then the loop shuts down as usual (cancelling the other tasks and killing child
    /// processes), and `run` throws ``EventLoopError`` `.interrupted` if the main task ended with
    /// `CancellationError` (a main task that handles the cancellation and returns still returns its
    /// value). A second `SIGINT` ends the process at once. `run` does this only where `SIGINT` has its
    /// default action: a program that blocks it for a ``SignalStream`` (`Signal.blockForStreams`) gets
    /// Ctrl-C through its stream instead, and `handlesInterrupt: false` leaves `SIGINT` alone.
    ///
    /// - Parameters:
    ///   - debug: Report jobs that hold the loop longer than 100 ms (also on when the environment
    ///     variable `AIO_DEBUG` is `1`).
    ///   - handlesInterrupt: Whether Ctrl-C cancels the main task (the default) rather than ending the
    ///     process.
    ///   - defaultExecutor: Make the loop Swift's global executor while it runs, so that `Task {}` runs
    ///     on it.
    ///   - backend: epoll, io_uring, or as `AIO_BACKEND` says (``Backend/automatic``, the default).
    ///   - main: The main task.
    /// - Returns: What `main` returned.
    /// - Throws: What `main` threw, or ``EventLoopError``: `.interrupted` after Ctrl-C, `.system` if the
    ///   loop cannot be created, `.wouldDeadlock` if this thread is already running a loop (a task cannot
    ///   run a loop inside its own: spawn the work on the current loop instead), `.busy` if
    ///   `defaultExecutor` is asked for while another loop (or library) holds Swift's global executor.
    public static func run<Result>(
        debug: Bool = false,
        handlesInterrupt: Bool = true,
        defaultExecutor: Bool = false,
        backend: Backend = .automatic,
        _ main: sending @escaping (EventLoop) async throws -> Result
    ) throws -> Result {
        try refuseNestedRun("EventLoop.run")
        let inspector = startInspectorFromEnvironment()
        defer { inspector?.close() }
        let loop = try EventLoop(name: "main", debug: debug || Environment.flag("AIO_DEBUG"), backend: backend)
        // As asyncio.run shuts down the default executor: no offload thread outlives the run.
        defer { SharedOffloadPool.shutDownIfStarted() }
        let interruptible = handlesInterrupt && InterruptSignal.install(wakeFD: loop.poller.doorbellFD)
        defer { if interruptible { InterruptSignal.uninstall() } }
        return try loop.runMain({ try await main(loop) }, interruptible: interruptible, defaultExecutor: defaultExecutor)
    }

    /// Runs `main` as the main task on a new loop on the calling thread and returns its result
    /// (asyncio.run); ``current`` is the loop inside. See ``run(debug:handlesInterrupt:defaultExecutor:_:)-(_,_,_,(EventLoop)->_)``.
    ///
    /// - Throws: As ``run(debug:handlesInterrupt:defaultExecutor:_:)-(_,_,_,(EventLoop)->_)``.
    public static func run<Result>(
        debug: Bool = false,
        handlesInterrupt: Bool = true,
        defaultExecutor: Bool = false,
        _ main: sending @escaping () async throws -> Result
    ) throws -> Result {
        try run(debug: debug, handlesInterrupt: handlesInterrupt, defaultExecutor: defaultExecutor) { _ in
            try await main()
        }
    }

    /// Runs `main` on this loop on the calling thread, then shuts the loop down (see ``run(debug:handlesInterrupt:_:)``).
    /// With `interruptible`, the first `SIGINT` counted by ``InterruptSignal`` cancels `main`; with
    /// `defaultExecutor`, the loop is Swift's global executor until it shuts down.
    @discardableResult
    package func runMain<Result>(
        _ main: sending @escaping () async throws -> Result,
        interruptible: Bool = false,
        defaultExecutor: Bool = false
    ) throws -> Result {
        try Self.refuseNestedRun("runMain")
        guard phase == .idle else { throw EventLoopError(.closed, operation: "runMain: an EventLoop runs its main task once") }
        if defaultExecutor { try GlobalExecutorTakeover.install(self) }
        defer { GlobalExecutorTakeover.uninstall(self) }
        let box = ResultBox<Result>()
        let mainTask = Task(name: "main", executorPreference: self) { [self] in
            await withDebugName("main") {
                do {
                    box.result = .success(try await main())
                } catch {
                    box.result = .failure(error)
                }
            }
        }
        run(until: { box.isDone || (interruptible && InterruptSignal.count > 0) })
        let interrupted = interruptible && InterruptSignal.count > 0
        if !box.isDone {
            // Ctrl-C, or stop() was called: the main task is cancelled like the others.
            mainTask.cancel()
            run(until: { box.isDone })
        }
        shutdown()
        if interrupted, case .failure(let error) = box.result!, error is CancellationError {
            throw EventLoopError(.interrupted, operation: "EventLoop.run")
        }
        return try box.result!.get()
    }

    /// Starts the inspector `AIO_INSPECT` asks for; a failure is logged, and the program runs without it.
    private static func startInspectorFromEnvironment() -> Inspector? {
        do {
            return try Inspector.startFromEnvironment()
        } catch {
            Logger(label: "AsyncIO.Inspector").error(
                "\(Inspector.environmentVariable) is set but the inspector cannot start: \(error)")
            return nil
        }
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
                switch action {
                case .resume(let continuation): continuation.resume(throwing: CancellationError())
                case .carrier(let carrier): carrier.cancel()
                case .job(let job):
                    // A Task.sleep of a task the loop does not track: it wakes on Swift's pool, on time.
                    GlobalExecutorHooks.enqueueOnOriginalPool(
                        after: UInt64(max(0, timer.deadline - nowNanoseconds)),
                        unsafeBitCast(job, to: UnsafeMutableRawPointer.self))
                default: break
                }
            }
            for registration in poller.allRegistrations { registration.close() }
            poller.unwatchAll()
            runOnce(mayBlock: false)
            rounds += 1
        } while (!ready.isEmpty || !timers.isEmpty || inbox.withLock({ !$0.work.isEmpty })) && rounds < 1000

        // From here on, Swift's global jobs go back to its own pool.
        GlobalExecutorTakeover.uninstall(self)
        let leftovers = inbox.withLock { box -> [LoopWork] in
            lifecycle.store(Phase.closed.rawValue, ordering: .releasing)
            var taken: [LoopWork] = []
            swap(&taken, &box.work)
            return taken
        }
        phase = .closed
        LoopDirectory.remove(self)
        locals.removeAll()  // per-loop singletons may hold sockets, and so the loop: break the cycle
        // A handler that captures the loop (to call its default handler, say) would keep it alive.
        exceptionHandler.withLock { $0.handler = nil }
        for work in leftovers { forwardAfterClose(work) }
        while let work = ready.pop() { forwardAfterClose(work) }
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

import AsyncIOSystem
import Logging
import Synchronization

/// A single-threaded event loop over epoll that is also a Swift task executor (asyncio's event loop).
///
/// Tasks whose executor preference is the loop, and every child task they create, run their jobs on the
/// loop's thread. When a descriptor becomes ready or a timer fires, the waiting task is resumed on that
/// same thread in the next turn: no thread hop and no lock on the hot path.
///
/// One turn of the loop:
/// 1. run the work that was ready when the turn began (work made ready meanwhile waits for the next
///    turn, so I/O is never starved);
/// 2. fire the timers that are due, in (deadline, creation) order;
/// 3. poll epoll, with a timeout of zero if work is ready, else until the next timer;
///    readiness resumes the waiting tasks (which only enqueues their jobs).
///
/// Start a loop with ``run(debug:handlesInterrupt:_:)`` (asyncio.run) on the current thread, or with
/// ``EventLoopGroup`` on threads of its own.
///
/// ### Thread safety
/// ``callSoon(_:)``, ``spawn(name:eager:_:)``, ``submit(_:)``, ``stop()`` and the executor entry points are safe
/// from any thread. Everything else is meant for the loop's own thread (a task running on the loop).
public final class EventLoop: @unchecked Sendable {
    /// The loop's name, used for its thread and in logs.
    public let name: String

    // Loop-thread state. Only the loop thread touches these, one job at a time, so the dynamic
    // exclusivity checks (a runtime call per access on the hottest path) are turned off for them.
    @exclusivity(unchecked) var ready = ReadyQueue()
    @exclusivity(unchecked) var timers = TimerHeap()
    @exclusivity(unchecked) var timerSequence: UInt64 = 0
    let poller: LoopSelector
    @exclusivity(unchecked) var phase: Phase = .idle
    /// The job running now (a task's address), for introspection and slow-job reports.
    @exclusivity(unchecked) var currentJob: UnsafeMutableRawPointer?
    /// Debug mode: the name of a task whose first job is running (it registers itself during that job).
    @exclusivity(unchecked) var startingTaskName: String?

    // Cross-thread state.
    let inbox = LockedState(Inbox())
    let registry = LockedState(TaskRegistry())
    let exceptionHandler = LockedState(ExceptionHandlerSlot())
    let lifecycle = Atomic<Int>(Phase.idle.rawValue)
    let foreignSequence = Atomic<UInt64>(0)
    /// Work that tasks of this loop wait for on other threads (thread pools, DNS); virtual time does not
    /// jump past it.
    let externalWork = Atomic<Int>(0)
    /// Set by other threads when they add to the inbox or ask to stop; lets the loop skip the lock.
    let inboxPending = Atomic<Bool>(false)
    /// A stop request taken from the inbox (loop thread).
    @exclusivity(unchecked) var stopRequested = false
    /// The last id handed to a wait tied to ``CancelScope``s.
    @exclusivity(unchecked) var scopeLinkID: UInt64 = 0
    /// Per-loop singletons (``localValue(_:make:)``).
    @exclusivity(unchecked) var locals: [ObjectIdentifier: AnyObject] = [:]
    /// Turns run since the last epoll poll while work kept the loop busy.
    @exclusivity(unchecked) var turnsWithoutPoll = 0
    /// When epoll was last polled (`CLOCK_MONOTONIC`, also on virtual-time loops); set when a run starts.
    @exclusivity(unchecked) var lastPollNanoseconds: Int64 = MonotonicClock.nanoseconds()
    /// While work is ready, epoll is still polled at least every this many turns, and whenever a
    /// millisecond has passed since the last poll, so I/O is never starved by tasks that keep each other
    /// runnable, whether their jobs are short or long.
    static let maxTurnsWithoutPoll = 32
    static let maxNanosecondsWithoutPoll: Int64 = 1_000_000
    /// I/O operations the running job may still complete without waiting before it must yield
    /// (``cooperate()``); reset at the start of every job.
    @exclusivity(unchecked) var ioBudget = EventLoop.ioBudgetPerJob
    /// Tokio's coop budget, libuv's 32 reads per callback: enough to batch, not enough to starve.
    static let ioBudgetPerJob = 64

    /// Virtual time: the clock only moves when the loop jumps to the next timer (test loops).
    let usesVirtualTime: Bool
    /// Virtual time: how long, in real milliseconds, an idle loop with sockets registered waits for the
    /// kernel before it jumps the clock (Trio's autojump threshold); set by `AsyncIOTesting`.
    package var autojumpThresholdMilliseconds: Int32 = 25
    /// How many events the last poll delivered (0 when nothing was ready).
    @exclusivity(unchecked) var lastPollEventCount = 0
    let virtualNow = Atomic<Int64>(0)

    /// Debug mode: jobs that hold the loop longer than ``slowJobThreshold`` are logged.
    public let isDebug: Bool
    /// The longest a job may hold the loop in debug mode before it is reported (default 100 ms).
    public let slowJobThreshold: Duration
    let logger: Logger
    /// The swift-metrics objects, once ``enableMetrics(_:)`` has been called (loop thread).
    @exclusivity(unchecked) var metrics: EventLoopMetricsRecorder?
    /// The inspector's view of the loop (waits, lag), while an ``Inspector`` runs (loop thread).
    @exclusivity(unchecked) var inspection: LoopInspection?
    /// Whether an ``Inspector`` watches this loop: read by ``spawn(name:eager:_:)`` on any thread.
    let isInspected = Atomic<Bool>(false)
    /// What the inspector reads from other threads: counters, and the job holding the loop now.
    let inspectionCounters = InspectionCounters()
    /// Jobs run and turns taken since the loop started (loop thread; the inspector's throughput).
    @exclusivity(unchecked) var jobsRun: UInt64 = 0
    @exclusivity(unchecked) var turnsTaken: UInt64 = 0
    /// Where stream readers with no buffer storage receive (loop thread, used synchronously: bytes are
    /// copied out before the receiving call returns). Freed with the loop.
    let receiveScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * 1024, alignment: 16)
    /// Buffers of one size kept for reuse on this loop's thread (``BufferCache``).
    var bufferCache: BufferCache { poller.buffers }
    /// The serial-executor facade, created with the loop.
    private(set) var serialFacade: LoopSerialExecutor!

    enum Phase: Int {
        case idle, running, shuttingDown, closed
    }

    struct Inbox {
        var work: [LoopWork] = []
        /// The loop is (about to be) blocked in epoll and must be woken through the eventfd.
        var isPolling = false
        var wakePending = false
        var stopRequested = false
    }

    /// Creates a loop. It does nothing until a thread runs it.
    ///
    /// - Parameters:
    ///   - name: The loop's name, for its thread and logs.
    ///   - debug: Enables slow-job reports (asyncio's debug mode).
    ///   - slowJobThreshold: How long a job may hold the loop before it is reported in debug mode.
    ///   - virtualTime: The clock jumps to the next timer whenever the loop is idle (for tests; see
    ///     `AsyncIOTesting`).
    ///   - logger: Where slow-job reports and loop errors go (label `AsyncIO.EventLoop` by default).
    ///   - backend: epoll, io_uring, or as `AIO_BACKEND` says (``Backend/automatic``, the default).
    /// - Throws: ``EventLoopError`` if epoll, the ring or the eventfd cannot be created (`EMFILE`,
    ///   `ENOMEM`; `ENOSYS` or `EPERM` for a refused io_uring asked for by name).
    public convenience init(
        name: String = "aio-loop",
        debug: Bool = false,
        slowJobThreshold: Duration = .milliseconds(100),
        virtualTime: Bool = false,
        logger: Logger? = nil,
        backend: Backend = .automatic
    ) throws {
        try self.init(name: name, debug: debug, slowJobThreshold: slowJobThreshold, virtualTime: virtualTime,
                      logger: logger, backend: backend, ringReceiveBuffers: Self.defaultRingReceiveBuffers)
    }

    /// ``init(name:debug:slowJobThreshold:virtualTime:logger:backend:)`` with an io_uring receive pool
    /// of `ringReceiveBuffers` buffers (a power of two; 0: no receives on the ring), for tests.
    package init(
        name: String = "aio-loop",
        debug: Bool = false,
        slowJobThreshold: Duration = .milliseconds(100),
        virtualTime: Bool = false,
        logger: Logger? = nil,
        backend: Backend = .automatic,
        ringReceiveBuffers: Int
    ) throws {
        self.name = name
        self.isDebug = debug
        self.slowJobThreshold = slowJobThreshold
        self.usesVirtualTime = virtualTime
        var logger = logger ?? Logger(label: "AsyncIO.EventLoop")
        logger[metadataKey: "loop"] = "\(name)"
        self.logger = logger
        do {
            poller = try LoopSelector(backend: backend, ringReceiveBuffers: ringReceiveBuffers)
        } catch {
            throw EventLoopError(.system, operation: backend == .ioURing ? "EventLoop.init (io_uring)" : "EventLoop.init",
                                 underlying: error)
        }
        serialFacade = LoopSerialExecutor(loop: self)
    }

    deinit {
        precondition(phase != .running, "EventLoop deinitialised while running")
        if phase != .closed { poller.close() }
        receiveScratch.deallocate()
    }

    // MARK: - Where we are

    /// The loop running on the calling thread, or nil outside any loop.
    ///
    /// Inside a task whose executor preference is a loop, this is that loop.
    public static var current: EventLoop? {
        guard let pointer = CurrentLoopSlot.get() else { return nil }
        return Unmanaged<EventLoop>.fromOpaque(pointer).takeUnretainedValue()
    }

    /// Whether the calling thread is this loop's thread, running it.
    @inline(__always)
    public var inEventLoop: Bool {
        CurrentLoopSlot.get() == Unmanaged.passUnretained(self).toOpaque()
    }

    /// Whether the loop has shut down; work handed to it now is refused or forwarded.
    public var isClosed: Bool { lifecycle.load(ordering: .acquiring) == Phase.closed.rawValue }

    // MARK: - Time

    /// The loop's time now, in nanoseconds of its clock (`CLOCK_MONOTONIC`, or virtual).
    @inline(__always)
    var nowNanoseconds: Int64 {
        usesVirtualTime ? virtualNow.load(ordering: .relaxed) : MonotonicClock.nanoseconds()
    }

    /// The loop's own instance of `type`, made by `make` on first use (such as `HTTPClient.shared`'s
    /// per-loop client). It lives as long as the loop.
    ///
    /// - Throws: ``EventLoopError`` `.notOnLoop` off the loop's thread.
    ///
    /// ### Thread safety
    /// Call it on the loop's thread.
    public func localValue<Value: AnyObject>(_ type: Value.Type, make: () -> Value) throws(EventLoopError) -> Value {
        try checkInLoop("EventLoop", "localValue")
        if let value = locals[ObjectIdentifier(type)] { return value as! Value }
        let value = make()
        locals[ObjectIdentifier(type)] = value
        return value
    }

    /// The loop's time now (asyncio's `loop.time()`).
    public var now: LoopClock.Instant { LoopClock.Instant(nanoseconds: nowNanoseconds) }

    /// The loop's clock, for `Task.sleep(for:clock:)`, deadlines and measurements.
    public var clock: LoopClock { LoopClock(loop: self) }

    // MARK: - Enqueueing work

    /// Adds work to the loop: directly if we are its thread, else through the inbox and the eventfd.
    @inline(__always)
    func enqueue(_ work: consuming LoopWork) {
        if inEventLoop {
            ready.push(work)
        } else {
            enqueueFromOtherThread(work)
        }
    }

    @discardableResult
    func enqueueFromOtherThread(_ work: consuming LoopWork) -> Bool {
        var work: LoopWork? = work
        let (accepted, wake) = inbox.withLock { box -> (Bool, Bool) in
            if lifecycle.load(ordering: .acquiring) == Phase.closed.rawValue { return (false, false) }
            box.work.append(work.take()!)
            inboxPending.store(true, ordering: .releasing)
            if box.isPolling && !box.wakePending {
                box.wakePending = true
                return (true, true)
            }
            return (true, false)
        }
        if wake { poller.wake() }
        if !accepted, let work = work.take() { forwardAfterClose(work) }
        return accepted
    }

    /// Work that arrives after the loop closed: task jobs go to the global executor so no task is lost;
    /// callbacks are dropped (``callSoon(_:)`` reports that).
    func forwardAfterClose(_ work: consuming LoopWork) {
        switch work {
        case .task(let job), .actor(let job):
            // Straight to Swift's own pool: through the global executor it could come back here.
            GlobalExecutorHooks.enqueueOnOriginalPool(unsafeBitCast(job, to: UnsafeMutableRawPointer.self))
        case .callback:
            break
        }
    }

    /// Marks the start of work done for a task of this loop on another thread (see ``endExternalWork()``).
    /// On a virtual-time loop the clock does not jump while such work is pending.
    public func beginExternalWork() { externalWork.add(1, ordering: .releasing) }

    /// Marks the end of work announced by ``beginExternalWork()``.
    public func endExternalWork() { externalWork.subtract(1, ordering: .releasing) }

    // MARK: - Running

    /// Runs the loop on the calling thread until ``stop()`` is called.
    ///
    /// `EventLoopGroup` uses this for its threads. Most programs call ``run(debug:handlesInterrupt:_:)`` instead.
    ///
    /// - Throws: ``EventLoopError`` `.wouldDeadlock` if the calling thread is already running a loop
    ///   (this one from one of its own tasks, or another one).
    public func runForever() throws {
        try Self.refuseNestedRun("runForever")
        run(until: { false })
    }

    /// Asks the loop to return from ``runForever()`` after the current turn. Safe from any thread.
    public func stop() {
        let wake = inbox.withLock { box -> Bool in
            box.stopRequested = true
            inboxPending.store(true, ordering: .releasing)
            return box.isPolling
        }
        if wake { poller.wake() }
    }

    /// Runs turns until `isDone` says so or ``stop()`` is called.
    func run(until isDone: () -> Bool) {
        let previous = CurrentLoopSlot.get()
        precondition(previous == nil || previous == Unmanaged.passUnretained(self).toOpaque(),
                     "an EventLoop cannot run on a thread that is already running another loop")
        CurrentLoopSlot.set(Unmanaged.passUnretained(self).toOpaque())
        defer { CurrentLoopSlot.set(previous) }
        inspectionCounters.threadID.store(SystemThread.currentID, ordering: .relaxed)
        lastPollNanoseconds = MonotonicClock.nanoseconds()  // for `coarseNow` until the first poll
        if phase == .idle {
            LoopDirectory.add(self)
            phase = .running
            lifecycle.store(Phase.running.rawValue, ordering: .releasing)
        }
        while !isDone() {
            if inboxPending.load(ordering: .acquiring) { drainInbox() }
            if stopRequested {
                stopRequested = false
                break
            }
            runReadyWork()
            fireDueTimers()
            // Check before polling: the work just run may have finished what we wait for, and a poll
            // with nothing else pending would block forever.
            if isDone() { break }
            if !ready.isEmpty && turnsWithoutPoll < Self.maxTurnsWithoutPoll
                && MonotonicClock.nanoseconds() - lastPollNanoseconds < Self.maxNanosecondsWithoutPoll {
                // Busy with short jobs: skip the epoll_wait(0) system call for a few turns.
                turnsWithoutPoll += 1
                continue
            }
            turnsWithoutPoll = 0
            poll(mayBlock: true)
        }
    }

    /// One turn: ready work, due timers, poll (without blocking when `mayBlock` is false).
    func runOnce(mayBlock: Bool = true) {
        runReadyWork()
        fireDueTimers()
        poll(mayBlock: mayBlock)
    }

    private func runReadyWork() {
        let jobs = ready.count
        var budget = jobs
        while budget > 0, let work = ready.pop() {
            budget -= 1
            if isDebug {
                runTimed(work)
            } else if inspection != nil {
                runWatched(work)
            } else {
                run(work)
            }
        }
        jobsRun &+= UInt64(truncatingIfNeeded: jobs)
        turnsTaken &+= 1
        if let metrics { metrics.turn(jobs: jobs, backlog: ready.count, on: self) }
    }

    @inline(__always)
    func run(_ work: consuming LoopWork) {
        switch work {
        case .task(let job):
            currentJob = unsafeBitCast(job, to: UnsafeMutableRawPointer.self)
            ioBudget = Self.ioBudgetPerJob
            job.runSynchronously(on: asUnownedTaskExecutor())
            currentJob = nil
        case .actor(let job):
            currentJob = unsafeBitCast(job, to: UnsafeMutableRawPointer.self)
            ioBudget = Self.ioBudgetPerJob
            job.runSynchronously(isolatedTo: serialFacade.asUnownedSerialExecutor(),
                                 taskExecutor: asUnownedTaskExecutor())
            currentJob = nil
        case .callback(let body):
            body()
        }
    }

    /// Debug mode: runs `work` and reports it if it held the loop longer than ``slowJobThreshold``.
    /// The task's name is looked up first: the job may finish the task, which then leaves the registry.
    private func runTimed(_ work: consuming LoopWork) {
        var taskName = "callback"
        switch work {
        case .task(let job), .actor(let job):
            let address = unsafeBitCast(job, to: UInt.self)
            taskName = registry.withLock { $0.name(of: address) } ?? "unnamed task (\(address))"
        case .callback:
            break
        }
        startingTaskName = nil
        let started = MonotonicClock.nanoseconds()
        if inspection != nil { runWatched(work) } else { run(work) }
        if let starting = startingTaskName { taskName = starting }
        reportIfSlow("a job held the event loop too long", task: taskName, since: started)
    }

    /// Debug mode: logs `message` if more than ``slowJobThreshold`` passed since `started`.
    func reportIfSlow(_ message: Logger.Message, task: @autoclosure () -> String, since started: Int64) {
        let elapsed = Duration.nanoseconds(MonotonicClock.nanoseconds() - started)
        if elapsed > slowJobThreshold {
            logger.warning(message, metadata: ["task": "\(task())", "held_us": "\(elapsed.nanosecondsClamped / 1000)"])
        }
    }
}

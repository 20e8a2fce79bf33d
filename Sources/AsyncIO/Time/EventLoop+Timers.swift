import Logging
import Synchronization
import AsyncIOSystem
extension EventLoop {
    /// Schedules `callback` to run on the loop after `delay` (asyncio's `call_later`).
    ///
    /// - Returns: A handle that can cancel the call.
    ///
    /// ### Thread safety
    /// Safe from any thread; off the loop the timer is armed in the loop's next turn.
    @discardableResult
    public func call(after delay: Duration, _ callback: @escaping @Sendable () -> Void) -> TimerHandle {
        schedule(deadline: nowNanoseconds.addingSaturated(max(0, delay.nanosecondsClamped)), action: timerAction(callback))
    }

    /// Schedules `callback` to run on the loop at `deadline` on its clock (asyncio's `call_at`).
    ///
    /// A deadline in the past runs the callback in the next turn.
    ///
    /// ### Thread safety
    /// Safe from any thread.
    @discardableResult
    public func call(at deadline: LoopClock.Instant, _ callback: @escaping @Sendable () -> Void) -> TimerHandle {
        schedule(deadline: deadline.nanoseconds, action: timerAction(callback))
    }

    /// Schedules `callback` at `deadline` as a plain callback, without carrying task-local values: for
    /// the library's own timers (a timer per request must not cost a task).
    @discardableResult
    package func plainTimer(at deadline: LoopClock.Instant, _ callback: @escaping @Sendable () -> Void) -> TimerHandle {
        schedule(deadline: deadline.nanoseconds, action: .callback(callback))
    }

    /// As ``plainTimer(at:_:)``, `delay` from now.
    @discardableResult
    package func plainTimer(after delay: Duration, _ callback: @escaping @Sendable () -> Void) -> TimerHandle {
        schedule(deadline: nowNanoseconds.addingSaturated(max(0, delay.nanosecondsClamped)), action: .callback(callback))
    }

    /// A plain callback, or, from a task, one carried by a task that copies the caller's task-local
    /// values (asyncio copies the context into callbacks).
    private func timerAction(_ callback: @escaping @Sendable () -> Void) -> TimerHandle.Action {
        guard Self.callerIsATask, !isClosed else { return .callback(callback) }
        let carrier = CallbackCarrier(callback)
        carrier.start(on: self)
        return .carrier(carrier)
    }

    func schedule(deadline: Int64, action: TimerHandle.Action) -> TimerHandle {
        if inEventLoop {
            timerSequence &+= 1
            let timer = TimerHandle(loop: self, deadline: deadline, sequence: timerSequence, action: action)
            timers.insert(timer)
            return timer
        }
        // Off the loop the sequence number is taken now, under the inbox lock, so two calls from one
        // thread with the same deadline still fire in call order.
        let sequence = nextForeignSequence()
        let timer = TimerHandle(loop: self, deadline: deadline, sequence: sequence, action: action)
        let accepted = execute { [self] in
            if timer.state == .pending { timers.insert(timer) }
        }
        if !accepted, case .job(let job) = action {
            // The loop has closed: the runtime's job must still run, on Swift's own pool.
            GlobalExecutorHooks.enqueueOnOriginalPool(after: UInt64(max(0, deadline - nowNanoseconds)),
                                                      unsafeBitCast(job, to: UnsafeMutableRawPointer.self))
        }
        return timer
    }

    private func nextForeignSequence() -> UInt64 {
        // Foreign timers take sequence numbers from the top half of the space, so loop-created timers
        // and foreign ones never collide; relative order among foreign ones is kept.
        foreignSequence.add(1, ordering: .relaxed).newValue | TimerHeap.foreignSequenceBit
    }

    /// Removes a timer whose cancel claim was taken (loop thread). A sleeping task is woken with
    /// `CancellationError`.
    func cancelTimer(_ timer: TimerHandle) {
        guard timer.state == .pending else { return }
        timer.state = .cancelled
        timers.noteCancelled(timer)
        let action = timer.action
        timer.action = .none
        if case .resume(let continuation) = action {
            continuation.resume(throwing: CancellationError())
        }
        if case .carrier(let carrier) = action { carrier.cancel() }
    }

    /// Phase 2 of a turn: fire the timers that are due now, created before this phase began.
    func fireDueTimers() {
        guard let next = timers.nextDeadline else { return }
        let now = nowNanoseconds
        guard next <= now else { return }
        // A callback that schedules a zero-delay timer must not run it again in this same phase.
        let limit = timerSequence
        while let timer = timers.popDue(now: now, sequenceLimit: limit) {
            metrics?.lag(nanoseconds: now - timer.deadline)
            inspection?.timerFired(lateBy: now - timer.deadline)
            // A carried callback runs as a job: the timers due after it wait for the next turn, so that
            // it still runs before them (equal deadlines fire in creation order).
            if fire(timer) { break }
        }
    }

    /// Fires `timer`; returns true if its callback was handed to a carrying task.
    private func fire(_ timer: TimerHandle) -> Bool {
        guard timer.state == .pending else { return false }
        guard timer.claimFire() else {
            // Cancelled on another thread a moment ago; its clean-up is queued. Do it now instead.
            cancelTimer(timer)
            return false
        }
        timer.state = .fired
        let action = timer.action
        timer.action = .none
        switch action {
        case .none: break
        case .callback(let body):
            if isDebug {
                let started = MonotonicClock.nanoseconds()
                body()
                reportIfSlow("a timer callback held the event loop too long", task: "timer callback", since: started)
            } else {
                body()
            }
        case .resume(let continuation): continuation.resume()
        case .cancelTask(let task): task.cancel()
        case .job(let job): ready.push(.task(job))
        case .carrier(let carrier):
            carrier.fire()
            return true
        case .scopeDeadline(let scope): scope.deadlinePassed()
        }
        return false
    }

    /// How many timers are pending now.
    public var pendingTimerCount: Int { timers.count }

    // MARK: - Sleeping

    /// Suspends the calling task for `duration` on the loop's timers (asyncio.sleep).
    ///
    /// - Throws: `CancellationError` if the task is cancelled first.
    ///
    /// ### Cancellation
    /// The timer is removed and the call throws `CancellationError` at once.
    public func sleep(for duration: Duration) async throws {
        try await sleep(untilNanoseconds: nowNanoseconds.addingSaturated(max(0, duration.nanosecondsClamped)))
    }

    /// Suspends the calling task until `deadline` on the loop's clock.
    ///
    /// - Throws: `CancellationError` if the task is cancelled first.
    ///
    /// ### Cancellation
    /// The timer is removed and the call throws `CancellationError` at once.
    public func sleep(until deadline: LoopClock.Instant) async throws {
        try await sleep(untilNanoseconds: deadline.nanoseconds)
    }

    func sleep(untilNanoseconds deadline: Int64) async throws {
        try checkTaskCancellation()
        let onLoop = inEventLoop
        let timer = sleepTimer(deadline: deadline, onLoop: onLoop)
        let noted = onLoop && beginWait(.timer(deadline))
        defer { if noted { endWait() } }
        try await withCancellableContinuation(on: self) { (continuation: UnsafeContinuation<Void, any Error>) in
            if onLoop {
                arm(timer, continuation)
            } else {
                execute { [self] in arm(timer, continuation) }
            }
        } onCancel: {
            if timer.claimCancel() { self.execute { [self] in cancelTimer(timer) } }
        }
    }

    /// The timer of a sleep until `deadline`, numbered from the loop's sequence on the loop, from the
    /// foreign one off it.
    private func sleepTimer(deadline: Int64, onLoop: Bool) -> TimerHandle {
        if onLoop {
            timerSequence &+= 1
            return TimerHandle(loop: self, deadline: deadline, sequence: timerSequence, action: .none)
        }
        return TimerHandle(loop: self, deadline: deadline, sequence: nextForeignSequence(), action: .none)
    }

    private func arm(_ timer: TimerHandle, _ continuation: UnsafeContinuation<Void, any Error>) {
        if timer.state == .cancelled {
            continuation.resume(throwing: CancellationError())
            return
        }
        timer.action = .resume(continuation)
        timers.insert(timer)
    }
}

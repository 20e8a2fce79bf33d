import Synchronization
import AsyncIOSystem

extension EventLoop {
    /// The loop's time when it last polled, without reading the clock (libuv's `uv_now`): behind
    /// ``now`` by the turn's work so far (the loop polls at least every millisecond while busy, so
    /// that and the running job), exact on virtual time. For deadlines that move on every request and
    /// need no finer precision, such as a connection's idle and header timeouts.
    package var coarseNow: LoopClock.Instant {
        LoopClock.Instant(nanoseconds: usesVirtualTime ? virtualNow.load(ordering: .relaxed) : lastPollNanoseconds)
    }

    /// `CLOCK_MONOTONIC` when the loop last polled, also on virtual-time loops (for caches of real
    /// time, such as the HTTP server's `Date` line). An accessor, not the stored property made
    /// `package`: another module's direct reads of it are checked for exclusivity despite its attribute.
    package var lastPollMonotonicNanoseconds: Int64 { lastPollNanoseconds }

    /// Phase 3 of a turn: polls epoll, blocking until the next timer when nothing is ready (virtual time
    /// jumps instead), and takes in what other threads handed over.
    func poll(mayBlock: Bool) {
        defer { lastPollNanoseconds = MonotonicClock.nanoseconds() }
        var timeout: Int32
        if !ready.isEmpty || !mayBlock {
            timeout = 0
        } else if let next = timers.nextDeadline {
            let wait = next - nowNanoseconds
            // Round up so a timer never fires early; epoll_wait counts milliseconds.
            timeout = wait <= 0 ? 0 : Int32(clamping: (wait + 999_999) / 1_000_000)
        } else {
            timeout = -1
        }
        if usesVirtualTime && timeout != 0 && externalWork.load(ordering: .acquiring) > 0 {
            // Another thread is working for one of our tasks: wait for it in real time (its result
            // arrives through the inbox and rings the doorbell) instead of jumping the clock past it.
            timeout = -1
        } else if usesVirtualTime && timeout != 0 {
            // Virtual time: look without blocking; if nothing at all happens, jump to the next timer.
            if inboxPending.load(ordering: .acquiring) {
                timeout = 0
            } else if let next = timers.nextDeadline {
                // With sockets registered, give the kernel a moment first (25 real milliseconds unless the
                // test loop says otherwise): loopback data
                // or a FIN sent a moment ago may still be on its way (softirq work deferred on a busy
                // machine), and jumping past a timeout before it lands would fail a test that is right.
                let grace: Int32 = poller.registrationCount == 0 ? 0 : autojumpThresholdMilliseconds
                lastPollEventCount = poller.poll(loop: self, timeoutMilliseconds: grace)
                if lastPollEventCount > 0 || inboxPending.load(ordering: .acquiring) {
                    drainInbox()
                    return
                }
                if next > virtualNow.load(ordering: .relaxed) { virtualNow.store(next, ordering: .relaxed) }
                return
            }
        }
        if timeout != 0 {
            // Tell other threads to ring the doorbell, unless work arrived meanwhile.
            let mustStay = inbox.withLock { box -> Bool in
                if !box.work.isEmpty || box.stopRequested { return true }
                box.isPolling = true
                return false
            }
            if mustStay { timeout = 0 }
        }
        if timeout != 0, let metrics {
            let started = MonotonicClock.nanoseconds()
            lastPollEventCount = poller.poll(loop: self, timeoutMilliseconds: timeout)
            metrics.blocked(nanoseconds: MonotonicClock.nanoseconds() - started)
        } else {
            lastPollEventCount = poller.poll(loop: self, timeoutMilliseconds: timeout)
        }
        if timeout != 0 || inboxPending.load(ordering: .acquiring) { drainInbox() }
    }

    /// Moves the work other threads handed over into the ready queue, and takes a stop request.
    func drainInbox() {
        let arrived = inbox.withLock { box -> [LoopWork] in
            box.isPolling = false
            box.wakePending = false
            inboxPending.store(false, ordering: .relaxed)
            if box.stopRequested {
                box.stopRequested = false
                stopRequested = true
            }
            if box.work.isEmpty { return [] }
            var taken: [LoopWork] = []
            swap(&taken, &box.work)
            return taken
        }
        for work in arrived { ready.push(work) }
    }
}

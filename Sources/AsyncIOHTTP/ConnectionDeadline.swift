import AsyncIO

/// One deadline for a connection, moved as the connection changes phase, enforced by at most one loop
/// timer: moving the deadline later costs nothing (the timer re-arms itself when it fires early), only
/// moving it earlier replaces the timer. When the deadline passes, `expire` runs (it closes the socket,
/// which wakes whatever waits on it).
final class ConnectionDeadline: @unchecked Sendable {
    // Its `var`s are `@exclusivity(unchecked)`: the object is loop-confined and no access to them
    // spans a call that could reach them again (each is a load, a store, or a mutation that calls
    // nothing back), so the runtime's checks could not fire; on the request path of the loop, the
    // streams and the HTTP server they cost 2.4 % of `/plaintext`'s CPU (31 checks a request).
    private let loop: EventLoop
    /// What runs when the deadline passes. Set once, by the owner, after the owner is initialized (so
    /// that it can refer to the owner and the owner can hold this object in a `let`: a `let` is read
    /// without a retain, where an implicitly unwrapped `var` took a retain and a release for each use,
    /// several a request, and the slow ones of an object with a weak reference).
    @exclusivity(unchecked) var expire: () -> Void = {}
    @exclusivity(unchecked) private var deadline: Int64?
    @exclusivity(unchecked) private var timer: TimerHandle?
    @exclusivity(unchecked) private var timerAt: Int64 = .max
    /// Whether the deadline passed (and `expire` ran).
    @exclusivity(unchecked) private(set) var hasExpired = false

    init(loop: EventLoop) {
        self.loop = loop
    }

    /// Sets the deadline `timeout` from now: from the loop's last poll (``EventLoop/coarseNow``), which
    /// is earlier by at most the turn's work so far; it moves on every request, and reading the clock
    /// each time cost 0.7 % of `/plaintext`'s CPU.
    func set(after timeout: Duration) {
        set(afterNanoseconds: timeout.nanoseconds)
    }

    /// ``set(after:)`` with the timeout in nanoseconds: for a timeout set on every request, converted
    /// once (a `Duration`'s conversion is 128-bit arithmetic, 0.3 % of `/plaintext`'s CPU).
    func set(afterNanoseconds timeout: Int64) {
        set(at: loop.coarseNow.nanoseconds.addingSaturated(timeout))
    }

    /// Sets the deadline, in loop-clock nanoseconds.
    func set(at newDeadline: Int64) {
        deadline = newDeadline
        if timer != nil && timerAt <= newDeadline { return }
        timer?.cancel()
        timerAt = newDeadline
        timer = loop.plainTimer(at: LoopClock.Instant(nanoseconds: newDeadline)) { [weak self] in self?.fire() }
    }

    /// No deadline until the next `set`.
    func clear() { deadline = nil }

    /// Clears the deadline and cancels the timer (when the connection ends).
    func cancel() {
        deadline = nil
        timer?.cancel()
        timer = nil
        timerAt = .max
    }

    private func fire() {
        timer = nil
        timerAt = .max
        guard let deadline else { return }
        if loop.now.nanoseconds >= deadline {
            self.deadline = nil
            hasExpired = true
            expire()
        } else {
            set(at: deadline)
        }
    }
}

extension Duration {
    /// The duration in whole nanoseconds, saturating.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? (seconds < 0 ? .min : .max) : product.addingSaturated(attoseconds / 1_000_000_000)
    }
}

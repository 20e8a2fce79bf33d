import Synchronization

/// A scheduled callback or wake-up on an ``EventLoop``: cancel it to keep it from firing.
///
/// Returned by ``EventLoop/call(after:_:)`` and ``EventLoop/call(at:_:)`` (asyncio's `TimerHandle`).
/// Timers with equal deadlines fire in the order they were created.
///
/// ### Thread safety
/// ``cancel()`` is safe from any thread and decisive: firing and cancelling race for one atomic claim,
/// so once `cancel()` returns `true` the timer never fires, whichever thread called it. The other
/// members are meant for the loop's thread.
public final class TimerHandle: @unchecked Sendable {
    /// The loop that owns the timer.
    public let loop: EventLoop
    let deadline: Int64
    let sequence: UInt64
    /// Whether the heap holds an entry for this timer (cancelled entries stay until dropped).
    var isInHeap = false
    /// The loop's view, for the heap's bookkeeping (loop thread only).
    var state: State = .pending
    var action: Action
    /// Who won the timer: ``Claim/open`` until the loop fires it or someone cancels it, on any thread.
    private let claim = Atomic<UInt8>(Claim.open)

    enum Claim {
        static let open: UInt8 = 0
        static let cancelled: UInt8 = 1
        static let fired: UInt8 = 2
    }

    enum State { case pending, fired, cancelled }

    enum Action {
        case none
        case callback(() -> Void)
        case resume(UnsafeContinuation<Void, any Error>)
        case cancelTask(UnsafeCurrentTask)
        /// A job Swift's runtime asked to run after a delay (`Task.sleep` under the default-executor
        /// takeover).
        case job(UnownedJob)
        /// A callback scheduled from a task, run by a task that carries its task-local values.
        case carrier(CallbackCarrier)
        /// A cancel scope's deadline (``CancelScope/deadlinePassed()``): no closure to allocate.
        case scopeDeadline(CancelScope)
    }

    init(loop: EventLoop, deadline: Int64, sequence: UInt64, action: Action) {
        self.loop = loop
        self.deadline = deadline
        self.sequence = sequence
        self.action = action
    }

    /// When the timer fires, on the loop's clock (asyncio's `when()`).
    public var when: LoopClock.Instant { LoopClock.Instant(nanoseconds: deadline) }

    /// Whether ``cancel()`` took effect before the timer fired. Safe from any thread.
    public var isCancelled: Bool { claim.load(ordering: .acquiring) == Claim.cancelled }

    /// Whether the timer has fired (or is firing now). Safe from any thread.
    public var hasFired: Bool { claim.load(ordering: .acquiring) == Claim.fired }

    /// Keeps the timer from firing. Cancelling twice, or after it fired, does nothing.
    ///
    /// - Returns: `true` if this call stopped the timer: it will never fire. `false` if it had fired,
    ///   was firing, or was cancelled before.
    @discardableResult
    public func cancel() -> Bool {
        guard claimCancel() else { return false }
        if loop.inEventLoop {
            loop.cancelTimer(self)
        } else {
            // The claim already keeps it from firing; the loop drops it from its heap.
            loop.execute { [self] in loop.cancelTimer(self) }
        }
        return true
    }

    /// Takes the timer for cancelling; false if it fired or was cancelled already.
    func claimCancel() -> Bool {
        claim.compareExchange(expected: Claim.open, desired: Claim.cancelled, ordering: .acquiringAndReleasing).exchanged
    }

    /// Takes the timer for firing (loop thread); false if a cancel won.
    func claimFire() -> Bool {
        claim.compareExchange(expected: Claim.open, desired: Claim.fired, ordering: .acquiringAndReleasing).exchanged
    }
}

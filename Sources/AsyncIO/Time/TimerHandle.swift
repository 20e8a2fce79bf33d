/// A scheduled callback or wake-up on an ``EventLoop``: cancel it to keep it from firing.
///
/// Returned by ``EventLoop/call(after:_:)`` and ``EventLoop/call(at:_:)`` (asyncio's `TimerHandle`).
/// Timers with equal deadlines fire in the order they were created.
///
/// ### Thread safety
/// ``cancel()`` is safe from any thread (off the loop it takes effect in the loop's next turn, and a
/// timer already firing still fires). The other members are meant for the loop's thread.
public final class TimerHandle: @unchecked Sendable {
    /// The loop that owns the timer.
    public let loop: EventLoop
    let deadline: Int64
    let sequence: UInt64
    /// Whether the heap holds an entry for this timer (cancelled entries stay until dropped).
    var isInHeap = false
    var state: State = .pending
    var action: Action

    enum State { case pending, fired, cancelled }

    enum Action {
        case none
        case callback(() -> Void)
        case resume(UnsafeContinuation<Void, any Error>)
        case cancelTask(UnsafeCurrentTask)
    }

    init(loop: EventLoop, deadline: Int64, sequence: UInt64, action: Action) {
        self.loop = loop
        self.deadline = deadline
        self.sequence = sequence
        self.action = action
    }

    /// When the timer fires, on the loop's clock (asyncio's `when()`).
    public var when: LoopClock.Instant { LoopClock.Instant(nanoseconds: deadline) }

    /// Whether ``cancel()`` took effect before the timer fired.
    public var isCancelled: Bool { state == .cancelled }

    /// Whether the timer has fired.
    public var hasFired: Bool { state == .fired }

    /// Keeps the timer from firing. Cancelling twice, or after it fired, does nothing.
    public func cancel() {
        if loop.inEventLoop {
            loop.cancelTimer(self)
        } else {
            loop.execute { [self] in loop.cancelTimer(self) }
        }
    }
}

/// What an ``Interval`` does with ticks it missed because its consumer was late (Tokio's
/// `MissedTickBehavior`).
public enum MissedTickBehavior: Sendable, Hashable {
    /// Deliver the missed ticks at once, one per `next()`, until caught up; the schedule keeps its
    /// original times (for rates that must average out).
    case burst
    /// Deliver one tick now and schedule the following ones a whole period after it: the schedule
    /// shifts by the delay (for "at least this far apart").
    case delay
    /// Deliver one tick now and drop the missed ones; later ticks stay on the original grid (for
    /// "on every multiple of the period").
    case skip
}

/// Ticks every `period` on a loop's clock, as an async sequence of the times each tick was due
/// (Tokio's `interval`, Trio's periodic loops). Made by ``EventLoop/interval(every:startingAt:missedTicks:)``.
///
/// ```swift
/// for try await _ in loop.interval(every: .seconds(1)) {
///     print("tick")
/// }
/// ```
///
/// The sequence never ends by itself: stop it with `break`, cancellation or a deadline.
public struct Interval: AsyncSequence, Sendable {
    public typealias Element = LoopClock.Instant

    /// The loop whose clock and timers it uses.
    public let loop: EventLoop
    /// The time between ticks.
    public let period: Duration
    /// When the first tick is due.
    public let start: LoopClock.Instant
    /// What happens to ticks missed while the consumer was busy.
    public let missedTicks: MissedTickBehavior

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(interval: self, due: start) }

    /// Waits for each tick.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let interval: Interval
        var due: LoopClock.Instant

        /// Waits until the next tick is due and returns the time it was due (which is in the past when
        /// the consumer is late).
        ///
        /// - Throws: `CancellationError` if the task is cancelled or a scope's deadline passes.
        ///
        /// ### Cancellation
        /// Safe: the tick not delivered stays due for the next call.
        public mutating func next() async throws -> LoopClock.Instant? {
            let loop = interval.loop
            try await loop.sleep(until: due)
            let tick = due
            let now = loop.now
            switch interval.missedTicks {
            case .burst:
                due = tick.advanced(by: interval.period)
            case .delay:
                due = now.advanced(by: interval.period)
            case .skip:
                due = tick.advanced(by: interval.period)
                if due <= now {
                    // The first point of the original grid after now.
                    let behind = tick.duration(to: now)
                    let periods = Int64(behind / interval.period) + 1
                    due = tick.advanced(by: interval.period * periods)
                }
            }
            return tick
        }
    }
}

extension EventLoop {
    /// A sequence that ticks every `period` on this loop's clock (Tokio's `interval`).
    ///
    /// - Parameters:
    ///   - period: The time between ticks; must be positive.
    ///   - start: When the first tick is due; now by default (the first tick is immediate).
    ///   - missedTicks: What happens to ticks missed while the consumer was busy (``MissedTickBehavior/burst``
    ///     by default, as in Tokio).
    public func interval(
        every period: Duration,
        startingAt start: LoopClock.Instant? = nil,
        missedTicks: MissedTickBehavior = .burst
    ) -> Interval {
        precondition(period > .zero, "an interval's period must be positive")
        return Interval(loop: self, period: period, start: start ?? now, missedTicks: missedTicks)
    }
}

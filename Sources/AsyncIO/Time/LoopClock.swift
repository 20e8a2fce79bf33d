/// An event loop's clock: `CLOCK_MONOTONIC`, or virtual time on a test loop.
///
/// Sleeping on it costs one timer-heap entry on the loop, no thread:
/// `try await Task.sleep(for: .seconds(1), clock: loop.clock)`.
public struct LoopClock: Clock {
    /// The loop whose timers this clock drives.
    public let loop: EventLoop

    /// Creates the clock of `loop`.
    public init(loop: EventLoop) { self.loop = loop }

    /// A point in time on a loop's clock, in nanoseconds.
    public struct Instant: InstantProtocol, Hashable, Sendable, CustomStringConvertible {
        /// Nanoseconds since the clock's origin (boot for `CLOCK_MONOTONIC`, 0 for virtual time).
        public let nanoseconds: Int64

        /// Creates an instant from nanoseconds on the clock.
        public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

        /// This instant moved by `duration`, saturating: a deadline past the end of time is the end of
        /// time (`Int64.max` nanoseconds), which never fires.
        public func advanced(by duration: Duration) -> Instant {
            Instant(nanoseconds: nanoseconds.addingSaturated(duration.nanosecondsClamped))
        }

        /// The end of time: a timer at this instant never fires.
        public static let distantFuture = Instant(nanoseconds: .max)

        /// The time from this instant to `other` (negative if `other` is earlier).
        public func duration(to other: Instant) -> Duration {
            .nanoseconds(other.nanoseconds - nanoseconds)
        }

        public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

        public var description: String { "\(Double(nanoseconds) / 1e9)s" }
    }

    /// The loop's time now.
    public var now: Instant { loop.now }

    /// One nanosecond (timers fire on millisecond epoll timeouts, never early).
    public var minimumResolution: Duration { .nanoseconds(1) }

    /// Suspends until `deadline` on the loop's timers.
    ///
    /// - Throws: `CancellationError` if the task is cancelled first.
    ///
    /// ### Cancellation
    /// The timer is removed and the call throws `CancellationError` at once.
    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        try await loop.sleep(untilNanoseconds: deadline.nanoseconds)
    }
}

extension Int64 {
    /// `self + other`, saturating at `.max` and `.min` instead of wrapping: the one place where deadlines
    /// are added up (a timeout of `.seconds(Int64.max)` is "never", not "at once").
    package func addingSaturated(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }
}

extension Duration {
    /// The duration in whole nanoseconds, clamped to `Int64`.
    var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        let (secNanos, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflow2) = secNanos.addingReportingOverflow(attoseconds / 1_000_000_000)
        if overflow2 { return seconds < 0 ? .min : .max }
        return sum
    }

    /// The duration in whole milliseconds.
    var milliseconds: Int64 { nanosecondsClamped / 1_000_000 }
}

import CoreMetrics

/// What an ``EventLoop`` records with swift-metrics once ``EventLoop/enableMetrics(_:)`` is called.
///
/// Labels, under ``prefix`` (default `aio_loop`), each with the dimension `loop` (the loop's name):
/// - `_lag_seconds` (timer, nanoseconds): how late each timer fires, past its deadline
/// - `_jobs_per_turn` (recorder): jobs run in a turn of the loop
/// - `_ready_depth` (recorder): jobs a turn left ready for the next (work queued while it ran)
/// - `_blocked_seconds` (timer, nanoseconds): time spent waiting in `epoll_wait`
/// - `_tasks` (meter): live tasks spawned on the loop, sampled every 64 turns
public struct EventLoopMetrics: Sendable {
    /// The labels' common prefix.
    public var prefix: String
    /// The backend; nil uses `MetricsSystem.factory` (what the program bootstrapped).
    public var factory: (any MetricsFactory)?

    /// Metrics under `prefix`, recorded with `factory` (or the bootstrapped one).
    public init(prefix: String = "aio_loop", factory: (any MetricsFactory)? = nil) {
        self.prefix = prefix
        self.factory = factory
    }
}

/// A loop's metric objects (made once) and its turn counter.
final class EventLoopMetricsRecorder {
    let lag: Timer
    let jobsPerTurn: Recorder
    let readyDepth: Recorder
    let blocked: Timer
    let tasks: Meter
    var turns: UInt64 = 0

    init(_ configuration: EventLoopMetrics, loopName: String) {
        let factory = configuration.factory ?? MetricsSystem.factory
        let prefix = configuration.prefix
        let dimensions = [("loop", loopName)]
        lag = Timer(label: "\(prefix)_lag_seconds", dimensions: dimensions, factory: factory)
        jobsPerTurn = Recorder(label: "\(prefix)_jobs_per_turn", dimensions: dimensions, factory: factory)
        readyDepth = Recorder(label: "\(prefix)_ready_depth", dimensions: dimensions, factory: factory)
        blocked = Timer(label: "\(prefix)_blocked_seconds", dimensions: dimensions, factory: factory)
        tasks = Meter(label: "\(prefix)_tasks", dimensions: dimensions, factory: factory)
    }
}

extension EventLoopMetricsRecorder {
    /// A turn ran `jobs` jobs and left `backlog` ready for the next one.
    func turn(jobs: Int, backlog: Int, on loop: EventLoop) {
        jobsPerTurn.record(jobs)
        readyDepth.record(backlog)
        turns &+= 1
        if turns & 63 == 1 { tasks.set(loop.taskCount) }  // the first turn, then every 64th
    }

    /// The loop waited `nanoseconds` in `epoll_wait`.
    func blocked(nanoseconds: Int64) { blocked.recordNanoseconds(nanoseconds) }

    /// A timer fired `nanoseconds` after its deadline.
    func lag(nanoseconds: Int64) { lag.recordNanoseconds(nanoseconds) }
}

extension EventLoop {
    /// Starts recording the loop's metrics (see ``EventLoopMetrics``): timer lag, jobs per turn, ready
    /// depth, time blocked in `epoll_wait`, live tasks. Off until called; costs one check per turn
    /// while off.
    ///
    /// - Throws: ``EventLoopError`` `.notOnLoop` off the loop's thread.
    public func enableMetrics(_ configuration: EventLoopMetrics = EventLoopMetrics()) throws(EventLoopError) {
        try checkInLoop("EventLoop", "enableMetrics")
        metrics = EventLoopMetricsRecorder(configuration, loopName: name)
    }

}

import AsyncIOSystem
import Synchronization

/// What a task waits on, as the inspector reports it.
package enum WaitTarget: Sendable {
    /// A descriptor to become readable.
    case read(Int32)
    /// A descriptor to become writable (or a writer's buffer to drain through it).
    case write(Int32)
    /// A timer (a sleep), with its deadline on the loop's clock.
    case timer(Int64)
    /// A synchronization primitive, queue or pool, by name (`Lock`, `Queue.get`...).
    case primitive(StaticString)
    /// A child process to exit.
    case process(Int32)
    /// Work on another thread (``offload(_:)``, a thread pool, DNS).
    case thread
}

/// One task's current wait, kept while an inspector watches the loop.
struct WaitRecord {
    let target: WaitTarget
    let since: Int64
    /// The id of the nearest task the loop tracks that this one descends from (0: none).
    let ancestor: UInt64
    /// Swift's name for the task, for tasks the loop does not track.
    let name: String?
}

/// The id of the innermost task the loop tracks (spawned or named) that the current task runs in or
/// descends from, bound while an inspector watches; 0 otherwise.
enum InspectedTask {
    @TaskLocal static var id: UInt64 = 0
}

/// The inspector's loop-thread state: what each task waits on, and timer lag.
final class LoopInspection {
    var waits: [UInt: WaitRecord] = [:]
    var lagLast: Int64 = 0
    /// The worst lag in the current window of ``lagWindow`` and in the one before: readers (several
    /// `aio top`s) never reset it, and a spike stays visible for one to two windows.
    private var lagMaxNow: Int64 = 0
    private var lagMaxBefore: Int64 = 0
    private var windowStart: Int64 = MonotonicClock.nanoseconds()
    static let lagWindow: Int64 = 5_000_000_000

    func timerFired(lateBy nanoseconds: Int64) {
        lagLast = nanoseconds
        roll()
        if nanoseconds > lagMaxNow { lagMaxNow = nanoseconds }
    }

    /// The worst lag in the last 5 to 10 seconds.
    var recentLagMax: Int64 {
        roll()
        return max(lagMaxNow, lagMaxBefore)
    }

    private func roll() {
        let now = MonotonicClock.nanoseconds()
        guard now - windowStart >= Self.lagWindow else { return }
        lagMaxBefore = now - windowStart >= 2 * Self.lagWindow ? 0 : lagMaxNow
        lagMaxNow = 0
        windowStart = now
    }
}

/// What other threads may read about a loop while it is busy: its thread, and the job holding it.
final class InspectionCounters: Sendable {
    let threadID = Atomic<Int32>(0)
    /// The job running now (a task's address, 0 between jobs), while inspected.
    let job = Atomic<UInt>(0)
    /// When that job started (`CLOCK_MONOTONIC`).
    let jobStarted = Atomic<Int64>(0)
}

extension EventLoop {
    /// Notes that the current task starts waiting on `target`, if an inspector watches the loop; returns
    /// whether it noted it (then call ``endWait()`` when the wait ends). An outer wait (a process) is
    /// kept while an inner one (its descriptor) runs.
    ///
    /// Call it on the loop's thread.
    @inline(__always)
    package func beginWait(_ target: @autoclosure () -> WaitTarget) -> Bool {
        guard let inspection else { return false }
        return noteWait(target(), in: inspection)
    }

    @inline(never)
    private func noteWait(_ target: WaitTarget, in inspection: LoopInspection) -> Bool {
        guard let task = withUnsafeCurrentTask(body: { $0.map { unsafeBitCast($0, to: UInt.self) } }),
              inspection.waits[task] == nil else { return false }
        inspection.waits[task] = WaitRecord(
            target: target, since: nowNanoseconds, ancestor: InspectedTask.id, name: Task.name
        )
        return true
    }

    /// Ends the wait noted by ``beginWait(_:)`` (when it returned true).
    @inline(never) @usableFromInline
    package func endWait() {
        guard let task = withUnsafeCurrentTask(body: { $0.map { unsafeBitCast($0, to: UInt.self) } }) else { return }
        inspection?.waits.removeValue(forKey: task)
    }

    /// Notes that the current task waits for its child tasks (``gather(_:)-(_)`` and the like), if it
    /// runs on an inspected loop; returns that loop, to call ``endWait()`` on when the wait ends.
    @inline(__always)
    static func noteWaitingForChildTasks(_ what: StaticString) -> EventLoop? {
        guard let loop = current, loop.beginWait(.primitive(what)) else { return nil }
        return loop
    }

    /// Whether an inspector watches the loop (any thread).
    package var isInspecting: Bool { isInspected.load(ordering: .relaxed) }

    /// Runs a job while inspected: other threads can see which job holds the loop, and since when.
    @inline(never)
    func runWatched(_ work: consuming LoopWork) {
        switch work {
        case .task(let job), .actor(let job):
            inspectionCounters.jobStarted.store(MonotonicClock.nanoseconds(), ordering: .relaxed)
            inspectionCounters.job.store(unsafeBitCast(job, to: UInt.self), ordering: .releasing)
        case .callback:
            break
        }
        run(work)
        inspectionCounters.job.store(0, ordering: .releasing)
    }

    /// Starts keeping what the inspector reports (loop thread, or before the loop runs).
    package func startInspection() {
        if inspection == nil { inspection = LoopInspection() }
        isInspected.store(true, ordering: .releasing)
    }

    /// Stops it and forgets what was kept (loop thread).
    package func stopInspection() {
        isInspected.store(false, ordering: .releasing)
        inspection = nil
    }
}

import Synchronization
import AsyncIOSystem

extension EventLoop {
    /// What the inspector reports about this loop now: counters, descriptors, timers and every task it
    /// knows, with what each waits on (asyncio's `all_tasks()`, with the details `python -m asyncio ps`
    /// shows).
    ///
    /// Waits, parents and timer lag are kept only while an ``Inspector`` watches the loop; without one
    /// the tasks are listed without them.
    ///
    /// - Throws: ``EventLoopError`` `.notOnLoop` off the loop's thread (``Inspector/snapshot(timeout:)``
    ///   asks from anywhere).
    public func snapshot() throws(EventLoopError) -> LoopSnapshot {
        try checkInLoop("EventLoop", "snapshot")
        return takeSnapshot()
    }

    /// ``snapshot()`` on the loop's thread.
    func takeSnapshot() -> LoopSnapshot {
        let now = nowNanoseconds
        let queued = ready.jobAddresses()
        let sleeping = timers.sleepingJobs()
        let waits = inspection?.waits ?? [:]
        var snapshot = LoopSnapshot(
            name: name, thread: inspectionCounters.threadID.load(ordering: .relaxed), backend: backend.rawValue, responsive: true,
            busyNanoseconds: nil, busyTask: nil, jobs: jobsRun, turns: turnsTaken,
            lagNanoseconds: inspection?.lagLast ?? 0, maxLagNanoseconds: inspection?.recentLagMax ?? 0,
            ready: ready.count, timers: timers.count,
            nextTimerNanoseconds: timers.nextDeadline.map { max(0, $0 - now) },
            descriptors: [:], listeners: [], tasks: []
        )
        // Each descriptor is described once (a few system calls), for the counts and for the waits.
        var described: [Int32: DescriptorInfo] = [:]
        for registration in poller.allRegistrations {
            let info = DescriptorInfo.describe(registration.fd)
            described[registration.fd] = info
            snapshot.descriptors[info.kind.rawValue, default: 0] += 1
            if info.kind == .listener { snapshot.listeners.append(info.text) }
        }
        let running = currentJob.map { UInt(bitPattern: $0) }
        func state(_ address: UInt) -> TaskSnapshot.State {
            address == running ? .running : queued.contains(address) ? .ready : .waiting
        }
        func waiting(_ address: UInt) -> (String?, Int64?) {
            if let record = waits[address] { return (describe(record.target, now: now, known: described), now - record.since) }
            if let deadline = sleeping[address] { return ("sleep, \(Self.seconds(max(0, deadline - now))) left", nil) }
            return (nil, nil)
        }
        let tracked = registry.withLock { registry in
            Self.trackedTasks(registry, now: now, into: &snapshot.tasks, state: state, waiting: waiting)
        }
        for (address, record) in waits where !tracked.contains(address) {
            snapshot.tasks.append(TaskSnapshot(
                id: UInt64(address), parent: record.ancestor == 0 ? nil : record.ancestor,
                name: record.name ?? "child task", kind: "child", state: state(address), ageNanoseconds: nil,
                waitingOn: describe(record.target, now: now, known: described), waitingNanoseconds: now - record.since,
                cancelled: false))
        }
        snapshot.tasks.sort { ($0.ageNanoseconds ?? -1, $1.id) > ($1.ageNanoseconds ?? -1, $0.id) }
        return snapshot
    }

    /// What other threads can see of a loop that did not answer: its tasks without their waits, and
    /// the job that holds it.
    func unresponsiveSnapshot() -> LoopSnapshot {
        let now = nowNanoseconds
        let job = inspectionCounters.job.load(ordering: .acquiring)
        let started = inspectionCounters.jobStarted.load(ordering: .relaxed)
        var snapshot = LoopSnapshot(
            name: name, thread: inspectionCounters.threadID.load(ordering: .relaxed), backend: backend.rawValue, responsive: false,
            busyNanoseconds: job == 0 ? nil : MonotonicClock.nanoseconds() - started, busyTask: nil,
            jobs: 0, turns: 0, lagNanoseconds: 0, maxLagNanoseconds: 0, ready: 0, timers: 0,
            nextTimerNanoseconds: nil, descriptors: [:], listeners: [], tasks: []
        )
        registry.withLock { registry in
            if job != 0 { snapshot.busyTask = registry.name(of: job) }
            _ = Self.trackedTasks(registry, now: now, into: &snapshot.tasks,
                                  state: { $0 == job ? .running : .waiting }, waiting: { _ in (nil, nil) })
        }
        snapshot.tasks.sort { ($0.ageNanoseconds ?? -1, $1.id) > ($1.ageNanoseconds ?? -1, $0.id) }
        return snapshot
    }

    /// The spawned and named tasks of `registry`, appended to `tasks`; returns their addresses.
    private static func trackedTasks(
        _ registry: TaskRegistry, now: Int64, into tasks: inout [TaskSnapshot],
        state: (UInt) -> TaskSnapshot.State, waiting: (UInt) -> (String?, Int64?)
    ) -> Set<UInt> {
        var tracked = Set<UInt>()
        let entries = registry.records.map { ($0.key, $0.value.id, $0.value.parent, $0.value.name, "spawned", $0.value.started, $0.value.isCancelRequested) }
            + registry.named.map { ($0.key, $0.value.id, $0.value.parent, $0.value.name, "named", $0.value.started, false) }
        for (address, id, parent, name, kind, started, cancelled) in entries {
            tracked.insert(address)
            let (target, waited) = waiting(address)
            tasks.append(TaskSnapshot(
                id: id, parent: parent == 0 ? nil : parent, name: name, kind: kind, state: state(address),
                ageNanoseconds: now - started, waitingOn: target, waitingNanoseconds: waited, cancelled: cancelled))
        }
        return tracked
    }

    private func describe(_ target: WaitTarget, now: Int64, known: [Int32: DescriptorInfo]) -> String {
        switch target {
        case .read(let fd): "read fd \(fd) (\((known[fd] ?? DescriptorInfo.describe(fd)).text))"
        case .write(let fd): "write fd \(fd) (\((known[fd] ?? DescriptorInfo.describe(fd)).text))"
        case .timer(let deadline): "sleep, \(Self.seconds(max(0, deadline - now))) left"
        case .primitive(let name): "\(name)"
        case .process(let pid): "process \(pid)"
        case .thread: "work on another thread"
        }
    }

    /// `1.25 s`, `12 ms`: short durations for reports.
    static func seconds(_ nanoseconds: Int64) -> String {
        if nanoseconds >= 1_000_000_000 {
            let hundredths = nanoseconds / 10_000_000
            return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100) s"
        }
        return "\(nanoseconds / 1_000_000) ms"
    }
}

/// The loop's timers: a binary min-heap ordered by (deadline, sequence), so equal deadlines fire FIFO.
///
/// Keys live inline in the heap array and the timers are held as unmanaged references (the heap owns
/// one retain per entry), so sifting moves plain 24-byte values: it never touches a timer object or
/// its reference count, which with a million timers is a cache miss each time. Cancelled timers
/// are removed lazily (asyncio's approach): they are skipped when they reach the top, and the heap is
/// rebuilt without them once they are more than half of it, so a million timeout scopes that never
/// fire cost amortised O(1) each and leave nothing behind.
struct TimerHeap {
    private struct Entry {
        let deadline: Int64
        let sequence: UInt64
        /// Retained once by ``insert(_:)``, released when the entry leaves the heap.
        let timer: Unmanaged<TimerHandle>

        @inline(__always)
        func precedes(_ other: Entry) -> Bool {
            deadline < other.deadline || (deadline == other.deadline && sequence < other.sequence)
        }
    }

    private var entries: [Entry] = []
    private var cancelledCount = 0

    /// Timers that will still fire.
    var count: Int { entries.count - cancelledCount }
    var isEmpty: Bool { count == 0 }

    /// The deadline of the next timer that will fire; nil when none will (a timer at the end of time,
    /// `Int64.max`, never fires, so the loop neither wakes for it nor jumps virtual time to it).
    var nextDeadline: Int64? {
        mutating get {
            dropCancelledTop()
            guard let deadline = entries.first?.deadline, deadline != .max else { return nil }
            return deadline
        }
    }

    mutating func insert(_ timer: TimerHandle) {
        timer.isInHeap = true
        entries.append(Entry(deadline: timer.deadline, sequence: timer.sequence, timer: .passRetained(timer)))
        siftUp(entries.count - 1)
    }

    /// Removes and returns the next timer if it is due at `now` and was created at or before
    /// `sequenceLimit` (or off the loop).
    mutating func popDue(now: Int64, sequenceLimit: UInt64) -> TimerHandle? {
        dropCancelledTop()
        guard let top = entries.first, top.deadline <= now else { return nil }
        if top.sequence > sequenceLimit && top.sequence < TimerHeap.foreignSequenceBit { return nil }
        return removeTop()
    }

    /// Sequence numbers at or above this bit belong to timers created off the loop thread.
    static let foreignSequenceBit: UInt64 = 1 << 63

    /// Records that a timer in the heap was cancelled; it is dropped later.
    mutating func noteCancelled(_ timer: TimerHandle) {
        guard timer.isInHeap else { return }
        cancelledCount += 1
        if cancelledCount > 64 && cancelledCount * 2 > entries.count { rebuild() }
    }

    /// The deadlines of `Task.sleep` jobs waiting in the heap, by task address (for the inspector).
    func sleepingJobs() -> [UInt: Int64] {
        var jobs: [UInt: Int64] = [:]
        for entry in entries {
            let timer = entry.timer.takeUnretainedValue()
            if timer.state == .pending, case .job(let job) = timer.action {
                jobs[unsafeBitCast(job, to: UInt.self)] = entry.deadline
            }
        }
        return jobs
    }

    /// Removes every timer.
    mutating func removeAll() -> [TimerHandle] {
        let all = entries.map { $0.timer.takeRetainedValue() }
        for timer in all { timer.isInHeap = false }
        entries.removeAll()
        cancelledCount = 0
        return all
    }

    private mutating func dropCancelledTop() {
        // Only look at the timer objects when some are cancelled: each look is a likely cache miss.
        while cancelledCount > 0, !entries.isEmpty,
              entries[0].timer._withUnsafeGuaranteedRef({ $0.state == .cancelled }) {
            _ = removeTop()
            cancelledCount -= 1
        }
    }

    private mutating func removeTop() -> TimerHandle {
        let top = entries[0].timer.takeRetainedValue()
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            siftDown(0)
        }
        top.isInHeap = false
        return top
    }

    private mutating func rebuild() {
        entries.removeAll { entry in
            let timer = entry.timer.takeUnretainedValue()
            if timer.state == .cancelled {
                timer.isInHeap = false
                entry.timer.release()
                return true
            }
            return false
        }
        cancelledCount = 0
        var index = entries.count / 2
        while index > 0 {
            index -= 1
            siftDown(index)
        }
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        let item = entries[child]
        while child > 0 {
            let parent = (child - 1) / 2
            guard item.precedes(entries[parent]) else { break }
            entries[child] = entries[parent]
            child = parent
        }
        entries[child] = item
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        let item = entries[parent]
        let n = entries.count
        while true {
            var child = 2 * parent + 1
            guard child < n else { break }
            if child + 1 < n && entries[child + 1].precedes(entries[child]) { child += 1 }
            guard entries[child].precedes(item) else { break }
            entries[parent] = entries[child]
            parent = child
        }
        entries[parent] = item
    }
}

/// The loop's timers: a binary min-heap ordered by (deadline, sequence), so equal deadlines fire FIFO.
///
/// Each ``TimerHandle`` knows its index, so cancelling removes it at once in O(log n): a million
/// timeout scopes that never fire leave nothing behind.
struct TimerHeap {
    private var items: [TimerHandle] = []

    var count: Int { items.count }
    var isEmpty: Bool { items.isEmpty }
    var nextDeadline: Int64? { items.first?.deadline }
    var first: TimerHandle? { items.first }

    @inline(__always)
    private static func precedes(_ a: TimerHandle, _ b: TimerHandle) -> Bool {
        a.deadline < b.deadline || (a.deadline == b.deadline && a.sequence < b.sequence)
    }

    mutating func insert(_ timer: TimerHandle) {
        timer.heapIndex = items.count
        items.append(timer)
        siftUp(items.count - 1)
    }

    mutating func popFirst() -> TimerHandle? {
        guard !items.isEmpty else { return nil }
        return remove(at: 0)
    }

    mutating func remove(_ timer: TimerHandle) {
        let index = timer.heapIndex
        guard index >= 0, index < items.count, items[index] === timer else { return }
        _ = remove(at: index)
    }

    /// Removes every timer, in heap order.
    mutating func removeAll() -> [TimerHandle] {
        let all = items
        for timer in all { timer.heapIndex = -1 }
        items.removeAll()
        return all
    }

    private mutating func remove(at index: Int) -> TimerHandle {
        let removed = items[index]
        let last = items.removeLast()
        if index < items.count {
            items[index] = last
            last.heapIndex = index
            if index > 0 && Self.precedes(last, items[(index - 1) / 2]) {
                siftUp(index)
            } else {
                siftDown(index)
            }
        }
        removed.heapIndex = -1
        return removed
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        let item = items[child]
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.precedes(item, items[parent]) else { break }
            items[child] = items[parent]
            items[child].heapIndex = child
            child = parent
        }
        items[child] = item
        item.heapIndex = child
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        let item = items[parent]
        let n = items.count
        while true {
            var child = 2 * parent + 1
            guard child < n else { break }
            if child + 1 < n && Self.precedes(items[child + 1], items[child]) { child += 1 }
            guard Self.precedes(items[child], item) else { break }
            items[parent] = items[child]
            items[parent].heapIndex = parent
            parent = child
        }
        items[parent] = item
        item.heapIndex = parent
    }
}

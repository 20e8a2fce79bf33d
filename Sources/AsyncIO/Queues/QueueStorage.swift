/// How a queue orders its items: ``FIFOStorage``, ``LIFOStorage`` or ``PriorityStorage``.
public protocol QueueStorage<Element>: Sendable {
    associatedtype Element: Sendable
    /// An empty storage.
    init()
    /// Items stored.
    var count: Int { get }
    /// Stores an item.
    mutating func push(_ element: Element)
    /// Removes the next item in this storage's order.
    mutating func pop() -> Element?
    /// Removes every item.
    mutating func removeAll()
}

/// First in, first out (asyncio.Queue).
public struct FIFOStorage<Element: Sendable>: QueueStorage {
    @usableFromInline var items = FIFOBuffer<Element>()
    /// Empty storage.
    public init() {}
    /// The number of items.
    @inlinable public var count: Int { items.count }
    /// Adds `element` at the back.
    @inlinable public mutating func push(_ element: Element) { items.push(element) }
    /// Removes the oldest item.
    @inlinable public mutating func pop() -> Element? { items.popFirst() }
    /// Removes every item.
    public mutating func removeAll() { _ = items.removeAll() }
}

/// Last in, first out (asyncio.LifoQueue).
public struct LIFOStorage<Element: Sendable>: QueueStorage {
    private var items: [Element] = []
    /// Empty storage.
    public init() {}
    /// The number of items.
    public var count: Int { items.count }
    /// Adds `element` on top.
    public mutating func push(_ element: Element) { items.append(element) }
    /// Removes the newest item.
    public mutating func pop() -> Element? { items.popLast() }
    /// Removes every item.
    public mutating func removeAll() { items.removeAll() }
}

/// Smallest first (asyncio.PriorityQueue); equal items come out in the order they went in.
public struct PriorityStorage<Element: Sendable & Comparable>: QueueStorage {
    private var heap: [(element: Element, sequence: UInt64)] = []
    private var nextSequence: UInt64 = 0
    /// Empty storage.
    public init() {}
    /// The number of items.
    public var count: Int { heap.count }

    private static func precedes(_ a: (element: Element, sequence: UInt64), _ b: (element: Element, sequence: UInt64)) -> Bool {
        a.element < b.element || (!(b.element < a.element) && a.sequence < b.sequence)
    }

    /// Adds `element` in priority order (after equal ones already in).
    public mutating func push(_ element: Element) {
        nextSequence &+= 1
        heap.append((element, nextSequence))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.precedes(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes the smallest item (the oldest of equal ones).
    public mutating func pop() -> Element? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            var best = parent
            let left = 2 * parent + 1, right = left + 1
            if left < heap.count && Self.precedes(heap[left], heap[best]) { best = left }
            if right < heap.count && Self.precedes(heap[right], heap[best]) { best = right }
            if best == parent { break }
            heap.swapAt(parent, best)
            parent = best
        }
        return top.element
    }

    /// Removes every item.
    public mutating func removeAll() { heap.removeAll() }
}

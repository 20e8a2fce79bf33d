/// A first-in, first-out array with a moving head: pushes append, pops advance the head, and the
/// consumed prefix is dropped once it is most of the array (amortised O(1), no ring arithmetic).
///
/// The storage behind ``FIFOStorage`` and the waiter queues of the synchronisation primitives.
@usableFromInline
struct FIFOBuffer<Element> {
    @usableFromInline var items: [Element] = []
    @usableFromInline var head = 0

    @usableFromInline init() {}

    @inlinable var count: Int { items.count - head }
    @inlinable var isEmpty: Bool { head == items.count }
    @inlinable var first: Element? { isEmpty ? nil : items[head] }

    @inlinable
    mutating func push(_ element: Element) { items.append(element) }

    /// Changes the oldest element in place (there must be one).
    @inlinable
    mutating func updateFirst(_ body: (inout Element) -> Void) {
        precondition(head < items.count, "updateFirst on an empty FIFOBuffer")
        body(&items[head])
    }

    @inlinable
    mutating func reserveCapacity(_ count: Int) { items.reserveCapacity(count) }

    @inlinable
    mutating func popFirst() -> Element? {
        guard head < items.count else { return nil }
        let element = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 32 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return element
    }

    /// Removes and returns every element, oldest first.
    @inlinable
    mutating func removeAll() -> [Element] {
        let all = Array(items[head...])
        items.removeAll()
        head = 0
        return all
    }

    /// Removes and returns the oldest element matching `predicate`.
    @inlinable
    mutating func removeFirst(where predicate: (Element) -> Bool) -> Element? {
        guard let index = items[head...].firstIndex(where: predicate) else { return nil }
        return items.remove(at: index)
    }
}

extension FIFOBuffer: Sendable where Element: Sendable {}

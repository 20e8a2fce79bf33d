import AsyncIOSystem

/// Why a queue operation failed.
public struct QueueError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Code: Hashable, Sendable { case shutDown, tooManyTaskDone }
    private let code: Code
    /// The queue was shut down (asyncio.QueueShutDown): no more puts, and gets fail once it is empty
    /// (at once after `shutdown(immediate: true)`).
    public static let shutDown = QueueError(code: .shutDown)
    /// ``AsyncQueue/taskDone()`` was called more times than items were put (asyncio's `ValueError`).
    public static let tooManyTaskDone = QueueError(code: .tooManyTaskDone)
    public var description: String {
        switch code {
        case .shutDown: "the queue is shut down"
        case .tooManyTaskDone: "taskDone() called more times than there were items"
        }
    }
}

/// A FIFO queue (asyncio.Queue).
public typealias Queue<Element: Sendable> = AsyncQueue<FIFOStorage<Element>>
/// A LIFO queue (asyncio.LifoQueue).
public typealias LIFOQueue<Element: Sendable> = AsyncQueue<LIFOStorage<Element>>
/// A queue that returns the smallest item first (asyncio.PriorityQueue); ties come out in put order.
public typealias PriorityQueue<Element: Sendable & Comparable> = AsyncQueue<PriorityStorage<Element>>

/// A queue between tasks with asyncio's semantics: `put`/`get` that wait, `tryPut`/`tryGet` that do
/// not, `taskDone`/`join` to wait for the work to be processed, and `shutdown` (Python 3.13).
///
/// Use it as ``Queue``, ``LIFOQueue`` or ``PriorityQueue``. Waiters are served in FIFO order and an item
/// handed to a waiting getter is never taken by another task. Usable from tasks on any loop.
///
/// ```swift
/// let queue = Queue<Int>(maxSize: 100)
/// loop.spawn { for i in 0..<1000 { try await queue.put(i) }; queue.shutdown() }
/// for try await job in queue { process(job); try queue.taskDone() }
/// ```
///
/// ### Thread safety
/// Every member is safe from any thread.
public final class AsyncQueue<Storage: QueueStorage>: AsyncSequence, @unchecked Sendable {
    public typealias Element = Storage.Element

    /// Slot through which a waiting getter receives its item.
    @usableFromInline
    final class Slot: @unchecked Sendable {
        @usableFromInline var item: Element?
        @usableFromInline init() {}
    }

    @usableFromInline
    struct State {
        @usableFromInline var items = Storage()
        @usableFromInline var getters = WaiterQueue<Slot>()
        @usableFromInline var putters = WaiterQueue<Slot>()  // each slot holds the item the putter waits to add
        @usableFromInline var joiners = WaiterQueue<Void>()
        @usableFromInline var unfinished = 0
        @usableFromInline var isShutDown = false
        @usableFromInline init() {}
    }

    @usableFromInline enum PutStep { case done(UnsafeContinuation<Void, any Error>?), shutDown, wait(UInt64) }
    @usableFromInline enum GetStep { case item(Element, UnsafeContinuation<Void, any Error>?), shutDown, wait(UInt64) }
    @usableFromInline enum GetOutcome { case got(UnsafeContinuation<Void, any Error>?), cancelled, shutDown, waiting }

    /// The most items the queue holds before `put` waits; 0 means no limit.
    public let maxSize: Int
    @usableFromInline let state = LockedState(State())

    /// Creates a queue holding at most `maxSize` items (0: unbounded, as in asyncio).
    public init(maxSize: Int = 0) {
        precondition(maxSize >= 0, "maxSize must be 0 (unbounded) or more")
        self.maxSize = maxSize
    }

    /// Items in the queue now.
    public var count: Int { state.withLock { $0.items.count } }
    /// Whether the queue holds no item.
    public var isEmpty: Bool { count == 0 }
    /// Whether `put` would wait.
    public var isFull: Bool { state.withLock { maxSize > 0 && $0.items.count >= maxSize } }

    /// How many tasks wait in ``get()`` and in ``put(_:)`` now (Trio's `statistics()`).
    public var waitingCount: (getters: Int, putters: Int) {
        state.withLock { ($0.getters.count, $0.putters.count) }
    }
    /// Whether ``shutdown(immediate:)`` was called.
    public var isShutDown: Bool { state.withLock { $0.isShutDown } }

    // MARK: - Put

    /// Adds `item`, waiting while the queue is full.
    ///
    /// - Throws: ``QueueError/shutDown`` if the queue is (or gets) shut down; `CancellationError`.
    ///
    /// ### Cancellation
    /// Safe: a cancelled put adds nothing; a put whose item was already taken returns normally.
    @inlinable
    public nonisolated(nonsending) func put(_ item: Element) async throws {
        // Fast path, no allocation: hand the item to a waiting getter, or store it if there is room.
        let step = state.withLock { state -> PutStep in
            if state.isShutDown { return .shutDown }
            if let getter = state.getters.popFirst() {
                getter.payload.item = item
                state.unfinished += 1
                return .done(getter.continuation)
            }
            if state.putters.isEmpty && (maxSize == 0 || state.items.count < maxSize) {
                state.items.push(item)
                state.unfinished += 1
                return .done(nil)
            }
            return .wait(state.putters.makeID())
        }
        switch step {
        case .shutDown: throw QueueError.shutDown
        case .done(let getter): getter?.resume()
        case .wait(let id):
            let slot = Slot()
            slot.item = item
            try await waitAsPutter(id: id, slot: slot)
        }
    }

    /// Adds `item` if there is room now; false if the queue is full or shut down.
    public func tryPut(_ item: Element) -> Bool {
        let slot = Slot()
        slot.item = item
        let (added, getter) = state.withLock { state -> (Bool, UnsafeContinuation<Void, any Error>?) in
            if state.isShutDown { return (false, nil) }
            let getter = self.addLocked(&state, slot)
            return (slot.item == nil, getter)
        }
        getter?.resume()
        return added
    }

    /// Under the lock: gives the item to the first waiting getter (returned, to resume after unlocking),
    /// or stores it if there is room (then returns nil, and `slot.item` is nil). Counts it unfinished.
    private func addLocked(_ state: inout State, _ slot: Slot) -> UnsafeContinuation<Void, any Error>? {
        if let getter = state.getters.popFirst() {
            getter.payload.item = slot.item
            slot.item = nil
            state.unfinished += 1
            return getter.continuation
        }
        if state.putters.isEmpty && (maxSize == 0 || state.items.count < maxSize), let item = slot.item {
            state.items.push(item)
            slot.item = nil
            state.unfinished += 1
        }
        return nil
    }

    /// Tells the inspector that the current task waits in ``get()``.
    @usableFromInline
    static func noteGetterWait(on loop: EventLoop?) -> Bool { loop?.beginWait(.primitive("Queue.get")) ?? false }

    @usableFromInline
    nonisolated(nonsending) func waitAsPutter(id: UInt64, slot: Slot) async throws {
        let loop = EventLoop.current
        let noted = loop?.beginWait(.primitive("Queue.put")) ?? false
        defer { if noted { loop?.endWait() } }
        try await withCancellableContinuation(on: loop) { (continuation: UnsafeContinuation<Void, any Error>) in
            let outcome = state.withLock { state -> Int in  // 0 wait, 1 done, 2 cancelled, 3 shut down
                if state.isShutDown { return 3 }
                if state.putters.isEmpty && (maxSize == 0 || state.items.count < maxSize), let item = slot.item {
                    state.items.push(item)
                    slot.item = nil
                    state.unfinished += 1
                    return 1
                }
                if Task.isCancelled { return 2 }
                state.putters.append(.init(id: id, payload: slot, continuation: continuation))
                return 0
            }
            switch outcome {
            case 1: continuation.resume()
            case 2: continuation.resume(throwing: CancellationError())
            case 3: continuation.resume(throwing: QueueError.shutDown)
            default: break
            }
        } onCancel: { [state] in
            let waiter = state.withLock { $0.putters.remove(id: id) }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    // MARK: - Get

    /// Removes and returns the next item, waiting while the queue is empty.
    ///
    /// - Throws: ``QueueError/shutDown`` once the queue is shut down and empty; `CancellationError`.
    ///
    /// ### Cancellation
    /// Safe: a cancelled get takes nothing; an item already handed to it is returned, never lost.
    @inlinable
    public nonisolated(nonsending) func get() async throws -> Element {
        let step = state.withLock { state -> GetStep in
            if let (item, putter) = self.takeLocked(&state) { return .item(item, putter) }
            if state.isShutDown { return .shutDown }
            return .wait(state.getters.makeID())
        }
        switch step {
        case .item(let item, let putter):
            putter?.resume()
            return item
        case .shutDown:
            throw QueueError.shutDown
        case .wait(let id):
            let slot = Slot()  // only a getter that waits needs one
            let loop = EventLoop.current
            let noted = Self.noteGetterWait(on: loop)
            defer { if noted { loop?.endWait() } }
            try await withCancellableContinuation(on: loop) { (continuation: UnsafeContinuation<Void, any Error>) in
                let outcome = state.withLock { state -> GetOutcome in
                    if let (item, putter) = self.takeLocked(&state) {
                        slot.item = item
                        return .got(putter)
                    }
                    if state.isShutDown { return .shutDown }
                    if Task.isCancelled { return .cancelled }
                    state.getters.append(.init(id: id, payload: slot, continuation: continuation))
                    return .waiting
                }
                switch outcome {
                case .got(let putter):
                    putter?.resume()
                    continuation.resume()
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .shutDown: continuation.resume(throwing: QueueError.shutDown)
                case .waiting: break
                }
            } onCancel: { [state] in
                let waiter = state.withLock { $0.getters.remove(id: id) }
                waiter?.continuation.resume(throwing: CancellationError())
            }
            guard let item = slot.item else { throw QueueError.shutDown }
            return item
        }
    }

    /// Removes and returns the next item if there is one, without waiting.
    @inlinable
    public func tryGet() -> Element? {
        let result = state.withLock { self.takeLocked(&$0) }
        result?.1?.resume()
        return result?.0
    }

    /// Under the lock: takes the next item and, if a putter waits, moves its item in (returning the
    /// putter to resume after unlocking).
    @inlinable
    func takeLocked(_ state: inout State) -> (Element, UnsafeContinuation<Void, any Error>?)? {
        guard let item = state.items.pop() else { return nil }
        var putter: UnsafeContinuation<Void, any Error>?
        if let waiting = state.putters.popFirst(), let pending = waiting.payload.item {
            state.items.push(pending)
            waiting.payload.item = nil
            state.unfinished += 1
            putter = waiting.continuation
        }
        return (item, putter)
    }

    // MARK: - Tracking work

    /// Marks one item taken with `get` as processed; ``join()`` returns when every item put has been.
    ///
    /// - Throws: ``QueueError/tooManyTaskDone`` if called more times than items were put.
    public func taskDone() throws(QueueError) {
        let joiners = try state.withLock { (state: inout State) throws(QueueError) -> [WaiterQueue<Void>.Waiter] in
            guard state.unfinished > 0 else { throw QueueError.tooManyTaskDone }
            state.unfinished -= 1
            return state.unfinished == 0 ? state.joiners.removeAll() : []
        }
        for joiner in joiners { joiner.continuation.resume() }
    }

    /// Waits until every item put has been marked done with ``taskDone()``.
    ///
    /// ### Cancellation
    /// Safe: only the wait stops.
    public nonisolated(nonsending) func join() async throws {
        try await suspendAsWaiter(
            "Queue.join",
            state,
            tryNow: { $0.unfinished == 0 },
            makeID: { $0.joiners.makeID() },
            enqueue: { state, id, continuation in state.joiners.append(.init(id: id, payload: (), continuation: continuation)) },
            dequeue: { state, id in state.joiners.remove(id: id)?.continuation }
        )
    }

    // MARK: - Shutdown

    /// Shuts the queue down (Python 3.13): `put` now throws ``QueueError/shutDown``, and so do waiting
    /// putters. Waiting getters throw it too; later gets drain the remaining items first, unless
    /// `immediate` is true, which drops them (counting them done, so ``join()`` returns).
    public func shutdown(immediate: Bool = false) {
        let (putters, getters, joiners) = state.withLock { state in
            state.isShutDown = true
            if immediate {
                state.unfinished -= state.items.count
                state.items.removeAll()
            }
            let putters = state.putters.removeAll()
            let getters = state.getters.removeAll()
            let joiners = immediate && state.unfinished <= 0 ? state.joiners.removeAll() : []
            if immediate { state.unfinished = Swift.max(0, state.unfinished) }
            return (putters, getters, joiners)
        }
        for putter in putters { putter.continuation.resume(throwing: QueueError.shutDown) }
        for getter in getters { getter.continuation.resume(throwing: QueueError.shutDown) }
        for joiner in joiners { joiner.continuation.resume() }
    }

    // MARK: - AsyncSequence

    /// Iterates with `get()` until the queue is shut down and drained.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let queue: AsyncQueue
        /// The next item, or nil once the queue is shut down and empty.
        ///
        /// ### Cancellation
        /// As ``AsyncQueue/get()``: no item is taken unless it is returned.
        public mutating func next() async throws -> Element? {
            do { return try await queue.get() } catch let error as QueueError where error == .shutDown {
                return nil
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(queue: self) }
}

import AsyncIOSystem

/// A condition variable for tasks (asyncio.Condition): wait until notified, holding ``lock`` around the
/// check of some shared state.
///
/// ```swift
/// let condition = Condition()
/// try await condition.lock.withLock {
///     try await condition.wait(for: { queue.isEmpty == false })
///     consume(queue.removeFirst())
/// }
/// ```
///
/// ### Thread safety
/// Every member is safe from any thread.
public final class Condition: Sendable {
    /// The lock that guards the shared state; hold it to wait or notify.
    public let lock: Lock
    private let waiters = LockedState(WaiterQueue<Void>())

    /// Creates a condition with a new lock, or over `lock`.
    public init(lock: Lock = Lock()) { self.lock = lock }

    /// How many tasks wait to be notified now (Trio's `statistics()`).
    public var waitingCount: Int { waiters.withLock { $0.count } }

    /// Releases ``lock``, waits for a notification, and takes ``lock`` again before returning or throwing.
    ///
    /// - Throws: ``SyncError`` if ``lock`` is not held; `CancellationError` if cancelled while waiting
    ///   (the lock is held again when it is thrown).
    ///
    /// ### Cancellation
    /// A cancelled waiter leaves the queue and never consumes a notification; one notified just before
    /// it was cancelled returns normally, so no notification is lost.
    public func wait() async throws {
        guard lock.isLocked else { throw SyncError("Condition.wait() without holding its lock") }
        let waiters = self.waiters
        let lock = self.lock
        var failure: (any Error)?
        var released = false
        do {
            // The lock is let go only once this task is in the waiters' queue: a notify from another
            // thread or loop between the two would otherwise find nobody and be lost.
            try await suspendAsWaiter(
                "Condition",
                waiters,
                tryNow: { _ in false },
                makeID: { $0.makeID() },
                enqueue: { queue, id, continuation in queue.append(.init(id: id, payload: (), continuation: continuation)) },
                dequeue: { queue, id in queue.remove(id: id)?.continuation },
                afterEnqueue: {
                    try? lock.release()
                    released = true
                }
            )
        } catch {
            failure = error
        }
        if !released { try? lock.release() }  // cancelled before it waited: let go now, as asyncio does
        await lock.acquireIgnoringCancellation()
        if let failure { throw failure }
    }

    /// Waits until `predicate` is true, checking it under ``lock`` now and after each notification;
    /// returns its last value (true).
    ///
    /// ### Cancellation
    /// As ``wait()``.
    @discardableResult
    public func wait(for predicate: () -> Bool) async throws -> Bool {
        while !predicate() { try await wait() }
        return true
    }

    /// Wakes up to `count` waiting tasks, in the order they started waiting.
    ///
    /// - Throws: ``SyncError`` if ``lock`` is not held.
    public func notify(_ count: Int = 1) throws(SyncError) {
        guard lock.isLocked else { throw SyncError("Condition.notify() without holding its lock") }
        let woken = waiters.withLock { queue -> [WaiterQueue<Void>.Waiter] in
            var woken: [WaiterQueue<Void>.Waiter] = []
            while woken.count < count, let waiter = queue.popFirst() { woken.append(waiter) }
            return woken
        }
        for waiter in woken { waiter.continuation.resume() }
    }

    /// Wakes every waiting task.
    ///
    /// - Throws: ``SyncError`` if ``lock`` is not held.
    public func notifyAll() throws(SyncError) {
        guard lock.isLocked else { throw SyncError("Condition.notifyAll() without holding its lock") }
        let woken = waiters.withLock { $0.removeAll() }
        for waiter in woken { waiter.continuation.resume() }
    }
}

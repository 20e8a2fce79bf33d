import AsyncIOSystem

/// A FIFO of suspended tasks, each with an id so a cancelled one can take itself out. Used under the
/// owning primitive's lock; continuations are resumed only after that lock is released.
@usableFromInline
struct WaiterQueue<Payload> {
    @usableFromInline
    struct Waiter {
        @usableFromInline let id: UInt64
        @usableFromInline let payload: Payload
        @usableFromInline let continuation: UnsafeContinuation<Void, any Error>
        @usableFromInline init(id: UInt64, payload: Payload, continuation: UnsafeContinuation<Void, any Error>) {
            self.id = id
            self.payload = payload
            self.continuation = continuation
        }
    }

    @usableFromInline var waiters = FIFOBuffer<Waiter>()
    @usableFromInline var nextID: UInt64 = 0

    @usableFromInline init() {}

    @inlinable var isEmpty: Bool { waiters.isEmpty }
    @inlinable var count: Int { waiters.count }
    @inlinable var first: Waiter? { waiters.first }

    @inlinable
    mutating func makeID() -> UInt64 {
        nextID &+= 1
        return nextID
    }

    @inlinable
    mutating func append(_ waiter: Waiter) { waiters.push(waiter) }

    @inlinable
    mutating func popFirst() -> Waiter? { waiters.popFirst() }

    @inlinable
    mutating func removeAll() -> [Waiter] { waiters.removeAll() }

    /// Removes the waiter with `id`, if it is still waiting.
    @inlinable
    mutating func remove(id: UInt64) -> Waiter? { waiters.removeFirst { $0.id == id } }
}

/// Suspends the calling task as a waiter of a primitive whose state is `State` behind `lock`.
///
/// - `tryNow` runs under the lock: return `true` to go on without waiting (it is tried again under the
///   same lock hold that enqueues, so a wake-up between the two tries is never missed).
/// - otherwise `enqueue` adds the waiter, with a fresh id from `makeID`, under that lock.
/// - cancellation runs `dequeue` under the lock; if it returns the continuation (the task was still
///   waiting) the task resumes with `CancellationError`; if not, it had already been woken and the
///   wake-up (permit, item, ownership) stands: nothing is lost or stolen.
/// Continuations are always resumed outside the lock. `what` names the primitive for the inspector.
func suspendAsWaiter<State>(
    _ what: StaticString,
    _ lock: LockedState<State>,
    tryNow: (inout State) throws -> Bool,
    makeID: @escaping (inout State) -> UInt64,
    enqueue: @escaping (inout State, UInt64, UnsafeContinuation<Void, any Error>) -> Void,
    dequeue: @escaping @Sendable (inout State, UInt64) -> UnsafeContinuation<Void, any Error>?,
    afterEnqueue: () -> Void = {}
) async throws {
    if try lock.withLock({ try tryNow(&$0) }) { return }
    try checkTaskCancellation()
    let id = lock.withLock { makeID(&$0) }
    nonisolated(unsafe) let tryNow = tryNow  // used synchronously, before this function returns
    nonisolated(unsafe) let afterEnqueue = afterEnqueue  // likewise
    let loop = EventLoop.current
    let noted = loop?.beginWait(.primitive(what)) ?? false
    defer { if noted { loop?.endWait() } }
    try await withCancellableContinuation(on: loop) { (continuation: UnsafeContinuation<Void, any Error>) in
        let outcome = lock.withLock { state -> WaitOutcome in
            do {
                if try tryNow(&state) { return .ready }
            } catch {
                return .failed(error)
            }
            // Checked under the lock: a cancellation that came before this point found nothing to
            // dequeue, so it is handled here.
            if Task.isCancelled { return .cancelled }
            enqueue(&state, id, continuation)
            return .waiting
        }
        switch outcome {
        case .ready: continuation.resume()
        case .cancelled: continuation.resume(throwing: CancellationError())
        case .failed(let error): continuation.resume(throwing: error)
        case .waiting: afterEnqueue()  // the waiter is in the queue: a wake-up from now on finds it
        }
    } onCancel: {
        let waiter = lock.withLock { dequeue(&$0, id) }
        waiter?.resume(throwing: CancellationError())
    }
}

/// How an attempt to enqueue a waiter ended.
private enum WaitOutcome {
    case ready, cancelled, failed(any Error), waiting
}

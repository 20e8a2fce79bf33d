/// One unit of work for the loop thread.
@usableFromInline
enum LoopWork: @unchecked Sendable {  // closures from other threads arrive @Sendable (callSoon); loop-only ones stay on the loop
    /// A job of a task whose executor preference is the loop.
    case task(UnownedJob)
    /// A job of an actor pinned to the loop (``LoopSerialExecutor``).
    case actor(UnownedJob)
    /// A plain callback (`callSoon`).
    case callback(() -> Void)
}

/// The loop's FIFO of runnable work: a growable ring buffer touched only by the loop thread.
///
/// No locks and, once it has grown to the working-set size, no allocation per push.
@usableFromInline
struct ReadyQueue: ~Copyable {
    private var storage: UnsafeMutablePointer<LoopWork>
    private var capacity: Int
    private var head = 0
    @usableFromInline private(set) var count = 0

    init(capacity: Int = 256) {
        precondition(capacity > 0 && capacity & (capacity - 1) == 0, "capacity must be a power of two")
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
    }

    deinit {
        for i in 0..<count { (storage + ((head + i) & (capacity - 1))).deinitialize(count: 1) }
        storage.deallocate()
    }

    @inline(__always) var isEmpty: Bool { count == 0 }

    @inline(__always)
    mutating func push(_ work: consuming LoopWork) {
        if count == capacity { grow() }
        (storage + ((head + count) & (capacity - 1))).initialize(to: work)
        count += 1
    }

    @inline(__always)
    mutating func pop() -> LoopWork? {
        guard count > 0 else { return nil }
        let work = (storage + head).move()
        head = (head + 1) & (capacity - 1)
        count -= 1
        return work
    }

    /// The addresses of the task and actor jobs queued now, for the inspector.
    func jobAddresses() -> Set<UInt> {
        var addresses: Set<UInt> = []
        for i in 0..<count {
            // SAFETY: slots head..<head+count (modulo capacity) are initialized; they are only read.
            switch storage[(head + i) & (capacity - 1)] {
            case .task(let job), .actor(let job): addresses.insert(unsafeBitCast(job, to: UInt.self))
            case .callback: break
            }
        }
        return addresses
    }

    private mutating func grow() {
        let newCapacity = capacity * 2
        let newStorage = UnsafeMutablePointer<LoopWork>.allocate(capacity: newCapacity)
        for i in 0..<count {
            (newStorage + i).moveInitialize(from: storage + ((head + i) & (capacity - 1)), count: 1)
        }
        storage.deallocate()
        storage = newStorage
        capacity = newCapacity
        head = 0
    }
}

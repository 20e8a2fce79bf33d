import AsyncIOSystem

/// The loop's poller: the readiness source (epoll, or io_uring's poll requests: ``EventLoop/Backend``),
/// the wake-up eventfd, and the table of registered descriptors.
///
/// The only place the loop meets epoll or io_uring. Loop-thread only, except ``wake()``.
final class LoopSelector {
    // Its `var`s are `@exclusivity(unchecked)`: the object is loop-confined and no access to them
    // spans a call that could reach them again (each is a load, a store, or a mutation that calls
    // nothing back), so the runtime's checks could not fire; on the request path of the loop, the
    // streams and the HTTP server they cost 2.4 % of `/plaintext`'s CPU (31 checks a request).
    let epoll: any EventPoller
    /// The ring, when the backend is io_uring and its receive-buffer pool is set up: stream sockets
    /// receive through it (``RingReceiver``).
    let ring: IOURing?
    /// The ring, when the backend is io_uring (with a receive pool or not): files go through it.
    let uring: IOURing?
    /// The loop's kept buffers: for the ring's sends and the streams' readers (``EventLoop/bufferCache``).
    let buffers = BufferCache()
    /// File operations in the ring, by their data (``EventLoop/performOnRing(_:keeping:)``).
    @exclusivity(unchecked) var operations: [UInt64: RingOperation] = [:]
    @exclusivity(unchecked) var operationCounter: UInt64 = 0
    @exclusivity(unchecked) var completedOperations = 0
    /// The backend in use.
    let backend: EventLoop.Backend
    private let doorbell: EventFD
    /// Registered descriptors, indexed by fd (descriptors are small and dense); the table owns the
    /// registrations until they close.
    @exclusivity(unchecked) private var slots: [IORegistration?] = []
    /// How many descriptors are registered (owned or watched), not counting sockets closed by the
    /// program whose last sends are still in the ring.
    var registrationCount: Int { ownedCount - closingCount + watchers.count }
    /// Sockets closed by the program whose descriptors close when their sends in the ring complete.
    @exclusivity(unchecked) var closingCount = 0
    @exclusivity(unchecked) private var ownedCount = 0
    /// Descriptors watched for another owner (``EventLoop/addReader(_:_:)``), by fd.
    @exclusivity(unchecked) var watchers: [Int32: DescriptorWatcher] = [:]
    /// Generations tell a registration from an earlier one of the same (reused) fd.
    @exclusivity(unchecked) private var nextGeneration: UInt32 = 0
    @exclusivity(unchecked) var watcherGenerationCounter: UInt32 = 0
    private let logger = Logger(label: "AsyncIO.LoopSelector")

    /// Epoll data carries a registration's fd and generation, never a pointer (SwiftNIO's
    /// `EPollUserData`, libuv's `uv__platform_invalidate_fd`): an event for a registration that was
    /// closed meanwhile, even one whose fd was reused at once, finds another generation and is dropped.
    /// The doorbell's data is all ones, which no registration can have (owned registrations' generations
    /// keep the top bit clear, watchers' generations set it and never reach `UInt32.max`).
    private static let doorbellToken: UInt64 = .max

    @inline(__always)
    static func token(fd: Int32, generation: UInt32) -> UInt64 {
        UInt64(generation) << 32 | UInt64(UInt32(bitPattern: fd))
    }

    /// Every registration, for shutting down.
    var allRegistrations: [IORegistration] { slots.compactMap { $0 } }

    /// How many ring receives ended because the pool had run dry.
    @exclusivity(unchecked) var ringStarvations = 0
    /// How many ring receives were paused (cancelled for holding too many unread buffers).
    @exclusivity(unchecked) var ringPauses = 0

    init(backend requested: EventLoop.Backend, ringReceiveBuffers: Int) throws(Errno) {
        (epoll, backend) = try Self.makePoller(requested, ringReceiveBuffers: ringReceiveBuffers)
        uring = epoll as? IOURing
        ring = uring.flatMap { $0.receiveBufferCount > 0 ? $0 : nil }
        do {
            doorbell = try EventFD()
            try epoll.add(doorbell.fd, events: .readable, data: Self.doorbellToken)
        } catch {
            epoll.close()
            throw error
        }
    }

    /// Wakes a loop blocked in ``poll(loop:timeoutMilliseconds:)``. Safe from any thread.
    func wake() { doorbell.signal() }

    /// The doorbell's descriptor, for a signal handler to ring (``InterruptSignal``).
    var doorbellFD: Int32 { doorbell.fd }

    /// What every owned descriptor is watched for.
    static let ownedEvents: Epoll.Events = [.readable, .writable, .readHangUp, .edgeTriggered]
    /// What a socket whose input comes from the ring is polled for.
    static let ringEvents: Epoll.Events = [.writable, .readHangUp, .edgeTriggered]

    /// The registration of `fd` whose token is `token` (its generation), if it is still registered.
    @inline(__always)
    func registration(at fd: Int, token: UInt64) -> IORegistration? {
        guard fd >= 0, fd < slots.count, let registration = slots[fd],
              registration.generation == UInt32(truncatingIfNeeded: token >> 32) else { return nil }
        return registration
    }

    /// Runs `body` with the registration of `fd` whose token is `token`, borrowed (no reference
    /// counted); nil when it is no longer registered. `body` must not unregister it (close it): code
    /// that only reads it, and resumes its waiters (whose tasks run later, from the loop's queue), can.
    @inline(__always)
    func withRegistration<Result>(at fd: Int, token: UInt64, _ body: (IORegistration) -> Result) -> Result? {
        guard fd >= 0, fd < slots.count, slots[fd] != nil else { return nil }
        // SAFETY: the slot holds the registration until it is unregistered, which `body` does not do.
        return Unmanaged.passUnretained(slots[fd]!)._withUnsafeGuaranteedRef { registration in
            registration.generation == UInt32(truncatingIfNeeded: token >> 32) ? body(registration) : nil
        }
    }

    /// Waits for readiness (and, on the ring, completed receives) and delivers it to the registrations;
    /// returns how many events arrived.
    @discardableResult
    func poll(loop: EventLoop, timeoutMilliseconds: Int32) -> Int {
        let count: Int
        do {
            count = try epoll.wait(timeoutMilliseconds: timeoutMilliseconds)
        } catch {
            logger.error("epoll_wait failed", metadata: ["error": "\(error)"])
            return 0
        }
        for index in 0..<count {
            let (events, data) = epoll.event(at: index)
            if data == Self.doorbellToken {
                doorbell.drain()
                continue
            }
            // A handler run for an earlier event of this batch may have closed this registration, and
            // a new one may hold its fd: only the generation that was registered gets the event.
            let generation = UInt32(truncatingIfNeeded: data >> 32)
            if generation & Self.watcherGenerationBit != 0 {
                deliverToWatcher(events, fd: Int32(bitPattern: UInt32(truncatingIfNeeded: data)),
                                 generation: generation, loop: loop)
                continue
            }
            let fd = Int(Int32(bitPattern: UInt32(truncatingIfNeeded: data)))
            guard let registration = registration(at: fd, token: data) else { continue }
            if loop.isDebug {
                // Readiness resumes tasks (cheap), but a writable handler runs here and now.
                let started = MonotonicClock.nanoseconds()
                registration.deliver(events)
                loop.reportIfSlow("an I/O callback held the event loop too long", task: "I/O callback for fd \(registration.fd)", since: started)
            } else {
                registration.deliver(events)
            }
        }
        if let uring, uring.hasCompletions { return count + deliverCompletions(uring) }
        return count
    }

    /// Registers `registration`'s descriptor. `acceptedStream`: a connection accepted from a stream
    /// listener: no check of what it is, and on a ring with a receive pool, polled for output and
    /// hang-up only. Its first read is a `recv`, and the first that finds nothing moves it onto the ring
    /// (``startReceiving(_:)``), which then needs no change of the poll (a remove and an add in the ring
    /// per connection saved).
    func add(_ registration: IORegistration, acceptedStream: Bool = false) throws(Errno) {
        let fd = Int(registration.fd)
        precondition(fd >= 0, "a negative descriptor cannot be registered")
        // Owned generations leave bits 30 and 31 clear: watchers set 31, ring receives 30 (bit 62 of the data).
        nextGeneration = (nextGeneration &+ 1) & 0x3FFF_FFFF
        registration.generation = nextGeneration
        let token = Self.token(fd: registration.fd, generation: nextGeneration)
        if acceptedStream {
            registration.isStreamSocket = true
            registration.pollsForInput = ring == nil
            try epoll.addSocket(registration.fd, events: ring == nil ? Self.ownedEvents : Self.ringEvents, data: token)
        } else {
            try epoll.add(registration.fd, events: Self.ownedEvents, data: token)
        }
        if fd >= slots.count { slots.append(contentsOf: repeatElement(nil, count: max(fd + 1 - slots.count, slots.count))) }
        if slots[fd] == nil { ownedCount += 1 }
        slots[fd] = registration
    }

    func remove(_ registration: IORegistration) {
        let fd = Int(registration.fd)
        guard fd < slots.count, slots[fd] === registration else { return }
        try? epoll.remove(registration.fd, data: Self.token(fd: registration.fd, generation: registration.generation))
        if let receiver = registration.receiver {
            // The ring has let go of the receive (remove waits for its last completion); what it left
            // unread goes back to the pool.
            receiver.releaseAll()
            registration.receiver = nil
        }
        registration.sender = nil
        if let acceptor = registration.acceptor {
            acceptor.closeAll()  // connections accepted by the ring and never taken
            registration.acceptor = nil
        }
        slots[fd] = nil
        ownedCount -= 1
    }

    func close() {
        finishOperations()
        closeSocketsWithSendsInFlight()
        unwatchAll()
        epoll.close()
        doorbell.close()
    }
}

import Logging

import AsyncIOSystem

/// The loop's poller: epoll, the wake-up eventfd, and the table of registered descriptors.
///
/// The only place the loop meets epoll; a kqueue or io_uring selector would replace this type alone.
/// Loop-thread only, except ``wake()``.
final class EpollSelector {
    private let epoll: Epoll
    private let doorbell: EventFD
    /// Registered descriptors by fd; the table owns the registrations until they close.
    private(set) var registrations: [Int32: IORegistration] = [:]
    private let logger = Logger(label: "AsyncIO.EpollSelector")

    /// Epoll data 0 marks the doorbell; registrations use their object address, never 0.
    private static let doorbellToken: UInt64 = 0

    init() throws(Errno) {
        epoll = try Epoll(capacity: 256)
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

    /// Waits for readiness and delivers it to the registrations; returns how many events arrived.
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
            // SAFETY: `data` is the address of a registration that `registrations` keeps alive; a closed
            // registration is removed from epoll before it leaves the table, and no user code runs
            // between `epoll_wait` and the end of this loop.
            let registration = Unmanaged<IORegistration>
                .fromOpaque(UnsafeRawPointer(bitPattern: UInt(data))!)
                .takeUnretainedValue()
            if loop.isDebug {
                // Readiness resumes tasks (cheap), but a writable handler runs here and now.
                let started = MonotonicClock.nanoseconds()
                registration.deliver(events)
                loop.reportIfSlow("an I/O callback held the event loop too long", task: "I/O callback for fd \(registration.fd)", since: started)
            } else {
                registration.deliver(events)
            }
        }
        return count
    }

    func add(_ registration: IORegistration) throws(Errno) {
        let data = UInt64(UInt(bitPattern: Unmanaged.passUnretained(registration).toOpaque()))
        try epoll.add(
            registration.fd,
            events: [.readable, .writable, .readHangUp, .edgeTriggered],
            data: data
        )
        registrations[registration.fd] = registration
    }

    func remove(_ registration: IORegistration) {
        guard registrations[registration.fd] === registration else { return }
        try? epoll.remove(registration.fd)
        registrations[registration.fd] = nil
    }

    func close() {
        epoll.close()
        doorbell.close()
    }
}

import Logging

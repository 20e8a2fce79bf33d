import AsyncIOSystem
import Logging
import Synchronization

extension EventLoop {
    /// Where a loop learns that its descriptors are ready, and how it does its I/O.
    public enum Backend: String, Sendable, Hashable, CaseIterable {
        /// The environment variable `AIO_BACKEND` (`epoll`, `io_uring` or `auto`) if set; else
        /// ``ioURing`` where the kernel allows it and has what makes it fast (Linux 6.1: completion
        /// work deferred to the loop, multishot receives into a buffer pool), and ``epoll`` otherwise.
        /// Falling back to epoll (io_uring refused by a seccomp filter or the `io_uring_disabled`
        /// sysctl, `ENOSYS`, an older kernel) is logged once per process.
        case automatic
        /// epoll, edge-triggered: reads and writes are `recv` and `send` calls on readiness.
        case epoll
        /// io_uring, the default where available: the ring replaces `epoll_wait` (one `io_uring_enter`
        /// per turn submits everything queued and waits), and does the I/O itself: a stream socket that
        /// has been read dry receives through a multishot receive into a pool of buffers the ring owns
        /// and sends through the ring; listeners accept through a multishot accept; ``File`` operations
        /// run in the ring instead of on a thread. Asked for by name, it is used on any kernel that has
        /// io_uring (5.11), without the parts an older kernel lacks.
        case ioURing = "io_uring"
    }

    /// The environment variable ``Backend/automatic`` reads.
    public static let backendEnvironmentVariable = "AIO_BACKEND"

    /// The backend this loop uses (never ``Backend/automatic``).
    public var backend: Backend { poller.backend }

    /// Buffers in an io_uring loop's receive pool: 512 of 4 KiB (2 MiB of address space, touched as
    /// receives fill them).
    package static let defaultRingReceiveBuffers = 512

    /// Receive-pool buffers holding bytes not yet read (0 off io_uring).
    package var ringReceiveBuffersOut: Int { poller.ring?.receiveBuffersOut ?? 0 }

    /// How many ring receives ended because the pool had run dry.
    package var ringReceiveStarvations: Int { poller.ringStarvations }

    /// How many ring receives were paused for holding too many unread buffers.
    package var ringReceivePauses: Int { poller.ringPauses }

    /// The backend `requested` comes to with `AIO_BACKEND` set to `environmentValue`, as a loop
    /// would choose it (its poller is made and closed): for tests of the choice and the fallback.
    package static func resolve(_ requested: Backend, environmentValue: String?) throws(Errno) -> Backend {
        let (poller, backend) = try LoopSelector.makePoller(requested, environmentValue: environmentValue)
        poller.close()
        return backend
    }
}

extension LoopSelector {
    /// Fallbacks from io_uring are logged once per process.
    private static let fallbackLogged = Atomic<Bool>(false)

    /// Makes the readiness source for `requested`; ``EventLoop/Backend/automatic`` follows
    /// `environmentValue` (`AIO_BACKEND`'s).
    static func makePoller(
        _ requested: EventLoop.Backend,
        environmentValue: String? = SystemEnvironment.value(of: EventLoop.backendEnvironmentVariable),
        ringReceiveBuffers: Int = EventLoop.defaultRingReceiveBuffers
    ) throws(Errno) -> (any EventPoller, EventLoop.Backend) {
        switch requested {
        case .epoll:
            return (try Epoll(capacity: 256), .epoll)
        case .ioURing:
            return (try IOURing(receiveBuffers: ringReceiveBuffers), .ioURing)
        case .automatic:
            let asked = environmentValue ?? ""
            switch asked {
            case "epoll":
                return (try Epoll(capacity: 256), .epoll)
            case "", "auto", "automatic", "io_uring", "iouring", "uring":
                let ring: IOURing
                do {
                    ring = try IOURing(receiveBuffers: ringReceiveBuffers)
                } catch {
                    logFallbackOnce("io_uring is not available (\(error)); using epoll")
                    return (try Epoll(capacity: 256), .epoll)
                }
                if ring.isCompletionCapable || asked != "" && asked != "auto" && asked != "automatic" {
                    return (ring, .ioURing)
                }
                ring.close()
                logFallbackOnce("io_uring lacks deferred completion work or multishot receives on Linux \(SystemInfo.kernelVersion.major).\(SystemInfo.kernelVersion.minor) (6.1 has them); using epoll")
                return (try Epoll(capacity: 256), .epoll)
            default:
                logFallbackOnce("\(EventLoop.backendEnvironmentVariable)=\(asked) is not a backend (auto, epoll or io_uring); using epoll")
                return (try Epoll(capacity: 256), .epoll)
            }
        }
    }

    private static func logFallbackOnce(_ message: String) {
        fallbacks.add(1, ordering: .relaxed)
        if fallbackLogged.exchange(true, ordering: .relaxed) { return }
        Logger(label: "AsyncIO.EventLoop").warning("\(message)")
    }

    /// How many loops fell back to epoll (the log says it once).
    static let fallbacks = Atomic<Int>(0)
}

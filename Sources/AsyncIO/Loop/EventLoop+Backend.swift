import AsyncIOSystem
import Logging
import Synchronization

extension EventLoop {
    /// Where a loop learns that its descriptors are ready.
    public enum Backend: String, Sendable, Hashable, CaseIterable {
        /// The environment variable `AIO_BACKEND` (`epoll` or `io_uring`) if set, else ``epoll``. A
        /// refused io_uring (`ENOSYS`, `EPERM` under seccomp or the `io_uring_disabled` sysctl) falls
        /// back to epoll, logged once per process.
        case automatic
        /// epoll, edge-triggered: the default.
        case epoll
        /// io_uring: a poll request per descriptor (multishot), submitted in batches by the one
        /// `io_uring_enter` per turn that also waits, instead of `epoll_ctl` calls and `epoll_wait`;
        /// a stream socket that has been read dry receives through the ring (a multishot receive into
        /// a pool of buffers the ring owns) instead of calling `recv`. Sends stay system calls.
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
            case "", "epoll", "automatic":
                return (try Epoll(capacity: 256), .epoll)
            case "io_uring", "iouring", "uring":
                do {
                    return (try IOURing(receiveBuffers: ringReceiveBuffers), .ioURing)
                } catch {
                    logFallbackOnce("io_uring is not available (\(error)); using epoll")
                    return (try Epoll(capacity: 256), .epoll)
                }
            default:
                logFallbackOnce("\(EventLoop.backendEnvironmentVariable)=\(asked) is not a backend (epoll or io_uring); using epoll")
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

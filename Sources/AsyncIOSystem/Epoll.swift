import CAsyncIOLinux
import Glibc

/// An epoll instance and its event buffer: the readiness poller behind the event loop.
///
/// This is the one type that knows epoll; a kqueue or io_uring poller would replace it alone.
/// Not thread-safe: it belongs to the loop thread (``add(_:events:data:)`` and friends included).
public final class Epoll {
    /// Readiness and registration flags (`EPOLLIN`, `EPOLLOUT`, ...).
    public struct Events: OptionSet, Sendable, Hashable {
        /// The `EPOLL*` bits.
        public let rawValue: UInt32
        /// Flags from their `EPOLL*` bits.
        @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
        // Computed from literals, not `static let`s of the `EPOLL*` imports: a `static let` is read
        // from another module through an accessor that checks its one-time initialization, and the
        // loop reads these on every event (0.2 % of `/plaintext`'s CPU). A test checks each literal
        // against its `EPOLL*` constant.
        /// Readable (`EPOLLIN`).
        @inlinable public static var readable: Events { Events(rawValue: 0x001) }
        /// Writable (`EPOLLOUT`).
        @inlinable public static var writable: Events { Events(rawValue: 0x004) }
        /// The peer shut down its write side (`EPOLLRDHUP`).
        @inlinable public static var readHangUp: Events { Events(rawValue: 0x2000) }
        /// Both directions hung up (`EPOLLHUP`, always reported).
        @inlinable public static var hangUp: Events { Events(rawValue: 0x010) }
        /// An error is pending on the descriptor (`EPOLLERR`, always reported).
        @inlinable public static var error: Events { Events(rawValue: 0x008) }
        /// Edge-triggered registration (`EPOLLET`).
        @inlinable public static var edgeTriggered: Events { Events(rawValue: 1 << 31) }
    }

    /// The epoll descriptor.
    public let fd: Int32
    private let buffer: UnsafeMutablePointer<epoll_event>
    /// How many events one ``wait(timeoutMilliseconds:)`` can return.
    public let capacity: Int

    /// Creates an epoll instance (`EPOLL_CLOEXEC`) that returns at most `capacity` events per wait.
    ///
    /// The corresponding C function is `epoll_create1`.
    public init(capacity: Int = 256) throws(Errno) {
        precondition(capacity > 0, "Epoll capacity must be positive")
        fd = try systemCall("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
        self.capacity = capacity
        buffer = .allocate(capacity: capacity)
    }

    deinit { buffer.deallocate() }

    /// Closes the epoll descriptor. Call once, from the loop thread.
    public func close() { try? FileDescriptorOps.close(fd) }

    /// Registers `target` for `events`, with `data` handed back in every event.
    ///
    /// The corresponding C function is `epoll_ctl` (`EPOLL_CTL_ADD`).
    public func add(_ target: Int32, events: Events, data: UInt64) throws(Errno) {
        try control(EPOLL_CTL_ADD, target, events, data)
    }

    /// Changes the events or data of a registered descriptor (`EPOLL_CTL_MOD`).
    public func modify(_ target: Int32, events: Events, data: UInt64) throws(Errno) {
        try control(EPOLL_CTL_MOD, target, events, data)
    }

    /// Removes `target` (`EPOLL_CTL_DEL`). Closing a descriptor removes it too.
    public func remove(_ target: Int32) throws(Errno) {
        try control(EPOLL_CTL_DEL, target, [], 0)
    }

    private func control(_ op: Int32, _ target: Int32, _ events: Events, _ data: UInt64) throws(Errno) {
        var event = epoll_event()
        event.events = events.rawValue
        event.data.u64 = data
        try systemCall("epoll_ctl") { epoll_ctl(fd, op, target, &event) }
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever, 0: poll) and returns how many events are ready;
    /// read them with ``event(at:)``. `EINTR` returns 0 events rather than retrying, so the caller can
    /// recompute its timeout.
    ///
    /// The corresponding C function is `epoll_wait`.
    public func wait(timeoutMilliseconds: Int32) throws(Errno) -> Int {
        let n = epoll_wait(fd, buffer, Int32(capacity), timeoutMilliseconds)
        if n >= 0 { return Int(n) }
        let err = Glibc.errno
        if err == EINTR { return 0 }
        checkNotABug(err, "epoll_wait")
        throw Errno(rawValue: err)
    }

    /// The `index`th event of the last ``wait(timeoutMilliseconds:)``.
    @inline(__always)
    public func event(at index: Int) -> (events: Events, data: UInt64) {
        let e = buffer[index]
        return (Events(rawValue: e.events), e.data.u64)
    }
}

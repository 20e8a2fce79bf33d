import CAsyncIOLinux
import Glibc

/// Typed socket system calls. Every socket is created non-blocking and close-on-exec; `EINTR` is
/// retried; `EAGAIN` is ``IOResult/wouldBlock``.
public enum SocketOps {
    /// Stream (TCP, Unix stream) or datagram (UDP).
    public enum Kind: Sendable {
        case stream, datagram
        var rawValue: Int32 {
            switch self {
            case .stream: Int32(SOCK_STREAM.rawValue)
            case .datagram: Int32(SOCK_DGRAM.rawValue)
            }
        }
    }

    /// Creates a non-blocking, close-on-exec socket.
    ///
    /// The corresponding C function is `socket`.
    public static func socket(family: Int32, kind: Kind) throws(Errno) -> Int32 {
        let fd = try systemCall("socket") {
            Glibc.socket(family, kind.rawValue | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        DescriptorLedger.record(fd)
        return fd
    }

    /// Creates a connected pair of non-blocking Unix stream sockets.
    ///
    /// The corresponding C function is `socketpair`.
    public static func socketPair() throws(Errno) -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        _ = try fds.withUnsafeMutableBufferPointer { (p: inout UnsafeMutableBufferPointer<Int32>) throws(Errno) in
            try systemCall("socketpair") {
                Glibc.socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
                                 | Int32(SOCK_CLOEXEC.rawValue), 0, p.baseAddress)
            }
        }
        DescriptorLedger.record(fds[0])
        DescriptorLedger.record(fds[1])
        return (fds[0], fds[1])
    }

    /// Binds `fd` to `address`.
    ///
    /// The corresponding C function is `bind`.
    public static func bind(_ fd: Int32, to address: SocketAddress) throws(Errno) {
        let rc = address.withSockAddr { Glibc.bind(fd, $0, $1) }
        if rc == -1 { throw Errno.current }
    }

    /// Marks `fd` as accepting connections with `backlog` pending at most.
    ///
    /// The corresponding C function is `listen`.
    public static func listen(_ fd: Int32, backlog: Int32) throws(Errno) {
        try systemCall("listen") { Glibc.listen(fd, backlog) }
    }

    /// Accepts a connection as a non-blocking, close-on-exec socket.
    ///
    /// The corresponding C function is `accept4`.
    public static func accept(_ fd: Int32) throws(Errno) -> IOResult<(fd: Int32, peer: SocketAddress?)> {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = try withUnsafeMutablePointer(to: &storage) { pointer throws(Errno) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address throws(Errno) in
                try nonBlockingCall("accept4") {
                    casyncio_accept4(fd, address, &length, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
                }
            }
        }
        switch result {
        case .wouldBlock: return .wouldBlock
        case .done(let client):
            DescriptorLedger.record(client)
            return .done((client, SocketAddress(storage: storage, length: length)))
        }
    }

    /// Starts connecting; `.wouldBlock` means "in progress": wait for writability, then read
    /// ``pendingError(_:)``.
    ///
    /// The corresponding C function is `connect`.
    public static func connect(_ fd: Int32, to address: SocketAddress) throws(Errno) -> IOResult<Void> {
        while true {
            let rc = address.withSockAddr { Glibc.connect(fd, $0, $1) }
            if rc == 0 { return .done(()) }
            let err = Glibc.errno
            if err == EINTR { continue }
            if err == EINPROGRESS || err == EAGAIN { return .wouldBlock }
            throw Errno(rawValue: err)
        }
    }

    /// The socket's pending error (`SO_ERROR`), cleared by reading it; nil when there is none.
    public static func pendingError(_ fd: Int32) -> Errno? {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) == -1 { return Errno.current }
        return value == 0 ? nil : Errno(rawValue: value)
    }

    /// Whether `fd` is a stream socket (`SO_TYPE` is `SOCK_STREAM`).
    public static func isStream(_ fd: Int32) -> Bool {
        var type: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0 && type == Int32(SOCK_STREAM.rawValue)
    }

    /// Receives up to `buffer.count` bytes; `.done(0)` means the peer closed its side.
    ///
    /// The corresponding C function is `recv`.
    @inlinable
    public static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> IOResult<Int> {
        try nonBlockingCall("recv") { Glibc.recv(fd, buffer.baseAddress, buffer.count, 0) }
    }

    /// Sends up to `buffer.count` bytes, never raising `SIGPIPE` (`MSG_NOSIGNAL`).
    ///
    /// The corresponding C function is `send`.
    @inlinable
    public static func send(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) throws(Errno) -> IOResult<Int> {
        try nonBlockingCall("send") { Glibc.send(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Receives one datagram and its sender.
    ///
    /// The corresponding C function is `recvfrom`.
    public static func receiveFrom(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer)
        throws(Errno) -> IOResult<(count: Int, sender: SocketAddress?)> {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = try withUnsafeMutablePointer(to: &storage) { pointer throws(Errno) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address throws(Errno) in
                try nonBlockingCall("recvfrom") { Glibc.recvfrom(fd, buffer.baseAddress, buffer.count, 0, address, &length) }
            }
        }
        switch result {
        case .wouldBlock: return .wouldBlock
        case .done(let count): return .done((count, SocketAddress(storage: storage, length: length)))
        }
    }

    /// Sends one datagram to `address`.
    ///
    /// The corresponding C function is `sendto`.
    public static func send(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, to address: SocketAddress)
        throws(Errno) -> IOResult<Int> {
        try nonBlockingCall("sendto") {
            address.withSockAddr { Glibc.sendto(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL), $0, $1) }
        }
    }

    /// Shuts down the write side (half-close), the read side, or both.
    ///
    /// The corresponding C function is `shutdown`.
    public static func shutdown(_ fd: Int32, write: Bool, read: Bool) throws(Errno) {
        let how: Int32 = write && read ? Int32(SHUT_RDWR) : (write ? Int32(SHUT_WR) : Int32(SHUT_RD))
        try systemCall("shutdown") { Glibc.shutdown(fd, how) }
    }

    /// A boolean socket option.
    public enum Flag: Sendable {
        /// `SO_REUSEADDR`.
        case reuseAddress
        /// `SO_REUSEPORT`: several listeners share one port (one per loop).
        case reusePort
        /// `TCP_NODELAY`: no Nagle delay for small writes.
        case noDelay
        /// `IPV6_V6ONLY`.
        case ipv6Only

        var levelAndName: (Int32, Int32) {
            switch self {
            case .reuseAddress: (SOL_SOCKET, SO_REUSEADDR)
            case .reusePort: (SOL_SOCKET, SO_REUSEPORT)
            case .noDelay: (Int32(IPPROTO_TCP), TCP_NODELAY)
            case .ipv6Only: (Int32(IPPROTO_IPV6), IPV6_V6ONLY)
            }
        }
    }

    /// Sets a boolean socket option.
    ///
    /// The corresponding C function is `setsockopt`.
    public static func set(_ flag: Flag, _ value: Bool, on fd: Int32) throws(Errno) {
        var v: Int32 = value ? 1 : 0
        let (level, name) = flag.levelAndName
        try systemCall("setsockopt") { setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) }
    }

    /// The address the socket is bound to.
    ///
    /// The corresponding C function is `getsockname`.
    public static func localAddress(_ fd: Int32) throws(Errno) -> SocketAddress? {
        try name(fd, getsockname)
    }

    /// The address of the connected peer.
    ///
    /// The corresponding C function is `getpeername`.
    public static func peerAddress(_ fd: Int32) throws(Errno) -> SocketAddress? {
        try name(fd, getpeername)
    }

    private static func name(
        _ fd: Int32,
        _ call: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32
    ) throws(Errno) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(fd, $0, &length) }
        }
        if rc == -1 { throw Errno.current }
        return SocketAddress(storage: storage, length: length)
    }

    /// Removes a file (a stale Unix socket path); a missing file is not an error.
    ///
    /// The corresponding C function is `unlink`.
    public static func unlinkIfPresent(_ path: String) throws(Errno) {
        if Glibc.unlink(path) == -1 && Glibc.errno != ENOENT { throw Errno.current }
    }
}

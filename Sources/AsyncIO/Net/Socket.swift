import AsyncIOSystem
import Logging

private let serverLogger = Logger(label: "AsyncIO.Server")

/// A non-blocking socket registered with an ``EventLoop``: the handle of the loop's low-level socket
/// calls (``EventLoop/accept(_:)``, ``EventLoop/receive(_:into:)``, ``EventLoop/sendAll(_:_:)-(_,[UInt8])``,
/// ``EventLoop/connect(_:to:)``), and what streams are built on.
///
/// Closing is idempotent. A socket still open when its last reference goes away is closed then.
///
/// ### Thread safety
/// Loop-confined: use it from tasks running on its loop.
public final class Socket: @unchecked Sendable, CustomStringConvertible {
    /// A socket proper, or one end of a pipe (a child process's stdin, stdout or stderr), which streams
    /// use the same way.
    public enum Kind: Sendable { case socket, pipe }

    /// The socket's registration with its loop.
    public let registration: IORegistration
    /// Socket or pipe.
    public let kind: Kind
    /// The loop that polls it (its registration's), held here too: a stored constant is read without
    /// a reference count, where the registration's, read through it, cost a retain and a release on
    /// every receive.
    public let loop: EventLoop

    init(registration: IORegistration, kind: Kind = .socket) {
        self.registration = registration
        self.kind = kind
        loop = registration.loop
    }

    /// One non-blocking receive: `recv` on a socket, `read` on a pipe.
    @inline(__always)
    func receiveNow(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> IOResult<Int> {
        kind == .socket ? try SocketOps.receive(fd, into: buffer) : try FileDescriptorOps.read(fd, into: buffer)
    }

    /// One non-blocking send: `send(MSG_NOSIGNAL)` on a socket, `write` on a pipe.
    @inline(__always)
    func sendNow(_ bytes: UnsafeRawBufferPointer) throws(Errno) -> IOResult<Int> {
        kind == .socket ? try SocketOps.send(fd, bytes) : try FileDescriptorOps.write(fd, bytes)
    }

    deinit {
        let registration = registration
        if !registration.isClosed {
            if registration.loop.inEventLoop { registration.close() } else { registration.loop.execute { registration.close() } }
        }
    }

    /// The descriptor.
    public var fd: Int32 { registration.fd }
    /// The loop that polls it.
    /// Whether ``close()`` has run.
    public var isClosed: Bool { registration.isClosed }

    /// Whether the socket receives through the io_uring ring now (``EventLoop/Backend/ioURing``).
    package var receivesOnRing: Bool { registration.receiver != nil }

    /// Whether the socket's sends go through the io_uring ring now.
    package var sendsOnRing: Bool { registration.sender != nil }

    /// For a listener accepting through the ring: the connections accepted and not yet taken.
    package var ringAcceptedCount: Int? { registration.acceptor?.heldCount }

    /// The address the socket is bound to.
    public var localAddress: SocketAddress? { isClosed ? nil : (try? SocketOps.localAddress(fd)) ?? nil }
    /// The connected peer's address.
    public var peerAddress: SocketAddress? { isClosed ? nil : (try? SocketOps.peerAddress(fd)) ?? nil }

    /// Closes the socket; tasks waiting on it fail with ``StreamError`` `.closed`. Closing twice is harmless.
    public func close() {
        guard loop.inEventLoop else { loop.execute { self.close() }; return }
        registration.close()
    }

    /// Shuts down the write side: the peer reads end of stream (half-close).
    ///
    /// - Throws: ``StreamError`` `.closed` if the socket is closed, `.broken` if the connection is gone.
    public func shutdownWrite() throws {
        if isClosed { throw StreamError(.closed, operation: "shutdown") }
        if kind == .pipe {
            close()  // a pipe's write end has no half-close: closing it is the end of stream
            return
        }
        if let sender = registration.sender, sender.isSending {
            sender.shutdownRequested = true  // after the send in the ring, which would otherwise follow the FIN
            return
        }
        do { try SocketOps.shutdown(fd, write: true, read: false) } catch {
            throw StreamError.from(error, operation: "shutdown")
        }
    }

    /// Sets `TCP_NODELAY` (on by default for TCP sockets from this library, as in asyncio).
    public func setNoDelay(_ on: Bool) throws {
        do { try SocketOps.set(.noDelay, on, on: fd) } catch { throw StreamError.from(error, operation: "setsockopt") }
    }

    public var description: String {
        "Socket(fd: \(fd), local: \(localAddress.map(String.init(describing:)) ?? "-"), peer: \(peerAddress.map(String.init(describing:)) ?? "-"))"
    }
}

extension EventLoop {
    /// Creates a non-blocking socket registered with this loop.
    ///
    /// - Throws: ``StreamError`` `.system` (for example `EMFILE` when out of descriptors).
    public func makeSocket(family: Int32, kind: SocketOps.Kind) throws -> Socket {
        let fd: Int32
        do { fd = try SocketOps.socket(family: family, kind: kind) } catch {
            throw StreamError.from(error, operation: "socket")
        }
        return try adopt(fd)
    }

    /// Registers an open non-blocking socket (or pipe) descriptor and takes ownership of it (closing it
    /// on failure).
    public func adopt(_ fd: Int32, kind: Socket.Kind = .socket) throws -> Socket {
        try adopt(fd, kind: kind, accepted: false)
    }

    /// Whether `listener` is a stream socket, whose connections are too (asked once: a listener adopted
    /// from elsewhere may be `SOCK_SEQPACKET`, whose messages a receive into the ring's pool would cut).
    private static func isStreamListener(_ listener: Socket) -> Bool {
        let registration = listener.registration
        if registration.isStreamSocket == nil { registration.isStreamSocket = SocketOps.isStream(listener.fd) }
        return registration.isStreamSocket == true
    }

    /// ``adopt(_:kind:)``; `accepted`: `fd` came from a stream listener's accept.
    private func adopt(_ fd: Int32, kind: Socket.Kind, accepted: Bool) throws -> Socket {
        do {
            return Socket(registration: try register(fd, acceptedStream: accepted), kind: kind)
        } catch {
            try? FileDescriptorOps.close(fd)
            throw error
        }
    }

    /// Binds a listening stream socket to `address` (`SO_REUSEADDR` on; a stale Unix socket file is
    /// replaced).
    ///
    /// - Parameters:
    ///   - address: Where to listen; port 0 picks a free port (see ``Socket/localAddress``).
    ///   - backlog: The kernel's queue of connections not yet accepted.
    ///   - reusePort: `SO_REUSEPORT`, so one listener per loop can share the port.
    /// - Throws: ``StreamError`` `.addressInUse` if the address is taken, `.system` otherwise; the message
    ///   names the address.
    public func listen(on address: SocketAddress, backlog: Int32 = 511, reusePort: Bool = false) throws -> Socket {
        let socket = try makeSocket(family: address.family, kind: .stream)
        do {
            if case .unix(let path) = address {
                try SocketOps.unlinkIfPresent(path)
            } else {
                try SocketOps.set(.reuseAddress, true, on: socket.fd)
                if reusePort { try SocketOps.set(.reusePort, true, on: socket.fd) }
            }
            try SocketOps.bind(socket.fd, to: address)
            try SocketOps.listen(socket.fd, backlog: backlog)
        } catch {
            socket.close()
            throw StreamError.from(error, operation: "listen on \(address)")
        }
        return socket
    }

    /// Accepts a connection on a listening socket, suspending until one arrives (asyncio's `sock_accept`).
    ///
    /// TCP connections get `TCP_NODELAY`.
    ///
    /// - Throws: ``StreamError`` `.closed` if the listener is closed; `.system` for `EMFILE`/`ENFILE`
    ///   (out of descriptors: back off and retry; ``startServer(host:port:backlog:reusePort:handler:)`` does).
    ///
    /// ### Cancellation
    /// Safe: no connection is taken from the queue unless the call returns it.
    ///
    /// On the io_uring backend, a multishot accept in the ring takes connections as they arrive
    /// (``RingAcceptor``), and this takes them from there.
    public func accept(_ listener: Socket) async throws -> Socket {
        if poller.uring != nil, let socket = try await acceptFromRing(listener) { return socket }
        let accepted = try await listener.perform(.read, operation: "accept") {
            while true {
                do { return try SocketOps.accept(listener.fd) } catch let error as Errno {
                    // A connection that failed between the handshake and accept (accept(2): "treat them
                    // like EAGAIN by retrying"): the next one in the queue is fine.
                    if !Self.acceptRetryErrors.contains(error) { throw error }
                }
            }
        }
        let socket = try adopt(accepted.fd, kind: .socket, accepted: Self.isStreamListener(listener))
        if case .unix = accepted.peer {} else { try? SocketOps.set(.noDelay, true, on: socket.fd) }
        return socket
    }

    /// The ring's path of ``accept(_:)``; nil if the listener could not start accepting in the ring
    /// (the readiness path takes over).
    private func acceptFromRing(_ listener: Socket) async throws -> Socket? {
        let registration = listener.registration
        while true {
            if listener.isClosed { throw StreamError(.closed, operation: "accept") }
            if registration.acceptor == nil {
                try checkInLoop("Socket", "accept")
                let isUnix = listener.localAddress.map { if case .unix = $0 { true } else { false } } ?? false
                guard poller.startAccepting(registration, isUnix: isUnix) else { return nil }
            }
            guard let acceptor = registration.acceptor else { return nil }
            let fd: Int32?
            do { fd = try acceptor.take() } catch { throw StreamError.from(error, operation: "accept") }
            if let fd {
                let socket = try adopt(fd, kind: .socket, accepted: Self.isStreamListener(listener))
                if !acceptor.isUnix { try? SocketOps.set(.noDelay, true, on: socket.fd) }
                await cooperateOnLoop()
                return socket
            }
            if !acceptor.isArmed { poller.resumeAccepting(registration) }
            registration.clearReadable()
            try await waitReadable(listener, operation: "accept")
        }
    }

    /// ECONNABORTED, EPROTO, ENOPROTOOPT, EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP, ENETDOWN,
    /// ENETUNREACH: errors of one pending connection, not of the listener.
    static let acceptRetryErrors: Set<Errno> = [
        .connectionAborted, .protocolError, .protocolNotAvailable, .hostDown, .machineNotOnNetwork,
        .hostUnreachable, .notSupported, .networkDown, .networkUnreachable,
    ]

    /// The next connection for a server's accept loop, or nil once the listener is closed. Running out
    /// of descriptors (`EMFILE`, `ENFILE`) neither spins nor ends the server: it logs, waits 100 ms and
    /// tries again, so the server recovers when descriptors come free.
    ///
    /// ### Cancellation
    /// Safe: no connection is taken from the queue unless the call returns it.
    public func nextConnection(on listener: Socket) async throws -> Socket? {
        while true {
            do {
                return try await accept(listener)
            } catch let error as StreamError where error.code == .system {
                serverLogger.warning("accept failed; retrying in 100 ms", metadata: ["error": "\(error)"])
                try await sleep(for: .milliseconds(100))
            } catch let error as StreamError where error.code == .closed {
                return nil
            } catch let error as EventLoopError where error.code == .closed {
                return nil
            }
        }
    }

    /// Connects `socket` to `address`, suspending until the connection is established
    /// (asyncio's `sock_connect`).
    ///
    /// - Throws: ``StreamError`` `.refused` when nobody listens there, `.system` otherwise; the message
    ///   names the address.
    ///
    /// ### Cancellation
    /// The socket is left half-connected: close it.
    public func connect(_ socket: Socket, to address: SocketAddress) async throws {
        let operation = "connect to \(address)"
        let started: IOResult<Void>
        do { started = try SocketOps.connect(socket.fd, to: address) } catch {
            throw StreamError.from(error, operation: operation)
        }
        if case .wouldBlock = started {
            socket.registration.clearWritable()
            try await waitWritable(socket, operation: operation)
            if let error = SocketOps.pendingError(socket.fd) { throw StreamError.from(error, operation: operation) }
        }
        if case .unix = address {} else { try? SocketOps.set(.noDelay, true, on: socket.fd) }
    }

    /// Creates a stream socket and connects it to `address`.
    ///
    /// - Throws: as ``connect(_:to:)``; the socket is closed on failure.
    ///
    /// ### Cancellation
    /// The connection attempt stops and the socket is closed.
    public func connect(to address: SocketAddress) async throws -> Socket {
        let socket = try makeSocket(family: address.family, kind: .stream)
        do {
            try await connect(socket, to: address)
            return socket
        } catch {
            socket.close()
            throw error
        }
    }

    /// Receives up to `buffer.count` bytes, suspending until some arrive (asyncio's `sock_recv_into`).
    ///
    /// - Returns: The number of bytes received; 0 at end of stream.
    /// - Throws: ``StreamError`` `.broken` on a reset, `.closed` if the socket is closed.
    ///
    /// ### Cancellation
    /// Safe: no bytes are consumed unless the call returns them.
    public func receive(_ socket: Socket, into buffer: UnsafeMutableRawBufferPointer) async throws -> Int {
        do { try checkInLoop("Socket", "receive") } catch { throw StreamError.from(error, operation: "receive") }
        // The stream path: on the io_uring backend the bytes may be waiting in the ring's buffers.
        return try await socket.receiveOnLoop(into: buffer)
    }

    /// Receives up to `maxCount` bytes (asyncio's `sock_recv`); an empty array at end of stream.
    ///
    /// ### Cancellation
    /// Safe: no bytes are consumed unless the call returns them.
    public func receive(_ socket: Socket, upTo maxCount: Int) async throws -> [UInt8] {
        precondition(maxCount > 0, "receive(upTo:) needs a positive count")
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: maxCount, alignment: 1)
        defer { scratch.deallocate() }
        let count = try await receive(socket, into: scratch)
        return [UInt8](UnsafeRawBufferPointer(rebasing: scratch[..<count]))
    }

    /// Sends every byte, suspending while the socket buffer is full (asyncio's `sock_sendall`).
    ///
    /// - Throws: ``StreamError`` `.broken` if the peer is gone, `.closed` if the socket is closed.
    ///
    /// ### Cancellation
    /// Unsafe for the byte stream: an unknown prefix may have been sent. Close the socket.
    public func sendAll(_ socket: Socket, _ bytes: UnsafeRawBufferPointer) async throws {
        try await sendAll(socket, count: bytes.count) { offset in
            try socket.trySend(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
        }
    }

    /// Sends every byte of `bytes` (asyncio's `sock_sendall`).
    ///
    /// ### Cancellation
    /// Unsafe for the byte stream: an unknown prefix may have been sent. Close the socket.
    public func sendAll(_ socket: Socket, _ bytes: [UInt8]) async throws {
        try await sendAll(socket, count: bytes.count) { offset in
            try bytes.withUnsafeBytes { raw in try socket.trySend(UnsafeRawBufferPointer(rebasing: raw[offset...])) }
        }
    }

    /// The send loop: `send(offset)` tries to send from `offset` (the stream path: on the io_uring
    /// backend the send may go through the ring).
    private func sendAll(_ socket: Socket, count: Int, send: (Int) throws -> IOResult<Int>) async throws {
        do { try checkInLoop("Socket", "send") } catch { throw StreamError.from(error, operation: "send") }
        var offset = 0
        while offset < count {
            switch try send(offset) {
            case .done(let sent):
                offset += sent
                await cooperateOnLoop()
            case .wouldBlock:
                try await socket.waitUntilSendable()
            }
        }
    }
}

import AsyncIOSystem

/// A UDP socket on an ``EventLoop`` (asyncio's datagram endpoint, as calls instead of a protocol).
///
/// ```swift
/// let socket = try DatagramSocket.bind(host: "127.0.0.1", port: 0)
/// for try await datagram in socket.datagrams {
///     try await socket.send(datagram.bytes, to: datagram.sender)
/// }
/// ```
///
/// ### Thread safety
/// Loop-confined: use it from tasks running on its loop.
public final class DatagramSocket: @unchecked Sendable {
    /// The underlying socket.
    public let socket: Socket
    /// The largest datagram ``receive()`` returns whole (longer ones are cut, as by the kernel).
    public let maxDatagramSize: Int

    init(socket: Socket, maxDatagramSize: Int) {
        self.socket = socket
        self.maxDatagramSize = maxDatagramSize
    }

    /// One received datagram.
    public struct Datagram: Sendable {
        /// Its payload.
        public let bytes: [UInt8]
        /// Who sent it.
        public let sender: SocketAddress
    }

    /// Binds a UDP socket on the current loop to a numeric address (`0.0.0.0`, `::`, `127.0.0.1`, ...).
    ///
    /// - Throws: ``StreamError`` `.addressInUse` or `.system`, naming the address.
    public static func bind(host: String, port: UInt16, maxDatagramSize: Int = 65_535) throws -> DatagramSocket {
        let loop = try EventLoop.requireCurrent("DatagramSocket.bind")
        let address: SocketAddress
        do { address = try SocketAddress(ip: host == "localhost" ? "127.0.0.1" : host, port: port) } catch {
            throw StreamError(.resolution, operation: "bind udp \(host):\(port)", detail: error.message)
        }
        let socket = try loop.makeSocket(family: address.family, kind: .datagram)
        do { try SocketOps.bind(socket.fd, to: address) } catch {
            socket.close()
            throw StreamError.from(error, operation: "bind udp \(address)")
        }
        return DatagramSocket(socket: socket, maxDatagramSize: maxDatagramSize)
    }

    /// The bound address (with the real port when 0 was asked for).
    public var localAddress: SocketAddress? { socket.localAddress }

    /// Sends one datagram to `address`, waiting if the socket buffer is full.
    ///
    /// - Throws: ``StreamError`` (for example `EMSGSIZE` as `.system` for an oversized datagram).
    ///
    /// ### Cancellation
    /// Safe: the datagram is sent whole or not at all.
    public func send(_ bytes: [UInt8], to address: SocketAddress) async throws {
        _ = try await socket.perform(.write, operation: "send udp to \(address)") {
            try bytes.withUnsafeBytes { raw in try SocketOps.send(socket.fd, raw, to: address) }
        }
    }

    /// Receives one datagram, waiting until one arrives.
    ///
    /// ### Cancellation
    /// Safe: no datagram is consumed unless returned.
    public func receive() async throws -> Datagram {
        var bytes = [UInt8](repeating: 0, count: maxDatagramSize)
        let received = try await socket.perform(.read, operation: "receive udp") {
            try bytes.withUnsafeMutableBytes { raw in try SocketOps.receiveFrom(socket.fd, into: raw) }
        }
        bytes.removeLast(bytes.count - received.count)
        return Datagram(bytes: bytes, sender: received.sender ?? .unix(path: ""))
    }

    /// The datagrams as they arrive, until the socket is closed.
    public var datagrams: Datagrams { Datagrams(socket: self) }

    /// An `AsyncSequence` of received datagrams; it ends when the socket is closed.
    public struct Datagrams: AsyncSequence, Sendable {
        public typealias Element = Datagram
        let socket: DatagramSocket
        /// Receives the datagrams one by one.
        public struct AsyncIterator: AsyncIteratorProtocol {
            let socket: DatagramSocket
            /// The next datagram, or nil once the socket is closed.
            ///
            /// ### Cancellation
            /// Safe: no datagram is taken unless it is returned.
            public mutating func next() async throws -> Datagram? {
                do { return try await socket.receive() } catch let error as StreamError where error.code == .closed {
                    return nil
                }
            }
        }
        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(socket: socket) }
    }

    /// Closes the socket. Idempotent.
    public func close() { socket.close() }
}

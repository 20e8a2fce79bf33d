import AsyncIOSystem
import Logging

private let serverLogger = Logger(label: "AsyncIO.Server")

/// A listening stream server: each connection is handled in a child task of the server's task
/// (asyncio's `Server` from `start_server`).
///
/// ```swift
/// let server = try await startServer(host: "127.0.0.1", port: 8888) { reader, writer in
///     for try await chunk in reader.chunks { try await writer.write(chunk) }
/// }
/// print("listening on \(server.localAddress)")
/// try await server.serveForever()
/// ```
///
/// ### Thread safety
/// Loop-confined, except that the server's task can be awaited from anywhere.
public final class StreamServer: @unchecked Sendable {
    /// The address the server listens on (with the real port when 0 was asked for).
    public let localAddress: SocketAddress
    let listener: Socket
    private var task: Task<Void, any Error>?

    init(listener: Socket, localAddress: SocketAddress) {
        self.listener = listener
        self.localAddress = localAddress
    }

    /// Whether the server still accepts connections.
    public var isServing: Bool { !listener.isClosed }

    func start(
        name: String,
        wrapping wrap: (@Sendable (Socket) async throws -> any ByteStream)? = nil,
        handler: @escaping @Sendable (StreamReader, StreamWriter) async throws -> Void
    ) {
        let loop = listener.loop
        task = loop.spawn(name: name) { [self] in
            try await withThrowingDiscardingTaskGroup { group in
                while let socket = try await loop.nextConnection(on: listener) {
                    group.addImmediateTask(executorPreference: loop) {
                        guard loop.isDebug || loop.isInspecting else {
                            // No wrapper frame in the common case: an idle connection's suspended
                            // frames are most of what it costs.
                            return await Self.serve(socket, server: name, wrapping: wrap, handler: handler)
                        }
                        await loop.withDebugName("\(name) connection \(socket.peerAddress.map(String.init(describing:)) ?? "?")") {
                            await Self.serve(socket, server: name, wrapping: wrap, handler: handler)
                        }
                    }
                }
            }
        }
    }

    /// One connection: set it up (`wrap`, such as a TLS handshake), run `handler`, close or abort.
    ///
    /// Its frame stays allocated for as long as the connection lives, idle or not, so everything that
    /// is not needed across the handler's suspensions (the set-up, the error report) is in functions
    /// of its own.
    @inline(never)
    private static func serve(
        _ socket: Socket,
        server name: String,
        wrapping wrap: (@Sendable (Socket) async throws -> any ByteStream)?,
        handler: @Sendable (StreamReader, StreamWriter) async throws -> Void
    ) async {
        let stream: any ByteStream
        if let wrap {
            guard let wrapped = await setUp(socket, wrap) else { return }
            stream = wrapped
        } else {
            stream = socket
        }
        let writer = StreamWriter(stream: stream)
        do {
            try await handler(StreamReader(stream: stream), writer)
            await writer.close()
        } catch {
            writer.abort()
            report(error, on: socket.loop, server: name)
        }
    }

    /// A connection's set-up (a TLS handshake); nil, with the socket closed, if it fails: the server
    /// carries on.
    @inline(never)
    private static func setUp(
        _ socket: Socket,
        _ wrap: @Sendable (Socket) async throws -> any ByteStream
    ) async -> (any ByteStream)? {
        do { return try await wrap(socket) } catch {
            socket.close()
            serverLogger.debug("connection set-up failed", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// A handler's error goes to the loop's exception handler (cancellation is not an error).
    @inline(never)
    private static func report(_ error: any Error, on loop: EventLoop, server name: String) {
        if error is CancellationError { return }
        loop.callExceptionHandler(LoopException(message: "connection handler failed", error: error, taskName: name))
    }

    /// Waits until the server is closed and every connection has finished (asyncio's
    /// `serve_forever` followed by `wait_closed`).
    ///
    /// ### Cancellation
    /// Cancelling the caller does not stop the server; use ``close()`` and ``closeClients()``.
    public func serveForever() async throws {
        try await task?.value
    }

    /// Stops accepting connections; those already open carry on (asyncio's `close`). Idempotent.
    public func close() {
        listener.close()
        if case .unix(let path) = localAddress { try? SocketOps.unlinkIfPresent(path) }
    }

    /// Stops accepting and cancels every connection's task (asyncio 3.13's `close_clients`).
    public func closeClients() {
        close()
        task?.cancel()
    }

    /// Waits for every connection to finish after ``close()`` (asyncio's `wait_closed`).
    ///
    /// ### Cancellation
    /// Only the wait stops.
    public func waitClosed() async {
        _ = try? await task?.value
    }
}

/// Starts a TCP server on `host:port` that calls `handler` with a reader and a writer for each
/// connection, in a child task of its own (asyncio's `start_server`).
///
/// The writer is closed (flushed) when `handler` returns, and aborted when it throws. Connections get
/// `TCP_NODELAY`.
///
/// - Parameters:
///   - host: A numeric address or a name; `0.0.0.0` or `::` for every interface.
///   - port: The port; 0 picks a free one (see ``StreamServer/localAddress``).
///   - backlog: The kernel's queue of connections not yet accepted.
///   - reusePort: `SO_REUSEPORT`, to run one server per loop on the same port.
///   - handler: Called with each connection's reader and writer, in a child task of its own.
/// - Throws: ``StreamError`` `.addressInUse` naming the address, `.resolution` naming the host.
///
/// ### Cancellation
/// Cancelling the caller while it resolves the host stops the start; the server itself runs in a task
/// of its own.
public func startServer(
    host: String,
    port: UInt16,
    backlog: Int32 = 511,
    reusePort: Bool = false,
    handler: @escaping @Sendable (StreamReader, StreamWriter) async throws -> Void
) async throws -> StreamServer {
    try await startTCPServer(host: host, port: port, backlog: backlog, reusePort: reusePort, wrapping: nil, handler: handler)
}

/// Starts a TCP server whose connections are first wrapped by `wrap` (a TLS handshake, a protocol
/// preface) in their own task, then handed to `handler` as a reader and a writer over the wrapped
/// stream. A connection whose `wrap` throws is closed and the server carries on.
///
/// - Throws: ``StreamError`` `.addressInUse` naming the address, `.resolution` naming the host.
///
/// ### Cancellation
/// As ``startServer(host:port:backlog:reusePort:handler:)``.
public func startServer(
    host: String,
    port: UInt16,
    backlog: Int32 = 511,
    reusePort: Bool = false,
    wrapping wrap: @escaping @Sendable (Socket) async throws -> any ByteStream,
    handler: @escaping @Sendable (StreamReader, StreamWriter) async throws -> Void
) async throws -> StreamServer {
    try await startTCPServer(host: host, port: port, backlog: backlog, reusePort: reusePort, wrapping: wrap, handler: handler)
}

private func startTCPServer(
    host: String,
    port: UInt16,
    backlog: Int32,
    reusePort: Bool,
    wrapping wrap: (@Sendable (Socket) async throws -> any ByteStream)?,
    handler: @escaping @Sendable (StreamReader, StreamWriter) async throws -> Void
) async throws -> StreamServer {
    let loop = try EventLoop.requireCurrent("startServer")
    let address = try await Resolution.resolve(host: host, port: port)[0]
    let listener = try loop.listen(on: address, backlog: backlog, reusePort: reusePort)
    let server = StreamServer(listener: listener, localAddress: listener.localAddress ?? address)
    server.start(name: "server \(server.localAddress)", wrapping: wrap, handler: handler)
    return server
}

/// Starts a Unix-domain stream server at `path` (asyncio's `start_unix_server`); a stale socket file
/// there is replaced, and removed again by ``StreamServer/close()``.
///
/// - Throws: ``StreamError`` naming the path.
public func startUnixServer(
    path: String,
    backlog: Int32 = 511,
    handler: @escaping @Sendable (StreamReader, StreamWriter) async throws -> Void
) throws -> StreamServer {
    let loop = try EventLoop.requireCurrent("startUnixServer")
    let address: SocketAddress
    do { address = try SocketAddress(unixPath: path) } catch {
        throw StreamError(.system, operation: "listen on unix:\(path)", detail: error.message)
    }
    let listener = try loop.listen(on: address, backlog: backlog)
    let server = StreamServer(listener: listener, localAddress: address)
    server.start(name: "server \(address)", handler: handler)
    return server
}

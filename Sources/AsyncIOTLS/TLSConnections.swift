import AsyncIO
import AsyncIOSystem

extension TLSContext {
    private static let sharedClients = LockedState<[[String]: TLSContext]>([:])

    /// The process's default client context for `applicationProtocols` (ALPN, none by default): the
    /// system's trusted roots, full verification, TLS 1.2 and 1.3, session resumption. Made on first use
    /// and shared (loading the trust store is the expensive part).
    ///
    /// - Throws: ``TLSError`` `.configuration` if the system's trust store cannot be loaded.
    public static func defaultClient(applicationProtocols: [String] = []) throws -> TLSContext {
        try sharedClients.withLock { shared in
            if let context = shared[applicationProtocols] { return context }
            var configuration = TLSConfiguration.client()
            configuration.applicationProtocols = applicationProtocols
            let made = try TLSContext(configuration)
            shared[applicationProtocols] = made
            return made
        }
    }
}

/// Connects to `host:port` over TCP, runs a TLS client handshake, and returns a buffered reader and
/// writer over the TLS stream (asyncio's `open_connection(..., ssl=context)`).
///
/// SNI and the certificate check use `serverName` (default: `host`), which may be a DNS name or an IP
/// address. The writer's ``StreamWriter/close()`` sends `close_notify`.
///
/// - Parameters:
///   - tls: The client context (default: ``TLSContext/defaultClient()``).
/// - Throws: ``StreamError`` for the connection (`.refused`, `.resolution`), ``TLSError`` for the
///   handshake (`.unknownIssuer`, `.hostnameMismatch`, `.certificateExpired`, `.handshakeTimedOut`, ...).
///
/// ### Cancellation
/// The connection attempt or handshake stops and the socket is closed.
public func openConnection(
    host: String,
    port: UInt16,
    tls: TLSContext? = nil,
    serverName: String? = nil,
    limit: Int = 64 * 1024
) async throws -> (reader: StreamReader, writer: StreamWriter) {
    let loop = try EventLoop.requireCurrent("openConnection")
    let context = try tls ?? TLSContext.defaultClient()
    let socket = try await loop.connect(host: host, port: port)
    let stream = try await TLSStream.connect(over: socket, context: context, serverName: serverName ?? host, port: port)
    return (StreamReader(stream: stream, limit: limit), StreamWriter(stream: stream))
}

/// Starts a TLS server on `host:port` (asyncio's `start_server(..., ssl=context)`): each connection's
/// handshake runs in its own task within the context's handshake timeout, then `handler` gets a reader
/// and writer over the TLS stream. A connection that fails its handshake (a stall, a reset, plain text,
/// an old protocol version) is closed and never disturbs the others.
///
/// - Throws: ``StreamError`` `.addressInUse` naming the address, `.resolution` naming the host.
///
/// ### Cancellation
/// Cancelling the caller while it resolves the host stops the start; the server runs in a task of its
/// own.
public func startServer(
    host: String,
    port: UInt16,
    tls: TLSContext,
    backlog: Int32 = 511,
    reusePort: Bool = false,
    handler: @escaping @Sendable (StreamReader, StreamWriter) async throws -> Void
) async throws -> StreamServer {
    precondition(tls.configuration.role == .server, "startServer(tls:) needs a server context")
    return try await startServer(
        host: host, port: port, backlog: backlog, reusePort: reusePort,
        wrapping: { socket in try await TLSStream.accept(over: socket, context: tls) },
        handler: handler
    )
}

/// Upgrades an open connection to TLS (asyncio's `start_tls`, for STARTTLS protocols and proxy
/// tunnels): flushes `writer`, runs the handshake over the same stream (as a client or a server, by the
/// context's role) and returns a new reader and writer over TLS. The old reader and writer must not be
/// used afterwards.
///
/// - Parameters:
///   - serverName: For a client: the name or address for SNI and the certificate check.
/// - Throws: ``StreamError`` `.busy` if `reader` holds bytes already received (they would belong to the
///   TLS stream); ``TLSError`` for the handshake. The connection is closed on failure.
///
/// ### Cancellation
/// The handshake stops and the connection is closed.
public func startTLS(
    reader: StreamReader,
    writer: StreamWriter,
    tls: TLSContext,
    serverName: String? = nil
) async throws -> (reader: StreamReader, writer: StreamWriter) {
    guard let inner = reader.stream, inner === writer.stream else {
        preconditionFailure("startTLS needs a reader and a writer over the same stream")
    }
    guard reader.bufferedCount == 0 else {
        writer.abort()
        throw StreamError(.busy, operation: "startTLS", detail: "\(reader.bufferedCount) bytes arrived before the TLS handshake")
    }
    do { try await writer.flush() } catch {
        writer.abort()
        throw error
    }
    let stream: TLSStream = switch tls.configuration.role {
    case .client: try await TLSStream.connect(over: inner, context: tls, serverName: serverName)
    case .server: try await TLSStream.accept(over: inner, context: tls)
    }
    return (StreamReader(stream: stream, limit: reader.limit), StreamWriter(stream: stream, highWatermark: writer.highWatermark, lowWatermark: writer.lowWatermark))
}

import AsyncIO
import AsyncIOSystem
import AsyncIOTLS
import CoreMetrics
import HTTPTypes
import Logging
import ServiceLifecycle
import Tracing

/// An HTTP/1.1 server: an accept loop on one event loop, one child task per connection, and a
/// handler called for each request (aiohttp's `web.Application` runner).
///
/// ```swift
/// var router = HTTPRouter()
/// router.get("/hello/:name") { request in .text("Hello, \(request.parameter("name")!)!\n") }
/// let server = try await HTTPServer.start(host: "127.0.0.1", port: 8080, handler: router.handler)
/// try await server.run()
/// ```
///
/// Each connection serves requests in order (pipelined requests are answered in order), keeps alive
/// by HTTP/1.1 and 1.0 rules, answers `Expect: 100-continue` when the handler first reads the body,
/// and streams request and response bodies with backpressure. Malformed requests get their 4xx/5xx
/// status and the connection is closed; a handler that throws gets a `500` and the connection carries
/// on. A client that does not send a complete head within the header timeout, or stays idle past
/// the idle timeout, is disconnected.
///
/// ### Thread safety
/// Loop-confined: call ``shutdown(gracePeriod:)`` from a task on the server's loop. ``run()`` may be
/// awaited from anywhere.
public final class HTTPServer: Service, @unchecked Sendable {
    /// A request handler: one call per request, on the server's loop.
    public typealias Handler = @Sendable (HTTPServerRequest) async throws -> HTTPServerResponse
    /// A request handler that does not suspend (``HTTPRouter``'s `get(_:_:)` and the others take one):
    /// a server that consults its router itself calls it without an executor hop.
    public typealias SynchronousHandler = @Sendable (HTTPServerRequest) throws -> HTTPServerResponse

    /// The server's limits and timeouts.
    public struct Configuration: Sendable {
        /// Time allowed for a complete request head, from the connection's start or the head's first
        /// byte (slowloris protection). Default 10 s.
        public var headerTimeout: Duration = .seconds(10)
        /// Time a keep-alive connection may wait for its next request, or a body for its next bytes.
        /// Default 60 s.
        public var idleTimeout: Duration = .seconds(60)
        /// How long a response may go without the client taking any of its bytes (it reads nothing and
        /// its window and the kernel's buffers are full) before the connection is closed; a client that
        /// keeps reading, however slowly, is not cut. Nil for none. Default 30 s.
        public var writeTimeout: Duration? = .seconds(30)
        /// swift-metrics to record (connections, requests by status class, durations, bytes, TLS
        /// handshakes): see ``HTTPServerMetrics``. Nil (the default) records nothing, at no cost.
        public var metrics: HTTPServerMetrics?
        /// swift-distributed-tracing: a `.server` span per request, its context extracted from the
        /// request's fields (W3C `traceparent` with swift-otel's tracer) and current while the handler
        /// runs. Nil uses the bootstrapped tracer, read as the server starts; with none (the no-op
        /// tracer) no span is made.
        public var tracer: (any Tracer)?
        /// Without a tracer that records: how a trace context travels through the server, such as
        /// ``W3CTraceContextPropagation``: taken from each request's fields and current while its
        /// handler runs. Nil uses the bootstrapped instrument if it is not a tracer; with none, nothing
        /// is read.
        public var propagation: (any Instrument)?
        /// How long a graceful shutdown from a `ServiceGroup` lets requests in flight finish before
        /// their connections are closed (see ``HTTPServer/run()``). Default 10 s.
        public var shutdownGracePeriod: Duration = .seconds(10)
        /// The largest request body (413 beyond). Default 10 MiB.
        public var maxBodySize = 10 * 1024 * 1024
        /// The most open connections; the server stops accepting while at the limit. Default 10,000.
        public var maxConnections = 10_000
        /// The longest request line (414 beyond). Default 8 KiB.
        public var maxRequestLineLength = 8 * 1024
        /// The largest header section (431 beyond). Default 32 KiB.
        public var maxHeaderSectionSize = 32 * 1024
        /// The kernel's queue of connections not yet accepted.
        public var backlog: Int32 = 511
        /// `SO_REUSEPORT`, to run one server per loop on the same port.
        public var reusePort = false
        /// A limit shared by the servers of several loops (one per loop on the same port): each open
        /// connection holds one of its permits, so ``maxConnections`` applies per server and this one to
        /// them all. A server that accepts a connection while no permit is left holds it unserved (as
        /// the kernel's backlog would) and accepts nothing more until another server frees one. Nil: none.
        public var sharedConnectionLimit: Semaphore?
        /// Serve HTTPS with this server context (offer ALPN `http/1.1` in it). Each connection's handshake
        /// runs in its own task within the context's handshake timeout, which runs from the accept; the
        /// header timeout starts when the handshake ends. Default nil: plain HTTP.
        public var tls: TLSContext?

        /// The defaults.
        public init() {}
    }

    /// The address the server listens on (with the real port when 0 was asked for).
    public let localAddress: SocketAddress
    /// The configuration it was started with.
    public let configuration: Configuration
    let logger = Logger(label: "AsyncIO.HTTPServer")
    /// The router the connections consult themselves (``start(host:port:configuration:router:)``), or
    /// nil: they call the handler. Each connection keeps its own reference to it.
    let routes: HTTPRouter?
    let parserLimits: HTTPParser.Limits
    /// The swift-metrics objects, when ``Configuration-swift.struct/metrics`` asks for them.
    let metrics: HTTPServerMetricsRecorder?
    /// The tracer, if one records (see ``Configuration-swift.struct/tracer``).
    let tracer: (any Tracer)?
    /// The propagation without a tracer, if any (see ``Configuration-swift.struct/propagation``).
    let propagation: (any Instrument)?
    private let listener: Socket
    private var task: Task<Void, any Error>?
    private(set) var isShuttingDown = false
    private(set) var connections: [ObjectIdentifier: HTTPServerConnection] = [:]
    /// Returns the memory of a wave of connections to the system once most of them are gone.
    private var reclaimer = MemoryReclaimer()
    /// Connections still in their TLS handshake: counted against the limit, closed at shutdown.
    private var handshaking: [ObjectIdentifier: Socket] = [:]
    private var slotWaiter: UnsafeContinuation<Void, Never>?
    /// While the accept loop waits for a shared permit: its scope, which shutdown cancels.
    private var sharedLimitScope: CancelScope?
    /// The `Date` line, formatted once per second, which the connections write from.
    let dateLine = HTTPDateLine()

    private init(listener: Socket, localAddress: SocketAddress, configuration: Configuration, routes: HTTPRouter?) {
        self.routes = routes
        self.listener = listener
        self.localAddress = localAddress
        self.configuration = configuration
        parserLimits = HTTPParser.Limits(
            maxStartLineLength: configuration.maxRequestLineLength,
            maxHeaderSectionSize: configuration.maxHeaderSectionSize,
            maxBodySize: configuration.maxBodySize
        )
        metrics = configuration.metrics.map(HTTPServerMetricsRecorder.init)
        tracer = HTTPTracingSupport.tracer(configuration.tracer)
        propagation = HTTPTracingSupport.propagation(configuration.propagation, tracer: tracer)
    }

    /// Starts serving HTTP on `host:port` with `handler`, on the current loop.
    ///
    /// - Parameters:
    ///   - host: A numeric address or a name; `0.0.0.0` or `::` for every interface.
    ///   - port: The port; 0 picks a free one (see ``localAddress``).
    ///   - configuration: Limits and timeouts.
    ///   - handler: Called for each request, on the server's loop (``HTTPRouter/handler`` routes them).
    /// - Throws: `StreamError` `.addressInUse` naming the address, `.resolution` naming the host.
    ///
    /// ### Cancellation
    /// Cancelling the caller while it resolves the host stops the start; the server runs in a task of
    /// its own, stopped by ``shutdown(gracePeriod:)``.
    public static func start(
        host: String,
        port: UInt16,
        configuration: Configuration = Configuration(),
        handler: @escaping Handler
    ) async throws -> HTTPServer {
        try await start(host: host, port: port, configuration: configuration, routes: nil, handler: handler)
    }

    /// Starts serving HTTP on `host:port` with `router`, on the current loop: as
    /// ``start(host:port:configuration:handler:)`` with the router's ``HTTPRouter/handler``, but a router
    /// without middlewares is consulted by the connection itself, which then calls the route's handler:
    /// one closure call a request instead of two (each costs an executor hop).
    ///
    /// - Throws: As ``start(host:port:configuration:handler:)``.
    ///
    /// ### Cancellation
    /// As ``start(host:port:configuration:handler:)``.
    public static func start(
        host: String,
        port: UInt16,
        configuration: Configuration = Configuration(),
        router: HTTPRouter
    ) async throws -> HTTPServer {
        try await start(host: host, port: port, configuration: configuration,
                        routes: router.hasMiddlewares ? nil : router, handler: router.handler)
    }

    private static func start(
        host: String, port: UInt16, configuration: Configuration, routes: HTTPRouter?, handler: @escaping Handler
    ) async throws -> HTTPServer {
        let loop = try EventLoop.requireCurrent("HTTPServer.start")
        precondition(configuration.maxConnections > 0, "maxConnections must be positive")
        let address = try await resolveAddresses(host: host, port: port)[0]
        let listener = try loop.listen(on: address, backlog: configuration.backlog, reusePort: configuration.reusePort)
        let server = HTTPServer(listener: listener, localAddress: listener.localAddress ?? address,
                                configuration: configuration, routes: routes)
        server.start(handler: handler)
        return server
    }

    /// The number of open connections (TLS handshakes in progress included).
    public var connectionCount: Int { connections.count + handshaking.count }

    /// Whether the server speaks TLS.
    public var isSecure: Bool { configuration.tls != nil }

    /// Waits until the server has shut down and every connection has finished: the server as a
    /// swift-service-lifecycle `Service`. In a `ServiceGroup`, a graceful shutdown (SIGTERM, or
    /// `triggerGracefulShutdown()`) starts ``shutdown(gracePeriod:)`` with
    /// ``Configuration-swift.struct/shutdownGracePeriod``: no new connections, requests in flight finish.
    ///
    /// ### Cancellation
    /// Cancelling the caller shuts the server down at once: every connection is closed (asyncio's
    /// `serve_forever`, and what a `ServiceGroup` does when its graceful shutdown times out).
    public func run() async throws {
        guard let task else { return }
        let loop = listener.loop
        let grace = configuration.shutdownGracePeriod
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await task.value
            } onCancel: {
                loop.spawn { await self.shutdown(gracePeriod: .zero) }
            }
        } onGracefulShutdown: {
            loop.spawn { await self.shutdown(gracePeriod: grace) }
        }
    }

    /// Stops gracefully: stops accepting, closes idle connections, lets requests in flight finish (their
    /// connections close after the response), and after `gracePeriod` cancels whatever is left.
    /// Returns when every connection is closed. Calling it again only waits.
    ///
    /// ### Cancellation
    /// Cancelling the caller cancels the remaining connections at once.
    public func shutdown(gracePeriod: Duration = .seconds(10)) async {
        guard listener.loop.inEventLoop else {
            _ = try? await listener.loop.spawn { await self.shutdown(gracePeriod: gracePeriod) }.value
            return
        }
        if !isShuttingDown {
            isShuttingDown = true
            listener.close()
            sharedLimitScope?.reschedule(listener.loop.now)
            if let waiter = slotWaiter {
                slotWaiter = nil
                waiter.resume()
            }
            for connection in connections.values { connection.shutdownRequested() }
            for socket in handshaking.values { socket.close() }
        }
        guard let task else { return }
        // When the grace period is over, cancel the connections that are left.
        let logger = self.logger
        let timer = listener.loop.plainTimer(after: gracePeriod) { [weak self] in
            logger.warning("shutdown grace period over; closing \(self?.connections.count ?? 0) connection(s)")
            task.cancel()
        }
        await withTaskCancellationHandler {
            _ = try? await task.value
        } onCancel: {
            task.cancel()
        }
        timer.cancel()
    }

    private func start(handler: @escaping Handler) {
        let loop = listener.loop
        task = loop.spawn(name: "http server \(localAddress)") { [self] in
            try await withThrowingDiscardingTaskGroup { group in
                while !isShuttingDown {
                    if connectionCount >= configuration.maxConnections {
                        let noted = loop.beginWait(.primitive("a free connection slot (maxConnections)"))
                        await withInheritedContinuation { slotWaiter = $0 }
                        if noted { loop.endWait() }
                        continue
                    }
                    guard let socket = try await loop.nextConnection(on: listener) else { return }
                    if let shared = configuration.sharedConnectionLimit, !shared.tryAcquire() {
                        // Full across the loops: hold this connection unserved (as the backlog would)
                        // until another server frees a permit; this loop accepts nothing more meanwhile.
                        // Shutdown ends the wait by moving the scope's deadline to now.
                        let acquired: Void? = try await moveOnAt(nil) { scope in
                            sharedLimitScope = scope
                            defer { sharedLimitScope = nil }
                            try await shared.acquire()
                        }
                        if acquired == nil {
                            socket.close()
                            continue
                        }
                    }
                    if let tls = configuration.tls {
                        let socketID = ObjectIdentifier(socket)
                        handshaking[socketID] = socket
                        group.addImmediateTask(executorPreference: loop) { [self] in
                            guard loop.isInspecting else {
                                return await serveTLS(socket, socketID: socketID, context: tls, handler: handler)
                            }
                            await loop.withDebugName(Self.connectionName(socket)) {
                                await serveTLS(socket, socketID: socketID, context: tls, handler: handler)
                            }
                        }
                    } else {
                        let connection = HTTPServerConnection(stream: socket, server: self)
                        group.addImmediateTask(executorPreference: loop) { [self] in
                            guard loop.isInspecting else {
                                return await serve(connection, handler: handler)
                            }
                            await loop.withDebugName(Self.connectionName(socket)) { await serve(connection, handler: handler) }
                        }
                    }
                }
            }
        }
    }

    /// A TLS connection: the handshake, then the HTTP connection over it.
    @inline(never)
    private func serveTLS(_ socket: Socket, socketID: ObjectIdentifier, context tls: TLSContext, handler: Handler) async {
        let stream: TLSStream
        do {
            defer { handshaking[socketID] = nil }
            stream = try await TLSStream.accept(over: socket, context: tls)
            metrics?.handshakes.increment()
        } catch {
            metrics?.handshakeFailures.increment()
            logger.debug("TLS handshake failed", metadata: ["error": "\(error)"])
            slotFreed()
            return
        }
        if isShuttingDown {
            stream.close()
            slotFreed()
            return
        }
        await serve(HTTPServerConnection(stream: stream, server: self), handler: handler)
    }

    /// The inspector's name for a connection's task.
    private static func connectionName(_ socket: Socket) -> String {
        "connection \(socket.peerAddress.map(String.init(describing:)) ?? "?")"
    }

    /// Out of line: its frame and the connection task's closure stay alive for the connection's life,
    /// so neither carries the other's temporaries.
    @inline(never)
    private func serve(_ connection: HTTPServerConnection, handler: Handler) async {
        let id = ObjectIdentifier(connection)
        connections[id] = connection
        // Registered, it hears of a shutdown from `shutdown`; one begun already, it hears of now. A
        // connection then never asks the server (through its unowned reference: a retain and a
        // release) whether it shuts down, once a request.
        if isShuttingDown { connection.shutdownRequested() }
        reclaimer.opened(count: connections.count)
        if let metrics {
            metrics.accepted.increment()
            metrics.connections.set(connections.count)
        }
        await connection.run(handler: handler)
        if let upgrade = connection.takeUpgrade() { await upgrade(connection) }
        connections[id] = nil
        reclaimer.closed(count: connections.count)
        metrics?.connections.set(connections.count)
        slotFreed()
    }

    private func slotFreed() {
        try? configuration.sharedConnectionLimit?.release()
        if let waiter = slotWaiter {
            slotWaiter = nil
            waiter.resume()
        }
    }
}

import AsyncIO
import AsyncIOSystem
import AsyncIOTLS
import HTTPTypes
import ServiceContextModule
import Tracing

/// An HTTP/1.1 client with a keep-alive connection pool (aiohttp's `ClientSession`).
///
/// ```swift
/// let response = try await HTTPClient.shared.get("http://127.0.0.1:8080/get")
/// let body = try await response.body.collect()
/// ```
///
/// Connections are pooled per (scheme, host, port), at most ``Configuration/maxConnectionsPerHost``
/// each, and closed after sitting idle. Redirects are followed (301, 302, 303, 307, 308; up to
/// ``Configuration/maxRedirects``), across `http` and `https`. An idempotent request whose pooled
/// connection turns out to have been closed by the server is retried once on a new connection.
/// `https://` is verified against the system's trusted roots with host-name checks, sends SNI and
/// offers ALPN `http/1.1` (``Configuration/tls`` changes that).
///
/// ### Thread safety
/// A client belongs to the loop it was made on; use it from tasks on that loop. ``shared`` is one
/// client per loop, closed with the loop: no shutdown needed.
public final class HTTPClient: @unchecked Sendable {
    /// Connect, read and total timeouts. Per-request values beat the client's.
    public struct Timeouts: Sendable, Hashable {
        /// Time to establish a connection (DNS included). Default 10 s.
        public var connect: Duration
        /// Time any one read may wait for bytes. Default 30 s.
        public var read: Duration
        /// Time for the whole request, redirects and body included; nil for none (the default).
        public var total: Duration?

        /// Timeouts with the defaults, or those given.
        public init(connect: Duration = .seconds(10), read: Duration = .seconds(30), total: Duration? = nil) {
            self.connect = connect
            self.read = read
            self.total = total
        }
    }

    /// The client's settings.
    public struct Configuration: Sendable {
        /// Default timeouts.
        public var timeouts = Timeouts()
        /// The most connections to one host and port. Default 8.
        public var maxConnectionsPerHost = 8
        /// The most connections across every host (aiohttp's `limit`); at the limit the oldest idle
        /// connection of another host is closed, or the request waits. Default 100.
        public var maxConnections = 100
        /// How long an unused pooled connection stays open. Default 60 s.
        public var idleConnectionTimeout: Duration = .seconds(60)
        /// The most redirects followed for one request; 0 returns redirects as they are. Default 10.
        public var maxRedirects = 10
        /// The `User-Agent` sent unless a request has its own.
        public var userAgent = "AsyncIO-HTTPClient/0.1"
        /// Whether the client asks for compressed bodies (`Accept-Encoding: gzip, deflate, br`, unless a
        /// request has its own) and decodes them as they arrive (aiohttp's `auto_decompress`). A body
        /// in a coding the client does not know, corrupt or cut short fails with
        /// ``HTTPClientError/Code-swift.struct/badContentEncoding``. `collect(upTo:)` limits the decoded
        /// size, and no more than 64 KiB of decoded body is held at a time. Default `true`.
        public var decompressesResponses = true
        /// The URL that relative request URLs (`/users/7`, `users?page=2`) are resolved against
        /// (aiohttp's `base_url`). Nil: every request URL must be absolute.
        public var baseURL: String?
        /// Fields sent with every request; a request's own field of the same name replaces them.
        public var headerFields: HTTPFields = [:]
        /// Basic credentials sent with every request that has no `Authorization` of its own (and no
        /// `user:password@` in its URL). Like every `Authorization`, dropped on a redirect to another
        /// scheme, host or port.
        public var basicCredentials: HTTPBasicCredentials?
        /// Whether the client keeps the cookies servers set and sends them back (RFC 6265), in
        /// ``HTTPClient/cookieJar``. Default `true`.
        public var storesCookies = true
        /// The jar to keep them in, to share one between clients; nil: each client has its own.
        public var cookieJar: HTTPCookieJar?
        /// The proxy every request goes through (``HTTPProxy``). Nil: direct, or as the environment
        /// says when ``proxiesFromEnvironment`` is set.
        public var proxy: HTTPProxy?
        /// Whether requests without ``proxy`` follow `http_proxy`, `https_proxy` and `no_proxy` (aiohttp's
        /// `trust_env`; curl always does). Default `false`.
        public var proxiesFromEnvironment = false
        /// Callbacks around every request, for logging and metrics.
        public var trace = HTTPClientTrace()
        /// The TLS client context for `https://` (trust roots, verification, client certificate). Nil:
        /// the system's roots, full verification, ALPN `http/1.1`, shared by every client.
        public var tls: TLSContext?

        /// swift-metrics to record (pool size, waits for a connection, retries, requests by status
        /// class, durations): see ``HTTPClientMetrics``. Nil (the default) records nothing.
        public var metrics: HTTPClientMetrics?
        /// swift-distributed-tracing: a `.client` span per request (each redirect hop), child of the
        /// caller's context, injected into the request's fields. Nil uses the bootstrapped tracer,
        /// read as the client is made; with none (the no-op tracer) no span is made.
        public var tracer: (any Tracer)?
        /// Without a tracer that records: how the caller's trace context goes out with each request,
        /// such as ``W3CTraceContextPropagation`` (`traceparent`, `tracestate`). Nil uses the
        /// bootstrapped instrument if it is not a tracer; with none, nothing is added.
        public var propagation: (any Instrument)?

        /// The defaults.
        public init() {}
    }

    /// The client's settings.
    public let configuration: Configuration
    /// The cookies the client keeps (when ``Configuration-swift.struct/storesCookies``).
    public let cookieJar: HTTPCookieJar
    let pool: HTTPConnectionPool
    private var lastURL: (String, HTTPURL)?
    private var requestTemplate: HTTPRequest?

    /// A client on the current loop.
    ///
    /// - Throws: ``EventLoopError`` `.notOnLoop` when called outside a task running on a loop.
    public convenience init(configuration: Configuration = Configuration()) throws {
        self.init(loop: try EventLoop.requireCurrent("HTTPClient.init"), configuration: configuration)
    }

    /// The current loop's shared client, made on first use and closed with the loop.
    ///
    /// - Throws: ``EventLoopError`` `.notOnLoop` when read outside a task running on a loop.
    public static var shared: HTTPClient {
        get throws {
            let loop = try EventLoop.requireCurrent("HTTPClient.shared")
            return try loop.localValue(HTTPClient.self) { HTTPClient(loop: loop) }
        }
    }

    /// A client on `loop` (on its thread).
    private init(loop: EventLoop, configuration: Configuration = Configuration()) {
        self.configuration = configuration
        cookieJar = configuration.cookieJar ?? HTTPCookieJar()
        pool = HTTPConnectionPool(loop: loop, maxPerHost: configuration.maxConnectionsPerHost,
                                  maxTotal: configuration.maxConnections,
                                  idleTimeout: configuration.idleConnectionTimeout, tls: configuration.tls)
        pool.metrics = configuration.metrics.map(HTTPClientMetricsRecorder.init)
        tracer = HTTPTracingSupport.tracer(configuration.tracer)
        propagation = HTTPTracingSupport.propagation(configuration.propagation, tracer: tracer)
    }

    /// The tracer, if one records (see ``Configuration-swift.struct/tracer``).
    let tracer: (any Tracer)?
    /// The propagation without a tracer, if any (see ``Configuration-swift.struct/propagation``).
    let propagation: (any Instrument)?

    /// Connections opened so far (reuse shows as requests outnumbering this).
    public var connectionsOpened: Int { pool.connectionsOpened }

    /// Closes the idle connections; responses still being read finish, later requests fail.
    public func shutdown() {
        guard pool.loop.inEventLoop else { pool.loop.callSoon { self.shutdown() }; return }
        pool.shutdown()
    }

    // MARK: - Requests

    /// `GET url`.
    ///
    /// ### Cancellation
    /// As ``request(_:_:query:headerFields:body:timeouts:)``.
    public func get(
        _ url: String, query: [(name: String, value: String)] = [], headerFields: HTTPFields = [:], timeouts: Timeouts? = nil
    ) async throws -> HTTPClientResponse {
        try await request(.get, url, query: query, headerFields: headerFields, timeouts: timeouts)
    }

    /// `POST url` with `body`.
    ///
    /// ### Cancellation
    /// As ``request(_:_:query:headerFields:body:timeouts:)``.
    public func post(
        _ url: String, body: HTTPBody, headerFields: HTTPFields = [:], timeouts: Timeouts? = nil
    ) async throws -> HTTPClientResponse {
        try await request(.post, url, headerFields: headerFields, body: body, timeouts: timeouts)
    }

    /// Sends `method url` with `headerFields` and `body`, follows redirects, and returns the response
    /// once its head has arrived.
    ///
    /// - Throws: ``HTTPClientError`` naming the URL: `.badURL`, `.tls` (with `tlsCode`), `.resolution`,
    ///   `.refused`, `.connectFailed`, `.timedOut`, `.connectionClosed`, `.protocolError`,
    ///   `.tooManyRedirects`.
    ///
    /// ### Cancellation
    /// Stops the request; its connection is closed, never reused.
    public func request(
        _ method: HTTPRequest.Method,
        _ url: String,
        query: [(name: String, value: String)] = [],
        headerFields: HTTPFields = [:],
        body: HTTPBody = .empty,
        timeouts: Timeouts? = nil
    ) async throws -> HTTPClientResponse {
        let timeouts = timeouts ?? configuration.timeouts
        let totalDeadline = timeouts.total.map { pool.loop.now.nanoseconds.addingSaturated($0.nanoseconds) }
        var target: HTTPURL
        if let (text, parsed) = lastURL, text == url {
            target = parsed  // the same URL as last time (polling, benchmarks): no parse
        } else {
            target = try resolve(url)
            lastURL = (url, target)
        }
        if !query.isEmpty { target = try target.appendingQuery(query) }
        var method = method
        var fields = headerFields
        if !configuration.headerFields.isEmpty {
            for field in configuration.headerFields where fields[field.name] == nil { fields.append(field) }
        }
        if fields[.authorization] == nil, let credentials = target.credentials ?? configuration.basicCredentials {
            fields[.authorization] = credentials.authorizationValue
        }
        var body = body
        var redirects = 0
        var history: [HTTPClientRedirect] = []
        while true {
            var hopFields = fields
            if configuration.storesCookies, let stored = cookieJar.cookieValue(for: target) {
                hopFields[.cookie] = hopFields[.cookie].map { "\($0); \(stored)" } ?? stored
            }
            let response = try await send(method, target, hopFields, body, timeouts, totalDeadline)
            if configuration.storesCookies {
                for field in response.headerFields where field.name == .setCookie {
                    cookieJar.store(setCookie: field.value, from: target)
                }
            }
            let status = response.status.code
            let isRedirect = switch status {
            case 301, 302, 303, 307, 308: true
            default: false
            }
            guard isRedirect, configuration.maxRedirects > 0, let location = response.headerFields[.location] else {
                return HTTPClientResponse(head: response.head, url: target, redirects: redirects, body: response.body,
                                          history: history)
            }
            history.append(HTTPClientRedirect(status: response.status, url: target, location: location))
            // Follow: drop the redirect's body (reusing the connection if it is small).
            _ = try? await response.body.collect(upTo: 64 * 1024)
            redirects += 1
            if redirects > configuration.maxRedirects {
                throw HTTPClientError(.tooManyRedirects, url: url, "more than \(configuration.maxRedirects) redirects")
            }
            let next = try target.resolving(location)
            if status == 303 || ((status == 301 || status == 302) && method == .post) {
                if method != .head { method = .get }
                body = .empty
                fields[.contentLength] = nil
                fields[.contentType] = nil
                fields[.transferEncoding] = nil
            } else if (status == 307 || status == 308), case .stream = body.storage {
                // A streamed body cannot be sent twice: hand the redirect back.
                history.removeLast()
                return HTTPClientResponse(head: response.head, url: target, redirects: redirects - 1,
                                          body: HTTPClientResponseBody(source: nil, declaredLength: 0), history: history)
            }
            if next.host != target.host || next.port != target.port || next.scheme != target.scheme {
                fields[.authorization] = nil
                fields[.cookie] = nil
            }
            target = next
        }
    }

    /// Sends `request` (an `HTTPRequest` with scheme, authority and path; the scheme defaults to
    /// `http`) with `body`, follows redirects, and returns the response once its head has arrived.
    ///
    /// - Throws: As ``request(_:_:query:headerFields:body:timeouts:)``; `.badURL` without an authority.
    ///
    /// ### Cancellation
    /// As ``request(_:_:query:headerFields:body:timeouts:)``.
    public func request(_ request: HTTPRequest, body: HTTPBody = .empty, timeouts: Timeouts? = nil) async throws -> HTTPClientResponse {
        try pool.loop.checkInLoop("HTTPClient", "request")
        guard let authority = request.authority, !authority.isEmpty else {
            throw HTTPClientError(.badURL, url: request.path ?? "/", "the request has no authority (host)")
        }
        let url = "\(request.scheme ?? "http")://\(authority)\(request.path ?? "/")"
        return try await self.request(request.method, url, headerFields: request.headerFields, body: body, timeouts: timeouts)
    }

    /// `url`, absolute, or relative to ``Configuration-swift.struct/baseURL``.
    func resolve(_ url: String) throws -> HTTPURL {
        if let base = configuration.baseURL, !url.contains("://") {
            let baseURL = try HTTPURL(base)
            var resolved = try baseURL.resolving(url)
            if resolved.host == baseURL.host && resolved.port == baseURL.port { resolved.credentialsFromBase(baseURL) }
            return resolved
        }
        return try HTTPURL(url)
    }

    /// The decoder for a `Content-Encoding` value: nil for `identity`; an error (the connection closed)
    /// for a coding the client does not decode, or more than one.
    private static func decoder(
        for value: String, connection: HTTPClientConnection, pool: HTTPConnectionPool, url: HTTPURL
    ) throws(HTTPClientError) -> ContentDecoder? {
        let codings = value.split(separator: ",").map { String($0.trimmingSpaces) }.filter { !$0.isEmpty }
        let real = codings.filter { $0.lowercased() != "identity" }
        if real.isEmpty { return nil }
        guard real.count == 1, let coding = HTTPContentCoding(token: real[0]) else {
            connection.close()
            pool.release(connection)
            throw HTTPClientError(.badContentEncoding, url: url.description,
                                  "the response is in content coding \"\(value)\", which the client does not decode")
        }
        return ContentDecoder(coding)
    }

    /// One exchange, inside a `.client` span when a tracer records: its context goes into the
    /// request's fields (the tracer's propagation format) and its parent is the caller's context.
    private func send(
        _ method: HTTPRequest.Method, _ url: HTTPURL, _ fields: HTTPFields, _ body: HTTPBody,
        _ timeouts: Timeouts, _ totalDeadline: Int64?
    ) async throws -> HTTPClientResponse {
        if let tracer { return try await exchangeTraced(method, url, fields, body, timeouts, totalDeadline, tracer: tracer) }
        guard let propagation, let context = ServiceContext.current else {
            return try await exchange(method, url, fields, body, timeouts, totalDeadline)
        }
        return try await exchange(method, url, Self.inject(context, into: fields, with: propagation), body, timeouts, totalDeadline)
    }

    /// `fields` with `context` injected by `propagation`.
    @inline(never)
    private static func inject(_ context: ServiceContext, into fields: HTTPFields, with propagation: any Instrument) -> HTTPFields {
        var fields = fields
        propagation.inject(context, into: &fields, using: HTTPFieldsInjector())
        return fields
    }

    @inline(never)
    private func exchangeTraced(
        _ method: HTTPRequest.Method, _ url: HTTPURL, _ fields: HTTPFields, _ body: HTTPBody,
        _ timeouts: Timeouts, _ totalDeadline: Int64?, tracer: any Tracer
    ) async throws -> HTTPClientResponse {
        let span = tracer.startSpan(method.rawValue, context: ServiceContext.current ?? .topLevel, ofKind: .client)
        defer { span.end() }
        span.attributes["http.request.method"] = method.rawValue
        span.attributes["url.full"] = url.description
        var traced = fields
        tracer.inject(span.context, into: &traced, using: HTTPFieldsInjector())
        do {
            let response = try await exchange(method, url, traced, body, timeouts, totalDeadline)
            span.attributes["http.response.status_code"] = response.status.code
            if response.status.code >= 500 { span.setStatus(SpanStatus(code: .error)) }
            return response
        } catch {
            span.recordError(error)
            throw error
        }
    }

    /// One exchange on one connection, retried once on a new connection if a pooled one was stale.
    private func exchange(
        _ method: HTTPRequest.Method, _ url: HTTPURL, _ fields: HTTPFields, _ body: HTTPBody,
        _ timeouts: Timeouts, _ totalDeadline: Int64?
    ) async throws -> HTTPClientResponse {
        // Framing, User-Agent and Connection go on the wire from the body and the configuration
        // (HTTPClientConnection.send); the fields given here are sent as they are otherwise.
        var request: HTTPRequest
        if var reused = requestTemplate.take() {
            // The last request's storage, unique again once its exchange ended: updated in place.
            reused.method = method
            reused.authority = url.authority
            reused.path = url.target
            reused.headerFields = fields
            request = reused
        } else {
            request = HTTPRequest(method: method, scheme: nil, authority: url.authority, path: url.target, headerFields: fields)
        }
        defer { requestTemplate = request }
        let replayable: Bool = if case .bytes = body.storage { true } else { false }
        let idempotent = switch method {
        case .get, .head, .put, .delete, .options, .trace: true
        default: false
        }
        var forceNew = false
        while true {
            var connectTimeout = timeouts.connect
            if let totalDeadline {
                let left = Duration.nanoseconds(totalDeadline &- pool.loop.now.nanoseconds)
                if left <= .zero { throw HTTPClientError(.timedOut, url: url.description, "the total timeout passed") }
                connectTimeout = min(connectTimeout, left)
            }
            let proxy = configuration.proxy ?? (configuration.proxiesFromEnvironment ? HTTPProxy.fromEnvironment(for: url) : nil)
            if let proxy, url.scheme == "http" {
                // Forwarded: the absolute URL as the target (RFC 9112 §3.2.2), and the proxy's credentials.
                request.path = "http://\(url.authority)\(url.target)"
                if let authorization = proxy.authorization { request.headerFields[.proxyAuthorization] = authorization }
            }
            let started = pool.loop.now
            configuration.trace.requestStart?(HTTPClientTrace.Start(method: method, url: url, headerFields: fields))
            let (connection, reused): (HTTPClientConnection, Bool)
            do {
                (connection, reused) = try await pool.acquire(url, via: proxy, connectTimeout: connectTimeout, forceNew: forceNew)
            } catch {
                configuration.trace.requestFailed?(HTTPClientTrace.Failure(method: method, url: url, error: error))
                pool.metrics?.request(status: nil, nanoseconds: 0)
                throw error
            }
            if !reused { configuration.trace.connectionCreated?(url) }
            do {
                try await connection.send(
                    request, body: body, url: url, userAgent: configuration.userAgent,
                    acceptEncoding: configuration.decompressesResponses ? HTTPContentCoding.acceptEncoding : nil,
                    readTimeout: timeouts.read, totalDeadline: totalDeadline)
                let head = try await connection.readHead(url: url)
                var declared = head.response.headerFields[.contentLength].flatMap { Int($0) }
                var decoder: ContentDecoder?
                if configuration.decompressesResponses, head.framing != .none, method != .head,
                   let coding = head.response.headerFields[.contentEncoding] {
                    decoder = try Self.decoder(for: coding, connection: connection, pool: pool, url: url)
                    if decoder != nil { declared = nil }  // the length on the wire, not the decoded one
                }
                let source = HTTPClientResponseBody.Source(connection: connection, pool: pool, url: url, decoder: decoder)
                configuration.trace.requestEnd?(HTTPClientTrace.End(
                    method: method, url: url, status: head.response.status, duration: started.duration(to: pool.loop.now),
                    reusedConnection: reused))
                pool.metrics?.request(status: head.response.status.code, nanoseconds: pool.loop.now.nanoseconds &- started.nanoseconds)
                return HTTPClientResponse(
                    head: head.response, url: url, redirects: 0,
                    body: HTTPClientResponseBody(source: source, declaredLength: head.framing == .none ? 0 : declared))
            } catch let error as HTTPClientError
                where error.code == .connectionClosed && reused && !connection.receivedAny && idempotent && replayable && !forceNew
            {
                // The server closed the pooled connection while it sat idle: once more, on a new one.
                connection.close()
                pool.release(connection)
                pool.metrics?.retried()
                forceNew = true
            } catch {
                connection.close()
                pool.release(connection)
                configuration.trace.requestFailed?(HTTPClientTrace.Failure(method: method, url: url, error: error))
                pool.metrics?.request(status: nil, nanoseconds: 0)
                throw error
            }
        }
    }
}

/// Runs `body` with a client of its own, shut down when `body` returns or throws (aiohttp's
/// `async with ClientSession() as session`).
///
/// ### Cancellation
/// As the requests `body` makes.
public func withHTTPClient<Result>(
    configuration: HTTPClient.Configuration = HTTPClient.Configuration(),
    _ body: (HTTPClient) async throws -> Result
) async throws -> Result {
    let client = try HTTPClient(configuration: configuration)
    defer { client.shutdown() }
    return try await body(client)
}

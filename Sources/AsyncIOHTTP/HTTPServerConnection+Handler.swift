import AsyncIO
import HTTPTypes
import ServiceContextModule
import Tracing

extension HTTPServerConnection {
    // MARK: - Calling the handler

    /// Calls the handler with the trace context the request carries current: inside a `.server` span
    /// that is its child when a tracer records, as it is (``HTTPServer/Configuration-swift.struct/propagation``)
    /// otherwise.
    @inline(never)
    func callInContext(
        _ handler: HTTPServer.Handler, _ request: HTTPServerRequest
    ) async -> Result<HTTPServerResponse, any Error> {
        var context = ServiceContext.current ?? .topLevel
        let instrument: (any Instrument)? = server.tracer ?? server.propagation
        instrument?.extract(request.head.headerFields, into: &context, using: HTTPFieldsExtractor())
        guard let tracer = server.tracer else {
            return await ServiceContext.withValue(context) { await Self.invoke(handler, self, request) }
        }
        let span = tracer.startSpan(request.method.rawValue, context: context, ofKind: .server)
        span.attributes["http.request.method"] = request.method.rawValue
        span.attributes["url.path"] = String(request.path)
        defer { span.end() }
        return await ServiceContext.withValue(span.context) {
            let outcome = await Self.invoke(handler, self, request)
            switch outcome {
            case .success(let response):
                span.attributes["http.response.status_code"] = response.statusCode
                if response.statusCode >= 500 { span.setStatus(SpanStatus(code: .error)) }
            case .failure(let error):
                span.recordError(error)
            }
            return outcome
        }
    }

    /// The handler's response, or what it threw. When the server routes requests itself, the route's
    /// handler is called here rather than from the router's handler: one closure call, hence one
    /// executor hop, less.
    @inline(__always)
    static func invoke(
        _ handler: HTTPServer.Handler, _ connection: HTTPServerConnection, _ request: HTTPServerRequest
    ) async -> Result<HTTPServerResponse, any Error> {
        do {
            guard let route = connection.route(request) else { return .success(try await handler(request)) }
            switch route.callable {
            case .synchronous(let synchronous):
                return .success(try HTTPRouter.call(synchronous, request, with: route.parameters))
            case .asynchronous(let asynchronous):
                return .success(try await HTTPRouter.call(asynchronous, request, with: route.parameters))
            }
        } catch {
            return .failure(error)
        }
    }

    /// The route for `request`, the connection's current request, and the path parameters it
    /// captured; nil when the server calls the handler (see ``HTTPServer/routes``). From the
    /// connection's own reference to the router: read through the unowned `server`, it cost a strong
    /// reference and its release a request.
    ///
    /// A request with the method and target the last one had (a keep-alive client polling, checking
    /// health, or benchmarking) gets the last one's route without a lookup. The parser tells so
    /// (``HTTPParser/routeGeneration``) without the method and target being read back out of the
    /// request: each read copies its pseudo field out of the head and parses it.
    @inline(never)
    func route(_ request: HTTPServerRequest) -> HTTPRouter.Resolution? {
        if case .none = routes { return nil }  // not `guard let`: it would copy the router
        let generation = parser.routeGeneration
        if let lastResolution, generation == lastRouteGeneration { return lastResolution }
        let resolution = routes?.resolve(request)
        lastResolution = resolution
        lastRouteGeneration = generation
        return resolution
    }
}

import HTTPTypes

/// Routes requests by method and path pattern to handlers.
///
/// Patterns are paths whose segments may be parameters, `:name` (one segment), or a final `*name`
/// (the rest of the path, possibly empty). Literal paths are found by their length and bytes; patterns
/// are tried in the order they were added. `HEAD` falls back to the `GET` route. A path that matches
/// with another method gets `405` with `Allow`; no match gets ``notFound`` (404).
///
/// A handler may be `async` or not: one that does not `await` is kept as it is, and a server started
/// with the router (``HTTPServer/start(host:port:configuration:router:)``) calls it without an executor
/// hop.
///
/// ```swift
/// var router = HTTPRouter()
/// router.get("/status/:code") { request in HTTPServerResponse(status: .init(code: Int(request.parameter("code")!)!)) }
/// router.add(nil, "/anything/*rest") { request in .text("\(request.method) \(request.parameter("rest")!)") }
/// ```
public struct HTTPRouter: Sendable {
    enum Segment: Sendable, Hashable {
        case literal(String)
        case parameter(String)
        case rest(String)
    }

    struct Route: Sendable {
        let method: HTTPRequest.Method?
        let pattern: String
        let segments: [Segment]
        let handlers: Handlers
    }

    /// A route's handler, and the handler as it was added if it does not suspend (`handler` then wraps
    /// it). One field of the route: ``resolve(_:)`` copies it out, not the whole route.
    struct Handlers {
        let handler: HTTPServer.Handler
        let synchronous: HTTPServer.SynchronousHandler?

        /// The form a request is answered with: the synchronous one if there is one.
        var callable: Callable { synchronous.map(Callable.synchronous) ?? .asynchronous(handler) }
    }

    /// The one handler that answers a request: the synchronous form when the route has one (a call
    /// without an executor hop), else the async one. One closure, so one reference count a request
    /// where both forms were two.
    enum Callable {
        case synchronous(HTTPServer.SynchronousHandler)
        case asynchronous(HTTPServer.Handler)
    }

    /// What ``resolve(_:)`` found for a request.
    struct Resolution {
        let callable: Callable
        /// The path parameters the route's pattern captured; nil for a literal route.
        let parameters: [String: String]?
    }

    private var literal = HTTPLiteralRoutes()
    private var patterned: [Route] = []
    /// Around every route, the first outermost (``use(_:)``).
    var middlewares: [HTTPMiddleware] = []

    /// Every route, in the order it was added within each kind (for ``mount(_:_:)``).
    var allRoutes: [Route] { literal.all + patterned }

    /// The handler for requests no route matches; by default a plain `404 Not Found`.
    public var notFound: HTTPServer.Handler = { _ in HTTPRouter.notFoundResponse } {
        didSet { notFoundSynchronously = nil }
    }

    /// ``notFound``'s synchronous form while it is the default: a server that consults the router itself
    /// answers a miss without an executor hop, as it answers a route that does not suspend.
    private var notFoundSynchronously: HTTPServer.SynchronousHandler? = { _ in HTTPRouter.notFoundResponse }

    /// The default ``notFound``'s answer, built once.
    private static let notFoundResponse = HTTPServerResponse.text("Not Found\n", status: .notFound)

    /// Whether a path that has routes, but none for the request's method, gets `405 Method Not Allowed`
    /// with `Allow` (the default) or goes to ``notFound`` like any other miss.
    public var answersMethodNotAllowed = true

    /// An empty router.
    public init() {}

    /// Adds a route for `method` (nil: any method) and `pattern`.
    public mutating func add(_ method: HTTPRequest.Method?, _ pattern: String, _ handler: @escaping HTTPServer.Handler) {
        add(method, pattern, handlers: Handlers(handler: handler, synchronous: nil))
    }

    /// Adds a route for `method` (nil: any method) and `pattern` whose handler does not suspend. A server
    /// that consults the router itself (``HTTPServer/start(host:port:configuration:router:)``) calls it
    /// without an executor hop or an async frame, and writes a response held in memory (up to 64 KiB of
    /// body) in the same step, waiting only if the socket cannot take it all; anywhere else it is the
    /// same as an `async` handler.
    public mutating func add(_ method: HTTPRequest.Method?, _ pattern: String, _ handler: @escaping HTTPServer.SynchronousHandler) {
        add(method, pattern, handlers: Handlers(handler: { request in try handler(request) }, synchronous: handler))
    }

    mutating func add(_ method: HTTPRequest.Method?, _ pattern: String, handlers: Handlers) {
        precondition(pattern.hasPrefix("/"), "a route pattern starts with /")
        let segments = Self.split(pattern[...]).enumerated().map { index, part -> Segment in
            if part.hasPrefix(":") { return .parameter(String(part.dropFirst())) }
            if part.hasPrefix("*") {
                return .rest(String(part.dropFirst()))
            }
            return .literal(String(part))
        }
        for (index, segment) in segments.enumerated() {
            if case .rest = segment { precondition(index == segments.count - 1, "*rest must be the last segment") }
        }
        let route = Route(method: method, pattern: pattern, segments: segments, handlers: handlers)
        if segments.allSatisfy({ if case .literal = $0 { true } else { false } }) {
            literal.append(route, at: pattern)
        } else {
            patterned.append(route)
        }
    }

    /// Adds a `GET` route (which also answers `HEAD`).
    public mutating func get(_ pattern: String, _ handler: @escaping HTTPServer.Handler) { add(.get, pattern, handler) }
    /// Adds a `POST` route.
    public mutating func post(_ pattern: String, _ handler: @escaping HTTPServer.Handler) { add(.post, pattern, handler) }
    /// Adds a `PUT` route.
    public mutating func put(_ pattern: String, _ handler: @escaping HTTPServer.Handler) { add(.put, pattern, handler) }
    /// Adds a `PATCH` route.
    public mutating func patch(_ pattern: String, _ handler: @escaping HTTPServer.Handler) { add(.patch, pattern, handler) }
    /// Adds a `DELETE` route.
    public mutating func delete(_ pattern: String, _ handler: @escaping HTTPServer.Handler) { add(.delete, pattern, handler) }

    /// Adds a `GET` route (which also answers `HEAD`) whose handler does not suspend (see the `add` that
    /// takes a ``HTTPServer/SynchronousHandler``).
    public mutating func get(_ pattern: String, _ handler: @escaping HTTPServer.SynchronousHandler) { add(.get, pattern, handler) }
    /// Adds a `POST` route whose handler does not suspend.
    public mutating func post(_ pattern: String, _ handler: @escaping HTTPServer.SynchronousHandler) { add(.post, pattern, handler) }
    /// Adds a `PUT` route whose handler does not suspend.
    public mutating func put(_ pattern: String, _ handler: @escaping HTTPServer.SynchronousHandler) { add(.put, pattern, handler) }
    /// Adds a `PATCH` route whose handler does not suspend.
    public mutating func patch(_ pattern: String, _ handler: @escaping HTTPServer.SynchronousHandler) { add(.patch, pattern, handler) }
    /// Adds a `DELETE` route whose handler does not suspend.
    public mutating func delete(_ pattern: String, _ handler: @escaping HTTPServer.SynchronousHandler) { add(.delete, pattern, handler) }

    /// Whether ``use(_:)`` added any middleware.
    var hasMiddlewares: Bool { !middlewares.isEmpty }

    /// The router as a server handler, inside its middlewares.
    public var handler: HTTPServer.Handler {
        let router = self
        return Self.chain(middlewares) { request in
            try await Self.call(router.resolve(request), request)
        }
    }

    /// Finds the route for `request` and calls its handler.
    ///
    /// ### Cancellation
    /// As the handler it calls.
    public func route(_ request: HTTPServerRequest) async throws -> HTTPServerResponse {
        // The match is found outside this frame, which stays alive while the handler runs.
        try await Self.call(resolve(request), request)
    }

    /// Calls the handler `resolution` found for `request`.
    @inline(__always)
    static func call(_ resolution: Resolution, _ request: HTTPServerRequest) async throws -> HTTPServerResponse {
        switch resolution.callable {
        case .synchronous(let handler): try call(handler, request, with: resolution.parameters)
        case .asynchronous(let handler): try await call(handler, request, with: resolution.parameters)
        }
    }

    /// Calls `handler` with `request`, given the path `parameters` its route captured. A literal
    /// route's request goes as it is: no copy of it (a reference count for each of its parts).
    @inline(__always)
    static func call(
        _ handler: HTTPServer.Handler, _ request: HTTPServerRequest, with parameters: [String: String]?
    ) async throws -> HTTPServerResponse {
        guard let parameters else { return try await handler(request) }
        var routed = request
        routed.pathParameters = parameters
        return try await handler(routed)
    }

    /// ``call(_:_:with:)`` for a handler that does not suspend.
    @inline(__always)
    static func call(
        _ handler: HTTPServer.SynchronousHandler, _ request: HTTPServerRequest, with parameters: [String: String]?
    ) throws -> HTTPServerResponse {
        guard let parameters else { return try handler(request) }
        var routed = request
        routed.pathParameters = parameters
        return try handler(routed)
    }

    /// The handler for `request`, in the form its route was added with (``Callable``), and the path
    /// parameters its pattern captured (nil for a literal route).
    func resolve(_ request: HTTPServerRequest) -> Resolution {
        resolve(request.method, request.head.path ?? "")  // a pseudo field of the head, copied out on every read
    }

    /// ``resolve(_:)`` for a request of `method` to `target` (its path and query).
    @inline(never)
    func resolve(_ method: HTTPRequest.Method, _ target: String) -> Resolution {
        var allowed: [HTTPRequest.Method] = []
        // A target that is a literal path whole (the usual request) is found without splitting a
        // query off it.
        let whole = literal.index(ofWholeTarget: target)
        if let whole, let index = Self.pick(in: literal[path: whole], for: method, allowed: &allowed) {
            return Resolution(callable: Self.callable(of: literal[path: whole], at: index), parameters: nil)
        }
        let path = HTTPServerRequest.path(ofTarget: target)
        if whole == nil, let routes = literal.routes(at: path), let index = Self.pick(in: routes, for: method, allowed: &allowed) {
            return Resolution(callable: Self.callable(of: routes, at: index), parameters: nil)
        }
        if !patterned.isEmpty {
            let parts = Self.split(path)
            for index in patterned.indices {
                guard let parameters = Self.match(patterned[index].segments, parts) else { continue }
                if Self.accepts(patterned[index].method, method, allowed: &allowed) {
                    return Resolution(callable: Self.callable(of: patterned, at: index), parameters: parameters)
                }
            }
        }
        if !allowed.isEmpty && answersMethodNotAllowed {
            var methods = allowed.map(\.rawValue)
            if methods.contains("GET") && !methods.contains("HEAD") { methods.append("HEAD") }
            var response = HTTPServerResponse.text("Method Not Allowed\n", status: .methodNotAllowed)
            response.headerFields[.allow] = methods.joined(separator: ", ")
            return Resolution(callable: .synchronous { [response] _ in response }, parameters: nil)
        }
        return Resolution(callable: notFoundSynchronously.map(Callable.synchronous) ?? .asynchronous(notFound), parameters: nil)
    }

    /// The handler that answers for `routes[index]`, copied out of the array in place:
    /// `routes[index].handlers` copies the whole route first (a reference count for each of its parts,
    /// and as many releases).
    @inline(__always)
    private static func callable(of routes: [Route], at index: Int) -> Callable {
        // SAFETY: `index` is one of `routes.indices` (``pick(in:for:allowed:)`` or `patterned.indices`);
        // the pointer is only read within the closure, while `routes` holds the storage.
        routes.withUnsafeBufferPointer { $0[index].handlers.callable }
    }

    /// The index of the route among `routes` (one path's) that takes `method`: the first for it or for
    /// any method, else a `GET` route for a `HEAD`. The methods of the others go to `allowed`. By index:
    /// a route copied out of the array is a reference count for each of its parts.
    private static func pick(in routes: [Route], for method: HTTPRequest.Method, allowed: inout [HTTPRequest.Method]) -> Int? {
        var headFallback: Int?
        for index in routes.indices {
            guard let routeMethod = routes[index].method else { return index }
            if routeMethod == method { return index }
            if method == .head && routeMethod == .get { headFallback = index }
            allowed.append(routeMethod)
        }
        return headFallback
    }

    /// Whether a route for `routeMethod` (nil: any) takes `method` (a `GET` route takes `HEAD`); if not,
    /// its method goes to `allowed`.
    private static func accepts(_ routeMethod: HTTPRequest.Method?, _ method: HTTPRequest.Method, allowed: inout [HTTPRequest.Method]) -> Bool {
        guard let routeMethod else { return true }
        if routeMethod == method || (method == .head && routeMethod == .get) { return true }
        allowed.append(routeMethod)
        return false
    }

    private static func match(_ segments: [Segment], _ parts: [Substring]) -> [String: String]? {
        var parameters: [String: String] = [:]
        for (index, segment) in segments.enumerated() {
            switch segment {
            case .literal(let text):
                guard index < parts.count, parts[index] == text else { return nil }
            case .parameter(let name):
                guard index < parts.count, !parts[index].isEmpty else { return nil }
                parameters[name] = PercentDecoding.decode(parts[index])
            case .rest(let name):
                let rest = index < parts.count ? parts[index...].joined(separator: "/") : ""
                parameters[name] = PercentDecoding.decode(rest)
                return parameters
            }
        }
        return parts.count == segments.count ? parameters : nil
    }

    /// The path's segments between slashes (`/a/b/` → `a`, `b`, ``).
    private static func split(_ path: Substring) -> [Substring] {
        guard path.count > 1 else { return [] }
        return path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
    }
}


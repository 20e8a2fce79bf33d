import AsyncIOSystem
import HTTPTypes
import Logging

/// Code that runs around a router's handlers (aiohttp's middlewares): it sees the request first, can
/// answer it itself (short-circuit), or call `next` and change the response on its way out.
///
/// ```swift
/// var router = HTTPRouter()
/// router.use { request, next in
///     guard request.head.headerFields[.authorization] != nil else { return .text("who are you?\n", status: .unauthorized) }
///     var response = try await next(request)
///     response.headerFields[HTTPField.Name("X-Served-By")!] = "aio"
///     return response
/// }
/// ```
public typealias HTTPMiddleware = @Sendable (HTTPServerRequest, HTTPServer.Handler) async throws -> HTTPServerResponse

extension HTTPRouter {
    /// Adds `middleware` around every route of this router (and ``notFound``). Middlewares run in the
    /// order they were added: the first added sees the request first and the response last.
    public mutating func use(_ middleware: @escaping HTTPMiddleware) {
        middlewares.append(middleware)
    }

    /// Adds every route of `router` under `prefix` (aiohttp's `add_subapp`): `/api` + `/users/:id`
    /// answers `/api/users/7`. The sub-router's middlewares wrap its own routes only, inside this
    /// router's; its ``notFound`` is not used.
    public mutating func mount(_ prefix: String, _ router: HTTPRouter) {
        precondition(prefix.hasPrefix("/") && !prefix.hasSuffix("/"), "a mount prefix starts with / and does not end with one")
        for route in router.allRoutes {
            if router.middlewares.isEmpty {
                add(route.method, prefix + route.pattern, handlers: route.handlers)
            } else {
                add(route.method, prefix + route.pattern, Self.chain(router.middlewares, around: route.handlers.handler))
            }
        }
    }

    /// `handler` inside `middlewares`, the first outermost.
    ///
    /// A plain loop, not `reduce`: a closure passed through a generic function comes back wrapped in
    /// two reabstraction thunks, and each would add an async frame to every request in flight.
    static func chain(_ middlewares: [HTTPMiddleware], around handler: @escaping HTTPServer.Handler) -> HTTPServer.Handler {
        var chained = handler
        for middleware in middlewares.reversed() {
            let next = chained
            chained = { request in try await middleware(request, next) }
        }
        return chained
    }
}

/// Middlewares AsyncIO ships.
public enum HTTPMiddlewares {
    /// Compresses responses for clients that accept it (`Accept-Encoding` with `gzip` or `deflate` at a
    /// non-zero quality; gzip preferred): bodies in memory of at least `minimumLength` bytes, without a
    /// `Content-Encoding` of their own, of a type that is not already compressed (images, audio, video,
    /// archives). Sets `Content-Encoding` and `Vary: Accept-Encoding`. Streamed bodies go as they are.
    public static func compression(minimumLength: Int = 1024) -> HTTPMiddleware {
        { request, next in
            var response = try await next(request)
            guard response.headerFields[.contentEncoding] == nil,
                  case .bytes(let bytes) = response.body.storage, bytes.count >= minimumLength,
                  !isCompressedType(response.headerFields[.contentType]),
                  let coding = preferredCoding(request.head.headerFields[.acceptEncoding]) else { return response }
            response.headerFields.append(HTTPField(name: .vary, value: "Accept-Encoding"))
            guard let compressed = try? coding.compress(bytes), compressed.count < bytes.count else { return response }
            response.body = HTTPBody(bytes: compressed)
            response.headerFields[.contentEncoding] = coding.rawValue
            return response
        }
    }

    /// The coding to answer with: gzip or deflate, whichever `Accept-Encoding` allows (gzip first).
    static func preferredCoding(_ acceptEncoding: String?) -> HTTPContentCoding? {
        guard let acceptEncoding else { return nil }
        var accepted: Set<String> = []
        var star = false
        for item in acceptEncoding.split(separator: ",") {
            let parts = item.split(separator: ";")
            let name = parts[0].trimmingSpaces.lowercased()
            let quality = parts.dropFirst().first { $0.trimmingSpaces.lowercased().hasPrefix("q=") }
                .flatMap { Double($0.trimmingSpaces.dropFirst(2)) } ?? 1
            if quality <= 0 { continue }
            if name == "*" { star = true } else { accepted.insert(name) }
        }
        if accepted.contains("gzip") || accepted.contains("x-gzip") || star { return .gzip }
        if accepted.contains("deflate") { return .deflate }
        return nil
    }

    static func isCompressedType(_ contentType: String?) -> Bool {
        guard let type = contentType?.split(separator: ";").first?.trimmingSpaces.lowercased() else { return false }
        if type.hasPrefix("image/") && type != "image/svg+xml" { return true }
        if type.hasPrefix("audio/") || type.hasPrefix("video/") { return true }
        return ["application/zip", "application/gzip", "application/x-gzip", "application/zstd", "application/x-bzip2",
                "application/x-xz", "application/x-7z-compressed", "application/pdf", "font/woff", "font/woff2"].contains(type)
    }

    /// Logs one line per request in the Common Log Format (`host - - [date] "request line" status
    /// bytes`) at `info`, through swift-log (aiohttp's access log).
    public static func accessLog(_ logger: Logger = Logger(label: "AsyncIO.HTTPServer.access")) -> HTTPMiddleware {
        { request, next in
            let response = try await next(request)
            let line = "\(request.remoteAddress?.host ?? "-") - \(request.basicCredentials?.user ?? "-") "
                + "[\(commonLogDate(WallClock.secondsSinceEpoch()))] "
                + "\"\(request.method.rawValue) \(request.head.path ?? "/") \(request.version)\" "
                + "\(response.statusCode) \(response.body.length.map(String.init) ?? "-")"
            logger.info("\(line)")
            return response
        }
    }

    /// `10/Oct/2000:13:55:36 +0000`.
    static func commonLogDate(_ seconds: Int64) -> String {
        let days = Int((seconds - (seconds % 86_400 + 86_400) % 86_400) / 86_400)
        let secondOfDay = Int(seconds - Int64(days) * 86_400)
        let (year, month, day) = HTTPDate.civilDate(daysSinceEpoch: days)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(two(day))/\(months[month - 1])/\(year):\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60)) +0000"
    }
}

import AsyncIO
import AsyncIOHTTP
import HTTPTypes
import OpenAPIRuntime

/// A swift-openapi-runtime `ServerTransport` over ``AsyncIOHTTP/HTTPRouter``: a generated
/// `registerHandlers(on:)` adds its operations as routes, and ``router`` serves them (mount it, add
/// middlewares, start an ``AsyncIOHTTP/HTTPServer`` with its handler).
///
/// ```swift
/// let transport = AsyncIOServerTransport()
/// // try api.registerHandlers(on: transport, serverURL: URL(string: "/api")!)
/// let server = try await HTTPServer.start(host: "127.0.0.1", port: 8080, handler: transport.router.handler)
/// ```
///
/// Request and response bodies stream. Path templates become router patterns (`/pets/{petId}` →
/// `/pets/:petId`); a template with a parameter inside a segment (`/file/{name}.zip`) is refused.
///
/// ### Thread safety
/// Register before serving; the router is a value read when `router.handler` is taken.
public final class AsyncIOServerTransport: ServerTransport, @unchecked Sendable {
    /// The routes registered so far.
    public private(set) var router: HTTPRouter

    /// A transport that adds its routes to `router`.
    public init(router: HTTPRouter = HTTPRouter()) {
        self.router = router
    }

    /// Adds the operation at `method` and `path` (an OpenAPI path template).
    ///
    /// - Throws: ``AsyncIOServerTransportError`` for a template the router cannot express.
    public func register(
        _ handler: @Sendable @escaping (HTTPRequest, OpenAPIRuntime.HTTPBody?, ServerRequestMetadata) async throws -> (
            HTTPResponse, OpenAPIRuntime.HTTPBody?
        ),
        method: HTTPRequest.Method,
        path: String
    ) throws {
        let pattern = try Self.routerPattern(path)
        router.add(method, pattern) { request in
            let metadata = ServerRequestMetadata(pathParameters: request.pathParameters.mapValues { Substring($0) })
            let body: OpenAPIRuntime.HTTPBody?
            if request.body.declaredLength == 0 {
                body = nil
            } else {
                let length: OpenAPIRuntime.HTTPBody.Length = request.body.declaredLength.map { .known(Int64($0)) } ?? .unknown
                body = OpenAPIRuntime.HTTPBody(ByteChunks(request.body), length: length, iterationBehavior: .single)
            }
            let (head, responseBody) = try await handler(request.head, body, metadata)
            guard let responseBody else { return HTTPServerResponse(head) }
            let length: Int? = if case .known(let count) = responseBody.length { Int(count) } else { nil }
            return HTTPServerResponse(head, body: .stream(length: length) { writer in
                for try await chunk in responseBody { try await writer.write(Array(chunk)) }
            })
        }
    }

    /// `/pets/{petId}` → `/pets/:petId`.
    static func routerPattern(_ template: String) throws(AsyncIOServerTransportError) -> String {
        let segments = template.split(separator: "/", omittingEmptySubsequences: false).map { segment -> Substring in segment }
        var out: [String] = []
        for segment in segments {
            if segment.hasPrefix("{") && segment.hasSuffix("}") && segment.count > 2 {
                out.append(":" + segment.dropFirst().dropLast())
            } else if segment.contains("{") || segment.contains("}") {
                throw AsyncIOServerTransportError(
                    "the path template \(template) has a parameter inside a segment, which HTTPRouter cannot match")
            } else {
                out.append(String(segment))
            }
        }
        return out.joined(separator: "/")
    }
}

/// A path template ``AsyncIOServerTransport`` cannot register.
public struct AsyncIOServerTransportError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Why.
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

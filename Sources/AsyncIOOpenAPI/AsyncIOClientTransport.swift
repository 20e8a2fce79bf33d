import AsyncIO
import AsyncIOHTTP
import FoundationEssentials
import HTTPTypes
import OpenAPIRuntime

/// A swift-openapi-runtime `ClientTransport` over ``AsyncIOHTTP/HTTPClient``: what a generated
/// `Client(serverURL:transport:)` sends its operations through, with the client's pool, TLS, proxies,
/// timeouts, metrics and tracing.
///
/// ```swift
/// let transport = AsyncIOClientTransport(client: try HTTPClient.shared)
/// // let api = Client(serverURL: URL(string: "http://127.0.0.1:8080/api")!, transport: transport)
/// ```
public struct AsyncIOClientTransport: ClientTransport {
    /// The client requests go through.
    public let client: HTTPClient
    /// The most bytes of a response body buffered for a body the generated code reads whole
    /// (the body is otherwise streamed as it arrives).
    public var maxResponseBodySize: Int

    /// A transport over `client`.
    public init(client: HTTPClient, maxResponseBodySize: Int = 16 * 1024 * 1024) {
        self.client = client
        self.maxResponseBodySize = maxResponseBodySize
    }

    /// Sends `request` (its path relative to `baseURL`) and returns the response with its body
    /// streamed.
    ///
    /// - Throws: `HTTPClientError` as ``AsyncIOHTTP/HTTPClient``'s requests do.
    ///
    /// ### Cancellation
    /// As ``AsyncIOHTTP/HTTPClient``'s requests: the connection is closed.
    public func send(
        _ request: HTTPRequest, body: OpenAPIRuntime.HTTPBody?, baseURL: URL, operationID: String
    ) async throws -> (HTTPResponse, OpenAPIRuntime.HTTPBody?) {
        var base = baseURL.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        let url = base + (request.path ?? "/")
        let outgoing: AsyncIOHTTP.HTTPBody
        if let body {
            let length: Int? = if case .known(let count) = body.length { Int(count) } else { nil }
            outgoing = .stream(length: length) { writer in
                for try await chunk in body { try await writer.write(Array(chunk)) }
            }
        } else {
            outgoing = .empty
        }
        let response = try await client.request(request.method, url, headerFields: request.headerFields, body: outgoing)
        let responseBody = response.body
        let length: OpenAPIRuntime.HTTPBody.Length = responseBody.declaredLength.map { .known(Int64($0)) } ?? .unknown
        return (response.head, OpenAPIRuntime.HTTPBody(ByteChunks(responseBody), length: length, iterationBehavior: .single))
    }
}

/// An AsyncIO body (chunks of `[UInt8]`) as the byte chunks OpenAPIRuntime's `HTTPBody` takes.
struct ByteChunks<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == [UInt8] {
    typealias Element = ArraySlice<UInt8>
    let base: Base
    init(_ base: Base) { self.base = base }

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        mutating func next() async throws -> ArraySlice<UInt8>? {
            try await base.next().map { ArraySlice($0) }
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator()) }
}

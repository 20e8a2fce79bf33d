import AsyncIO
import AsyncIOTLS
import AsyncIOSystem
import HTTPTypes

/// A request as a server handler sees it: the head, a streaming body, and where it came from.
public struct HTTPServerRequest: Sendable {
    /// The request head. `Host` is in `authority`; the target (path and query) is in `path`.
    public var head: HTTPRequest
    /// The body, read as it arrives (empty for most GETs).
    public var body: HTTPRequestBody
    /// The version on the request line.
    public var version: HTTPVersion
    /// Parameters captured by the ``HTTPRouter`` pattern that matched (`/status/:code` → `code`).
    public var pathParameters = [String: String]()  // not `[:]`: a call to build it from a literal, per request
    let connection: HTTPServerConnection?

    /// A request for handlers to be called with directly, as in tests.
    public init(head: HTTPRequest, body: HTTPRequestBody = .empty, version: HTTPVersion = .http1_1) {
        self.head = head
        self.body = body
        self.version = version
        connection = nil
    }

    init(head: consuming HTTPRequestHead, body: HTTPRequestBody, connection: HTTPServerConnection) {
        self.head = head.request
        self.body = body
        self.version = head.version
        self.connection = connection
    }

    /// The method.
    public var method: HTTPRequest.Method { head.method }

    /// The path without the query (`/get` for `/get?a=1`).
    public var path: Substring { Self.path(ofTarget: head.path ?? "") }

    /// The path of a request `target` (`HTTPRequest.path`): the target without its query.
    static func path(ofTarget target: String) -> Substring {
        if let mark = queryMark(in: target) { return target[..<mark] }
        return target[...]
    }

    /// The query without the `?`, or nil.
    public var query: Substring? {
        guard let target = head.path, let mark = Self.queryMark(in: target) else { return nil }
        return target[target.utf8.index(after: mark)...]
    }

    /// Where the target's `?` is. Searched in the string's bytes at once: the collection algorithm
    /// on `String.UTF8View` steps an index at a time (0.3 % of `/plaintext`'s CPU, for the router's
    /// one call).
    private static func queryMark(in target: String) -> String.Index? {
        let offset = target.utf8.withContiguousStorageIfAvailable { $0.firstIndex(of: UInt8(ascii: "?")) }
        guard let offset else { return target.utf8.firstIndex(of: UInt8(ascii: "?")) }  // not contiguous
        return offset.map { target.utf8.index(target.utf8.startIndex, offsetBy: $0) }
    }

    /// The query's `name=value` pairs in order, percent-decoded (`+` is a space).
    public var queryItems: [(name: String, value: String)] {
        guard let query, !query.isEmpty else { return [] }
        return query.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let value = parts.count > 1 ? parts[1] : ""
            return (PercentDecoding.decode(parts[0], plusIsSpace: true), PercentDecoding.decode(value, plusIsSpace: true))
        }
    }

    /// The first value of the query item `name`, if present.
    public func queryItem(_ name: String) -> String? {
        queryItems.first { $0.name == name }?.value
    }

    /// The path parameter `name`, as captured by the router.
    public func parameter(_ name: String) -> String? { pathParameters[name] }

    /// The peer's address (nil for a request not read from a connection).
    public var remoteAddress: SocketAddress? { connection?.remoteAddress }

    /// Whether the request came over TLS (the server's scheme is `https`).
    public var isSecure: Bool { connection?.server.isSecure ?? false }

    /// The TLS connection the request came over (negotiated version, ALPN, the client's certificate),
    /// or nil for plain HTTP.
    public var tls: TLSStream? { connection?.writer.stream as? TLSStream }
}

/// A response from a server handler: the head and the body.
public struct HTTPServerResponse: Sendable {
    /// The status and fields. The server adds framing (`Content-Length` or chunked), `Date` and
    /// `Connection` itself.
    public var head: HTTPResponse {
        _read { yield storedHead }
        _modify {
            knownCode = -1  // the status may change: read it from the head again
            yield &storedHead
        }
    }
    private var storedHead: HTTPResponse
    /// The status's code when it is known without a parse and its reason is the standard one
    /// (``HTTPSerializer/standardReasonPhrase(_:)``); -1 when not. Set by ``init(status:headerFields:body:)``,
    /// cleared by any change through ``head``. `HTTPResponse.status` parses its pseudo field on every
    /// read (six reference counts, and the digits), and the server reads it for each response; a
    /// code, unlike a kept `Status`, costs no reference count when the response is copied.
    private var knownCode: Int16
    /// The body (ignored for HEAD, 1xx, 204 and 304).
    public var body: HTTPBody
    /// For a `101 Switching Protocols`: what takes the connection over once the head is out (a
    /// WebSocket); the connection closes when it returns.
    var upgrade: (@Sendable (HTTPServerConnection) async -> Void)?

    /// A response with `status`, `headerFields` and `body`.
    public init(status: HTTPResponse.Status = .ok, headerFields: HTTPFields = [:], body: HTTPBody = .empty) {
        storedHead = HTTPResponse(status: status, headerFields: headerFields)
        knownCode = status.reasonPhrase == HTTPSerializer.standardReasonPhrase(status.code) ? Int16(status.code) : -1
        self.body = body
    }

    /// A response of `head` and `body`.
    public init(_ head: HTTPResponse, body: HTTPBody = .empty) {
        storedHead = head
        knownCode = -1
        self.body = body
    }

    /// The status, `head.status`.
    public var status: HTTPResponse.Status {
        knownCode >= 0 ? HTTPResponse.Status(code: Int(knownCode), reasonPhrase: HTTPSerializer.standardReasonPhrase(Int(knownCode)))
            : storedHead.status
    }

    /// The status's code, without a parse when the response has the status it was made with.
    var statusCode: Int { knownCode >= 0 ? Int(knownCode) : storedHead.status.code }

    /// The status line's parts, for the server to write it: the code, and the reason phrase unless it
    /// is the standard one (nil). Without a parse when the response has the status it was made with.
    var statusLine: (code: Int, reason: String?) {
        if knownCode >= 0 { return (Int(knownCode), nil) }
        let status = storedHead.status
        return (status.code, status.reasonPhrase)
    }

    /// The header fields, `head.headerFields`: changing them through this property leaves the status
    /// known (see ``status``).
    public var headerFields: HTTPFields {
        _read { yield storedHead.headerFields }
        _modify { yield &storedHead.headerFields }
    }

    /// A `text/plain; charset=utf-8` response.
    public static func text(_ text: String, status: HTTPResponse.Status = .ok) -> HTTPServerResponse {
        HTTPServerResponse(status: status, headerFields: [.contentType: "text/plain; charset=utf-8"], body: HTTPBody(text))
    }

    /// A `text/html; charset=utf-8` response.
    public static func html(_ html: String, status: HTTPResponse.Status = .ok) -> HTTPServerResponse {
        HTTPServerResponse(status: status, headerFields: [.contentType: "text/html; charset=utf-8"], body: HTTPBody(html))
    }

    /// An `application/json` response of already-encoded JSON.
    public static func json(_ json: String, status: HTTPResponse.Status = .ok) -> HTTPServerResponse {
        HTTPServerResponse(status: status, headerFields: [.contentType: "application/json"], body: HTTPBody(json))
    }
}

/// Percent-decoding of URL components (RFC 3986 §2.1).
public enum PercentDecoding {
    /// `text` with `%XX` escapes decoded (and `+` as a space if asked); invalid escapes stay as they are,
    /// invalid UTF-8 becomes U+FFFD.
    public static func decode(_ text: some StringProtocol, plusIsSpace: Bool = false) -> String {
        let utf8 = Array(text.utf8)
        guard utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusIsSpace && $0 == UInt8(ascii: "+")) }) else {
            return String(text)
        }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        var index = 0
        while index < utf8.count {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%"), index + 2 < utf8.count, let high = hexValue(utf8[index + 1]), let low = hexValue(utf8[index + 2]) {
                out.append(UInt8(high << 4 | low))
                index += 3
            } else {
                out.append(plusIsSpace && byte == UInt8(ascii: "+") ? SP : byte)
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

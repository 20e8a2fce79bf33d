import FoundationEssentials
import HTTPTypes

/// JSON bodies through `Codable` (aiohttp's `json=` and `await response.json()`), with the toolchain's
/// `FoundationEssentials` coders.
extension HTTPBody {
    /// `value` encoded as JSON.
    ///
    /// - Throws: `EncodingError` if `value` cannot be encoded.
    public static func json(_ value: some Encodable, encoder: JSONEncoder = JSONEncoder()) throws -> HTTPBody {
        HTTPBody(bytes: Array(try encoder.encode(value)))
    }
}

extension HTTPClient {
    /// Sends `method url` with `value` as a JSON body (`Content-Type: application/json` unless
    /// `headerFields` has one).
    ///
    /// - Throws: `EncodingError`; what ``request(_:_:query:headerFields:body:timeouts:)`` throws.
    ///
    /// ### Cancellation
    /// As ``request(_:_:query:headerFields:body:timeouts:)``.
    public func request(
        _ method: HTTPRequest.Method, _ url: String, json value: some Encodable, headerFields: HTTPFields = [:],
        timeouts: Timeouts? = nil
    ) async throws -> HTTPClientResponse {
        var fields = headerFields
        if fields[.contentType] == nil { fields[.contentType] = "application/json" }
        return try await request(method, url, headerFields: fields, body: try .json(value), timeouts: timeouts)
    }

    /// `POST url` with `value` as a JSON body.
    ///
    /// ### Cancellation
    /// As ``request(_:_:query:headerFields:body:timeouts:)``.
    public func post(
        _ url: String, json value: some Encodable, headerFields: HTTPFields = [:], timeouts: Timeouts? = nil
    ) async throws -> HTTPClientResponse {
        try await request(.post, url, json: value, headerFields: headerFields, timeouts: timeouts)
    }
}

extension HTTPClientResponse {
    /// Reads the body (up to `limit` bytes) and decodes it as JSON.
    ///
    /// - Throws: `DecodingError`; what ``HTTPClientResponseBody/collect(upTo:)`` throws.
    ///
    /// ### Cancellation
    /// As ``HTTPClientResponseBody/collect(upTo:)``.
    public func json<Value: Decodable>(
        as type: Value.Type = Value.self, limit: Int = 16 * 1024 * 1024, decoder: JSONDecoder = JSONDecoder()
    ) async throws -> Value {
        try decoder.decode(type, from: Data(try await body.collect(upTo: limit)))
    }

    /// Reads the body (up to `limit` bytes) as text in the `charset` of `Content-Type`: UTF-8 by
    /// default and for `utf-8`; ISO-8859-1 (and its alias `us-ascii`) byte for byte. Invalid UTF-8
    /// becomes U+FFFD.
    ///
    /// ### Cancellation
    /// As ``HTTPClientResponseBody/collect(upTo:)``.
    public func text(limit: Int = 16 * 1024 * 1024) async throws -> String {
        let bytes = try await body.collect(upTo: limit)
        let charset = headerFields[.contentType].flatMap(Self.charset) ?? "utf-8"
        switch charset {
        case "iso-8859-1", "latin1", "latin-1", "us-ascii", "ascii":
            return String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
        default:
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// The `charset` parameter of a `Content-Type` value, lowercased.
    static func charset(_ contentType: String) -> String? {
        HTTPHeaderValue.parameter("charset", in: contentType)?.lowercased()
    }
}

extension HTTPServerRequest {
    /// Reads the body (up to `limit` bytes) and decodes it as JSON (aiohttp's `await request.json()`).
    ///
    /// - Throws: `DecodingError`; ``HTTPBodyError`` `.tooLarge` past `limit`.
    ///
    /// ### Cancellation
    /// Stops reading; the connection is closed.
    public func json<Value: Decodable>(
        as type: Value.Type = Value.self, limit: Int = 10 * 1024 * 1024, decoder: JSONDecoder = JSONDecoder()
    ) async throws -> Value {
        try decoder.decode(type, from: Data(try await body.collect(upTo: limit)))
    }
}

extension HTTPServerResponse {
    /// A JSON response of `value` (aiohttp's `web.json_response`).
    ///
    /// - Throws: `EncodingError` if `value` cannot be encoded.
    public static func json(
        _ value: some Encodable, status: HTTPResponse.Status = .ok, encoder: JSONEncoder = JSONEncoder()
    ) throws -> HTTPServerResponse {
        HTTPServerResponse(status: status, headerFields: [.contentType: "application/json"], body: try .json(value, encoder: encoder))
    }
}

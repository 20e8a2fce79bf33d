import AsyncIOTLS

/// Why an HTTP client request failed, naming the URL.
public struct HTTPClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The class of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Value: Hashable, Sendable {
            case badURL, tls, resolution, refused, connectFailed, timedOut
            case protocolError, connectionClosed, tooManyRedirects, bodyTooLarge, badContentEncoding
        }
        let value: Value

        /// The URL cannot be requested (syntax, scheme, port).
        public static let badURL = Code(value: .badURL)
        /// The TLS handshake failed or the server's certificate was rejected (``HTTPClientError/tlsCode``
        /// says why).
        public static let tls = Code(value: .tls)
        /// The host name did not resolve.
        public static let resolution = Code(value: .resolution)
        /// Nobody listens at the address.
        public static let refused = Code(value: .refused)
        /// The connection could not be made for another reason.
        public static let connectFailed = Code(value: .connectFailed)
        /// The connect, read or total timeout passed.
        public static let timedOut = Code(value: .timedOut)
        /// The server's response broke HTTP/1.1.
        public static let protocolError = Code(value: .protocolError)
        /// The connection closed or reset before the response was complete.
        public static let connectionClosed = Code(value: .connectionClosed)
        /// More redirects than the limit.
        public static let tooManyRedirects = Code(value: .tooManyRedirects)
        /// The body was larger than the caller's limit.
        public static let bodyTooLarge = Code(value: .bodyTooLarge)
        /// The body is in a content coding the client does not know, or does not decode in it (corrupt
        /// or cut short).
        public static let badContentEncoding = Code(value: .badContentEncoding)

        public var description: String {
            switch value {
            case .badURL: "bad URL"
            case .tls: "TLS failed"
            case .resolution: "name resolution failed"
            case .refused: "connection refused"
            case .connectFailed: "connect failed"
            case .timedOut: "timed out"
            case .protocolError: "protocol error"
            case .connectionClosed: "connection closed"
            case .tooManyRedirects: "too many redirects"
            case .bodyTooLarge: "body too large"
            case .badContentEncoding: "bad content encoding"
            }
        }
    }

    /// The class of failure.
    public let code: Code
    /// The URL requested.
    public let url: String
    /// The details.
    public let detail: String
    /// For ``Code-swift.struct/tls``: the TLS failure (unknown issuer, expired, host name mismatch, ...).
    public let tlsCode: TLSError.Code?

    /// An error of `code` for `url`.
    public init(_ code: Code, url: String, _ detail: String, tlsCode: TLSError.Code? = nil) {
        self.code = code
        self.url = url
        self.detail = detail
        self.tlsCode = tlsCode
    }

    public var description: String {
        detail.isEmpty ? "\(url): \(code)" : "\(url): \(code): \(detail)"
    }
}

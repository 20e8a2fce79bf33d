import HTTPTypes

/// How a message's body is delimited on the wire (RFC 9112 §6).
public enum HTTPBodyFraming: Hashable, Sendable {
    /// No body at all.
    case none
    /// Exactly this many bytes (`Content-Length`).
    case length(Int)
    /// `Transfer-Encoding: chunked`.
    case chunked
    /// A response body that ends when the connection closes.
    case untilClose
}

/// A parsed request head: the request, and what HTTP/1.1 says about its connection and body.
public struct HTTPRequestHead: Sendable {
    /// The request. `Host` is in `authority`, as in every HTTP version; the target is in `path`.
    public var request: HTTPRequest
    /// The version on the request line.
    public var version: HTTPVersion
    /// How the body is delimited.
    public var framing: HTTPBodyFraming
    /// Whether the connection may carry another request after this one (version and `Connection`).
    public var keepAlive: Bool
    /// Whether the client waits for `100 Continue` before sending the body.
    public var expectsContinue: Bool
    /// Whether the method is `HEAD`, as parsed: for the server's answer, which would otherwise read
    /// the method out of the request (a copy of its pseudo field, and a parse).
    var isHEAD = false
}

/// A parsed response head: the response, and what HTTP/1.1 says about its connection and body.
public struct HTTPResponseHead: Sendable {
    /// The response.
    public var response: HTTPResponse
    /// The version on the status line.
    public var version: HTTPVersion
    /// How the body is delimited (none for HEAD, 1xx, 204 and 304).
    public var framing: HTTPBodyFraming
    /// Whether the connection may carry another request after this response.
    public var keepAlive: Bool
}

import AsyncIO
import HTTPTypes

/// Callbacks for logging and metrics around every request of an ``HTTPClient`` (aiohttp's
/// `TraceConfig`): each is optional and runs on the client's loop, in the request's task.
///
/// ```swift
/// var configuration = HTTPClient.Configuration()
/// configuration.trace.requestEnd = { event in
///     print("\(event.method) \(event.url) -> \(event.status.code) in \(event.duration)")
/// }
/// ```
public struct HTTPClientTrace: Sendable {
    /// A request is about to be sent (each redirect hop is one request).
    public struct Start: Sendable {
        /// The method.
        public let method: HTTPRequest.Method
        /// Where it goes.
        public let url: HTTPURL
        /// The fields it carries (before framing, `User-Agent` and `Accept-Encoding` are added).
        public let headerFields: HTTPFields
    }

    /// A response head arrived for a request.
    public struct End: Sendable {
        /// The method.
        public let method: HTTPRequest.Method
        /// Where it went.
        public let url: HTTPURL
        /// The status.
        public let status: HTTPResponse.Status
        /// From the start of the request to the response head, on the loop's clock.
        public let duration: Duration
        /// Whether a pooled connection carried it.
        public let reusedConnection: Bool
    }

    /// A request failed.
    public struct Failure: Sendable {
        /// The method.
        public let method: HTTPRequest.Method
        /// Where it was going.
        public let url: HTTPURL
        /// Why.
        public let error: any Error
    }

    /// Called before each request is sent.
    public var requestStart: (@Sendable (Start) -> Void)?
    /// Called when each response head has arrived.
    public var requestEnd: (@Sendable (End) -> Void)?
    /// Called when a request fails (the error is thrown to the caller as well).
    public var requestFailed: (@Sendable (Failure) -> Void)?
    /// Called when the client opens a new connection to `url`'s host (or its proxy).
    public var connectionCreated: (@Sendable (HTTPURL) -> Void)?

    /// No callbacks.
    public init() {}
}

/// A WebSocket message: text (valid UTF-8) or binary (RFC 6455 §5.6).
public enum WebSocketMessage: Sendable, Hashable {
    /// A text message.
    case text(String)
    /// A binary message.
    case binary([UInt8])
}

/// A close code (RFC 6455 §7.4): why a WebSocket was closed.
public struct WebSocketCloseCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// 1000: the purpose of the connection is fulfilled.
    public static let normal = WebSocketCloseCode(rawValue: 1000)
    /// 1001: the endpoint is going away (a server shutting down, a page left).
    public static let goingAway = WebSocketCloseCode(rawValue: 1001)
    /// 1002: the peer broke the protocol.
    public static let protocolError = WebSocketCloseCode(rawValue: 1002)
    /// 1003: a message of a type the endpoint cannot accept.
    public static let unsupportedData = WebSocketCloseCode(rawValue: 1003)
    /// 1005: a close frame without a code (never sent in a frame).
    public static let noStatus = WebSocketCloseCode(rawValue: 1005)
    /// 1006: the connection dropped without a close frame (never sent in a frame).
    public static let abnormal = WebSocketCloseCode(rawValue: 1006)
    /// 1007: a text message (or close reason) that is not valid UTF-8.
    public static let invalidPayload = WebSocketCloseCode(rawValue: 1007)
    /// 1008: a message that violates the endpoint's policy.
    public static let policyViolation = WebSocketCloseCode(rawValue: 1008)
    /// 1009: a message too big to process.
    public static let messageTooBig = WebSocketCloseCode(rawValue: 1009)
    /// 1010: the client expected an extension the server did not negotiate.
    public static let mandatoryExtension = WebSocketCloseCode(rawValue: 1010)
    /// 1011: the server met an unexpected condition.
    public static let internalError = WebSocketCloseCode(rawValue: 1011)

    /// Whether the code may travel in a close frame (RFC 6455 §7.4.1-2): 1000–1003, 1007–1011, and
    /// 3000–4999 (registered and private codes).
    public var isSendable: Bool {
        switch rawValue {
        case 1000...1003, 1007...1011, 3000...4999: return true
        default: return false
        }
    }

    public var description: String { "\(rawValue)" }
}

/// Why a WebSocket failed.
public struct WebSocketError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let value: Int
        let name: String
        /// The peer broke the protocol; the connection was closed with the `closeCode`.
        public static let protocolViolation = Code(value: 0, name: "protocol violation")
        /// The upgrade handshake failed (not `101`, a bad `Sec-WebSocket-Accept`, a refused extension).
        public static let handshakeFailed = Code(value: 1, name: "handshake failed")
        /// The connection dropped without a close frame.
        public static let connectionLost = Code(value: 2, name: "connection lost")
        /// No pong came back to the heartbeat's ping in time.
        public static let heartbeatTimeout = Code(value: 3, name: "heartbeat timeout")
        /// The WebSocket is closed (by either side); nothing more can be sent.
        public static let closed = Code(value: 4, name: "closed")
        /// A second task tried to receive while one was receiving.
        public static let busy = Code(value: 5, name: "busy")
        public var description: String { name }
    }

    /// What kind of failure.
    public let code: Code
    /// The close code sent or received, when there is one.
    public let closeCode: WebSocketCloseCode?
    /// The details.
    public let message: String

    /// An error.
    public init(_ code: Code, closeCode: WebSocketCloseCode? = nil, _ message: String) {
        self.code = code
        self.closeCode = closeCode
        self.message = message
    }

    public var description: String {
        "WebSocket \(code)\(closeCode.map { " (\($0))" } ?? ""): \(message)"
    }
}

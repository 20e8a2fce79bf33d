import AsyncIO
import COpenSSL

/// A TLS failure: a handshake that failed and why, a certificate that was rejected, a connection cut
/// without `close_notify`, or a configuration that cannot be loaded.
///
/// Switch on ``code``; ``description`` says what happened in words, naming the host or the file, and
/// ``reason`` carries OpenSSL's own reason when there is one.
public struct TLSError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure: a value to switch on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Value: Hashable, Sendable {
            case configuration, handshakeFailed, handshakeTimedOut, protocolVersion, unknownIssuer
            case certificateExpired, certificateNotYetValid, hostnameMismatch, certificateRejected
            case peerCertificateRequired, truncated, protocolError
        }
        let value: Value

        /// A certificate, key or CA file cannot be read, or the certificate and key do not belong together.
        public static let configuration = Code(value: .configuration)
        /// The handshake failed for another reason (no shared cipher, the peer's alert, not TLS at all).
        public static let handshakeFailed = Code(value: .handshakeFailed)
        /// The handshake did not finish within the configured time.
        public static let handshakeTimedOut = Code(value: .handshakeTimedOut)
        /// The peer offered only protocol versions outside the allowed range (such as TLS 1.0).
        public static let protocolVersion = Code(value: .protocolVersion)
        /// The peer's certificate chain does not lead to a trusted root.
        public static let unknownIssuer = Code(value: .unknownIssuer)
        /// A certificate in the peer's chain has expired.
        public static let certificateExpired = Code(value: .certificateExpired)
        /// A certificate in the peer's chain is not valid yet.
        public static let certificateNotYetValid = Code(value: .certificateNotYetValid)
        /// The peer's certificate is not for the host name or IP address connected to.
        public static let hostnameMismatch = Code(value: .hostnameMismatch)
        /// The peer's certificate was rejected for another reason (bad signature, wrong purpose, ...).
        public static let certificateRejected = Code(value: .certificateRejected)
        /// A server that requires client certificates got none.
        public static let peerCertificateRequired = Code(value: .peerCertificateRequired)
        /// The connection ended without `close_notify`: what was received may have been cut short.
        public static let truncated = Code(value: .truncated)
        /// A TLS protocol error after the handshake (a bad record, a fatal alert from the peer).
        public static let protocolError = Code(value: .protocolError)

        public var description: String {
            switch value {
            case .configuration: "configuration"
            case .handshakeFailed: "handshake failed"
            case .handshakeTimedOut: "handshake timed out"
            case .protocolVersion: "protocol version"
            case .unknownIssuer: "unknown issuer"
            case .certificateExpired: "certificate expired"
            case .certificateNotYetValid: "certificate not yet valid"
            case .hostnameMismatch: "host name mismatch"
            case .certificateRejected: "certificate rejected"
            case .peerCertificateRequired: "peer certificate required"
            case .truncated: "truncated"
            case .protocolError: "protocol error"
            }
        }
    }

    /// What went wrong.
    public let code: Code
    /// What a person should read: what failed, with the host or file.
    public let message: String
    /// OpenSSL's reason ("certificate verify failed", "wrong version number"), when there is one.
    public let reason: String?

    /// A TLS error with `code` and a message.
    public init(_ code: Code, _ message: String, reason: String? = nil) {
        self.code = code
        self.message = message
        self.reason = reason
    }

    public var description: String {
        if let reason, !message.contains(reason) { return "TLS \(code): \(message) (\(reason))" }
        return "TLS \(code): \(message)"
    }
}

/// OpenSSL's error queue, read and cleared.
enum OpenSSLErrors {
    /// The reason of the earliest error in the queue and its packed code; the queue is cleared.
    static func take() -> (reason: String?, code: UInt) {
        let code = ERR_get_error()
        defer { ERR_clear_error() }
        guard code != 0, let text = ERR_reason_error_string(code) else { return (nil, code) }
        return (String(cString: text), code)
    }

    /// The reason of the earliest queued error, or `fallback`.
    static func reason(or fallback: String) -> String { take().reason ?? fallback }
}

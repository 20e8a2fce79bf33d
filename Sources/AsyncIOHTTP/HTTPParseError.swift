/// Why the HTTP parser rejected a message, where, and the status a server answers with.
///
/// The parser is strict (RFC 9112): anything that could let two parsers disagree about where a
/// message ends (request smuggling) is an error, never a guess.
public struct HTTPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The class of failure, which decides the response status.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        enum Value: Hashable, Sendable {
            case malformed, requestLineTooLong, headerSectionTooLarge, bodyTooLarge
            case unsupportedTransferCoding, unsupportedVersion, incomplete
        }
        let value: Value

        /// The message breaks the grammar or the framing rules: `400 Bad Request`.
        public static let malformed = Kind(value: .malformed)
        /// The request line is longer than the limit: `414 URI Too Long`.
        public static let requestLineTooLong = Kind(value: .requestLineTooLong)
        /// The header (or trailer) section is larger than the limit: `431 Request Header Fields Too Large`.
        public static let headerSectionTooLarge = Kind(value: .headerSectionTooLarge)
        /// The body is larger than the limit: `413 Content Too Large`.
        public static let bodyTooLarge = Kind(value: .bodyTooLarge)
        /// A transfer coding other than `chunked`: `501 Not Implemented`.
        public static let unsupportedTransferCoding = Kind(value: .unsupportedTransferCoding)
        /// A major version other than 1: `505 HTTP Version Not Supported`.
        public static let unsupportedVersion = Kind(value: .unsupportedVersion)
        /// The stream ended inside a message.
        public static let incomplete = Kind(value: .incomplete)

        public var description: String {
            switch value {
            case .malformed: "malformed message"
            case .requestLineTooLong: "request line too long"
            case .headerSectionTooLarge: "header section too large"
            case .bodyTooLarge: "body too large"
            case .unsupportedTransferCoding: "unsupported transfer coding"
            case .unsupportedVersion: "unsupported HTTP version"
            case .incomplete: "incomplete message"
            }
        }
    }

    /// The class of failure.
    public let kind: Kind
    /// What exactly was wrong, for logs and for the body of the error response.
    public let reason: String
    /// The offset of the offending byte from the start of the stream the parser has seen.
    public let offset: Int

    /// An error of `kind` at `offset`.
    public init(_ kind: Kind, _ reason: String, offset: Int) {
        self.kind = kind
        self.reason = reason
        self.offset = offset
    }

    /// The status code a server answers this error with.
    public var status: Int {
        switch kind.value {
        case .malformed, .incomplete: 400
        case .requestLineTooLong: 414
        case .headerSectionTooLarge: 431
        case .bodyTooLarge: 413
        case .unsupportedTransferCoding: 501
        case .unsupportedVersion: 505
        }
    }

    public var description: String { "\(kind): \(reason) (at byte \(offset))" }
}

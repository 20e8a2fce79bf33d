import AsyncIOSystem

/// An error from a socket, stream or server: what happened, to which operation, and the system error
/// behind it when there is one.
///
/// The vocabulary is trio's and asyncio's: ``Code-swift.struct/closed`` (you closed it),
/// ``Code-swift.struct/broken`` (the peer or the OS did: `ECONNRESET`, `EPIPE`),
/// ``Code-swift.struct/busy`` (another task is already reading or writing),
/// ``Code-swift.struct/incompleteRead`` and ``Code-swift.struct/limitOverrun``.
public struct StreamError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case closed, broken, busy, incompleteRead, limitOverrun, refused, resolution, addressInUse, system, timedOut
        }
        private let value: Value
        /// The stream or socket was closed by this side.
        public static let closed = Code(value: .closed)
        /// The peer or the OS broke the connection (reset, broken pipe).
        public static let broken = Code(value: .broken)
        /// Another task is already waiting to read (or write) on this stream.
        public static let busy = Code(value: .busy)
        /// End of stream came before the bytes asked for; they are in ``StreamError/partial``.
        public static let incompleteRead = Code(value: .incompleteRead)
        /// A line or separator was not found within the reader's limit.
        public static let limitOverrun = Code(value: .limitOverrun)
        /// Nobody listens at the address (`ECONNREFUSED`).
        public static let refused = Code(value: .refused)
        /// The host name could not be resolved.
        public static let resolution = Code(value: .resolution)
        /// The address is already in use (`EADDRINUSE`).
        public static let addressInUse = Code(value: .addressInUse)
        /// Another system error; see ``StreamError/underlying``.
        public static let system = Code(value: .system)
        /// Buffered bytes made no progress for the writer's ``StreamWriter/stallTimeout``: the peer reads
        /// nothing. The stream was aborted.
        public static let timedOut = Code(value: .timedOut)

        public var description: String {
            switch value {
            case .closed: "closed"
            case .broken: "broken"
            case .busy: "busy"
            case .incompleteRead: "incomplete read"
            case .limitOverrun: "limit overrun"
            case .refused: "connection refused"
            case .resolution: "name resolution failed"
            case .addressInUse: "address in use"
            case .system: "system error"
            case .timedOut: "timed out"
            }
        }
    }

    /// What went wrong.
    public let code: Code
    /// The operation, with its target: "connect 127.0.0.1:9", "read", "bind [::1]:80".
    public let operation: String
    /// The system error, when there is one.
    public let underlying: Errno?
    /// More detail (the resolver's reason, a limit).
    public let detail: String?
    /// The bytes read before end of stream, for ``Code-swift.struct/incompleteRead``.
    public let partial: [UInt8]
    /// How many bytes were expected, for ``Code-swift.struct/incompleteRead``; how many were buffered, for
    /// ``Code-swift.struct/limitOverrun``.
    public let expected: Int

    /// Creates an error.
    public init(
        _ code: Code,
        operation: String,
        underlying: Errno? = nil,
        detail: String? = nil,
        partial: [UInt8] = [],
        expected: Int = 0
    ) {
        self.code = code
        self.operation = operation
        self.underlying = underlying
        self.detail = detail
        self.partial = partial
        self.expected = expected
    }

    /// `.incompleteRead`: end of stream after `partial.count` of `expected` bytes.
    public static func incompleteRead(partial: [UInt8], expected: Int) -> StreamError {
        StreamError(.incompleteRead, operation: "read", partial: partial, expected: expected)
    }

    /// A registration's wait failure as the stream sees it: another task already waits (`.busy`), or the
    /// descriptor or its loop closed (`.closed`). The one place sockets map loop errors.
    static func from(_ error: EventLoopError, operation: String) -> StreamError {
        StreamError(error.code == .busy ? .busy : .closed, operation: operation)
    }

    /// Classifies a system error from `operation`.
    static func from(_ errno: Errno, operation: String) -> StreamError {
        switch errno {
        case .connectionReset, .brokenPipe, .connectionAborted, .timedOut:
            StreamError(.broken, operation: operation, underlying: errno)
        case .connectionRefused:
            StreamError(.refused, operation: operation, underlying: errno)
        case .addressInUse:
            StreamError(.addressInUse, operation: operation, underlying: errno)
        default:
            StreamError(.system, operation: operation, underlying: errno)
        }
    }

    public var description: String {
        var text = "\(operation): \(code)"
        if code == .incompleteRead { text += " (got \(partial.count) of \(expected) bytes before end of stream)" }
        if code == .limitOverrun { text += " (\(expected) bytes buffered without finding it)" }
        if let detail { text += " (\(detail))" }
        if let underlying { text += ": \(underlying)" }
        return text
    }
}

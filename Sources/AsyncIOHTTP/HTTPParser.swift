import HTTPTypes

/// A strict, incremental HTTP/1.1 parser for requests or responses: a pure state machine over bytes,
/// with no I/O.
///
/// Feed it whatever bytes have arrived; it consumes what it can and reports one event at a time. Bytes
/// it does not consume (a partial line) must be presented again, followed by more, on the next call:
///
/// ```swift
/// var parser = HTTPParser(.request)
/// let (consumed, event) = try parser.parse(bytes)   // event is nil: needs more bytes
/// ```
///
/// A message is reported as a head event, any number of ``Event/body(_:)`` slices, and ``Event/end(trailers:)``;
/// then the parser is ready for the next message on the same connection.
///
/// It follows RFC 9112 to the letter where leniency would let two parsers disagree about where a
/// message ends: it rejects `Content-Length` together with `Transfer-Encoding`, differing or signed
/// lengths, bad or overflowing chunk sizes, obs-fold, whitespace before a colon, bare CR or LF, invalid
/// tokens and field-value bytes, and a missing `Host` in HTTP/1.1. Errors carry the byte offset.
public struct HTTPParser: Sendable {
    /// Whether the parser reads requests (a server) or responses (a client).
    public enum Kind: Sendable { case request, response }

    /// Size limits; each has its own error (and status code).
    public struct Limits: Sendable, Hashable {
        /// The longest request or status line (414 beyond).
        public var maxStartLineLength: Int
        /// The largest header section, and separately the largest trailer section (431 beyond).
        public var maxHeaderSectionSize: Int
        /// The most fields in a header section (431 beyond).
        public var maxFieldCount: Int
        /// The largest body (413 beyond).
        public var maxBodySize: Int

        /// Limits with defaults: 8 KiB lines, 32 KiB and 128 fields of header, no body limit.
        public init(
            maxStartLineLength: Int = 8 * 1024,
            maxHeaderSectionSize: Int = 32 * 1024,
            maxFieldCount: Int = 128,
            maxBodySize: Int = .max
        ) {
            self.maxStartLineLength = maxStartLineLength
            self.maxHeaderSectionSize = maxHeaderSectionSize
            self.maxFieldCount = maxFieldCount
            self.maxBodySize = maxBodySize
        }
    }

    /// What the parser found.
    public enum Event: Sendable {
        /// A complete request head.
        case requestHead(HTTPRequestHead)
        /// A complete response head. After a 1xx head, the final response follows.
        case responseHead(HTTPResponseHead)
        /// Body bytes: this range of the buffer passed to ``HTTPParser/parse(_:)``.
        case body(Range<Int>)
        /// The message is complete, with its trailer fields (empty unless chunked with trailers).
        case end(trailers: HTTPFields)
    }

    enum State: Sendable {
        case startLine
        case fields
        case body(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
        case endPending
        /// The error is ``HTTPParser/failure``: a state with no reference in it is switched over
        /// without a copy of its payload (a reference count, a parse).
        case failed
    }

    /// Whether this parser reads requests or responses.
    public let kind: Kind
    /// The limits in force.
    public var limits: Limits

    /// For a response parser: the method of the request being answered (HEAD responses have no body).
    /// Set it before each response.
    public var requestMethod: HTTPRequest.Method = .get

    var state: State = .startLine
    /// What the parser failed with (in ``State/failed``).
    var failure: HTTPParseError?
    /// Bytes consumed before the current call, for error offsets.
    var streamOffset = 0
    /// Bytes of the pending (unterminated) line already scanned.
    var lineScanned = 0
    /// Empty lines skipped before a request line (RFC 9112 §2.2 allows one; we allow a few).
    var leadingEmptyLines = 0
    var message = MessageState()
    var bodyTotal = 0
    /// The last request head, kept so the next one can reuse its storage: once the handler has let go
    /// of it, the copy here is unique and updating it in place allocates nothing.
    var lastRequest: LastRequest?
    /// Changes (by one) with every request head whose method or path is not the last one's: two
    /// requests that read the same number route alike, so a server can keep the last request's
    /// route without reading either pseudo field back out of the request (a copy of each string).
    /// Set only by `finishRequestHead(at:)`.
    var routeGeneration: UInt64 = 0

    /// A request head kept for reuse, with its pseudo fields as the parser decoded them: the next
    /// request's are compared with these, not through HTTPTypes' getters (each copies a field out of
    /// the request's storage, a reference count for each of its parts, and parses it).
    struct LastRequest {
        var request: HTTPRequest
        var method: HTTPRequest.Method
        var scheme: String?
        var authority: String?
        var path: String?
        /// Whether the request's fields are empty.
        var hadNoFields = false

        /// Sets the request's pseudo fields. HTTPTypes validates what its setters are given (again: the
        /// parser has): a value equal to the last request's (the host and method on a keep-alive
        /// connection, often the path) is kept as it is, for a comparison of strings. Returns whether
        /// the method or the path changed.
        mutating func update(method: HTTPRequest.Method, scheme: String?, authority: String?, path: String?) -> Bool {
            var routeChanged = false
            if self.method != method { request.method = method; self.method = method; routeChanged = true }
            if self.scheme != scheme { request.scheme = scheme; self.scheme = scheme }
            if self.authority != authority { request.authority = authority; self.authority = authority }
            if self.path != path { request.path = path; self.path = path; routeChanged = true }
            return routeChanged
        }
    }
    /// The same for responses.
    var lastResponse: HTTPResponse?
    /// The current (else the last) request's target and `Host` value. The head is built from these
    /// (the host only when the message has a `Host` field, ``MessageState/hostCount``): no copy of
    /// either is kept in the message state, to be released and replaced on every message.
    var lastTarget = HTTPKeptValue()
    var lastHost = HTTPKeptValue()

    /// Whether `a` and `b` hold the same bytes, compared eight at a time (`elementsEqual` goes a byte
    /// at a time through the collection protocols: 0.6 % of `/plaintext`'s CPU for two short strings).
    static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        var offset = 0
        if a.count >= 8 {
            while offset + 8 < a.count {
                // SAFETY: `offset + 8 < a.count == b.count`: the eight bytes are inside both.
                let left = a.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
                guard left == b.loadUnaligned(fromByteOffset: offset, as: UInt64.self) else { return false }
                offset += 8
            }
            // The last eight bytes, overlapping those compared already.
            // SAFETY: `0 <= a.count - 8`: the eight bytes are inside both.
            let left = a.loadUnaligned(fromByteOffset: a.count - 8, as: UInt64.self)
            return left == b.loadUnaligned(fromByteOffset: a.count - 8, as: UInt64.self)
        }
        while offset < a.count {
            guard a[offset] == b[offset] else { return false }
            offset += 1
        }
        return true
    }

    /// What has been learned from the head so far. The request's target and host are the parser's
    /// ``lastTarget`` and ``lastHost``. A member added here must be reset in ``reset()``, which goes
    /// member by member.
    struct MessageState: Sendable {
        /// Set by every request line (and unused for responses).
        var method: HTTPRequest.Method = .get
        /// What the parser needs to know of `method`, set with it.
        var methodKind = MethodKind.other
        var status = 0
        var reason = ""
        var version = HTTPVersion.http1_1
        /// The fields so far, in a buffer that keeps its capacity from message to message.
        var fields: [HTTPField] = []
        var headerBytes = 0
        var fieldCount = 0
        var contentLength: Int?
        var transferEncodingSeen = false
        var chunked = false
        /// A response's codings end with chunked (RFC 9112 §6.3: then the body is chunked; otherwise
        /// it runs until the connection closes).
        var chunkedIsLast = false
        var unsupportedCoding = false
        var hostCount = 0
        var connectionClose = false
        var connectionKeepAlive = false
        var expectsContinue = false

        /// Back to the start of a message, keeping the fields buffer's capacity and the method (which
        /// the next request line sets): member by member, so that no string is released and replaced
        /// by an equal one.
        mutating func reset() {
            status = 0
            if !reason.isEmpty { reason = "" }
            version = .http1_1
            if !fields.isEmpty { fields.removeAll(keepingCapacity: true) }  // else a release of the empty one
            headerBytes = 0
            fieldCount = 0
            contentLength = nil
            transferEncodingSeen = false
            chunked = false
            chunkedIsLast = false
            unsupportedCoding = false
            hostCount = 0
            connectionClose = false
            connectionKeepAlive = false
            expectsContinue = false
        }
    }

    /// A parser for requests or responses, with `limits`.
    public init(_ kind: Kind, limits: Limits = Limits()) {
        self.kind = kind
        self.limits = limits
    }

    /// Whether the parser is between messages with nothing pending: a connection closing now loses
    /// nothing.
    public var isIdle: Bool {
        if case .startLine = state { return lineScanned == 0 && leadingEmptyLines == 0 }
        return false
    }

    /// Consumes bytes from the front of `input` and reports the next event, or nil when it needs more.
    ///
    /// - Returns: How many bytes of `input` were consumed; the caller drops them and presents the rest
    ///   again, followed by more, on the next call. A ``Event/body(_:)`` range lies within the consumed
    ///   bytes.
    /// - Throws: ``HTTPParseError``; the parser then stays failed.
    public mutating func parse(_ input: UnsafeRawBufferPointer) throws(HTTPParseError) -> (consumed: Int, event: Event?) {
        var position = 0
        defer { streamOffset += position }
        while true {
            switch state {
            case .failed:
                throw failure ?? HTTPParseError(.malformed, "the parser failed", offset: streamOffset)

            case .startLine:
                guard let line = try findLine(input, from: position, limit: limits.maxStartLineLength, tooLong: .startLine)
                else { return (position, nil) }
                let start = position
                position = line.next
                if line.end == start {
                    // Empty lines before a request line are tolerated (RFC 9112 §2.2), a few of them.
                    leadingEmptyLines += 1
                    if leadingEmptyLines > 4 { throw fail(.malformed, "empty lines before the start line", at: start) }
                    continue
                }
                leadingEmptyLines = 0
                message.reset()
                let bytes = UnsafeRawBufferPointer(rebasing: input[start..<line.end])
                switch kind {
                case .request: try parseRequestLine(bytes, at: start)
                case .response: try parseStatusLine(bytes, at: start)
                }
                state = .fields

            case .fields:
                guard let line = try nextFieldLine(input, &position, section: "header") else { return (position, nil) }
                if line.isEmpty { return (position, try finishHead(at: line.lowerBound)) }
                try parseFieldLine(UnsafeRawBufferPointer(rebasing: input[line]), at: line.lowerBound, trailer: false)

            case .body(let remaining):
                let count = min(remaining, input.count - position)
                if count == 0 { return (position, nil) }
                let range = position..<(position + count)
                position += count
                state = count == remaining ? .endPending : .body(remaining: remaining - count)
                return (position, .body(range))

            case .chunkSize:
                guard let line = try findLine(input, from: position, limit: 1024, tooLong: .chunkLine)
                else { return (position, nil) }
                let start = position
                position = line.next
                let size = try parseChunkSize(UnsafeRawBufferPointer(rebasing: input[start..<line.end]), at: start)
                if size == 0 {
                    message.fields.removeAll(keepingCapacity: true)
                    message.headerBytes = 0
                    message.fieldCount = 0
                    state = .trailers
                } else {
                    if size > limits.maxBodySize - bodyTotal {
                        throw fail(.bodyTooLarge, "chunked body larger than \(limits.maxBodySize) bytes", at: start)
                    }
                    bodyTotal += size
                    state = .chunkData(remaining: size)
                }

            case .chunkData(let remaining):
                let count = min(remaining, input.count - position)
                if count == 0 { return (position, nil) }
                let range = position..<(position + count)
                position += count
                state = count == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - count)
                return (position, .body(range))

            case .chunkDataEnd:
                if input.count - position < 2 {
                    if input.count > position && input[position] != CR {
                        throw fail(.malformed, "chunk data not followed by CRLF", at: position)
                    }
                    return (position, nil)
                }
                guard input[position] == CR, input[position + 1] == LF else {
                    throw fail(.malformed, "chunk data not followed by CRLF", at: position)
                }
                position += 2
                state = .chunkSize

            case .trailers:
                guard let line = try nextFieldLine(input, &position, section: "trailer") else { return (position, nil) }
                if line.isEmpty {
                    let trailers = HTTPFields(message.fields)
                    message.fields.removeAll(keepingCapacity: true)
                    resetForNextMessage()
                    return (position, .end(trailers: trailers))
                }
                try parseFieldLine(UnsafeRawBufferPointer(rebasing: input[line]), at: line.lowerBound, trailer: true)

            case .untilClose:
                let count = input.count - position
                if count == 0 { return (position, nil) }
                let range = position..<input.count
                position = input.count
                return (position, .body(range))

            case .endPending:
                resetForNextMessage()
                return (position, .end(trailers: HTTPFields()))
            }
        }
    }

    /// Tells the parser the stream has ended; returns the last event, if the end completes a message
    /// (a body delimited by the connection closing).
    ///
    /// - Throws: ``HTTPParseError/Kind-swift.struct/incomplete`` if the stream ended inside a message.
    public mutating func finish() throws(HTTPParseError) -> Event? {
        switch state {
        case .untilClose, .endPending:
            resetForNextMessage()
            return .end(trailers: HTTPFields())
        case .startLine where isIdle:
            return nil
        case .failed:
            throw failure ?? HTTPParseError(.malformed, "the parser failed", offset: streamOffset)
        default:
            throw fail(.incomplete, "the stream ended inside a message", at: 0)
        }
    }

    /// Ends a message that has no body, as ``parse(_:)`` does when it reports its
    /// ``Event/end(trailers:)`` (with no trailers) right after the head: true if the message was one
    /// (the parser is then ready for the next), false otherwise (nothing changes). For a server,
    /// which knows from the head that nothing follows it: no call of `parse`, and no event, a request.
    mutating func endMessageWithoutBody() -> Bool {
        guard case .endPending = state else { return false }
        resetForNextMessage()
        return true
    }

    mutating func resetForNextMessage() {
        state = .startLine
        bodyTotal = 0
        lineScanned = 0
    }
}

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
        case failed(HTTPParseError)
    }

    /// Whether this parser reads requests or responses.
    public let kind: Kind
    /// The limits in force.
    public var limits: Limits

    /// For a response parser: the method of the request being answered (HEAD responses have no body).
    /// Set it before each response.
    public var requestMethod: HTTPRequest.Method = .get

    private var state: State = .startLine
    /// Bytes consumed before the current call, for error offsets.
    private var streamOffset = 0
    /// Bytes of the pending (unterminated) line already scanned.
    private var lineScanned = 0
    /// Empty lines skipped before a request line (RFC 9112 §2.2 allows one; we allow a few).
    private var leadingEmptyLines = 0
    private var message = MessageState()
    private var bodyTotal = 0
    /// The last request head, kept so the next one can reuse its storage: once the handler has let go
    /// of it, the copy here is unique and updating it in place allocates nothing.
    private var lastRequest: HTTPRequest?
    /// The same for responses.
    private var lastResponse: HTTPResponse?

    /// What has been learned from the head so far.
    private struct MessageState: Sendable {
        var method: HTTPRequest.Method = .get
        var target = ""
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
        var host: String?
        var hostCount = 0
        var connectionClose = false
        var connectionKeepAlive = false
        var expectsContinue = false

        /// Back to the start of a message, keeping the fields buffer's capacity.
        mutating func reset() {
            var fields = self.fields
            self.fields = []
            fields.removeAll(keepingCapacity: true)
            self = MessageState()
            self.fields = fields
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
            case .failed(let error):
                throw error

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
        case .failed(let error):
            throw error
        default:
            throw fail(.incomplete, "the stream ended inside a message", at: 0)
        }
    }

    private mutating func resetForNextMessage() {
        state = .startLine
        bodyTotal = 0
        lineScanned = 0
    }

    // MARK: - Lines

    /// The next line of a header or trailer section, counted against the section's size limit: its
    /// content's range (empty for the blank line that ends the section), or nil if it is incomplete.
    private mutating func nextFieldLine(
        _ input: UnsafeRawBufferPointer, _ position: inout Int, section: String
    ) throws(HTTPParseError) -> Range<Int>? {
        let limit = limits.maxHeaderSectionSize
        guard let line = try findLine(input, from: position, limit: limit, tooLong: .headerSection) else {
            if message.headerBytes + lineScanned > limit {
                throw fail(.headerSectionTooLarge, "\(section) section larger than \(limit) bytes", at: position)
            }
            return nil
        }
        let start = position
        position = line.next
        message.headerBytes += line.next - start
        if message.headerBytes > limit {
            throw fail(.headerSectionTooLarge, "\(section) section larger than \(limit) bytes", at: start)
        }
        return start..<line.end
    }

    /// Which limit a line is held to, for the error when it is exceeded.
    private enum LineLimit { case startLine, headerSection, chunkLine }

    /// Finds the CRLF ending the line that starts at `start`: returns the end of its content and the
    /// start of the next line, or nil if the line is incomplete. Rejects bare CR and bare LF.
    @inline(__always)
    private mutating func findLine(
        _ input: UnsafeRawBufferPointer, from start: Int, limit: Int, tooLong: LineLimit
    ) throws(HTTPParseError) -> (end: Int, next: Int)? {
        var index = start + lineScanned
        let end = input.count
        while index < end {
            let byte = input[index]
            if byte == LF { throw fail(.malformed, "bare LF (lines end in CRLF)", at: index) }
            if byte == CR {
                if index + 1 == end { break }
                guard input[index + 1] == LF else { throw fail(.malformed, "bare CR", at: index) }
                lineScanned = 0
                if index - start > limit { throw lineTooLong(tooLong, at: start) }
                return (index, index + 2)
            }
            index += 1
        }
        lineScanned = index - start
        if lineScanned > limit { throw lineTooLong(tooLong, at: start) }
        return nil
    }

    private mutating func lineTooLong(_ which: LineLimit, at offset: Int) -> HTTPParseError {
        switch which {
        case .startLine:
            kind == .request
                ? fail(.requestLineTooLong, "request line longer than \(limits.maxStartLineLength) bytes", at: offset)
                : fail(.malformed, "status line longer than \(limits.maxStartLineLength) bytes", at: offset)
        case .headerSection:
            fail(.headerSectionTooLarge, "header section larger than \(limits.maxHeaderSectionSize) bytes", at: offset)
        case .chunkLine:
            fail(.malformed, "chunk size line too long", at: offset)
        }
    }

    private mutating func fail(_ kind: HTTPParseError.Kind, _ reason: String, at position: Int) -> HTTPParseError {
        let error = HTTPParseError(kind, reason, offset: streamOffset + position)
        state = .failed(error)
        return error
    }

    // MARK: - Start lines

    private mutating func parseRequestLine(_ line: UnsafeRawBufferPointer, at offset: Int) throws(HTTPParseError) {
        // method SP request-target SP HTTP-version
        var index = 0
        while index < line.count && line[index] != SP {
            guard isTokenByte(line[index]) else { throw fail(.malformed, "invalid byte in method", at: offset + index) }
            index += 1
        }
        guard index > 0 else { throw fail(.malformed, "empty method", at: offset) }
        guard index < line.count else { throw fail(.malformed, "request line has no target", at: offset + index) }
        let method = Self.method(UnsafeRawBufferPointer(rebasing: line[0..<index]))
        index += 1
        let targetStart = index
        while index < line.count && line[index] != SP {
            let byte = line[index]
            guard byte > 0x20 && byte < 0x7F else { throw fail(.malformed, "invalid byte in request target", at: offset + index) }
            index += 1
        }
        guard index > targetStart else { throw fail(.malformed, "empty request target", at: offset + index) }
        guard index < line.count else { throw fail(.malformed, "request line has no version", at: offset + index) }
        let target = String(decoding: UnsafeRawBufferPointer(rebasing: line[targetStart..<index]), as: UTF8.self)
        index += 1
        message.version = try parseVersion(UnsafeRawBufferPointer(rebasing: line[index...]), at: offset + index)
        message.method = method
        message.target = target
    }

    private mutating func parseStatusLine(_ line: UnsafeRawBufferPointer, at offset: Int) throws(HTTPParseError) {
        // HTTP-version SP 3DIGIT SP [ reason-phrase ]
        guard line.count >= 12 else {
            throw fail(.malformed, "status line too short", at: offset)
        }
        message.version = try parseVersion(UnsafeRawBufferPointer(rebasing: line[0..<8]), at: offset)
        guard line[8] == SP, isDigit(line[9]), isDigit(line[10]), isDigit(line[11]) else {
            throw fail(.malformed, "invalid status code", at: offset + 8)
        }
        message.status = Int(line[9] - 0x30) * 100 + Int(line[10] - 0x30) * 10 + Int(line[11] - 0x30)
        guard message.status >= 100 else { throw fail(.malformed, "invalid status code", at: offset + 9) }
        if line.count > 12 {
            guard line[12] == SP else { throw fail(.malformed, "invalid status line", at: offset + 12) }
            for index in 13..<line.count where !isFieldValueByte(line[index]) {
                throw fail(.malformed, "invalid byte in reason phrase", at: offset + index)
            }
            message.reason = String(decoding: UnsafeRawBufferPointer(rebasing: line[13...]), as: UTF8.self)
        }
    }

    private mutating func parseVersion(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(HTTPParseError) -> HTTPVersion {
        guard bytes.count == 8, bytes[0] == 0x48, bytes[1] == 0x54, bytes[2] == 0x54, bytes[3] == 0x50,
            bytes[4] == 0x2F, isDigit(bytes[5]), bytes[6] == 0x2E, isDigit(bytes[7])
        else { throw fail(.malformed, "invalid HTTP version", at: offset) }
        let major = Int(bytes[5] - 0x30)
        let minor = Int(bytes[7] - 0x30)
        guard major == 1 else { throw fail(.unsupportedVersion, "HTTP/\(major).\(minor) is not supported", at: offset) }
        // A later 1.x minor version is answered as 1.1 (RFC 9110 §6.2).
        return HTTPVersion(major: 1, minor: min(minor, 1))
    }

    private static func method(_ bytes: UnsafeRawBufferPointer) -> HTTPRequest.Method {
        switch bytes.count {
        case 3:
            if bytes[0] == 0x47 && bytes[1] == 0x45 && bytes[2] == 0x54 { return .get }
            if bytes[0] == 0x50 && bytes[1] == 0x55 && bytes[2] == 0x54 { return .put }
        case 4:
            if bytes[0] == 0x50 && bytes[1] == 0x4F && bytes[2] == 0x53 && bytes[3] == 0x54 { return .post }
            if bytes[0] == 0x48 && bytes[1] == 0x45 && bytes[2] == 0x41 && bytes[3] == 0x44 { return .head }
        default:
            break
        }
        // Every byte is a token byte (checked by the caller), so this cannot fail.
        return HTTPRequest.Method(String(decoding: bytes, as: UTF8.self))!
    }

    // MARK: - Fields

    private mutating func parseFieldLine(_ line: UnsafeRawBufferPointer, at offset: Int, trailer: Bool) throws(HTTPParseError) {
        // field-name ":" OWS field-value OWS
        if line[0] == SP || line[0] == HTAB {
            throw fail(.malformed, "obsolete line folding (obs-fold)", at: offset)
        }
        var colon = 0
        while colon < line.count && line[colon] != COLON {
            let byte = line[colon]
            guard isTokenByte(byte) else {
                if byte == SP || byte == HTAB {
                    throw fail(.malformed, "whitespace between a field name and its colon", at: offset + colon)
                }
                throw fail(.malformed, "invalid byte in field name", at: offset + colon)
            }
            colon += 1
        }
        guard colon < line.count else { throw fail(.malformed, "field line without a colon", at: offset) }
        guard colon > 0 else { throw fail(.malformed, "empty field name", at: offset) }
        var valueStart = colon + 1
        var valueEnd = line.count
        while valueStart < valueEnd && (line[valueStart] == SP || line[valueStart] == HTAB) { valueStart += 1 }
        while valueEnd > valueStart && (line[valueEnd - 1] == SP || line[valueEnd - 1] == HTAB) { valueEnd -= 1 }
        for index in valueStart..<valueEnd where !isFieldValueByte(line[index]) {
            throw fail(.malformed, "invalid byte in field value", at: offset + index)
        }
        message.fieldCount += 1
        if message.fieldCount > limits.maxFieldCount {
            throw fail(.headerSectionTooLarge, "more than \(limits.maxFieldCount) fields", at: offset)
        }
        let nameBytes = UnsafeRawBufferPointer(rebasing: line[0..<colon])
        let value = UnsafeRawBufferPointer(rebasing: line[valueStart..<valueEnd])
        let (name, known) = KnownField.lookUp(nameBytes)
        if !trailer {
            switch known {
            case .host where kind == .response:
                break
            case .host:
                message.hostCount += 1
                if message.hostCount > 1 { throw fail(.malformed, "more than one Host field", at: offset) }
                guard HTTPHostSyntax.isValid(value) else {
                    throw fail(.malformed, "invalid Host value (not uri-host [\":\" port])", at: offset + valueStart)
                }
                message.host = String(decoding: value, as: UTF8.self)
                return  // Host travels as the request's authority
            case .contentLength:
                try parseContentLength(value, at: offset + valueStart)
            case .transferEncoding:
                try parseTransferEncoding(value, at: offset + valueStart)
            case .connection:
                forEachListMember(value) { member in
                    if equalsLowercase(member, "close") { message.connectionClose = true }
                    if equalsLowercase(member, "keep-alive") { message.connectionKeepAlive = true }
                }
            case .expect:
                if equalsLowercase(value, "100-continue") { message.expectsContinue = true }
            case .other:
                break
            }
        }
        let fieldName = name ?? HTTPField.Name(String(decoding: nameBytes, as: UTF8.self))!
        message.fields.append(HTTPField(name: fieldName, value: value))
    }

    private mutating func parseContentLength(_ value: UnsafeRawBufferPointer, at offset: Int) throws(HTTPParseError) {
        // 1*DIGIT, or a list of identical values (RFC 9110 §8.6).
        var members = 0
        var failure: String?
        forEachListMember(value) { member in
            members += 1
            guard failure == nil else { return }
            guard !member.isEmpty, member.allSatisfy(isDigit) else {
                failure = "Content-Length is not a non-negative integer"
                return
            }
            guard member.count <= 18 else {
                failure = "Content-Length overflows"
                return
            }
            var length = 0
            for digit in member { length = length * 10 + Int(digit - 0x30) }
            if let known = message.contentLength, known != length {
                failure = "conflicting Content-Length values"
                return
            }
            message.contentLength = length
        }
        if members == 0 { failure = "empty Content-Length" }
        if let failure { throw fail(.malformed, failure, at: offset) }
    }

    private mutating func parseTransferEncoding(_ value: UnsafeRawBufferPointer, at offset: Int) throws(HTTPParseError) {
        message.transferEncodingSeen = true
        var failure: String?
        let isRequest = kind == .request
        forEachListMember(value) { member in
            guard failure == nil, !member.isEmpty else { return }
            let isChunked = equalsLowercase(member, "chunked")
            if message.chunked && (isRequest || isChunked) {
                // chunked is applied once, and in a request it must be the last coding (RFC 9112 §6.1);
                // a response may go on with other codings, and is then read until close (§6.3).
                failure = isChunked ? "chunked applied twice" : "a transfer coding after chunked"
                return
            }
            if isChunked {
                message.chunked = true
                message.chunkedIsLast = true
            } else {
                message.chunkedIsLast = false
                message.unsupportedCoding = true
            }
        }
        if let failure { throw fail(.malformed, failure, at: offset) }
    }

    private mutating func parseChunkSize(_ line: UnsafeRawBufferPointer, at offset: Int) throws(HTTPParseError) -> Int {
        // chunk-size [ chunk-ext ] CRLF, chunk-size = 1*HEXDIG
        var size = 0
        var index = 0
        while index < line.count, let digit = hexValue(line[index]) {
            guard index < 15 else { throw fail(.malformed, "chunk size overflows", at: offset) }
            size = size << 4 | digit
            index += 1
        }
        guard index > 0 else { throw fail(.malformed, "invalid chunk size", at: offset) }
        // Extensions (RFC 9112 §7.1.1), ignored but checked:
        //   chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
        //   chunk-ext-name = token, chunk-ext-val = token / quoted-string
        var rest = index
        func skipWhitespace() { while rest < line.count && (line[rest] == SP || line[rest] == HTAB) { rest += 1 } }
        func token() -> Bool {
            let start = rest
            while rest < line.count && isTokenByte(line[rest]) { rest += 1 }
            return rest > start
        }
        skipWhitespace()
        if rest == line.count && rest > index { throw fail(.malformed, "invalid chunk size", at: offset + index) }
        while rest < line.count {
            guard line[rest] == SEMICOLON else {
                throw fail(.malformed, rest == index ? "invalid chunk size" : "invalid chunk extension", at: offset + rest)
            }
            rest += 1
            skipWhitespace()
            guard token() else { throw fail(.malformed, "chunk extension without a name", at: offset + rest) }
            skipWhitespace()
            if rest < line.count && line[rest] == UInt8(ascii: "=") {
                rest += 1
                skipWhitespace()
                if rest < line.count && line[rest] == UInt8(ascii: "\"") {
                    guard skipQuotedString(line, from: &rest) else {
                        throw fail(.malformed, "unterminated quoted chunk extension value", at: offset + rest)
                    }
                } else if !token() {
                    throw fail(.malformed, "chunk extension without a value after =", at: offset + rest)
                }
                skipWhitespace()
            }
        }
        return size
    }

    /// Moves `index` past a quoted-string (RFC 9110 §5.6.4) that starts there; false if it is not one.
    private func skipQuotedString(_ line: UnsafeRawBufferPointer, from index: inout Int) -> Bool {
        var position = index + 1
        while position < line.count {
            let byte = line[position]
            if byte == UInt8(ascii: "\"") {
                index = position + 1
                return true
            }
            if byte == UInt8(ascii: "\\") {
                guard position + 1 < line.count, line[position + 1] == HTAB || (line[position + 1] >= 0x20 && line[position + 1] != 0x7F) else {
                    return false
                }
                position += 2
                continue
            }
            guard byte == HTAB || (byte >= 0x20 && byte != 0x7F) else { return false }
            position += 1
        }
        return false
    }

    // MARK: - Head complete

    private mutating func finishHead(at offset: Int) throws(HTTPParseError) -> Event {
        switch kind {
        case .request: return .requestHead(try finishRequestHead(at: offset))
        case .response: return .responseHead(try finishResponseHead(at: offset))
        }
    }

    private mutating func finishRequestHead(at offset: Int) throws(HTTPParseError) -> HTTPRequestHead {
        let version = message.version
        if version == .http1_1 && message.hostCount == 0 {
            throw fail(.malformed, "HTTP/1.1 request without a Host field", at: offset)
        }
        var framing: HTTPBodyFraming
        if message.transferEncodingSeen {
            if message.contentLength != nil {
                throw fail(.malformed, "both Content-Length and Transfer-Encoding", at: offset)
            }
            if version == .http1_0 {
                throw fail(.malformed, "Transfer-Encoding in an HTTP/1.0 request", at: offset)
            }
            if message.unsupportedCoding {
                throw fail(.unsupportedTransferCoding, "only the chunked transfer coding is supported", at: offset)
            }
            guard message.chunked else { throw fail(.malformed, "empty Transfer-Encoding", at: offset) }
            framing = .chunked
        } else if let length = message.contentLength {
            if length > limits.maxBodySize {
                throw fail(.bodyTooLarge, "Content-Length \(length) is over the limit of \(limits.maxBodySize) bytes", at: offset)
            }
            framing = length == 0 ? .none : .length(length)
        } else {
            framing = .none
        }
        // A CONNECT request has no content (RFC 9110 §9.3.6): what follows its head is the tunnel.
        if message.method == .connect { framing = .none }

        // The target's form decides scheme, authority and path (RFC 9112 §3.2).
        let target = message.target
        var scheme: String?
        var authority = message.host
        var path: String? = target
        let first = target.utf8.first!
        if first == UInt8(ascii: "/") {
            // origin-form
        } else if target == "*" {
            guard message.method == .options else {
                throw fail(.malformed, "asterisk-form target outside OPTIONS", at: offset)
            }
        } else if message.method == .connect {
            authority = target
            path = nil
        } else if let split = Self.splitAbsoluteForm(target) {
            scheme = split.scheme
            authority = split.authority
            path = split.path
        } else {
            throw fail(.malformed, "invalid request target", at: offset)
        }
        var request: HTTPRequest
        if var reused = lastRequest.take() {
            reused.method = message.method
            reused.scheme = scheme
            reused.authority = authority
            reused.path = path
            request = reused
        } else {
            request = HTTPRequest(method: message.method, scheme: scheme, authority: authority, path: path)
        }
        request.headerFields = HTTPFields(message.fields)
        message.fields.removeAll(keepingCapacity: true)
        lastRequest = request

        let keepAlive = version == .http1_1 ? !message.connectionClose : (message.connectionKeepAlive && !message.connectionClose)
        state = Self.bodyState(framing)
        return HTTPRequestHead(
            request: request,
            version: version,
            framing: framing,
            keepAlive: keepAlive,
            expectsContinue: message.expectsContinue && version == .http1_1 && framing != .none
        )
    }

    private mutating func finishResponseHead(at offset: Int) throws(HTTPParseError) -> HTTPResponseHead {
        let status = message.status
        var framing: HTTPBodyFraming
        if requestMethod == .head || (100..<200).contains(status) || status == 204 || status == 304 {
            framing = .none
        } else if message.transferEncodingSeen {
            if message.contentLength != nil {
                throw fail(.malformed, "both Content-Length and Transfer-Encoding", at: offset)
            }
            framing = message.chunkedIsLast ? .chunked : .untilClose
        } else if let length = message.contentLength {
            if length > limits.maxBodySize {
                throw fail(.bodyTooLarge, "Content-Length \(length) is over the limit of \(limits.maxBodySize) bytes", at: offset)
            }
            framing = length == 0 ? .none : .length(length)
        } else {
            framing = .untilClose
        }
        if requestMethod == .connect && (200..<300).contains(status) { framing = .none }
        var response: HTTPResponse
        if var reused = lastResponse.take() {
            reused.status = .init(code: status, reasonPhrase: message.reason)
            response = reused
        } else {
            response = HTTPResponse(status: .init(code: status, reasonPhrase: message.reason))
        }
        response.headerFields = HTTPFields(message.fields)
        message.fields.removeAll(keepingCapacity: true)
        lastResponse = response
        let version = message.version
        let keepAlive = framing != .untilClose
            && (version == .http1_1 ? !message.connectionClose : (message.connectionKeepAlive && !message.connectionClose))
        state = Self.bodyState(framing)
        return HTTPResponseHead(response: response, version: version, framing: framing, keepAlive: keepAlive)
    }

    private static func bodyState(_ framing: HTTPBodyFraming) -> State {
        switch framing {
        case .none: .endPending
        case .length(let count): .body(remaining: count)
        case .chunked: .chunkSize
        case .untilClose: .untilClose
        }
    }

    /// `scheme "://" authority [path-abempty] [ "?" query ]`, or nil.
    static func splitAbsoluteForm(_ target: String) -> (scheme: String, authority: String, path: String)? {
        let utf8 = Array(target.utf8)
        guard let colon = utf8.firstIndex(of: COLON), colon > 0,
            utf8.count > colon + 2, utf8[colon + 1] == SLASH, utf8[colon + 2] == SLASH,
            utf8[0..<colon].allSatisfy({ isLetter($0) || isDigit($0) || $0 == 0x2B || $0 == 0x2D || $0 == 0x2E }),
            isLetter(utf8[0])
        else { return nil }
        let authorityStart = colon + 3
        let authorityEnd = utf8[authorityStart...].firstIndex(where: { $0 == SLASH || $0 == QUESTION }) ?? utf8.count
        guard authorityEnd > authorityStart else { return nil }
        let scheme = String(decoding: utf8[0..<colon], as: UTF8.self).lowercased()
        let authority = String(decoding: utf8[authorityStart..<authorityEnd], as: UTF8.self)
        var path = String(decoding: utf8[authorityEnd...], as: UTF8.self)
        if path.isEmpty || path.utf8.first == QUESTION { path = "/" + path }
        return (scheme, authority, path)
    }
}

// MARK: - Byte classes (RFC 9110 §5.6)

let CR: UInt8 = 0x0D
let LF: UInt8 = 0x0A
let SP: UInt8 = 0x20
let HTAB: UInt8 = 0x09
let COLON: UInt8 = 0x3A
let SEMICOLON: UInt8 = 0x3B
let COMMA: UInt8 = 0x2C
let SLASH: UInt8 = 0x2F
let QUESTION: UInt8 = 0x3F

@inline(__always)
func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
    case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: true
    default: false
    }
}

/// VCHAR, obs-text, SP or HTAB: the bytes a field value may contain.
@inline(__always)
func isFieldValueByte(_ byte: UInt8) -> Bool {
    byte >= 0x20 ? byte != 0x7F : byte == HTAB
}

@inline(__always) func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
@inline(__always) func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A }

@inline(__always)
func hexValue(_ byte: UInt8) -> Int? {
    switch byte {
    case 0x30...0x39: Int(byte - 0x30)
    case 0x41...0x46: Int(byte - 0x41 + 10)
    case 0x61...0x66: Int(byte - 0x61 + 10)
    default: nil
    }
}

/// Whether `bytes`, lowercased, equal `lowercase` (ASCII).
func equalsLowercase(_ bytes: some Collection<UInt8>, _ lowercase: StaticString) -> Bool {
    guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
    var index = 0
    for byte in bytes {
        let folded = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
        if folded != lowercase.utf8Start[index] { return false }
        index += 1
    }
    return true
}

/// Calls `body` with each member of a comma-separated list, trimmed of optional whitespace.
func forEachListMember(_ value: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
    var start = 0
    while start <= value.count {
        var end = start
        while end < value.count && value[end] != COMMA { end += 1 }
        var low = start
        var high = end
        while low < high && (value[low] == SP || value[low] == HTAB) { low += 1 }
        while high > low && (value[high - 1] == SP || value[high - 1] == HTAB) { high -= 1 }
        if high > low || end < value.count || start < value.count {
            body(UnsafeRawBufferPointer(rebasing: value[low..<high]))
        }
        start = end + 1
    }
}

/// Fields the parser acts on, and common names it can build without allocating.
enum KnownField {
    case host, contentLength, transferEncoding, connection, expect, other

    static func lookUp(_ name: UnsafeRawBufferPointer) -> (HTTPField.Name?, KnownField) {
        switch name.count {
        case 4:
            if equalsLowercase(name, "host") { return (nil, .host) }
        case 6:
            if equalsLowercase(name, "accept") { return (.accept, .other) }
            if equalsLowercase(name, "expect") { return (.expect, .expect) }
            if equalsLowercase(name, "cookie") { return (.cookie, .other) }
        case 10:
            if equalsLowercase(name, "connection") { return (.connection, .connection) }
            if equalsLowercase(name, "user-agent") { return (.userAgent, .other) }
        case 12:
            if equalsLowercase(name, "content-type") { return (.contentType, .other) }
        case 14:
            if equalsLowercase(name, "content-length") { return (.contentLength, .contentLength) }
        case 15:
            if equalsLowercase(name, "accept-encoding") { return (.acceptEncoding, .other) }
            if equalsLowercase(name, "accept-language") { return (.acceptLanguage, .other) }
        case 17:
            if equalsLowercase(name, "transfer-encoding") { return (.transferEncoding, .transferEncoding) }
        default:
            break
        }
        return (nil, .other)
    }
}

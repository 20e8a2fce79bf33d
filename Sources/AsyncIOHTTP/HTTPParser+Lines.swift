import HTTPTypes

/// Finding lines and parsing start lines (RFC 9112 §2.2, §3, §4).
extension HTTPParser {
    // MARK: - Lines

    /// The next line of a header or trailer section, counted against the section's size limit: its
    /// content's range (empty for the blank line that ends the section), or nil if it is incomplete.
    /// Inlined into the parse loop, its one caller for each section: a call of its own cost a quarter
    /// of what it does.
    @inline(__always)
    mutating func nextFieldLine(
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
    enum LineLimit { case startLine, headerSection, chunkLine }

    /// Finds the CRLF ending the line that starts at `start`: returns the end of its content and the
    /// start of the next line, or nil if the line is incomplete. Rejects bare CR and bare LF.
    @inline(__always)
    mutating func findLine(
        _ input: UnsafeRawBufferPointer, from start: Int, limit: Int, tooLong: LineLimit
    ) throws(HTTPParseError) -> (end: Int, next: Int)? {
        let index = HTTPByteScan.firstLineBreak(in: input, from: start + lineScanned)
        if index < input.count {
            if input[index] == LF { throw fail(.malformed, "bare LF (lines end in CRLF)", at: index) }
            if index + 1 < input.count {
                guard input[index + 1] == LF else { throw fail(.malformed, "bare CR", at: index) }
                lineScanned = 0
                if index - start > limit { throw lineTooLong(tooLong, at: start) }
                return (index, index + 2)
            }
            // A CR that ends the input: the line is scanned again from it.
        }
        lineScanned = index - start
        if lineScanned > limit { throw lineTooLong(tooLong, at: start) }
        return nil
    }

    mutating func lineTooLong(_ which: LineLimit, at offset: Int) -> HTTPParseError {
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

    mutating func fail(_ kind: HTTPParseError.Kind, _ reason: String, at position: Int) -> HTTPParseError {
        let error = HTTPParseError(kind, reason, offset: streamOffset + position)
        state = .failed
        failure = error
        return error
    }

    // MARK: - Start lines

    mutating func parseRequestLine(_ line: UnsafeRawBufferPointer, at offset: Int) throws(HTTPParseError) {
        // method SP request-target SP HTTP-version
        var index = 0
        while index < line.count && line[index] != SP {
            guard isTokenByte(line[index]) else { throw fail(.malformed, "invalid byte in method", at: offset + index) }
            index += 1
        }
        guard index > 0 else { throw fail(.malformed, "empty method", at: offset) }
        guard index < line.count else { throw fail(.malformed, "request line has no target", at: offset + index) }
        let (method, methodKind) = Self.method(UnsafeRawBufferPointer(rebasing: line[0..<index]))
        index += 1
        let targetStart = index
        index = HTTPByteScan.firstNonTargetByte(in: line, from: index, upTo: line.count)
        if index < line.count && line[index] != SP {
            throw fail(.malformed, "invalid byte in request target", at: offset + index)
        }
        guard index > targetStart else { throw fail(.malformed, "empty request target", at: offset + index) }
        guard index < line.count else { throw fail(.malformed, "request line has no version", at: offset + index) }
        let targetBytes = UnsafeRawBufferPointer(rebasing: line[targetStart..<index])
        if !lastTarget.holds(targetBytes) { lastTarget.keep(targetBytes) }
        index += 1
        message.version = try parseVersion(UnsafeRawBufferPointer(rebasing: line[index...]), at: offset + index)
        if message.method != method { message.method = method }
        message.methodKind = methodKind
    }

    mutating func parseStatusLine(_ line: UnsafeRawBufferPointer, at offset: Int) throws(HTTPParseError) {
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

    mutating func parseVersion(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(HTTPParseError) -> HTTPVersion {
        if bytes.count == 8 {
            // The two versions there are, as one word each (little-endian "HTTP/1.1" and "HTTP/1.0").
            // SAFETY: `bytes.count == 8`: the eight bytes are inside `bytes`.
            switch UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self)) {
            case 0x312E_312F_5054_5448: return .http1_1
            case 0x302E_312F_5054_5448: return .http1_0
            default: break
            }
        }
        guard bytes.count == 8, bytes[0] == 0x48, bytes[1] == 0x54, bytes[2] == 0x54, bytes[3] == 0x50,
            bytes[4] == 0x2F, isDigit(bytes[5]), bytes[6] == 0x2E, isDigit(bytes[7])
        else { throw fail(.malformed, "invalid HTTP version", at: offset) }
        let major = Int(bytes[5] - 0x30)
        let minor = Int(bytes[7] - 0x30)
        guard major == 1 else { throw fail(.unsupportedVersion, "HTTP/\(major).\(minor) is not supported", at: offset) }
        // A later 1.x minor version is answered as 1.1 (RFC 9110 §6.2).
        return HTTPVersion(major: 1, minor: min(minor, 1))
    }

    static func method(_ bytes: UnsafeRawBufferPointer) -> (HTTPRequest.Method, MethodKind) {
        switch bytes.count {
        case 3:
            if bytes[0] == 0x47 && bytes[1] == 0x45 && bytes[2] == 0x54 { return (.get, .other) }
            if bytes[0] == 0x50 && bytes[1] == 0x55 && bytes[2] == 0x54 { return (.put, .other) }
        case 4:
            if bytes[0] == 0x50 && bytes[1] == 0x4F && bytes[2] == 0x53 && bytes[3] == 0x54 { return (.post, .other) }
            if bytes[0] == 0x48 && bytes[1] == 0x45 && bytes[2] == 0x41 && bytes[3] == 0x44 { return (.head, .head) }
        default:
            break
        }
        // Every byte is a token byte (checked by the caller), so this cannot fail.
        let method = HTTPRequest.Method(String(decoding: bytes, as: UTF8.self))!
        let kind: MethodKind = method == .connect ? .connect : method == .options ? .options : .other
        return (method, kind)
    }

    /// The methods the parser treats apart, told by a byte rather than by comparing strings (two
    /// comparisons a request, each with a one-time-initialization check of the constant).
    enum MethodKind: Sendable { case head, connect, options, other }
}

import HTTPTypes

/// Field lines, framing fields and chunk sizes (RFC 9112 §5, §6, §7.1).
extension HTTPParser {
    // MARK: - Fields

    mutating func parseFieldLine(_ line: UnsafeRawBufferPointer, at offset: Int, trailer: Bool) throws(HTTPParseError) {
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
        if let index = HTTPByteScan.firstInvalidFieldValueByte(in: line, from: valueStart, upTo: valueEnd) {
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
                if lastHost.holds(value) {
                    return  // validated when it came first
                }
                guard HTTPHostSyntax.isValid(value) else {
                    throw fail(.malformed, "invalid Host value (not uri-host [\":\" port])", at: offset + valueStart)
                }
                lastHost.keep(value)
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

    mutating func parseContentLength(_ value: UnsafeRawBufferPointer, at offset: Int) throws(HTTPParseError) {
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

    mutating func parseTransferEncoding(_ value: UnsafeRawBufferPointer, at offset: Int) throws(HTTPParseError) {
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

    mutating func parseChunkSize(_ line: UnsafeRawBufferPointer, at offset: Int) throws(HTTPParseError) -> Int {
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
    func skipQuotedString(_ line: UnsafeRawBufferPointer, from index: inout Int) -> Bool {
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
}

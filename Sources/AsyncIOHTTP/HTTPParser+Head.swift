import HTTPTypes

/// A complete head: the checks that need every field, and the message's framing (RFC 9112 §6.3).
extension HTTPParser {
    // MARK: - Head complete

    mutating func finishHead(at offset: Int) throws(HTTPParseError) -> Event {
        switch kind {
        case .request: return .requestHead(try finishRequestHead(at: offset))
        case .response: return .responseHead(try finishResponseHead(at: offset))
        }
    }

    mutating func finishRequestHead(at offset: Int) throws(HTTPParseError) -> HTTPRequestHead {
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
        if message.methodKind == .connect { framing = .none }

        // The target's form decides scheme, authority and path (RFC 9112 §3.2).
        let target = lastTarget.string
        var scheme: String?
        var authority = message.hostCount > 0 ? lastHost.string : nil
        var path: String? = target
        let first = lastTarget.firstByte
        if first == UInt8(ascii: "/") {
            // origin-form
        } else if target == "*" {
            guard message.methodKind == .options else {
                throw fail(.malformed, "asterisk-form target outside OPTIONS", at: offset)
            }
        } else if message.methodKind == .connect {
            authority = target
            path = nil
        } else if let split = Self.splitAbsoluteForm(target) {
            scheme = split.scheme
            authority = split.authority
            path = split.path
        } else {
            throw fail(.malformed, "invalid request target", at: offset)
        }
        // The request is updated where it is kept (in place: a copy of the kept request, or of its
        // optional, would count references to each of its parts), the only reference to its storage
        // once the handler has let go of it.
        if case .none = lastRequest {
            lastRequest = LastRequest(
                request: HTTPRequest(method: message.method, scheme: scheme, authority: authority, path: path),
                method: message.method, scheme: scheme, authority: authority, path: path)
            routeGeneration &+= 1
        } else if lastRequest!.update(method: message.method, scheme: scheme, authority: authority, path: path) {
            routeGeneration &+= 1
        }
        // A request with no fields but `Host` (which is its authority) after another such: the fields
        // are left as they are (empty), not replaced by a new empty collection.
        if !(message.fields.isEmpty && lastRequest!.hadNoFields) {
            lastRequest!.request.headerFields = HTTPFields(message.fields)
            lastRequest!.hadNoFields = message.fields.isEmpty
            message.fields.removeAll(keepingCapacity: true)
        }
        let request = lastRequest!.request  // the one copy: the one returned

        let keepAlive = version == .http1_1 ? !message.connectionClose : (message.connectionKeepAlive && !message.connectionClose)
        state = Self.bodyState(framing)
        return HTTPRequestHead(
            request: request,
            version: version,
            framing: framing,
            keepAlive: keepAlive,
            expectsContinue: message.expectsContinue && version == .http1_1 && framing != .none,
            isHEAD: message.methodKind == .head
        )
    }

    mutating func finishResponseHead(at offset: Int) throws(HTTPParseError) -> HTTPResponseHead {
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

    static func bodyState(_ framing: HTTPBodyFraming) -> State {
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

/// A `tchar` (RFC 9110 §5.6.2): a digit, a letter, a backquote or one of `!#$%&'*+-.^_|~`. One bit
/// a byte in two masks (0x00-0x3F, 0x40-0x7F), tested without a branch: the parser asks it of every
/// byte of a method and of each field name, and a `switch` over the ranges took several comparisons
/// a byte.
@inline(__always)
func isTokenByte(_ byte: UInt8) -> Bool {
    let mask: UInt64 = byte < 0x40 ? 0x03FF_6CFA_0000_0000 : 0x57FF_FFFF_C7FF_FFFE
    return byte < 0x80 && (mask >> UInt64(byte & 0x3F)) & 1 != 0
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

import HTTPTypes

/// Writes HTTP/1.1 message heads and chunked framing into a byte buffer.
///
/// Framing fields (`Content-Length`, `Transfer-Encoding`) are written as they are in the message's
/// fields: deciding them is the sender's job (``HTTPServer`` does it from the body it is given).
public enum HTTPSerializer {
    /// Appends the status line and fields of `response`, and the blank line that ends the head.
    public static func writeResponseHead(_ response: HTTPResponse, version: HTTPVersion = .http1_1, into buffer: inout [UInt8]) {
        writeResponseLine(response.status, version: version, into: &buffer)
        appendFields(response.headerFields, into: &buffer)
        buffer.appendCRLF()
    }

    /// Appends the status line alone.
    static func writeResponseLine(_ status: HTTPResponse.Status, version: HTTPVersion, into buffer: inout some HTTPByteSink) {
        writeResponseLine(code: status.code, reason: status.reasonPhrase, version: version, into: &buffer)
    }

    /// Appends the status line of `code`, with `reason`, or the standard reason phrase when `reason`
    /// is nil or empty.
    ///
    /// Takes the parts, not a `Status`: `HTTPResponse.status` parses its pseudo field on every read,
    /// and the server knows the parts of most responses without it (``HTTPServerResponse/statusLine``).
    static func writeResponseLine(code: Int, reason: String?, version: HTTPVersion, into buffer: inout some HTTPByteSink) {
        let standard = reason?.isEmpty ?? true
        if version == .http1_1 && code == 200 && (standard || reason == "OK") {
            buffer.append("HTTP/1.1 200 OK\r\n")
        } else {
            appendVersion(version, into: &buffer)
            buffer.append(SP)
            buffer.append(UInt8(0x30 + code / 100 % 10))
            buffer.append(UInt8(0x30 + code / 10 % 10))
            buffer.append(UInt8(0x30 + code % 10))
            buffer.append(SP)
            buffer.append(utf8: standard ? standardReasonPhrase(code) : reason!)
            buffer.appendCRLF()
        }
    }

    /// The most bytes ``writeResponseLine(code:reason:version:into:)`` writes for `reason`.
    static func responseLineCapacity(reason: String?) -> Int {
        // "HTTP/1.1 200 " and CR LF, and the reason or the longest standard one (31 bytes).
        15 + max(reason?.utf8.count ?? 0, 32)
    }

    /// Appends the request line, `Host` (from the request's authority) and fields of `request`, and
    /// the blank line that ends the head.
    public static func writeRequestHead(_ request: HTTPRequest, version: HTTPVersion = .http1_1, into buffer: inout [UInt8]) {
        writeRequestLine(request, version: version, into: &buffer)
        appendFields(request.headerFields, into: &buffer)
        buffer.appendCRLF()
    }

    /// Appends the request line and `Host`.
    static func writeRequestLine(_ request: HTTPRequest, version: HTTPVersion = .http1_1, into buffer: inout some HTTPByteSink) {
        let method = request.method
        buffer.append(utf8: method.rawValue)
        buffer.append(SP)
        if method == .connect, let authority = request.authority {
            buffer.append(utf8: authority)
        } else {
            buffer.append(utf8: request.path ?? "/")
        }
        buffer.append(SP)
        appendVersion(version, into: &buffer)
        buffer.appendCRLF()
        if let authority = request.authority {
            buffer.append("Host: ")
            buffer.append(utf8: authority)
            buffer.appendCRLF()
        }
    }

    /// Appends a chunk's size line; the caller appends the `count` bytes and then ``writeChunkEnd(into:)``.
    public static func writeChunkHeader(count: Int, into buffer: inout [UInt8]) {
        precondition(count > 0, "a chunk of zero bytes ends the body; use writeLastChunk")
        // Hex digits, most significant first, with no String in between (this runs once per chunk).
        var shift = (Int.bitWidth - count.leadingZeroBitCount - 1) / 4 * 4
        while shift >= 0 {
            let digit = UInt8((count >> shift) & 0xF)
            buffer.append(digit < 10 ? 0x30 + digit : 0x61 + digit - 10)
            shift -= 4
        }
        buffer.appendCRLF()
    }

    /// Appends the CRLF that ends a chunk's data.
    public static func writeChunkEnd(into buffer: inout [UInt8]) {
        buffer.appendCRLF()
    }

    /// Appends a message's framing fields, the one place server responses and client requests get
    /// them: `Content-Length: n` when a length is given, `Transfer-Encoding: chunked` when `chunked`
    /// (the body is then written by ``HTTPBodyWriter`` with ``writeChunkHeader(count:into:)`` and
    /// ``writeLastChunk(trailers:into:)``), nothing otherwise.
    static func appendFraming(contentLength: Int?, chunked: Bool, into buffer: inout some HTTPByteSink) {
        if let contentLength {
            buffer.append("Content-Length: ")
            buffer.appendDecimal(contentLength)
            buffer.appendCRLF()
        }
        if chunked { buffer.append("Transfer-Encoding: chunked\r\n") }
    }

    /// The most bytes ``appendFraming(contentLength:chunked:into:)`` writes.
    static let framingCapacity = 16 + 19 + 2 + 28

    /// Appends the last chunk and the trailer section, which end a chunked body.
    public static func writeLastChunk(trailers: HTTPFields = HTTPFields(), into buffer: inout [UInt8]) {
        buffer.append("0\r\n")
        appendFields(trailers, into: &buffer)
        buffer.appendCRLF()
    }

    /// Whether a response with `status` to a `method` request carries a body on the wire: never for
    /// HEAD, 1xx, 204 and 304 (RFC 9112 §6.3).
    public static func responseHasBody(status: Int, requestMethod method: HTTPRequest.Method) -> Bool {
        responseHasBody(status: status, requestIsHEAD: method == .head)
    }

    /// ``responseHasBody(status:requestMethod:)`` for a request whose method is known to be `HEAD` or not.
    static func responseHasBody(status: Int, requestIsHEAD: Bool) -> Bool {
        !(requestIsHEAD || (100..<200).contains(status) || status == 204 || status == 304)
    }

    /// The reason phrase RFC 9110 gives `code`, or "" for codes it does not define.
    public static func standardReasonPhrase(_ code: Int) -> String {
        switch code {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 203: "Non-Authoritative Information"
        case 204: "No Content"
        case 205: "Reset Content"
        case 206: "Partial Content"
        case 300: "Multiple Choices"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 305: "Use Proxy"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 402: "Payment Required"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 406: "Not Acceptable"
        case 407: "Proxy Authentication Required"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 410: "Gone"
        case 411: "Length Required"
        case 412: "Precondition Failed"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 416: "Range Not Satisfiable"
        case 417: "Expectation Failed"
        case 418: "I'm a teapot"
        case 421: "Misdirected Request"
        case 422: "Unprocessable Content"
        case 426: "Upgrade Required"
        case 428: "Precondition Required"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: ""
        }
    }

    private static func appendVersion(_ version: HTTPVersion, into buffer: inout some HTTPByteSink) {
        buffer.append("HTTP/")
        buffer.append(UInt8(0x30 + version.major))
        buffer.append(UInt8(ascii: "."))
        buffer.append(UInt8(0x30 + version.minor))
    }

    /// Appends `fields`, leaving out `Content-Length`, `Transfer-Encoding` and `Connection` if
    /// `skippingFraming` (the sender writes those itself).
    ///
    /// Returns the values of the `Connection` and `Content-Length` fields it skipped (joined with ", "
    /// if one occurs more than once, as `HTTPFields` returns them), so that a sender needs no second
    /// pass over the fields (each pass copies every field: six reference counts apiece).
    @discardableResult
    static func appendFields(
        _ fields: HTTPFields, skippingFraming: Bool = false, into buffer: inout some HTTPByteSink
    ) -> (connection: String?, contentLength: String?) {
        var connection: String?
        var contentLength: String?
        for index in fields.indices {  // not `for field in fields`: its iterator copies the fields
            let field = fields[index]
            if skippingFraming {
                // By length first: two different names compare through `String`'s general comparison
                // (0.7 % of `/plaintext`'s CPU for one field against the three).
                switch field.name.canonicalName.utf8.count {
                case 10 where field.name == .connection:
                    connection = connection.map { $0 + ", " + field.value } ?? field.value
                    continue
                case 14 where field.name == .contentLength:
                    contentLength = contentLength.map { $0 + ", " + field.value } ?? field.value
                    continue
                case 17 where field.name == .transferEncoding:
                    continue
                default:
                    break
                }
            }
            buffer.append(utf8: field.name.rawName)
            buffer.append(": ")
            field.withUnsafeBytesOfValue { buffer.append(bytes: $0) }
            buffer.appendCRLF()
        }
        return (connection, contentLength)
    }

    /// The most bytes ``appendFields(_:skippingFraming:into:)`` writes for `fields`; also enough for
    /// a `Connection` or `Content-Length` line of the values it skipped.
    static func fieldsCapacity(_ fields: HTTPFields) -> Int {
        var total = 0
        for field in fields {
            total += field.name.rawName.utf8.count + field.withUnsafeBytesOfValue { $0.count } + 4
        }
        return total
    }
}

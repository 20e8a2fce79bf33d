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
        buffer.append(contentsOf: [CR, LF])
    }

    /// Appends the status line alone.
    ///
    /// Takes the status, not the response: `HTTPResponse.status` parses its pseudo field on every
    /// read, so a caller that has it already passes it.
    static func writeResponseLine(_ status: HTTPResponse.Status, version: HTTPVersion, into buffer: inout [UInt8]) {
        let code = status.code
        if version == .http1_1 && code == 200 && status.reasonPhrase == "OK" {
            buffer.append(contentsOf: "HTTP/1.1 200 OK\r\n".utf8)
        } else {
            appendVersion(version, into: &buffer)
            buffer.append(SP)
            buffer.append(UInt8(0x30 + code / 100 % 10))
            buffer.append(UInt8(0x30 + code / 10 % 10))
            buffer.append(UInt8(0x30 + code % 10))
            buffer.append(SP)
            let reason = status.reasonPhrase
            buffer.append(contentsOf: (reason.isEmpty ? standardReasonPhrase(code) : reason).utf8)
            buffer.append(contentsOf: [CR, LF])
        }
    }

    /// Appends the request line, `Host` (from the request's authority) and fields of `request`, and
    /// the blank line that ends the head.
    public static func writeRequestHead(_ request: HTTPRequest, version: HTTPVersion = .http1_1, into buffer: inout [UInt8]) {
        writeRequestLine(request, version: version, into: &buffer)
        appendFields(request.headerFields, into: &buffer)
        buffer.append(contentsOf: [CR, LF])
    }

    /// Appends the request line and `Host`.
    static func writeRequestLine(_ request: HTTPRequest, version: HTTPVersion = .http1_1, into buffer: inout [UInt8]) {
        buffer.append(contentsOf: request.method.rawValue.utf8)
        buffer.append(SP)
        if request.method == .connect, let authority = request.authority {
            buffer.append(contentsOf: authority.utf8)
        } else {
            buffer.append(contentsOf: (request.path ?? "/").utf8)
        }
        buffer.append(SP)
        appendVersion(version, into: &buffer)
        buffer.append(contentsOf: [CR, LF])
        if let authority = request.authority {
            buffer.append(contentsOf: "Host: ".utf8)
            buffer.append(contentsOf: authority.utf8)
            buffer.append(contentsOf: [CR, LF])
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
        buffer.append(contentsOf: [CR, LF])
    }

    /// Appends the CRLF that ends a chunk's data.
    public static func writeChunkEnd(into buffer: inout [UInt8]) {
        buffer.append(contentsOf: [CR, LF])
    }

    /// Appends a message's framing fields, the one place server responses and client requests get
    /// them: `Content-Length: n` when a length is given, `Transfer-Encoding: chunked` when `chunked`
    /// (the body is then written by ``HTTPBodyWriter`` with ``writeChunkHeader(count:into:)`` and
    /// ``writeLastChunk(trailers:into:)``), nothing otherwise.
    static func appendFraming(contentLength: Int?, chunked: Bool, into buffer: inout [UInt8]) {
        if let contentLength {
            buffer.append(contentsOf: "Content-Length: ".utf8)
            appendDecimal(contentLength, into: &buffer)
            buffer.append(contentsOf: [CR, LF])
        }
        if chunked { buffer.append(contentsOf: "Transfer-Encoding: chunked\r\n".utf8) }
    }

    /// Appends the last chunk and the trailer section, which end a chunked body.
    public static func writeLastChunk(trailers: HTTPFields = HTTPFields(), into buffer: inout [UInt8]) {
        buffer.append(contentsOf: [0x30, CR, LF])
        appendFields(trailers, into: &buffer)
        buffer.append(contentsOf: [CR, LF])
    }

    /// Whether a response with `status` to a `method` request carries a body on the wire: never for
    /// HEAD, 1xx, 204 and 304 (RFC 9112 §6.3).
    public static func responseHasBody(status: Int, requestMethod method: HTTPRequest.Method) -> Bool {
        !(method == .head || (100..<200).contains(status) || status == 204 || status == 304)
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

    private static func appendVersion(_ version: HTTPVersion, into buffer: inout [UInt8]) {
        buffer.append(contentsOf: "HTTP/".utf8)
        buffer.append(UInt8(0x30 + version.major))
        buffer.append(UInt8(ascii: "."))
        buffer.append(UInt8(0x30 + version.minor))
    }

    /// Appends `fields`, leaving out `Content-Length`, `Transfer-Encoding` and `Connection` if
    /// `skippingFraming` (the sender writes those itself).
    static func appendFields(_ fields: HTTPFields, skippingFraming: Bool = false, into buffer: inout [UInt8]) {
        for field in fields {
            if skippingFraming && (field.name == .contentLength || field.name == .transferEncoding || field.name == .connection) {
                continue
            }
            buffer.append(contentsOf: field.name.rawName.utf8)
            buffer.append(contentsOf: [COLON, SP])
            field.withUnsafeBytesOfValue { buffer.append(contentsOf: $0) }
            buffer.append(contentsOf: [CR, LF])
        }
    }
}

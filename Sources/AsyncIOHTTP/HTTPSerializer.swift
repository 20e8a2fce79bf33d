import HTTPTypes

/// Writes HTTP/1.1 message heads and chunked framing into a byte buffer.
///
/// Framing fields (`Content-Length`, `Transfer-Encoding`) are written as they are in the message's
/// fields: deciding them is the sender's job (``HTTPServer`` does it from the body it is given).
public enum HTTPSerializer {
    /// Appends the status line and fields of `response`, and the blank line that ends the head.
    public static func writeResponseHead(_ response: HTTPResponse, version: HTTPVersion = .http1_1, into buffer: inout [UInt8]) {
        let code = response.status.code
        if version == .http1_1 && code == 200 && response.status.reasonPhrase == "OK" {
            buffer.append(contentsOf: "HTTP/1.1 200 OK\r\n".utf8)
        } else {
            appendVersion(version, into: &buffer)
            buffer.append(SP)
            buffer.append(UInt8(0x30 + code / 100 % 10))
            buffer.append(UInt8(0x30 + code / 10 % 10))
            buffer.append(UInt8(0x30 + code % 10))
            buffer.append(SP)
            buffer.append(contentsOf: response.status.reasonPhrase.utf8)
            buffer.append(contentsOf: [CR, LF])
        }
        appendFields(response.headerFields, into: &buffer)
        buffer.append(contentsOf: [CR, LF])
    }

    /// Appends the request line, `Host` (from the request's authority) and fields of `request`, and
    /// the blank line that ends the head.
    public static func writeRequestHead(_ request: HTTPRequest, version: HTTPVersion = .http1_1, into buffer: inout [UInt8]) {
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
        appendFields(request.headerFields, into: &buffer)
        buffer.append(contentsOf: [CR, LF])
    }

    /// Appends a chunk's size line; the caller appends the `count` bytes and then ``writeChunkEnd(into:)``.
    public static func writeChunkHeader(count: Int, into buffer: inout [UInt8]) {
        precondition(count > 0, "a chunk of zero bytes ends the body; use writeLastChunk")
        let digits = Array(String(count, radix: 16).utf8)
        buffer.append(contentsOf: digits)
        buffer.append(contentsOf: [CR, LF])
    }

    /// Appends the CRLF that ends a chunk's data.
    public static func writeChunkEnd(into buffer: inout [UInt8]) {
        buffer.append(contentsOf: [CR, LF])
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

    private static func appendVersion(_ version: HTTPVersion, into buffer: inout [UInt8]) {
        buffer.append(contentsOf: "HTTP/".utf8)
        buffer.append(UInt8(0x30 + version.major))
        buffer.append(UInt8(ascii: "."))
        buffer.append(UInt8(0x30 + version.minor))
    }

    private static func appendFields(_ fields: HTTPFields, into buffer: inout [UInt8]) {
        for field in fields {
            buffer.append(contentsOf: field.name.rawName.utf8)
            buffer.append(contentsOf: [COLON, SP])
            field.withUnsafeBytesOfValue { buffer.append(contentsOf: $0) }
            buffer.append(contentsOf: [CR, LF])
        }
    }
}

/// One part's headers in a `multipart/form-data` body.
public struct HTTPMultipartPartHead: Sendable, Hashable {
    /// The form field's name (`Content-Disposition: form-data; name=...`).
    public var name: String
    /// The file name the client gave (`filename=`), if any: the part is a file.
    public var filename: String?
    /// The part's `Content-Type`, if any.
    public var contentType: String?

    /// A part head.
    public init(name: String, filename: String? = nil, contentType: String? = nil) {
        self.name = name
        self.filename = filename
        self.contentType = contentType
    }
}

/// The `multipart/form-data` parser (RFC 7578, RFC 2046 §5.1): bytes in, events out, incremental and
/// pure (no I/O), like `HTTPParser`. ``HTTPMultipartReader`` feeds it a request body as it arrives;
/// ``HTTPForm/multipart(_:boundary:)`` feeds it a whole one.
///
/// It holds at most the unconsumed input: content is handed out as soon as it cannot be the start of
/// a delimiter, and a part's headers are refused past `maxHeaderBytes`.
struct MultipartParser {
    enum Event: Equatable {
        /// A part begins.
        case part(HTTPMultipartPartHead)
        /// A piece of the current part's content (never empty).
        case content([UInt8])
        /// The current part's content is complete.
        case partEnd
        /// The closing delimiter: there are no more parts (the epilogue is ignored).
        case end
    }

    private enum State {
        case preamble, boundaryLine, headers, content, finished
    }

    /// Unconsumed input starts at `position`. It starts with a CRLF so the first delimiter is found
    /// like the others (`CRLF--boundary`).
    private var buffer: [UInt8] = [13, 10]
    private var position = 0
    private var inputEnded = false
    private let delimiter: [UInt8]
    private let maxHeaderBytes: Int
    private var state = State.preamble

    init(boundary: String, maxHeaderBytes: Int = 16 * 1024) {
        precondition(!boundary.isEmpty && maxHeaderBytes > 0, "a multipart parser needs a boundary and a header limit")
        delimiter = Array("\r\n--\(boundary)".utf8)
        self.maxHeaderBytes = maxHeaderBytes
    }

    /// Adds input.
    mutating func append(_ bytes: [UInt8]) {
        precondition(!inputEnded, "multipart input after its end")
        if position > 0 {
            buffer.removeSubrange(0..<position)
            position = 0
        }
        buffer += bytes
    }

    /// Marks the end of the input.
    mutating func finish() { inputEnded = true }

    /// The next event, or nil when it needs more input (never after ``finish()``: then it throws or
    /// reaches ``Event/end``).
    ///
    /// - Throws: ``HTTPFormError`` for malformed or truncated input.
    mutating func next() throws(HTTPFormError) -> Event? {
        while true {
            switch state {
            case .finished:
                return .end
            case .preamble:
                if let found = find(delimiter, from: position) {
                    position = found + delimiter.count
                    state = .boundaryLine
                    continue
                }
                // The preamble is ignored: keep only what could be the start of the delimiter.
                position = max(position, buffer.count - (delimiter.count - 1))
                return try needMore("the multipart body does not contain its boundary")
            case .boundaryLine:
                // After a delimiter: "--" ends the body; otherwise optional whitespace, then CRLF.
                if buffer.count - position >= 2 && buffer[position] == 0x2D && buffer[position + 1] == 0x2D {
                    state = .finished
                    return .end
                }
                var index = position
                while index < buffer.count && (buffer[index] == 0x20 || buffer[index] == 0x09) { index += 1 }
                if index - position > 256 {
                    throw HTTPFormError("a multipart boundary is followed by something other than a line end")
                }
                guard buffer.count - index >= 2 else {
                    return try needMore("the multipart body is cut short after a boundary")
                }
                guard buffer[index] == 13 && buffer[index + 1] == 10 else {
                    throw HTTPFormError("a multipart boundary is followed by something other than a line end")
                }
                position = index  // the headers' search starts at this CRLF
                state = .headers
            case .headers:
                guard let end = find([13, 10, 13, 10], from: position) else {
                    if buffer.count - position > maxHeaderBytes {
                        throw HTTPFormError("a multipart part's headers are over \(maxHeaderBytes) bytes")
                    }
                    return try needMore("a multipart part's headers are cut short")
                }
                if end - position > maxHeaderBytes {
                    throw HTTPFormError("a multipart part's headers are over \(maxHeaderBytes) bytes")
                }
                let text = end > position ? String(decoding: buffer[(position + 2)..<end], as: UTF8.self) : ""
                position = end + 4
                state = .content
                return .part(try Self.partHead(text))
            case .content:
                if let found = find(delimiter, from: position) {
                    let piece = Array(buffer[position..<found])
                    if piece.isEmpty {
                        position = found + delimiter.count
                        state = .boundaryLine
                        return .partEnd
                    }
                    position = found  // the delimiter is consumed with the part's end
                    return .content(piece)
                }
                // What cannot be the start of the delimiter is content.
                let safe = buffer.count - (delimiter.count - 1)
                if safe > position {
                    let piece = Array(buffer[position..<safe])
                    position = safe
                    return .content(piece)
                }
                return try needMore("a multipart part is cut short (no closing boundary)")
            }
        }
    }

    /// nil (more input, please), or `message` as an error when the input has ended.
    private func needMore(_ message: String) throws(HTTPFormError) -> Event? {
        if inputEnded { throw HTTPFormError(message) }
        return nil
    }

    /// A part's name, file name and type from its header lines.
    static func partHead(_ headers: String) throws(HTTPFormError) -> HTTPMultipartPartHead {
        var name: String?, filename: String?, contentType: String?
        for line in headers.split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let field = line[..<colon].trimmingSpaces.lowercased()
            let value = line[line.index(after: colon)...].trimmingSpaces
            if field == "content-disposition" {
                let parameters = Self.parameters(value)
                guard parameters.first?.lowercased() == "form-data" else { continue }
                for parameter in parameters.dropFirst() {
                    guard let equals = parameter.firstIndex(of: "=") else { continue }
                    let key = parameter[..<equals].trimmingSpaces.lowercased()
                    let text = parameter[parameter.index(after: equals)...].trimmingSpaces.unquoted
                    if key == "name" { name = String(text) }
                    if key == "filename" { filename = String(text) }
                }
            } else if field == "content-type" {
                contentType = String(value)
            }
        }
        guard let name else { throw HTTPFormError("a multipart part has no Content-Disposition: form-data; name=...") }
        return HTTPMultipartPartHead(name: name, filename: filename, contentType: contentType)
    }

    /// `form-data; name="a;b"` split at the semicolons outside quotes.
    private static func parameters(_ value: Substring) -> [Substring] {
        var parts: [Substring] = []
        var start = value.startIndex
        var quoted = false
        for index in value.indices {
            if value[index] == "\"" { quoted.toggle() }
            if value[index] == ";" && !quoted {
                parts.append(value[start..<index].trimmingSpaces)
                start = value.index(after: index)
            }
        }
        parts.append(value[start...].trimmingSpaces)
        return parts
    }

    private func find(_ needle: [UInt8], from start: Int) -> Int? {
        guard buffer.count >= needle.count, start <= buffer.count - needle.count else { return nil }
        let first = needle[0]
        var index = start
        let last = buffer.count - needle.count
        while index <= last {
            if buffer[index] == first && buffer[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}

import HTTPTypes

/// A submitted form: `application/x-www-form-urlencoded` or `multipart/form-data` (RFC 7578), read by
/// ``HTTPServerRequest/form(limit:)`` (aiohttp's `await request.post()`).
public struct HTTPForm: Sendable {
    /// A file part of a multipart form.
    public struct File: Sendable, Hashable {
        /// The form field's name.
        public var name: String
        /// The file name the client gave (`filename=`), if any.
        public var filename: String?
        /// The part's `Content-Type`, if any.
        public var contentType: String?
        /// The file's bytes.
        public var content: [UInt8]

        /// A file part.
        public init(name: String, filename: String?, contentType: String?, content: [UInt8]) {
            self.name = name
            self.filename = filename
            self.contentType = contentType
            self.content = content
        }
    }

    /// The fields that are not files, in order; a name given several times appears several times.
    public var fields: [(name: String, value: String)]
    /// The file parts, in order.
    public var files: [File]

    /// A form with these fields and files.
    public init(fields: [(name: String, value: String)] = [], files: [File] = []) {
        self.fields = fields
        self.files = files
    }

    /// The first value of field `name`.
    public func value(_ name: String) -> String? { fields.first { $0.name == name }?.value }

    /// The fields of a urlencoded body (`+` is a space, `%XX` decoded).
    public static func urlencoded(_ body: [UInt8]) -> HTTPForm {
        let text = String(decoding: body, as: UTF8.self)
        let fields = text.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (name: PercentDecoding.decode(parts[0], plusIsSpace: true),
                    value: PercentDecoding.decode(parts.count > 1 ? parts[1] : "", plusIsSpace: true))
        }
        return HTTPForm(fields: fields, files: [])
    }

    /// The parts of a multipart body with `boundary`.
    ///
    /// - Throws: ``HTTPFormError`` for a body that does not start with the boundary, a part without a
    ///   `Content-Disposition: form-data; name=...`, or a body cut short before the closing boundary.
    public static func multipart(_ body: [UInt8], boundary: String) throws(HTTPFormError) -> HTTPForm {
        let delimiter = Array("--\(boundary)".utf8)
        let crlf: [UInt8] = [13, 10]
        guard var position = find(delimiter, in: body, from: 0) else {
            throw HTTPFormError("the multipart body does not contain its boundary")
        }
        var form = HTTPForm(fields: [], files: [])
        position += delimiter.count
        while true {
            // After a delimiter: "--" ends the body, CRLF starts a part.
            if body.count >= position + 2, body[position] == UInt8(ascii: "-"), body[position + 1] == UInt8(ascii: "-") {
                return form
            }
            guard body.count >= position + 2, body[position] == 13, body[position + 1] == 10 else {
                throw HTTPFormError("the multipart body is cut short after a boundary")
            }
            position += 2
            guard let headerEnd = find(crlf + crlf, in: body, from: position) else {
                throw HTTPFormError("a multipart part's headers are cut short")
            }
            let headers = String(decoding: body[position..<headerEnd], as: UTF8.self)
            position = headerEnd + 4
            guard let next = find(crlf + delimiter, in: body, from: position) else {
                throw HTTPFormError("a multipart part is cut short (no closing boundary)")
            }
            let content = Array(body[position..<next])
            position = next + 2 + delimiter.count
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
            if filename != nil {
                form.files.append(File(name: name, filename: filename, contentType: contentType, content: content))
            } else {
                form.fields.append((name, String(decoding: content, as: UTF8.self)))
            }
        }
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

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        var index = start
        let first = needle[0]
        while index <= haystack.count - needle.count {
            if haystack[index] == first && haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}

/// A form body that cannot be read.
public struct HTTPFormError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong with it.
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension HTTPServerRequest {
    /// Reads the body as a form: urlencoded or multipart (by `Content-Type`); an empty form for other
    /// bodies (aiohttp's `await request.post()`).
    ///
    /// - Throws: ``HTTPBodyError`` `.tooLarge` past `limit`; ``HTTPFormError`` for a multipart body
    ///   without a boundary parameter or malformed.
    ///
    /// ### Cancellation
    /// Stops reading; the connection is closed.
    public func form(limit: Int = 10 * 1024 * 1024) async throws -> HTTPForm {
        let contentType = head.headerFields[.contentType] ?? ""
        let mediaType = contentType.split(separator: ";").first.map { $0.trimmingSpaces.lowercased() } ?? ""
        switch mediaType {
        case "application/x-www-form-urlencoded":
            return HTTPForm.urlencoded(try await body.collect(upTo: limit))
        case "multipart/form-data":
            return try HTTPForm.multipart(try await body.collect(upTo: limit), boundary: try Self.boundary(contentType))
        default:
            return HTTPForm(fields: [], files: [])
        }
    }

    /// The `boundary` parameter of the request's multipart `Content-Type`.
    ///
    /// - Throws: ``HTTPFormError`` when there is none (or it is longer than 70 characters).
    public static func multipartBoundary(_ request: HTTPServerRequest) throws(HTTPFormError) -> String {
        try boundary(request.head.headerFields[.contentType] ?? "")
    }

    /// The `boundary` parameter of a multipart `Content-Type`.
    static func boundary(_ contentType: String) throws(HTTPFormError) -> String {
        if let value = HTTPHeaderValue.parameter("boundary", in: contentType), !value.isEmpty && value.count <= 70 {
            return String(value)
        }
        throw HTTPFormError("a multipart/form-data body needs a boundary parameter (RFC 2046: 1 to 70 characters)")
    }
}

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
        var parser = MultipartParser(boundary: boundary, maxHeaderBytes: max(body.count, 1))
        parser.append(body)
        parser.finish()
        var form = HTTPForm(fields: [], files: [])
        var head: HTTPMultipartPartHead?
        var content: [UInt8] = []
        while let event = try parser.next() {
            switch event {
            case .part(let part):
                head = part
                content = []
            case .content(let piece):
                content += piece
            case .partEnd:
                guard let part = head else { continue }
                if part.filename != nil {
                    form.files.append(File(name: part.name, filename: part.filename, contentType: part.contentType, content: content))
                } else {
                    form.fields.append((part.name, String(decoding: content, as: UTF8.self)))
                }
            case .end:
                return form
            }
        }
        preconditionFailure("a finished multipart parser asked for more input")
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

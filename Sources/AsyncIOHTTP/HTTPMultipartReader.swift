/// A `multipart/form-data` body read part by part as it arrives (aiohttp's `await request.multipart()`):
/// each part's headers, then its content in pieces, so an upload of any size goes to disk (or anywhere)
/// without the body ever being in memory. ``HTTPServerRequest/form(limit:)`` is the buffered shortcut.
///
/// ```swift
/// let parts = try request.multipart()
/// while let part = try await parts.nextPart() {
///     if part.filename != nil {
///         let file = try await File.open("/tmp/upload", mode: .write)
///         while let piece = try await parts.readChunk() { try await file.write(piece) }
///         try await file.close()
///     } else {
///         print(part.name, String(decoding: try await parts.collectPart(upTo: 4096), as: UTF8.self))
///     }
/// }
/// ```
///
/// Memory is bounded whatever the body: one body chunk, a delimiter's length, and a part's headers (at
/// most `maxHeaderBytes`). A part whose content is not read is skipped by the next ``nextPart()``.
///
/// ### Thread safety
/// Loop-confined, like the request body: use it from the handler's task.
public final class HTTPMultipartReader: @unchecked Sendable {
    /// One part's headers. Its content is read with ``HTTPMultipartReader/readChunk()`` before the
    /// next ``HTTPMultipartReader/nextPart()``.
    public typealias Part = HTTPMultipartPartHead

    private var body: HTTPRequestBody.AsyncIterator
    private var parser: MultipartParser
    private var bodyEnded = false
    private var inContent = false

    /// A reader over `body` with `boundary` (from the request's `Content-Type`).
    public init(body: HTTPRequestBody, boundary: String, maxHeaderBytes: Int = 16 * 1024) {
        self.body = body.makeAsyncIterator()
        parser = MultipartParser(boundary: boundary, maxHeaderBytes: maxHeaderBytes)
    }

    /// The next part's headers, or nil after the last part. Skips what is left of the current part.
    ///
    /// - Throws: ``HTTPFormError`` for a body without its boundary, cut short, a part without
    ///   `Content-Disposition: form-data; name=...` or with headers over `maxHeaderBytes`; what reading
    ///   the body throws (``HTTPBodyError``, ``HTTPParseError``, `StreamError`).
    ///
    /// ### Cancellation
    /// Stops reading; the connection is closed after the response, since the body's end is unknown.
    public func nextPart() async throws -> Part? {
        while true {
            switch try await nextEvent() {
            case .part(let part):
                inContent = true
                return part
            case .content, .partEnd:
                continue
            case .end:
                return nil
            }
        }
    }

    /// The next piece of the current part's content, or nil at its end (and before the first part).
    ///
    /// - Throws: ``HTTPFormError`` if the body ends inside the part; what reading the body throws.
    ///
    /// ### Cancellation
    /// As ``nextPart()``.
    public func readChunk() async throws -> [UInt8]? {
        guard inContent else { return nil }
        switch try await nextEvent() {
        case .content(let piece):
            return piece
        case .partEnd:
            inContent = false
            return nil
        case .part, .end:
            preconditionFailure("the multipart parser left a part without ending it")
        }
    }

    /// The rest of the current part's content, refusing more than `limit` bytes.
    ///
    /// - Throws: ``HTTPBodyError`` `.tooLarge` past `limit`; as ``readChunk()``.
    ///
    /// ### Cancellation
    /// As ``nextPart()``.
    public func collectPart(upTo limit: Int) async throws -> [UInt8] {
        var all: [UInt8] = []
        while let piece = try await readChunk() {
            if piece.count > limit - all.count {
                throw HTTPBodyError(.tooLarge, "a multipart part is over the limit of \(limit) bytes")
            }
            all += piece
        }
        return all
    }

    /// The parser's next event, feeding it body chunks until it has one.
    private func nextEvent() async throws -> MultipartParser.Event {
        while true {
            if let event = try parser.next() {
                if case .partEnd = event { inContent = false }
                return event
            }
            if bodyEnded { preconditionFailure("the multipart parser wants input after the end") }
            if let chunk = try await body.next() {
                parser.append(chunk)
            } else {
                bodyEnded = true
                parser.finish()
            }
        }
    }
}

extension HTTPServerRequest {
    /// The body as multipart parts, read as they arrive (aiohttp's `await request.multipart()`); see
    /// ``HTTPMultipartReader``.
    ///
    /// - Throws: ``HTTPFormError`` if the body is not `multipart/form-data` with a boundary parameter.
    public func multipart(maxHeaderBytes: Int = 16 * 1024) throws(HTTPFormError) -> HTTPMultipartReader {
        let contentType = head.headerFields[.contentType] ?? ""
        let mediaType = contentType.split(separator: ";").first.map { $0.trimmingSpaces.lowercased() } ?? ""
        guard mediaType == "multipart/form-data" else {
            throw HTTPFormError("the body is \(mediaType.isEmpty ? "not typed" : mediaType), not multipart/form-data")
        }
        return HTTPMultipartReader(body: body, boundary: try Self.boundary(contentType), maxHeaderBytes: maxHeaderBytes)
    }
}

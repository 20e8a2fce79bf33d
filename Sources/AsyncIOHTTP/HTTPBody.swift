import AsyncIO

/// An outgoing message body: bytes in memory, or a stream produced while it is sent.
///
/// A streamed body is written through an ``HTTPBodyWriter`` whose writes wait while the peer is slow
/// to read, so a large body never sits whole in memory:
///
/// ```swift
/// HTTPServerResponse(body: .stream { writer in
///     for chunk in chunks { try await writer.write(chunk) }
/// })
/// ```
public struct HTTPBody: Sendable {
    /// Both cases hold one reference (the stream's payload is boxed), so copying a body, as a handler
    /// returning a response it keeps does on every request, is one retain of it: with the stream's
    /// length and closure inline, a copy went through the enum's value witness (80 instructions).
    enum Storage: Sendable {
        case bytes([UInt8])
        indirect case stream(length: Int?, @Sendable (HTTPBodyWriter) async throws -> Void)
    }

    let storage: Storage

    /// No body.
    public static let empty = HTTPBody(bytes: [])

    /// A body of `bytes`.
    public init(bytes: [UInt8]) { storage = .bytes(bytes) }

    /// A body of the UTF-8 bytes of `text`.
    public init(_ text: String) { storage = .bytes(Array(text.utf8)) }

    /// A body produced by `produce` as it is sent. With a `length`, it goes out with `Content-Length`
    /// and must be exactly that long; without, it is chunked (or, to an HTTP/1.0 peer, ends when the
    /// connection closes).
    public static func stream(length: Int? = nil, _ produce: @escaping @Sendable (HTTPBodyWriter) async throws -> Void) -> HTTPBody {
        precondition(length.map { $0 >= 0 } ?? true, "a body length cannot be negative")
        return HTTPBody(storage: .stream(length: length, produce))
    }

    private init(storage: Storage) { self.storage = storage }

    /// The length, when it is known before sending.
    public var length: Int? {
        switch storage {
        case .bytes(let bytes): bytes.count
        case .stream(let length, _): length
        }
    }

    /// How many bytes the body holds when it is in memory; nil for a stream.
    var countInMemory: Int? {
        if case .bytes(let bytes) = storage { bytes.count } else { nil }
    }
}

/// Writes a streamed body's bytes to the connection, with chunked framing when the length was not
/// declared.
///
/// ### Thread safety
/// Use it from the task that received it, on its loop.
public final class HTTPBodyWriter: @unchecked Sendable {
    let writer: StreamWriter
    let chunked: Bool
    let declaredLength: Int?
    /// Bytes of body written so far.
    public private(set) var bytesWritten = 0
    private var header: [UInt8] = []

    init(writer: StreamWriter, chunked: Bool, declaredLength: Int?) {
        self.writer = writer
        self.chunked = chunked
        self.declaredLength = declaredLength
    }

    /// Writes `bytes`, waiting while the peer is slow to read (the writer's high watermark).
    ///
    /// - Throws: ``HTTPBodyError`` `.lengthMismatch` past the declared length; `StreamError` when the
    ///   connection fails.
    ///
    /// ### Cancellation
    /// Stops the wait; the connection is then closed, since the body is cut short.
    public func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        if let declaredLength, bytesWritten + bytes.count > declaredLength {
            throw HTTPBodyError(.lengthMismatch, "wrote more than the declared \(declaredLength) bytes")
        }
        bytesWritten += bytes.count
        if chunked {
            header.removeAll(keepingCapacity: true)
            HTTPSerializer.writeChunkHeader(count: bytes.count, into: &header)
            if bytes.count <= 64 * 1024 {
                // One send for size line, data and CRLF.
                header.append(contentsOf: bytes)
                HTTPSerializer.writeChunkEnd(into: &header)
                try await writer.write(header)
            } else {
                try await writer.write(header)
                try await writer.write(bytes)
                try await writer.write([CR, LF])
            }
        } else {
            try await writer.write(bytes)
        }
    }

    /// Writes the UTF-8 bytes of `text` (see ``write(_:)-([UInt8])``).
    ///
    /// ### Cancellation
    /// As ``write(_:)-([UInt8])``.
    public func write(_ text: String) async throws {
        try await write(Array(text.utf8))
    }

    /// Writes `count` bytes of `file` from `offset`: over plain TCP the kernel sends them from the page
    /// cache (`sendfile(2)`, no copy through the program), over TLS they are read and written in
    /// pieces (see `StreamWriter.sendFile(_:offset:count:)`).
    ///
    /// - Throws: ``HTTPBodyError`` `.lengthMismatch` past the declared length; `FileError` if the file
    ///   cannot be read or is shorter than `count`; `StreamError` when the connection fails.
    ///
    /// ### Cancellation
    /// Stops between pieces; the connection is then closed, since the body is cut short.
    public func writeFile(_ file: File, offset: Int = 0, count: Int) async throws {
        guard count > 0 else { return }
        if let declaredLength, bytesWritten + count > declaredLength {
            throw HTTPBodyError(.lengthMismatch, "wrote more than the declared \(declaredLength) bytes")
        }
        if chunked {
            header.removeAll(keepingCapacity: true)
            HTTPSerializer.writeChunkHeader(count: count, into: &header)
            try await writer.write(header)
        }
        try await writer.sendFile(file, offset: offset, count: count)
        bytesWritten += count
        if chunked { try await writer.write([CR, LF]) }
    }

    /// Ends the body: the last chunk, or a check that the declared length was met.
    func finish() async throws {
        if let declaredLength, bytesWritten != declaredLength {
            throw HTTPBodyError(.lengthMismatch, "wrote \(bytesWritten) of the declared \(declaredLength) bytes")
        }
        if chunked {
            header.removeAll(keepingCapacity: true)
            HTTPSerializer.writeLastChunk(into: &header)
            try await writer.write(header)
        }
    }
}

/// A body that broke its framing or limits.
public struct HTTPBodyError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: Hashable, Sendable {
        let value: Int
        /// A streamed body's bytes did not match its declared length.
        public static let lengthMismatch = Code(value: 0)
        /// A body was larger than the caller's limit (``HTTPRequestBody/collect(upTo:)``).
        public static let tooLarge = Code(value: 1)
        /// The body was read after its request had been answered.
        public static let expired = Code(value: 2)
    }

    /// What went wrong.
    public let code: Code
    /// The details.
    public let message: String

    /// An error with `code` and `message`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

import AsyncIO

/// A request body as it arrives: an `AsyncSequence` of chunks, read from the connection only when
/// asked for, so a client sending faster than the handler reads is held back by TCP, not buffered.
///
/// Reading it the first time sends `100 Continue` to a client that asked for it. A body not read by
/// the time the response is sent is discarded, or the connection is closed if it is large.
public struct HTTPRequestBody: AsyncSequence, Sendable {
    public typealias Element = [UInt8]

    let connection: HTTPServerConnection?
    let generation: UInt64
    private let fixed: [UInt8]?

    /// The length declared by `Content-Length`, if any.
    public let declaredLength: Int?

    /// An empty body.
    public static let empty = HTTPRequestBody(bytes: [])

    /// A body of `bytes`, for handlers called directly (as in tests).
    public init(bytes: [UInt8]) {
        connection = nil
        generation = 0
        fixed = bytes
        declaredLength = bytes.count
    }

    init(connection: HTTPServerConnection, generation: UInt64, declaredLength: Int?) {
        self.connection = connection
        self.generation = generation
        self.fixed = nil
        self.declaredLength = declaredLength
    }

    /// Reads the whole body, refusing more than `limit` bytes.
    ///
    /// - Throws: ``HTTPBodyError`` `.tooLarge` past `limit`; ``HTTPParseError`` if the body is malformed
    ///   or over the server's limit; `StreamError` if the connection fails.
    ///
    /// ### Cancellation
    /// Stops reading; the connection is closed after the response, since the body's end is unknown.
    public func collect(upTo limit: Int) async throws -> [UInt8] {
        if let declaredLength, declaredLength > limit {
            throw HTTPBodyError(.tooLarge, "the body's \(declaredLength) bytes are over the limit of \(limit)")
        }
        var all: [UInt8] = []
        for try await chunk in self {
            if chunk.count > limit - all.count {
                throw HTTPBodyError(.tooLarge, "the body is over the limit of \(limit) bytes")
            }
            all += chunk
        }
        return all
    }

    /// Reads the body chunk by chunk.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let body: HTTPRequestBody
        var fixedDone = false

        /// The next chunk, or nil at the end of the body.
        ///
        /// ### Cancellation
        /// As ``HTTPRequestBody/collect(upTo:)``.
        public mutating func next() async throws -> [UInt8]? {
            if let fixed = body.fixed {
                if fixedDone || fixed.isEmpty { return nil }
                fixedDone = true
                return fixed
            }
            return try await body.connection?.readBodyChunk(generation: body.generation)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(body: self) }
}

import AsyncIO
import HTTPTypes

/// A response from ``HTTPClient``: the head at once, the body as it arrives.
///
/// Read the body (``HTTPClientResponseBody/collect(upTo:)`` or `for try await chunk in response.body`)
/// to let the connection go back to the pool; a body never read closes the connection instead.
public struct HTTPClientResponse: Sendable {
    /// The status and fields.
    public var head: HTTPResponse
    /// The URL that answered (the last one, after redirects).
    public var url: HTTPURL
    /// How many redirects were followed.
    public var redirects: Int
    /// The body.
    public var body: HTTPClientResponseBody
    /// The redirects followed to get here, in order (aiohttp's `history`).
    public var history: [HTTPClientRedirect] = []

    /// Throws ``HTTPStatusError`` for a `4xx` or `5xx` status (aiohttp's `raise_for_status()`); the
    /// body is left unread (drop the response to close its connection, or read it for the details).
    public func raiseForStatus() throws(HTTPStatusError) {
        if head.status.code >= 400 { throw HTTPStatusError(status: head.status, url: url) }
    }

    /// The status.
    public var status: HTTPResponse.Status { head.status }
    /// The header fields.
    public var headerFields: HTTPFields { head.headerFields }
}

/// A response body as it arrives: an `AsyncSequence` of chunks, read from the connection only when
/// asked for.
public struct HTTPClientResponseBody: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    let source: Source?

    /// The length declared by `Content-Length`, if any.
    public let declaredLength: Int?

    /// Ties the body to its connection, and gives the connection back (or closes it) once the body is
    /// read, or dropped unread.
    final class Source: @unchecked Sendable {
        let connection: HTTPClientConnection
        let pool: HTTPConnectionPool
        let url: HTTPURL
        /// Decodes the body's content coding, when the client does.
        let decoder: ContentDecoder?
        private(set) var isDone = false

        init(connection: HTTPClientConnection, pool: HTTPConnectionPool, url: HTTPURL, decoder: ContentDecoder? = nil) {
            self.connection = connection
            self.pool = pool
            self.url = url
            self.decoder = decoder
            if connection.bodyComplete && decoder == nil { finish() }
        }

        /// The largest piece of decoded body handed out at once: a body that inflates far (a
        /// compression bomb) is never held whole, and the reader's limit stops it.
        static let decodedPieceSize = 64 * 1024

        func next() async throws -> [UInt8]? {
            if isDone { return nil }
            do {
                guard let decoder else {
                    if let chunk = try await connection.readBodyChunk(url: url) { return chunk }
                    finish()
                    return nil
                }
                while true {
                    let piece = try decoder.produce(maximum: Self.decodedPieceSize)
                    if !piece.isEmpty { return piece }
                    guard let raw = try await connection.readBodyChunk(url: url) else {
                        try decoder.finish()
                        finish()
                        return nil
                    }
                    // Bytes after the end of the compressed stream are read and dropped.
                    if !decoder.isFinished { decoder.feed(raw) }
                }
            } catch let error as HTTPContentCodingError {
                abandon()
                throw HTTPClientError(.badContentEncoding, url: url.description, error.message)
            } catch {
                abandon()
                throw error
            }
        }

        private func finish() {
            guard !isDone else { return }
            isDone = true
            pool.release(connection)
        }

        /// Gives up on the body: the connection cannot carry another request.
        func abandon() {
            guard !isDone else { return }
            isDone = true
            connection.close()
            pool.release(connection)
        }

        deinit {
            guard !isDone else { return }
            let connection = self.connection, pool = self.pool
            if connection.loop.inEventLoop {
                connection.close()
                pool.release(connection)
            } else {
                connection.loop.callSoon {
                    connection.close()
                    pool.release(connection)
                }
            }
        }
    }

    init(source: Source?, declaredLength: Int?) {
        self.source = source
        self.declaredLength = declaredLength
    }

    /// Reads the whole body, refusing more than `limit` bytes (16 MiB by default); the connection then
    /// goes back to the pool.
    ///
    /// - Throws: ``HTTPClientError`` `.bodyTooLarge` past `limit` (the connection is closed),
    ///   `.timedOut`, `.connectionClosed` or `.protocolError`.
    ///
    /// ### Cancellation
    /// Stops reading; the connection is closed.
    public func collect(upTo limit: Int = 16 * 1024 * 1024) async throws -> [UInt8] {
        guard let source else { return [] }
        if let declaredLength, declaredLength > limit {
            source.abandon()
            throw HTTPClientError(.bodyTooLarge, url: source.url.description, "\(declaredLength) bytes is over the limit of \(limit)")
        }
        var all: [UInt8] = []
        do {
            while let chunk = try await source.next() {
                if chunk.count > limit - all.count {
                    source.abandon()
                    throw HTTPClientError(.bodyTooLarge, url: source.url.description, "the body is over the limit of \(limit) bytes")
                }
                if all.isEmpty {
                    all = chunk  // the usual small body: one chunk, no copy
                    if let declaredLength, declaredLength > chunk.count { all.reserveCapacity(declaredLength) }
                } else {
                    all += chunk
                }
            }
        } catch {
            source.abandon()
            throw error
        }
        return all
    }

    /// Reads the body chunk by chunk.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let source: Source?

        /// The next chunk, or nil at the end of the body.
        ///
        /// ### Cancellation
        /// Stops reading; the connection is closed.
        public mutating func next() async throws -> [UInt8]? {
            guard let source else { return nil }
            do {
                return try await source.next()
            } catch {
                source.abandon()
                throw error
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(source: source) }
}

/// One redirect a request followed.
public struct HTTPClientRedirect: Sendable, Hashable {
    /// The redirect's status (301, 302, 303, 307 or 308).
    public var status: HTTPResponse.Status
    /// The URL that answered with it.
    public var url: HTTPURL
    /// Its `Location`.
    public var location: String
}

/// A response whose status says the request failed (``HTTPClientResponse/raiseForStatus()``).
public struct HTTPStatusError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The status.
    public let status: HTTPResponse.Status
    /// The URL that answered.
    public let url: HTTPURL

    public var description: String { "\(url): \(status.code) \(status.reasonPhrase)" }
}

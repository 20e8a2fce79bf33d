import AsyncIO
import HTTPTypes

/// One client connection: writes a request, reads the response head and then its body, and goes back
/// to its pool when the response allows keep-alive.
///
/// Reads wait under one ``ConnectionDeadline``: the read-idle timeout from each wait, capped by the
/// request's total deadline. When it passes, the socket is closed and the read fails as a timeout.
final class HTTPClientConnection: @unchecked Sendable {
    let key: HTTPConnectionPool.Key
    let reader: StreamReader
    let writer: StreamWriter
    let loop: EventLoop
    private var parser = HTTPParser(.response)
    private let deadline: ConnectionDeadline
    /// The connection's rules, as a state machine; this class does the I/O it asks for.
    private var state = HTTPClientConnectionState()
    /// When a pooled idle connection is closed (loop-clock nanoseconds).
    var idleDeadline: Int64 = 0
    private var readTimeout: Duration = .seconds(30)
    private var totalDeadline: Int64?
    private var scratch: [UInt8] = []

    /// Whether any byte of the current response has arrived (a reused connection that fails before
    /// that was stale, and an idempotent request may be retried).
    var receivedAny: Bool { state.receivedAny }
    /// Whether the last response ended in a way that lets the connection carry another request.
    var isReusable: Bool { state.isReusable }
    /// Whether the current response's body has been read to its end.
    var bodyComplete: Bool { state.bodyComplete }

    init(key: HTTPConnectionPool.Key, reader: StreamReader, writer: StreamWriter) {
        self.key = key
        self.reader = reader
        self.writer = writer
        loop = writer.loop
        deadline = ConnectionDeadline(loop: loop)
        deadline.expire = { [writer] in writer.abort() }
    }

    var isClosed: Bool { writer.isClosed }

    /// Whether an idle connection can take a request: open, and the server has sent nothing (a close
    /// or stray bytes) since the last response.
    var isUsableWhenIdle: Bool {
        guard !writer.isClosed, reader.bufferedCount == 0 else { return false }
        do {
            let arrived = try reader.receiveIfAvailable()
            return arrived == 0 && !reader.isAtEOF
        } catch {
            return false
        }
    }

    func close() {
        deadline.cancel()
        state.closed()
        writer.abort()
    }

    // MARK: - Request

    /// Writes the request head and body.
    func send(
        _ request: HTTPRequest, body: HTTPBody, url: HTTPURL, userAgent: String, acceptEncoding: String?,
        readTimeout: Duration, totalDeadline: Int64?
    ) async throws {
        self.readTimeout = readTimeout
        self.totalDeadline = totalDeadline
        state.requestStarted()
        parser.requestMethod = request.method
        scratch.removeAll(keepingCapacity: true)
        HTTPSerializer.writeRequestLine(request, into: &scratch)
        let skipped = HTTPSerializer.appendFields(request.headerFields, skippingFraming: true, into: &scratch)
        if request.headerFields[.userAgent] == nil {
            scratch.append("User-Agent: ")
            scratch.append(utf8: userAgent)
            scratch.appendCRLF()
        }
        if let acceptEncoding, request.headerFields[.acceptEncoding] == nil {
            scratch.append("Accept-Encoding: ")
            scratch.append(utf8: acceptEncoding)
            scratch.appendCRLF()
        }
        // A zero length is stated only where a body is expected (RFC 9110 §8.6).
        let declaresLength = body.length.map { $0 > 0 || request.method == .post || request.method == .put || request.method == .patch } ?? false
        HTTPSerializer.appendFraming(contentLength: declaresLength ? body.length : nil, chunked: body.length == nil, into: &scratch)
        if let connection = skipped.connection {  // skipped with the framing fields: written after them
            scratch.append("Connection: ")
            scratch.append(utf8: connection)
            scratch.appendCRLF()
        }
        scratch.appendCRLF()
        // The total timeout covers sending too: when it passes, the connection is aborted and the write
        // waiting on it (or the body producer's next write) fails.
        if let totalDeadline { deadline.set(at: totalDeadline) }
        defer { if totalDeadline != nil && !deadline.hasExpired { deadline.clear() } }
        do {
            switch body.storage {
            case .bytes(let bytes):
                if bytes.count <= 64 * 1024 {
                    scratch.append(contentsOf: bytes)
                    try await writer.write(scratch)
                } else {
                    try await writer.write(scratch)
                    try await writer.write(bytes)
                }
            case .stream(let length, let produce):
                try await writer.write(scratch)
                let bodyWriter = HTTPBodyWriter(writer: writer, chunked: length == nil, declaredLength: length)
                try await produce(bodyWriter)
                try await bodyWriter.finish()
            }
            state.requestSent()
        } catch let error as StreamError {
            if deadline.hasExpired {
                throw HTTPClientError(.timedOut, url: url.description, "the total timeout passed while sending the request")
            }
            throw HTTPClientError(.connectionClosed, url: url.description, "while sending the request: \(error)")
        }
    }

    /// Reads the final response head (skipping 1xx answers).
    func readHead(url: HTTPURL) async throws -> HTTPResponseHead {
        while true {
            switch try await nextEvent(url: url) {
            case .responseHead(let head):
                switch state.headReceived(status: head.response.status.code, keepAlive: head.keepAlive,
                                          hasBody: head.framing != .none) {
                case .skipInterim:
                    _ = try await nextEvent(url: url)  // its end
                    continue
                case .complete:
                    _ = try await nextEvent(url: url)  // the end of a bodiless response
                    finishBody()
                case .readBody:
                    break
                }
                return head
            case .body, .end, .requestHead:
                throw HTTPClientError(.protocolError, url: url.description, "a body before the response head")
            }
        }
    }

    /// The head of the answer to an upgrade request, for a protocol switch (a WebSocket): nothing after
    /// the head is consumed, and the connection's timers stop (the new protocol keeps its own).
    func readUpgradeHead(url: HTTPURL) async throws -> HTTPResponseHead {
        switch try await nextEvent(url: url) {
        case .responseHead(let head):
            deadline.cancel()
            return head
        case .body, .end, .requestHead:
            throw HTTPClientError(.protocolError, url: url.description, "a body before the response head")
        }
    }

    /// The next chunk of the response body, or nil at its end.
    func readBodyChunk(url: HTTPURL) async throws -> [UInt8]? {
        if bodyComplete { return nil }
        while true {
            switch try await nextEvent(url: url) {
            case .body(let bytes): return bytes
            case .end:
                finishBody()
                return nil
            default:
                throw HTTPClientError(.protocolError, url: url.description, "a response head inside a body")
            }
        }
    }

    private func finishBody() {
        state.responseEnded(socketOpen: !writer.isClosed)
        deadline.clear()
    }

    private enum Event {
        case responseHead(HTTPResponseHead)
        case body([UInt8])
        case end
        case requestHead
    }

    private func nextEvent(url: HTTPURL) async throws -> Event {
        while true {
            let event: Event?
            do {
                event = try reader.withBufferedBytes { buffer -> (consumed: Int, result: Event?) in
                    let (consumed, event) = try parser.parse(buffer)
                    switch event {
                    case .responseHead(let head): return (consumed, .responseHead(head))
                    case .body(let range): return (consumed, .body(Array(buffer[range])))
                    case .end: return (consumed, .end)
                    case .requestHead: return (consumed, .requestHead)
                    case nil: return (consumed, nil)
                    }
                }
            } catch let error as HTTPParseError {
                close()
                throw HTTPClientError(.protocolError, url: url.description, error.description)
            }
            if let event { return event }
            var wait = loop.now.nanoseconds.addingSaturated(readTimeout.nanoseconds)
            if let totalDeadline { wait = min(wait, totalDeadline) }
            deadline.set(at: wait)
            let more: Bool
            do {
                more = try await reader.receiveMore()
            } catch {
                if deadline.hasExpired {
                    throw HTTPClientError(.timedOut, url: url.description, state.timeoutReason)
                }
                close()
                if error is CancellationError { throw error }
                throw HTTPClientError(.connectionClosed, url: url.description, "\(error)")
            }
            deadline.clear()
            if more {
                state.bytesArrived()
                continue
            }
            do {
                if let last = try parser.finish() {
                    if case .end = last { return .end }
                }
            } catch {}
            let reason = state.closedByServerReason
            close()
            throw HTTPClientError(.connectionClosed, url: url.description, reason)
        }
    }
}

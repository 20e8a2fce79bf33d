import AsyncIO
import HTTPTypes
import Logging

extension HTTPServerConnection {
    // MARK: - Responses

    /// What answering a request needs of its head, taken out before the request moves into the
    /// handler's ``HTTPServerRequest``: the head is not copied (a reference count for each of the
    /// request's two parts, and as many releases, a request).
    struct Answering {
        let version: HTTPVersion
        let keepAlive: Bool
        let isHEAD: Bool

        init(_ head: borrowing HTTPRequestHead) {
            version = head.version
            keepAlive = head.keepAlive
            isHEAD = head.isHEAD
        }

        init(version: HTTPVersion, keepAlive: Bool, isHEAD: Bool) {
            self.version = version
            self.keepAlive = keepAlive
            self.isHEAD = isHEAD
        }
    }

    /// The largest body in memory that goes out in one send with its head. One figure for both
    /// ``sendHead(_:to:keepAlive:)`` and ``answerNow(_:to:)``: a response that `answerNow` counts as
    /// sent must have had its body sent with the head.
    static let inlineBodyLimit = 64 * 1024

    /// How far ``answerNow(_:to:)`` got with a request.
    enum Immediate {
        /// Answered, the response all sent: whether the connection stays open.
        case answered(keepAlive: Bool)
        /// Answered, but the socket did not take all of the response: these bytes are still to send
        /// (with a wait), then the request is done.
        case unsent([UInt8], keepAlive: Bool, status: Int)
        /// The handler has answered (or thrown), but its response needs waits to write:
        /// ``respond(_:to:of:)`` writes it.
        case respond(Result<HTTPServerResponse, any Error>)
        /// The handler may suspend: ``serve(_:to:handler:)`` calls it.
        case callHandler
    }

    /// Answers `request` without suspending when it can: when the router finds a route added with a
    /// handler that does not suspend, and its response is a head and a body in memory that go out in
    /// one send. The usual request then costs no task allocation (two before: the frames that call
    /// the handler and write its response), nor the calls in and out of them.
    @inline(never)
    func answerNow(_ request: HTTPServerRequest, to head: Answering) -> Immediate {
        guard !isInstrumented, let route = route(request) else { return .callHandler }
        let parameters = route.parameters
        // The handler moves out of the route: bound from it in place, it was retained once more.
        guard case .synchronous(let handler) = (consume route).callable else { return .callHandler }
        let response: HTTPServerResponse
        do {
            response = try HTTPRouter.call(handler, request, with: parameters)
        } catch {
            return .respond(.failure(error))
        }
        guard response.upgrade == nil || response.statusCode != 101, let count = response.body.countInMemory,
              count <= Self.inlineBodyLimit  // so ``sendHead(_:to:keepAlive:)`` sends it with the head
        else { return .respond(.success(response)) }
        var keepAlive = handlerFinished(head)
        do {
            let sent = try sendHead(response, to: head, keepAlive: keepAlive)
            bytesSent &+= sent.count
            if let unsent = sent.unsent { return .unsent(unsent, keepAlive: sent.keepAlive, status: response.statusCode) }
            keepAlive = sent.keepAlive
        } catch {
            keepAlive = false
        }
        recordRequest(status: response.statusCode)
        return .answered(keepAlive: keepAlive)
    }

    /// Sends what ``answerNow(_:to:)`` could not; returns whether the connection stays open.
    @inline(never)
    func finishSending(_ unsent: [UInt8], keepAlive: Bool, status: Int) async -> Bool {
        var keepAlive = keepAlive
        do { try await writer.write(unsent) } catch { keepAlive = false }
        recordRequest(status: status)
        return keepAlive
    }

    /// Writes `response`; returns whether the connection stays open.
    ///
    /// The head is built by a synchronous function and a streamed body is written by another async
    /// one: their temporaries live on the thread's stack or in a frame that exists only meanwhile,
    /// not in this frame (the task allocator keeps the slabs of a connection's deepest frame chain
    /// for the connection's whole life). Inlined into ``respond(_:to:of:)``, its only caller, it costs no
    /// frame of its own (a task allocation a request; `@inline(__always)` is not honoured for async
    /// functions).
    @inline(always)
    func write(_ response: HTTPServerResponse, to head: Answering, keepAlive: Bool) async throws -> Bool {
        let (unsent, count, chunked, hasBody, bodySent, keepAlive) = try sendHead(response, to: head, keepAlive: keepAlive)
        bytesSent &+= count
        if let unsent {
            try await writer.write(unsent)
        } else {
            // As the writer's own writes do: a client that never waits yields.
            if loop.spendIOBudget() { await Task.yield() }
        }
        switch response.body.storage {
        case .bytes(let bytes):
            if hasBody && !bodySent {
                try await writer.write(bytes)
                bytesSent &+= bytes.count
            }
            return keepAlive
        case .stream(let declared, let produce):
            if hasBody {
                return try await writeStreamedBody(produce, chunked: chunked, declaredLength: declared) && keepAlive
            }
            return keepAlive
        }
    }

    /// Writes the head (with a body of up to 64 KiB in memory after it, in one send) if the writer
    /// takes it without a wait; otherwise returns its bytes for an awaited write. Also returns the
    /// count of those bytes, whether the body is chunked, whether there is one, whether it went with
    /// the head, and whether the connection stays open.
    ///
    /// Synchronous, so the head is built on the thread's stack: no array, and no temporaries in the
    /// connection's frames.
    @inline(never)
    private func sendHead(
        _ response: HTTPServerResponse, to head: Answering, keepAlive: Bool
    ) throws -> SentHead {
        var keepAlive = keepAlive
        let statusLine = response.statusLine  // without a parse when the response has the status it was made with
        let status = statusLine.code
        let hasBody = HTTPSerializer.responseHasBody(status: status, requestIsHEAD: head.isHEAD)
        let mayDeclareLength = !(100..<200).contains(status) && status != 204 && status != 304
        var chunked = false
        var length = response.body.length
        if length == nil && hasBody {
            if head.version == .http1_1 { chunked = true } else { keepAlive = false }
        }
        if !mayDeclareLength { length = nil }
        var head = OutgoingHead(
            writer: Unmanaged.passUnretained(writer), dateLine: Unmanaged.passUnretained(dateLine),
            polledAt: loop.lastPollMonotonicNanoseconds, statusCode: status, reason: statusLine.reason, fields: response.headerFields,
            length: length, chunked: chunked && hasBody, isHeadRequest: head.isHEAD, isHTTP10: head.version == .http1_0,
            keepAlive: keepAlive)
        let sent: (unsent: [UInt8]?, count: Int, keepAlive: Bool)
        let bodySent: Bool
        if hasBody, case .bytes(let bytes) = response.body.storage, bytes.count <= Self.inlineBodyLimit {
            // Head and body in one send. The body is lent for the send, not kept in the head (a
            // reference count, and its release).
            sent = try bytes.withUnsafeBufferPointer { body in
                head.inlineBody = body
                return try Self.send(&head)
            }
            bodySent = true
        } else {
            sent = try Self.send(&head)
            bodySent = false
        }
        return (sent.unsent, sent.count, chunked, hasBody, bodySent, sent.keepAlive)
    }

    /// Writes `head` into a buffer on the stack and hands it to the writer (see ``OutgoingHead/send(into:)``).
    ///
    /// The fields are sized only if they need more room than an allowance: sizing them is one more
    /// pass over them, and each pass copies every field. Everything but the fields and the lines made
    /// of their skipped values (which the fields' own size covers) has a fixed bound.
    private static func send(_ head: inout OutgoingHead) throws -> (unsent: [UInt8]?, count: Int, keepAlive: Bool) {
        var capacity = HTTPSerializer.responseLineCapacity(reason: head.reason) + HTTPSerializer.framingCapacity
        capacity += HTTPDateLine.capacity + 24 + 2 + (head.inlineBody?.count ?? 0)
        var fieldsCapacity = 512  // the whole head stays under the 1 KiB that always goes on the stack
        var measured = false
        while true {
            let sent = try HTTPHeadBuffer.with(capacity: capacity + fieldsCapacity, &head) { buffer, head in
                try head.send(into: &buffer)
            }
            if let sent { return sent }
            precondition(!measured, "an HTTP head larger than its fields' measured size")
            fieldsCapacity = HTTPSerializer.fieldsCapacity(head.fields)
            measured = true
        }
    }

    /// What ``sendHead(_:to:keepAlive:)`` returns.
    private typealias SentHead = (unsent: [UInt8]?, count: Int, chunked: Bool, hasBody: Bool, bodySent: Bool, keepAlive: Bool)

    /// Runs a streamed body's producer; false when the body was cut short (the connection must close).
    @inline(never)
    private func writeStreamedBody(
        _ produce: @Sendable (HTTPBodyWriter) async throws -> Void, chunked: Bool, declaredLength: Int?
    ) async throws -> Bool {
        let bodyWriter = HTTPBodyWriter(writer: writer, chunked: chunked, declaredLength: declaredLength)
        do {
            try await produce(bodyWriter)
            try await bodyWriter.finish()
            bytesSent &+= bodyWriter.bytesWritten
            return true
        } catch {
            // The head is out: the only way to tell the client the body is cut short.
            reportBodyFailure(error)
            writer.abort()
            return false
        }
    }

    private func reportBodyFailure(_ error: any Error) {
        if let stream = error as? StreamError, stream.code == .broken || stream.code == .closed {
            // The client went away mid-body: routine, not a server error.
            server.logger.debug("client left during the response body", metadata: ["error": "\(error)"])
        } else if !(error is CancellationError) {
            server.logger.error("response body failed", metadata: ["error": "\(error)"])
        }
    }

    func respondToParseError(_ error: HTTPParseError) async {
        guard !writer.isClosed else { return }
        server.logger.debug("bad request", metadata: ["error": "\(error)"])
        guard error.kind != .incomplete else { return }
        var head = HTTPResponse(status: .init(code: error.status))
        head.headerFields[.contentType] = "text/plain; charset=utf-8"
        let answering = Answering(version: .http1_1, keepAlive: false, isHEAD: false)
        _ = try? await write(HTTPServerResponse(head, body: HTTPBody("\(error.reason)\n")), to: answering, keepAlive: false)
    }
}

/// A response head to write, and what writing it needs: passed to the head buffer's body by reference
/// (``HTTPHeadBuffer/with(capacity:_:_:)``), where a closure would copy each of these into its captures.
private struct OutgoingHead {
    /// The connection's writer and `Date` line, unretained (`Unmanaged`, a guaranteed reference taken
    /// for each use): the head lives in ``HTTPServerConnection/sendHead(_:to:keepAlive:)``'s frame,
    /// which holds the connection, which holds both. Read through the connection instead, each was
    /// retained and released (4 reference counts a response), the compiler not knowing that the
    /// connection outlives the call; a call on an `unowned(unsafe)` reference still retains it for
    /// the call's length.
    let writer: Unmanaged<StreamWriter>
    let dateLine: Unmanaged<HTTPDateLine>
    /// The loop's last poll, for the `Date` line.
    let polledAt: Int64
    let statusCode: Int
    /// The reason phrase, or nil for the standard one.
    let reason: String?
    let fields: HTTPFields
    let length: Int?
    let chunked: Bool
    let isHeadRequest: Bool
    let isHTTP10: Bool
    let keepAlive: Bool
    /// A body to send with the head, lent for the send.
    var inlineBody: UnsafeBufferPointer<UInt8>?

    /// Writes the head into `buffer` and hands it to the writer; nil when it did not fit. Returns the
    /// bytes the writer did not take at once, the head's size and whether the connection stays open.
    func send(into buffer: inout HTTPHeadBuffer) throws -> (unsent: [UInt8]?, count: Int, keepAlive: Bool)? {
        HTTPSerializer.writeResponseLine(code: statusCode, reason: reason, version: .http1_1, into: &buffer)
        let skipped = HTTPSerializer.appendFields(fields, skippingFraming: true, into: &buffer)
        var keepAlive = keepAlive
        if let connection = skipped.connection, connection.lowercased().contains("close") {
            keepAlive = false
        }
        if isHeadRequest && length == 0, let declared = skipped.contentLength {
            // A HEAD answer may state the length the GET body would have.
            buffer.append("Content-Length: ")
            buffer.append(utf8: declared)
            buffer.appendCRLF()
            HTTPSerializer.appendFraming(contentLength: nil, chunked: chunked, into: &buffer)
        } else {
            HTTPSerializer.appendFraming(contentLength: length, chunked: chunked, into: &buffer)
        }
        // SAFETY: the connection holds the line and the writer for longer than this call (see above).
        dateLine._withUnsafeGuaranteedRef { $0.append(at: polledAt, into: &buffer) }
        if statusCode == 101, let upgrade = skipped.connection {
            buffer.append("Connection: ")  // "Upgrade", from the protocol switched to
            buffer.append(utf8: upgrade)
            buffer.appendCRLF()
        } else if !keepAlive {
            buffer.append("Connection: close\r\n")
        } else if isHTTP10 {
            buffer.append("Connection: keep-alive\r\n")
        }
        buffer.appendCRLF()
        if let inlineBody { buffer.append(bytes: inlineBody) }
        if buffer.overflowed { return nil }
        let sent = try writer._withUnsafeGuaranteedRef { try $0.tryWrite(buffer.written) }
        return (sent ? nil : [UInt8](buffer.written), buffer.count, keepAlive)
    }
}

import AsyncIO
import AsyncIOSystem
import HTTPTypes
import Logging
import ServiceContextModule
import Tracing

/// One HTTP/1.1 connection on the server: reads requests in order, calls the handler, writes the
/// responses, and enforces the timeouts. Runs in a child task of the server's task.
///
/// Timeouts cost no timer per request: the connection keeps one deadline that it moves as its phase
/// changes, and one loop timer that, when it fires early, re-arms itself for the current deadline.
final class HTTPServerConnection: @unchecked Sendable {
    // Its `var`s are `@exclusivity(unchecked)`: the object is loop-confined and no access to them
    // spans a call that could reach them again (each is a load, a store, or a mutation that calls
    // nothing back), so the runtime's checks could not fire; on the request path of the loop, the
    // streams and the HTTP server they cost 2.4 % of `/plaintext`'s CPU (31 checks a request).
    let reader: StreamReader
    let writer: StreamWriter
    unowned let server: HTTPServer
    let loop: EventLoop
    @exclusivity(unchecked) private(set) var parser: HTTPParser
    /// The connection's rules, as a state machine; this class does the I/O it asks for.
    @exclusivity(unchecked) private var state = HTTPServerConnectionState()
    private let deadline: ConnectionDeadline
    var timedOut: Bool { deadline.hasExpired }

    /// For metrics (only when the server records them): when the current request's head arrived, and
    /// the bytes received and sent for it.
    @exclusivity(unchecked) private var requestStarted: Int64 = 0
    @exclusivity(unchecked) private var bytesReceived = 0
    @exclusivity(unchecked) var bytesSent = 0

    /// What the connection is doing.
    var phase: HTTPServerConnectionState.Phase { state.phase }

    /// The server's settings that every request reads, taken once: through the unowned `server`, each
    /// read retained the server and copied its whole configuration (a profile of `/plaintext` showed
    /// both, 1 % of the server's time). The timeouts are kept in nanoseconds: one is set on every
    /// request (``ConnectionDeadline/set(afterNanoseconds:)``).
    private let headerTimeout: Int64
    private let idleTimeout: Int64
    private let metrics: HTTPServerMetricsRecorder?
    let isInstrumented: Bool
    /// The server's router, when the connections consult it themselves (``HTTPServer/routes``).
    let routes: HTTPRouter?
    /// The route ``route(_:)`` found last, and the parser's ``HTTPParser/routeGeneration`` for the
    /// request it was found for.
    @exclusivity(unchecked) var lastResolution: HTTPRouter.Resolution?
    @exclusivity(unchecked) var lastRouteGeneration: UInt64 = 0
    /// The server's `Date` line, which every response head writes.
    let dateLine: HTTPDateLine

    init(stream: any ByteStream, server: HTTPServer) {
        reader = StreamReader(stream: stream, limit: 64 * 1024)
        writer = StreamWriter(stream: stream)
        writer.stallTimeout = server.configuration.writeTimeout
        headerTimeout = server.configuration.headerTimeout.nanoseconds
        idleTimeout = server.configuration.idleTimeout.nanoseconds
        metrics = server.metrics
        routes = server.routes
        dateLine = server.dateLine
        isInstrumented = server.tracer != nil || server.propagation != nil
        self.server = server
        loop = stream.loop
        parser = HTTPParser(.request, limits: server.parserLimits)
        deadline = ConnectionDeadline(loop: loop)
        deadline.expire = { [unowned self] in
            server.logger.debug("connection timed out", metadata: ["phase": "\(phase)"])
            writer.abort()  // wakes the pending read with `.closed`
        }
    }

    var remoteAddress: SocketAddress? { writer.stream.peerAddress }

    /// Serves requests until the peer closes, an error, a timeout, or shutdown.
    ///
    /// One cancellation handler for the connection's life rather than one per wait for a request head
    /// (``StreamReader/ownerHandlesCancellation``): the head reads do not watch cancellation, and this
    /// handler interrupts them. They need not watch cancel scopes either: the connection runs in the
    /// server's task, which `EventLoop.spawn` runs outside any scope.
    func run(handler: HTTPServer.Handler) async {
        let reader = self.reader
        await withInheritedCancellationHandler {
            await serveRequests(handler: handler)
        } onCancel: {
            reader.interruptWaitSoon()
        }
    }

    private func serveRequests(handler: HTTPServer.Handler) async {
        defer {
            state.closed()
            deadline.cancel()
        }
        while true {
            let answering: Answering
            let request: HTTPServerRequest
            do {
                guard let head = try await readHead() else { break }
                answering = Answering(head)
                request = makeRequest(consume head)  // moved into the request, not copied
            } catch let error as HTTPParseError {
                await respondToParseError(error)
                break
            } catch {
                break  // reset, timeout (socket closed), cancellation
            }
            // Nothing buffered: give the receive buffer back while the handler runs (it may wait long).
            reader.releaseStorageIfEmpty()
            // A route that does not suspend is answered here, without a frame of its own: the usual
            // request costs no task allocation beyond its read.
            let keepAlive: Bool
            switch answerNow(request, to: answering) {
            case .answered(let open):
                keepAlive = open
                // As the writer's own writes do: a client that never waits yields.
                if loop.spendIOBudget() { await Task.yield() }
            case .unsent(let bytes, let open, let status):
                keepAlive = await finishSending(bytes, keepAlive: open, status: status)
            case .respond(let outcome):
                keepAlive = await respond(outcome, to: answering, of: request)
            case .callHandler:
                keepAlive = await serve(request, to: answering, handler: handler)
            }
            if !keepAlive { break }  // false once the server shuts down (`shutdownRequested`)
        }
        if pendingUpgrade != nil || writer.isClosed { return }  // the connection switched protocols
        if timedOut || reader.isAtEOF {
            if timedOut { writer.abort() } else { await writer.close() }
        } else {
            await lingeringClose()
        }
    }

    /// Closes without losing the last response: closing a socket with unread input makes the kernel
    /// send a reset, which can destroy the response before the client reads it. So: send end of stream
    /// after the response, discard input until the client closes (at most 1 MiB or 2 s), then close.
    private func lingeringClose() async {
        state.lingering()
        writer.writeEOF()
        deadline.set(after: .seconds(2))
        var discarded = 0
        do {
            while discarded < 1 << 20 {
                discarded += reader.withBufferedBytes { buffer in (consumed: buffer.count, result: buffer.count) }
                guard try await reader.receiveMore() else { break }
            }
        } catch {}
        deadline.clear()
        if timedOut { writer.abort() } else { await writer.close() }
    }

    /// Called at shutdown: a connection waiting for its next request closes now; one in the middle of
    /// a request closes after its response.
    func shutdownRequested() {
        if let onShutdown {
            onShutdown()
            return
        }
        if state.shutdownRequested() == .closeNow { writer.abort() }
    }

    /// Set by a protocol that took the connection over (a WebSocket): how it closes at shutdown.
    @exclusivity(unchecked) var onShutdown: (() -> Void)?

    /// The protocol a `101` switched to, for the server to run after ``run(handler:)`` returns: its
    /// frames then replace the HTTP ones instead of stacking on them (an idle WebSocket costs less).
    @exclusivity(unchecked) private var pendingUpgrade: (@Sendable (HTTPServerConnection) async -> Void)?

    /// Takes the protocol the connection switched to, if any.
    func takeUpgrade() -> (@Sendable (HTTPServerConnection) async -> Void)? {
        defer { pendingUpgrade = nil }
        return pendingUpgrade
    }

    // MARK: - Requests

    /// The next request's head, or nil when the peer closed between requests.
    ///
    /// Inlined into ``serveRequests(handler:)``, its one caller: no frame of its own, a task allocation
    /// and its release a request.
    @inline(always)
    private func readHead() async throws -> HTTPRequestHead? {
        reader.ownerHandlesCancellation = true  // run(handler:)'s handler interrupts the waits
        defer { reader.ownerHandlesCancellation = false }
        arm(state.awaitingHead(buffered: reader.bufferedCount > 0 || !parser.isIdle))
        bytesReceived = 0
        bytesSent = 0
        while true {
            // With nothing buffered and nothing begun, there is no head to parse before a receive: the
            // usual case between keep-alive requests, whose client waits for the last answer.
            if reader.bufferedCount > 0 || !parser.isIdle {
                let event: HTTPParser.Event? = try reader.withBufferedBytes { buffer in
                    let (consumed, event) = try parser.parse(buffer)
                    bytesReceived &+= consumed
                    return (consumed: consumed, result: event)
                }
                switch event {
                case .requestHead(let head):
                    deadline.clear()
                    if metrics != nil { requestStarted = loop.now.nanoseconds }
                    return head
                case .some:
                    preconditionFailure("a body event before a request head")
                case nil:
                    break
                }
            }
            guard try await reader.receiveMore() else {
                _ = try parser.finish()  // throws when the stream ended inside a head
                return nil
            }
            // The first byte of a request: from now on the header timeout counts.
            if let timeout = state.bytesArrived() { arm(timeout) }
        }
    }

    /// Starts `timeout` on the connection's deadline, from now.
    private func arm(_ timeout: HTTPServerConnectionState.Timeout) {
        deadline.set(afterNanoseconds: timeout == .header ? headerTimeout : idleTimeout)
    }

    /// Answers `request` with a handler that may suspend; returns whether the connection can carry
    /// another.
    ///
    /// This function's frame stays alive for as long as the handler runs (for every request in flight),
    /// so it holds nothing of its own: setting up and responding are functions of their own.
    @inline(never)
    private func serve(_ request: HTTPServerRequest, to answering: Answering, handler: HTTPServer.Handler) async -> Bool {
        // The outcome goes straight into `respond` (a local would be copied into it, not moved).
        if isInstrumented {
            return await respond(await callInContext(handler, request), to: answering, of: request)
        }
        return await respond(await Self.invoke(handler, self, request), to: answering, of: request)
    }

    @inline(never)
    private func makeRequest(_ head: consuming HTTPRequestHead) -> HTTPServerRequest {
        let generation = state.headReceived(hasBody: head.framing != .none, expectsContinue: head.expectsContinue)
        if state.bodyComplete && !parser.endMessageWithoutBody() {
            // Consume the parser's end-of-message event.
            _ = try? reader.withBufferedBytes { buffer in
                let (consumed, event) = try parser.parse(buffer)
                return (consumed: consumed, result: event)
            }
        }
        let body = state.bodyComplete
            ? HTTPRequestBody(bytes: [])  // not `.empty`: a static is a `swift_once` check on every read
            : HTTPRequestBody(connection: self, generation: generation, declaredLength: Self.declaredLength(head.framing))
        return HTTPServerRequest(head: head, body: body, connection: self)
    }

    /// What to answer for a handler's error, or nil when the connection just closes (after a parse
    /// error's own answer). Out of line: respond's frame does not carry these paths.
    @inline(never)
    private func answer(for error: any Error, to request: HTTPServerRequest) async -> HTTPServerResponse? {
        switch error {
        case is CancellationError:
            return nil
        case let error as HTTPParseError:
            // The handler read a malformed or oversized body.
            await respondToParseError(error)
            return nil
        case let error as HTTPBodyError where error.code == .tooLarge:
            await respondToParseError(HTTPParseError(.bodyTooLarge, error.message, offset: 0))
            return nil
        default:
            if timedOut || writer.isClosed { return nil }
            server.logger.error("handler failed", metadata: ["target": "\(request.head.path ?? "")", "error": "\(error)"])
            return HTTPServerResponse.text("Internal Server Error\n", status: .internalServerError)
        }
    }

    /// Writes the handler's response (or the error's) to `request`; returns whether the connection
    /// stays open.
    @inline(never)
    private func respond(
        _ outcome: consuming Result<HTTPServerResponse, any Error>, to head: Answering, of request: HTTPServerRequest
    ) async -> Bool {
        let response: HTTPServerResponse
        switch consume outcome {  // the response moves out: not copied, then released twice
        case .success(let value):
            response = value
        case .failure(let error):
            guard let answer = await answer(for: error, to: request) else { return false }
            response = answer
        }
        if let upgrade = response.upgrade, response.statusCode == 101 {
            // Switching protocols: the head goes out, then the connection belongs to the new protocol,
            // which the server runs once this connection's HTTP frames are gone (see `takeUpgrade`).
            do { _ = try await write(response, to: head, keepAlive: true) } catch { return false }
            deadline.clear()
            pendingUpgrade = upgrade
            return false
        }
        var keepAlive = handlerFinished(head)
        do {
            keepAlive = try await write(response, to: head, keepAlive: keepAlive)
        } catch {
            keepAlive = false
        }
        recordRequest(status: response.statusCode)
        return keepAlive
    }

    /// Tells the state machine the handler has answered (what of the body it left unread is dropped
    /// when it is buffered); returns whether the connection may stay open after the response.
    @inline(__always)
    func handlerFinished(_ head: Answering) -> Bool {
        let plan = state.handlerFinished(requestKeepAlive: head.keepAlive)
        var keepAlive = plan.keepAlive
        if plan.discardBufferedBody {
            discardBufferedBody()
            keepAlive = state.keepAliveAfterDiscard(keepAlive)
        }
        return keepAlive
    }

    /// Reports the request just answered to the server's metrics, when it records them.
    @inline(__always)
    func recordRequest(status: Int) {
        metrics?.request(status: status, nanoseconds: loop.now.nanoseconds &- requestStarted,
                         received: bytesReceived, sent: bytesSent)
    }

    private static func declaredLength(_ framing: HTTPBodyFraming) -> Int? {
        if case .length(let count) = framing { return count }
        return nil
    }

    /// The next chunk of the current request's body, or nil at its end.
    func readBodyChunk(generation: UInt64) async throws -> [UInt8]? {
        switch state.bodyReadRequested(generation: generation) {
        case .expired:
            throw HTTPBodyError(.expired, "the request body was read after its response")
        case .ended:
            return nil
        case .read(let sendContinueFirst):
            if sendContinueFirst { try await writer.write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) }
        }
        while true {
            let chunk: [UInt8]? = try reader.withBufferedBytes { buffer in
                let (consumed, event) = try parser.parse(buffer)
                bytesReceived &+= consumed
                switch event {
                case .body(let range): return (consumed, Array(buffer[range]))
                case .end: return (consumed, [])
                case nil: return (consumed, nil)
                case .requestHead, .responseHead: preconditionFailure("a head inside a body")
                }
            }
            if let chunk {
                if chunk.isEmpty {
                    state.bodyEnded()
                    deadline.clear()
                    return nil
                }
                deadline.clear()
                return chunk
            }
            deadline.set(afterNanoseconds: idleTimeout)
            guard try await reader.receiveMore() else {
                _ = try parser.finish()
                throw HTTPParseError(.incomplete, "the connection closed inside a request body", offset: 0)
            }
        }
    }

    /// Consumes what is already buffered of an unread body, without waiting for more.
    private func discardBufferedBody() {
        while !state.bodyComplete {
            let progressed: Bool
            do {
                progressed = try reader.withBufferedBytes { buffer in
                    let (consumed, event) = try parser.parse(buffer)
                    if case .end = event { state.bodyEnded() }
                    return (consumed, event != nil)
                }
            } catch {
                return
            }
            if !progressed { return }
        }
    }
}

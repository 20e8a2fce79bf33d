import AsyncIO

/// A WebSocket connection (RFC 6455), from either side: a server route's (``HTTPRouter/webSocket(_:configuration:_:)``)
/// or a client's (``HTTPClient/webSocket(_:headerFields:configuration:)``). aiohttp's
/// `WebSocketResponse` and `ClientWebSocketResponse`.
///
/// ```swift
/// router.webSocket("/chat") { ws, request in
///     for try await message in ws.messages {
///         if case .text(let text) = message { try await ws.send(text: "you said: \(text)") }
///     }
/// }
/// ```
///
/// Reading is pulled by the task that receives (``receive()`` or ``messages``): pings are answered and
/// close frames handled while it reads, and a peer that sends faster than the program reads is held
/// back by TCP, not buffered. Sending goes through the connection's `StreamWriter`: a send waits while
/// more than its high watermark (64 KiB) is queued for a peer that reads slowly, so memory stays
/// bounded. Sends from several tasks are serialized; one task receives at a time.
///
/// ### Thread safety
/// Loop-confined: use it from tasks running on its loop.
public final class WebSocket: @unchecked Sendable {
    /// Limits, compression, heartbeat and close handshake.
    public struct Configuration: Sendable {
        /// The largest message accepted (default 16 MiB); a bigger one closes the connection with
        /// 1009 as soon as a frame's declared length would take the message past it.
        public var maxMessageSize = 16 * 1024 * 1024
        /// Offer (client) or accept (server) `permessage-deflate` (RFC 7692). Default on.
        public var compression = true
        /// Messages shorter than this are sent uncompressed even when compression is on.
        public var minimumCompressedSize = 64
        /// The zlib level for messages sent compressed: 1 (the default, aiohttp's choice: fast) to 9
        /// (smallest).
        public var compressionLevel = 1 {
            didSet { precondition((1...9).contains(compressionLevel), "a zlib level is 1 to 9") }
        }
        /// Sends a ping every this often and closes the connection if no pong came back before the
        /// next one (aiohttp's `heartbeat`). Pongs are seen while a task receives. Default off.
        public var heartbeat: Duration?
        /// How long ``close(code:reason:)`` waits for the peer's close frame before it drops the
        /// connection (default 5 s).
        public var closeTimeout: Duration = .seconds(5)
        /// Subprotocols: a client offers these (`Sec-WebSocket-Protocol`); a server picks the first
        /// of these that the client offered.
        public var subprotocols: [String] = []
        /// Server: decides whether a request's `Origin` (nil when absent) may connect; refused ones get
        /// `403`. Nil accepts every origin.
        public var checkOrigin: (@Sendable (String?) -> Bool)?

        /// The defaults.
        public init() {}
    }

    /// Which side this end is.
    public enum Role: Sendable { case server, client }

    let reader: StreamReader
    let writer: StreamWriter
    /// Which side this end is.
    public let role: Role
    /// The subprotocol both sides agreed on, if any.
    public let subprotocol: String?
    /// Whether `permessage-deflate` was negotiated.
    public let isCompressed: Bool
    let configuration: Configuration
    var loop: EventLoop { writer.loop }

    private var parser: WebSocketParser
    private let compressor: WebSocketCompressor?
    /// Whether a send holds the turn; the sends waiting for it, in order (loop-confined: no lock).
    private var sendTurnHeld = false
    private var sendTurnWaiters: [(id: UInt64, continuation: UnsafeContinuation<Void, any Error>)] = []
    private var nextSendWaiterID: UInt64 = 0
    private var isReceiving = false
    private var closeSent = false
    /// A failure that ends the connection (reported by every later call).
    private var failure: WebSocketError?
    /// Set when the receiving task sees the peer's close (or the connection fails), for a
    /// ``close(code:reason:)`` that waits while another task receives; made only then.
    private var closeSeen: Event?
    private var heartbeatTimer: TimerHandle?
    private var pingOutstanding = false

    /// The close code the peer sent (nil before its close frame, or when it had none).
    public private(set) var closeCode: WebSocketCloseCode?
    /// The reason the peer gave with its close frame.
    public private(set) var closeReason = ""
    /// Whether the peer's close frame has arrived.
    public private(set) var closeReceived = false

    init(reader: StreamReader, writer: StreamWriter, role: Role, deflate: WebSocketDeflate?, subprotocol: String?, configuration: Configuration) {
        self.reader = reader
        self.writer = writer
        self.role = role
        self.subprotocol = subprotocol
        self.configuration = configuration
        isCompressed = deflate != nil
        parser = WebSocketParser(role: role == .server ? .server : .client, maxMessageSize: configuration.maxMessageSize, deflate: deflate)
        if let deflate {
            let ours = role == .server
                ? (bits: deflate.serverMaxWindowBits, resets: deflate.serverNoContextTakeover)
                : (bits: deflate.clientMaxWindowBits, resets: deflate.clientNoContextTakeover)
            let pool = ours.resets ? try? writer.loop.localValue(WebSocketDeflaterPool.self) { WebSocketDeflaterPool() } : nil
            compressor = WebSocketCompressor(windowBits: max(9, ours.bits), level: configuration.compressionLevel,
                                             contextTakeover: !ours.resets, pool: pool)
        } else {
            compressor = nil
        }
        if let heartbeat = configuration.heartbeat { armHeartbeat(heartbeat) }
    }

    deinit { heartbeatTimer?.cancel() }

    /// Whether the connection is closed (or closing): nothing more can be sent.
    public var isClosed: Bool { closeSent || failure != nil || writer.isClosed }

    // MARK: - Receiving

    /// The next message, or nil once the peer has closed (its code is in ``closeCode``). Answers pings
    /// and the close handshake on the way.
    ///
    /// - Throws: ``WebSocketError``: `.protocolViolation` (the connection was closed with the code the
    ///   error names: 1002, 1007, 1009), `.connectionLost` (dropped without a close frame),
    ///   `.heartbeatTimeout`, `.busy` if another task is receiving.
    ///
    /// ### Cancellation
    /// Safe: bytes already received stay buffered for the next call.
    public func receive() async throws -> WebSocketMessage? {
        try beginReceiving()
        defer { isReceiving = false }
        while true {
            switch try await nextDataEvent() {
            case .message(let message): return message
            case nil: return nil
            default: continue  // the rest of a streamed message its reader left
            }
        }
    }

    /// The next message as a stream of pieces as its frames arrive, for messages too large to hold
    /// (``Configuration/maxMessageSize`` does not bound it; each compressed frame's inflated payload
    /// still is). Nil once the peer has closed. Read the stream to its end before the next receive;
    /// what is left of it is skipped then.
    ///
    /// ```swift
    /// while let message = try await ws.receiveStreamed() {
    ///     var total = 0
    ///     for try await piece in message { total += piece.count }
    ///     print(message.isText ? "text" : "binary", total, "bytes")
    /// }
    /// ```
    ///
    /// - Throws: As ``receive()``.
    ///
    /// ### Cancellation
    /// As ``receive()``.
    public func receiveStreamed() async throws -> WebSocketStreamedMessage? {
        try beginReceiving()
        defer { isReceiving = false }
        if streamInProgress != nil { while try await nextPiece() != nil {} }
        parser.streamsNextMessage = true
        defer { parser.streamsNextMessage = false }
        while true {
            switch try await nextDataEvent() {
            case .streamStart(let isText):
                streamGeneration &+= 1
                let stream = WebSocketStreamedMessage(socket: self, isText: isText, generation: streamGeneration)
                streamInProgress = streamGeneration
                return stream
            case .message(let message):
                // It had begun before streaming was asked for: one piece.
                switch message {
                case .text(let text): return WebSocketStreamedMessage(whole: Array(text.utf8), isText: true, socket: self)
                case .binary(let bytes): return WebSocketStreamedMessage(whole: bytes, isText: false, socket: self)
                }
            case nil: return nil
            default: continue
            }
        }
    }

    /// The streamed message in progress (its generation), if its end has not been read.
    private var streamInProgress: UInt64?
    private var streamGeneration: UInt64 = 0

    /// The next piece of the streamed message `generation`, nil at its end (or if it is not the one
    /// in progress any more).
    func nextPiece(of generation: UInt64) async throws -> [UInt8]? {
        guard streamInProgress == generation else { return nil }
        try beginReceiving()
        defer { isReceiving = false }
        return try await nextPiece()
    }

    private func nextPiece() async throws -> [UInt8]? {
        while true {
            switch try await nextDataEvent() {
            case .streamPiece(let piece): return piece
            case .streamEnd, nil:
                streamInProgress = nil
                return nil
            default: continue
            }
        }
    }

    private func beginReceiving() throws {
        if isReceiving { throw WebSocketError(.busy, "another task is receiving from this WebSocket") }
        isReceiving = true
    }

    /// The next event that is not a control frame (pings are answered, pongs noted), or nil once the
    /// peer's close has arrived.
    private func nextDataEvent() async throws -> WebSocketParser.Event? {
        while true {
            if let failure { throw failure }
            if closeReceived { return nil }
            let event: WebSocketParser.Event?
            do {
                event = try reader.withBufferedBytes { buffer in
                    let (consumed, event) = try parser.parse(buffer)
                    return (consumed: consumed, result: event)
                }
            } catch let error as WebSocketError {
                await fail(error, sending: error.closeCode)
                throw error
            }
            switch event {
            case .ping(let payload):
                if !closeSent { try? await sendFrame(opcode: WebSocketFrameEncoder.pong, payload) }
            case .pong:
                pingOutstanding = false
            case .close(let code, let reason):
                await peerClosed(code, reason)
                return nil
            case nil:
                let more: Bool
                do {
                    more = try await reader.receiveMore()
                } catch {
                    throw await lost(error)
                }
                if !more { throw await lost(nil) }
            case .streamEnd:
                streamInProgress = nil
                return .streamEnd
            case .some(let data):
                return data
            }
        }
    }

    /// The error for a connection that failed (`error`) or ended (nil) without a close frame, after
    /// failing the WebSocket. Out of line: receive's frame, alive while a connection idles, stays small.
    @inline(never)
    private func lost(_ error: (any Error)?) async -> any Error {
        if let failure { return failure }
        if let error, error is CancellationError { return error }
        let lost = WebSocketError(.connectionLost, closeCode: .abnormal,
                                  error.map { "the connection failed: \($0)" } ?? "the connection closed without a close frame")
        await fail(lost, sending: nil)
        return lost
    }

    /// The messages, until the peer closes (an `AsyncSequence` over ``receive()``).
    public var messages: Messages { Messages(socket: self) }

    /// The messages of a ``WebSocket``, until the peer closes.
    public struct Messages: AsyncSequence, Sendable {
        public typealias Element = WebSocketMessage
        let socket: WebSocket

        /// Iterates over the messages.
        public struct AsyncIterator: AsyncIteratorProtocol {
            let socket: WebSocket
            /// The next message (see ``WebSocket/receive()``).
            ///
            /// ### Cancellation
            /// As ``WebSocket/receive()``.
            public mutating func next() async throws -> WebSocketMessage? { try await socket.receive() }
        }

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(socket: socket) }
    }

    // MARK: - Sending

    /// Sends `message`, waiting while too much is queued for a peer that reads slowly.
    ///
    /// - Throws: ``WebSocketError`` `.closed` once closing has started; the connection's failure.
    ///
    /// ### Cancellation
    /// A message that fits the send buffer is all or nothing; one cancelled midway would leave half a
    /// frame on the wire, so the connection is dropped.
    public func send(_ message: WebSocketMessage) async throws {
        switch message {
        case .text(let text): try await sendMessage(opcode: WebSocketFrameEncoder.text, Array(text.utf8))
        case .binary(let bytes): try await sendMessage(opcode: WebSocketFrameEncoder.binary, bytes)
        }
    }

    /// Sends a text message (see ``send(_:)``).
    ///
    /// ### Cancellation
    /// As ``send(_:)``.
    public func send(text: String) async throws { try await sendMessage(opcode: WebSocketFrameEncoder.text, Array(text.utf8)) }

    /// Sends a binary message (see ``send(_:)``).
    ///
    /// ### Cancellation
    /// As ``send(_:)``.
    public func send(binary: [UInt8]) async throws { try await sendMessage(opcode: WebSocketFrameEncoder.binary, binary) }

    /// Sends a ping (at most 125 bytes of payload); its pong is seen while a task receives.
    ///
    /// ### Cancellation
    /// As ``send(_:)``.
    public func ping(_ payload: [UInt8] = []) async throws {
        precondition(payload.count <= 125, "a ping carries at most 125 bytes")
        try await sendFrame(opcode: WebSocketFrameEncoder.ping, payload)
    }

    private func sendMessage(opcode: UInt8, _ payload: [UInt8]) async throws {
        if let failure { throw failure }
        if closeSent { throw WebSocketError(.closed, "the WebSocket is closing") }
        if let compressor, payload.count >= configuration.minimumCompressedSize {
            let compressed = try compressor.compress(payload)
            try await write(opcode: opcode, compressed: true, compressed)
        } else {
            try await write(opcode: opcode, compressed: false, payload)
        }
    }

    private func sendFrame(opcode: UInt8, _ payload: [UInt8]) async throws {
        if let failure { throw failure }
        if closeSent { throw WebSocketError(.closed, "the WebSocket is closing") }
        try await write(opcode: opcode, compressed: false, payload)
    }

    /// Writes one frame, in turn with other senders. A large payload goes after its header without
    /// being copied (servers; a client's is masked into a copy).
    private func write(opcode: UInt8, compressed: Bool, _ payload: [UInt8]) async throws {
        let mask = role == .client ? WebSocketFrameEncoder.randomMask() : nil
        try await withSendTurn {
            do {
                if mask == nil && payload.count > 16 * 1024 {
                    var header: [UInt8] = []
                    WebSocketFrameEncoder.appendHeader(opcode: opcode, compressed: compressed, length: payload.count, mask: nil, into: &header)
                    try await writer.write(header)
                    try await writer.write(payload)
                } else {
                    try await writer.write(WebSocketFrameEncoder.frame(opcode: opcode, compressed: compressed, payload: payload, mask: mask))
                }
            } catch {
                // Part of a frame may be out: the stream cannot go on.
                let lost = WebSocketError(.connectionLost, closeCode: .abnormal, "sending failed: \(error)")
                if failure == nil { failure = lost }
                writer.abort()
                if error is CancellationError { throw error }
                throw lost
            }
        }
    }

    /// Runs `body` holding the send turn, so that the frames of two sends never interleave (a frame
    /// larger than the writer's buffer goes out in parts, and others could slip between them).
    private func withSendTurn<Result>(_ body: () async throws -> Result) async throws -> Result {
        if sendTurnHeld {
            try await waitForSendTurn()  // handed over by the holder: still held
        } else {
            sendTurnHeld = true
        }
        defer { passSendTurn() }
        return try await body()
    }

    private func waitForSendTurn() async throws {
        nextSendWaiterID &+= 1
        let id = nextSendWaiterID
        let loop = self.loop
        try await withCancellableWait(on: loop) {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                sendTurnWaiters.append((id, continuation))
            }
        } onCancel: {
            loop.callSoon { [weak self] in
                guard let self, let index = sendTurnWaiters.firstIndex(where: { $0.id == id }) else { return }
                sendTurnWaiters.remove(at: index).continuation.resume(throwing: CancellationError())
            }
        }
    }

    private func passSendTurn() {
        if sendTurnWaiters.isEmpty {
            sendTurnHeld = false
        } else {
            sendTurnWaiters.removeFirst().continuation.resume()
        }
    }

    // MARK: - Closing

    /// Starts the close handshake (unless the peer has): sends a close frame with `code` and `reason`
    /// (cut to 123 bytes), waits up to ``Configuration/closeTimeout`` for the peer's, then closes the
    /// connection. Messages that arrive meanwhile are discarded, unless another task is receiving.
    /// Calling it again only waits.
    ///
    /// ### Cancellation
    /// The connection is dropped at once.
    public func close(code: WebSocketCloseCode = .normal, reason: String = "") async {
        precondition(code.isSendable, "close code \(code) may not be sent")
        if !closeSent && failure == nil && !writer.isClosed {
            closeSent = true
            try? await write(opcode: WebSocketFrameEncoder.close, compressed: false, WebSocketFrameEncoder.closePayload(code, reason))
        }
        if !closeReceived && failure == nil && !writer.isClosed {
            _ = try? await moveOnAfter(configuration.closeTimeout) { _ in
                if isReceiving {
                    let seen = closeSeen ?? Event()
                    closeSeen = seen
                    try await seen.wait()
                } else {
                    while try await receive() != nil {}
                }
            }
        }
        await shutDownTransport()
    }

    /// The peer's close frame: answer it with its code (unless we started), then end the connection.
    private func peerClosed(_ code: WebSocketCloseCode?, _ reason: String) async {
        closeReceived = true
        closeCode = code
        closeReason = reason
        if !closeSent {
            closeSent = true
            let answer = code.flatMap { $0.isSendable ? $0 : nil }
            try? await write(opcode: WebSocketFrameEncoder.close, compressed: false, WebSocketFrameEncoder.closePayload(answer, ""))
        }
        closeSeen?.set()
        await shutDownTransport()
    }

    /// Closes the connection after the handshake: the server first (RFC 6455 §7.1.1); a client waits
    /// briefly for the server to do so.
    private func shutDownTransport() async {
        heartbeatTimer?.cancel()
        heartbeatTimer = nil
        if writer.isClosed { return }
        if role == .client && !isReceiving {
            _ = try? await moveOnAfter(configuration.closeTimeout) { _ in
                while try await reader.receiveMore() { reader.withBufferedBytes { (consumed: $0.count, result: ()) } }
            }
        }
        let flushed: Void? = try? await moveOnAfter(configuration.closeTimeout) { _ in await writer.close() }
        if flushed == nil { writer.abort() }
    }

    /// A protocol error or a lost connection: send the close code if there is one, then drop it.
    private func fail(_ error: WebSocketError, sending code: WebSocketCloseCode?) async {
        if failure == nil { failure = error }
        if let code, code.isSendable, !closeSent, !writer.isClosed {
            closeSent = true
            _ = try? await moveOnAfter(configuration.closeTimeout) { _ in
                try await withSendTurn {
                    try await writer.write(WebSocketFrameEncoder.frame(
                        opcode: WebSocketFrameEncoder.close, payload: WebSocketFrameEncoder.closePayload(code, error.message),
                        mask: role == .client ? WebSocketFrameEncoder.randomMask() : nil))
                }
            }
        }
        closeSeen?.set()
        heartbeatTimer?.cancel()
        heartbeatTimer = nil
        let flushed: Void? = try? await moveOnAfter(configuration.closeTimeout) { _ in await writer.close() }
        if flushed == nil { writer.abort() }
    }

    // MARK: - Heartbeat

    private func armHeartbeat(_ interval: Duration) {
        heartbeatTimer = loop.plainTimer(after: interval) { [weak self] in self?.heartbeatTick(interval) }
    }

    private func heartbeatTick(_ interval: Duration) {
        guard failure == nil, !closeSent, !writer.isClosed else { return }
        if pingOutstanding {
            failure = WebSocketError(.heartbeatTimeout, closeCode: .abnormal, "no pong within \(interval) of a ping")
            writer.abort()  // wakes a pending receive, which reports the failure
            return
        }
        pingOutstanding = true
        armHeartbeat(interval)
        loop.spawn { [weak self] in try? await self?.ping() }
    }
}

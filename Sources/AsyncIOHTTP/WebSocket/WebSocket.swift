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
    let compressor: WebSocketCompressor?
    /// Whether a send holds the turn; the sends waiting for it, in order (loop-confined: no lock).
    var sendTurnHeld = false
    var sendTurnWaiters: [(id: UInt64, continuation: UnsafeContinuation<Void, any Error>)] = []
    var nextSendWaiterID: UInt64 = 0
    var isReceiving = false
    var closeSent = false
    /// A failure that ends the connection (reported by every later call).
    var failure: WebSocketError?
    /// Set when the receiving task sees the peer's close (or the connection fails), for a
    /// ``close(code:reason:)`` that waits while another task receives; made only then.
    var closeSeen: Event?
    var heartbeatTimer: TimerHandle?
    var pingOutstanding = false

    /// The close code the peer sent (nil before its close frame, or when it had none).
    public internal(set) var closeCode: WebSocketCloseCode?
    /// The reason the peer gave with its close frame.
    public internal(set) var closeReason = ""
    /// Whether the peer's close frame has arrived.
    public internal(set) var closeReceived = false

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
    func lost(_ error: (any Error)?) async -> any Error {
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
}

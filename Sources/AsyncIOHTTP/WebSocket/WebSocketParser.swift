/// The WebSocket codec's reading half (RFC 6455 §5, RFC 7692): bytes in, messages and control frames
/// out. Incremental (frames may arrive a byte at a time), pure (no I/O), like `HTTPParser`.
///
/// It checks everything the protocol asks of the peer: masking by role, reserved bits (RSV1 only on
/// the first frame of a compressed message), opcodes, control frames (final, at most 125 bytes, allowed
/// between the fragments of a message), continuation rules, a 64-bit length with its top bit clear,
/// close codes and reasons, and UTF-8 in text messages, checked as fragments arrive so an invalid
/// byte fails the message at once. A message is refused (1009) as soon as a frame's declared length
/// would take it past the limit, before its payload arrives; a compressed one also when it inflates
/// past it. Each error carries the close code to answer with.
struct WebSocketParser {
    /// Which side of the connection parses: a server reads masked frames, a client unmasked ones.
    enum Role: Sendable { case server, client }

    enum Event: Equatable {
        case message(WebSocketMessage)
        case ping([UInt8])
        case pong([UInt8])
        /// A close frame: its code (nil when it has none) and reason.
        case close(WebSocketCloseCode?, String)
        /// A streamed message begins (see ``streamsNextMessage``).
        case streamStart(isText: Bool)
        /// A piece of a streamed message: unmasked, inflated, its UTF-8 checked so far (never empty).
        case streamPiece([UInt8])
        /// The streamed message is complete.
        case streamEnd
    }

    private enum Opcode {
        static let continuation: UInt8 = 0, text: UInt8 = 1, binary: UInt8 = 2
        static let close: UInt8 = 8, ping: UInt8 = 9, pong: UInt8 = 10
    }

    let role: Role
    let maxMessageSize: Int
    private let decompressor: WebSocketDecompressor?

    // The frame being read.
    private var inPayload = false
    private var opcode: UInt8 = 0
    private var isFinal = false
    private var remaining = 0
    private var maskKey: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
    private var isMasked = false
    private var maskOffset = 0
    private var control: [UInt8] = []

    // The message being assembled across frames.
    private var messageOpcode: UInt8?
    private var messageCompressed = false
    private var message: [UInt8] = []
    private var utf8 = UTF8Validator()

    /// The next message that starts is streamed: handed out piece by piece as its frames arrive
    /// (``Event/streamStart(isText:)``, ``Event/streamPiece(_:)``, ``Event/streamEnd``) instead of
    /// whole, and not bounded by ``maxMessageSize`` (each frame's inflated payload still is).
    var streamsNextMessage = false
    private var messageStreamed = false
    private var startingStream = false
    /// An event to hand out on the next call (a streamed message's last piece and its end).
    private var pendingEvent: Event?

    /// A parser for `role`, refusing messages over `maxMessageSize` bytes; `deflate` when
    /// `permessage-deflate` was negotiated.
    init(role: Role, maxMessageSize: Int, deflate: WebSocketDeflate? = nil) {
        precondition(maxMessageSize > 0, "the message size limit must be positive")
        self.role = role
        self.maxMessageSize = maxMessageSize
        if let deflate {
            let peerResets = role == .server ? deflate.clientNoContextTakeover : deflate.serverNoContextTakeover
            decompressor = WebSocketDecompressor(contextTakeover: !peerResets)
        } else {
            decompressor = nil
        }
    }

    /// Whether no frame or message is partly read.
    var isIdle: Bool { !inPayload && messageOpcode == nil }

    /// Parses from `input`: returns the bytes consumed and the event they completed, if any. Call again
    /// with the rest; `(0, nil)` means more input is needed.
    ///
    /// - Throws: ``WebSocketError`` `.protocolViolation` with the close code to send.
    mutating func parse(_ input: UnsafeRawBufferPointer) throws(WebSocketError) -> (consumed: Int, event: Event?) {
        if let pending = pendingEvent {
            pendingEvent = nil
            return (0, pending)
        }
        var consumed = 0
        while true {
            if !inPayload {
                guard let headerLength = try parseHeader(UnsafeRawBufferPointer(rebasing: input[consumed...])) else {
                    return (consumed, nil)
                }
                consumed += headerLength
                if startingStream {
                    startingStream = false
                    return (consumed, .streamStart(isText: opcode == Opcode.text))
                }
            }
            let take = min(remaining, input.count - consumed)
            if take > 0 {
                try absorb(UnsafeRawBufferPointer(rebasing: input[consumed..<(consumed + take)]))
                consumed += take
                remaining -= take
            }
            if messageStreamed && opcode < Opcode.close && !messageCompressed && !message.isEmpty {
                // A streamed, uncompressed message: what arrived goes out now (the frame's end, if this
                // was all of it, is seen on the next call).
                let piece = message
                message = []
                return (consumed, .streamPiece(piece))
            }
            if remaining > 0 { return (consumed, nil) }
            inPayload = false
            if let event = try frameEnded() { return (consumed, event) }
        }
    }

    /// Reads a frame header if all of it is there; returns its length.
    private mutating func parseHeader(_ input: UnsafeRawBufferPointer) throws(WebSocketError) -> Int? {
        guard input.count >= 2 else { return nil }
        let first = input[0], second = input[1]
        let masked = second & 0x80 != 0
        let shortLength = Int(second & 0x7F)
        let extra = shortLength == 126 ? 2 : shortLength == 127 ? 8 : 0
        let headerLength = 2 + extra + (masked ? 4 : 0)
        guard input.count >= headerLength else { return nil }
        var length = shortLength
        if extra == 2 {
            length = Int(input[2]) << 8 | Int(input[3])
        } else if extra == 8 {
            if input[2] & 0x80 != 0 { throw Self.violation(.protocolError, "a frame length with its most significant bit set") }
            var value: UInt64 = 0
            for index in 2..<10 { value = value << 8 | UInt64(input[index]) }
            guard value <= UInt64(Int.max) else { throw Self.violation(.messageTooBig, "a frame of \(value) bytes") }
            length = Int(value)
        }
        let fin = first & 0x80 != 0, rsv1 = first & 0x40 != 0
        let code = first & 0x0F
        if first & 0x30 != 0 { throw Self.violation(.protocolError, "a frame with RSV2 or RSV3 set (no extension defines them)") }
        if masked != (role == .server) {
            throw Self.violation(.protocolError, role == .server ? "an unmasked frame from the client" : "a masked frame from the server")
        }
        switch code {
        case Opcode.close, Opcode.ping, Opcode.pong:
            if !fin { throw Self.violation(.protocolError, "a fragmented control frame") }
            if length > 125 { throw Self.violation(.protocolError, "a control frame of \(length) bytes (the limit is 125)") }
            if rsv1 { throw Self.violation(.protocolError, "a control frame with RSV1 set") }
            control.removeAll(keepingCapacity: true)
        case Opcode.text, Opcode.binary:
            if messageOpcode != nil { throw Self.violation(.protocolError, "a new message before the last one's final fragment") }
            if rsv1 && decompressor == nil { throw Self.violation(.protocolError, "a frame with RSV1 set, but no compression was negotiated") }
            messageOpcode = code
            messageCompressed = rsv1
            utf8 = UTF8Validator()
            messageStreamed = streamsNextMessage
            startingStream = streamsNextMessage
            streamsNextMessage = false
        case Opcode.continuation:
            if messageOpcode == nil { throw Self.violation(.protocolError, "a continuation frame with no message to continue") }
            if rsv1 { throw Self.violation(.protocolError, "a continuation frame with RSV1 set") }
        default:
            throw Self.violation(.protocolError, "a frame with the reserved opcode \(code)")
        }
        if code < Opcode.close && length > maxMessageSize - message.count {
            // A streamed message has no total limit, but a frame of one that is buffered to be inflated
            // does.
            if !messageStreamed || messageCompressed {
                throw Self.violation(.messageTooBig, "a message over the limit of \(maxMessageSize) bytes")
            }
        }
        opcode = code
        isFinal = fin
        remaining = length
        isMasked = masked
        maskOffset = 0
        if masked {
            let at = 2 + extra
            maskKey = (input[at], input[at + 1], input[at + 2], input[at + 3])
        }
        inPayload = true
        return headerLength
    }

    /// Unmasks `bytes` of the current frame's payload into the control or message buffer.
    private mutating func absorb(_ bytes: UnsafeRawBufferPointer) throws(WebSocketError) {
        let isControl = opcode >= Opcode.close
        let start = isControl ? control.count : message.count
        if isControl { control.append(contentsOf: bytes) } else { message.append(contentsOf: bytes) }
        if isMasked {
            if isControl {
                Self.unmask(&control, from: start, key: maskKey, offset: maskOffset)
            } else {
                Self.unmask(&message, from: start, key: maskKey, offset: maskOffset)
            }
            maskOffset = (maskOffset + bytes.count) & 3
        }
        if !isControl && messageOpcode == Opcode.text && !messageCompressed && !utf8.feed(message[start...]) {
            throw Self.violation(.invalidPayload, "a text message that is not valid UTF-8")
        }
    }

    /// The end of a frame's payload: an event when it completes a control frame or a message.
    private mutating func frameEnded() throws(WebSocketError) -> Event? {
        switch opcode {
        case Opcode.ping: return .ping(control)
        case Opcode.pong: return .pong(control)
        case Opcode.close: return try closeEvent()
        default:
            if messageStreamed { return try streamedFrameEnded() }
            guard isFinal, let kind = messageOpcode else { return nil }
            var payload = message
            message = []
            messageOpcode = nil
            if messageCompressed, let decompressor {
                payload = try decompressor.decompress(payload, limit: maxMessageSize)
                if kind == Opcode.text {
                    var validator = UTF8Validator()
                    guard validator.feed(payload) && validator.isComplete else {
                        throw Self.violation(.invalidPayload, "a text message that is not valid UTF-8")
                    }
                }
            } else if kind == Opcode.text && !utf8.isComplete {
                throw Self.violation(.invalidPayload, "a text message that ends inside a UTF-8 character")
            }
            return .message(kind == Opcode.text ? .text(String(decoding: payload, as: UTF8.self)) : .binary(payload))
        }
    }

    /// The end of a streamed message's frame: its inflated payload if compressed, and the end.
    private mutating func streamedFrameEnded() throws(WebSocketError) -> Event? {
        let isText = messageOpcode == Opcode.text
        var piece: [UInt8] = []
        if messageCompressed, let decompressor {
            piece = try decompressor.decompress(message, limit: maxMessageSize, final: isFinal)
            message = []
            if isText && !utf8.feed(piece) { throw Self.violation(.invalidPayload, "a text message that is not valid UTF-8") }
        }
        guard isFinal else { return piece.isEmpty ? nil : .streamPiece(piece) }
        messageOpcode = nil
        messageStreamed = false
        if isText && !utf8.isComplete {
            throw Self.violation(.invalidPayload, "a text message that ends inside a UTF-8 character")
        }
        if piece.isEmpty { return .streamEnd }
        pendingEvent = .streamEnd
        return .streamPiece(piece)
    }

    private func closeEvent() throws(WebSocketError) -> Event {
        if control.isEmpty { return .close(nil, "") }
        guard control.count >= 2 else { throw Self.violation(.protocolError, "a close frame with a 1-byte payload") }
        let code = WebSocketCloseCode(rawValue: UInt16(control[0]) << 8 | UInt16(control[1]))
        guard code.isSendable else { throw Self.violation(.protocolError, "a close frame with the invalid code \(code)") }
        var validator = UTF8Validator()
        guard validator.feed(control[2...]) && validator.isComplete else {
            throw Self.violation(.invalidPayload, "a close reason that is not valid UTF-8")
        }
        return .close(code, String(decoding: control[2...], as: UTF8.self))
    }

    private static func violation(_ code: WebSocketCloseCode, _ message: String) -> WebSocketError {
        WebSocketError(.protocolViolation, closeCode: code, message)
    }

    /// XORs `bytes[from...]` with the mask key, starting `offset` bytes into it: eight bytes at a time.
    static func unmask(_ bytes: inout [UInt8], from start: Int, key: (UInt8, UInt8, UInt8, UInt8), offset: Int) {
        bytes.withUnsafeMutableBytes { raw in
            let count = raw.count - start
            guard count > 0, let base = raw.baseAddress else { return }
            let data = base + start
            // The key as a little-endian word, rotated so that byte 0 lines up with `data[0]`.
            let key32 = UInt32(key.0) | UInt32(key.1) << 8 | UInt32(key.2) << 16 | UInt32(key.3) << 24
            let shift = UInt32(offset & 3) * 8
            let word32 = shift == 0 ? key32 : (key32 >> shift | key32 << (32 - shift))
            let word = UInt64(word32) | UInt64(word32) << 32
            var index = 0
            // SAFETY: reads and writes stay within `data[0..<count]`, inside the array's buffer.
            while index + 8 <= count {
                let value = data.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                data.storeBytes(of: value ^ word, toByteOffset: index, as: UInt64.self)
                index += 8
            }
            while index < count {
                let keyByte = UInt8(truncatingIfNeeded: word32 >> (UInt32(index & 3) * 8))
                data.storeBytes(of: data.load(fromByteOffset: index, as: UInt8.self) ^ keyByte, toByteOffset: index, as: UInt8.self)
                index += 1
            }
        }
    }
}

import AsyncIO

extension WebSocket {
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

    func sendFrame(opcode: UInt8, _ payload: [UInt8]) async throws {
        if let failure { throw failure }
        if closeSent { throw WebSocketError(.closed, "the WebSocket is closing") }
        try await write(opcode: opcode, compressed: false, payload)
    }

    /// Writes one frame, in turn with other senders. A large payload goes after its header without
    /// being copied (servers; a client's is masked into a copy).
    func write(opcode: UInt8, compressed: Bool, _ payload: [UInt8]) async throws {
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
    func withSendTurn<Result>(_ body: () async throws -> Result) async throws -> Result {
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
        let noted = loop.beginWait(.primitive("WebSocket send turn"))
        defer { if noted { loop.endWait() } }
        try await withCancellableWait(on: loop) {
            try await withInheritedThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
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
}

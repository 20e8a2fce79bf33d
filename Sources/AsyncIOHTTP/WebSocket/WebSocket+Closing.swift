import AsyncIO

extension WebSocket {
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
    func peerClosed(_ code: WebSocketCloseCode?, _ reason: String) async {
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
    func shutDownTransport() async {
        if writer.isClosed {
            stopHeartbeat()
            return
        }
        if role == .client && !isReceiving {
            _ = try? await moveOnAfter(configuration.closeTimeout) { _ in
                while try await reader.receiveMore() { reader.withBufferedBytes { (consumed: $0.count, result: ()) } }
            }
        }
        await closeConnection()
    }

    /// Stops the heartbeat, then closes the connection: flushed within the close timeout, else dropped.
    private func closeConnection() async {
        stopHeartbeat()
        let flushed: Void? = try? await moveOnAfter(configuration.closeTimeout) { _ in await writer.close() }
        if flushed == nil { writer.abort() }
    }

    private func stopHeartbeat() {
        heartbeatTimer?.cancel()
        heartbeatTimer = nil
    }

    /// A protocol error or a lost connection: send the close code if there is one, then drop it.
    func fail(_ error: WebSocketError, sending code: WebSocketCloseCode?) async {
        if failure == nil { failure = error }
        if let code, code.isSendable, !closeSent, !writer.isClosed {
            closeSent = true
            _ = try? await moveOnAfter(configuration.closeTimeout) { _ in
                try await write(opcode: WebSocketFrameEncoder.close, compressed: false,
                                WebSocketFrameEncoder.closePayload(code, error.message))
            }
        }
        closeSeen?.set()
        await closeConnection()
    }

    // MARK: - Heartbeat

    func armHeartbeat(_ interval: Duration) {
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

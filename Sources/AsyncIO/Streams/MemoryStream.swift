import AsyncIOSystem

/// One end of an in-memory, connected pair of byte streams on one loop (Trio's
/// `memory_stream_pair`): what one end sends, the other receives, through a bounded buffer, so
/// backpressure, half-close and partial reads behave as over a socket. For tests and for protocol code
/// that wants a stream without a socket.
///
/// ```swift
/// let (a, b) = MemoryStream.pair(on: loop)
/// let reader = StreamReader(stream: b), writer = StreamWriter(stream: a)
/// ```
///
/// ### Thread safety
/// Loop-confined: use both ends from tasks running on their loop.
public final class MemoryStream: ByteStream, @unchecked Sendable {
    /// The loop both ends live on.
    public let loop: EventLoop
    /// The most bytes in flight in each direction; a send beyond it returns `.wouldBlock`.
    public let capacity: Int

    private weak var peer: MemoryStream?
    private var inbound = ByteBuffer()
    private var inboundEnded = false
    private var sentEOF = false
    /// Whether ``close()`` has run.
    public private(set) var isClosed = false
    private var peerClosed = false
    private var peerReset = false
    private var receiveWaiter: UnsafeContinuation<Void, any Error>?
    private var sendWaiter: UnsafeContinuation<Void, any Error>?
    /// Counts waits, so a late cancellation cannot cancel a newer wait.
    private var receiveWaitID: UInt64 = 0
    private var sendWaitID: UInt64 = 0
    private var sendableHandler: (() -> Void)?

    private init(loop: EventLoop, capacity: Int) {
        self.loop = loop
        self.capacity = capacity
    }

    /// Makes a connected pair on `loop`, each direction buffering at most `capacity` bytes.
    public static func pair(on loop: EventLoop, capacity: Int = 64 * 1024) -> (MemoryStream, MemoryStream) {
        precondition(capacity > 0, "the capacity must be positive")
        let a = MemoryStream(loop: loop, capacity: capacity)
        let b = MemoryStream(loop: loop, capacity: capacity)
        a.peer = b
        b.peer = a
        return (a, b)
    }

    /// An in-memory stream has no address.
    public var peerAddress: SocketAddress? { nil }

    /// One non-blocking receive (see ``ByteStream/tryReceive(into:)``).
    public func tryReceive(into buffer: UnsafeMutableRawBufferPointer) throws -> IOResult<Int> {
        try loop.checkInLoop("MemoryStream")
        if isClosed { throw StreamError(.closed, operation: "read") }
        if peerReset { throw StreamError(.broken, operation: "read", detail: "the peer reset the stream") }
        if inbound.isEmpty {
            if inboundEnded { return .done(0) }
            return .wouldBlock
        }
        let count = inbound.read(into: buffer)
        if inbound.isEmpty { inbound.shrink(to: capacity) }
        peer?.spaceFreed()
        return .done(count)
    }

    /// One non-blocking send (see ``ByteStream/trySend(_:)``).
    public func trySend(_ bytes: UnsafeRawBufferPointer) throws -> IOResult<Int> {
        try loop.checkInLoop("MemoryStream")
        if isClosed || sentEOF { throw StreamError(.closed, operation: "write") }
        guard let peer, !peer.isClosed else { throw StreamError(.broken, operation: "write", detail: "the peer closed") }
        let space = capacity - peer.inbound.count
        if space <= 0 { return .wouldBlock }
        let count = min(space, bytes.count)
        peer.inbound.append(UnsafeRawBufferPointer(rebasing: bytes[..<count]))
        peer.dataArrived()
        return .done(count)
    }

    /// Waits until a receive is worth retrying (see ``ByteStream/waitUntilReceivable()``).
    ///
    /// ### Cancellation
    /// Safe: the wait is abandoned and nothing is consumed.
    public nonisolated(nonsending) func waitUntilReceivable() async throws {
        try await wait(send: false)
    }

    /// Waits until a send is worth retrying (see ``ByteStream/waitUntilSendable()``).
    ///
    /// ### Cancellation
    /// Safe: the wait is abandoned and nothing is sent.
    public nonisolated(nonsending) func waitUntilSendable() async throws {
        try await wait(send: true)
    }

    /// Sets the closure called when a blocked send may succeed (see ``ByteStream/setSendableHandler(_:)``).
    public func setSendableHandler(_ handler: (() -> Void)?) {
        sendableHandler = handler
        if let handler, let peer, peer.inbound.count < capacity { loop.execute(handler) }
    }

    /// Half-closes: the peer reads end of stream after what was sent.
    public func shutdownWrite() throws {
        if isClosed { throw StreamError(.closed, operation: "shutdown") }
        guard !sentEOF else { return }
        sentEOF = true
        peer?.inboundEnded = true
        peer?.dataArrived()
    }

    /// Closes as a socket does: the peer reads what was sent and then end of stream; if this end still
    /// had unread bytes, the peer is reset instead (its reads and writes fail with `.broken`).
    public func close() {
        guard loop.inEventLoop else { loop.execute { self.close() }; return }
        guard !isClosed else { return }
        isClosed = true
        sendableHandler = nil
        let discarded = !inbound.isEmpty
        inbound = ByteBuffer()
        let error = StreamError(.closed, operation: "close")
        receiveWaiter.take()?.resume(throwing: error)
        sendWaiter.take()?.resume(throwing: error)
        if let peer {
            if discarded { peer.peerReset = true } else { peer.inboundEnded = true }
            peer.peerClosed = true
            peer.dataArrived()
            peer.spaceFreed()
        }
    }

    // MARK: - Waking

    private func dataArrived() {
        receiveWaiter.take()?.resume()
    }

    private func spaceFreed() {
        sendWaiter.take()?.resume()
        if let handler = sendableHandler { loop.execute(handler) }
    }

    private nonisolated(nonsending) func wait(send: Bool) async throws {
        if isClosed { throw StreamError(.closed, operation: send ? "write" : "read") }
        if (send ? sendWaiter : receiveWaiter) != nil { throw StreamError(.busy, operation: send ? "write" : "read") }
        try checkTaskCancellation()
        let loop = self.loop
        let id: UInt64
        if send { sendWaitID &+= 1; id = sendWaitID } else { receiveWaitID &+= 1; id = receiveWaitID }
        let noted = loop.beginWait(.primitive(send ? "MemoryStream.send" : "MemoryStream.receive"))
        defer { if noted { loop.endWait() } }
        try await withCancellableContinuation(on: loop) { (continuation: UnsafeContinuation<Void, any Error>) in
            if send { sendWaiter = continuation } else { receiveWaiter = continuation }
        } onCancel: {
            loop.execute { [weak self] in
                guard let self, id == (send ? sendWaitID : receiveWaitID) else { return }
                let waiter = send ? sendWaiter.take() : receiveWaiter.take()
                waiter?.resume(throwing: CancellationError())
            }
        }
    }
}

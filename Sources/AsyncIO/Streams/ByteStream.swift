import AsyncIOSystem

/// A bidirectional byte stream driven in the readiness style: try an operation now; when it returns
/// `.wouldBlock`, wait until it is worth trying again, then retry (Trio's `Stream`, asyncio's
/// transports, Tokio's `AsyncRead`/`AsyncWrite`).
///
/// ``StreamReader``, ``StreamWriter`` and everything above them (HTTP, TLS) run over any conforming
/// stream, so a TCP or Unix ``Socket``, a pipe, an in-memory ``MemoryStream`` pair and a TLS stream
/// are interchangeable, and one stream can wrap another (TLS over TLS for a proxy tunnel).
///
/// The contract:
/// - ``tryReceive(into:)`` and ``trySend(_:)`` never block. `.wouldBlock` means "not now": the stream
///   has recorded that it must wait, and ``waitUntilReceivable()`` / ``waitUntilSendable()`` return
///   when a retry may make progress (they may also return early; the caller just tries again).
/// - `.done(0)` from ``tryReceive(into:)`` is the end of the stream.
/// - Errors are ``StreamError`` (or the stream's own domain error, such as a TLS error).
/// - The sendable handler, when set, is called on the loop whenever a send that returned
///   `.wouldBlock` may now succeed: ``StreamWriter`` flushes its buffer from it without a task.
///
/// ### Thread safety
/// Loop-confined: every method is called on ``loop``'s thread.
public protocol ByteStream: AnyObject, Sendable {
    /// The loop the stream lives on.
    var loop: EventLoop { get }
    /// Whether ``close()`` has run.
    var isClosed: Bool { get }

    /// Receives up to `buffer.count` bytes without waiting; `.done(0)` at the end of the stream.
    func tryReceive(into buffer: UnsafeMutableRawBufferPointer) throws -> IOResult<Int>
    /// Sends a prefix of `bytes` without waiting and returns its length.
    ///
    /// After `.wouldBlock`, the next call must offer at least the same bytes again (a TLS record may be
    /// half-sent); ``StreamWriter`` does so by retrying from the front of its buffer.
    func trySend(_ bytes: UnsafeRawBufferPointer) throws -> IOResult<Int>

    /// Suspends until a receive that returned `.wouldBlock` is worth retrying.
    ///
    /// ### Cancellation
    /// Safe: the wait is abandoned and nothing is consumed.
    nonisolated(nonsending) func waitUntilReceivable() async throws
    /// Suspends until a send that returned `.wouldBlock` is worth retrying.
    ///
    /// ### Cancellation
    /// Safe: the wait is abandoned and nothing is sent.
    nonisolated(nonsending) func waitUntilSendable() async throws

    /// Sets (or with nil, clears) the closure the loop calls when a send that returned `.wouldBlock`
    /// may succeed now. If sending may already succeed, the closure is called in the loop's next turn.
    func setSendableHandler(_ handler: (() -> Void)?)

    /// Half-closes: the peer reads end of stream once what was sent arrives; receiving goes on.
    func shutdownWrite() throws
    /// Closes at once; waiting tasks fail with ``StreamError`` `.closed`. Closing twice is harmless.
    func close()

    /// The peer's address, when the stream is (or runs over) a socket.
    var peerAddress: SocketAddress? { get }
}

extension Socket: ByteStream {
    /// One non-blocking receive (see ``ByteStream/tryReceive(into:)``).
    @inline(__always)
    ///
    /// A receive that returns fewer bytes than `buffer` holds has emptied the socket: the next one waits
    /// for the loop to see new bytes rather than make a system call that can only say `EAGAIN`
    /// (``IORegistration/noteDrained()``; one `recv` less per request for a request-response peer).
    ///
    /// On the io_uring backend, a stream socket that has been read dry receives through the ring from
    /// then on: the bytes come from the buffers its multishot receive filled (``RingReceiver``).
    public func tryReceive(into buffer: UnsafeMutableRawBufferPointer) throws -> IOResult<Int> {
        if isClosed { throw StreamError(.closed, operation: "read") }
        if registration.receiver != nil { return try receiveFromRing(into: buffer) }
        if registration.isDrained && !registration.isPeerHungUp {
            startReceiving()
            return .wouldBlock
        }
        let result: IOResult<Int>
        do { result = try receiveNow(into: buffer) } catch { throw StreamError.from(error, operation: "read") }
        switch result {
        case .wouldBlock:
            registration.clearReadable()
            if kind == .socket { startReceiving() }
        case .done(let count):
            if count > 0 && count < buffer.count && kind == .socket { registration.noteDrained() }
        }
        return result
    }

    /// Has the loop watch for the socket's next bytes. Through a guaranteed reference to the poller:
    /// the socket holds its loop and the loop its poller, for longer than the call, but a call on the
    /// poller read through `loop` retained it and released it after (two atomic operations a request).
    @inline(__always)
    private func startReceiving() {
        // SAFETY: `loop` is a constant of the socket and `poller` one of the loop: both outlive the call.
        _ = Unmanaged.passUnretained(loop.poller)._withUnsafeGuaranteedRef { $0.startReceiving(registration) }
    }

    /// A receive from the ring's buffers; when they hold nothing, the receive is started again if it
    /// has ended (paused, or the pool ran dry).
    private func receiveFromRing(into buffer: UnsafeMutableRawBufferPointer) throws -> IOResult<Int> {
        let taken: (IOResult<Int>, RingReceiver.State)?
        do {
            taken = try registration.withReceiver { receiver throws(Errno) in (try receiver.take(into: buffer), receiver.state) }
        } catch {
            throw StreamError.from(error, operation: "read")
        }
        guard let (result, state) = taken else { return try tryReceive(into: buffer) }
        let foundNothing = if case .wouldBlock = result { true } else { false }
        // Back on readiness: the socket may hold bytes already.
        if !stillOnRing(after: state, foundNothing: foundNothing) { return try tryReceive(into: buffer) }
        return result
    }

    /// On the io_uring backend, the next buffer the ring received for this socket, lent without a copy
    /// (see ``tryReceive(into:)``): nil when the socket does not receive through the ring (now), so
    /// that the caller receives with ``tryReceive(into:)`` instead.
    func tryLendReceived() throws -> RingReceiver.Lending? {
        if isClosed { throw StreamError(.closed, operation: "read") }
        let lent: (RingReceiver.Lending, RingReceiver.State)?
        do {
            lent = try registration.withReceiver { receiver throws(Errno) in (try receiver.lend(), receiver.state) }
        } catch {
            throw StreamError.from(error, operation: "read")
        }
        guard let (result, state) = lent else { return nil }
        let foundNothing = if case .wouldBlock = result { true } else { false }
        return stillOnRing(after: state, foundNothing: foundNothing) ? result : nil
    }

    /// After a read from the ring's buffers: with nothing left, waits are for the next completion (a
    /// stale readiness would end the next one at once, for nothing); a read that found nothing starts
    /// the receive again if it has ended (paused, or the pool ran dry). Returns false when the socket
    /// went back to readiness and `recv` instead (the pool is low), whose bytes the caller reads.
    private func stillOnRing(after state: RingReceiver.State, foundNothing: Bool) -> Bool {
        if !state.hasSomething { registration.clearReadable() }
        guard foundNothing, !state.isArmed else { return true }
        loop.poller.resumeReceiving(registration)
        return registration.receiver != nil
    }

    /// One non-blocking send (see ``ByteStream/trySend(_:)``).
    @inline(__always)
    ///
    /// On the ring (see ``tryReceive(into:)``), the bytes are copied and their send queued for the
    /// loop's next `io_uring_enter`; `.wouldBlock` while an earlier one is in the ring (``RingSender``).
    public func trySend(_ bytes: UnsafeRawBufferPointer) throws -> IOResult<Int> {
        if isClosed { throw StreamError(.closed, operation: "write") }
        let result: IOResult<Int>
        if registration.sender != nil {
            let sent: IOResult<Int>?
            do {
                sent = try registration.withSender { sender throws(Errno) in try loop.poller.send(bytes, for: registration, through: sender) }
            } catch {
                throw StreamError.from(error, operation: "write")
            }
            result = sent!
        } else {
            do { result = try sendNow(bytes) } catch { throw StreamError.from(error, operation: "write") }
        }
        if case .wouldBlock = result { registration.clearWritable() }
        return result
    }

    /// Waits until a receive is worth retrying (see ``ByteStream/waitUntilReceivable()``).
    ///
    /// ### Cancellation
    /// Safe: the wait is abandoned and nothing is consumed.
    @inline(__always)
    public nonisolated(nonsending) func waitUntilReceivable() async throws { try await loop.waitReadable(self, operation: "read") }

    /// ``ByteStream/receive(into:)`` for callers that have checked they run on the socket's loop: the
    /// protocol's receive loop, on the socket itself. The protocol's is compiled as a generic function,
    /// where the wait is a call through the protocol: the compiler keeps an executor switch after it,
    /// which specializing the function later does not remove. This one calls the socket's wait
    /// directly, inlined (``waitUntilReceivable()`` is public, so not inlined), and a receive that
    /// waited costs no switch and no frame of its own.
    ///
    /// With `watchingCancellation` false, the waits are those of
    /// ``waitUntilReceivable(watchingCancellation:)`` (``StreamReader/ownerHandlesCancellation``).
    @inline(always)
    nonisolated(nonsending) func receiveOnLoop(
        into buffer: UnsafeMutableRawBufferPointer, watchingCancellation: Bool = true
    ) async throws -> Int {
        while true {
            switch try tryReceive(into: buffer) {
            case .done(let count):
                await loop.cooperateOnLoop()
                return count
            case .wouldBlock:
                if watchingCancellation {
                    try await loop.waitReadable(self, operation: "read")
                } else {
                    try await waitUntilReceivable(watchingCancellation: false)
                }
            }
        }
    }

    /// Waits until a send is worth retrying (see ``ByteStream/waitUntilSendable()``).
    ///
    /// ### Cancellation
    /// Safe: the wait is abandoned and nothing is sent.
    @inline(__always)
    public nonisolated(nonsending) func waitUntilSendable() async throws { try await loop.waitWritable(self, operation: "write") }

    /// Sets the closure called when a blocked send may succeed (see ``ByteStream/setSendableHandler(_:)``).
    public func setSendableHandler(_ handler: (() -> Void)?) {
        registration.writableHandler = handler
        // Already writable (readiness seen, not cleared): call it in the next turn rather than wait for an
        // edge that has already passed.
        if let handler, registration.isWritable { loop.execute(handler) }
    }
}

extension ByteStream {
    /// Receives up to `buffer.count` bytes, waiting until some arrive: the receive loop every reader of
    /// a stream uses, counted against the loop's I/O budget (``EventLoop/cooperate()``).
    ///
    /// - Returns: The number of bytes received; 0 at the end of the stream.
    ///
    /// ### Cancellation
    /// Safe: no bytes are consumed unless the call returns them.
    @inline(__always)
    public nonisolated(nonsending) func receive(into buffer: UnsafeMutableRawBufferPointer) async throws -> Int {
        try loop.checkInLoop("ByteStream", "receive")
        return try await receiveOnLoop(into: buffer)
    }

    /// ``receive(into:)`` for callers that have checked they run on the stream's loop. `Socket` has a
    /// copy of this loop of its own, on purpose: here the wait is a call through the protocol, after
    /// which the compiler keeps an executor switch (see `Socket.receiveOnLoop(into:)`).
    @inline(__always)
    nonisolated(nonsending) func receiveOnLoop(into buffer: UnsafeMutableRawBufferPointer) async throws -> Int {
        while true {
            switch try tryReceive(into: buffer) {
            case .done(let count):
                await loop.cooperateOnLoop()
                return count
            case .wouldBlock:
                try await waitUntilReceivable()
            }
        }
    }
}

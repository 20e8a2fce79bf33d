import AsyncIOSystem

/// A descriptor registered with its loop's epoll, edge-triggered for read, write and hang-up.
///
/// The loop keeps the readiness it has seen. An operation tries its system call first; only when the
/// call returns `EAGAIN` does it clear that readiness (``clearReadable()``) and wait
/// (``waitReadable()``) until the loop sees the descriptor ready again. Reads and writes that can
/// complete never suspend and never touch epoll.
///
/// ### Thread safety
/// Loop-confined: use it only from tasks running on its loop.
public final class IORegistration: @unchecked Sendable {
    // Its `var`s are `@exclusivity(unchecked)`: the object is loop-confined and no access to them
    // spans a call that could reach them again (each is a load, a store, or a mutation that calls
    // nothing back), so the runtime's checks could not fire; on the request path of the loop, the
    // streams and the HTTP server they cost 2.4 % of `/plaintext`'s CPU (31 checks a request).
    /// The registered descriptor. It belongs to the registration, which closes it.
    public let fd: Int32
    /// The loop that polls it.
    public let loop: EventLoop

    @exclusivity(unchecked) var readiness: Epoll.Events = []
    /// Set by the selector when it registers the descriptor; part of every epoll event's data.
    @exclusivity(unchecked) var generation: UInt32 = 0
    @exclusivity(unchecked) private var readWaiter: Waiter?
    @exclusivity(unchecked) private var writeWaiter: Waiter?
    @exclusivity(unchecked) private var nextWaiterID: UInt64 = 0
    /// Called on the loop thread whenever the descriptor becomes writable while set, instead of (and
    /// before) resuming a write waiter: a stream writer flushes its buffer here without a task.
    @exclusivity(unchecked) var writableHandler: (() -> Void)?
    /// Whether ``close()`` has run.
    @exclusivity(unchecked) public private(set) var isClosed = false
    /// On the io_uring backend, a stream socket's receives through the ring (set by the selector once
    /// the socket has been read dry); nil while reads are `recv` calls on readiness.
    @exclusivity(unchecked) var receiver: RingReceiver?
    /// Its sends through the ring, from when it moved onto the ring (``RingSender``).
    @exclusivity(unchecked) var sender: RingSender?
    /// A listener's accepts through the ring (``RingAcceptor``).
    @exclusivity(unchecked) var acceptor: RingAcceptor?

    /// Runs `body` with ``receiver`` borrowed, if there is one: no reference is counted, where binding
    /// the property to a local retains and releases it (on every read of a socket on the ring). `body`
    /// must not clear ``receiver`` (nothing that reads or lends its buffers does; going back to
    /// readiness does, and is called after).
    @inline(__always)
    func withReceiver<Result, Failure: Error>(_ body: (RingReceiver) throws(Failure) -> Result) throws(Failure) -> Result? {
        guard receiver != nil else { return nil }
        return try Self.borrow(Unmanaged.passUnretained(receiver!), body)
    }

    /// Runs `body` with ``sender`` borrowed, if there is one (as ``withReceiver(_:)``); `body` must
    /// not clear ``sender`` (only the socket's close does).
    @inline(__always)
    func withSender<Result, Failure: Error>(_ body: (RingSender) throws(Failure) -> Result) throws(Failure) -> Result? {
        guard sender != nil else { return nil }
        return try Self.borrow(Unmanaged.passUnretained(sender!), body)
    }

    /// `body` with the object `unmanaged` refers to, as a guaranteed reference; keeps `body`'s error
    /// type (`_withUnsafeGuaranteedRef` rethrows untyped).
    @inline(__always)
    private static func borrow<Object: AnyObject, Result, Failure: Error>(
        _ unmanaged: Unmanaged<Object>, _ body: (Object) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        // SAFETY: the registration holds the object, and `body` does not let it go (see the callers).
        let outcome = unmanaged._withUnsafeGuaranteedRef { object in
            Swift.Result { () throws(Failure) -> Result in try body(object) }
        }
        return try outcome.get()
    }
    /// Whether input arrives as the ring's completions (receives or accepts), not as readiness.
    private var readsOnRing: Bool { receiver != nil || acceptor != nil }
    /// Whether the descriptor is a stream socket, once the selector has asked (only those receive
    /// through the ring: a datagram would be cut to a pool buffer's size).
    @exclusivity(unchecked) var isStreamSocket: Bool?
    /// Whether the poller watches the descriptor for input (not when input comes from the ring, or
    /// will: an accepted stream socket on a ring with a receive pool starts without it).
    @exclusivity(unchecked) package internal(set) var pollsForInput = true

    private struct Waiter {
        let id: UInt64
        let continuation: UnsafeContinuation<Void, any Error>
    }

    private static let readReady: Epoll.Events = [.readable, .readHangUp, .hangUp, .error]
    private static let writeReady: Epoll.Events = [.writable, .hangUp, .error]

    init(fd: Int32, loop: EventLoop) {
        self.fd = fd
        self.loop = loop
    }

    /// Whether the loop has seen the descriptor readable (or hung up) since the last ``clearReadable()``.
    /// With receives on the ring, only a receive's completion makes it readable: a hang-up seen by the
    /// poll comes to the reader as the receive's end.
    public var isReadable: Bool { !readiness.isDisjoint(with: readsOnRing ? .readable : Self.readReady) }
    /// Whether the loop has seen the descriptor writable (or hung up) since the last ``clearWritable()``.
    /// With sends on the ring, a send's completion makes it writable (a hang-up fails that send).
    public var isWritable: Bool { !readiness.isDisjoint(with: sender == nil ? Self.writeReady : .writable) }
    /// Whether the peer has shut down its side (`EPOLLRDHUP` or `EPOLLHUP`).
    public var isPeerHungUp: Bool { !readiness.isDisjoint(with: [.readHangUp, .hangUp]) }

    /// Forgets read readiness after a read returned `EAGAIN`. Hang-ups are kept: they do not go away.
    public func clearReadable() { readiness.remove(.readable) }

    /// Whether a receive emptied the descriptor (it returned fewer bytes than asked for) and the loop has
    /// not seen it readable since: a receive now would only return `EAGAIN`. Edge-triggered readiness
    /// makes this safe: bytes that arrive after that receive are a new edge, which clears it.
    @exclusivity(unchecked) public private(set) var isDrained = false

    /// Notes that a receive returned fewer bytes than asked for (Tokio's read-readiness clearing): the
    /// next receive waits for the loop instead of making a system call that can only say `EAGAIN`.
    public func noteDrained() {
        readiness.remove(.readable)
        isDrained = true
    }
    /// Forgets write readiness after a write returned `EAGAIN`.
    public func clearWritable() { readiness.remove(.writable) }

    func deliver(_ events: Epoll.Events) {
        readiness.formUnion(events)
        if !events.isDisjoint(with: readsOnRing ? .readable : Self.readReady) {
            isDrained = false
            if let waiter = readWaiter {
                readWaiter = nil
                waiter.continuation.resume()
            }
        }
        if !events.isDisjoint(with: sender == nil ? Self.writeReady : .writable) {
            if let handler = writableHandler { handler() }
            if let waiter = writeWaiter {
                writeWaiter = nil
                waiter.continuation.resume()
            }
        }
    }

    /// Suspends until the descriptor is readable or hung up; returns at once if it already is.
    ///
    /// - Throws: `CancellationError` if the task is cancelled while waiting; ``EventLoopError`` `.closed`
    ///   if the registration is or gets closed, `.busy` if another task is already waiting to read.
    ///
    /// ### Cancellation
    /// Safe: the wait is abandoned and nothing is consumed.
    public nonisolated(nonsending) func waitReadable() async throws {
        try await waitUntilReadable()
    }

    /// Suspends until the descriptor is writable or hung up; returns at once if it already is.
    ///
    /// - Throws: as ``waitReadable()``.
    ///
    /// ### Cancellation
    /// Safe: the wait is abandoned and nothing is written.
    public nonisolated(nonsending) func waitWritable() async throws {
        try await waitUntilWritable()
    }

    /// ``waitReadable()``, inlined into the library's own waits: no frame of its own, where the public
    /// function's `@inline(__always)` is not honoured for an async function.
    @inline(always)
    nonisolated(nonsending) func waitUntilReadable() async throws {
        if isReadable { return }
        try await wait(write: false)
    }

    /// ``waitWritable()``, inlined into the library's own waits.
    @inline(always)
    nonisolated(nonsending) func waitUntilWritable() async throws {
        if isWritable { return }
        try await wait(write: true)
    }

    /// Which readiness an operation needs.
    public enum Interest: Sendable {
        /// Readable or hung up.
        case read
        /// Writable or hung up.
        case write
    }

    /// The readiness-I/O primitive every descriptor operation of the library goes through: try
    /// `attempt` (one non-blocking system call); on ``IOResult/wouldBlock`` forget the readiness, wait
    /// for the loop to see it again, and retry; once it completes, count it against the job's I/O budget
    /// (``EventLoop/cooperate()``).
    ///
    /// - Throws: whatever `attempt` throws; ``EventLoopError`` `.closed` if the registration is or gets
    ///   closed, `.busy` if another task already waits for the same interest; `CancellationError`.
    ///
    /// ### Cancellation
    /// Safe between attempts: cancellation ends the wait, and an attempt is never interrupted.
    public nonisolated(nonsending) func perform<Value>(
        _ interest: Interest,
        _ attempt: () throws -> IOResult<Value>
    ) async throws -> Value {
        try loop.checkInLoop("IORegistration")
        while true {
            if isClosed { throw EventLoopError(.closed, operation: interest == .read ? "read" : "write") }
            switch try attempt() {
            case .done(let value):
                await loop.cooperateOnLoop()
                return value
            case .wouldBlock:
                if interest == .read {
                    clearReadable()
                    try await waitUntilReadable()
                } else {
                    clearWritable()
                    try await waitUntilWritable()
                }
            }
        }
    }

    /// Waits until the descriptor is readable, even if the task is cancelled: for clean-up that must
    /// finish, such as reaping a child that was just killed, and for waits whose owner handles
    /// cancellation (``StreamReader/ownerHandlesCancellation``). Inlined into its caller, it costs no
    /// frame of its own: on the HTTP server's request path, one task allocation less a request.
    ///
    /// - Throws: ``EventLoopError`` `.closed` or `.busy`, as ``waitReadable()``.
    ///
    /// ### Cancellation
    /// Ignored: the wait ends only when the descriptor is readable or closed.
    @inline(always)
    nonisolated(nonsending) func waitReadableIgnoringCancellation() async throws {
        if isReadable { return }
        let id = try beginWaiting(write: false)
        let noted = loop.beginWait(.read(fd))
        defer { if noted { loop.endWait() } }
        try await withInheritedThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
            readWaiter = Waiter(id: id, continuation: continuation)
        }
    }

    /// Resumes the task waiting for readability, if one is, with `CancellationError`: the owner's
    /// cancellation handler for waits that do not watch cancellation themselves
    /// (``StreamReader/ownerHandlesCancellation``). On the loop.
    func interruptReadWait() {
        guard let waiter = readWaiter else { return }
        readWaiter = nil
        waiter.continuation.resume(throwing: CancellationError())
    }

    /// Checks that a wait can start (on the loop, open, no other waiter for it) and numbers it.
    @inline(__always)
    private func beginWaiting(write: Bool) throws -> UInt64 {
        try loop.checkInLoop("IORegistration", "wait")
        if isClosed { throw EventLoopError(.closed, operation: write ? "waitWritable" : "waitReadable") }
        if (write ? writeWaiter : readWaiter) != nil {
            throw EventLoopError(.busy, operation: write ? "waitWritable" : "waitReadable")
        }
        nextWaiterID &+= 1
        return nextWaiterID
    }

    @inline(always)
    private nonisolated(nonsending) func wait(write: Bool) async throws {
        let id = try beginWaiting(write: write)
        try checkTaskCancellation()
        let noted = loop.beginWait(write ? .write(fd) : .read(fd))
        defer { if noted { loop.endWait() } }
        guard CancelScope.scopeForWait(on: loop) == nil else {
            try await withCancellableContinuation(on: loop) { (continuation: UnsafeContinuation<Void, any Error>) in
                store(Waiter(id: id, continuation: continuation), write: write)
            } onCancel: {
                self.cancelWaiterSoon(id: id, write: write)
            }
            return
        }
        // No scope to tie the wait to: task cancellation alone, whose handler need not escape (its
        // context then lives in the task's frame: one allocation less per wait than through
        // `withCancellableContinuation`, whose scopes keep the handler).
        try await withInheritedThrowingContinuation(onCancel: { [self] in cancelWaiterSoon(id: id, write: write) }) {
            (continuation: UnsafeContinuation<Void, any Error>) in
            store(Waiter(id: id, continuation: continuation), write: write)
        }
    }

    /// Makes `waiter` the read or the write waiter (from a continuation's body, on the loop).
    @inline(__always)
    private func store(_ waiter: Waiter, write: Bool) {
        if write { writeWaiter = waiter } else { readWaiter = waiter }
    }

    /// A cancellation handler's part (any thread): wakes the waiter `id` on the loop, if it still waits.
    private func cancelWaiterSoon(id: UInt64, write: Bool) {
        loop.execute { self.cancelWaiter(id: id, write: write) }
    }

    private func cancelWaiter(id: UInt64, write: Bool) {
        if write, let waiter = writeWaiter, waiter.id == id {
            writeWaiter = nil
            waiter.continuation.resume(throwing: CancellationError())
        } else if !write, let waiter = readWaiter, waiter.id == id {
            readWaiter = nil
            waiter.continuation.resume(throwing: CancellationError())
        }
    }

    /// Deregisters and closes the descriptor; waiting tasks fail with ``EventLoopError`` `.closed`.
    /// Closing twice is harmless.
    ///
    /// On the io_uring backend, bytes already handed to the ring still go out before the end of the
    /// stream, as bytes in a kernel socket buffer would: the descriptor itself is closed when the last
    /// send completes (``RingSender``); to the program it is closed at once.
    public func close() {
        guard loop.inEventLoop else { loop.execute { self.close() }; return }
        if isClosed { return }
        isClosed = true
        writableHandler = nil
        if let sender, sender.isSending {
            loop.poller.closeAfterSends(self, sender)
        } else {
            finishClose()
        }
        let error = EventLoopError(.closed, operation: "close")
        if let waiter = readWaiter {
            readWaiter = nil
            waiter.continuation.resume(throwing: error)
        }
        if let waiter = writeWaiter {
            writeWaiter = nil
            waiter.continuation.resume(throwing: error)
        }
    }

    /// Deregisters and closes the descriptor (after ``close()``, at once or once the ring's sends are done).
    func finishClose() {
        loop.poller.remove(self)
        try? FileDescriptorOps.close(fd)
    }
}

extension EventLoop {
    /// Registers `fd` with the loop (edge-triggered read, write and hang-up) and takes ownership of it.
    ///
    /// The descriptor should be non-blocking. It is closed by ``IORegistration/close()`` or when the
    /// loop shuts down.
    ///
    /// - Throws: ``EventLoopError`` `.system` if epoll refuses it (for example `EPERM` for a regular file).
    public func register(_ fd: Int32) throws -> IORegistration {
        try register(fd, acceptedStream: false)
    }

    /// ``register(_:)``; `acceptedStream`: `fd` is a connection accepted from a stream listener
    /// (``LoopSelector/add(_:acceptedStream:)``).
    func register(_ fd: Int32, acceptedStream: Bool) throws -> IORegistration {
        try checkInLoop("EventLoop", "register")
        let registration = IORegistration(fd: fd, loop: self)
        do {
            try poller.add(registration, acceptedStream: acceptedStream)
        } catch {
            throw EventLoopError(.system, operation: "epoll_ctl(ADD)", underlying: error)
        }
        return registration
    }

    /// How many descriptors are registered with the loop now.
    public var registrationCount: Int { poller.registrationCount }
}

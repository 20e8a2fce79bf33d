import AsyncIOSystem

/// Buffered reads from a byte stream: a TCP or Unix connection, a pipe, TLS, any ``ByteStream``, or
/// bytes fed by hand (asyncio's `StreamReader`).
///
/// The reader pulls from its socket only when a read needs more bytes, so its buffer holds at most what
/// the current read needs plus one receive: a peer that sends faster than the program reads is held
/// back by TCP flow control, not by memory. Line and separator reads stop at ``limit`` bytes
/// (default 64 KiB) with ``StreamError/Code-swift.struct/limitOverrun``.
///
/// One task reads at a time; a second concurrent read throws ``StreamError/Code-swift.struct/busy``.
///
/// ### Thread safety
/// Loop-confined: use it from tasks running on its loop.
public final class StreamReader: @unchecked Sendable {
    // Its `var`s are `@exclusivity(unchecked)`: the object is loop-confined and no access to them
    // spans a call that could reach them again (each is a load, a store, or a mutation that calls
    // nothing back), so the runtime's checks could not fire; on the request path of the loop, the
    // streams and the HTTP server they cost 2.4 % of `/plaintext`'s CPU (31 checks a request).
    /// The longest line or separator-terminated chunk that ``readLine()`` and ``read(until:)`` return.
    public let limit: Int
    /// The stream read from (nil for a reader fed by hand).
    public let stream: (any ByteStream)?
    @exclusivity(unchecked) var buffer: ByteBuffer
    /// On the io_uring backend, a buffer of the ring's pool lent to the reader by ``receiveMore()``:
    /// its unread bytes come before the buffer's (which is empty while it is lent).
    @exclusivity(unchecked) var lent: LentReceiveBuffer?
    /// The stream, when it is a socket (which can lend its ring's buffers).
    let socket: Socket?
    /// The stream's loop, stored (see ``StreamWriter/loop``); nil for a reader fed by hand.
    let loop: EventLoop?
    @exclusivity(unchecked) var eof = false
    @exclusivity(unchecked) var isReading = false
    /// While true, the reader's waits on its socket install no cancellation handler and ignore cancel
    /// scopes: they check the task's cancellation before they park, and then end only when the socket
    /// is readable or closed, or when the owner's own cancellation handler (one for the owner's whole
    /// life) calls ``interruptWaitSoon()``. A wait then costs no handler of its own (a status record,
    /// three task allocations and three executor hops, each time). For a server's reads between
    /// requests, where no caller's code runs; leave it false around reads whose caller expects
    /// cancellation or a scope to end them.
    ///
    /// Computed, over a stored property of this module: `@exclusivity(unchecked)` does not reach
    /// another module's direct access to a stored property, and the HTTP server's two writes a request
    /// each began a dynamic access (0.4 % of `/plaintext`'s CPU).
    package var ownerHandlesCancellation: Bool {
        get { ownerCancels }
        set { ownerCancels = newValue }
    }
    @exclusivity(unchecked) private var ownerCancels = false
    // For readers fed by hand (no socket): the task waiting for data.
    @exclusivity(unchecked) private var feedWaiter: UnsafeContinuation<Void, any Error>?

    /// How much one receive asks the socket for.
    static let receiveSize = 16 * 1024

    /// A reader over `stream`: a ``Socket``, a TLS stream, a ``MemoryStream``.
    public init(stream: any ByteStream, limit: Int = 64 * 1024) {
        precondition(limit > 0, "the limit must be positive")
        self.stream = stream
        self.limit = limit
        socket = stream as? Socket
        let loop = stream.loop
        self.loop = loop
        buffer = ByteBuffer(cache: loop.bufferCache)
    }

    /// A reader over `socket`.
    public convenience init(socket: Socket, limit: Int = 64 * 1024) {
        self.init(stream: socket, limit: limit)
    }

    /// A reader with no socket: bytes arrive through ``feed(_:)`` and ``feedEOF()`` (for tests and
    /// protocol code).
    public init(limit: Int = 64 * 1024) {
        precondition(limit > 0, "the limit must be positive")
        stream = nil
        socket = nil
        loop = nil
        self.limit = limit
        buffer = ByteBuffer()
    }

    deinit {
        guard let loop else { return }
        // The pools are the loop's: give their buffers back on its thread (a closed loop's ring only
        // counts, and its cache goes with it).
        if let lent {
            if loop.inEventLoop || !loop.execute({ lent.giveBack() }) { lent.giveBack() }
        }
        if let detached = buffer.detachCachedStorage() {
            if loop.inEventLoop {
                detached.cache.give(detached.storage)
            } else {
                let handOff = CachedStorage(detached.storage, detached.cache)
                if !loop.execute({ handOff.giveBack() }) { handOff.storage.deallocate() }
            }
        }
    }

    /// Whether the stream has ended and every byte has been read.
    public var isAtEOF: Bool { eof && buffer.isEmpty && lent == nil }

    /// Bytes received but not yet read.
    public var bufferedCount: Int {
        guard lent != nil else { return buffer.count }  // `lent?.` would copy it: a reference to its ring
        return buffer.count + lent!.bytes.count
    }

    /// Appends bytes to a reader without a socket. Feeding nothing does nothing: a read waiting for
    /// bytes keeps waiting (woken with none, it would read as the end of the stream).
    public func feed(_ bytes: [UInt8]) {
        precondition(!eof, "feed after feedEOF")
        guard !bytes.isEmpty else { return }
        bytes.withUnsafeBytes { buffer.append($0) }
        wakeFeedWaiter()
    }

    /// Marks the end of a reader without a socket.
    public func feedEOF() {
        eof = true
        wakeFeedWaiter()
    }

    private func wakeFeedWaiter() {
        if let waiter = feedWaiter {
            feedWaiter = nil
            waiter.resume()
        }
    }

    // MARK: - Reads

    /// Reads up to `maxCount` bytes: what is buffered, or else what one receive brings; empty at end of
    /// stream (asyncio's `read(n)`).
    ///
    /// ### Cancellation
    /// Safe: no bytes are consumed unless the call returns them.
    public nonisolated(nonsending) func read(upTo maxCount: Int) async throws -> [UInt8] {
        precondition(maxCount > 0, "read(upTo:) needs a positive count")
        try beginRead()
        defer { isReading = false }
        if lent != nil { settleLent() }
        if buffer.isEmpty && !eof { try await fill(minimum: 1) }
        return buffer.read(upTo: maxCount)
    }

    /// Reads up to `destination.count` bytes into `destination`, with no allocation: from the buffer, or
    /// straight from the socket when the buffer is empty. Returns 0 at end of stream.
    ///
    /// ### Cancellation
    /// Safe: no bytes are consumed unless the call returns them.
    public nonisolated(nonsending) func read(into destination: UnsafeMutableRawBufferPointer) async throws -> Int {
        precondition(destination.count > 0, "read(into:) needs a non-empty buffer")
        try beginRead()
        defer { isReading = false }
        if lent != nil { settleLent() }
        if !buffer.isEmpty { return buffer.read(into: destination) }
        if eof { return 0 }
        guard let stream else {
            try await fill(minimum: 1)
            return buffer.read(into: destination)
        }
        // A socket's is called on the socket itself: through `any ByteStream`, the wait inside is a call
        // of unknown isolation, which costs an executor hop on its return.
        let count = if let socket {
            try await socket.receiveOnLoop(into: destination, watchingCancellation: !ownerHandlesCancellation)
        } else {
            try await stream.receiveOnLoop(into: destination)
        }
        if count == 0 { eof = true }
        return count
    }

    /// Reads exactly `count` bytes (asyncio's `readexactly`).
    ///
    /// - Throws: ``StreamError/Code-swift.struct/incompleteRead`` if the stream ends first; the bytes
    ///   that did arrive are consumed and travel in ``StreamError/partial``.
    ///
    /// ### Cancellation
    /// Safe: no bytes are consumed unless the call returns them.
    public nonisolated(nonsending) func read(exactly count: Int) async throws -> [UInt8] {
        precondition(count >= 0, "read(exactly:) needs a non-negative count")
        try beginRead()
        defer { isReading = false }
        if lent != nil { settleLent() }
        while buffer.count < count && !eof { try await fill(minimum: count - buffer.count) }
        if buffer.count < count {
            throw StreamError.incompleteRead(partial: buffer.read(upTo: buffer.count), expected: count)
        }
        return buffer.read(upTo: count)
    }

    /// Reads up to and including `separator` (asyncio's `readuntil`).
    ///
    /// - Throws: ``StreamError/Code-swift.struct/limitOverrun`` if ``limit`` bytes arrive without it
    ///   (nothing is consumed); ``StreamError/Code-swift.struct/incompleteRead`` if the stream ends
    ///   first (the rest is consumed and returned in the error).
    ///
    /// ### Cancellation
    /// Safe: no bytes are consumed unless the call returns them.
    public nonisolated(nonsending) func read(until separator: [UInt8]) async throws -> [UInt8] {
        precondition(!separator.isEmpty, "the separator must not be empty")
        try beginRead()
        defer { isReading = false }
        if lent != nil { settleLent() }
        var searched = 0
        while true {
            if let index = buffer.firstIndex(of: separator, from: searched) {
                let end = index + separator.count
                if end > limit { throw StreamError(.limitOverrun, operation: "read(until:)", expected: buffer.count) }
                return buffer.read(upTo: end)
            }
            if buffer.count > limit { throw StreamError(.limitOverrun, operation: "read(until:)", expected: buffer.count) }
            if eof {
                throw StreamError.incompleteRead(partial: buffer.read(upTo: buffer.count), expected: buffer.count + separator.count)
            }
            searched = max(0, buffer.count - separator.count + 1)
            try await fill(minimum: 1)
        }
    }

    /// Reads one line, up to and including `\n` (asyncio's `readline`). At end of stream it returns the
    /// last, unterminated line, and then empty arrays.
    ///
    /// - Throws: ``StreamError/Code-swift.struct/limitOverrun`` past ``limit`` bytes without a newline.
    ///
    /// ### Cancellation
    /// Safe: no bytes are consumed unless the call returns them.
    public nonisolated(nonsending) func readLine() async throws -> [UInt8] {
        do {
            return try await read(until: [UInt8(ascii: "\n")])
        } catch let error as StreamError where error.code == .incompleteRead {
            return error.partial
        }
    }

    /// Reads everything until end of stream (asyncio's `read()` with no size), refusing more than
    /// `limit` bytes.
    ///
    /// - Throws: ``StreamError/Code-swift.struct/limitOverrun`` if more than `limit` bytes arrive (they are
    ///   left buffered).
    ///
    /// ### Cancellation
    /// Safe: no bytes are consumed unless the call returns them.
    public func readToEnd(limit maxCount: Int = 16 * 1024 * 1024) async throws -> [UInt8] {
        try beginRead()
        defer { isReading = false }
        if lent != nil { settleLent() }
        while !eof {
            if buffer.count > maxCount { throw StreamError(.limitOverrun, operation: "readToEnd", expected: buffer.count) }
            try await fill(minimum: 1)
        }
        if buffer.count > maxCount { throw StreamError(.limitOverrun, operation: "readToEnd", expected: buffer.count) }
        return buffer.read(upTo: buffer.count)
    }

    // MARK: - Filling

    func beginRead() throws {
        try loop?.checkInLoop("StreamReader", "read")
        if isReading { throw StreamError(.busy, operation: "read") }
        isReading = true
    }

    /// Receives more bytes into the buffer (at least one, unless the stream ends); `lending`: into
    /// ``lent`` if the ring can lend them and nothing is buffered.
    ///
    /// Inlined into each read: no frame of its own, a task allocation and its release a read.
    @inline(always)
    nonisolated(nonsending) func fill(minimum: Int, lending: Bool = false) async throws {
        if lent != nil { settleLent() }
        // Only for a socket that receives through the ring now: on readiness (the epoll backend, or a
        // socket not yet read dry) this path would bind the socket and drop the buffer's storage for
        // nothing, on every read.
        if lending, buffer.isEmpty, socket?.registration.receiver != nil, let socket {
            // First, so that this path binds nothing but the socket (each binding a reference counted).
            // About to wait, unless a buffer is there: an empty buffer gives its memory back (an idle
            // keep-alive connection costs no buffer).
            buffer.shrink(to: 0)
            if let lending = try await socket.lendReceived(watchingCancellation: !ownerHandlesCancellation) {
                switch consume lending {
                case .lent(let lent): self.lent = lent
                case .end: eof = true
                case .wouldBlock: preconditionFailure("a lend that waited found nothing")
                }
                await socket.loop.cooperateOnLoop()
                return
            }
            // The socket went back to readiness (the pool ran low): it is read below.
        }
        guard stream != nil, loop != nil else {
            try await waitForFeed()
            return
        }
        // The receives happen in a synchronous method, and this frame binds nothing of the reader's:
        // each binding held across a wait was a reference counted (three a request on the socket).
        while true {
            switch try receiveNow(minimum: minimum) {
            case .done(let count):
                if count == 0 { eof = true }
                if loop!.spendIOBudget() { await Task.yield() }
                return
            case .wouldBlock:
                // About to park: an empty buffer gives its memory back (an idle keep-alive connection
                // costs no buffer), and the next receive goes through the scratch space.
                if buffer.isEmpty { buffer.shrink(to: 0) }
                if socket != nil {
                    try await socket!.waitUntilReceivable(watchingCancellation: !ownerHandlesCancellation)
                } else {
                    try await stream!.waitUntilReceivable()
                }
            }
        }
    }

    /// One receive into the buffer, for ``fill(minimum:lending:)``: on the socket itself when there is
    /// one (no call through the protocol).
    private func receiveNow(minimum: Int) throws -> IOResult<Int> {
        let want = max(minimum, Self.receiveSize)
        let result: IOResult<Int>
        if buffer.capacity == 0 && want <= loop!.receiveScratch.count {
            // No storage: receive into the loop's scratch space and keep only what arrived, so a
            // reader that waits with nothing buffered holds no buffer memory.
            let scratch = Self.first(want, of: loop!.receiveScratch)
            result = try socket?.tryReceive(into: scratch) ?? stream!.tryReceive(into: scratch)
            if case .done(let count) = result, count > 0 {
                buffer.append(UnsafeRawBufferPointer(Self.first(count, of: scratch)))
            }
        } else {
            let space = Self.first(want, of: buffer.writableSpace(minimum: min(want, max(minimum, 1))))
            result = try socket?.tryReceive(into: space) ?? stream!.tryReceive(into: space)
            if case .done(let count) = result, count > 0 { buffer.commitWrite(count) }
        }
        return result
    }

    /// The first `count` bytes of `space` (all of it if it is shorter): `prefix(_:)` goes through the
    /// collection protocols and a slice, a few dozen instructions a call.
    @inline(__always)
    private static func first(_ count: Int, of space: UnsafeMutableRawBufferPointer) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: space.baseAddress, count: min(count, space.count))
    }

    /// Bytes of buffer storage the reader holds now (0 when it holds none; a lent ring buffer is the
    /// pool's, not the reader's).
    package var storageCapacity: Int { buffer.capacity }

    /// Whether the reader holds a buffer of the ring's pool now.
    package var holdsRingBuffer: Bool { lent != nil }

    /// Copies a lent buffer's unread bytes into the reader's own (empty) buffer, and gives the ring's
    /// buffer back: before anything that reads or appends to ``buffer``.
    @inline(never)
    func settleLent() {
        guard let lent else { return }
        assert(buffer.isEmpty, "a buffer was lent while bytes were buffered")
        self.lent = nil
        buffer.append(lent.bytes)
        lent.giveBack()
    }

    /// A reader without a stream: waits for ``feed(_:)`` or ``feedEOF()``. Out of line, so that the
    /// socket path's frame (alive while a connection idles) does not carry this one's.
    @inline(never)
    private nonisolated(nonsending) func waitForFeed() async throws {
        let loop = try EventLoop.requireCurrent("StreamReader.read")
        let noted = loop.beginWait(.primitive("StreamReader.feed"))
        defer { if noted { loop.endWait() } }
        try await withCancellableContinuation(on: loop) { (continuation: UnsafeContinuation<Void, any Error>) in
            feedWaiter = continuation
        } onCancel: {
            loop.execute { [weak self] in
                guard let self, let waiter = feedWaiter else { return }
                feedWaiter = nil
                waiter.resume(throwing: CancellationError())
            }
        }
    }

    /// Frees the buffer's storage if nothing is buffered: for a protocol that is about to wait a long
    /// time on something other than this stream (an HTTP server while its handler runs).
    package func releaseStorageIfEmpty() {
        if lent != nil { settleLent() }
        buffer.shrink(to: 0)
    }
}

import AsyncIOSystem

/// A stream socket's sends on the io_uring backend, once it receives through the ring: a send takes a
/// copy of the bytes and queues an `IORING_OP_SEND`, which goes to the kernel with the loop's next
/// `io_uring_enter` (together with every other socket's) instead of a `send` call of its own.
///
/// One send is in the ring at a time, so bytes go out in the order they were written (two sends in the
/// ring could interleave when the socket's buffer is full); what is written meanwhile waits in a second
/// buffer, up to ``maximumSend`` bytes, and goes when the first completes. Beyond that, ``send(_:fd:data:)``
/// says `.wouldBlock` and the writer keeps the bytes (its own buffer and watermarks apply); the
/// completion makes the socket writable again. An error the kernel reports for a send is thrown by
/// the next one.
///
/// Closing the socket does not drop what was handed to the ring, as closing a socket does not drop
/// what its kernel buffer holds: the descriptor is closed once the last send completes
/// (``IORegistration/close()``). `shutdown` and `sendfile` wait until no send is in the ring.
///
/// ### Thread safety
/// Loop-confined, like its registration.
final class RingSender {
    // Its `var`s are `@exclusivity(unchecked)`: the object is loop-confined and no access to them
    // spans a call that could reach them again (each is a load, a store, or a mutation that calls
    // nothing back), so the runtime's checks could not fire; on the request path of the loop, the
    // streams and the HTTP server they cost 2.4 % of `/plaintext`'s CPU (31 checks a request).
    let ring: IOURing
    /// Where the buffers come from and go back to: the loop's.
    let buffers: BufferCache
    /// The bytes in the ring (nil when none), in `inFlightStorage`, and how many the kernel has sent.
    @exclusivity(unchecked) private var inFlight: UnsafeMutableRawBufferPointer?
    @exclusivity(unchecked) private var inFlightStorage: UnsafeMutableRawBufferPointer?
    @exclusivity(unchecked) private var sent = 0
    /// Bytes written while a send is in the ring: the next send. Its storage grows as writes need it
    /// (from ``BufferCache/size``), up to ``maximumSend``: a response written as a head and a
    /// small body costs one small buffer, not 64 KiB.
    @exclusivity(unchecked) private var queued: UnsafeMutableRawBufferPointer?
    @exclusivity(unchecked) private var queuedCount = 0
    /// An error from a completed send, for the next send to throw.
    @exclusivity(unchecked) private var failure: Errno?
    /// A half-close asked for while a send was in the ring: done when the last completes.
    @exclusivity(unchecked) var shutdownRequested = false
    /// The socket was closed while a send was in the ring: its descriptor closes when the last completes.
    @exclusivity(unchecked) var closeRequested = false

    /// The most bytes each of the two buffers takes: what a socket's send buffer holds at first.
    static let maximumSend = 64 * 1024

    init(ring: IOURing, buffers: BufferCache) {
        self.ring = ring
        self.buffers = buffers
    }

    deinit {
        // Only once no send is in the ring (the selector keeps a sender until then).
        if let inFlightStorage { buffers.give(inFlightStorage) }
        if let queued { buffers.give(queued) }
    }

    /// Whether a send is in the ring.
    var isSending: Bool { inFlight != nil }

    /// Copies a prefix of `source` and sends it, or queues it behind the send in the ring; returns its
    /// length. `.wouldBlock` when both buffers are full; throws the error of an earlier send.
    func send(_ source: UnsafeRawBufferPointer, fd: Int32, data: UInt64) throws(Errno) -> IOResult<Int> {
        if let failure { throw failure }
        if source.isEmpty { return .done(0) }
        guard inFlight != nil else {
            let count = min(source.count, Self.maximumSend)
            let storage = buffers.take(atLeast: count)
            // SAFETY: `storage` has room for at least `count` bytes; `source` has at least `count`.
            storage.baseAddress!.copyMemory(from: source.baseAddress!, byteCount: count)
            let copy = UnsafeMutableRawBufferPointer(rebasing: storage[..<count])
            do {
                try ring.send(fd, UnsafeRawBufferPointer(copy), data: data)
            } catch {
                buffers.give(storage)
                throw error
            }
            inFlight = copy
            inFlightStorage = storage
            sent = 0
            return .done(count)
        }
        let room = Self.maximumSend - queuedCount
        if room == 0 { return .wouldBlock }
        let count = min(source.count, room)
        let needed = queuedCount + count
        if needed > (queued?.count ?? 0) {
            let grown = buffers.take(
                atLeast: min(Self.maximumSend, max(needed, 2 * (queued?.count ?? 0), BufferCache.size)))
            if let old = queued {
                // SAFETY: `grown` is larger than `old`, whose first `queuedCount` bytes are in use.
                grown.baseAddress!.copyMemory(from: old.baseAddress!, byteCount: queuedCount)
                buffers.give(old)
            }
            queued = grown
        }
        // SAFETY: `queued` holds at least `queuedCount + count` bytes (grown just above if it did not).
        (queued!.baseAddress! + queuedCount).copyMemory(from: source.baseAddress!, byteCount: count)
        queuedCount += count
        return .done(count)
    }

    /// Takes a send's completion. Returns true when nothing is in the ring any more (every byte sent, or
    /// the connection failed); false while a send is.
    func complete(_ completion: IOURing.Completion, fd: Int32, data: UInt64) -> Bool {
        guard let bytes = inFlight, let storage = inFlightStorage else { return true }
        if completion.result < 0 {
            if !completion.isCancelled && failure == nil { failure = Errno(rawValue: -completion.result) }
        } else {
            sent += Int(completion.result)
            if sent < bytes.count {
                // MSG_WAITALL sends everything unless the connection fails; if the kernel stopped short
                // anyway, the rest goes again (and nothing sent is a broken connection, not a spin).
                if completion.result > 0, (try? ring.send(fd, UnsafeRawBufferPointer(rebasing: bytes[sent...]), data: data)) != nil {
                    return false
                }
                if failure == nil { failure = .brokenPipe }
            }
        }
        buffers.give(storage)
        inFlight = nil
        inFlightStorage = nil
        guard failure == nil, let next = queued, queuedCount > 0 else {
            if let queued { buffers.give(queued) }
            queued = nil
            queuedCount = 0
            return true
        }
        // The queued bytes go next, from their own buffer.
        let rest = UnsafeMutableRawBufferPointer(rebasing: next[..<queuedCount])
        queued = nil
        queuedCount = 0
        do {
            try ring.send(fd, UnsafeRawBufferPointer(rest), data: data)
        } catch {
            buffers.give(next)
            failure = error
            return true
        }
        inFlight = rest
        inFlightStorage = next
        sent = 0
        return false
    }

    /// The error an earlier send failed with, if any.
    var error: Errno? { failure }
}

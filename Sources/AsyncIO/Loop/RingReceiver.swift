import AsyncIOSystem

/// A stream socket's receives on the io_uring backend: a multishot receive in the ring fills buffers
/// of the ring's pool as bytes arrive, and the socket's reads copy them out of those buffers (in order)
/// instead of calling `recv` (tokio-uring's and glommio's receive, liburing's `recv_multishot` example).
///
/// Memory stays bounded by the pool, whatever the peers send: a pool that runs dry ends receives with
/// `ENOBUFS`, and those sockets go back to readiness and `recv` (their bytes wait in the kernel, under
/// TCP's flow control) until buffers come back (``LoopSelector/resumeReceiving(_:)``). And so that one
/// unread socket does not take the whole pool, a receiver holding ``pauseThreshold`` unread buffers
/// cancels its receive and starts it again when its reader has caught up; what the kernel had already
/// taken from the socket when the cancellation goes in (at the next `io_uring_enter`) still lands.
///
/// ### Thread safety
/// Loop-confined, like its registration.
final class RingReceiver {
    // Its `var`s are `@exclusivity(unchecked)`: the object is loop-confined and no access to them
    // spans a call that could reach them again (each is a load, a store, or a mutation that calls
    // nothing back), so the runtime's checks could not fire; on the request path of the loop, the
    // streams and the HTTP server they cost 2.4 % of `/plaintext`'s CPU (31 checks a request).
    let ring: IOURing
    /// Buffers received and not yet read: the oldest in a slot of its own, the others after it, in
    /// order. A request-response peer's socket holds one buffer at a time, which then costs no array
    /// traffic (a FIFO whose last element is popped resets its array: a uniqueness check, and the
    /// array's reference counted, on every request).
    @exclusivity(unchecked) private var oldest: Chunk?
    @exclusivity(unchecked) private var later = FIFOBuffer<Chunk>()
    /// How many buffers `oldest` and `later` hold.
    @exclusivity(unchecked) private(set) var heldBuffers = 0
    /// Whether a receive is in the ring (started and its last completion not yet seen).
    @exclusivity(unchecked) var isArmed = true
    /// Whether its cancellation (at ``pauseThreshold``) is queued.
    @exclusivity(unchecked) private var isPausing = false
    /// How the stream ended: 0 at end of stream, `-errno` on an error; nil while it goes on.
    @exclusivity(unchecked) private var end: Int32?

    private struct Chunk {
        let buffer: UInt16
        var offset: Int32
        let count: Int32
    }

    /// Unread buffers at which the receive is paused: 8 × 4 KiB, the order of a socket's receive buffer.
    static let pauseThreshold = 8

    init(ring: IOURing) {
        self.ring = ring
    }

    private func push(_ chunk: Chunk) {
        if oldest == nil { oldest = chunk } else { later.push(chunk) }
        heldBuffers += 1
    }

    private func popOldest() -> Chunk? {
        guard let chunk = oldest else { return nil }
        heldBuffers -= 1
        oldest = heldBuffers > 0 ? later.popFirst() : nil
        return chunk
    }

    /// Takes a completion; returns whether the receive should be paused (too many buffers held).
    func deliver(_ completion: IOURing.Completion) -> Bool {
        if let buffer = completion.buffer {
            if end == nil && completion.result > 0 {
                push(Chunk(buffer: buffer, offset: 0, count: completion.result))
            } else {
                ring.giveBack(buffer)  // cannot happen (a buffer comes with bytes); kept, not leaked
            }
        } else if completion.endsStream, end == nil {
            end = completion.result
        }
        if completion.isFinal {
            isArmed = false
            isPausing = false
            return false
        }
        if heldBuffers >= Self.pauseThreshold && !isPausing {
            isPausing = true
            return true
        }
        return false
    }

    /// Copies what was received into `buffer` and gives the emptied buffers back: `.done(count)`, then
    /// `.done(0)` at end of stream or the error that ended it; `.wouldBlock` when nothing waits.
    func take(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> IOResult<Int> {
        var copied = 0
        while let chunk = oldest, copied < buffer.count {
            let count = min(Int(chunk.count - chunk.offset), buffer.count - copied)
            // SAFETY: the chunk's bytes are in a pool buffer the ring does not fill again until it is
            // given back below; `buffer` has room for `count` more bytes after `copied`.
            (buffer.baseAddress! + copied).copyMemory(from: ring.receiveBuffer(chunk.buffer) + Int(chunk.offset),
                                                      byteCount: count)
            copied += count
            if Int(chunk.offset) + count == Int(chunk.count) {
                ring.giveBack(chunk.buffer)
                _ = popOldest()
            } else {
                oldest!.offset += Int32(count)
            }
        }
        if copied > 0 { return .done(copied) }
        guard let end else { return .wouldBlock }
        if end == 0 { return .done(0) }
        throw Errno(rawValue: -end)
    }

    /// Lends the oldest received buffer's unread bytes, without a copy: `.lent` (the caller gives the
    /// buffer back, ``LentReceiveBuffer/giveBack()``), `.end` at end of stream, or the error that ended
    /// it; `.wouldBlock` when nothing waits.
    func lend() throws(Errno) -> Lending {
        if let chunk = popOldest() {
            // SAFETY: the chunk's bytes lie in a buffer that is out of the pool: the kernel does not
            // fill it again until the borrower gives it back.
            let bytes = UnsafeRawBufferPointer(start: ring.receiveBuffer(chunk.buffer) + Int(chunk.offset),
                                               count: Int(chunk.count - chunk.offset))
            return .lent(LentReceiveBuffer(ring: ring, id: chunk.buffer, bytes: bytes))
        }
        guard let end else { return .wouldBlock }
        if end == 0 { return .end }
        throw Errno(rawValue: -end)
    }

    /// What ``lend()`` found.
    enum Lending {
        case lent(LentReceiveBuffer)
        case end
        case wouldBlock
    }

    /// Whether a read would find something (bytes, the end, or an error) without waiting.
    var hasSomething: Bool { oldest != nil || end != nil }

    /// What a reader checks after a read: whether another would find something, and whether the
    /// receive is in the ring.
    struct State {
        let hasSomething: Bool
        let isArmed: Bool
    }

    var state: State { State(hasSomething: hasSomething, isArmed: isArmed) }

    /// Gives every held buffer back (the socket is closing).
    func releaseAll() {
        while let chunk = popOldest() { ring.giveBack(chunk.buffer) }
    }
}

/// A receive buffer of the ring's pool lent to a reader (``RingReceiver/lend()``): it reads the bytes in
/// place, then gives the buffer back to the pool, once, on the loop's thread. Until then the pool has
/// one buffer less (and stays mapped, even if the loop closes).
struct LentReceiveBuffer {
    let ring: IOURing
    let id: UInt16
    /// The bytes not yet consumed.
    private(set) var bytes: UnsafeRawBufferPointer

    init(ring: IOURing, id: UInt16, bytes: UnsafeRawBufferPointer) {
        self.ring = ring
        self.id = id
        self.bytes = bytes
    }

    /// Drops the first `count` unread bytes.
    mutating func consume(_ count: Int) {
        bytes = UnsafeRawBufferPointer(rebasing: bytes[count...])
    }

    /// Returns the buffer to the pool; its bytes must not be read again.
    func giveBack() { ring.giveBack(id) }
}

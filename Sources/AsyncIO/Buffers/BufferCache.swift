/// Buffers of one size that a loop keeps when they are freed, for the next one taken: the storage of
/// its ring sends (``RingSender``) and of its stream readers (``ByteBuffer``), which on a keep-alive
/// connection would otherwise go to `malloc` and back on every request.
///
/// - A send on the ring copies its bytes (the caller's buffer is gone by the time the kernel sends
///   them) and frees the copy when the send completes.
/// - A reader with nothing buffered holds no storage (an idle connection costs none); on epoll a
///   request's bytes arrive in the loop's scratch space and are copied into storage taken for them,
///   given back once the request head is parsed.
///
/// Each was a `posix_memalign` (the 16-byte alignment asked for) and a `free` per request: 0.6 % of
/// `/plaintext`'s CPU on io_uring, and as much on epoll. The buffers kept are bounded (``limit`` of
/// ``size`` bytes a loop: 512 KiB); larger storage, and buffers beyond the limit, go to and from the
/// allocator.
///
/// ### Thread safety
/// Loop-confined: take and give back on the loop's thread only.
final class BufferCache {
    // Its `var`s are `@exclusivity(unchecked)`: the object is loop-confined and no access to them
    // spans a call that could reach them again (each is a load, a store, or a mutation that calls
    // nothing back), so the runtime's checks could not fire.
    /// The size of a kept buffer: what most sends need, what a sender's queue starts with, and a
    /// reader's first storage.
    static let size = 4096
    /// The most buffers kept.
    static let limit = 128

    /// The kept buffers' addresses, a stack of `count`.
    private let kept: UnsafeMutablePointer<UnsafeMutableRawPointer>
    @exclusivity(unchecked) private(set) var count = 0

    init() {
        kept = .allocate(capacity: Self.limit)
    }

    deinit {
        // SAFETY: the first `count` slots hold kept buffers, each owned by the cache alone.
        for index in 0..<count { kept[index].deallocate() }
        kept.deallocate()
    }

    /// Storage for at least `byteCount` bytes: a kept buffer of ``size`` bytes when that is enough,
    /// else a new allocation of `byteCount`. Give it back with ``give(_:)``.
    func take(atLeast byteCount: Int) -> UnsafeMutableRawBufferPointer {
        guard byteCount <= Self.size else {
            return .allocate(byteCount: byteCount, alignment: 1)
        }
        guard count > 0 else {
            return .allocate(byteCount: Self.size, alignment: 1)
        }
        count -= 1
        // SAFETY: `kept[count]` was a kept buffer of `size` bytes, now handed out once.
        return UnsafeMutableRawBufferPointer(start: kept[count], count: Self.size)
    }

    /// Takes back storage from ``take(atLeast:)``: kept when it is of ``size`` bytes and there is room,
    /// else deallocated.
    func give(_ storage: UnsafeMutableRawBufferPointer) {
        guard storage.count == Self.size, count < Self.limit else {
            storage.deallocate()
            return
        }
        // SAFETY: `count < limit`, so slot `count` is inside `kept`; the caller gives up `storage`.
        kept[count] = storage.baseAddress!
        count += 1
    }
}

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
/// `/plaintext`'s CPU on io_uring, and as much on epoll. At most ``limit`` buffers of ``size`` bytes
/// are out or kept at a time (512 KiB a loop); beyond that, and for larger storage, what is asked for
/// goes to and from the allocator, as before.
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
    /// Buffers of ``size`` bytes handed out and not given back yet.
    @exclusivity(unchecked) private(set) var outstanding = 0

    init() {
        kept = .allocate(capacity: Self.limit)
    }

    deinit {
        // SAFETY: the first `count` slots hold kept buffers, each owned by the cache alone.
        for index in 0..<count { kept[index].deallocate() }
        kept.deallocate()
    }

    /// Storage for at least `byteCount` bytes: a kept buffer of ``size`` bytes when that is enough and
    /// one is kept, a new one of ``size`` bytes while fewer than ``limit`` of them are out, else a new
    /// allocation of `byteCount`. Give it back with ``give(_:)``.
    ///
    /// The last case keeps the working set small under many sends at once (1,000 connections): a 64-byte
    /// send then takes 64 bytes, not a page of its own.
    func take(atLeast byteCount: Int) -> UnsafeMutableRawBufferPointer {
        guard byteCount <= Self.size else {
            return .allocate(byteCount: byteCount, alignment: 1)
        }
        if count > 0 {
            count -= 1
            outstanding += 1
            // SAFETY: `kept[count]` was a kept buffer of `size` bytes, now handed out once.
            return UnsafeMutableRawBufferPointer(start: kept[count], count: Self.size)
        }
        let length = outstanding < Self.limit ? Self.size : byteCount
        if length == Self.size { outstanding += 1 }
        return .allocate(byteCount: length, alignment: 1)
    }

    /// Takes back storage from ``take(atLeast:)``: kept when it is of ``size`` bytes and there is room,
    /// else deallocated.
    func give(_ storage: UnsafeMutableRawBufferPointer) {
        guard storage.count == Self.size else {
            storage.deallocate()
            return
        }
        if outstanding > 0 { outstanding -= 1 }
        guard count < Self.limit else {
            storage.deallocate()
            return
        }
        // SAFETY: `count < limit`, so slot `count` is inside `kept`; the caller gives up `storage`.
        kept[count] = storage.baseAddress!
        count += 1
    }
}

/// Storage taken from a ``BufferCache``, on its way back to the cache's loop from another thread (a
/// reader released there).
///
/// ### Thread safety
/// Handed over once: made on one thread, used on the loop's.
final class CachedStorage: @unchecked Sendable {
    let storage: UnsafeMutableRawBufferPointer
    private let cache: BufferCache

    init(_ storage: UnsafeMutableRawBufferPointer, _ cache: BufferCache) {
        self.storage = storage
        self.cache = cache
    }

    /// Gives the storage back to its cache (on the cache's loop).
    func giveBack() { cache.give(storage) }
}

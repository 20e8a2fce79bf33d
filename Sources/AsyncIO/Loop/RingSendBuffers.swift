/// The storage of a loop's ``RingSender``s: buffers of one size, kept for the next send when one
/// completes instead of going back to `malloc`.
///
/// Every send on the ring takes a copy of its bytes (the caller's buffer is gone by the time the kernel
/// sends them), so each request of a keep-alive connection allocated one buffer and freed it at its
/// completion: `malloc`, `posix_memalign` for the alignment asked for, and `free` were 0.6 % of
/// `/plaintext`'s CPU. The buffers kept are bounded (``limit`` of ``size`` bytes a loop: 512 KiB);
/// larger sends, and buffers beyond the limit, go to and from the allocator as before.
///
/// ### Thread safety
/// Loop-confined, like the senders that use it.
final class RingSendBuffers {
    // Its `var`s are `@exclusivity(unchecked)`: the object is loop-confined and no access to them
    // spans a call that could reach them again (each is a load, a store, or a mutation that calls
    // nothing back), so the runtime's checks could not fire.
    /// The size of a pooled buffer: what most sends need, and what a sender's queue starts with.
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
        kept[count] = storage.baseAddress!
        count += 1
    }
}

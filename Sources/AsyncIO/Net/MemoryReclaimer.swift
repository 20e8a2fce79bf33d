import AsyncIOSystem

/// Gives freed memory back to the system after a wave of connections ends.
///
/// A server with thousands of connections frees their buffers as they close, but the allocator keeps
/// the pages for reuse (and, fragmented, cannot return them by itself): `aio serve` stayed at 221 MB
/// after 2,000 slow readers left. A server reports its open connection count as connections close;
/// once the count falls to a quarter of its peak, and the peak was large enough to matter, the free
/// pages are returned (``SystemMemory/releaseFreePages()``), at most once per wave.
public struct MemoryReclaimer: Sendable {
    /// Peaks below this many connections are not worth a trim.
    public let minimumPeak: Int
    private var peak = 0

    /// A reclaimer for waves of at least `minimumPeak` connections (256 by default).
    public init(minimumPeak: Int = 256) { self.minimumPeak = minimumPeak }

    /// Records that `count` connections are open after one opened.
    public mutating func opened(count: Int) { peak = max(peak, count) }

    /// Records that `count` connections are open after one closed; returns whether memory was
    /// returned to the system now.
    @discardableResult
    public mutating func closed(count: Int) -> Bool {
        guard peak >= minimumPeak, count <= peak / 4 else { return false }
        peak = count
        SystemMemory.releaseFreePages()
        return true
    }
}

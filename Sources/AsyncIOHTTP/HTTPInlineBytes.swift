/// A copy of up to 32 bytes kept in place, for the parser to tell whether a request repeats its
/// connection's last target or `Host` value: a comparison with these words is a few loads, where one
/// with a `String` of up to 15 bytes (kept inline in the string itself) first copied it out to the
/// stack, about 90 instructions each.
struct HTTPInlineBytes: Sendable {
    /// The capacity.
    static let capacity = 32
    private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    /// How many bytes are held; -1 when none are (nothing set yet, or the last set was too long).
    private var count = -1

    init() {}

    /// Holds `bytes`, or nothing when they are more than ``capacity``.
    mutating func set(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count <= Self.capacity else {
            count = -1
            return
        }
        // SAFETY: the destination is this value's four words (32 bytes), and `bytes.count <= 32`.
        withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: bytes) }
        count = bytes.count
    }

    /// Whether the bytes held are `bytes`; nil when nothing is held (the caller compares another way).
    func holds(_ bytes: UnsafeRawBufferPointer) -> Bool? {
        guard count >= 0 else { return nil }
        guard bytes.count == count else { return false }
        // SAFETY: the pointer is to a copy of the four words, read only within the closure, and
        // `count <= 32` of its bytes.
        return withUnsafeBytes(of: words) { HTTPParser.equal(UnsafeRawBufferPointer(rebasing: $0[..<count]), bytes) }
    }
}

/// A value the parser keeps from the last message (the request's target, the `Host` field's value), to
/// tell whether the next message repeats it: a keep-alive client sends the same ones again, and equal
/// bytes are neither decoded nor validated twice.
///
/// Up to 32 bytes are also kept in place, as four words: a repeat is then found with a few loads,
/// where a comparison with a `String` of up to 15 bytes (kept inline in the string itself) first copied
/// it out to the stack, about 90 instructions each. Longer values are compared with the string.
struct HTTPKeptValue: Sendable {
    /// How many bytes are also kept in place.
    static let inlineCapacity = 32
    /// The value, decoded ("" until one is kept).
    private(set) var string = ""
    /// The value's first byte (0 until one is kept): for a target, its form.
    private(set) var firstByte: UInt8 = 0
    private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    /// How many bytes `words` holds; -1 when none are kept, or the value is longer than
    /// ``inlineCapacity``.
    private var inlineCount = -1
    /// Whether a value is kept: an empty one is a value.
    private var isKept = false

    /// Keeps `bytes`.
    mutating func keep(_ bytes: UnsafeRawBufferPointer) {
        string = String(decoding: bytes, as: UTF8.self)
        firstByte = bytes.first ?? 0
        isKept = true
        guard bytes.count <= Self.inlineCapacity else {
            inlineCount = -1
            return
        }
        // SAFETY: the destination is this value's four words (32 bytes), and `bytes.count <= 32`.
        withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: bytes) }
        inlineCount = bytes.count
    }

    /// Whether the value kept is `bytes` (false when none is).
    func holds(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard inlineCount >= 0 else { return isKept && stringHolds(bytes) }
        guard bytes.count == inlineCount else { return false }
        // SAFETY: the pointer is to a copy of the four words, read only within the closure, and
        // `inlineCount <= 32` of its bytes.
        return withUnsafeBytes(of: words) { HTTPParser.equal(UnsafeRawBufferPointer(rebasing: $0[..<inlineCount]), bytes) }
    }

    /// Whether `string`'s UTF-8 is `bytes`: for a value longer than the in-place copy. Out of line, so
    /// that the usual comparison stays a few instructions. (Bytes that are not UTF-8 were decoded with
    /// replacements, so they are never held: decoded again, not mistaken. A parsed target or host is
    /// ASCII.)
    @inline(never)
    private func stringHolds(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard string.utf8.count == bytes.count else { return false }
        return string.utf8.withContiguousStorageIfAvailable { HTTPParser.equal(UnsafeRawBufferPointer($0), bytes) } == true
    }
}

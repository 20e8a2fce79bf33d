/// The parser's scans for the first byte of a class, eight bytes at a time: each word is tested with
/// a few integer operations (the "has a zero byte" test), and only a word that holds a match is looked
/// at byte by byte. A head is mostly long runs of ordinary bytes (targets, field values), which a scan
/// a byte at a time walked with two or three comparisons and a bounds check each.
///
/// Each mask below has the high bit of a byte set where that byte matches. A mask may also set bits
/// *above* (more significant than) its lowest true match, from the subtraction's borrow, but never
/// below it: the lowest set bit is exact, which is all a search for the first match reads. The words
/// are loaded little-endian, so the lowest byte of a word is the first in memory.
enum HTTPByteScan {
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highs: UInt64 = 0x8080_8080_8080_8080

    /// The high bit of each byte of `word` below `bound` (at most 0x80): exact for the lowest one.
    @inline(__always)
    private static func bytes(of word: UInt64, below bound: UInt8) -> UInt64 {
        (word &- ones &* UInt64(bound)) & ~word & highs
    }

    /// The high bit of each byte of `word` equal to `byte`: exact for the lowest one.
    @inline(__always)
    private static func bytes(of word: UInt64, equalTo byte: UInt8) -> UInt64 {
        bytes(of: word ^ (ones &* UInt64(byte)), below: 1)
    }

    /// The index of the first of `input`'s bytes in `index..<end` that `matches` flags in a word;
    /// `end` if there is none. The last few bytes (fewer than eight) are decided by `isMatch` one at a
    /// time, or, with `wordTail`, read in the word that ends at `end`, shifted down past the bytes
    /// before `index` (zeros come in above, at `end` and after: a match there, or a borrow into there,
    /// reads as `end`) when `input` has eight bytes before `end`. The word is cheaper for a field
    /// value, whose end is rarely a word's; a line break scan mostly stops inside a word, and its
    /// code is kept small enough to be inlined.
    @inline(__always)
    private static func first(
        in input: UnsafeRawBufferPointer, from index: Int, upTo end: Int, wordTail: Bool = false,
        _ matches: (UInt64) -> UInt64, _ isMatch: (UInt8) -> Bool
    ) -> Int {
        var index = index
        while index + 8 <= end {
            // SAFETY: `index + 8 <= end <= input.count`: the eight bytes are inside `input`.
            let word = UInt64(littleEndian: input.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            let found = matches(word)
            if found != 0 { return index + found.trailingZeroBitCount / 8 }
            index += 8
        }
        if wordTail && index < end && end >= 8 {
            // SAFETY: `0 <= end - 8` and `end <= input.count`: the eight bytes are inside `input`.
            let word = UInt64(littleEndian: input.loadUnaligned(fromByteOffset: end - 8, as: UInt64.self))
            let skipped = index - (end - 8)  // 1...7 bytes before `index`, not to be matched
            let found = matches(word >> UInt64(skipped * 8))
            return found != 0 ? min(index + found.trailingZeroBitCount / 8, end) : end
        }
        while index < end && !isMatch(input[index]) { index += 1 }
        return index
    }

    /// The index of the first CR or LF of `input` at or after `index`, or `input.count`.
    @inline(__always)
    static func firstLineBreak(in input: UnsafeRawBufferPointer, from index: Int) -> Int {
        first(in: input, from: index, upTo: input.count,
              { bytes(of: $0, equalTo: CR) | bytes(of: $0, equalTo: LF) },
              { $0 == CR || $0 == LF })
    }

    /// The index of the first byte of `input[index..<end]` that cannot be in a request target (a
    /// control byte, SP, DEL or a byte above 0x7F), or `end`. The target ends at the first SP; any
    /// other such byte is an error.
    @inline(__always)
    static func firstNonTargetByte(in input: UnsafeRawBufferPointer, from index: Int, upTo end: Int) -> Int {
        first(in: input, from: index, upTo: end, wordTail: true,
              { bytes(of: $0, below: 0x21) | ($0 & highs) | bytes(of: $0, equalTo: 0x7F) },
              { !($0 > 0x20 && $0 < 0x7F) })
    }

    /// The index of the first byte of `input[index..<end]` that cannot be in a field value (a control
    /// byte other than HTAB, or DEL), or nil. A word with an HTAB is looked at byte by byte.
    @inline(__always)
    static func firstInvalidFieldValueByte(in input: UnsafeRawBufferPointer, from index: Int, upTo end: Int) -> Int? {
        var index = first(in: input, from: index, upTo: end, wordTail: true,
                          { bytes(of: $0, below: 0x20) | bytes(of: $0, equalTo: 0x7F) },
                          { !isFieldValueByte($0) })
        // A flagged byte may be an HTAB, which a value may hold: go on from the next one.
        while index < end {
            if !isFieldValueByte(input[index]) { return index }
            index = first(in: input, from: index + 1, upTo: end,
                          { bytes(of: $0, below: 0x20) | bytes(of: $0, equalTo: 0x7F) },
                          { !isFieldValueByte($0) })
        }
        return nil
    }
}

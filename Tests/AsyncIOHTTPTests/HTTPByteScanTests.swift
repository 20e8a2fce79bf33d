@testable import AsyncIOHTTP
import Testing

/// The word-at-a-time scans against the byte-at-a-time definitions they replace.
@Suite("HTTP parser: word-at-a-time scans")
struct HTTPByteScanTests {
    // The definitions, a byte at a time.
    static func firstLineBreak(_ bytes: [UInt8], from start: Int) -> Int {
        bytes[start...].firstIndex { $0 == CR || $0 == LF } ?? bytes.count
    }

    static func firstNonTargetByte(_ bytes: [UInt8], from start: Int, upTo end: Int) -> Int {
        bytes[start..<end].firstIndex { !($0 > 0x20 && $0 < 0x7F) } ?? end
    }

    static func firstInvalidFieldValueByte(_ bytes: [UInt8], from start: Int, upTo end: Int) -> Int? {
        bytes[start..<end].firstIndex { !isFieldValueByte($0) }
    }

    /// Checks the three scans on `bytes` from `start` to `end` against their definitions.
    static func check(_ bytes: [UInt8], from start: Int, upTo end: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        bytes.withUnsafeBytes { raw in
            // The line scan runs to the end of its input: give it the slice's end as the input's.
            let line = UnsafeRawBufferPointer(rebasing: raw[0..<end])
            #expect(HTTPByteScan.firstLineBreak(in: line, from: start) == firstLineBreak(Array(bytes[0..<end]), from: start),
                    "line break in \(bytes) from \(start) to \(end)", sourceLocation: sourceLocation)
            #expect(HTTPByteScan.firstNonTargetByte(in: raw, from: start, upTo: end) == firstNonTargetByte(bytes, from: start, upTo: end),
                    "target byte in \(bytes) from \(start) to \(end)", sourceLocation: sourceLocation)
            #expect(HTTPByteScan.firstInvalidFieldValueByte(in: raw, from: start, upTo: end)
                        == firstInvalidFieldValueByte(bytes, from: start, upTo: end),
                    "field value byte in \(bytes) from \(start) to \(end)", sourceLocation: sourceLocation)
        }
    }

    /// Every byte value at every position of the first three words of a run of ordinary bytes, alone
    /// and followed by each byte that borrows in the word tests (0x00, 0x01, 0x0D, 0x7F, 0xFF): a
    /// match is found where it is, and a borrow from one byte never reports a match in another.
    @Test func everyByteAtEveryPositionAgreesWithTheDefinitions() {
        for value in 0...255 {
            for position in 0..<24 {
                for follower: UInt8? in [nil, 0x00, 0x01, 0x0D, 0x7F, 0xFF] {
                    var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 27)
                    bytes[position] = UInt8(value)
                    if let follower { bytes[position + 1] = follower }
                    Self.check(bytes, from: 0, upTo: bytes.count)
                    Self.check(bytes, from: 3, upTo: bytes.count - 2)
                }
            }
        }
    }

    /// Random bytes, mostly ordinary with the classes' edges mixed in, at random offsets and lengths
    /// (a failure's message shows its input).
    @Test func randomInputsAgreeWithTheDefinitions() {
        var generator = SystemRandomNumberGenerator()
        let edges: [UInt8] = [0x00, 0x09, 0x0A, 0x0D, 0x1F, 0x20, 0x21, 0x7E, 0x7F, 0x80, 0xFF]
        for _ in 0..<20_000 {
            let count = Int.random(in: 0...40, using: &generator)
            let bytes = (0..<count).map { _ in
                Int.random(in: 0..<8, using: &generator) == 0
                    ? edges.randomElement(using: &generator)!
                    : UInt8.random(in: 0x21...0x7E, using: &generator)
            }
            let start = Int.random(in: 0...count, using: &generator)
            let end = Int.random(in: start...count, using: &generator)
            Self.check(bytes, from: start, upTo: end)
        }
    }

    /// The token test's two masks hold exactly RFC 9110's `tchar`s, for all 256 bytes.
    @Test func tokenBytesAreExactlyTheRFCs() {
        let tchar = Set("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
        #expect(tchar.count == 77)
        for byte in UInt8.min...UInt8.max {
            #expect(isTokenByte(byte) == tchar.contains(byte), "byte \(byte)")
        }
    }

    /// The parser's comparison of bytes, and the values it keeps of the last target and host: for
    /// every length up to past the in-place copy's capacity (longer ones compare with the string),
    /// equal bytes are equal, and a difference in any one byte (first, last, or in the overlap of the
    /// last word) is found; nothing is held before a value is kept, and an empty value is a value.
    @Test func comparisonsFindADifferenceInAnyByte() {
        for count in 0...40 {
            // Printable ASCII, as targets and hosts are (bytes that are not UTF-8 would be decoded with
            // replacements, and a long value then never held: decoded again, not mistaken).
            let bytes = (0..<count).map { UInt8(0x21 + ($0 * 7) % 94) }
            var kept = HTTPKeptValue()
            #expect(!bytes.withUnsafeBytes { kept.holds($0) }, "nothing is held before a value is kept")
            bytes.withUnsafeBytes { kept.keep($0) }
            #expect(bytes.withUnsafeBytes { kept.holds($0) }, "\(count) bytes")
            #expect(kept.string == String(decoding: bytes, as: UTF8.self))
            #expect(kept.firstByte == (bytes.first ?? 0))
            bytes.withUnsafeBytes { a in
                let copy = bytes
                copy.withUnsafeBytes { b in #expect(HTTPParser.equal(a, b), "\(count) bytes") }
            }
            for position in 0..<count {
                var other = bytes
                other[position] = other[position] == 0x21 ? 0x22 : 0x21
                other.withUnsafeBytes { changed in
                    bytes.withUnsafeBytes { #expect(!HTTPParser.equal($0, changed), "\(count) bytes, at \(position)") }
                    #expect(!kept.holds(changed), "\(count) bytes, at \(position)")
                }
            }
            // One byte more or less is not the same bytes.
            (bytes + [0x41]).withUnsafeBytes { #expect(!kept.holds($0), "\(count) bytes and one more") }
            if count > 0 { bytes.dropLast().withUnsafeBytes { #expect(!kept.holds($0), "\(count) bytes but one") } }
        }
    }
}

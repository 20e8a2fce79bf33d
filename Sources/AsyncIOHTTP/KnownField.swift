import HTTPTypes

/// Fields the parser acts on, and common names it can build without allocating.
///
/// A name is recognized by its length and then by its bytes, eight at a time, with ASCII letters
/// folded to lowercase by setting bit 0x20 of every byte: one or three integer comparisons, where a
/// comparison a byte at a time through `equalsLowercase` was 1.2 % of `/plaintext`'s CPU for its one
/// field. The fold is exact for what it compares: a field name is a token (``isTokenByte(_:)``, checked
/// before the look-up), and the known names are lowercase letters and `-`. Setting the bit maps only a
/// letter's two cases to a lowercase letter, and only `-` and CR to `-`, and a token holds no CR.
enum KnownField {
    case host, contentLength, transferEncoding, connection, expect, other

    /// The known field `name` (a token) is, and its `HTTPField.Name` when it is a common one.
    static func lookUp(_ name: UnsafeRawBufferPointer) -> (HTTPField.Name?, KnownField) {
        switch name.count {
        case 4:
            if word(name, 0) == 0x0000_0000_7473_6F68 { return (nil, .host) }  // "host"
        case 6:
            switch word(name, 0) {
            case 0x0000_7470_6563_6361: return (.accept, .other)  // "accept"
            case 0x0000_7463_6570_7865: return (.expect, .expect)  // "expect"
            case 0x0000_6569_6B6F_6F63: return (.cookie, .other)  // "cookie"
            default: break
            }
        case 10:
            switch (word(name, 0), word(name, 8)) {
            case (0x6974_6365_6E6E_6F63, 0x6E6F): return (.connection, .connection)  // "connecti" "on"
            case (0x6567_612D_7265_7375, 0x746E): return (.userAgent, .other)  // "user-age" "nt"
            default: break
            }
        case 12:
            // "content-" "type"
            if word(name, 0) == 0x2D74_6E65_746E_6F63 && word(name, 8) == 0x6570_7974 { return (.contentType, .other) }
        case 14:
            // "content-" "length"
            if word(name, 0) == 0x2D74_6E65_746E_6F63 && word(name, 8) == 0x6874_676E_656C {
                return (.contentLength, .contentLength)
            }
        case 15:
            switch (word(name, 0), word(name, 8)) {
            case (0x652D_7470_6563_6361, 0x0067_6E69_646F_636E): return (.acceptEncoding, .other)  // "accept-e" "ncoding"
            case (0x6C2D_7470_6563_6361, 0x0065_6761_7567_6E61): return (.acceptLanguage, .other)  // "accept-l" "anguage"
            default: break
            }
        case 17:
            // "transfer" "-encodin" "g"
            if word(name, 0) == 0x7265_6673_6E61_7274 && word(name, 8) == 0x6E69_646F_636E_652D && word(name, 16) == 0x67 {
                return (.transferEncoding, .transferEncoding)
            }
        default:
            break
        }
        return (nil, .other)
    }

    /// Bytes `offset..<offset + 8` of `name` (those there are: the rest are zero) as a little-endian
    /// word, each with bit 0x20 set.
    @inline(__always)
    static func word(_ name: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
        let count = min(8, name.count - offset)
        if count == 8 {
            // SAFETY: `offset + 8 <= name.count`: the eight bytes are inside `name`.
            return UInt64(littleEndian: name.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) | 0x2020_2020_2020_2020
        }
        var word: UInt64 = 0
        for index in 0..<count { word |= UInt64(name[offset + index] | 0x20) << (8 * index) }
        return word
    }
}

@testable import AsyncIOHTTP
import HTTPTypes
import Testing

/// The word-at-a-time look-up of the fields the parser acts on, against its definition: a token whose
/// lowercase form is one of the names.
@Suite struct KnownFieldTests {
    static let names: [(String, KnownField, HTTPField.Name?)] = [
        ("host", .host, nil), ("accept", .other, .accept), ("expect", .expect, .expect), ("cookie", .other, .cookie),
        ("connection", .connection, .connection), ("user-agent", .other, .userAgent),
        ("content-type", .other, .contentType), ("content-length", .contentLength, .contentLength),
        ("accept-encoding", .other, .acceptEncoding), ("accept-language", .other, .acceptLanguage),
        ("transfer-encoding", .transferEncoding, .transferEncoding),
    ]

    static func lookUp(_ bytes: [UInt8]) -> (HTTPField.Name?, KnownField) {
        bytes.withUnsafeBytes { KnownField.lookUp($0) }
    }

    /// The definition: the name whose lowercase form the token is, if any.
    static func expected(_ bytes: [UInt8]) -> (String, KnownField, HTTPField.Name?)? {
        let lowered = String(decoding: bytes.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
        return names.first { $0.0 == lowered }
    }

    static func check(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        let (name, known) = lookUp(bytes)
        let want = expected(bytes)
        #expect(known == (want?.1 ?? .other), "\(String(decoding: bytes, as: UTF8.self))", sourceLocation: sourceLocation)
        #expect(name == want?.2, "\(String(decoding: bytes, as: UTF8.self))", sourceLocation: sourceLocation)
    }

    static let tokenBytes: [UInt8] = (0...255).map(UInt8.init).filter(isTokenByte)

    /// Every name in every case at each byte, and every name with any one byte replaced by any other
    /// token byte: found exactly when the definition finds it.
    @Test func everyOneByteChangeOfEveryNameAgreesWithTheDefinition() {
        for (name, _, _) in Self.names {
            let bytes = Array(name.utf8)
            Self.check(bytes)
            Self.check(Array(name.uppercased().utf8))
            for index in bytes.indices {
                for replacement in Self.tokenBytes {
                    var changed = bytes
                    changed[index] = replacement
                    Self.check(changed)
                }
            }
        }
    }

    @Test func otherLengthsAndOtherNamesAreNotKnown() {
        for text in ["", "h", "hos", "hostt", "Content-Lengths", "x-host", "Accept-Charset", "Transfer-Encodings", "Keep-Alive"] {
            Self.check(Array(text.utf8))
            #expect(Self.lookUp(Array(text.utf8)).1 == .other)
        }
    }
}

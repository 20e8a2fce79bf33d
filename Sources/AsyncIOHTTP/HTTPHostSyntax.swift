/// The syntax of a `Host` field value (RFC 9112 §3.2, RFC 3986 §3.2.2–3.2.3): `uri-host [":" port]`,
/// where `uri-host` is a reg-name (unreserved characters, percent-encodings and sub-delims, which also
/// covers IPv4 addresses), or an IP literal in brackets; the port is decimal, at most 65535. An empty
/// value is allowed (a target URI without an authority).
enum HTTPHostSyntax {
    /// Whether `value` is a valid `Host` field value.
    static func isValid(_ value: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        let count = value.count
        if count == 0 { return true }
        if value[0] == UInt8(ascii: "[") {
            guard let close = value.firstIndex(of: UInt8(ascii: "]")), isIPLiteral(value, from: 1, to: close) else { return false }
            index = close + 1
        } else {
            while index < count && value[index] != UInt8(ascii: ":") {
                let byte = value[index]
                if byte == UInt8(ascii: "%") {
                    guard index + 2 < count, isHexDigit(value[index + 1]), isHexDigit(value[index + 2]) else { return false }
                    index += 3
                    continue
                }
                guard isUnreserved(byte) || isSubDelimiter(byte) else { return false }
                index += 1
            }
        }
        if index == count { return true }
        guard value[index] == UInt8(ascii: ":") else { return false }
        return isPort(value, from: index + 1)
    }

    /// `IPv6address` (hex digits, colons, and dots for an embedded IPv4 address, at least one colon) or
    /// `IPvFuture` ("v" HEXDIG+ "." ( unreserved / sub-delims / ":" )+), between `from` and `to`.
    private static func isIPLiteral(_ value: UnsafeRawBufferPointer, from: Int, to: Int) -> Bool {
        guard from < to else { return false }
        if value[from] == UInt8(ascii: "v") || value[from] == UInt8(ascii: "V") {
            var index = from + 1
            let hexStart = index
            while index < to && isHexDigit(value[index]) { index += 1 }
            guard index > hexStart, index < to, value[index] == UInt8(ascii: ".") else { return false }
            index += 1
            guard index < to else { return false }
            for position in index..<to {
                let byte = value[position]
                guard isUnreserved(byte) || isSubDelimiter(byte) || byte == UInt8(ascii: ":") else { return false }
            }
            return true
        }
        var colons = 0
        for position in from..<to {
            let byte = value[position]
            if byte == UInt8(ascii: ":") { colons += 1; continue }
            guard isHexDigit(byte) || byte == UInt8(ascii: ".") else { return false }
        }
        return colons >= 2
    }

    private static func isPort(_ value: UnsafeRawBufferPointer, from: Int) -> Bool {
        guard from < value.count, value.count - from <= 5 else { return from == value.count }  // "host:" is allowed
        var port = 0
        for position in from..<value.count {
            let byte = value[position]
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return false }
            port = port * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return port <= 65535
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "f"))
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "~")
    }

    private static func isSubDelimiter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="):
            true
        default:
            false
        }
    }
}

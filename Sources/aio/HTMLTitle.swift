/// The text inside an HTML document's `<title>…</title>`.
enum HTMLTitle {
    static func extract(from body: [UInt8]) -> String? {
        guard let open = find(Array("<title".utf8), in: body, from: 0) else { return nil }
        guard let tagEnd = body[open...].firstIndex(of: UInt8(ascii: ">")) else { return nil }
        guard let close = find(Array("</title".utf8), in: body, from: tagEnd + 1) else { return nil }
        let raw = String(decoding: body[(tagEnd + 1)..<close], as: UTF8.self)
        return decodeEntities(raw).split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// The first case-insensitive occurrence of ASCII `needle` (lowercase) at or after `start`.
    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var index = start
        while index + needle.count <= haystack.count {
            var match = true
            for offset in 0..<needle.count {
                let byte = haystack[index + offset]
                if (byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte) != needle[offset] { match = false; break }
            }
            if match { return index }
            index += 1
        }
        return nil
    }

    /// `text` with its HTML character references decoded (`&amp;`, `&#39;`, `&#x2014;`, and the named
    /// ones titles use), in one pass, so `&amp;lt;` stays `&lt;`. Unknown or malformed references stay as
    /// they are, as browsers leave them.
    static func decodeEntities(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var out = ""
        var rest = Substring(text)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            rest = rest[amp...]
            guard let semicolon = rest.prefix(12).firstIndex(of: ";") else {
                out.append("&")
                rest = rest.dropFirst()
                continue
            }
            let name = rest[rest.index(after: rest.startIndex)..<semicolon]
            if let decoded = decodeReference(name) {
                out += decoded
                rest = rest[rest.index(after: semicolon)...]
            } else {
                out.append("&")
                rest = rest.dropFirst()
            }
        }
        return out + rest
    }

    /// One reference without its `&` and `;`: `#39`, `#x2014`, or a name.
    private static func decodeReference(_ name: Substring) -> String? {
        if name.hasPrefix("#") {
            let digits = name.dropFirst()
            let value = digits.first == "x" || digits.first == "X"
                ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits, radix: 10)
            // NUL, surrogates and values past Unicode decode to U+FFFD, as HTML says.
            guard let value else { return nil }
            if value == 0 { return "\u{FFFD}" }
            return String(Unicode.Scalar(value).map(Character.init) ?? "\u{FFFD}")
        }
        return namedReferences[String(name)]
    }

    /// The named references found in page titles (the whole HTML table has 2,231).
    private static let namedReferences: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{A0}", "copy": "©", "reg": "®",
        "trade": "™", "mdash": "—", "ndash": "–", "hellip": "…", "laquo": "«", "raquo": "»", "lsquo": "‘",
        "rsquo": "’", "ldquo": "“", "rdquo": "”", "bull": "•", "middot": "·", "euro": "€", "pound": "£",
        "yen": "¥", "cent": "¢", "sect": "§", "deg": "°", "times": "×", "divide": "÷", "para": "¶",
        "eacute": "é", "egrave": "è", "agrave": "à", "aacute": "á", "ccedil": "ç", "ouml": "ö", "uuml": "ü",
        "auml": "ä", "szlig": "ß", "ntilde": "ñ", "oacute": "ó", "iacute": "í", "uacute": "ú",
    ]
}

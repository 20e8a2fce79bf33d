/// An `http://` (or `https://`) URL split into what a request needs: scheme, host, port and target.
public struct HTTPURL: Hashable, Sendable, CustomStringConvertible {
    /// `http` or `https`, lowercased.
    public let scheme: String
    /// The host name or address (IPv6 without brackets).
    public let host: String
    /// The port (80 or 443 unless given).
    public let port: UInt16
    /// The path and query (`/` at least); the fragment is dropped.
    public let target: String
    /// The `Host` field: the host, with the port unless it is the scheme's default.
    public let authority: String
    /// Credentials from `user:password@` in the URL, sent as `Authorization: Basic`; never part of
    /// ``authority`` or ``description``.
    public private(set) var credentials: HTTPBasicCredentials?

    /// Parses an absolute URL.
    ///
    /// - Throws: ``HTTPClientError`` `.badURL` for anything that is not `scheme://host[:port][/path][?query]`.
    public init(_ string: String) throws {
        let text = string.trimmingASCIIWhitespace()
        guard let schemeEnd = text.firstRange(of: "://") else {
            throw HTTPClientError(.badURL, url: string, "no scheme (it must start with http://)")
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else {
            throw HTTPClientError(.badURL, url: string, "unsupported scheme \"\(scheme)\" (only http:// and https://)")
        }
        var rest = text[schemeEnd.upperBound...]
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        var authorityText = rest[..<authorityEnd]
        var target = String(rest[authorityEnd...])
        if target.isEmpty || target.hasPrefix("?") { target = "/" + target }
        var credentials: HTTPBasicCredentials?
        if let at = authorityText.lastIndex(of: "@") {
            // `user:password@host` (RFC 3986 §3.2.1): sent as Basic credentials, never on the wire as is.
            let userinfo = authorityText[..<at]
            let colon = userinfo.firstIndex(of: ":") ?? userinfo.endIndex
            credentials = HTTPBasicCredentials(
                user: PercentDecoding.decode(userinfo[..<colon]),
                password: colon == userinfo.endIndex ? "" : PercentDecoding.decode(userinfo[userinfo.index(after: colon)...]))
            authorityText = authorityText[authorityText.index(after: at)...]
        }
        var host: Substring
        var portText: Substring?
        if authorityText.hasPrefix("[") {
            guard let close = authorityText.firstIndex(of: "]") else {
                throw HTTPClientError(.badURL, url: string, "unterminated IPv6 address")
            }
            host = authorityText[authorityText.index(after: authorityText.startIndex)..<close]
            let after = authorityText[authorityText.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw HTTPClientError(.badURL, url: string, "bad text after the IPv6 address") }
                portText = after.dropFirst()
            }
        } else if let colon = authorityText.lastIndex(of: ":") {
            host = authorityText[..<colon]
            portText = authorityText[authorityText.index(after: colon)...]
        } else {
            host = authorityText
        }
        guard !host.isEmpty, host.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            throw HTTPClientError(.badURL, url: string, "no valid host")
        }
        var port: UInt16 = scheme == "https" ? 443 : 80
        if let portText {
            guard let parsed = UInt16(portText), parsed > 0 else {
                throw HTTPClientError(.badURL, url: string, "invalid port \"\(portText)\"")
            }
            port = parsed
        }
        guard target.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw HTTPClientError(.badURL, url: string, "spaces or control characters in the path")
        }
        self.credentials = credentials
        self.scheme = scheme
        self.host = String(host).lowercased()
        self.port = port
        self.target = target
        let name = self.host.contains(":") ? "[\(self.host)]" : self.host
        authority = port == (scheme == "https" ? 443 : 80) ? name : "\(name):\(port)"
    }

    public var description: String { "\(scheme)://\(authority)\(target)" }

    /// Resolves a `Location` value against this URL (RFC 3986 §5.2): an absolute URL, a network-path
    /// reference (`//host/path`), an absolute path, a query, or a relative path, with dot segments
    /// (`.`, `..`) removed; a fragment is dropped. A `://` inside a query (`/login?next=https://...`) is
    /// not a scheme.
    public func resolving(_ reference: String) throws -> HTTPURL {
        var text = reference.trimmingASCIIWhitespace()
        if let hash = text.firstIndex(of: "#") { text = text[..<hash] }
        if Self.hasScheme(text) { return try HTTPURL(String(text)) }
        if text.hasPrefix("//") { return try HTTPURL("\(scheme):\(text)") }
        let (basePath, baseQuery) = Self.splitQuery(target[...])
        let (referencePath, referenceQuery) = Self.splitQuery(text)
        let path: String
        var query = referenceQuery
        if referencePath.isEmpty {
            path = String(basePath)
            if query == nil { query = baseQuery }
        } else if referencePath.hasPrefix("/") {
            path = Self.removingDotSegments(String(referencePath))
        } else {
            let directory = basePath[...(basePath.lastIndex(of: "/") ?? basePath.startIndex)]
            path = Self.removingDotSegments(String(directory) + referencePath)
        }
        return try HTTPURL("\(scheme)://\(authority)\(path)\(query.map { "?\($0)" } ?? "")")
    }

    /// Whether `text` starts with `scheme ":"` (RFC 3986 §3.1: a letter, then letters, digits, `+`, `-`,
    /// `.`), before any `/`, `?` or `#`.
    private static func hasScheme(_ text: Substring) -> Bool {
        guard let first = text.first, first.isASCII, first.isLetter else { return false }
        for character in text.dropFirst() {
            if character == ":" { return true }
            guard character.isASCII, character.isLetter || character.isNumber || "+-.".contains(character) else { return false }
        }
        return false
    }

    /// The path and the query (without its `?`), if any.
    private static func splitQuery(_ text: Substring) -> (path: Substring, query: Substring?) {
        guard let mark = text.firstIndex(of: "?") else { return (text, nil) }
        return (text[..<mark], text[text.index(after: mark)...])
    }

    /// RFC 3986 §5.2.4 for an absolute path: `.` segments go, `..` removes the segment before it (never
    /// above the root).
    static func removingDotSegments(_ path: String) -> String {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        var output: [Substring] = []
        for (index, segment) in segments.enumerated().dropFirst() {
            let isLast = index == segments.count - 1
            switch segment {
            case ".":
                if isLast { output.append("") }
            case "..":
                if !output.isEmpty { output.removeLast() }
                if isLast { output.append("") }
            default:
                output.append(segment)
            }
        }
        return "/" + output.joined(separator: "/")
    }
}

extension String {
    func trimmingASCIIWhitespace() -> Substring {
        var text = self[...]
        while let first = text.first, first == " " || first == "\t" || first == "\n" || first == "\r" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" || last == "\n" || last == "\r" { text = text.dropLast() }
        return text
    }
}

extension HTTPURL {
    /// This URL with `items` appended to its query, each name and value percent-encoded (RFC 3986:
    /// everything but unreserved characters; a space is `%20`).
    public func appendingQuery(_ items: [(name: String, value: String)]) throws -> HTTPURL {
        guard !items.isEmpty else { return self }
        let encoded = items.map { "\(PercentEncoding.encode($0.name))=\(PercentEncoding.encode($0.value))" }
            .joined(separator: "&")
        let separator = target.contains("?") ? (target.hasSuffix("?") || target.hasSuffix("&") ? "" : "&") : "?"
        var url = try HTTPURL("\(scheme)://\(authority)\(target)\(separator)\(encoded)")
        url.credentials = credentials
        return url
    }
}

/// Percent-encoding of URL components (RFC 3986 §2.1).
public enum PercentEncoding {
    /// `text` with every byte outside the unreserved set (`A-Z a-z 0-9 - . _ ~`) as `%XX` (UTF-8).
    public static func encode(_ text: some StringProtocol) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            default:
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension HTTPURL {
    /// Takes `base`'s credentials, for a URL resolved against it on the same host.
    mutating func credentialsFromBase(_ base: HTTPURL) {
        if credentials == nil { credentials = base.credentials }
    }
}

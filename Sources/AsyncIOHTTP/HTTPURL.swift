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
        let authorityText = rest[..<authorityEnd]
        var target = String(rest[authorityEnd...])
        if target.isEmpty || target.hasPrefix("?") { target = "/" + target }
        guard !authorityText.contains("@") else {
            throw HTTPClientError(.badURL, url: string, "user information in URLs is not supported")
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
        self.scheme = scheme
        self.host = String(host).lowercased()
        self.port = port
        self.target = target
        let name = self.host.contains(":") ? "[\(self.host)]" : self.host
        authority = port == (scheme == "https" ? 443 : 80) ? name : "\(name):\(port)"
    }

    public var description: String { "\(scheme)://\(authority)\(target)" }

    /// Resolves a `Location` value (absolute, scheme-relative, absolute-path or relative) against this URL.
    public func resolving(_ reference: String) throws -> HTTPURL {
        if reference.contains("://") { return try HTTPURL(reference) }
        if reference.hasPrefix("//") { return try HTTPURL("\(scheme):\(reference)") }
        if reference.hasPrefix("/") { return try HTTPURL("\(scheme)://\(authority)\(reference)") }
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0]
        if reference.hasPrefix("?") { return try HTTPURL("\(scheme)://\(authority)\(path)\(reference)") }
        let directory = path[...(path.lastIndex(of: "/") ?? path.startIndex)]
        return try HTTPURL("\(scheme)://\(authority)\(directory)\(reference)")
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

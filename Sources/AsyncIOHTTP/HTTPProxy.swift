import AsyncIOSystem

/// An HTTP proxy for ``HTTPClient``: `http://` requests are forwarded through it (absolute-form
/// targets), `https://` ones go through a `CONNECT` tunnel with TLS to the origin inside.
///
/// ```swift
/// var configuration = HTTPClient.Configuration()
/// configuration.proxy = try HTTPProxy("http://user:secret@proxy.internal:3128")
/// ```
public struct HTTPProxy: Sendable, Hashable {
    /// The proxy's URL (`http://[user:password@]host[:port]`); its credentials are sent as
    /// `Proxy-Authorization: Basic`.
    public let url: HTTPURL

    /// A proxy at `url`.
    ///
    /// - Throws: ``HTTPClientError`` `.badURL` for a URL that is not `http://host[:port]`.
    public init(_ url: String) throws {
        let parsed = try HTTPURL(url.contains("://") ? url : "http://" + url)
        guard parsed.scheme == "http" else {
            throw HTTPClientError(.badURL, url: url, "a proxy is reached over http:// (TLS to the origin goes through CONNECT)")
        }
        self.url = parsed
    }

    /// The `Proxy-Authorization` value, when the proxy URL has credentials.
    var authorization: String? { url.credentials?.authorizationValue }

    /// The proxy the environment names for `target` (`http_proxy` / `https_proxy`, lowercase first, as
    /// curl does), unless `no_proxy` excludes its host (a comma list of host names, domains matched with
    /// their subdomains, with or without a leading dot, or `*`). Nil: go direct.
    ///
    /// - Parameter environment: The variables to read; nil reads the process's own.
    public static func fromEnvironment(for target: HTTPURL, environment: [String: String]? = nil) -> HTTPProxy? {
        let read = { (name: String) in environment.map { $0[name] } ?? SystemEnvironment.value(of: name) }
        let names = target.scheme == "https" ? ["https_proxy", "HTTPS_PROXY"] : ["http_proxy", "HTTP_PROXY"]
        guard let value = names.lazy.compactMap(read).first(where: { !$0.isEmpty }) else { return nil }
        if excludes(read("no_proxy") ?? read("NO_PROXY") ?? "", host: target.host) { return nil }
        return try? HTTPProxy(value)
    }

    static func excludes(_ noProxy: String, host: String) -> Bool {
        for entry in noProxy.split(separator: ",") {
            var pattern = entry.trimmingSpaces.lowercased()
            if pattern == "*" { return true }
            if let colon = pattern.lastIndex(of: ":"), !pattern.contains("]") { pattern = String(pattern[..<colon]) }
            if pattern.hasPrefix(".") { pattern.removeFirst() }
            if pattern.isEmpty { continue }
            if host == pattern || host.hasSuffix("." + pattern) { return true }
        }
        return false
    }
}

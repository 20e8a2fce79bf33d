import AsyncIOSystem
import Synchronization

/// The cookies a client received, sent back by the rules of RFC 6265 (aiohttp's `CookieJar`): a
/// cookie without `Domain` goes back to its host only, one with `Domain` to that domain and its
/// subdomains; `Path` limits it to paths under it; `Secure` to `https`; `Expires` and `Max-Age` end it.
///
/// Refused as RFC 6265 says: a `Domain` the request's host is not in (another site), a `Domain` that
/// is a public suffix (`com`, `co.uk`, `github.io`; a built-in list of the common ones, not the whole
/// Public Suffix List), a `Domain` on a request to an IP address, a `Secure` cookie set over plain
/// `http`, and cookies over 4 KiB. At most 50 cookies per domain and 3,000 in all are kept, the least
/// recently set going first.
///
/// ### Thread safety
/// Every member is safe from any thread.
public final class HTTPCookieJar: Sendable {
    struct Cookie: Sendable {
        var name: String
        var value: String
        var domain: String
        var hostOnly: Bool
        var path: String
        var secure: Bool
        var expires: Int64?  // seconds since the epoch
        var created: UInt64  // order of setting, for the sort and eviction
    }

    private let cookies = Mutex<(all: [Cookie], counter: UInt64)>(([], 0))
    static let maxCookieSize = 4096, maxPerDomain = 50, maxTotal = 3000

    /// An empty jar.
    public init() {}

    /// How many cookies are kept now (expired ones included until they are next looked at).
    public var count: Int { cookies.withLock { $0.all.count } }

    /// Stores the cookie of a `Set-Cookie` value received from `url`; returns whether it was kept
    /// (false: refused by the rules above, or it expired one).
    @discardableResult
    public func store(setCookie value: String, from url: HTTPURL) -> Bool {
        store(setCookie: value, from: url, now: WallClock.secondsSinceEpoch())
    }

    /// The `Cookie` field value to send to `url`, or nil when no cookie applies.
    public func cookieValue(for url: HTTPURL) -> String? {
        cookieValue(for: url, now: WallClock.secondsSinceEpoch())
    }

    /// Forgets every cookie.
    public func removeAll() { cookies.withLock { $0.all.removeAll() } }

    // MARK: - RFC 6265 §5.3 and §5.4

    func store(setCookie value: String, from url: HTTPURL, now: Int64) -> Bool {
        guard value.utf8.count <= Self.maxCookieSize else { return false }
        let parts = value.split(separator: ";", omittingEmptySubsequences: false)
        guard let pair = parts.first, let equals = pair.firstIndex(of: "=") else { return false }
        let name = String(pair[..<equals].trimmingSpaces)
        let cookieValue = String(pair[pair.index(after: equals)...].trimmingSpaces)
        guard !name.isEmpty, !name.contains(where: { $0.isWhitespace || $0 == "\0" }) else { return false }
        var expires: Int64?
        var maxAge: Int64?
        var domainAttribute: String?
        var path: String?
        var secure = false
        for attribute in parts.dropFirst() {
            let pieces = attribute.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = pieces[0].trimmingSpaces.lowercased()
            let text = pieces.count > 1 ? String(pieces[1].trimmingSpaces) : ""
            switch key {
            case "expires": if let date = HTTPDate.parse(text) { expires = date }
            case "max-age": if let seconds = Int64(text) { maxAge = seconds }
            case "domain":
                var domain = text.lowercased()
                if domain.hasPrefix(".") { domain.removeFirst() }
                if !domain.isEmpty { domainAttribute = domain }
            case "path": path = text.hasPrefix("/") ? text : nil
            case "secure": secure = true
            default: break
            }
        }
        if let maxAge { expires = maxAge <= 0 ? .min : now &+ maxAge }
        if secure && url.scheme != "https" { return false }
        let host = url.host
        var domain = host
        var hostOnly = true
        if let attribute = domainAttribute {
            if Self.isPublicSuffix(attribute) {
                // A public suffix is allowed only as the exact host, and then host-only.
                guard attribute == host else { return false }
            } else {
                guard !Self.isIPAddress(host), Self.domainMatches(host, attribute) else { return false }
                domain = attribute
                hostOnly = false
            }
        }
        let cookiePath = path ?? Self.defaultPath(url.target)
        return cookies.withLock { state in
            state.all.removeAll { $0.name == name && $0.domain == domain && $0.path == cookiePath }
            if let expires, expires <= now { return false }
            state.counter += 1
            state.all.append(Cookie(name: name, value: cookieValue, domain: domain, hostOnly: hostOnly, path: cookiePath,
                                    secure: secure, expires: expires, created: state.counter))
            // Limits: the least recently set cookie of the domain, then of the jar, goes first.
            let inDomain = state.all.indices.filter { state.all[$0].domain == domain }
            if inDomain.count > Self.maxPerDomain { state.all.remove(at: inDomain[0]) }
            if state.all.count > Self.maxTotal { state.all.removeFirst() }
            return true
        }
    }

    func cookieValue(for url: HTTPURL, now: Int64) -> String? {
        let path = url.target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? "/"
        let matching = cookies.withLock { state -> [Cookie] in
            state.all.removeAll { ($0.expires ?? .max) <= now }
            return state.all.filter { cookie in
                (cookie.hostOnly ? url.host == cookie.domain : Self.domainMatches(url.host, cookie.domain))
                    && Self.pathMatches(path, cookie.path) && (!cookie.secure || url.scheme == "https")
            }
        }
        guard !matching.isEmpty else { return nil }
        // Longer paths first, then the earlier set (RFC 6265 §5.4 step 2).
        let sorted = matching.sorted { $0.path.count != $1.path.count ? $0.path.count > $1.path.count : $0.created < $1.created }
        return sorted.map { "\($0.name)=\($0.value)" }.joined(separator: "; ")
    }

    /// RFC 6265 §5.1.3.
    static func domainMatches(_ host: String, _ domain: String) -> Bool {
        host == domain || (host.hasSuffix("." + domain) && !isIPAddress(host))
    }

    /// RFC 6265 §5.1.4.
    static func pathMatches(_ requestPath: String, _ cookiePath: String) -> Bool {
        requestPath == cookiePath
            || (requestPath.hasPrefix(cookiePath) && (cookiePath.hasSuffix("/") || requestPath.dropFirst(cookiePath.count).hasPrefix("/")))
    }

    /// RFC 6265 §5.1.4: the request path up to its last `/`, or `/`.
    static func defaultPath(_ target: String) -> String {
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? "/"
        guard path.hasPrefix("/"), let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }

    static func isIPAddress(_ host: String) -> Bool {
        host.contains(":") || (host.split(separator: ".").count == 4 && host.allSatisfy { $0.isNumber || $0 == "." })
    }

    /// A public suffix: a single label, or one of the common multi-label suffixes.
    static func isPublicSuffix(_ domain: String) -> Bool {
        !domain.contains(".") || commonPublicSuffixes.contains(domain)
    }

    static let commonPublicSuffixes: Set<String> = [
        "co.uk", "org.uk", "ac.uk", "gov.uk", "me.uk", "com.au", "net.au", "org.au", "co.jp", "ne.jp", "or.jp",
        "co.nz", "com.br", "com.cn", "com.tw", "co.in", "co.kr", "co.za", "com.mx", "com.tr", "com.sg",
        "github.io", "gitlab.io", "herokuapp.com", "appspot.com", "blogspot.com", "netlify.app", "vercel.app",
        "pages.dev", "workers.dev", "cloudfront.net", "azurewebsites.net", "s3.amazonaws.com",
    ]
}

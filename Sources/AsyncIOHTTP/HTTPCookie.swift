import HTTPTypes

/// A cookie a server sets with `Set-Cookie` (RFC 6265 §4.1), with its attributes (aiohttp's
/// `response.set_cookie`).
///
/// ```swift
/// var response = HTTPServerResponse.text("welcome")
/// try response.setCookie(HTTPCookie(name: "session", value: "d41d8cd9", maxAge: .seconds(3600), httpOnly: true))
/// ```
public struct HTTPCookie: Sendable, Hashable {
    /// `SameSite` (RFC 6265bis).
    public enum SameSite: String, Sendable, Hashable { case strict = "Strict", lax = "Lax", none = "None" }

    /// The name: a token (RFC 9110 §5.6.2).
    public var name: String
    /// The value: cookie-octets (printable ASCII except space, `"`, `,`, `;` and `\`).
    public var value: String
    /// `Max-Age`, in whole seconds; zero or negative expires the cookie at once.
    public var maxAge: Duration?
    /// `Expires`, as an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
    public var expires: String?
    /// `Domain`.
    public var domain: String?
    /// `Path`.
    public var path: String?
    /// `Secure`.
    public var secure: Bool
    /// `HttpOnly`.
    public var httpOnly: Bool
    /// `SameSite`.
    public var sameSite: SameSite?

    /// A cookie with these attributes.
    public init(
        name: String, value: String, maxAge: Duration? = nil, expires: String? = nil, domain: String? = nil,
        path: String? = nil, secure: Bool = false, httpOnly: Bool = false, sameSite: SameSite? = nil
    ) {
        self.name = name
        self.value = value
        self.maxAge = maxAge
        self.expires = expires
        self.domain = domain
        self.path = path
        self.secure = secure
        self.httpOnly = httpOnly
        self.sameSite = sameSite
    }

    /// The `Set-Cookie` field value.
    ///
    /// - Throws: ``HTTPCookieError`` if the name is not a token, the value holds a character a cookie
    ///   cannot carry, or an attribute holds `;` or a control character (it would smuggle another
    ///   attribute in).
    public func setCookieValue() throws(HTTPCookieError) -> String {
        guard !name.isEmpty, name.utf8.allSatisfy(HTTPCookie.isTokenByte) else {
            throw HTTPCookieError("cookie name \"\(name)\" is not a token")
        }
        guard value.utf8.allSatisfy(HTTPCookie.isCookieOctet) else {
            throw HTTPCookieError("the value of cookie \"\(name)\" holds a character a cookie cannot carry")
        }
        var out = "\(name)=\(value)"
        for (attribute, text) in [("Expires", expires), ("Domain", domain), ("Path", path)] {
            guard let text else { continue }
            guard text.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7F && $0 != UInt8(ascii: ";") }) else {
                throw HTTPCookieError("the \(attribute) of cookie \"\(name)\" holds ';' or a control character")
            }
            out += "; \(attribute)=\(text)"
        }
        if let maxAge { out += "; Max-Age=\(maxAge.components.seconds)" }
        if secure { out += "; Secure" }
        if httpOnly { out += "; HttpOnly" }
        if let sameSite { out += "; SameSite=\(sameSite.rawValue)" }
        return out
    }

    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// RFC 6265 cookie-octet.
    static func isCookieOctet(_ byte: UInt8) -> Bool {
        byte == 0x21 || (0x23...0x2B).contains(byte) || (0x2D...0x3A).contains(byte)
            || (0x3C...0x5B).contains(byte) || (0x5D...0x7E).contains(byte)
    }
}

/// A cookie that cannot be written as a `Set-Cookie` field.
public struct HTTPCookieError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Why, naming the cookie.
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension HTTPServerRequest {
    /// The cookies of the request's `Cookie` fields, in order (RFC 6265 §5.4; a repeated name keeps
    /// every value). Pairs without `=` are skipped; a value in double quotes loses them.
    public var cookies: [(name: String, value: String)] {
        var cookies: [(name: String, value: String)] = []
        for field in head.headerFields where field.name == .cookie {
            for pair in field.value.split(separator: ";") {
                guard let equals = pair.firstIndex(of: "=") else { continue }
                let name = pair[..<equals].trimmingSpaces
                let value = pair[pair.index(after: equals)...].trimmingSpaces.unquoted
                if !name.isEmpty { cookies.append((String(name), String(value))) }
            }
        }
        return cookies
    }

    /// The value of the first cookie named `name`.
    public func cookie(_ name: String) -> String? { cookies.first { $0.name == name }?.value }
}

extension HTTPServerResponse {
    /// Adds a `Set-Cookie` field for `cookie`.
    ///
    /// - Throws: ``HTTPCookieError`` for a cookie that cannot be written (see ``HTTPCookie/setCookieValue()``).
    public mutating func setCookie(_ cookie: HTTPCookie) throws(HTTPCookieError) {
        headerFields.append(HTTPField(name: .setCookie, value: try cookie.setCookieValue()))
    }

    /// Adds a `Set-Cookie` field that expires the cookie `name` (empty value, `Max-Age=0`, and an
    /// `Expires` in the past for old clients).
    ///
    /// - Throws: ``HTTPCookieError`` for a name that is not a token.
    public mutating func deleteCookie(_ name: String, path: String? = "/", domain: String? = nil) throws(HTTPCookieError) {
        try setCookie(HTTPCookie(name: name, value: "", maxAge: .zero, expires: "Thu, 01 Jan 1970 00:00:00 GMT",
                                 domain: domain, path: path))
    }
}

import AsyncIOHTTP
import Testing

/// `Location` resolution (RFC 3986 §5.2), issue 12 bug 13: a `://` in a query is not a scheme, and dot
/// segments are removed.
@Suite struct HTTPURLTests {
    @Test func locationsResolveAsRFC3986Says() throws {
        let base = try HTTPURL("http://h.example/a/b/c?q=1#frag")
        let cases: [(String, String)] = [
            ("/login?next=https://x.example/y", "http://h.example/login?next=https://x.example/y"),
            ("login?next=http://x", "http://h.example/a/b/login?next=http://x"),
            ("../x", "http://h.example/a/x"),
            ("../../../../x", "http://h.example/x"),
            ("./y", "http://h.example/a/b/y"),
            (".", "http://h.example/a/b/"),
            ("..", "http://h.example/a/"),
            ("g?y", "http://h.example/a/b/g?y"),
            ("?y", "http://h.example/a/b/c?y"),
            ("#other", "http://h.example/a/b/c?q=1"),
            ("", "http://h.example/a/b/c?q=1"),
            ("/a/./b/../c", "http://h.example/a/c"),
            ("//other.example:81/p", "http://other.example:81/p"),
            ("HTTPS://S.example/p?r", "https://s.example/p?r"),
            ("https://s.example:8443/p/../q", "https://s.example:8443/p/../q"),  // absolute: taken as sent
        ]
        for (reference, expected) in cases {
            #expect(try base.resolving(reference).description == expected, "\(reference)")
        }
        #expect(throws: HTTPClientError.self) { try base.resolving("ftp://x/") }
        #expect(throws: HTTPClientError.self) { try base.resolving("mailto:someone@example.com") }
    }
}

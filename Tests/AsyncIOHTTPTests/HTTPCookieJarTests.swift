import AsyncIO
import AsyncIOHTTP
import AsyncIOSystem
import AsyncIOTesting
import HTTPTypes
import Testing

/// The client's cookie jar (issue 14, RFC 6265), on hostile input and over the wire.
@Suite(.timeLimit(.minutes(1)))
struct HTTPCookieJarTests {
    private func url(_ text: String) throws -> HTTPURL { try HTTPURL(text) }

    @Test func hostileSetCookieLinesAreRefused() throws {
        let jar = HTTPCookieJar()
        let site = try url("http://www.example.com/a/b")
        #expect(!jar.store(setCookie: "a=1; Domain=com", from: site))  // a public suffix
        #expect(!jar.store(setCookie: "a=1; Domain=co.uk", from: try url("http://shop.example.co.uk/")))
        #expect(!jar.store(setCookie: "a=1; Domain=evil.com", from: site))  // another site
        #expect(!jar.store(setCookie: "a=1; Domain=ample.com", from: site))  // a suffix that is not a label boundary
        #expect(!jar.store(setCookie: "a=1; Domain=0.0.1", from: try url("http://127.0.0.1/")))
        #expect(!jar.store(setCookie: "a=1; Secure", from: site))  // Secure over plain http
        #expect(!jar.store(setCookie: "a=" + String(repeating: "x", count: 5000), from: site))
        #expect(!jar.store(setCookie: "no equals sign", from: site))
        #expect(!jar.store(setCookie: "=nameless", from: site))
        #expect(jar.count == 0)
        #expect(jar.cookieValue(for: site) == nil)
    }

    @Test func domainPathSecureAndExpiryRules() throws {
        let jar = HTTPCookieJar()
        let page = try url("https://www.example.com/docs/page")
        #expect(jar.store(setCookie: "host=1", from: page))  // host-only, default path /docs
        #expect(jar.store(setCookie: "wide=2; Domain=.Example.COM; Path=/", from: page))
        #expect(jar.store(setCookie: "safe=3; Secure; Path=/", from: page))
        #expect(jar.cookieValue(for: page) == "host=1; wide=2; safe=3")
        #expect(jar.cookieValue(for: try url("https://www.example.com/docsx")) == "wide=2; safe=3")  // not under /docs
        #expect(jar.cookieValue(for: try url("https://api.example.com/docs/x")) == "wide=2")  // the others are host-only
        #expect(jar.cookieValue(for: try url("http://www.example.com/")) == "wide=2")  // no Secure over http
        #expect(jar.cookieValue(for: try url("https://example.org/")) == nil)
        // Replacing, deleting with Max-Age=0 and with an Expires in the past.
        #expect(jar.store(setCookie: "wide=22; Domain=example.com; Path=/", from: page))
        #expect(!jar.store(setCookie: "safe=; Max-Age=0; Path=/", from: page))
        #expect(!jar.store(setCookie: "host=; Expires=Thu, 01-Jan-1970 00:00:01 GMT", from: page))
        #expect(jar.cookieValue(for: page) == "wide=22")
        #expect(jar.store(setCookie: "later=1; Expires=Wed, 01 Jan 2099 00:00:00 GMT; Path=/", from: page))
        #expect(jar.cookieValue(for: page) == "wide=22; later=1")
    }

    private func text(_ client: HTTPClient, _ url: String) async throws -> String {
        try await client.get(url).text()
    }

    @Test func theClientKeepsCookiesAcrossRequestsAndRedirects() async throws {
        var router = HTTPRouter()
        router.get("/login") { _ in
            var response = HTTPServerResponse(status: .found, headerFields: [.location: "/whoami"])
            try response.setCookie(HTTPCookie(name: "session", value: "abc", path: "/", httpOnly: true))
            return response
        }
        router.get("/whoami") { request in .text(request.cookie("session") ?? "nobody") }
        router.get("/logout") { _ in
            var response = HTTPServerResponse.text("bye")
            try response.deleteCookie("session")
            return response
        }
        try await withServer(router) { server, _ in
            let base = "http://127.0.0.1:\(server.localAddress.port!)"
            try await withHTTPClient { client in
                #expect(try await text(client, "\(base)/whoami") == "nobody")
                // Set on the redirect, sent on its next hop.
                #expect(try await text(client, "\(base)/login") == "abc")
                #expect(try await text(client, "\(base)/whoami") == "abc")
                _ = try await client.get("\(base)/logout").text()
                #expect(try await text(client, "\(base)/whoami") == "nobody")
            }
            var configuration = HTTPClient.Configuration()
            configuration.storesCookies = false
            try await withHTTPClient(configuration: configuration) { client in
                let who = try await text(client, "\(base)/login")
                #expect(who == "nobody")
            }
        }
    }
}

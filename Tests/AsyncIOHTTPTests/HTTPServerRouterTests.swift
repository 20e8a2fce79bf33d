import AsyncIO
import AsyncIOHTTP
import AsyncIOTesting
import HTTPTypes
import Testing

/// `HTTPServer.start(host:port:router:)`: a router without middlewares is consulted by the connection
/// itself (one closure call a request instead of two). It must answer exactly as the router's handler
/// does, and a router with middlewares must still run them.
@Suite(.timeLimit(.minutes(1)))
struct HTTPServerRouterTests {
    private static func router() -> HTTPRouter {
        var router = testRouter()
        router.answersMethodNotAllowed = true
        router.put("/only-put") { _ in .text("put") }
        router.notFound = { request in .text("no \(request.path)\n", status: .notFound) }
        return router
    }

    /// What one server answers to each request of the list, one connection, in order.
    private static func answers(from port: UInt16, to requests: [(HTTPRequest.Method, String)]) async throws -> [String] {
        let client = try await TestClient(port: port)
        defer { client.close() }
        var answers: [String] = []
        for (method, path) in requests {
            try await client.send("\(method.rawValue) \(path) HTTP/1.1\r\nHost: test\r\n\r\n")
            let response = try #require(try await client.response(to: method))
            let allow = response.head.response.headerFields[.allow].map { " allow=\($0)" } ?? ""
            answers.append("\(response.status) \(response.text)\(allow)")
        }
        return answers
    }

    @Test func aRouterServedDirectlyAnswersAsItsHandler() async throws {
        let requests: [(HTTPRequest.Method, String)] = [
            (.get, "/hello"), (.get, "/hello?x=1"), (.head, "/hello"), (.get, "/path/42"), (.delete, "/rest/a/b"),
            (.get, "/missing"), (.get, "/only-put"), (.put, "/only-put"), (.get, "/fail"), (.get, "/hello"),
        ]
        try await withTestLoop { _ in
            let router = Self.router()
            let direct = try await HTTPServer.start(host: "127.0.0.1", port: 0, router: router)
            let viaHandler = try await HTTPServer.start(host: "127.0.0.1", port: 0, handler: router.handler)
            let expected = try await Self.answers(from: viaHandler.localAddress.port!, to: requests)
            let got = try await Self.answers(from: direct.localAddress.port!, to: requests)
            #expect(got == expected)
            // What the handler path answers is what the router says (the comparison is not of two empties).
            #expect(expected == [
                "200 hello", "200 hello", "200 ", "200 id=42", "200 DELETE tail=a/b",
                "404 no /missing\n", "405 Method Not Allowed\n allow=PUT", "200 put", "500 Internal Server Error\n", "200 hello",
            ], "\(expected)")
            await direct.shutdown(gracePeriod: .zero)
            await viaHandler.shutdown(gracePeriod: .zero)
        }
    }

    /// A connection reuses its last request's route when the next has the same method and target. A
    /// request that differs in either, or only in the target's last byte (one past the length a string
    /// keeps in place), or in a query, must be routed afresh; one that repeats an earlier, not the
    /// last, request too.
    @Test func aRequestLikeTheLastIsRoutedAsTheLastWasAndOnlyThen() async throws {
        let long = "/path/0123456789abcdef"  // a target the parser hands out as a heap string
        let requests: [(HTTPRequest.Method, String)] = [
            (.get, "/path/1"), (.get, "/path/1"), (.get, "/path/2"), (.get, "/path/2"), (.put, "/path/2"),
            (.get, "/path/2"), (.get, "/hello"), (.get, "/hello?x=1"), (.get, "/hello"), (.put, "/only-put"),
            (.get, "/only-put"), (.get, "/only-put"), (.put, "/only-put"), (.get, long), (.get, long),
            (.get, long.dropLast() + "g"), (.get, long), (.get, "/missing"), (.get, "/missing"), (.get, "/path/1"),
        ]
        try await withTestLoop { _ in
            let server = try await HTTPServer.start(host: "127.0.0.1", port: 0, router: Self.router())
            let answers = try await Self.answers(from: server.localAddress.port!, to: requests)
            #expect(answers == [
                "200 id=1", "200 id=1", "200 id=2", "200 id=2", "405 Method Not Allowed\n allow=GET, HEAD",
                "200 id=2", "200 hello", "200 hello", "200 hello", "200 put",
                "405 Method Not Allowed\n allow=PUT", "405 Method Not Allowed\n allow=PUT", "200 put",
                "200 id=0123456789abcdef", "200 id=0123456789abcdef",
                "200 id=0123456789abcdeg", "200 id=0123456789abcdef", "404 no /missing\n", "404 no /missing\n", "200 id=1",
            ], "\(answers)")
            await server.shutdown(gracePeriod: .zero)
        }
    }

    @Test func aRouterWithMiddlewaresServedDirectlyStillRunsThem() async throws {
        var router = Self.router()
        router.use { request, next in
            var response = try await next(request)
            response.head.headerFields[HTTPField.Name("X-Wrapped")!] = String(request.path)
            return response
        }
        let wrapped = router
        try await withTestLoop { _ in
            let server = try await HTTPServer.start(host: "127.0.0.1", port: 0, router: wrapped)
            let client = try await TestClient(port: server.localAddress.port!)
            for path in ["/hello", "/path/7", "/missing"] {
                try await client.send(get(path))
                let response = try #require(try await client.response())
                #expect(response.head.response.headerFields[HTTPField.Name("X-Wrapped")!] == path)
            }
            client.close()
            await server.shutdown(gracePeriod: .zero)
        }
    }

    /// The server keeps the method and target it parsed beside the request's head, for the router and
    /// handlers to read without a parse. A handler that changes the head (here before it asks a router)
    /// must be routed by what it changed; a change of the fields only keeps the parsed ones.
    @Test func aRequestWhoseHeadChangedIsRoutedByItsNewMethodAndPath() async throws {
        let router = Self.router()
        let outer: HTTPServer.Handler = { request in
            var request = request
            switch request.path {
            case "/rewrite":  // the method and target both, through `head`
                request.head.method = .put
                request.head.path = "/only-put?z=2"
                let response = try await router.route(request)
                return .text("\(request.method) \(request.path) \(request.query ?? "-") -> \(response.status.code)")
            case "/fields":  // the fields only: still routed by what was parsed
                request.head.headerFields[HTTPField.Name("X-Seen")!] = "yes"
                let response = try await router.route(request)
                return .text("\(request.method) \(request.path) \(request.query ?? "-") \(request.head.headerFields[HTTPField.Name("X-Seen")!] ?? "") -> \(response.status.code)")
            case "/replace":  // a whole new head
                request.head = HTTPRequest(method: .delete, scheme: nil, authority: "test", path: "/rest/x/y")
                let response = try await router.route(request)
                return .text("\(request.method) \(request.path) -> \(response.status.code)")
            default:
                return try await router.route(request)
            }
        }
        try await withTestLoop { _ in
            let server = try await HTTPServer.start(host: "127.0.0.1", port: 0, handler: outer)
            let answers = try await Self.answers(from: server.localAddress.port!, to: [
                (.get, "/rewrite?q=1"), (.get, "/fields?q=1"), (.get, "/replace"), (.get, "/hello"), (.get, "/rewrite"),
            ])
            #expect(answers == [
                "200 PUT /only-put z=2 -> 200", "200 GET /fields q=1 yes -> 404", "200 DELETE /rest/x/y -> 200",
                "200 hello", "200 PUT /only-put z=2 -> 200",
            ], "\(answers)")
            await server.shutdown(gracePeriod: .zero)
        }
    }
}

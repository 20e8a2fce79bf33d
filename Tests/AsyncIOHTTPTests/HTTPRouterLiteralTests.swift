@testable import AsyncIOHTTP
import HTTPTypes
import Testing

/// Literal routes are found by the path's length and bytes (``HTTPRouter``'s table, not a hash): paths
/// of one length that differ in any byte, within the first eight or after them, are told apart; a
/// query is not part of the path; a path added twice keeps both routes (one per method); a path of a
/// length no route has, or longer than any, is not found.
@Suite struct HTTPRouterLiteralTests {
    private func answer(_ router: HTTPRouter, _ method: HTTPRequest.Method, _ path: String) async throws -> String {
        let request = HTTPServerRequest(head: HTTPRequest(method: method, scheme: nil, authority: "x", path: path))
        let response = try await router.route(request)
        guard response.head.status == .ok, case .bytes(let bytes) = response.body.storage else {
            return "\(response.head.status.code)"
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func pathsOfOneLengthAreToldApartByEveryByte() async throws {
        var router = HTTPRouter()
        router.answersMethodNotAllowed = true
        // 17 bytes each: they differ in the first byte after the slash, in the eighth, and in the last.
        let paths = ["/response-headers", "/xesponse-headers", "/respons_-headers", "/response-headerz"]
        for path in paths { router.get(path) { _ in .text(path) } }
        router.get("/get") { _ in .text("get") }
        router.get("/put") { _ in .text("put") }
        router.post("/put") { _ in .text("post put") }
        for path in paths { #expect(try await answer(router, .get, path) == path) }
        #expect(try await answer(router, .get, "/response-headers?a=1") == "/response-headers")
        #expect(try await answer(router, .get, "/get") == "get")
        #expect(try await answer(router, .get, "/put") == "put")
        #expect(try await answer(router, .post, "/put") == "post put")
        #expect(try await answer(router, .delete, "/put") == "405")
        #expect(try await answer(router, .get, "/response-headerq") == "404")  // the same length, not a route
        #expect(try await answer(router, .get, "/gets") == "404")  // a length no route has
        #expect(try await answer(router, .get, "/response-headers/and-more") == "404")  // longer than any
        #expect(try await answer(router, .get, "/") == "404")
    }

    /// A target that is a literal path whole is found by comparing it as a string; one with a query,
    /// or a route's path with a `?` in it, is not taken for it: the path still ends at the first `?`,
    /// and a method a path has no route for is answered once with every method it has.
    @Test func aWholeTargetIsItsPathAndAQueryIsNot() async throws {
        var router = HTTPRouter()
        router.answersMethodNotAllowed = true
        router.get("/a") { _ in .text("a") }
        router.get("/a?b") { _ in .text("literal a?b") }  // a `?` in a route: never a request's path
        router.put("/a") { _ in .text("put a") }
        router.add(nil, "/any/*rest") { request in .text("any \(request.method) \(request.parameter("rest")!)") }
        router.get("/any/x") { _ in .text("literal any/x") }
        let long = "/a-path-longer-than-fifteen-bytes"  // not a string of two words
        router.get(long) { _ in .text("long") }
        #expect(try await answer(router, .get, "/a") == "a")
        #expect(try await answer(router, .get, "/a?b") == "a")
        #expect(try await answer(router, .get, "/a?") == "a")
        #expect(try await answer(router, .put, "/a?x=1") == "put a")
        #expect(try await answer(router, .get, long) == "long")
        #expect(try await answer(router, .get, long + "?q") == "long")
        #expect(try await answer(router, .get, "/any/x") == "literal any/x")
        // A literal path without a route for the method falls to the patterns.
        #expect(try await answer(router, .post, "/any/x") == "any POST x")
        #expect(try await answer(router, .get, "/any/y?z") == "any GET y")
        // Bytes, not canonical equivalence: the Kelvin sign's path is not `/K`'s.
        router.get("/\u{212A}") { _ in .text("kelvin") }
        #expect(try await answer(router, .get, "/K") == "404")
        #expect(try await answer(router, .get, "/\u{212A}") == "kelvin")

        let request = HTTPServerRequest(head: HTTPRequest(method: .delete, scheme: nil, authority: "x", path: "/a"))
        let response = try await router.route(request)
        #expect(response.status.code == 405)
        #expect(response.headerFields[.allow] == "GET, PUT, HEAD")
    }
}

/// A handler that does not await is kept in its synchronous form (which a server that consults the
/// router itself calls without an executor hop); one that awaits is not. Mounting keeps the form unless
/// the mounted router's middlewares must wrap it. Both forms answer alike through `route(_:)`.
@Suite struct HTTPRouterSynchronousTests {
    private func request(_ path: String) -> HTTPServerRequest {
        HTTPServerRequest(head: HTTPRequest(method: .get, scheme: nil, authority: "x", path: path))
    }

    @Test func theDefaultNotFoundIsSynchronousUntilReplaced() async throws {
        var router = HTTPRouter()
        router.get("/here") { _ in .text("here") }
        let miss = router.resolve(request("/missing"))
        let synchronous = try #require(miss.synchronous)
        let direct = try synchronous(request("/missing"))
        let awaited = try await HTTPRouter.call(miss, request("/missing"))
        for response in [direct, awaited] {
            #expect(response.head.status == .notFound)
            guard case .bytes(let bytes) = response.body.storage else { Issue.record("no bytes"); continue }
            #expect(String(decoding: bytes, as: UTF8.self) == "Not Found\n")
        }
        router.notFound = { request in .text("no \(request.path)\n", status: .notFound) }
        let replaced = router.resolve(request("/missing"))
        #expect(replaced.synchronous == nil)  // the server then awaits the replacement, never the default
        let response = try await HTTPRouter.call(replaced, request("/missing"))
        guard case .bytes(let bytes) = response.body.storage else { Issue.record("no bytes"); return }
        #expect(String(decoding: bytes, as: UTF8.self) == "no /missing\n")
    }

    @Test func handlersThatDoNotAwaitAreKeptSynchronous() async throws {
        var router = HTTPRouter()
        router.get("/sync") { _ in .text("sync") }
        router.get("/sync/:id") { request in .text("id=\(request.parameter("id")!)") }
        router.get("/async") { _ in
            await Task.yield()
            return .text("async")
        }
        #expect(router.resolve(request("/sync")).synchronous != nil)
        #expect(router.resolve(request("/sync/7")).synchronous != nil)
        #expect(router.resolve(request("/async")).synchronous == nil)
        #expect(router.resolve(request("/missing")).synchronous != nil)  // the default notFound
        for (path, text) in [("/sync", "sync"), ("/sync/7", "id=7"), ("/async", "async")] {
            let response = try await router.route(request(path))
            guard case .bytes(let bytes) = response.body.storage else { Issue.record("\(path): no bytes"); continue }
            #expect(String(decoding: bytes, as: UTF8.self) == text)
        }

        var outer = HTTPRouter()
        outer.mount("/plain", router)
        var wrapped = router
        wrapped.use { request, next in try await next(request) }
        outer.mount("/wrapped", wrapped)
        #expect(outer.resolve(request("/plain/sync/7")).synchronous != nil)
        #expect(outer.resolve(request("/wrapped/sync")).synchronous == nil)
        for path in ["/plain/sync", "/wrapped/sync"] {
            let response = try await outer.route(request(path))
            guard case .bytes(let bytes) = response.body.storage else { Issue.record("\(path): no bytes"); continue }
            #expect(String(decoding: bytes, as: UTF8.self) == "sync", "\(path)")
        }
    }
}

extension HTTPRouter.Resolution {
    /// The handler's synchronous form, if the resolution carries it.
    var synchronous: HTTPServer.SynchronousHandler? {
        if case .synchronous(let handler) = callable { handler } else { nil }
    }
}

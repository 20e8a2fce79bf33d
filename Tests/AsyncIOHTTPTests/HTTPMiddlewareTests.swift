import AsyncIO
import AsyncIOHTTP
import AsyncIOSystem
import AsyncIOTesting
import HTTPTypes
import Logging
import Synchronization
import Testing

/// Middlewares, sub-routers, response compression and the access log (issue 14).
@Suite(.timeLimit(.minutes(1)))
struct HTTPMiddlewareTests {
    private func request(_ path: String, _ fields: HTTPFields = [:]) -> HTTPServerRequest {
        HTTPServerRequest(head: HTTPRequest(method: .get, scheme: nil, authority: "x", path: path, headerFields: fields))
    }

    @Test func middlewaresRunInOrderCanShortCircuitAndWrapTheResponse() async throws {
        let trace = Recorder()
        var router = HTTPRouter()
        router.get("/hello") { _ in
            trace.append("handler")
            return .text("hi")
        }
        router.use { request, next in
            trace.append("outer in")
            var response = try await next(request)
            trace.append("outer out")
            response.head.headerFields[HTTPField.Name("X-Outer")!] = "1"
            return response
        }
        router.use { request, next in
            trace.append("inner in")
            if request.head.headerFields[.authorization] == nil { return .text("no\n", status: .unauthorized) }
            return try await next(request)
        }
        let refused = try await router.handler(request("/hello"))
        #expect(refused.head.status == .unauthorized)
        #expect(refused.head.headerFields[HTTPField.Name("X-Outer")!] == "1")
        #expect(trace.value == ["outer in", "inner in", "outer out"])
        trace.reset()
        let allowed = try await router.handler(request("/hello", [.authorization: "Bearer t"]))
        #expect(allowed.head.status == .ok)
        #expect(trace.value == ["outer in", "inner in", "handler", "outer out"])
        // Misses go through the middlewares too.
        #expect(try await router.handler(request("/missing", [.authorization: "t"])).head.headerFields[HTTPField.Name("X-Outer")!] == "1")
    }

    @Test func aMountedRouterAnswersUnderItsPrefixWithItsOwnMiddlewares() async throws {
        var api = HTTPRouter()
        api.get("/users/:id") { request in .text("user \(request.parameter("id")!)") }
        api.get("/health") { _ in .text("ok") }
        api.use { request, next in
            var response = try await next(request)
            response.head.headerFields[HTTPField.Name("X-API")!] = "yes"
            return response
        }
        var app = HTTPRouter()
        app.get("/") { _ in .text("home") }
        app.mount("/api", api)
        let user = try await app.handler(request("/api/users/7"))
        #expect(user.head.headerFields[HTTPField.Name("X-API")!] == "yes")
        #expect(user.body.length == "user 7".utf8.count)
        #expect(try await app.handler(request("/api/health")).head.status == .ok)
        #expect(try await app.handler(request("/users/7")).head.status == .notFound)
        #expect(try await app.handler(request("/")).head.headerFields[HTTPField.Name("X-API")!] == nil)
    }

    @Test func compressionIsNegotiatedAndSkipsWhatItShould() async throws {
        let big = String(repeating: "compress me please ", count: 200)
        var router = HTTPRouter()
        router.get("/big") { _ in .text(big) }
        router.get("/small") { _ in .text("tiny") }
        router.get("/png") { _ in HTTPServerResponse(headerFields: [.contentType: "image/png"], body: HTTPBody(big)) }
        router.use(HTTPMiddlewares.compression())
        func answer(_ path: String, _ accept: String?) async throws -> HTTPServerResponse {
            try await router.handler(request(path, accept.map { [.acceptEncoding: $0] } ?? [:]))
        }
        let gzip = try await answer("/big", "deflate, gzip;q=0.5")
        #expect(gzip.head.headerFields[.contentEncoding] == "gzip")
        #expect(gzip.head.headerFields[.vary] == "Accept-Encoding")
        #expect((gzip.body.length ?? .max) < big.utf8.count / 4)
        #expect(try await answer("/big", "deflate").head.headerFields[.contentEncoding] == "deflate")
        #expect(try await answer("/big", "gzip;q=0, deflate;q=0").head.headerFields[.contentEncoding] == nil)
        #expect(try await answer("/big", nil).head.headerFields[.contentEncoding] == nil)
        #expect(try await answer("/small", "gzip").head.headerFields[.contentEncoding] == nil)
        #expect(try await answer("/png", "gzip").head.headerFields[.contentEncoding] == nil)

        // Over the wire, our client decodes it back.
        try await withServer(router) { server, _ in
            try await withHTTPClient { client in
                let response = try await client.get("http://127.0.0.1:\(server.localAddress.port!)/big")
                #expect(response.headerFields[.contentEncoding] == "gzip")
                #expect(try await response.text() == big)
            }
        }
    }

    @Test func theAccessLogWritesCommonLogFormat() async throws {
        let lines = Recorder()
        let logger = Logger(label: "access") { _ in LineCollector(lines: lines) }
        var router = HTTPRouter()
        router.get("/teapot") { _ in .text("short and stout", status: HTTPResponse.Status(code: 418)) }
        router.use(HTTPMiddlewares.accessLog(logger))
        _ = try await router.handler(request("/teapot?x=1", [.authorization: HTTPBasicCredentials(user: "amy", password: "p").authorizationValue]))
        let line = try #require(lines.value.first)
        // host ident user [date] "request" status bytes
        let pattern = #/^- - amy \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "GET /teapot\?x=1 HTTP/1.1" 418 15$/#
        #expect(line.wholeMatch(of: pattern) != nil, "\(line)")
    }
}

/// Lines recorded from several tasks.
final class Recorder: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    func reset() { lines.withLock { $0 = [] } }
    var value: [String] { lines.withLock { $0 } }
}

struct LineCollector: LogHandler {
    let lines: Recorder
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) { lines.append("\(event.message)") }
}

/// The client's trace callbacks (issue 14, aiohttp's TraceConfig).
@Suite(.timeLimit(.minutes(1)))
struct HTTPClientTraceTests {
    @Test func everyHopConnectionAndFailureIsReported() async throws {
        var router = HTTPRouter()
        router.get("/a") { _ in HTTPServerResponse(status: .found, headerFields: [.location: "/b"]) }
        router.get("/b") { _ in .text("b") }
        try await withServer(router) { server, _ in
            let events = Recorder()
            var configuration = HTTPClient.Configuration()
            configuration.trace.requestStart = { events.append("start \($0.method) \($0.url.target)") }
            configuration.trace.requestEnd = { events.append("end \($0.url.target) \($0.status.code) reused=\($0.reusedConnection)") }
            configuration.trace.connectionCreated = { events.append("connect \($0.port)") }
            configuration.trace.requestFailed = { events.append("failed \($0.url.port) \(($0.error as? HTTPClientError)?.code.description ?? "?")") }
            try await withHTTPClient(configuration: configuration) { client in
                let port = server.localAddress.port!
                _ = try await client.get("http://127.0.0.1:\(port)/a").body.collect()
                await #expect(throws: HTTPClientError.self) { _ = try await client.get("http://127.0.0.1:1/") }
                #expect(events.value == [
                    "start GET /a", "connect \(port)", "end /a 302 reused=false",
                    "start GET /b", "end /b 200 reused=true",
                    "start GET /", "failed 1 connection refused",
                ])
            }
        }
    }
}

/// The client's total connection limit beside the per-host one (issue 14, aiohttp's `limit`).
@Suite(.timeLimit(.minutes(1)))
struct HTTPClientTotalLimitTests {
    @Test func aFullPoolWaitsForABusyConnectionAndClosesAnIdleOne() async throws {
        let gate = Future<Void>()
        var router = HTTPRouter()
        router.get("/hold") { _ in
            HTTPServerResponse(body: .stream { writer in
                try await gate.value
                try await writer.write("released")
            })
        }
        router.get("/quick") { _ in .text("quick") }
        let handler = router.handler
        try await withServer(router) { first, loop in
            let second = try await HTTPServer.start(host: "127.0.0.1", port: 0, handler: handler)
            var configuration = HTTPClient.Configuration()
            configuration.maxConnections = 2
            try await withHTTPClient(configuration: configuration) { client in
                let a = "http://127.0.0.1:\(first.localAddress.port!)", b = "http://127.0.0.1:\(second.localAddress.port!)"
                // Two responses in flight on the first host: the pool is full and nothing is idle.
                let held1 = try await client.get("\(a)/hold"), held2 = try await client.get("\(a)/hold")
                // (A Future, not the task's value: awaiting a Task is not a wait a deadline can end.)
                let answer = Future<String>()
                loop.spawn {
                    do { answer.complete(try await client.get("\(b)/quick").text()) } catch { answer.fail(error) }
                }
                #expect(try await moveOnAfter(.seconds(1)) { _ in try await answer.value } == nil)
                // A body read to its end idles its connection, which the waiting request then closes.
                gate.complete(())
                #expect(try await held1.text() == "released")
                #expect(try await answer.value == "quick")
                #expect(try await held2.text() == "released")
                #expect(client.connectionsOpened == 3)
            }
            await second.shutdown()
        }
    }
}

import AsyncIO
import AsyncIOHTTP
import AsyncIOSystem
import AsyncIOTesting
import HTTPTypes
import Testing

/// A router for the client tests; it records the peer port of every request to count connections.
func clientTestRouter(ports: PortLog) -> HTTPRouter {
    var router = HTTPRouter()
    router.get("/hello") { request in
        ports.record(request)
        return .text("hello")
    }
    router.get("/stall") { _ in
        // The head and 10 bytes of a 100-byte body, then nothing for a minute.
        HTTPServerResponse(body: .stream(length: 100) { writer in
            try await writer.write([UInt8](repeating: 0x73, count: 10))
            try await EventLoop.current!.sleep(for: .seconds(60))
        })
    }
    router.get("/sleep/:seconds") { request in
        ports.record(request)
        try await EventLoop.current!.sleep(for: .seconds(Int(request.parameter("seconds")!)!))
        return .text("slept")
    }
    router.get("/redirect/:count") { request in
        let count = Int(request.parameter("count")!)!
        var response = HTTPServerResponse(status: .found)
        response.head.headerFields[.location] = count == 1 ? "target?from=redirect" : "/redirect/\(count - 1)"
        return response
    }
    router.get("/redirect/target") { request in .text("target \(request.query ?? "")") }
    router.post("/see-other") { _ in
        var response = HTTPServerResponse(status: .seeOther)
        response.head.headerFields[.location] = "/method"
        return response
    }
    router.add(nil, "/method") { request in .text("\(request.method) \(try await request.body.collect(upTo: 1 << 20).count)") }
    router.post("/echo") { request in
        HTTPServerResponse(body: .bytes(try await request.body.collect(upTo: 1 << 24)))
    }
    router.get("/chunked/:count") { request in
        let count = Int(request.parameter("count")!)!
        return HTTPServerResponse(body: .stream { writer in
            for index in 0..<count { try await writer.write("line \(index)\n") }
        })
    }
    router.get("/loop") { _ in
        var response = HTTPServerResponse(status: .found)
        response.head.headerFields[.location] = "/loop"
        return response
    }
    return router
}

extension HTTPBody {
    static func bytes(_ bytes: [UInt8]) -> HTTPBody { HTTPBody(bytes: bytes) }
}

/// Remote ports seen by the server, one per connection.
final class PortLog: @unchecked Sendable {
    var ports: Set<UInt16> = []
    func record(_ request: HTTPServerRequest) {
        if let port = request.remoteAddress?.port { ports.insert(port) }
    }
}

func withClientAndServer(
    configuration: HTTPClient.Configuration = HTTPClient.Configuration(),
    _ body: @escaping @Sendable (HTTPClient, String, PortLog, EventLoop) async throws -> Void
) async throws {
    let ports = PortLog()
    try await withServer(clientTestRouter(ports: ports)) { server, loop in
        try await withHTTPClient(configuration: configuration) { client in
            try await body(client, "http://127.0.0.1:\(server.localAddress.port!)", ports, loop)
        }
    }
}

@Suite("HTTP client", .timeLimit(.minutes(2)))
struct HTTPClientTests {
    @Test func keepAliveReusesOneConnection() async throws {
        try await withClientAndServer { client, base, ports, _ in
            for _ in 0..<10 {
                let response = try await client.get("\(base)/hello")
                #expect(response.status == .ok)
                #expect(try await response.body.collect() == Array("hello".utf8))
            }
            #expect(client.connectionsOpened == 1)
            #expect(ports.ports.count == 1)
        }
    }

    @Test func thePerHostLimitQueuesRequests() async throws {
        var configuration = HTTPClient.Configuration()
        configuration.maxConnectionsPerHost = 2
        try await withClientAndServer(configuration: configuration) { client, base, ports, loop in
            let start = loop.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<6 {
                    group.addTask(executorPreference: loop) {
                        let response = try await client.get("\(base)/sleep/1")
                        #expect(try await response.body.collect() == Array("slept".utf8))
                    }
                }
                try await group.waitForAll()
            }
            #expect(client.connectionsOpened == 2)
            #expect(ports.ports.count == 2)
            let elapsed = start.duration(to: loop.now)
            #expect(elapsed >= .seconds(3) && elapsed < .seconds(4), "6 requests of 1 s over 2 connections took \(elapsed)")
        }
    }

    @Test func redirectsAreFollowedWithTheRightMethod() async throws {
        try await withClientAndServer { client, base, _, _ in
            let chain = try await client.get("\(base)/redirect/3")
            #expect(chain.redirects == 3)
            #expect(chain.url.target == "/redirect/target?from=redirect")  // a relative Location, resolved
            #expect(try await chain.body.collect() == Array("target from=redirect".utf8))

            let seeOther = try await client.post("\(base)/see-other", body: HTTPBody("payload"))
            #expect(try await seeOther.body.collect() == Array("GET 0".utf8))  // 303: GET, no body

            await #expect(throws: HTTPClientError.self) { _ = try await client.get("\(base)/loop") }
            do {
                _ = try await client.get("\(base)/loop")
            } catch let error as HTTPClientError {
                #expect(error.code == .tooManyRedirects)
            }
        }
    }

    @Test func chunkedBothWays() async throws {
        try await withClientAndServer { client, base, _, _ in
            let lines = try await client.get("\(base)/chunked/100")
            let text = String(decoding: try await lines.body.collect(), as: UTF8.self)
            #expect(text.split(separator: "\n").count == 100)
            #expect(lines.headerFields[.transferEncoding] == "chunked")

            let streamed = HTTPBody.stream { writer in
                for _ in 0..<10 { try await writer.write([UInt8](repeating: 0x7A, count: 1000)) }
            }
            let echoed = try await client.post("\(base)/echo", body: streamed)
            #expect(try await echoed.body.collect() == [UInt8](repeating: 0x7A, count: 10_000))
            #expect(client.connectionsOpened == 1)
        }
    }

    @Test func readAndTotalTimeoutsOnVirtualTime() async throws {
        try await withClientAndServer { client, base, _, loop in
            let start = loop.now
            do {
                _ = try await client.get("\(base)/sleep/60", timeouts: .init(read: .seconds(5)))
                Issue.record("no timeout")
            } catch let error as HTTPClientError {
                #expect(error.code == .timedOut)
                #expect(error.url == "\(base)/sleep/60")
            }
            let waited = start.duration(to: loop.now)
            #expect(waited >= .seconds(5) && waited < .seconds(6))

            let again = loop.now
            do {
                _ = try await client.get("\(base)/sleep/60", timeouts: .init(read: .seconds(30), total: .seconds(2)))
                Issue.record("no timeout")
            } catch let error as HTTPClientError {
                #expect(error.code == .timedOut)
            }
            let total = again.duration(to: loop.now)
            #expect(total >= .seconds(2) && total < .seconds(3))
            // The client still works afterwards (the timed-out connections were closed, not pooled).
            #expect(try await client.get("\(base)/hello").body.collect() == Array("hello".utf8))
        }
    }

    /// Issue 12, bug 13: a body that stalls after the head was reported as "no response within the
    /// timeout"; the response had come, its body had not.
    @Test func aStalledBodyIsReportedAsSuch() async throws {
        try await withClientAndServer { client, base, _, _ in
            let response = try await client.get("\(base)/stall", timeouts: .init(read: .seconds(5)))
            #expect(response.status == .ok)
            do {
                _ = try await response.body.collect()
                Issue.record("no timeout")
            } catch let error as HTTPClientError {
                #expect(error.code == .timedOut)
                #expect(error.detail.contains("body stalled"), "\(error)")
            }
            // Before the head, it is still "no response".
            do {
                _ = try await client.get("\(base)/sleep/60", timeouts: .init(read: .seconds(5)))
                Issue.record("no timeout")
            } catch let error as HTTPClientError {
                #expect(error.detail == "no response within the timeout")
            }
        }
    }

    /// Issue 12, bug 9: the total timeout was not enforced while a request body was being sent (an
    /// upload went on for 6 s with `total: 1 s`, and only the read afterwards timed out).
    @Test func totalTimeoutCoversTheUpload() async throws {
        try await withClientAndServer { client, base, _, loop in
            let slowUpload = HTTPBody.stream { writer in
                for _ in 0..<60 {
                    try await writer.write([UInt8](repeating: 0x75, count: 1000))
                    try await loop.sleep(for: .milliseconds(100))
                }
            }
            let start = loop.now
            do {
                _ = try await client.post("\(base)/echo", body: slowUpload, timeouts: .init(total: .seconds(1)))
                Issue.record("no timeout")
            } catch let error as HTTPClientError {
                #expect(error.code == .timedOut)
                #expect(error.detail.contains("sending"), "\(error)")
            }
            let waited = start.duration(to: loop.now)
            #expect(waited >= .seconds(1) && waited < .seconds(2), "the upload went on for \(waited)")
            #expect(try await client.get("\(base)/hello").body.collect() == Array("hello".utf8))
        }
    }

    @Test func idleConnectionsAreEvictedOnVirtualTime() async throws {
        var configuration = HTTPClient.Configuration()
        configuration.idleConnectionTimeout = .seconds(5)
        try await withClientAndServer(configuration: configuration) { client, base, _, loop in
            _ = try await client.get("\(base)/hello").body.collect()
            try await loop.sleep(for: .seconds(4))
            _ = try await client.get("\(base)/hello").body.collect()
            #expect(client.connectionsOpened == 1)  // 4 s idle: reused, and its idle clock restarts
            try await loop.sleep(for: .seconds(6))
            _ = try await client.get("\(base)/hello").body.collect()
            #expect(client.connectionsOpened == 2)  // 6 s idle: it was closed
        }
    }

    @Test func anHTTPRequestValueCanBeSent() async throws {
        try await withClientAndServer { client, base, _, _ in
            let authority = String(base.dropFirst("http://".count))
            var request = HTTPRequest(method: .post, scheme: "http", authority: authority, path: "/echo")
            request.headerFields[.contentType] = "text/plain"
            let response = try await client.request(request, body: HTTPBody("sent as an HTTPRequest"))
            #expect(try await response.body.collect() == Array("sent as an HTTPRequest".utf8))
            await #expect(throws: HTTPClientError.self) {
                _ = try await client.request(HTTPRequest(method: .get, scheme: nil, authority: nil, path: "/"))
            }
        }
    }

    @Test func headResponsesHaveNoBody() async throws {
        try await withClientAndServer { client, base, _, _ in
            let head = try await client.request(.head, "\(base)/hello")
            #expect(head.headerFields[.contentLength] == "5")
            #expect(try await head.body.collect().isEmpty)
            #expect(try await client.get("\(base)/hello").body.collect() == Array("hello".utf8))
            #expect(client.connectionsOpened == 1)
        }
    }

    @Test func collectIsBounded() async throws {
        try await withClientAndServer { client, base, _, _ in
            let big = try await client.post("\(base)/echo", body: HTTPBody(bytes: [UInt8](repeating: 1, count: 100_000)))
            do {
                _ = try await big.body.collect(upTo: 1000)
                Issue.record("collected past the limit")
            } catch let error as HTTPClientError {
                #expect(error.code == .bodyTooLarge)
            }
            // That connection was closed, not pooled; the next request opens another.
            #expect(try await client.get("\(base)/hello").body.collect() == Array("hello".utf8))
            #expect(client.connectionsOpened == 2)
        }
    }

    @Test func badURLsAndRefusalAreClearErrors() async throws {
        // Real time: the refusal arrives through epoll, and virtual time could jump past the connect
        // timeout before the kernel reports it on a busy machine.
        try await withTestLoop(virtualTime: false) { _ in
            try await withHTTPClient { client in
                for (url, code) in [
                    ("ftp://example.com/", HTTPClientError.Code.badURL), ("http://", .badURL), ("example.com", .badURL),
                    ("http://host:99999/", .badURL), ("https://", .badURL),
                ] {
                    do {
                        _ = try await client.get(url)
                        Issue.record("\(url) did not fail")
                    } catch let error as HTTPClientError {
                        #expect(error.code == code, "\(url): \(error)")
                        #expect(error.url == url, "the error names \(error.url), not \(url)")
                    }
                }
                // Port 1 (tcpmux) is served by nobody here. (A port bound and closed by the test could be
                // taken at once by another test running in parallel.)
                let port = 1
                do {
                    _ = try await client.get("http://127.0.0.1:\(port)/x")
                    Issue.record("no refusal")
                } catch let error as HTTPClientError {
                    #expect(error.code == .refused)
                    #expect(error.description.contains("http://127.0.0.1:\(port)/x"))
                }
            }
        }
    }

    /// A server that answers the first request on each connection, then closes the connection when the
    /// second request arrives: the client must retry an idempotent request once, and never a POST.
    @Test func aStalePooledConnectionIsRetriedOnceForIdempotentRequests() async throws {
        // Real time: the server's close must reach the client before the client's timeout, and under a
        // loaded machine the kernel may take longer than virtual time's 25 ms grace to deliver it (once
        // in a full parallel run on io_uring, the clock jumped to the timeout first).
        try await withTestLoop(virtualTime: false) { _ in
            let accepted = PortLog()
            let server = try await startServer(host: "127.0.0.1", port: 0) { reader, writer in
                accepted.ports.insert(UInt16(truncatingIfNeeded: accepted.ports.count + 1))
                _ = try await reader.read(until: Array("\r\n\r\n".utf8))
                try await writer.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                _ = try await reader.read(until: Array("\r\n\r\n".utf8))
                writer.abort()  // the second request on a connection: closed unanswered
            }
            let base = "http://127.0.0.1:\(server.localAddress.port!)"
            try await withHTTPClient { client in
                #expect(try await client.get("\(base)/a").body.collect() == Array("ok".utf8))
                // Reused, closed by the server on arrival: retried on a new connection.
                #expect(try await client.get("\(base)/b").body.collect() == Array("ok".utf8))
                #expect(client.connectionsOpened == 2)
                do {
                    _ = try await client.post("\(base)/c", body: HTTPBody("x"))
                    Issue.record("a POST was retried")
                } catch let error as HTTPClientError {
                    #expect(error.code == .connectionClosed)
                }
                #expect(client.connectionsOpened == 2)
            }
            server.closeClients()
            await server.waitClosed()
        }
    }
}

/// Issue 13: the HTTP client off a loop throws a clear error instead of stopping the process.
@Suite(.timeLimit(.minutes(1)))
struct HTTPClientOffTheLoopTests {
    @Test func creatingOrUsingAClientOffItsLoopThrowsNotOnLoop() async throws {
        try await withTestLoop(virtualTime: false) { _ in
            let client = try HTTPClient()
            let codes = await Task.detached { () -> [EventLoopError.Code?] in
                var codes: [EventLoopError.Code?] = []
                do { _ = try HTTPClient() } catch { codes.append((error as? EventLoopError)?.code) }
                do { _ = try HTTPClient.shared } catch { codes.append((error as? EventLoopError)?.code) }
                do { _ = try await client.get("http://127.0.0.1:9/") } catch {
                    codes.append((error as? EventLoopError)?.code)
                }
                return codes
            }.value
            #expect(codes == [.notOnLoop, .notOnLoop, .notOnLoop])
            client.shutdown()
        }
    }
}

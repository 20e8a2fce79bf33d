import AsyncIO
import AsyncIOHTTP
import AsyncIOTesting
import Testing

/// A connection waits for its next request head without a cancellation handler of its own: one
/// handler for the connection's life interrupts that wait. Cancellation must still end it at once,
/// not at a timeout.
@Suite("HTTP server cancellation", .timeLimit(.minutes(1)))
struct HTTPServerCancellationTests {
    /// Past the grace period the server cancels its connections; one that waits for the rest of a
    /// head ends then, not at its header timeout.
    @Test func cancellationEndsAConnectionWaitingForTheRestOfAHead() async throws {
        try await withTestLoop { loop in
            var configuration = HTTPServer.Configuration()
            configuration.headerTimeout = .seconds(60)
            let server = try await HTTPServer.start(
                host: "127.0.0.1", port: 0, configuration: configuration, handler: testRouter().handler)
            let client = try await TestClient(port: server.localAddress.port!)
            try await client.send(get("/hello"))
            #expect(try await client.response()?.text == "hello")
            try await client.send("GET /hello HTTP/1.1\r\nHost: te")  // the next head, unfinished
            try await loop.sleep(for: .milliseconds(100))
            let start = loop.now
            await server.shutdown(gracePeriod: .seconds(2))
            let waited = start.duration(to: loop.now)
            #expect(waited >= .seconds(2) && waited < .seconds(3), "the connection ended after \(waited)")
            #expect(server.connectionCount == 0)
            #expect(await client.isClosedByServer())
            client.close()
        }
    }

    /// A connection cancelled while its handler runs still answers nothing more: the handler's own
    /// waits watch cancellation, and the next head is not read.
    @Test func cancellationDuringTheHandlerEndsTheConnection() async throws {
        try await withTestLoop { loop in
            let server = try await HTTPServer.start(host: "127.0.0.1", port: 0, handler: testRouter().handler)
            let client = try await TestClient(port: server.localAddress.port!)
            try await client.send(get("/sleep/600") + get("/hello"))  // a second request already buffered
            try await loop.sleep(for: .milliseconds(100))
            let start = loop.now
            await server.shutdown(gracePeriod: .seconds(1))
            #expect(start.duration(to: loop.now) < .seconds(2))
            #expect(server.connectionCount == 0)
            #expect(await client.isClosedByServer())
            client.close()
        }
    }
}

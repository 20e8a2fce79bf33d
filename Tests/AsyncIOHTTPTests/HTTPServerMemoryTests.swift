@testable import AsyncIOHTTP
import AsyncIO
import AsyncIOTesting
import HTTPTypes
import Testing

/// Issue 14: what a connection costs while its handler waits (a request in flight) and between
/// requests (idle keep-alive): no read buffer in either, and the bytes a handler has not read yet are
/// kept.
@Suite("HTTP server memory", .timeLimit(.minutes(1)))
struct HTTPServerMemoryTests {
    final class Seen: @unchecked Sendable {
        var storage: [Int] = []
    }

    @Test func aRequestInFlightHoldsNoReadBuffer() async throws {
        let seen = Seen()
        var router = HTTPRouter()
        router.get("/wait") { request in
            seen.storage.append(request.connection!.reader.storageCapacity)
            try await EventLoop.current!.sleep(for: .seconds(1))
            return .text("done")
        }
        try await withServer(router) { server, _ in
            let client = try await TestClient(port: server.localAddress.port!)
            try await client.send(get("/wait"))
            let response = try await client.response()
            #expect(response?.text == "done")
            client.close()
        }
        #expect(seen.storage == [0])
    }

    @Test func anIdleKeepAliveConnectionHoldsNoReadBuffer() async throws {
        try await withServer(testRouter()) { server, loop in
            let client = try await TestClient(port: server.localAddress.port!)
            for _ in 0..<3 {
                try await client.send(get("/hello"))
                #expect(try await client.response()?.text == "hello")
            }
            await loop.waitUntilAllTasksBlocked()
            #expect(server.connections.count == 1)
            let capacities = server.connections.values.map { $0.reader.storageCapacity }
            #expect(capacities == [0])
            client.close()
        }
    }

    /// A request whose body is already buffered when the handler starts keeps it (nothing is released
    /// under unread bytes), and the next pipelined request is served too.
    @Test func bufferedBytesAreKeptWhileTheHandlerRuns() async throws {
        let seen = Seen()
        var router = HTTPRouter()
        router.post("/body") { request in
            seen.storage.append(request.connection!.reader.bufferedCount)
            let body = try await request.body.collect(upTo: 1024)
            return .text(String(decoding: body, as: UTF8.self))
        }
        try await withServer(router) { server, _ in
            let client = try await TestClient(port: server.localAddress.port!)
            let post = { (body: String) in "POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n\(body)" }
            try await client.send(post("hello") + post("world"))
            let first = try await client.response(to: .post)
            let second = try await client.response(to: .post)
            #expect(first?.text == "hello")
            #expect(second?.text == "world")
            client.close()
        }
        #expect(seen.storage.count == 2)
        #expect(seen.storage.allSatisfy { $0 >= 5 })
    }
}

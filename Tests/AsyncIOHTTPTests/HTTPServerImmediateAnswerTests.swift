@testable import AsyncIOHTTP
import AsyncIO
import AsyncIOTesting
import HTTPTypes
import MetricsTestKit
import Testing

/// A route whose handler does not suspend is answered by the connection without a frame of its own
/// (`HTTPServerConnection.answerNow`), and only its response's writes wait. Every way out of that path
/// must answer as the general one does: a response the socket cannot take at once, a body too large to
/// go with the head, a streamed body, an error.
@Suite("HTTP server, routes answered at once", .timeLimit(.minutes(1)))
struct HTTPServerImmediateAnswerTests {
    /// The body of `/block/:n`: 60 KiB (under the 64 KiB that go out with the head) of a byte that
    /// names the request, so a response that lost or repeated bytes does not read as another's.
    private static func block(_ index: Int) -> [UInt8] {
        [UInt8](repeating: UInt8(truncatingIfNeeded: 0x41 + index % 26), count: 60 * 1024)
    }

    private static func router() -> HTTPRouter {
        var router = HTTPRouter()
        router.get("/block/:n") { request in
            HTTPServerResponse(body: HTTPBody(bytes: block(Int(request.parameter("n")!)!)))
        }
        router.get("/large") { _ in HTTPServerResponse(body: HTTPBody(bytes: [UInt8](repeating: 0x7A, count: 200 * 1024))) }
        router.get("/streamed") { _ in
            HTTPServerResponse(body: .stream { writer in
                try await writer.write(Array("first ".utf8))
                try await writer.write(Array("second".utf8))
            })
        }
        router.get("/fail") { _ in throw TestFailure() }
        router.get("/small") { _ in .text("small") }
        return router
    }

    @Test func responsesTheSocketCannotTakeAtOnceAreSentWhole() async throws {
        let backend = TestMetrics()
        let count = 120  // 7 MiB: more than a loopback socket buffers while its reader waits
        try await withServer(Self.router(), configure: { $0.metrics = HTTPServerMetrics(prefix: "t", factory: backend) }) { server, loop in
            let client = try await TestClient(port: server.localAddress.port!)
            try await client.send((0..<count).map { get("/block/\($0)") }.joined())
            // The server answers until the socket is full, then waits to write the rest of one.
            await loop.waitUntilAllTasksBlocked()
            for index in 0..<count {
                let response = try #require(try await client.response())
                #expect(response.status == 200)
                let intact = response.body == Self.block(index)  // not `#expect(==)`: it would print 60 KiB twice
                #expect(intact, "response \(index): \(response.body.count) bytes, the first \(response.body.first ?? 0)")
            }
            try await client.send(get("/small"))
            #expect(try await client.response()?.text == "small")
            client.close()
        }
        // Each request was counted once it was all sent, including those whose write waited.
        #expect(try backend.expectCounter("t_requests_total", [("status", "2xx")]).totalValue == count + 1)
        #expect(backend.counterTotal(label: "t_sent_bytes_total") > Int64(count * 60 * 1024))
    }

    @Test func aBodyTooLargeToGoWithTheHeadAStreamedBodyAndAnErrorAreAnswered() async throws {
        try await withServer(Self.router()) { server, _ in
            let client = try await TestClient(port: server.localAddress.port!)
            try await client.send(get("/large") + get("/streamed") + get("/fail") + get("/small") + get("/large"))
            let large = try #require(try await client.response())
            #expect(large.status == 200)
            #expect(large.body.count == 200 * 1024 && large.body.allSatisfy { $0 == 0x7A })
            let streamed = try #require(try await client.response())
            #expect(streamed.text == "first second")
            #expect(streamed.head.response.headerFields[.transferEncoding] == "chunked")
            #expect(try await client.response()?.status == 500)
            #expect(try await client.response()?.text == "small")
            #expect(try await client.response()?.body.count == 200 * 1024)
            client.close()
        }
    }
}

@testable import AsyncIOHTTP
import AsyncIO
import AsyncIOTesting
import CoreMetrics
import HTTPTypes
import MetricsTestKit
import Testing

/// Issue 16: the server's swift-metrics, recorded into a test backend under a scripted load.
@Suite("HTTP server metrics", .timeLimit(.minutes(1)))
struct HTTPServerMetricsTests {
    @Test func requestsConnectionsDurationsAndBytesAreRecorded() async throws {
        let backend = TestMetrics()
        var router = testRouter()
        router.get("/teapot") { _ in HTTPServerResponse(status: .init(code: 418)) }
        try await withServer(router, configure: { $0.metrics = HTTPServerMetrics(prefix: "t", factory: backend) }) { server, loop in
            let client = try await TestClient(port: server.localAddress.port!)
            for path in ["/hello", "/hello", "/nowhere", "/teapot", "/fail"] {
                try await client.send(get(path))
                _ = try await client.response()
            }
            try await client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n" + String(repeating: "b", count: 1000))
            _ = try await client.response(to: .post)
            await loop.waitUntilAllTasksBlocked()
            #expect(try backend.expectMeter("t_connections").lastValue == 1)
            client.close()
        }
        #expect(try backend.expectMeter("t_connections").lastValue == 0)  // after shutdown
        #expect(backend.counterTotal(label: "t_connections_accepted_total") == 1)
        #expect(try backend.expectCounter("t_requests_total", [("status", "2xx")]).totalValue == 3)
        #expect(try backend.expectCounter("t_requests_total", [("status", "4xx")]).totalValue == 2)
        #expect(try backend.expectCounter("t_requests_total", [("status", "5xx")]).totalValue == 1)
        let durations = try backend.expectTimer("t_request_duration_seconds").values
        #expect(durations.count == 6 && durations.allSatisfy { $0 >= 0 })
        // Five bodiless heads of 30-odd bytes and a POST with a 1,000-byte body came in.
        let received = backend.counterTotal(label: "t_received_bytes_total")
        #expect(received > 1000 + 5 * 25 && received < 1000 + 6 * 100, "\(received)")
        #expect(backend.counterTotal(label: "t_sent_bytes_total") > 6 * 50)
    }

    @Test func noMetricsAreMadeUnlessAskedFor() async throws {
        try await withServer(testRouter()) { server, _ in
            #expect(server.metrics == nil)
        }
    }
}

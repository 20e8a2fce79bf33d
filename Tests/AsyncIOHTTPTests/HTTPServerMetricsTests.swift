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

/// Issue 16: the client's swift-metrics.
@Suite("HTTP client metrics", .timeLimit(.minutes(1)))
struct HTTPClientMetricsTests {
    /// Two requests at a time through a pool of one connection: the second waits; a failed connect
    /// counts as failed.
    @Test func poolWaitsRequestsAndFailuresAreRecorded() async throws {
        let backend = TestMetrics()
        try await withServer(testRouter()) { server, _ in
            var configuration = HTTPClient.Configuration()
            configuration.maxConnectionsPerHost = 1
            configuration.metrics = HTTPClientMetrics(prefix: "c", factory: backend)
            try await withHTTPClient(configuration: configuration) { client in
                let url = "http://127.0.0.1:\(server.localAddress.port!)"
                async let first = client.get("\(url)/hello").body.collect(upTo: 100)
                async let second = client.get("\(url)/nowhere").body.collect(upTo: 100)
                _ = try await (first, second)
                await #expect(throws: HTTPClientError.self) { _ = try await client.get("http://127.0.0.1:1/") }
            }
        }
        #expect(try backend.expectCounter("c_requests_total", [("status", "2xx")]).totalValue == 1)
        #expect(try backend.expectCounter("c_requests_total", [("status", "4xx")]).totalValue == 1)
        #expect(try backend.expectCounter("c_requests_total", [("status", "failed")]).totalValue == 1)
        #expect(backend.counterTotal(label: "c_connection_waits_total") >= 1)
        #expect(backend.counterTotal(label: "c_connections_opened_total") == 1)
        #expect(try backend.expectTimer("c_request_duration_seconds").values.count == 2)
        #expect(try backend.expectMeter("c_connections").values.contains(1))
    }
}

@testable import AsyncIOHTTP
import AsyncIO
import AsyncIOTesting
import HTTPTypes
import InMemoryTracing
import Instrumentation
import Tracing
import Testing

/// Issue 16: trace context propagated client → server → client → server in one process, through the
/// request fields, with spans of the right kinds and parents.
@Suite("HTTP tracing", .timeLimit(.minutes(1)))
struct HTTPTracingTests {
    @Test func aTraceCrossesTwoServersAndTheirClients() async throws {
        let tracer = InMemoryTracer()
        try await withTestLoop { _ in
            var clientConfiguration = HTTPClient.Configuration()
            clientConfiguration.tracer = tracer
            var serverConfiguration = HTTPServer.Configuration()
            serverConfiguration.tracer = tracer
            try await withHTTPClient(configuration: clientConfiguration) { client in
                var back = HTTPRouter()
                back.get("/back") { _ in .text("from the back") }
                let backServer = try await HTTPServer.start(host: "127.0.0.1", port: 0, configuration: serverConfiguration, handler: back.handler)
                var front = HTTPRouter()
                let backURL = "http://127.0.0.1:\(backServer.localAddress.port!)/back"
                front.get("/front") { _ in
                    // Inside the front server's span: the client call continues its trace.
                    let inner = try await client.get(backURL)
                    return .text("front + " + String(decoding: try await inner.body.collect(upTo: 100), as: UTF8.self))
                }
                let frontServer = try await HTTPServer.start(host: "127.0.0.1", port: 0, configuration: serverConfiguration, handler: front.handler)
                let response = try await client.get("http://127.0.0.1:\(frontServer.localAddress.port!)/front")
                #expect(String(decoding: try await response.body.collect(upTo: 100), as: UTF8.self) == "front + from the back")
                await frontServer.shutdown()
                await backServer.shutdown()
            }
        }
        let spans = tracer.finishedSpans
        #expect(spans.count == 4)
        #expect(Set(spans.map(\.traceID)).count == 1, "one trace: \(spans.map(\.traceID))")
        let outer = try #require(spans.first { $0.kind == .client && $0.parentSpanID == nil })
        let frontSpan = try #require(spans.first { $0.kind == .server && $0.parentSpanID == outer.spanID })
        let inner = try #require(spans.first { $0.kind == .client && $0.parentSpanID == frontSpan.spanID })
        let backSpan = try #require(spans.first { $0.kind == .server && $0.parentSpanID == inner.spanID })
        #expect(frontSpan.attributes.get("url.path") == .string("/front"))
        #expect(backSpan.attributes.get("http.response.status_code") == .int64(200))
        #expect(outer.attributes.get("http.response.status_code") == .int64(200))
    }

    @Test func withoutATracerNoSpanIsMade() async throws {
        try await withServer(testRouter()) { server, _ in
            #expect(server.tracer == nil)  // the no-op tracer is not used at all
        }
    }
}

@testable import AsyncIOHTTP
import AsyncIO
import AsyncIOTesting
import HTTPTypes
import InMemoryTracing
import Instrumentation
import ServiceContextModule
import Tracing
import Testing
import W3CTraceContext

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

    /// The W3C example trace context (www.w3.org/TR/trace-context, section 3.2).
    static let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    static let tracestate = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
    /// How it goes on: the same members, written with a space after each comma (both are W3C syntax).
    static let tracestateForwarded = "congo=t61rcWkgMzE, rojo=00f067aa0ba902b7"

    /// A front server that calls a back server, both with `propagation`; the back server answers with
    /// the `traceparent` and `tracestate` fields it received (or `-`), the front with what its handler
    /// saw current and what the back server received.
    private static func chain(
        propagation: (any Instrument)?, _ body: @escaping @Sendable (HTTPClient, UInt16) async throws -> Void
    ) async throws {
        try await withTestLoop(virtualTime: false) { _ in
            var clientConfiguration = HTTPClient.Configuration()
            clientConfiguration.propagation = propagation
            var serverConfiguration = HTTPServer.Configuration()
            serverConfiguration.propagation = propagation
            try await withHTTPClient(configuration: clientConfiguration) { client in
                var back = HTTPRouter()
                back.get("/back") { request in
                    .text("\(request.head.headerFields[HTTPField.Name("traceparent")!] ?? "-") \(request.head.headerFields[HTTPField.Name("tracestate")!] ?? "-")")
                }
                let backServer = try await HTTPServer.start(host: "127.0.0.1", port: 0, configuration: serverConfiguration, handler: back.handler)
                var front = HTTPRouter()
                let backURL = "http://127.0.0.1:\(backServer.localAddress.port!)/back"
                front.get("/front") { _ in
                    let seen = ServiceContext.current?.w3cTraceContext?.traceParentHeaderValue ?? "-"
                    let inner = try await client.get(backURL)
                    return .text(seen + " | " + String(decoding: try await inner.body.collect(upTo: 1000), as: UTF8.self))
                }
                let frontServer = try await HTTPServer.start(host: "127.0.0.1", port: 0, configuration: serverConfiguration, handler: front.handler)
                try await body(client, frontServer.localAddress.port!)
                await frontServer.shutdown()
                await backServer.shutdown()
            }
        }
    }

    @Test func w3cTraceContextFromCurlIsCurrentInTheHandlerAndGoesOnWithItsCalls() async throws {
        try await Self.chain(propagation: W3CTraceContextPropagation()) { _, port in
            let curl = try ChildProcess.spawn("curl", arguments: [
                "-sS", "-H", "traceparent: \(Self.traceparent)", "-H", "tracestate: \(Self.tracestate)",
                "http://127.0.0.1:\(port)/front",
            ], stdout: .pipe, stderr: .pipe)
            let (output, errors) = try await curl.communicate()
            #expect(String(decoding: output, as: UTF8.self) == "\(Self.traceparent) | \(Self.traceparent) \(Self.tracestateForwarded)",
                    "\(String(decoding: errors, as: UTF8.self))")

            // A malformed traceparent (an all-zero trace id is invalid) is dropped, tracestate with it.
            let bad = try ChildProcess.spawn("curl", arguments: [
                "-sS", "-H", "traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                "-H", "tracestate: \(Self.tracestate)", "http://127.0.0.1:\(port)/front",
            ], stdout: .pipe, stderr: .pipe)
            let (badOutput, _) = try await bad.communicate()
            #expect(String(decoding: badOutput, as: UTF8.self) == "- | - -")
        }
    }

    @Test func theCallersContextGoesOutWithTheClientsRequests() async throws {
        try await Self.chain(propagation: W3CTraceContextPropagation()) { client, port in
            let trace = try TraceContext(traceParentHeaderValue: Self.traceparent, traceStateHeaderValue: Self.tracestate)
            var context = ServiceContext.topLevel
            context.w3cTraceContext = trace
            let response = try await ServiceContext.withValue(context) {
                try await client.get("http://127.0.0.1:\(port)/front")
            }
            #expect(String(decoding: try await response.body.collect(upTo: 1000), as: UTF8.self)
                    == "\(Self.traceparent) | \(Self.traceparent) \(Self.tracestateForwarded)")
            // Outside the context, nothing goes out.
            let plain = try await client.get("http://127.0.0.1:\(port)/front")
            #expect(String(decoding: try await plain.body.collect(upTo: 1000), as: UTF8.self) == "- | - -")
        }
    }

    @Test func withoutPropagationTheTraceContextIsNotRead() async throws {
        try await Self.chain(propagation: nil) { client, port in
            #expect(client.propagation == nil)
            var fields = HTTPFields()
            fields[HTTPField.Name("traceparent")!] = Self.traceparent
            let response = try await client.get("http://127.0.0.1:\(port)/front", headerFields: fields)
            #expect(String(decoding: try await response.body.collect(upTo: 1000), as: UTF8.self) == "- | - -")
        }
    }
}

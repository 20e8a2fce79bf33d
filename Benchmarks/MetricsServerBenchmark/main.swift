// The HTTP server (or, with `echo`, a TCP echo server) with and without swift-metrics, for the overhead
// figures of issue 16: the loop's metrics and, for HTTP, the server's.
//   MetricsServerBenchmark PORT none|noop|memory|testkit [http|echo]
// `none` records nothing (the default configuration), `noop` records into swift-metrics' no-op backend
// (what a program that never bootstraps a backend gets when it turns metrics on), `memory` into an
// in-memory backend that aggregates as Prometheus's client does (atomic counters, a fixed histogram
// per timer), and `testkit` into MetricsTestKit's (every value kept in arrays behind locks: a test
// tool, not a production backend). Serves `Hello, World!` on every path; prints `listening on
// HOST:PORT`. Benchmarks/ab-http.py runs them in one interleaved run.
import AsyncIO
import AsyncIOHTTP
import CoreMetrics
import MetricsTestKit
import Synchronization

/// Counters and gauges as atomics, timers and recorders as histograms (powers of 2) behind a lock, as
/// swift-prometheus keeps its histograms.
final class AggregatingMetrics: MetricsFactory {
    final class Value: CounterHandler, FloatingPointCounterHandler, MeterHandler, RecorderHandler, TimerHandler, Sendable {
        let total = Atomic<Int64>(0)
        let buckets = Mutex([Int64](repeating: 0, count: 64))
        func increment(by amount: Int64) { total.add(amount, ordering: .relaxed) }
        func increment(by amount: Double) { total.add(Int64(amount), ordering: .relaxed) }
        func reset() { total.store(0, ordering: .relaxed) }
        func set(_ value: Int64) { total.store(value, ordering: .relaxed) }
        func set(_ value: Double) { total.store(Int64(value), ordering: .relaxed) }
        func decrement(by amount: Double) { total.subtract(Int64(amount), ordering: .relaxed) }
        func record(_ value: Int64) {
            let index = max(0, 63 - value.leadingZeroBitCount)
            buckets.withLock { $0[index] += 1 }
        }
        func record(_ value: Double) { record(Int64(value)) }
        func recordNanoseconds(_ duration: Int64) { record(duration) }
    }
    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler { Value() }
    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler { Value() }
    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler { Value() }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler { Value() }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { Value() }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    func destroyMeter(_ handler: any MeterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}

let arguments = CommandLine.arguments
let port = UInt16(arguments.count > 1 ? arguments[1] : "0") ?? 0
let mode = arguments.count > 2 ? arguments[2] : "none"
let echo = arguments.count > 3 && arguments[3] == "echo"
let factory: (any MetricsFactory)? = switch mode {
case "noop": NOOPMetricsHandler.instance
case "memory": AggregatingMetrics()
case "testkit": TestMetrics()
default: nil
}
var configuration = HTTPServer.Configuration()
configuration.metrics = factory.map { HTTPServerMetrics(factory: $0) }
let settings = configuration
let hello = HTTPServerResponse(headerFields: [.contentType: "text/plain"], body: HTTPBody("Hello, World!"))
try EventLoop.run { loop in
    if let factory { try loop.enableMetrics(EventLoopMetrics(factory: factory)) }
    if echo {
        let server = try await startServer(host: "127.0.0.1", port: port) { reader, writer in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
            defer { buffer.deallocate() }
            while true {
                let count = try await reader.read(into: buffer)
                if count == 0 { return }
                // SAFETY: the first `count` bytes were just written by the read.
                try await writer.write(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            }
        }
        StandardStreams.printLine("listening on \(server.localAddress)")
        try await server.serveForever()
    } else {
        let server = try await HTTPServer.start(host: "127.0.0.1", port: port, configuration: settings) { _ in hello }
        StandardStreams.printLine("listening on \(server.localAddress)")
        try await server.run()
    }
}

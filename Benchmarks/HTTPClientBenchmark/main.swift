import AsyncIO
import AsyncIOHTTP
import AsyncIOSystem
import HTTPTypes

// HTTPClientBenchmark URL REQUESTS CONCURRENCY: REQUESTS GETs over keep-alive with AsyncIO's
// HTTPClient, CONCURRENCY in flight, each body collected. Prints {"requests", "seconds",
// "cpu_seconds"} as JSON, like the peers in Benchmarks/peers (run-client-benchmarks.py runs them all).
let arguments = CommandLine.arguments
guard arguments.count == 4, let total = Int(arguments[2]), let concurrency = Int(arguments[3]), concurrency > 0 else {
    StandardStreams.printError("usage: HTTPClientBenchmark URL REQUESTS CONCURRENCY")
    exitImmediately(2)
}
let url = arguments[1]

try EventLoop.run { loop in
    var configuration = HTTPClient.Configuration()
    configuration.maxConnectionsPerHost = concurrency
    try await withHTTPClient(configuration: configuration) { client in
        func run(_ count: Int) async throws {
            try await withThrowingDiscardingTaskGroup { group in
                for _ in 0..<concurrency {
                    group.addTask(executorPreference: loop) {
                        for _ in 0..<(count / concurrency) {
                            let response = try await client.get(url)
                            precondition(response.status == .ok, "status \(response.status)")
                            _ = try await response.body.collect(upTo: 1 << 20)
                        }
                    }
                }
            }
        }
        try await run(min(total, 1000))  // warm-up: connections and code paths
        let cpuStart = ProcessStats.cpuSeconds()
        let start = loop.now
        try await run(total)
        let elapsed = start.duration(to: loop.now)
        let cpu = ProcessStats.cpuSeconds() - cpuStart
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("{\"requests\": \(total), \"seconds\": \(seconds), \"cpu_seconds\": \(cpu)}")
    }
}

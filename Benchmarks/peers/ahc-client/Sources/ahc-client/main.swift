import AsyncHTTPClient
import Foundation
import NIOSSL

// ahc-client URL REQUESTS CONCURRENCY: REQUESTS GETs over keep-alive, CONCURRENCY in flight, each
// body collected. Prints {"requests", "seconds", "cpu_seconds"} as JSON.
let arguments = CommandLine.arguments
let url = arguments[1]
let total = Int(arguments[2])!
let concurrency = Int(arguments[3])!

var configuration = HTTPClient.Configuration()
configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: concurrency)
// HTTPS runs: trust the run's certificate (BoringSSL does not read SSL_CERT_FILE).
if let caFile = ProcessInfo.processInfo.environment["BENCH_CA_FILE"] {
    var tls = TLSConfiguration.makeClientConfiguration()
    tls.trustRoots = .file(caFile)
    configuration.tlsConfiguration = tls
}
let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

func run(_ count: Int) async throws {
    let perWorker = count / concurrency
    try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<concurrency {
            group.addTask {
                for _ in 0..<perWorker {
                    let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
                    guard response.status == .ok else { fatalError("status \(response.status)") }
                    _ = try await response.body.collect(upTo: 1 << 20)
                }
            }
        }
        try await group.waitForAll()
    }
}

try await run(min(total, 1000))  // warm-up: connections and code paths
let cpuStart = cpuSeconds()
let start = Date()
try await run(total)
let seconds = Date().timeIntervalSince(start)
let cpu = cpuSeconds() - cpuStart
print("{\"requests\": \(total), \"seconds\": \(seconds), \"cpu_seconds\": \(cpu)}")
try await client.shutdown()

import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import Foundation
import Testing

/// Long or heavy runs, for local use: `AIO_SOAK=1 swift test --filter EchoSoakTests`. CI does not set
/// the flag (they need tens of thousands of descriptors and minutes of CPU).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["AIO_SOAK"] == "1", "set AIO_SOAK=1 to run"),
       .timeLimit(.minutes(10)))
struct EchoSoakTests {
    /// c10k: 10,000 concurrent connections to one `aio echo` loop, each echoing a message, all open at
    /// once; records the server's peak RSS.
    @Test func tenThousandConcurrentConnectionsOnOneLoop() async throws {
        let limit = ResourceLimits.raiseOpenFileLimit(to: 30_000)
        try #require(limit >= 12_000, "needs RLIMIT_NOFILE >= 12000 in this process and in aio (have \(limit))")
        let server = AioProcess(["echo", "--port", "0"])
        _ = try await server.startServer()
        let port = server.port
        let baseline = server.openFileDescriptors
        let connections = 10_000
        try await withTestLoop(virtualTime: false) { _ in
            var clients: [(StreamReader, StreamWriter)] = []
            clients.reserveCapacity(connections)
            for _ in 0..<connections { clients.append(try await openConnection(host: "127.0.0.1", port: port)) }
            #expect(server.openFileDescriptors >= baseline + connections)
            try await withThrowingDiscardingTaskGroup { group in
                for (index, (reader, writer)) in clients.enumerated() {
                    group.addTask {
                        let message = Array("connection \(index)\n".utf8)
                        try await writer.write(message)
                        let echoed = try await reader.readLine()
                        precondition(echoed == message, "connection \(index) got \(echoed.count) bytes back")
                    }
                }
            }
            print("c10k: \(connections) connections echoed; server VmRSS \(server.residentKiB) KiB, VmHWM \(server.peakResidentKiB) KiB")
            for (reader, writer) in clients {
                writer.writeEOF()
                _ = try await reader.readToEnd()
                writer.abort()
            }
        }
        #expect(server.openFileDescriptors == baseline)
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }
}

import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import AsyncIOTLS
import Foundation
import Testing

/// TLS under load, for local use: `AIO_SOAK=1 swift test --filter TLSSoakTests`. CI does not set the
/// flag (tens of thousands of handshakes take minutes of CPU on two cores).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["AIO_SOAK"] == "1", "set AIO_SOAK=1 to run"),
       .timeLimit(.minutes(15)))
struct TLSSoakTests {
    private func startServer(_ pki: TestPKI) async throws -> AioProcess {
        let server = AioProcess(["echo", "--port", "0", "--tls-cert", pki.path("chain.pem"), "--tls-key", pki.path("leaf.key")])
        _ = try await server.startServer()
        return server
    }

    private func clientContext(_ pki: TestPKI) throws -> TLSContext {
        var configuration = TLSConfiguration.client()
        configuration.trustRoots = .none
        configuration.additionalTrustRoots = [.file(pki.path("ca.pem"))]
        configuration.sessionResumption = false  // every handshake is a full one
        return try TLSContext(configuration)
    }

    /// Waits (bounded) for the server's descriptors to come back to `baseline`, and returns the count.
    private func settledDescriptors(_ server: AioProcess, baseline: Int, on loop: EventLoop) async throws -> Int {
        for _ in 0..<500 where server.openFileDescriptors != baseline {
            try await loop.sleep(for: .milliseconds(10))
        }
        return server.openFileDescriptors
    }

    /// 15,000 connections, 200 at a time: half complete a handshake and an echo, half abort in the middle
    /// of it (a partial ClientHello, or a full one and then a close before the server's reply is read).
    /// The server's descriptors come back to their baseline and its RSS stays within 32 MiB of where it
    /// started (asyncio and uvloop leaked here).
    @Test func fifteenThousandConnectionsHalfAbortedMidHandshake() async throws {
        let pki = try await TestPKI.shared()
        let server = try await startServer(pki)
        let port = server.port
        let baselineDescriptors = server.openFileDescriptors
        let baselineRSS = server.residentKiB
        let context = try clientContext(pki)
        let partialHello: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03] + Array(repeating: 7, count: 32)
        let total = 15_000, batch = 200
        let started = ContinuousClock.now
        try await withTestLoop(virtualTime: false) { loop in
            for first in stride(from: 0, to: total, by: batch) {
                try await withThrowingDiscardingTaskGroup { group in
                    for index in first..<min(first + batch, total) {
                        group.addTask(executorPreference: loop) {
                            switch index % 4 {
                            case 0, 2:
                                let (reader, writer) = try await openConnection(host: "localhost", port: port, tls: context)
                                try await writer.write("connection \(index)\n")
                                let echoed = try await reader.readLine()
                                precondition(echoed == Array("connection \(index)\n".utf8), "connection \(index) got a wrong echo")
                                await writer.close()
                            case 1:
                                let socket = try await loop.connect(host: "127.0.0.1", port: port)
                                try await loop.sendAll(socket, partialHello)
                                socket.close()
                            default:
                                let socket = try await loop.connect(host: "127.0.0.1", port: port)
                                let handshake = loop.spawn {
                                    try await TLSStream.connect(over: socket, context: context, serverName: "localhost")
                                }
                                try await loop.sleep(for: .microseconds(200))  // the ClientHello is out
                                handshake.cancel()
                                _ = try? await handshake.value
                            }
                        }
                    }
                }
            }
            let descriptors = try await settledDescriptors(server, baseline: baselineDescriptors, on: loop)
            #expect(descriptors == baselineDescriptors)
            #expect(context.liveStreamCount == 0)
        }
        let elapsed = ContinuousClock.now - started
        let rss = server.residentKiB
        print("TLS soak: \(total) connections (\(total / 2) aborted mid-handshake) in \(elapsed); server fds \(baselineDescriptors) -> \(server.openFileDescriptors); VmRSS \(baselineRSS) -> \(rss) KiB, VmHWM \(server.peakResidentKiB) KiB")
        #expect(rss - baselineRSS < 32 * 1024)
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }

    /// What an idle TLS connection costs the server: 10,000 connections handshaken, each echoing once,
    /// then left open and idle; the server's RSS growth divided by the count.
    @Test func idleTLSConnectionMemory() async throws {
        let limit = ResourceLimits.raiseOpenFileLimit(to: 30_000)
        try #require(limit >= 12_000, "needs RLIMIT_NOFILE >= 12000 in this process and in aio (have \(limit))")
        let pki = try await TestPKI.shared()
        let server = try await startServer(pki)
        let port = server.port
        let context = try clientContext(pki)
        let connections = 10_000
        // Warm up the allocator and OpenSSL's tables with one connection first.
        let baselineRSS: Int = try await withTestLoop(virtualTime: false) { _ in
            let (reader, writer) = try await openConnection(host: "localhost", port: port, tls: context)
            try await writer.write("warm\n")
            _ = try await reader.readLine()
            await writer.close()
            return server.residentKiB
        }
        try await withTestLoop(virtualTime: false) { loop in
            var clients: [(StreamReader, StreamWriter)] = []
            clients.reserveCapacity(connections)
            for first in stride(from: 0, to: connections, by: 100) {
                try await withThrowingTaskGroup(of: (StreamReader, StreamWriter).self) { group in
                    for index in first..<first + 100 {
                        group.addTask(executorPreference: loop) {
                            let (reader, writer) = try await openConnection(host: "localhost", port: port, tls: context)
                            try await writer.write("idle \(index)\n")
                            _ = try await reader.readLine()
                            return (reader, writer)
                        }
                    }
                    for try await client in group { clients.append(client) }
                }
            }
            let rss = server.residentKiB
            let perConnection = Double(rss - baselineRSS) / Double(connections)
            print("idle TLS: \(connections) connections; server VmRSS \(baselineRSS) -> \(rss) KiB: \(String(format: "%.1f", perConnection)) KiB per idle TLS connection")
            #expect(perConnection <= 24)
            for (_, writer) in clients { writer.abort() }
        }
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }
}

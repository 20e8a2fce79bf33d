import AsyncIO
import AsyncIOTesting
import Foundation
import Testing

/// `aio echo` end to end, against CONTRACT.md: a real process, real sockets, real signals.
// Generous limits: under the thread sanitizer the multi-megabyte echoes take minutes.
@Suite(.timeLimit(.minutes(5)))
struct EchoCommandTests {
    enum API: String, CaseIterable, Sendable { case streams, sockets }

    @Test(arguments: API.allCases)
    func echoesEveryByteInOrderThenClosesAfterHalfClose(api: API) async throws {
        let server = AioProcess(["echo", "--port", "0", "--api", api.rawValue])
        let line = try await server.startServer()
        #expect(line == "listening on 127.0.0.1:\(server.port)")
        let port = server.port
        try await withTestLoop(virtualTime: false) { loop in
            for size in [1, 1000, isThreadSanitized ? 256 * 1024 : 4 * 1024 * 1024] {
                let (reader, writer) = try await openConnection(host: "127.0.0.1", port: port)
                let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
                let sender = loop.spawn {
                    try await writer.write(payload)
                    writer.writeEOF()
                }
                let echoed = try await reader.readToEnd(limit: size)
                #expect(echoed == payload)  // and readToEnd returning means the server closed after echoing
                try await sender.value
                writer.abort()
            }
        }
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }

    @Test(arguments: API.allCases)
    func aResettingClientDoesNotDisturbOthers(api: API) async throws {
        let server = AioProcess(["echo", "--port", "0", "--api", api.rawValue])
        _ = try await server.startServer()
        let port = server.port
        try await withTestLoop(virtualTime: false) { _ in
            let (steadyReader, steadyWriter) = try await openConnection(host: "127.0.0.1", port: port)
            for _ in 0..<20 {
                let (_, rude) = try await openConnection(host: "127.0.0.1", port: port)
                try await rude.write([UInt8](repeating: 1, count: 100_000))
                rude.abort()  // unread data at close: the kernel sends RST
            }
            try await steadyWriter.write(Array("still here\n".utf8))
            #expect(try await steadyReader.readLine() == Array("still here\n".utf8))
            steadyWriter.abort()
        }
        server.signal(SIGINT)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
        // A reset is the client's end, not the server's error: nothing is logged for it (one error line
        // per reset connection flooded stderr under load).
        let (_, _, stderr) = try await server.runToEnd()
        #expect(!stderr.contains("connection handler failed"), "\(stderr.prefix(300))")
    }

    /// A client that writes but never reads: the server stops reading from it, so its memory stays
    /// bounded however much the client tries to send.
    @Test(arguments: API.allCases)
    func aClientThatNeverReadsCannotGrowTheServer(api: API) async throws {
        let server = AioProcess(["echo", "--port", "0", "--api", api.rawValue])
        _ = try await server.startServer()
        let port = server.port
        let before = server.residentKiB
        let sent = try await withTestLoop(virtualTime: false) { loop in
            let (_, writer) = try await openConnection(host: "127.0.0.1", port: port)
            let chunk = [UInt8](repeating: 42, count: 64 * 1024)
            var sent = 0
            // The client's writes stall once every buffer on the way is full; two seconds without
            // progress is plenty on loopback.
            do {
                try await withTimeout(.seconds(2)) {
                    while sent < 512 * 1024 * 1024 {
                        try await writer.write(chunk)
                        sent += chunk.count
                    }
                }
            } catch is TimeoutError {}
            writer.abort()
            return sent
        }
        let after = server.residentKiB
        #expect(sent < 64 * 1024 * 1024, "the server kept reading: \(sent) bytes went through")
        #expect(after - before < 16 * 1024, "server RSS grew from \(before) KiB to \(after) KiB")
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }

    @Test func descriptorsReturnToTheirBaselineAfterClientsLeave() async throws {
        let server = AioProcess(["echo", "--port", "0"])
        _ = try await server.startServer()
        let port = server.port
        let baseline = server.openFileDescriptors
        try await withTestLoop(virtualTime: false) { _ in
            var clients: [(StreamReader, StreamWriter)] = []
            for _ in 0..<200 { clients.append(try await openConnection(host: "127.0.0.1", port: port)) }
            for (reader, writer) in clients {
                try await writer.write([7])
                #expect(try await reader.read(exactly: 1) == [7])
            }
            #expect(server.openFileDescriptors >= baseline + 200)
            for (reader, writer) in clients {
                writer.writeEOF()
                _ = try await reader.readToEnd()  // the server closed its side
                writer.abort()
            }
        }
        #expect(server.openFileDescriptors == baseline)
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }

    @Test func sigtermWithOpenConnectionsExitsZeroWithinFiveSeconds() async throws {
        let server = AioProcess(["echo", "--port", "0"])
        _ = try await server.startServer()
        let port = server.port
        try await withTestLoop(virtualTime: false) { _ in
            let (reader, writer) = try await openConnection(host: "127.0.0.1", port: port)
            try await writer.write([1])
            _ = try await reader.read(exactly: 1)
            server.signal(SIGTERM)
            // The server closes the connection: we read end of stream. Within 5 s: a server whose idle
            // reads do not end when it stops would leave this read waiting for the suite's time limit.
            let rest = try await withTimeout(.seconds(5)) { try await reader.readToEnd() }
            #expect(rest.isEmpty)
            writer.abort()
        }
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }

    @Test func portInUseExitsOneWithAClearMessage() async throws {
        let first = AioProcess(["echo", "--port", "0"])
        _ = try await first.startServer()
        let (code, _, stderr) = try await AioProcess(["echo", "--port", String(first.port)]).runToEnd()
        #expect(code == 1)
        #expect(stderr.contains("address in use"))
        first.signal(SIGTERM)
        #expect(await first.waitForExit(timeout: .seconds(5)) == 0)
    }

    @Test func badFlagsExitTwo() async throws {
        let (code, _, stderr) = try await AioProcess(["echo", "--no-such-flag"]).runToEnd()
        #expect(code == 2)
        #expect(stderr.contains("--no-such-flag"))
        let (loopsCode, _, _) = try await AioProcess(["echo", "--loops", "0"]).runToEnd()
        #expect(loopsCode == 2)
        let (apiCode, _, _) = try await AioProcess(["echo", "--api", "carrier-pigeon"]).runToEnd()
        #expect(apiCode == 2)
    }

    @Test func severalLoopsShareThePort() async throws {
        let server = AioProcess(["echo", "--port", "0", "--loops", "3"])
        _ = try await server.startServer()
        let port = server.port
        try await withTestLoop(virtualTime: false) { _ in
            for i in 0..<30 {
                let (reader, writer) = try await openConnection(host: "127.0.0.1", port: port)
                try await writer.write([UInt8(i)])
                #expect(try await reader.read(exactly: 1) == [UInt8(i)])
                writer.abort()
            }
        }
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }
}

/// Out of descriptors (EMFILE on accept): the server must neither spin nor die, and must serve again
/// once descriptors free up.
@Suite(.timeLimit(.minutes(2)))
struct EchoOutOfDescriptorsTests {
    @Test func acceptAtTheDescriptorLimitBacksOffAndRecovers() async throws {
        // prlimit (util-linux) starts the server with room for only a few connections.
        let server = AioProcess(["echo", "--port", "0"], launcher: "/usr/bin/prlimit", launcherArguments: ["--nofile=24:24"])
        _ = try await server.startServer()
        let port = server.port
        try await withTestLoop(virtualTime: false) { loop in
            var clients: [(StreamReader, StreamWriter)] = []
            // More connections than the server can accept: the kernel completes them (backlog), the
            // server's accept fails with EMFILE.
            for _ in 0..<40 { clients.append(try await openConnection(host: "127.0.0.1", port: port)) }
            let cpuBefore = server.cpuTicks
            // Give the server a second of real time at the limit; a spinning accept loop would burn it all.
            try? await withTimeout(.seconds(1)) { try await loop.sleep(for: .seconds(10)) }
            let cpuUsed = server.cpuTicks - cpuBefore
            #expect(cpuUsed < 30, "the server used \(cpuUsed) ticks of CPU in one second at the descriptor limit")
            // Free the first 30 connections: the last 10 now fit under the limit and get served.
            for (_, writer) in clients.prefix(30) { writer.abort() }
            for (reader, writer) in clients.suffix(5) {
                try await writer.write([9])
                let echoed = try await withTimeout(.seconds(5)) { try await reader.read(exactly: 1) }
                #expect(echoed == [9])
            }
            for (_, writer) in clients { writer.abort() }
        }
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }
}

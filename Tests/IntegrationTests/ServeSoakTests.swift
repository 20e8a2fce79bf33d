import AsyncIO
import AsyncIOHTTP
import AsyncIOTesting
import Foundation
import Testing

/// Long or heavy runs of `aio serve`, for local use: `AIO_SOAK=1 swift test --filter ServeSoakTests`.
/// CI does not set the flag (it needs tens of thousands of descriptors).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["AIO_SOAK"] == "1", "set AIO_SOAK=1 to run"),
       .timeLimit(.minutes(10)))
struct ServeSoakTests {
    /// 10,000 keep-alive clients (the default connection limit), all open at once, each making two
    /// requests on its connection. (That no descriptor or registration outlives its connection is checked
    /// by the HTTP server tests' leak-checking loop.)
    @Test func tenThousandKeepAliveClients() async throws {
        let limit = ResourceLimits.raiseOpenFileLimit(to: 30_000)
        try #require(limit >= 12_000, "needs RLIMIT_NOFILE >= 12000 in this process and in aio (have \(limit))")
        let server = AioProcess(["serve", "--port", "0"])
        _ = try await server.startServer()
        let port = server.port
        let baseline = server.openFileDescriptors
        let connections = 10_000
        try await withTestLoop(virtualTime: false) { loop in
            var clients: [(StreamReader, StreamWriter)] = []
            clients.reserveCapacity(connections)
            for _ in 0..<connections { clients.append(try await openConnection(host: "127.0.0.1", port: port)) }
            try await withThrowingDiscardingTaskGroup { group in
                for (index, (reader, writer)) in clients.enumerated() {
                    group.addTask(executorPreference: loop) {
                        for round in 0..<2 {
                            try await writer.write("GET /anything?c=\(index)&r=\(round) HTTP/1.1\r\nHost: soak\r\n\r\n")
                            var parser = HTTPParser(.response)
                            var body: [UInt8] = []
                            var done = false
                            while !done {
                                done = try reader.withBufferedBytes { buffer in
                                    var consumed = 0
                                    while true {
                                        let base = consumed
                                        let (count, event) = try parser.parse(UnsafeRawBufferPointer(rebasing: buffer[consumed...]))
                                        consumed += count
                                        switch event {
                                        case .body(let range): body += buffer[(base + range.lowerBound)..<(base + range.upperBound)]
                                        case .end: return (consumed, true)
                                        case nil: return (consumed, false)
                                        default: continue
                                        }
                                    }
                                }
                                if !done {
                                    let more = try await reader.receiveMore()
                                    precondition(more, "connection \(index) closed early")
                                }
                            }
                            let text = String(decoding: body, as: UTF8.self)
                            precondition(text.contains("\"c\": \"\(index)\""), "connection \(index) got the wrong answer")
                        }
                    }
                }
            }
            #expect(server.openFileDescriptors >= baseline + connections)  // all open at once
            print("serve soak: \(connections) keep-alive clients, 2 requests each; server VmRSS \(server.residentKiB) KiB, "
                + "VmHWM \(server.peakResidentKiB) KiB")
            for (_, writer) in clients { writer.abort() }
        }
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }
}

@testable import AsyncIOHTTP
import AsyncIO
import AsyncIOTesting
import HTTPTypes
import Logging
import ServiceLifecycle
import Testing

/// Issue 16: the servers as swift-service-lifecycle services, run by a `ServiceGroup` on the loop.
@Suite("Service lifecycle", .timeLimit(.minutes(1)))
struct ServiceLifecycleTests {
    /// A graceful shutdown stops accepting at once and lets the request in flight finish; then the
    /// group's run returns.
    @Test func aGracefulShutdownLetsTheRequestInFlightFinish() async throws {
        try await withTestLoop(virtualTime: false) { loop in
            let entered = Event(), gate = Event()
            var router = HTTPRouter()
            router.get("/wait") { _ in
                entered.set()
                try await gate.wait()
                return .text("finished")
            }
            let server = try await HTTPServer.start(host: "127.0.0.1", port: 0, handler: router.handler)
            let port = server.localAddress.port!
            let group = ServiceGroup(services: [server], logger: Logger(label: "test"))
            let running = loop.spawn { try await group.run() }
            let client = try await TestClient(port: port)
            try await client.send(get("/wait"))
            try await entered.wait()
            await group.triggerGracefulShutdown()
            // The group reaches the server's handler through its own tasks (and may hop threads):
            // wait for the shutdown itself, yielding, not for a quiet loop.
            for _ in 0..<1_000_000 where !server.isShuttingDown { await Task.yield() }
            #expect(server.isShuttingDown)
            await #expect { _ = try await openConnection(host: "127.0.0.1", port: port) } throws: {
                ($0 as? StreamError)?.code == .refused
            }
            gate.set()
            let response = try await client.response()
            #expect(response?.status == 200)
            #expect(response?.text == "finished")
            client.close()
            try await running.value
            #expect(server.connectionCount == 0)
        }
    }

    /// Cancelling the service's run (what a group does when its graceful shutdown times out) closes
    /// every connection at once.
    @Test func cancellingRunClosesEveryConnection() async throws {
        try await withTestLoop(virtualTime: false) { loop in
            let entered = Event()
            var router = HTTPRouter()
            router.get("/forever") { _ in
                entered.set()
                try await Event().wait()  // never set: only cancellation ends it
                return .text("unreachable")
            }
            let server = try await HTTPServer.start(host: "127.0.0.1", port: 0, handler: router.handler)
            let running = loop.spawn { try await server.run() }
            let client = try await TestClient(port: server.localAddress.port!)
            try await client.send(get("/forever"))
            try await entered.wait()
            running.cancel()
            _ = await running.result
            #expect(await client.isClosedByServer())
            #expect(server.connectionCount == 0)
        }
    }

    /// A stream server: a graceful shutdown closes the listener; an open connection carries on to its
    /// end, then the group's run returns.
    @Test func aStreamServerStopsAcceptingAndOpenConnectionsCarryOn() async throws {
        try await withTestLoop(virtualTime: false) { loop in
            let server = try await startServer(host: "127.0.0.1", port: 0) { reader, writer in
                while true {
                    let line = try await reader.readLine()
                    if line.isEmpty { return }
                    try await writer.write(line)
                }
            }
            let port = server.localAddress.port!
            let group = ServiceGroup(services: [server], logger: Logger(label: "test"))
            let running = loop.spawn { try await group.run() }
            let (reader, writer) = try await openConnection(host: "127.0.0.1", port: port)
            try await writer.write("before\n")
            #expect(try await reader.readLine() == Array("before\n".utf8))
            await group.triggerGracefulShutdown()
            for _ in 0..<1_000_000 where server.isServing { await Task.yield() }
            #expect(!server.isServing)
            try await writer.write("after the shutdown began\n")
            #expect(try await reader.readLine() == Array("after the shutdown began\n".utf8))
            await writer.close()
            try await running.value
        }
    }
}

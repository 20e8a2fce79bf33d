import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import Testing

@Suite(.timeLimit(.minutes(1)))
struct DatagramSocketTests {
    @Test func datagramsRoundTrip() async throws {
        try await withTestLoop { loop in
            let server = try DatagramSocket.bind(host: "127.0.0.1", port: 0)
            let client = try DatagramSocket.bind(host: "127.0.0.1", port: 0)
            let serverAddress = try #require(server.localAddress)
            let echo = loop.spawn {
                for try await datagram in server.datagrams {
                    try await server.send(datagram.bytes.reversed(), to: datagram.sender)
                }
            }
            for message in ["one", "two", "three"] {
                try await client.send(Array(message.utf8), to: serverAddress)
                let reply = try await client.receive()
                #expect(reply.bytes == Array(message.utf8).reversed())
                #expect(reply.sender == serverAddress)
            }
            server.close()
            try await echo.value  // the sequence ends when the socket closes
            client.close()
        }
    }
}

@Suite(.timeLimit(.minutes(1)))
struct ConnectionTests {
    @Test func startServerAndOpenConnectionTalk() async throws {
        try await withTestLoop(virtualTime: false) { _ in
            let server = try await startServer(host: "127.0.0.1", port: 0) { reader, writer in
                let line = try await reader.readLine()
                try await writer.write(Array("已收到: ".utf8) + line)
            }
            let port = try #require(server.localAddress.port)
            let (reader, writer) = try await openConnection(host: "127.0.0.1", port: port)
            try await writer.write("hello\n")
            #expect(String(decoding: try await reader.readToEnd(), as: UTF8.self) == "已收到: hello\n")
            writer.abort()
            server.close()
            await server.waitClosed()
        }
    }

    /// `localhost` resolves to 127.0.0.1 and ::1; a server on 127.0.0.1 only refuses the IPv6 attempt and
    /// happy eyeballs moves on to the one that answers.
    @Test func happyEyeballsFallsBackPastARefusedAddress() async throws {
        try await withTestLoop(virtualTime: false) { _ in
            let server = try await startServer(host: "127.0.0.1", port: 0) { _, writer in try await writer.write("hi") }
            let port = try #require(server.localAddress.port)
            let (reader, writer) = try await openConnection(host: "localhost", port: port)
            #expect(try await reader.readToEnd() == Array("hi".utf8))
            writer.abort()
            server.close()
            await server.waitClosed()
        }
    }

    @Test func unixServerAndConnection() async throws {
        try await withTestLoop(virtualTime: false) { _ in
            let path = "/tmp/aio-unix-\(UInt64.random(in: 0...UInt64.max)).sock"
            let server = try startUnixServer(path: path) { reader, writer in
                try await writer.write(try await reader.read(exactly: 3))
            }
            let (reader, writer) = try await openUnixConnection(path: path)
            try await writer.write([1, 2, 3])
            #expect(try await reader.read(exactly: 3) == [1, 2, 3])
            writer.abort()
            server.close()
            await server.waitClosed()
        }
    }

    @Test func closeClientsCancelsConnectionsAndWaitClosedReturns() async throws {
        try await withTestLoop(virtualTime: false) { _ in
            let server = try await startServer(host: "127.0.0.1", port: 0) { reader, writer in
                try await writer.write(try await reader.read(exactly: 1))
                _ = try await reader.readToEnd()  // waits forever for a client that never ends
            }
            let port = try #require(server.localAddress.port)
            let (reader, writer) = try await openConnection(host: "127.0.0.1", port: port)
            try await writer.write([1])
            #expect(try await reader.read(exactly: 1) == [1])  // the handler has consumed what we sent
            server.closeClients()
            await server.waitClosed()
            #expect(try await reader.readToEnd().isEmpty)  // the server closed our connection
            #expect(!server.isServing)
            writer.abort()
        }
    }

    @Test func unknownHostsFailWithTheHostInTheMessage() async throws {
        try await withTestLoop(virtualTime: false) { _ in
            do {
                _ = try await openConnection(host: "no-such-host.invalid", port: 80)
                Issue.record("resolved a .invalid name")
            } catch let error as StreamError {
                #expect(error.code == .resolution)
                #expect(error.description.contains("no-such-host.invalid"))
            }
        }
    }
}

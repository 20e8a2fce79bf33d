import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import Testing

@Suite(.timeLimit(.minutes(1)))
struct SocketTests {
    @Test func lowLevelEchoRoundTripOverTCP() async throws {
        try await withTestLoop { loop in
            let listener = try loop.listen(on: try SocketAddress(ip: "127.0.0.1", port: 0))
            let address = try #require(listener.localAddress)
            #expect(address.port != 0)
            let server = loop.spawn(name: "echo") {
                let connection = try await loop.accept(listener)
                defer { connection.close() }
                while true {
                    let bytes = try await loop.receive(connection, upTo: 1024)
                    if bytes.isEmpty { return }
                    try await loop.sendAll(connection, bytes)
                }
            }
            let client = try await loop.connect(to: address)
            try await loop.sendAll(client, Array("hello".utf8))
            var echoed: [UInt8] = []
            while echoed.count < 5 { echoed += try await loop.receive(client, upTo: 1024) }
            #expect(echoed == Array("hello".utf8))
            try client.shutdownWrite()
            #expect(try await loop.receive(client, upTo: 1024).isEmpty)
            try await server.value
            client.close()
            listener.close()
        }
    }

    @Test func connectToAClosedPortIsRefusedAndNamesTheAddress() async throws {
        try await withTestLoop { loop in
            // A port held by a bound socket that does not listen: connecting is refused, and no other test
            // (nor a self-connect of the client's ephemeral port) can take it meanwhile.
            let holder = try loop.makeSocket(family: 2 /* AF_INET */, kind: .stream)
            defer { holder.close() }
            try SocketOps.bind(holder.fd, to: try SocketAddress(ip: "127.0.0.1", port: 0))
            let address = try #require(holder.localAddress)
            do {
                _ = try await loop.connect(to: address)
                Issue.record("connect succeeded")
            } catch let error as StreamError {
                #expect(error.code == .refused)
                #expect(error.description.contains(address.description))
            }
        }
    }

    @Test func listeningTwiceOnOnePortSaysAddressInUse() async throws {
        try await withTestLoop { loop in
            let first = try loop.listen(on: try SocketAddress(ip: "127.0.0.1", port: 0))
            defer { first.close() }
            let address = try #require(first.localAddress)
            #expect(throws: StreamError.self) { try loop.listen(on: address) }
            do { _ = try loop.listen(on: address) } catch let error as StreamError {
                #expect(error.code == .addressInUse)
            }
        }
    }

    @Test func ipv6LoopbackWorks() async throws {
        try await withTestLoop { loop in
            let listener: Socket
            do { listener = try loop.listen(on: try SocketAddress(ip: "::1", port: 0)) } catch {
                return  // no IPv6 on this host: nothing to test
            }
            defer { listener.close() }
            let address = try #require(listener.localAddress)
            #expect(address.description.hasPrefix("[::1]:"))
            async let accepted = loop.accept(listener)
            let client = try await loop.connect(to: address)
            let server = try await accepted
            try await loop.sendAll(client, [1, 2, 3])
            #expect(try await loop.receive(server, upTo: 8) == [1, 2, 3])
            client.close()
            server.close()
        }
    }

    @Test func cancellingAcceptLeavesTheListenerUsable() async throws {
        try await withTestLoop { loop in
            let listener = try loop.listen(on: try SocketAddress(ip: "127.0.0.1", port: 0))
            defer { listener.close() }
            let waiting = loop.spawn { _ = try await loop.accept(listener) }
            try await loop.sleep(for: .zero)
            waiting.cancel()
            await #expect(throws: CancellationError.self) { try await waiting.value }
            let client = try await loop.connect(to: try #require(listener.localAddress))
            let server = try await loop.accept(listener)
            client.close()
            server.close()
        }
    }

    @Test func socketAddressesParseAndPrint() throws {
        #expect(try SocketAddress(ip: "10.1.2.3", port: 80).description == "10.1.2.3:80")
        #expect(try SocketAddress(ip: "::1", port: 443).description == "[::1]:443")
        #expect(throws: SocketAddressError.self) { try SocketAddress(ip: "example.com", port: 1) }
        #expect(throws: SocketAddressError.self) { try SocketAddress(unixPath: String(repeating: "x", count: 200)) }
    }
}

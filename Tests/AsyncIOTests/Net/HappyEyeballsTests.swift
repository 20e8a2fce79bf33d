@testable import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import Testing

@Suite(.timeLimit(.minutes(1)))
struct HappyEyeballsTests {
    /// The first address never answers (a listener whose accept queue is full drops the SYN); the second
    /// attempt starts 250 ms later (virtual time) and wins; the stalled attempt is cancelled and closed.
    @Test func theNextAttemptStartsAfterTheStaggerDelay() async throws {
        try await withTestLoop { loop in
            let blackhole = try loop.listen(on: try SocketAddress(ip: "127.0.0.1", port: 0), backlog: 0)
            defer { blackhole.close() }
            let blackholeAddress = try #require(blackhole.localAddress)
            // Fill the accept queue (backlog 0 admits one), so further SYNs are dropped.
            var fillers: [Socket] = []
            for _ in 0..<3 {
                let filler = try loop.makeSocket(family: 2, kind: .stream)
                _ = try? SocketOps.connect(filler.fd, to: blackholeAddress)
                fillers.append(filler)
            }
            defer { for filler in fillers { filler.close() } }
            let good = try loop.listen(on: try SocketAddress(ip: "127.0.0.1", port: 0))
            defer { good.close() }
            let goodAddress = try #require(good.localAddress)

            let start = loop.now
            let socket = try await happyEyeballs(loop: loop, addresses: [blackholeAddress, goodAddress])
            #expect(socket.peerAddress == goodAddress)
            #expect(start.duration(to: loop.now) == .milliseconds(250))
            socket.close()
            let accepted = try await loop.accept(good)
            accepted.close()
        }
    }

    @Test func aFailedAttemptStartsTheNextOneAtOnce() async throws {
        try await withTestLoop { loop in
            let holder = try loop.makeSocket(family: 2, kind: .stream)  // bound, not listening: refuses
            defer { holder.close() }
            try SocketOps.bind(holder.fd, to: try SocketAddress(ip: "127.0.0.1", port: 0))
            let refused = try #require(holder.localAddress)
            let good = try loop.listen(on: try SocketAddress(ip: "127.0.0.1", port: 0))
            defer { good.close() }
            let start = loop.now
            let socket = try await happyEyeballs(loop: loop, addresses: [refused, try #require(good.localAddress)])
            #expect(start.duration(to: loop.now) < .milliseconds(250))
            socket.close()
            let accepted = try await loop.accept(good)
            accepted.close()
        }
    }
}

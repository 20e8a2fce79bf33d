import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import Testing

/// Issue 17: a listener on the io_uring backend accepts through the ring (a multishot accept,
/// ``RingAcceptor``). Connections come in order, the acceptor pauses when nobody takes them, and
/// closing the listener closes the ones it held. (Out of descriptors, `EMFILE`: the accept test of
/// `SystemCallFaultTests` runs on io_uring in CI's second run, through the same seam.)
@Suite(.timeLimit(.minutes(1)), .enabled(if: BackendTests.ioURingAvailable, "this kernel refuses io_uring"))
struct RingAcceptTests {
    /// 150 connections made before the server accepts any: more than the acceptor holds (64), so it
    /// pauses and the backlog keeps the rest; every one is accepted once, in the order it connected.
    @Test func connectionsAreAcceptedInOrderThroughThePause() async throws {
        try await withTestLoop(virtualTime: false, backend: .ioURing) { loop in
            let listener = try loop.listen(on: .ipv4(address: (127, 0, 0, 1), port: 0), backlog: 511)
            let address = listener.localAddress!
            let first = loop.spawn { try await loop.accept(listener) }  // starts the accept in the ring
            var clients: [Socket] = []
            for index in 0..<150 {
                let client = try await loop.connect(to: address)
                try await loop.sendAll(client, [UInt8(index)])
                clients.append(client)
            }
            var servers = [try await first.value]
            #expect(listener.ringAcceptedCount != nil, "the listener accepts through the ring")
            await RingTesting.turn { (listener.ringAcceptedCount ?? 0) >= 64 }  // the acceptor fills up
            #expect(listener.ringAcceptedCount! < 100, "paused, the backlog holding the rest")
            for _ in 1..<150 { servers.append(try await loop.accept(listener)) }
            var order: [UInt8] = []
            for server in servers { order += try await loop.receive(server, upTo: 1) }
            #expect(order == (0..<150).map { UInt8($0) })
            for socket in servers + clients { socket.close() }
            listener.close()
        }
    }

    /// Connections the ring accepted that nobody took are closed with the listener: their clients read
    /// the end of the stream, and the test loop's leak check finds no descriptor left.
    @Test func closingTheListenerClosesWhatItHeld() async throws {
        try await withTestLoop(virtualTime: false, backend: .ioURing) { loop in
            let listener = try loop.listen(on: .ipv4(address: (127, 0, 0, 1), port: 0))
            let address = listener.localAddress!
            let first = loop.spawn { try await loop.accept(listener) }
            let taken = try await loop.connect(to: address)
            let server = try await first.value
            let clients = [try await loop.connect(to: address), try await loop.connect(to: address)]
            await RingTesting.turn { listener.ringAcceptedCount == 2 }
            listener.close()
            for client in clients {
                let received = try? await loop.receive(client, upTo: 10)
                #expect(received == nil || received == [], "the end of the stream (or a reset)")
                client.close()
            }
            server.close()
            taken.close()
        }
    }
}

import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import Testing

/// Issue 17: a stream socket on the ring sends through it (``RingSender``: one `IORING_OP_SEND` in the
/// ring at a time, a second buffer behind it). What must hold: bytes go out once and in order, whatever
/// the sizes; the end of the stream (half-close or close) comes after every byte handed over; `sendfile`
/// waits its turn; a connection that fails says so on a later write; nothing is left when the loop
/// closes with a send in the ring.
@Suite(.timeLimit(.minutes(1)), .enabled(if: BackendTests.ioURingAvailable, "this kernel refuses io_uring"))
struct RingSendTests {
    /// Writes of every size (a byte, many small ones, several larger than a send takes) while the peer
    /// reads slowly, then a half-close: the peer reads every byte once, in order, then the end; and the
    /// socket still receives after its half-close.
    @Test func writesArriveInOrderAndTheHalfCloseComesAfterThem() async throws {
        try await withTestLoop(virtualTime: false, backend: .ioURing) { loop in
            let (server, client) = try await RingTesting.connectedPair(on: loop)
            try RingTesting.startReceivingOnRing(server)
            #expect(server.sendsOnRing)
            let writer = StreamWriter(socket: server)
            let sizes = [1, 7, 100, 65_536, 65_537, 3, 200_000, 1, 4096, 131_072, 9]
            let expected = RingTesting.pattern(3, count: sizes.reduce(0, +))
            let sending = loop.spawn {
                var offset = 0
                for size in sizes {
                    try await writer.write(Array(expected[offset..<offset + size]))
                    offset += size
                }
                writer.writeEOF()
            }
            let reader = StreamReader(socket: client)
            var received: [UInt8] = []
            while true {
                let chunk = try await reader.read(upTo: 10_000)
                if chunk.isEmpty { break }
                received += chunk
                if received.count % 3 == 0 { await Task.yield() }
            }
            try await sending.value
            #expect(received.count == expected.count)
            #expect(received == expected)
            // Half-closed, not closed: the other direction still works.
            try await loop.sendAll(client, [42])
            #expect(try await StreamReader(socket: server).read(upTo: 10) == [42])
            server.close()
            client.close()
        }
    }

    /// A megabyte written to a peer that is not reading, then the writer closed: to the program the
    /// socket is closed at once (it no longer counts as registered), and the peer, reading later, gets
    /// every byte and then the end of the stream: closing drops nothing that was handed over.
    @Test func closingWithASendInTheRingDropsNothing() async throws {
        try await withTestLoop(virtualTime: false, backend: .ioURing) { loop in
            let (server, client) = try await RingTesting.connectedPair(on: loop)
            try RingTesting.startReceivingOnRing(server)
            let writer = StreamWriter(socket: server)
            let expected = RingTesting.pattern(5, count: 1 << 20)
            let before = loop.registrationCount
            let sending = loop.spawn {
                try await writer.write(expected)
                await writer.close()  // waits for its buffer, not for the ring
            }
            try await client.waitUntilReceivable()  // the first bytes are there: the rest waits for room
            try await sending.value
            #expect(server.isClosed)
            #expect(loop.registrationCount == before - 1)
            let received = try await StreamReader(socket: client).readToEnd(limit: 2 << 20)
            #expect(received == expected)
            client.close()
        }
    }

    /// `sendFile` after a write that is still in the ring goes after it; a write after it, after it.
    @Test func sendFileWaitsForTheSendInTheRing() async throws {
        try await withTestLoop(virtualTime: false, backend: .ioURing) { loop in
            let content = RingTesting.pattern(7, count: 300_000)
            let path = "/tmp/aio-ring-sendfile-\(UInt64.random(in: 0...UInt64.max)).bin"
            try await File.write(content, to: path)
            let file = try await File.open(path)
            let (server, client) = try await RingTesting.connectedPair(on: loop)
            try RingTesting.startReceivingOnRing(server)
            let writer = StreamWriter(socket: server)
            let head = RingTesting.pattern(8, count: 150_000)
            let sending = loop.spawn {
                try await writer.write(head)
                try await writer.sendFile(file, offset: 1000, count: content.count - 1000)
                try await writer.write(Array("tail".utf8))
                await writer.close()
            }
            let received = try await StreamReader(socket: client).readToEnd(limit: 1 << 20)
            try await sending.value
            #expect(received == head + Array(content[1000...]) + Array("tail".utf8))
            client.close()
            try await file.close()
            try await File.remove(path)
        }
    }

    /// The peer resets while the socket writes: a send in the ring fails, and a later write throws
    /// `.broken` (the error is not lost, and nothing spins).
    @Test func aResetFailsALaterWrite() async throws {
        try await withTestLoop(virtualTime: false, backend: .ioURing) { loop in
            let (server, client) = try await RingTesting.connectedPair(on: loop)
            try RingTesting.startReceivingOnRing(server)
            try await loop.sendAll(server, [1])
            try await client.waitUntilReceivable()
            client.close()  // with our byte unread: a reset
            await RingTesting.turn { server.registration.isPeerHungUp }
            var failure: StreamError?
            for _ in 0..<1000 {
                do {
                    try await loop.sendAll(server, [UInt8](repeating: 2, count: 1000))
                } catch let error as StreamError {
                    failure = error
                    break
                }
                await Task.yield()  // the loop takes the send's completion
            }
            #expect(failure?.code == .broken, "\(String(describing: failure))")
            server.close()
        }
    }

    /// A loop that closes while a socket it closed still has a send in the ring (its peer, on another
    /// loop, never reads): the send is cancelled and the descriptor closed; the test loop's leak check
    /// (descriptors opened on its thread and still open after it closed) would say otherwise.
    @Test func theLoopClosesWithASendInTheRing() async throws {
        let peers = try EventLoopGroup(loops: 1, name: "ring-peer", backend: .epoll)
        defer { peers.shutdown() }
        let peerLoop = peers.loops[0]
        let peer = Locked<Socket?>(nil)
        try await withTestLoop(virtualTime: false, backend: .ioURing) { loop in
            let listener = try loop.listen(on: .ipv4(address: (127, 0, 0, 1), port: 0))
            let address = listener.localAddress!
            let connecting = peerLoop.spawn {
                let socket = try await peerLoop.connect(to: address)
                peer.mutate { $0 = socket }
            }
            let server = try await loop.accept(listener)
            listener.close()
            try await connecting.value
            try RingTesting.startReceivingOnRing(server)
            let writer = StreamWriter(socket: server)
            // More than the peer's receive buffer and ours hold: a send stays in the ring.
            let flooding = loop.spawn {
                while true { try await writer.write([UInt8](repeating: 3, count: 64 * 1024)) }
            }
            await RingTesting.turn { writer.bufferedCount > 0 }  // the kernel takes no more
            flooding.cancel()
            _ = await flooding.result
            server.close()  // closed to the program; the descriptor waits for the send
            #expect(loop.registrationCount == 0)
        }
        let socket = peer.value
        #expect(socket != nil)
        try await peerLoop.spawn { socket?.close() }.value
    }
}

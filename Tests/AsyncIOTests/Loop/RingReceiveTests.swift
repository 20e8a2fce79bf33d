import AsyncIO
import AsyncIOSystem
import Testing

/// Issue 17: stream sockets on the io_uring backend receive through the ring (a multishot receive into
/// the ring's buffer pool, ``RingReceiver``). What must hold: bytes arrive whole and in order, the pool
/// bounds memory and running it dry loses nothing, cancellation and closing give every buffer back and
/// let the socket go, and a reset comes after the bytes that preceded it.
@Suite(.timeLimit(.minutes(1)), .enabled(if: BackendTests.ioURingAvailable, "this kernel refuses io_uring"))
struct RingReceiveTests {
    /// A socket read dry moves to the ring; a megabyte sent while the reader reads slowly arrives whole
    /// and in order, the receiver pausing when it holds too many buffers; closing gives every buffer back.
    @Test func bytesArriveWholeThroughTheRingAndTheBuffersComeBack() async throws {
        let group = try EventLoopGroup(loops: 1, name: "ring-receive", backend: .ioURing)
        defer { group.shutdown() }
        let loop = group.loops[0]
        try await loop.spawn {
            let (server, client) = try await RingTesting.connectedPair(on: loop)
            defer { server.close(); client.close() }
            let reader = StreamReader(socket: server)
            try await loop.sendAll(client, Array("hello".utf8))
            #expect(try await reader.read(exactly: 5) == Array("hello".utf8))
            #expect(!server.receivesOnRing, "a socket that has not been read dry stays on readiness")
            // Read dry: the next read waits on the ring.
            let next = loop.spawn { try await reader.read(upTo: 100) }
            await Task.yield()  // the read runs and parks
            #expect(server.receivesOnRing)
            try await loop.sendAll(client, Array("world".utf8))
            #expect(try await next.value == Array("world".utf8))

            let total = 1 << 20
            let sent = RingTesting.pattern(1, count: total)
            let sender = loop.spawn { try await loop.sendAll(client, sent) }
            var received: [UInt8] = []
            received.reserveCapacity(total)
            var mostHeld = 0
            while received.count < total {
                received += try await reader.read(upTo: 3000)
                mostHeld = max(mostHeld, loop.ringReceiveBuffersOut)
                if received.count % 7 == 0 { try await loop.sleep(for: .milliseconds(1)) }  // a slow reader
            }
            try await sender.value
            #expect(received == sent)
            // Paused once it held 8 buffers (what the kernel had already taken from the socket when the
            // cancellation went in still lands: about a socket buffer's worth), started again as the
            // reader caught up; the pool never ran dry.
            #expect(loop.ringReceivePauses > 0)
            #expect(loop.ringReceiveStarvations == 0)
            #expect(mostHeld < 256, "\(mostHeld) buffers held at most, of 512")
            #expect(server.receivesOnRing)
            server.close()
            #expect(loop.ringReceiveBuffersOut == 0, "closing gives every buffer back")
        }.value
    }

    /// More connections than the pool has buffers for, every one sent 64 KiB while its reader does not
    /// read: the pool runs dry (receives end with ENOBUFS and those sockets go back to readiness), and
    /// when the readers read, every byte of every stream arrives in order; no buffer is kept after.
    @Test func aPoolThatRunsDryLosesNothing() async throws {
        let group = try EventLoopGroup(loops: 1, name: "ring-dry", backend: .ioURing, ringReceiveBuffers: 16)
        defer { group.shutdown() }
        let loop = group.loops[0]
        try await loop.spawn {
            let count = 24, size = 64 * 1024
            var pairs: [(server: Socket, client: Socket)] = []
            defer { for pair in pairs { pair.server.close(); pair.client.close() } }
            for _ in 0..<count {
                let (server, client) = try await RingTesting.connectedPair(on: loop)
                try RingTesting.startReceivingOnRing(server)
                pairs.append((server, client))
            }
            let starvedBefore = loop.ringReceiveStarvations
            // 64 KiB for each while nobody reads (it fits in the kernel's socket buffers: the sends end).
            try await withThrowingTaskGroup { senders in
                for (index, pair) in pairs.enumerated() {
                    senders.addTask { try await loop.sendAll(pair.client, RingTesting.pattern(index, count: size)) }
                }
                try await senders.waitForAll()
            }
            // 16 buffers for 1.5 MiB: two receivers hold them all (8 each, then they pause), the others'
            // receives end with ENOBUFS. Wait until the ring has said so.
            await RingTesting.turn { loop.ringReceiveStarvations > starvedBefore }
            #expect(loop.ringReceiveBuffersOut <= 16)
            let readers = pairs.map { pair in
                loop.spawn { try await StreamReader(socket: pair.server).read(exactly: size) }
            }
            for (index, reader) in readers.enumerated() {
                let bytes = try await reader.value
                #expect(bytes == RingTesting.pattern(index, count: size), "stream \(index)")
            }
            for pair in pairs { pair.server.close() }
            #expect(loop.ringReceiveBuffersOut == 0)
        }.value
    }

    /// A read waiting on the ring is cancelled: nothing is consumed, and bytes that arrive after it wait
    /// for the next read. A read still waiting when another task closes the socket fails with `.closed`;
    /// the ring lets the socket go at once (the peer sees its end) and keeps no buffer.
    @Test func cancellingAndClosingAWaitingReceive() async throws {
        let group = try EventLoopGroup(loops: 1, name: "ring-cancel", backend: .ioURing)
        defer { group.shutdown() }
        let loop = group.loops[0]
        try await loop.spawn {
            let (server, client) = try await RingTesting.connectedPair(on: loop)
            defer { client.close() }
            let reader = StreamReader(socket: server)
            try await loop.sendAll(client, [1])
            #expect(try await reader.read(upTo: 10) == [1])

            let cancelled = loop.spawn { try await reader.read(upTo: 10) }
            await Task.yield()  // the read runs and parks on the ring
            #expect(server.receivesOnRing)
            cancelled.cancel()
            await #expect(throws: CancellationError.self) { try await cancelled.value }
            try await loop.sendAll(client, [2, 3])
            #expect(try await reader.read(upTo: 10) == [2, 3])

            // A read waiting on the ring when another task closes the socket.
            let waiting = loop.spawn { try await reader.read(upTo: 10) }
            await Task.yield()  // the read parks
            loop.spawn { server.close() }
            await #expect { try await waiting.value } throws: { ($0 as? StreamError)?.code == .closed }
            // The ring no longer holds the socket's file: the peer reads the end of the stream.
            #expect(try await loop.receive(client, upTo: 10) == [])

            // Bytes held in the ring's buffers when the socket is closed: the buffer goes back.
            let (other, otherClient) = try await RingTesting.connectedPair(on: loop)
            defer { otherClient.close() }
            try RingTesting.startReceivingOnRing(other)
            try await loop.sendAll(otherClient, [4, 5, 6])
            await RingTesting.turn { loop.ringReceiveBuffersOut == 1 }  // the bytes wait in a pool buffer
            other.close()
            #expect(loop.ringReceiveBuffersOut == 0)
            #expect(try await loop.receive(otherClient, upTo: 10) == [])
        }.value
    }

    /// The peer sends bytes and resets (it closes with bytes of ours unread) while the reader is busy
    /// elsewhere: the bytes already received come first, then `.broken`.
    @Test func aResetComesAfterTheBytesBeforeIt() async throws {
        let group = try EventLoopGroup(loops: 1, name: "ring-reset", backend: .ioURing)
        defer { group.shutdown() }
        let loop = group.loops[0]
        try await loop.spawn {
            let (server, client) = try await RingTesting.connectedPair(on: loop)
            defer { server.close() }
            let reader = StreamReader(socket: server)
            try await loop.sendAll(client, [0])
            #expect(try await reader.read(upTo: 1) == [0])  // a short read: the socket is read dry
            try RingTesting.startReceivingOnRing(server)
            try await loop.sendAll(server, [9])  // never read by the client: its close is a reset
            try await client.waitUntilReceivable()  // the byte is in the client's socket
            try await loop.sendAll(client, Array("before the reset and more".utf8))
            client.close()
            // The reset lands while nobody reads: the bytes wait in the ring's buffers, the poll sees the
            // hang-up.
            await RingTesting.turn { server.registration.isPeerHungUp && loop.ringReceiveBuffersOut > 0 }
            #expect(try await reader.read(exactly: 25) == Array("before the reset and more".utf8))
            await #expect { try await reader.read(upTo: 10) } throws: { ($0 as? StreamError)?.code == .broken }
            server.close()
            #expect(loop.ringReceiveBuffersOut == 0)
        }.value
    }

    /// An accepted connection starts polled for output only (its input is to come from the ring). When
    /// its first read finds nothing while the pool has no room for another receive, the poll watches
    /// for input again: the bytes that come next reach the reader (it would wait forever otherwise).
    @Test func anAcceptedSocketThatFindsNoRoomInThePoolIsPolledForInput() async throws {
        let group = try EventLoopGroup(loops: 1, name: "ring-no-room", backend: .ioURing, ringReceiveBuffers: 16)
        defer { group.shutdown() }
        let loop = group.loops[0]
        try await loop.spawn {
            // One connection takes most of the pool: 64 KiB that nobody reads.
            let (hog, hogClient) = try await RingTesting.connectedPair(on: loop)
            defer { hog.close(); hogClient.close() }
            try RingTesting.startReceivingOnRing(hog)
            try await loop.sendAll(hogClient, RingTesting.pattern(0, count: 64 * 1024))
            await RingTesting.turn { loop.ringReceiveBuffersOut > 8 }

            let (server, client) = try await RingTesting.connectedPair(on: loop)
            defer { server.close(); client.close() }
            #expect(!server.registration.pollsForInput, "an accepted socket on the ring starts without an input poll")
            let reader = loop.spawn {
                try await withTimeout(.seconds(10)) { try await StreamReader(socket: server).read(upTo: 100) }
            }
            // The read finds nothing and no room: a few turns (bounded, so that a broken fallback fails
            // here and at the timeout rather than hang).
            let polled = await RingTesting.turn(atMost: 10_000) { server.registration.pollsForInput }
            #expect(polled)
            #expect(!server.receivesOnRing)
            try await loop.sendAll(client, Array("hello".utf8))
            #expect(try await reader.value == Array("hello".utf8))
        }.value
    }
}

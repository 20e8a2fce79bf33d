import AsyncIO
import AsyncIOSystem
import Testing

/// Issue 17: on the io_uring backend, a reader that parses in place (``StreamReader/receiveMore()`` and
/// ``StreamReader/withBufferedBytes(_:)``, the HTTP server's way) reads the bytes in the ring's receive
/// buffer they arrived in: no copy and no buffer of its own; the ring's buffer goes back to the pool
/// once they are consumed, and outlives its socket and its loop while the reader holds it.
@Suite(.timeLimit(.minutes(1)), .enabled(if: BackendTests.ioURingAvailable, "this kernel refuses io_uring"))
struct RingLendTests {
    /// The bytes are parsed where the ring put them: the reader allocates nothing, the pool is one
    /// buffer short while they are unread, and consuming them all gives it back.
    @Test func aReaderParsesInTheRingsBufferWithoutACopy() async throws {
        try await Self.withReaderOnTheRing(name: "ring-lend") { loop, client, reader in
            let request = Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
            for round in 0..<3 {
                try await loop.sendAll(client, request)
                let more = try await reader.receiveMore()
                #expect(more)
                #expect(reader.holdsRingBuffer, "round \(round): the bytes stay in the ring's buffer")
                #expect(reader.storageCapacity == 0, "round \(round): the reader copied them into its own buffer")
                #expect(loop.ringReceiveBuffersOut == 1)
                #expect(reader.bufferedCount == request.count)
                // A parser that needs the whole head: it consumes nothing from a part, then all of it.
                let seen = reader.withBufferedBytes { bytes in (consumed: 0, result: Array(bytes)) }
                #expect(seen == request)
                let head = reader.withBufferedBytes { bytes in (consumed: bytes.count, result: Array(bytes)) }
                #expect(head == request)
                #expect(!reader.holdsRingBuffer)
                #expect(loop.ringReceiveBuffersOut == 0, "round \(round): consumed, the buffer is back in the pool")
                #expect(reader.storageCapacity == 0)
                #expect(reader.bufferedCount == 0)
            }
        }
    }

    /// What a parser leaves unread comes first, before what arrives next, whichever read takes it;
    /// the ring's buffer is given back as the rest is copied out.
    @Test func bytesLeftInALentBufferComeBeforeLaterOnes() async throws {
        try await Self.withReaderOnTheRing(name: "ring-lend-rest") { loop, client, reader in
            // receiveMore with a part left: the part is copied out, then the new bytes follow.
            try await loop.sendAll(client, Array("abc".utf8))
            _ = try await reader.receiveMore()
            reader.withBufferedBytes { _ in (consumed: 1, result: ()) }
            #expect(reader.holdsRingBuffer && reader.bufferedCount == 2)
            try await loop.sendAll(client, Array("def\n".utf8))
            while reader.bufferedCount < 6 { _ = try await reader.receiveMore() }
            #expect(!reader.holdsRingBuffer)
            #expect(loop.ringReceiveBuffersOut == 0)
            let rest = reader.withBufferedBytes { bytes in (consumed: bytes.count, result: Array(bytes)) }
            #expect(rest == Array("bcdef\n".utf8))

            // Every other read takes a lent buffer's bytes first.
            try await loop.sendAll(client, Array("one\ntwo".utf8))
            _ = try await reader.receiveMore()
            #expect(reader.holdsRingBuffer)
            #expect(try await reader.readLine() == Array("one\n".utf8))
            #expect(!reader.holdsRingBuffer && loop.ringReceiveBuffersOut == 0)
            try await loop.sendAll(client, Array("!".utf8))
            #expect(try await reader.read(exactly: 4) == Array("two!".utf8))

            // End of stream after a lent buffer: its bytes, then the end.
            try await loop.sendAll(client, Array("last".utf8))
            _ = try await reader.receiveMore()
            #expect(reader.holdsRingBuffer)
            try client.shutdownWrite()
            #expect(try await reader.readToEnd() == Array("last".utf8))
            #expect(reader.isAtEOF)
            let more = try await reader.receiveMore()
            #expect(!more)
            #expect(loop.ringReceiveBuffersOut == 0)
        }
    }

    /// A reader holding a lent buffer when its socket closes and its loop stops can still read it
    /// (the pool stays mapped while a buffer is out: reading an unmapped pool would crash this test),
    /// and releasing the reader gives the buffer back.
    @Test func aLentBufferOutlivesItsSocketAndItsLoop() async throws {
        let group = try EventLoopGroup(loops: 1, name: "ring-lend-close", backend: .ioURing)
        let loop = group.loops[0]
        var reader: StreamReader? = try await loop.spawn {
            let (server, client) = try await RingTesting.connectedPair(on: loop)
            defer { client.close() }
            try RingTesting.startReceivingOnRing(server)
            let reader = StreamReader(socket: server)
            try await loop.sendAll(client, Array("kept".utf8))
            _ = try await reader.receiveMore()
            #expect(reader.holdsRingBuffer)
            server.close()
            #expect(loop.ringReceiveBuffersOut == 1, "the socket's close leaves the lent buffer with its reader")
            return reader
        }.value
        group.shutdown()
        #expect(loop.ringReceiveBuffersOut == 1)
        let bytes = reader?.withBufferedBytes { bytes in (consumed: 0, result: Array(bytes)) }
        #expect(bytes == Array("kept".utf8))
        reader = nil
        #expect(loop.ringReceiveBuffersOut == 0, "released, the reader gave the buffer back")
    }

    /// A reader released on another thread while its loop runs gives its lent buffer back on the loop's
    /// thread (the pool is loop-confined): the pool has it again after the loop's next turn.
    @Test func aReaderReleasedOffTheLoopGivesItsBufferBackOnTheLoop() async throws {
        let group = try EventLoopGroup(loops: 1, name: "ring-lend-off", backend: .ioURing)
        defer { group.shutdown() }
        let loop = group.loops[0]
        let (server, client) = try await loop.spawn { try await RingTesting.connectedPair(on: loop) }.value
        // The loop's task keeps no reference once it ends (it returns nothing): the holder's is the last.
        let holder = ReaderHolder()
        try await loop.spawn {
            try RingTesting.startReceivingOnRing(server)
            let reader = StreamReader(socket: server)
            try await loop.sendAll(client, Array("held".utf8))
            _ = try await reader.receiveMore()
            #expect(reader.holdsRingBuffer)
            holder.reader = reader
        }.value
        let held = try await loop.spawn { loop.ringReceiveBuffersOut }.value
        #expect(held == 1)
        holder.reader = nil  // released on this test's thread, not the loop's
        let back = try await loop.spawn {
            defer { server.close(); client.close() }
            // The give-back is queued for the loop's next turn: a few turns at most (bounded, so that a
            // reader that never gives it back fails here instead of hanging the run).
            return await RingTesting.turn(atMost: 1000) { loop.ringReceiveBuffersOut == 0 }
        }.value
        #expect(back, "the reader released off the loop kept the ring's buffer")
    }

    /// Runs `body` on a loop of its own with a reader over a socket that receives through the ring,
    /// and the connected peer to send from.
    private static func withReaderOnTheRing(
        name: String, _ body: @escaping @Sendable (EventLoop, Socket, StreamReader) async throws -> Void
    ) async throws {
        let group = try EventLoopGroup(loops: 1, name: name, backend: .ioURing)
        defer { group.shutdown() }
        let loop = group.loops[0]
        try await loop.spawn {
            let (server, client) = try await RingTesting.connectedPair(on: loop)
            defer { server.close(); client.close() }
            try RingTesting.startReceivingOnRing(server)
            try await body(loop, client, StreamReader(socket: server))
        }.value
    }

}

/// Holds a reader for a test, so that it is released where the test says.
private final class ReaderHolder: @unchecked Sendable {
    var reader: StreamReader?
}

@testable import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import Testing

/// Issue 17: the ring's sends copy their bytes into buffers the loop keeps from one send to the next
/// (``RingSendBuffers``) instead of allocating and freeing one per send. What must hold: a buffer given
/// back is the next one taken; no more than ``RingSendBuffers/limit`` are kept, and none of another
/// size; a send larger than a kept buffer still gets all the room it asks for; and on a connection,
/// the keep-alive case, a response's buffer is reused by the next.
@Suite(.timeLimit(.minutes(1)))
struct RingSendBuffersTests {
    @Test func aBufferGivenBackIsTheNextTaken() {
        let buffers = RingSendBuffers()
        let first = buffers.take(atLeast: 100)
        #expect(first.count == RingSendBuffers.size)
        buffers.give(first)
        #expect(buffers.count == 1)
        let second = buffers.take(atLeast: RingSendBuffers.size)
        #expect(second.baseAddress == first.baseAddress)
        #expect(buffers.count == 0)
        buffers.give(second)
    }

    @Test func largerSendsGetTheirOwnStorageWhichIsNotKept() {
        let buffers = RingSendBuffers()
        let large = buffers.take(atLeast: RingSendBuffers.size + 1)
        #expect(large.count == RingSendBuffers.size + 1)
        // The whole of it is writable (AddressSanitizer checks the bound).
        large.initializeMemory(as: UInt8.self, repeating: 7)
        buffers.give(large)
        #expect(buffers.count == 0)
    }

    @Test func noMoreThanTheLimitIsKept() {
        let buffers = RingSendBuffers()
        let taken = (0..<RingSendBuffers.limit + 10).map { _ in buffers.take(atLeast: 1) }
        #expect(Set(taken.map(\.baseAddress)).count == taken.count)  // all distinct
        for buffer in taken { buffers.give(buffer) }
        #expect(buffers.count == RingSendBuffers.limit)
    }

    /// Requests and responses on one connection sending on the ring: after the first response, each
    /// one's buffer comes from the loop's and goes back to it, so one buffer serves them all.
    @Test(.enabled(if: BackendTests.ioURingAvailable, "this kernel refuses io_uring"))
    func aConnectionReusesOneBufferForItsResponses() async throws {
        try await withTestLoop(virtualTime: false, backend: .ioURing) { loop in
            let (server, client) = try await RingTesting.connectedPair(on: loop)
            try RingTesting.startReceivingOnRing(server)
            #expect(server.sendsOnRing)
            let writer = StreamWriter(socket: server)
            let reader = StreamReader(socket: client)
            let kept = { loop.poller.sendBuffers.count }
            let before = kept()
            for round in 0..<20 {
                let response = [UInt8](repeating: UInt8(round), count: 200)
                try await writer.write(response)
                #expect(try await reader.read(exactly: 200) == response)
                // The send completed before its bytes were read: its buffer is back.
                #expect(kept() == max(before, 1))
            }
            server.close()
            client.close()
        }
    }
}

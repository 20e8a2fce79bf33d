@testable import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import Testing

/// Issue 17: the ring's sends copy their bytes into buffers the loop keeps from one send to the next,
/// and readers take their storage from the same cache (``BufferCache``), instead of allocating and
/// freeing one per request. What must hold: a buffer given
/// back is the next one taken; no more than ``BufferCache/limit`` are kept, and none of another
/// size; a send larger than a kept buffer still gets all the room it asks for; and on a connection,
/// the keep-alive case, a response's buffer is reused by the next.
@Suite(.timeLimit(.minutes(1)))
struct BufferCacheTests {
    @Test func aBufferGivenBackIsTheNextTaken() {
        let buffers = BufferCache()
        let first = buffers.take(atLeast: 100)
        #expect(first.count == BufferCache.size)
        buffers.give(first)
        #expect(buffers.count == 1)
        let second = buffers.take(atLeast: BufferCache.size)
        #expect(second.baseAddress == first.baseAddress)
        #expect(buffers.count == 0)
        buffers.give(second)
    }

    @Test func largerSendsGetTheirOwnStorageWhichIsNotKept() {
        let buffers = BufferCache()
        let large = buffers.take(atLeast: BufferCache.size + 1)
        #expect(large.count == BufferCache.size + 1)
        // The whole of it is writable (AddressSanitizer checks the bound).
        large.initializeMemory(as: UInt8.self, repeating: 7)
        buffers.give(large)
        #expect(buffers.count == 0)
    }

    /// No more than the limit of full-size buffers are out or kept: beyond it, a small request gets a
    /// small allocation (many sends at once keep a small working set), which is not kept.
    @Test func noMoreThanTheLimitIsOutOrKept() {
        let buffers = BufferCache()
        let taken = (0..<BufferCache.limit + 10).map { _ in buffers.take(atLeast: 1) }
        #expect(Set(taken.map(\.baseAddress)).count == taken.count)  // all distinct
        #expect(taken.prefix(BufferCache.limit).allSatisfy { $0.count == BufferCache.size })
        #expect(taken.dropFirst(BufferCache.limit).allSatisfy { $0.count == 1 })
        #expect(buffers.outstanding == BufferCache.limit)
        for buffer in taken { buffers.give(buffer) }
        #expect(buffers.count == BufferCache.limit)
        #expect(buffers.outstanding == 0)
        // Kept ones first again: a full-size buffer for a small request.
        let again = buffers.take(atLeast: 1)
        #expect(again.count == BufferCache.size)
        buffers.give(again)
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
            let kept = { loop.poller.buffers.count }
            let before = kept()
            for round in 0..<20 {
                let response = [UInt8](repeating: UInt8(round), count: 200)
                try await writer.write(response)
                // Received without a reader, whose storage would come from the same cache.
                let space = UnsafeMutableRawBufferPointer.allocate(byteCount: 200, alignment: 1)
                defer { space.deallocate() }
                var filled = 0
                while filled < 200 {
                    let count = try await client.receive(into: UnsafeMutableRawBufferPointer(rebasing: space[filled...]))
                    #expect(count > 0)
                    if count == 0 { break }
                    filled += count
                }
                #expect(Array(space) == response)
                // The send completed before its bytes were read: its buffer is back.
                #expect(kept() == max(before, 1))
            }
            server.close()
            client.close()
        }
    }

    /// On epoll a reader with no storage receives into the loop's scratch space and copies what came
    /// into storage of its own: that storage comes from the loop's cache, and goes back to it when the
    /// reader lets it go (as the HTTP server does once a head is parsed).
    @Test func aReaderTakesItsStorageFromTheLoopAndGivesItBack() async throws {
        try await withEpollPair { loop, server, client, cache in
            cache.give(cache.take(atLeast: 1))  // at least one kept
            let kept = cache.count
            let reader = StreamReader(socket: server)
            try await loop.sendAll(client, Array("GET / HTTP/1.1\r\n\r\n".utf8))
            #expect(try await reader.receiveMore())
            #expect(reader.storageCapacity == BufferCache.size)
            #expect(cache.count == kept - 1)
            #expect(try await reader.read(exactly: 18) == Array("GET / HTTP/1.1\r\n\r\n".utf8))
            reader.releaseStorageIfEmpty()
            #expect(reader.storageCapacity == 0)
            #expect(cache.count == kept)
        }
    }

    /// A reader released with unread bytes in cached storage gives the storage back (on the loop's
    /// thread): the cache's count of buffers out returns to what it was. Were it freed straight to the
    /// allocator, the count would only grow, and after ``BufferCache/limit`` such readers the cache
    /// would hand out no new full-size buffer again.
    @Test func aReaderReleasedWithUnreadBytesGivesItsStorageBack() async throws {
        try await withEpollPair { loop, server, client, cache in
            let out = cache.outstanding
            let kept = cache.count
            var reader: StreamReader? = StreamReader(socket: server)
            try await loop.sendAll(client, Array("unread".utf8))
            #expect(try await reader!.receiveMore())
            #expect(reader!.storageCapacity == BufferCache.size)
            #expect(cache.outstanding == out + 1)
            reader = nil
            #expect(cache.outstanding == out)
            #expect(cache.count == max(kept, 1))
        }
    }

    /// A connected pair on a test loop with the epoll backend, and the loop's cache; closes the pair.
    private func withEpollPair(
        _ body: @escaping @Sendable (EventLoop, Socket, Socket, BufferCache) async throws -> Void
    ) async throws {
        try await withTestLoop(virtualTime: false, backend: .epoll) { loop in
            let (server, client) = try await RingTesting.connectedPair(on: loop)
            defer {
                server.close()
                client.close()
            }
            try await body(loop, server, client, loop.bufferCache)
        }
    }
}

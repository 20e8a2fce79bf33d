import AsyncIO
import AsyncIOTesting
import Testing

/// `StreamReader.ownerHandlesCancellation`: the reader's socket waits install no cancellation handler,
/// and the owner's handler ends them with `interruptWaitSoon()`. Nothing may slip between the two: a
/// task cancelled before it waits must not wait, and an interruption must find the wait.
@Suite(.timeLimit(.minutes(1)))
struct StreamReaderOwnedCancellationTests {
    /// A reader over the accepted end of a new connected pair, and the connecting end, closed after.
    private func withReader(_ body: @escaping @Sendable (EventLoop, StreamReader, Socket) async throws -> Void) async throws {
        try await withTestLoop { loop in
            let (server, client) = try await RingTesting.connectedPair(on: loop)
            defer {
                server.close()
                client.close()
            }
            try await body(loop, StreamReader(socket: server), client)
        }
    }

    @Test func aWaitEndsWhenTheOwnerInterruptsIt() async throws {
        try await withReader { loop, reader, client in
            reader.ownerHandlesCancellation = true
            let finished = Locked(false)
            let waiting = loop.spawn {
                defer { finished.mutate { $0 = true } }
                return try await reader.receiveMore()
            }
            await loop.waitUntilAllTasksBlocked()
            waiting.cancel()  // no handler of the wait's own: the wait goes on
            await loop.waitUntilAllTasksBlocked()
            #expect(!finished.value, "the wait watched cancellation itself")
            reader.interruptWaitSoon()  // what the owner's handler does
            await #expect(throws: CancellationError.self) { try await waiting.value }
            // Bytes that arrive afterwards are not lost: the next read gets them.
            reader.ownerHandlesCancellation = false
            try await loop.sendAll(client, Array("after".utf8))
            #expect(try await reader.read(upTo: 16) == Array("after".utf8))
        }
    }

    @Test func aTaskCancelledBeforeItWaitsDoesNotWait() async throws {
        try await withReader { loop, reader, _ in
            reader.ownerHandlesCancellation = true
            // The owner's interruption ran earlier (it found no wait); the task then comes to read.
            reader.interruptWaitSoon()
            let late = loop.spawn {
                withUnsafeCurrentTask { $0?.cancel() }
                return try await reader.receiveMore()
            }
            await #expect(throws: CancellationError.self) { try await late.value }
        }
    }

    @Test func anInterruptionOutsideOwnedWaitsChangesNothing() async throws {
        try await withReader { loop, reader, client in
            let waiting = loop.spawn { try await reader.read(upTo: 16) }  // an ordinary wait
            await loop.waitUntilAllTasksBlocked()
            reader.interruptWaitSoon()
            await loop.waitUntilAllTasksBlocked()
            try await loop.sendAll(client, Array("data".utf8))
            #expect(try await waiting.value == Array("data".utf8))
        }
    }
}

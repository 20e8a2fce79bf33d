import AsyncIO
import AsyncIOTesting
import Testing

/// `StreamReader.receiveMore()` for parsers that read in place: false means the end of the stream, and
/// nothing else. A parser treats false as the peer gone (the HTTP server then fails a head it holds
/// part of as cut short), so a feed of nothing must not read as one, and bytes that came with the end
/// must be read first.
@Suite(.timeLimit(.minutes(1)))
struct StreamReaderInPlaceTests {
    @Test func receiveMoreIsFalseOnlyAtTheEnd() async throws {
        // Throwing by its signature: the `try`s inside `#expect` do not make a closure throwing.
        try await withTestLoop { (loop: EventLoop) async throws in
            let reader = StreamReader()
            let waiting = loop.spawn { try await reader.receiveMore() }
            await loop.waitUntilAllTasksBlocked()
            reader.feed([])  // nothing: the read waits on (woken, it read as the end)
            await loop.waitUntilAllTasksBlocked()
            reader.feed(Array("x".utf8))
            #expect(try await waiting.value == true)
            #expect(reader.bufferedCount == 1)
            reader.withBufferedBytes { buffer in (consumed: buffer.count, result: ()) }

            reader.feed(Array("ab".utf8))
            let consumed = reader.withBufferedBytes { buffer in (consumed: buffer.count, result: buffer.count) }
            #expect(consumed == 2)
            let more = loop.spawn { try await reader.receiveMore() }
            await loop.waitUntilAllTasksBlocked()
            reader.feed(Array("c".utf8))
            #expect(try await more.value == true)

            reader.withBufferedBytes { buffer in (consumed: buffer.count, result: ()) }
            // Bytes and the end together: the bytes first.
            let last = loop.spawn { try await reader.receiveMore() }
            await loop.waitUntilAllTasksBlocked()
            reader.feed(Array("d".utf8))
            reader.feedEOF()
            #expect(try await last.value == true)
            #expect(reader.bufferedCount == 1)
            #expect(try await reader.receiveMore() == false)

            // The same for the other reads: `read(upTo:)` answers the end with no bytes.
            let fed = StreamReader()
            let reading = loop.spawn { try await fed.read(upTo: 10) }
            await loop.waitUntilAllTasksBlocked()
            fed.feed([])
            await loop.waitUntilAllTasksBlocked()
            fed.feed(Array("y".utf8))
            #expect(try await reading.value == Array("y".utf8))

            let ended = StreamReader()
            let ending = loop.spawn { try await ended.receiveMore() }
            await loop.waitUntilAllTasksBlocked()
            ended.feedEOF()
            #expect(try await ending.value == false)
        }
    }
}

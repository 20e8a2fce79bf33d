import AsyncIO
import AsyncIOTesting
import Testing

/// Issue 14: a reader that waits with nothing buffered holds no buffer memory (10,000 idle keep-alive
/// connections cost no read buffers), and what it receives is still delivered whole and in order.
@Suite(.timeLimit(.minutes(1)))
struct StreamReaderStorageTests {
    @Test func aReaderParkedWithNothingBufferedHoldsNoStorage() async throws {
        try await withTestLoop { loop in
            let (near, far) = MemoryStream.pair(on: loop)
            let reader = StreamReader(stream: far)
            let writer = StreamWriter(stream: near)
            try await writer.write(Array("first\n".utf8))
            #expect(try await reader.readLine() == Array("first\n".utf8))
            let second = loop.spawn { try await reader.readLine() }
            await loop.waitUntilAllTasksBlocked()
            #expect(reader.storageCapacity == 0, "an idle reader holds \(reader.storageCapacity) bytes")
            try await writer.write(Array("second\n".utf8))
            #expect(try await second.value == Array("second\n".utf8))
            near.close()
            far.close()
        }
    }

    @Test func aReaderParkedInsideALineKeepsWhatItHas() async throws {
        try await withTestLoop { loop in
            let (near, far) = MemoryStream.pair(on: loop)
            let reader = StreamReader(stream: far)
            let writer = StreamWriter(stream: near)
            let line = loop.spawn { try await reader.readLine() }
            try await writer.write(Array("hel".utf8))
            await loop.waitUntilAllTasksBlocked()
            #expect(reader.bufferedCount == 3)
            #expect(reader.storageCapacity >= 3)
            try await writer.write(Array("lo\n".utf8))
            #expect(try await line.value == Array("hello\n".utf8))
            near.close()
            far.close()
        }
    }

    @Test func releasingStorageKeepsBufferedBytes() async throws {
        try await withTestLoop { loop in
            let (near, far) = MemoryStream.pair(on: loop)
            let reader = StreamReader(stream: far)
            try await StreamWriter(stream: near).write(Array("a\nbc".utf8))
            #expect(try await reader.readLine() == Array("a\n".utf8))
            reader.releaseStorageIfEmpty()  // two bytes are buffered: nothing may be freed
            #expect(reader.bufferedCount == 2)
            #expect(try await reader.read(exactly: 2) == Array("bc".utf8))
            reader.releaseStorageIfEmpty()
            #expect(reader.storageCapacity == 0)
            near.close()
            far.close()
        }
    }

    /// Many parks (the writer sleeps between writes), each one dropping the storage so that the next
    /// receive goes through the loop's scratch space: every byte arrives once, in order.
    @Test func bytesSurviveManyParksThroughTheScratchSpace() async throws {
        try await withTestLoop { loop in
            let (near, far) = MemoryStream.pair(on: loop, capacity: 1000)
            var generator = SystemRandomNumberGenerator()
            let payload = (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let producer = loop.spawn {
                let writer = StreamWriter(stream: near)
                var offset = 0
                while offset < payload.count {
                    let end = min(payload.count, offset + Int.random(in: 1...5000))
                    try await writer.write(Array(payload[offset..<end]))
                    try await loop.sleep(for: .microseconds(10))
                    offset = end
                }
                await writer.close()
            }
            let reader = StreamReader(stream: far)
            var received: [UInt8] = []
            while true {
                let chunk = try await reader.read(upTo: Int.random(in: 1...20_000))
                if chunk.isEmpty { break }
                received += chunk
            }
            try await producer.value
            #expect(received == payload)
            far.close()
        }
    }
}

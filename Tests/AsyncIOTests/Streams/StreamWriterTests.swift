import AsyncIO
import AsyncIOTesting
import Testing

/// Issue 12, bug 12: a response in flight to a slow reader may cost at most the writer's watermark,
/// whatever the handler produces.
@Suite(.timeLimit(.minutes(1)))
struct StreamWriterTests {
    @Test func theBufferNeverHoldsMoreThanTheHighWatermark() async throws {
        try await withTestLoop { loop in
            let (near, far) = MemoryStream.pair(on: loop, capacity: 4096)
            let writer = StreamWriter(stream: near, highWatermark: 8192, lowWatermark: 2048)
            let peak = Locked(0)
            // Writes smaller, equal to and far larger than the watermark, to a peer that reads slowly.
            let sizes = [1000, 8192, 100_000, 3000, 50_000]
            let producer = loop.spawn {
                for size in sizes {
                    try await writer.write([UInt8](repeating: UInt8(size % 251), count: size))
                    peak.mutate { $0 = max($0, writer.bufferedCount) }
                }
                await writer.close()
            }
            let reader = StreamReader(stream: far)
            var received: [UInt8] = []
            var chunk = try await reader.read(upTo: 512)
            while !chunk.isEmpty {
                received += chunk
                peak.mutate { $0 = max($0, writer.bufferedCount) }
                try await loop.sleep(for: .milliseconds(1))
                chunk = try await reader.read(upTo: 512)
            }
            try await producer.value
            #expect(received.count == sizes.reduce(0, +))
            #expect(received == sizes.flatMap { [UInt8](repeating: UInt8($0 % 251), count: $0) })
            #expect(peak.value > 0 && peak.value <= 8192, "the buffer peaked at \(peak.value) bytes")
            far.close()
        }
    }

    @Test func aWriteThatFitsTheWatermarkIsAllOrNothingWhenCancelled() async throws {
        try await withTestLoop { loop in
            let (near, far) = MemoryStream.pair(on: loop, capacity: 1024)
            let writer = StreamWriter(stream: near, highWatermark: 4096, lowWatermark: 1024)
            try await writer.write([UInt8](repeating: 1, count: 1024 + 4000))  // the peer's 1 KiB, then 4,000 buffered
            #expect(writer.bufferedCount == 4000)
            // 3,000 more do not fit: the write waits, and is cancelled while it waits.
            let blocked = loop.spawn { try await writer.write([UInt8](repeating: 2, count: 3000)) }
            try await loop.sleep(for: .milliseconds(1))
            blocked.cancel()
            await #expect(throws: CancellationError.self) { try await blocked.value }
            #expect(writer.bufferedCount == 4000)  // nothing of the cancelled write
            writer.abort()
            far.close()
        }
    }

    @Test func tryWriteTakesAllOrNothingWithoutWaiting() async throws {
        try await withTestLoop { loop in
            let (near, far) = MemoryStream.pair(on: loop, capacity: 1024)
            let writer = StreamWriter(stream: near, highWatermark: 4096, lowWatermark: 1024)
            let first = [UInt8](repeating: 1, count: 1024 + 3000)
            // The peer takes 1 KiB, the writer buffers the other 3,000: room for all of it.
            #expect(try first.withUnsafeBytes { try writer.tryWrite($0) })
            #expect(writer.bufferedCount == 3000)
            // 1,097 more do not fit under 4,096: nothing is written, and a wait-free call says so.
            let second = [UInt8](repeating: 2, count: 1097)
            #expect(try !second.withUnsafeBytes { try writer.tryWrite($0) })
            #expect(writer.bufferedCount == 3000)
            // 1,096 fit exactly; they queue behind the buffered bytes, not ahead of them.
            let third = [UInt8](repeating: 3, count: 1096)
            #expect(try third.withUnsafeBytes { try writer.tryWrite($0) })
            #expect(writer.bufferedCount == 4096)
            let flushed = loop.spawn { try await writer.flush() }
            let reader = StreamReader(stream: far)
            let received = try await reader.read(exactly: first.count + third.count)
            #expect(received == first + third)
            try await flushed.value
            await writer.close()
            #expect(throws: StreamError.self) { try third.withUnsafeBytes { try writer.tryWrite($0) } }
            far.close()
        }
    }
}

import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import Testing

/// Loop-confined counters shared by the tasks of one test.
private final class Counters: @unchecked Sendable {
    var ticks = 0
    var slices = 0
    var stop = false
}

/// Issue 12, bug 3: I/O must not starve behind CPU work, nor other tasks behind a fast peer.
@Suite(.timeLimit(.minutes(1)))
struct FairnessTests {
    /// Busy-waits `milliseconds` of real time on the loop thread (a CPU-bound slice of work).
    private static func compute(milliseconds: Int64) {
        let end = MonotonicClock.nanoseconds() + milliseconds * 1_000_000
        while MonotonicClock.nanoseconds() < end {}
    }

    /// A task that counts its turns until told to stop; returns once it has started.
    private static func startTicker(on loop: EventLoop, _ counters: Counters) async -> Task<Void, any Error> {
        let ticker = loop.spawn(name: "ticker") {
            while !counters.stop {
                counters.ticks += 1
                await Task.yield()
            }
        }
        await Task.yield()
        return ticker
    }

    @Test func socketIsPolledBetweenLongJobsNotOnlyEvery32Turns() async throws {
        try await withTestLoop(virtualTime: false) { loop in
            let (x, y) = try SocketOps.socketPair()
            let a = try loop.adopt(x), b = try loop.adopt(y)
            defer { a.close(); b.close() }
            let counters = Counters()
            let reader = loop.spawn(name: "reader") { () -> (bytes: [UInt8], slices: Int) in
                let bytes = try await loop.receive(b, upTo: 1)  // waits: nothing sent yet
                return (bytes, counters.slices)
            }
            await Task.yield()  // the reader is waiting now
            let cpu = loop.spawn(name: "cpu") {
                _ = try [UInt8]([42]).withUnsafeBytes { try SocketOps.send(a.fd, $0) }  // arrives at once; seen at the loop's next poll
                while !counters.stop {
                    Self.compute(milliseconds: 2)
                    counters.slices += 1
                    await Task.yield()
                }
            }
            let (byte, waited) = try await reader.value
            counters.stop = true
            try await cpu.value
            #expect(byte == [42])
            // With polls only every 32 busy turns, 32 slices of 2 ms ran first.
            #expect(waited <= 3, "the read waited through \(waited) slices of 2 ms")
        }
    }

    @Test func streamCopyFromAFastPeerYieldsToOtherTasks() async throws {
        try await withTestLoop { loop in
            let (source, readEnd) = MemoryStream.pair(on: loop, capacity: 1 << 20)
            let (writeEnd, sink) = MemoryStream.pair(on: loop, capacity: 1 << 20)
            let total = 256 * 1024
            let filler = StreamWriter(stream: source)
            try await filler.write([UInt8](repeating: 7, count: total))
            let counters = Counters()
            let ticker = await Self.startTicker(on: loop, counters)
            let reader = StreamReader(stream: readEnd), writer = StreamWriter(stream: writeEnd)
            let ticksBefore = counters.ticks
            var copied = 0
            let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 1)
            defer { chunk.deallocate() }
            while copied < total {
                let count = try await reader.read(into: chunk)
                try await writer.write(UnsafeRawBufferPointer(rebasing: chunk[..<count]))
                copied += count
            }
            let ticksDuring = counters.ticks - ticksBefore
            counters.stop = true
            try await ticker.value
            // 512 operations that all complete at once: without a budget the copy never suspends and
            // the ticker does not run at all; with 64 operations per job it runs about 8 times.
            #expect(ticksDuring >= 4, "the other task ran \(ticksDuring) times during the copy")
            for stream in [source, readEnd, writeEnd, sink] { stream.close() }
        }
    }

    @Test func socketReceiveLoopYieldsToOtherTasks() async throws {
        try await withTestLoop { loop in
            let (x, y) = try SocketOps.socketPair()
            let a = try loop.adopt(x), b = try loop.adopt(y)
            defer { a.close(); b.close() }
            let total = 32 * 1024
            try await loop.sendAll(a, [UInt8](repeating: 1, count: total))
            let counters = Counters()
            let ticker = await Self.startTicker(on: loop, counters)
            let ticksBefore = counters.ticks
            var received = 0
            while received < total { received += try await loop.receive(b, upTo: 128).count }
            let ticksDuring = counters.ticks - ticksBefore
            counters.stop = true
            try await ticker.value
            // 256 receives that all complete at once.
            #expect(ticksDuring >= 2, "the other task ran \(ticksDuring) times during 256 receives")
        }
    }
}

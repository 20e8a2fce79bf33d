import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import Testing

/// The system layer's seam: errors the kernel returns rarely, scripted on the test loop's thread.
@Suite(.timeLimit(.minutes(1)))
struct SystemCallFaultTests {
    @Test func interruptedCallsAreRetriedAndLoseNothing() async throws {
        try await withTestLoop { loop in
            let (x, y) = try SocketOps.socketPair()
            let a = try loop.adopt(x), b = try loop.adopt(y)
            defer { a.close(); b.close() }
            SystemCallFaults.inject([.interrupted, .interrupted], into: "send")
            try await loop.sendAll(a, Array("hello".utf8))
            SystemCallFaults.inject([.interrupted], into: "recv")
            #expect(try await loop.receive(b, upTo: 16) == Array("hello".utf8))
            #expect(SystemCallFaults.clear() == 0)  // every scripted EINTR was met and retried
        }
    }

    /// A receive that returns fewer bytes than asked for empties the socket: the next receive waits for
    /// the loop instead of calling `recv` for an `EAGAIN` (issue 17: a system call less per request).
    /// A scripted `recv` error shows whether a call was made.
    @Test func aShortReceiveMakesTheNextOneWaitWithoutASystemCall() async throws {
        try await withTestLoop(virtualTime: false) { loop in
            let (x, y) = try SocketOps.socketPair()
            let a = try loop.adopt(x), b = try loop.adopt(y)
            defer { a.close(); b.close() }
            try await loop.sendAll(a, Array("first".utf8))
            var buffer = [UInt8](repeating: 0, count: 64)
            try await b.waitUntilReceivable()
            let first = try buffer.withUnsafeMutableBytes { try b.tryReceive(into: $0) }
            #expect(Self.count(first) == 5)
            #expect(b.registration.isDrained)
            SystemCallFaults.inject([.connectionReset], into: "recv")
            let second = try buffer.withUnsafeMutableBytes { try b.tryReceive(into: $0) }
            #expect(Self.count(second) == nil)
            #expect(SystemCallFaults.clear() == 1, "no recv was made")
            // New bytes are a new edge: the loop sees them, and the next receive makes the call.
            try await loop.sendAll(a, Array("second".utf8))
            try await b.waitUntilReceivable()
            #expect(!b.registration.isDrained)
            let third = try buffer.withUnsafeMutableBytes { try b.tryReceive(into: $0) }
            #expect(Self.count(third) == 6)
            #expect(Array(buffer[0..<6]) == Array("second".utf8))
            // A full buffer may leave bytes behind: no assumption then.
            try await loop.sendAll(a, [UInt8](repeating: 9, count: 100))
            try await b.waitUntilReceivable()
            let full = try buffer.withUnsafeMutableBytes { try b.tryReceive(into: $0) }
            #expect(Self.count(full) == 64)
            #expect(!b.registration.isDrained)
            let rest = try buffer.withUnsafeMutableBytes { try b.tryReceive(into: $0) }
            #expect(Self.count(rest) == 36)
        }
    }

    private static func count(_ result: IOResult<Int>) -> Int? {
        if case .done(let count) = result { return count }
        return nil
    }

    @Test func aResetWhileTheWriterFlushesFailsEveryLaterWrite() async throws {
        try await withTestLoop { loop in
            let (x, y) = try SocketOps.socketPair()
            let a = try loop.adopt(x), b = try loop.adopt(y)
            let writer = StreamWriter(socket: a)
            // The kernel takes nothing now: the bytes wait in the writer's buffer...
            SystemCallFaults.inject([.resourceTemporarilyUnavailable], into: "send")
            try await writer.write(Array(repeating: 7, count: 1000))
            #expect(writer.bufferedCount == 1000)
            // ...and the peer resets while the loop flushes them.
            SystemCallFaults.inject([.connectionReset], into: "send")
            await #expect { try await writer.flush() } throws: { ($0 as? StreamError)?.code == .broken }
            await #expect { try await writer.write([1]) } throws: { ($0 as? StreamError)?.code == .broken }
            #expect(SystemCallFaults.clear() == 0)
            writer.abort()
            b.close()
        }
    }

    @Test func runningOutOfDescriptorsOnAcceptPausesTheServerWhichThenRecovers() async throws {
        try await withTestLoop { loop in
            // The accept loop's first attempt runs on this thread, in this turn: it meets EMFILE.
            SystemCallFaults.inject([.tooManyOpenFiles], into: "accept4")
            let start = loop.now
            let server = try await startServer(host: "127.0.0.1", port: 0) { reader, writer in
                try await writer.write(try await reader.readLine())
            }
            let (reader, writer) = try await openConnection(host: "127.0.0.1", port: server.localAddress.port!)
            try await writer.write("still serving\n")
            #expect(try await reader.readLine() == Array("still serving\n".utf8))
            // The server backed off for 100 ms (virtual) instead of spinning or giving up.
            #expect(start.duration(to: loop.now) >= .milliseconds(100))
            #expect(SystemCallFaults.clear() == 0)
            writer.abort()
            server.close()
            try await server.serveForever()
        }
    }
}

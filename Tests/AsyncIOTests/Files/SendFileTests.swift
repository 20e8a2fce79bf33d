import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import Testing

/// Issue 14: `StreamWriter.sendFile`, the kernel's `sendfile(2)` over sockets and a read-and-write copy
/// over other streams. The bytes, their order among ordinary writes, and every way it can fail.
@Suite(.timeLimit(.minutes(2)))
struct SendFileTests {
    static func makeFile(_ bytes: [UInt8]) async throws -> (File, String) {
        let path = "/tmp/aio-sendfile-\(UInt64.random(in: 0...UInt64.max)).bin"
        try await File.write(bytes, to: path)
        return (try await File.open(path), path)
    }

    /// Runs `body` with a 4 MiB file (far more than a socket pair buffers), a writer on one end of a
    /// socket pair and the other end, on a test loop; closes and removes the file afterwards.
    static func withLargeFileAndSocketPair(
        _ body: @escaping @Sendable (EventLoop, File, StreamWriter, Socket) async throws -> Void
    ) async throws {
        try await withTestLoop { loop in
            let (file, path) = try await makeFile([UInt8](repeating: 9, count: 4 << 20))
            let (x, y) = try SocketOps.socketPair()
            let writer = StreamWriter(socket: try loop.adopt(x))
            let peer = try loop.adopt(y)
            do {
                try await body(loop, file, writer, peer)
            } catch {
                writer.abort()
                peer.close()
                try await file.close()
                try await File.remove(path)
                throw error
            }
            writer.abort()
            peer.close()
            try await file.close()
            try await File.remove(path)
        }
    }

    /// Bytes whose value depends on their position (period 251, a prime), so a byte sent twice,
    /// dropped or moved shows.
    static func patternBytes(_ count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            for index in 0..<count { buffer[index] = UInt8(index % 251) }
            initialized = count
        }
    }

    /// A range of a 3 MiB file between two ordinary writes (the socket's buffer is far smaller, so the
    /// send fills it, waits and resumes many times): everything arrives once, in order.
    @Test func sendsARangeOverASocketInOrderWithOtherWrites() async throws {
        try await withTestLoop { loop in
            let content = Self.patternBytes(3 << 20)
            let (file, path) = try await Self.makeFile(content)
            let (x, y) = try SocketOps.socketPair()
            let writer = StreamWriter(socket: try loop.adopt(x))
            let reader = StreamReader(socket: try loop.adopt(y))
            let range = 12_345..<(3 << 20) - 999
            let sender = loop.spawn {
                try await writer.write(Array("head|".utf8))
                try await writer.sendFile(file, offset: range.lowerBound, count: range.count)
                try await writer.write(Array("|tail".utf8))
                await writer.close()
            }
            var received: [UInt8] = []
            while true {
                let chunk = try await reader.read(upTo: 100_000)
                if chunk.isEmpty { break }
                received += chunk
            }
            try await sender.value
            #expect(received == Array("head|".utf8) + content[range] + Array("|tail".utf8))
            try await file.close()
            try await File.remove(path)
        }
    }

    /// The socket path really is `sendfile(2)`: an error scripted into that call is what the send
    /// reports. A memory stream takes the copying path, which never calls it.
    @Test func socketsUseSendfileAndOtherStreamsCopy() async throws {
        try await withTestLoop { loop in
            let content = Self.patternBytes(200_000)
            let (file, path) = try await Self.makeFile(content)
            let (x, y) = try SocketOps.socketPair()
            let writer = StreamWriter(socket: try loop.adopt(x))
            SystemCallFaults.inject([.connectionReset], into: "sendfile")
            await #expect { try await writer.sendFile(file, count: 1000) } throws: { ($0 as? StreamError)?.code == .broken }
            #expect(SystemCallFaults.clear() == 0)
            writer.abort()
            try FileDescriptorOps.close(y)

            let (near, far) = MemoryStream.pair(on: loop)
            let copying = StreamWriter(stream: near)
            SystemCallFaults.inject([.connectionReset], into: "sendfile")
            let sender = loop.spawn {
                try await copying.sendFile(file, offset: 7, count: content.count - 7)
                await copying.close()
            }
            let received = try await StreamReader(stream: far).readToEnd()
            try await sender.value
            #expect(received == Array(content[7...]))
            #expect(SystemCallFaults.clear() == 1)  // never met
            try await file.close()
            try await File.remove(path)
        }
    }

    @Test func aFileShorterThanTheCountFailsWithAClearError() async throws {
        try await withTestLoop { loop in
            let (file, path) = try await Self.makeFile(Array(repeating: 1, count: 5000))
            let (x, y) = try SocketOps.socketPair()
            let writer = StreamWriter(socket: try loop.adopt(x))
            let reader = StreamReader(socket: try loop.adopt(y))
            await #expect {
                try await writer.sendFile(file, offset: 1000, count: 10_000)
            } throws: { error in
                (error as? FileError)?.reason == "the file ended after 4000 of 10000 bytes"
            }
            #expect(try await reader.read(exactly: 4000) == Array(repeating: 1, count: 4000))
            writer.abort()
            reader.stream?.close()
            try await file.close()
            try await File.remove(path)
        }
    }

    /// Other writes would interleave with the kernel's: they are refused while the file goes out.
    @Test func writesDuringASendAreRefusedAsBusy() async throws {
        try await Self.withLargeFileAndSocketPair { loop, file, writer, _ in
            let sender = loop.spawn { try await writer.sendFile(file, count: 4 << 20) }
            await loop.waitUntilAllTasksBlocked()  // the socket is full; the send waits for room
            await #expect { try await writer.write([1]) } throws: { ($0 as? StreamError)?.code == .busy }
            sender.cancel()
            await #expect(throws: CancellationError.self) { try await sender.value }
            try await writer.write([1])  // the send is over: writes are accepted again
        }
    }

    @Test func aPeerThatReadsNothingTimesOutTheSend() async throws {
        try await Self.withLargeFileAndSocketPair { loop, file, writer, _ in
            writer.stallTimeout = .seconds(5)
            let start = loop.now
            await #expect { try await writer.sendFile(file, count: 4 << 20) } throws: { ($0 as? StreamError)?.code == .timedOut }
            #expect(start.duration(to: loop.now) >= .seconds(5))
            await #expect { try await writer.write([1]) } throws: { ($0 as? StreamError)?.code == .timedOut }
        }
    }

    /// A peer that closes mid-file gives an error, not a `SIGPIPE` that would end the process.
    @Test func aPeerThatLeavesMidFileIsABrokenStream() async throws {
        try await Self.withLargeFileAndSocketPair { loop, file, writer, peer in
            let sender = loop.spawn { try await writer.sendFile(file, count: 4 << 20) }
            await loop.waitUntilAllTasksBlocked()
            peer.close()
            await #expect { try await sender.value } throws: { ($0 as? StreamError)?.code == .broken }
        }
    }
}

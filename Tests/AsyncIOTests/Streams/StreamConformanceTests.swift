import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import AsyncIOTLS
import Testing

/// The kinds of connected byte streams every stream test runs over: sockets, the in-memory pair, and TLS
/// (over a socket pair, handshaken in the process).
enum PairKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case tcp, unix, socketPair, memory, tls
    var testDescription: String { rawValue }
}

/// One end of a connected pair: a reader and a writer over the same stream.
struct End {
    let reader: StreamReader
    let writer: StreamWriter
}

/// Makes a connected pair of streams of `kind` on `loop`.
func makePair(_ kind: PairKind, on loop: EventLoop, highWatermark: Int = 64 * 1024, limit: Int = 64 * 1024) async throws -> (End, End) {
    func end(_ stream: any ByteStream) -> End {
        End(reader: StreamReader(stream: stream, limit: limit),
            writer: StreamWriter(stream: stream, highWatermark: highWatermark, lowWatermark: highWatermark / 4))
    }
    switch kind {
    case .memory:
        let (x, y) = MemoryStream.pair(on: loop)
        return (end(x), end(y))
    case .tls:
        let pki = try await TestPKI.shared()
        let server = try TLSContext(.server(certificateChain: .file(pki.path("chain.pem")), privateKey: .file(pki.path("leaf.key"))))
        var configuration = TLSConfiguration.client()
        configuration.trustRoots = .none
        configuration.additionalTrustRoots = [.file(pki.path("ca.pem"))]
        let client = try TLSContext(configuration)
        let (x, y) = try SocketOps.socketPair()
        let serverSocket = try loop.adopt(x), clientSocket = try loop.adopt(y)
        let accepting = loop.spawn { try await TLSStream.accept(over: serverSocket, context: server) }
        let connected = try await TLSStream.connect(over: clientSocket, context: client, serverName: "localhost")
        return (end(connected), end(try await accepting.value))
    case .socketPair:
        let (a, b) = try SocketOps.socketPair()
        return (end(try loop.adopt(a)), end(try loop.adopt(b)))
    case .tcp, .unix:
        let address = kind == .tcp
            ? try SocketAddress(ip: "127.0.0.1", port: 0)
            : try SocketAddress(unixPath: "/tmp/aio-test-\(UInt64.random(in: 0...UInt64.max)).sock")
        let listener = try loop.listen(on: address)
        defer {
            listener.close()
            if case .unix(let path) = address { try? SocketOps.unlinkIfPresent(path) }
        }
        async let accepted = loop.accept(listener)
        let client = try await loop.connect(to: listener.localAddress ?? address)
        return (end(client), end(try await accepted))
    }
}

@Suite(.timeLimit(.minutes(1)))
struct StreamConformanceTests {
    @Test(arguments: PairKind.allCases)
    func bytesArriveInOrderAcrossPartialReads(kind: PairKind) async throws {
        try await withTestLoop { loop in
            let (a, b) = try await makePair(kind, on: loop)
            let message = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let writer = loop.spawn { try await a.writer.write(message); await a.writer.close() }
            var received: [UInt8] = []
            while true {
                let chunk = try await b.reader.read(upTo: 3000)
                if chunk.isEmpty { break }
                received += chunk
            }
            #expect(received == message)
            #expect(b.reader.isAtEOF)
            try await writer.value
            b.writer.abort()
        }
    }

    @Test(arguments: PairKind.allCases)
    func readExactlyGathersManySmallWrites(kind: PairKind) async throws {
        try await withTestLoop { loop in
            let (a, b) = try await makePair(kind, on: loop)
            let writer = loop.spawn {
                for byte in UInt8(0)..<200 {
                    try await a.writer.write([byte])
                    try await loop.sleep(for: .milliseconds(1))
                }
            }
            #expect(try await b.reader.read(exactly: 150) == Array(0..<150))
            #expect(try await b.reader.read(exactly: 50) == Array(150..<200))
            try await writer.value
            a.writer.abort()
            b.writer.abort()
        }
    }

    @Test(arguments: PairKind.allCases)
    func linesSplitAtEveryByteAreReassembled(kind: PairKind) async throws {
        try await withTestLoop { loop in
            let (a, b) = try await makePair(kind, on: loop)
            let text = Array("first line\nsecond\n\nlast without newline".utf8)
            for split in 0...text.count {
                try await a.writer.write(Array(text[..<split]))
                try await loop.sleep(for: .milliseconds(1))
                try await a.writer.write(Array(text[split...]))
                try await a.writer.write(Array("\n".utf8))
                #expect(try await b.reader.readLine() == Array("first line\n".utf8))
                #expect(try await b.reader.readLine() == Array("second\n".utf8))
                #expect(try await b.reader.readLine() == Array("\n".utf8))
                #expect(try await b.reader.readLine() == Array("last without newline\n".utf8))
            }
            a.writer.abort()
            b.writer.abort()
        }
    }

    @Test(arguments: PairKind.allCases)
    func lineLongerThanTheLimitIsAnOverrun(kind: PairKind) async throws {
        try await withTestLoop { loop in
            let (a, b) = try await makePair(kind, on: loop, limit: 100)
            try await a.writer.write([UInt8](repeating: UInt8(ascii: "x"), count: 500))
            do {
                _ = try await b.reader.readLine()
                Issue.record("no overrun")
            } catch let error as StreamError {
                #expect(error.code == .limitOverrun)
            }
            a.writer.abort()
            b.writer.abort()
        }
    }

    @Test(arguments: PairKind.allCases)
    func endOfStreamInEveryState(kind: PairKind) async throws {
        try await withTestLoop { loop in
            let (a, b) = try await makePair(kind, on: loop)
            try await a.writer.write(Array("abc".utf8))
            a.writer.writeEOF()
            do {
                _ = try await b.reader.read(exactly: 5)
                Issue.record("read past EOF")
            } catch let error as StreamError {
                #expect(error.code == .incompleteRead)
                #expect(error.partial == Array("abc".utf8))
                #expect(error.expected == 5)
            }
            #expect(try await b.reader.read(upTo: 10).isEmpty)
            #expect(try await b.reader.readLine().isEmpty)
            #expect(try await b.reader.readToEnd().isEmpty)
            #expect(b.reader.isAtEOF)
            a.writer.abort()
            b.writer.abort()
        }
    }

    @Test(arguments: PairKind.allCases)
    func halfCloseBothWays(kind: PairKind) async throws {
        try await withTestLoop { loop in
            let (a, b) = try await makePair(kind, on: loop)
            try await a.writer.write(Array("ping".utf8))
            a.writer.writeEOF()
            #expect(try await b.reader.readToEnd() == Array("ping".utf8))
            // b can still answer after a has half-closed, and a can still read it.
            try await b.writer.write(Array("pong".utf8))
            b.writer.writeEOF()
            #expect(try await a.reader.readToEnd() == Array("pong".utf8))
            await #expect(throws: StreamError.self) { try await a.writer.write(Array("late".utf8)) }
            a.writer.abort()
            b.writer.abort()
        }
    }

    @Test(arguments: [PairKind.tcp])
    func peerResetMidReadIsBroken(kind: PairKind) async throws {
        try await withTestLoop { loop in
            let (a, b) = try await makePair(kind, on: loop)
            // Unread data at close makes the kernel send RST instead of FIN.
            try await b.writer.write(Array("unread".utf8))
            try await loop.sleep(for: .milliseconds(1))
            a.writer.abort()
            do {
                _ = try await b.reader.read(exactly: 10)
                Issue.record("no error")
            } catch let error as StreamError {
                // A reset, not an end of stream: reading what was cut short must say so.
                #expect(error.code == .broken, "\(error)")
            }
            b.writer.abort()
        }
    }

    @Test(arguments: PairKind.allCases)
    func writingToAResetPeerIsBroken(kind: PairKind) async throws {
        try await withTestLoop { loop in
            let (a, b) = try await makePair(kind, on: loop)
            try await b.writer.write(Array("unread".utf8))
            try await loop.sleep(for: .milliseconds(1))
            a.writer.abort()
            var error: StreamError?
            for _ in 0..<100 {
                do { try await b.writer.write([UInt8](repeating: 1, count: 65536)) } catch let e as StreamError {
                    error = e
                    break
                }
            }
            #expect(error?.code == .broken)
            b.writer.abort()
        }
    }

    @Test(arguments: PairKind.allCases)
    func cancelledReadConsumesNothing(kind: PairKind) async throws {
        try await withTestLoop { loop in
            let (a, b) = try await makePair(kind, on: loop)
            try await a.writer.write(Array("ab".utf8))
            let pending = loop.spawn { try await b.reader.read(exactly: 5) }
            try await loop.sleep(for: .milliseconds(1))
            pending.cancel()
            await #expect(throws: CancellationError.self) { try await pending.value }
            try await a.writer.write(Array("cde".utf8))
            #expect(try await b.reader.read(exactly: 5) == Array("abcde".utf8))
            a.writer.abort()
            b.writer.abort()
        }
    }

    @Test(arguments: PairKind.allCases)
    func closingWhileATaskWaitsFailsItWithClosed(kind: PairKind) async throws {
        try await withTestLoop { loop in
            let (a, b) = try await makePair(kind, on: loop)
            let pending = loop.spawn { try await b.reader.read(upTo: 10) }
            try await loop.sleep(for: .milliseconds(1))
            b.writer.abort()
            do {
                _ = try await pending.value
                Issue.record("no error")
            } catch let error as StreamError {
                #expect(error.code == .closed)
            }
            a.writer.abort()
        }
    }

    @Test(arguments: PairKind.allCases)
    func aSecondConcurrentReaderIsBusy(kind: PairKind) async throws {
        try await withTestLoop { loop in
            let (a, b) = try await makePair(kind, on: loop)
            let first = loop.spawn { try await b.reader.read(upTo: 10) }
            try await loop.sleep(for: .milliseconds(1))
            do {
                _ = try await b.reader.read(upTo: 10)
                Issue.record("no error")
            } catch let error as StreamError {
                #expect(error.code == .busy)
            }
            try await a.writer.write([42])
            #expect(try await first.value == [42])
            a.writer.abort()
            b.writer.abort()
        }
    }

    /// A peer that never reads: writes suspend once the buffer passes the high watermark, so memory stays
    /// bounded however much the program tries to send.
    @Test(arguments: PairKind.allCases)
    func writerBackpressureBoundsTheBuffer(kind: PairKind) async throws {
        try await withTestLoop { loop in
            let (a, b) = try await makePair(kind, on: loop, highWatermark: 64 * 1024)
            let chunk = [UInt8](repeating: 7, count: 16 * 1024)
            let writer = loop.spawn {
                var written = 0
                while true {
                    try await a.writer.write(chunk)
                    written += chunk.count
                    precondition(a.writer.bufferedCount <= 64 * 1024 + chunk.count)
                }
            }
            // Let the writer fill the kernel buffers and its own, then check it is parked.
            try await loop.sleep(for: .seconds(1))
            #expect(a.writer.bufferedCount > 0)
            #expect(a.writer.bufferedCount <= 64 * 1024 + chunk.count)
            let parked = a.writer.bufferedCount
            try await loop.sleep(for: .seconds(1))
            #expect(a.writer.bufferedCount == parked)
            // Reading drains it and lets the writer go on.
            _ = try await b.reader.read(exactly: 1024 * 1024)
            writer.cancel()
            _ = try? await writer.value
            a.writer.abort()
            b.writer.abort()
        }
    }

    @Test(arguments: PairKind.allCases)
    func manyConcurrentWritersAndDrainersAreSafe(kind: PairKind) async throws {
        try await withTestLoop { loop in
            let (a, b) = try await makePair(kind, on: loop, highWatermark: 4096)
            let writers = (0..<20).map { i in
                loop.spawn {
                    for _ in 0..<50 {
                        try await a.writer.write([UInt8](repeating: UInt8(i), count: 1000))
                        try await a.writer.drain()
                    }
                }
            }
            let total = 20 * 50 * 1000
            let received = try await b.reader.read(exactly: total)
            for writer in writers { try await writer.value }
            #expect(received.count == total)
            // Every 1000-byte write arrived whole (writes are never interleaved mid-buffer).
            for offset in stride(from: 0, to: total, by: 1000) {
                #expect(Set(received[offset..<offset + 1000]).count == 1)
            }
            a.writer.abort()
            b.writer.abort()
        }
    }
}

@Suite(.timeLimit(.minutes(1)))
struct ReaderBackpressureTests {
    /// The reader pulls from the socket only when asked: a peer that sends more than the program reads
    /// fills the kernel buffers and then stalls, while the reader's own buffer stays empty.
    @Test(arguments: PairKind.allCases)
    func aReaderThatIsNotReadBuffersNothing(kind: PairKind) async throws {
        try await withTestLoop { loop in
            let (a, b) = try await makePair(kind, on: loop, highWatermark: 64 * 1024)
            let chunk = [UInt8](repeating: 5, count: 64 * 1024)
            let flood = loop.spawn { while true { try await a.writer.write(chunk) } }
            try await loop.sleep(for: .seconds(1))
            #expect(b.reader.bufferedCount == 0)
            #expect(a.writer.bufferedCount > 0)  // the sender is held back, not the receiver's memory
            _ = try await b.reader.read(exactly: 10)
            #expect(b.reader.bufferedCount < 64 * 1024)  // one receive's worth at most
            flood.cancel()
            _ = try? await flood.value
            a.writer.abort()
            b.writer.abort()
        }
    }
}

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
func makeStreams(_ kind: PairKind, on loop: EventLoop) async throws -> (any ByteStream, any ByteStream) {
    switch kind {
    case .memory:
        return MemoryStream.pair(on: loop)
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
        return (connected, try await accepting.value)
    case .socketPair:
        let (a, b) = try SocketOps.socketPair()
        return (try loop.adopt(a), try loop.adopt(b))
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
        return (client, try await accepted)
    }
}

/// A connected pair of `kind` with a reader and a writer on each end.
func makePair(_ kind: PairKind, on loop: EventLoop, highWatermark: Int = 64 * 1024, limit: Int = 64 * 1024) async throws -> (End, End) {
    func end(_ stream: any ByteStream) -> End {
        End(reader: StreamReader(stream: stream, limit: limit),
            writer: StreamWriter(stream: stream, highWatermark: highWatermark, lowWatermark: highWatermark / 4))
    }
    let (x, y) = try await makeStreams(kind, on: loop)
    return (end(x), end(y))
}

@Suite(.timeLimit(.minutes(1)))
struct StreamConformanceTests {
    /// The suite AsyncIOTesting ships for any stream (ordering, end of stream, half-close,
    /// cancellation, close, busy, backpressure), over every kind this library has.
    @Test(arguments: PairKind.allCases)
    func passesTheShippedConformanceSuite(kind: PairKind) async throws {
        try await ByteStreamConformance.check(kind.rawValue) { loop in try await makeStreams(kind, on: loop) }
    }

    /// The suite can fail: a stream that drops one byte in a thousand does.
    @Test func theConformanceSuiteCatchesALossyStream() async throws {
        await #expect {
            try await ByteStreamConformance.check("lossy") { loop in
                let (x, y) = MemoryStream.pair(on: loop)
                return (x, LossyStream(wrapping: y))
            }
        } throws: { error in
            (error as? ConformanceFailure)?.check == "bytes arrive in order across partial reads"
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

/// A stream that loses every thousandth byte it receives: what the conformance suite must reject.
final class LossyStream: ByteStream, @unchecked Sendable {
    let inner: any ByteStream
    private var seen = 0
    init(wrapping inner: any ByteStream) { self.inner = inner }
    var loop: EventLoop { inner.loop }
    var isClosed: Bool { inner.isClosed }
    var peerAddress: SocketAddress? { nil }
    func tryReceive(into buffer: UnsafeMutableRawBufferPointer) throws -> IOResult<Int> {
        guard case .done(let count) = try inner.tryReceive(into: buffer) else { return .wouldBlock }
        var kept = 0
        for index in 0..<count {
            seen += 1
            if seen % 1000 == 0 { continue }
            buffer[kept] = buffer[index]
            kept += 1
        }
        return count > 0 && kept == 0 ? .wouldBlock : .done(kept)
    }
    func trySend(_ bytes: UnsafeRawBufferPointer) throws -> IOResult<Int> { try inner.trySend(bytes) }
    func waitUntilReceivable() async throws { try await inner.waitUntilReceivable() }
    func waitUntilSendable() async throws { try await inner.waitUntilSendable() }
    func setSendableHandler(_ handler: (() -> Void)?) { inner.setSendableHandler(handler) }
    func shutdownWrite() throws { try inner.shutdownWrite() }
    func close() { inner.close() }
}

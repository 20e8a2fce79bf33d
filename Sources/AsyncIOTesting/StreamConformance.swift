import AsyncIO

/// A check of ``ByteStreamConformance`` that failed: which one, and what it saw.
public struct ConformanceFailure: Error, CustomStringConvertible {
    /// The stream under test, as named by the caller.
    public let stream: String
    /// The check that failed.
    public let check: String
    /// What it saw.
    public let detail: String

    public var description: String { "\(stream) fails \"\(check)\": \(detail)" }
}

/// The behaviour every ``ByteStream`` must have for ``StreamReader``, ``StreamWriter`` and everything
/// above them to work over it (Trio's `check_two_way_stream`): run it against a stream type of your own.
///
/// ```swift
/// @Test func myStreamConforms() async throws {
///     try await ByteStreamConformance.check("MyStream") { loop in try await MyStream.pair(on: loop) }
/// }
/// ```
///
/// Each check runs on a fresh test loop (`withTestLoop`, virtual time) with a fresh pair from
/// `makePair`, the two ends of one connection: bytes arrive in order across partial reads; end of
/// stream after a half-close, in every read; half-close both ways; a cancelled read consumes nothing;
/// every read that waits ends when its task is cancelled and at a timeout's deadline; closing an end
/// fails a read waiting on it with `.closed`; a second concurrent reader is `.busy`; a writer to a
/// peer that never reads holds at most its high watermark and then waits.
public enum ByteStreamConformance {
    /// Runs every check; throws the first ``ConformanceFailure`` (or the error a check met).
    ///
    /// ### Cancellation
    /// Runs to completion.
    public static func check(
        _ name: String,
        makePair: @escaping @Sendable (EventLoop) async throws -> (any ByteStream, any ByteStream)
    ) async throws {
        for (check, body) in checks {
            try await withTestLoop { loop in
                let (x, y) = try await makePair(loop)
                let a = (reader: StreamReader(stream: x), writer: StreamWriter(stream: x, highWatermark: 16 * 1024, lowWatermark: 4 * 1024))
                let b = (reader: StreamReader(stream: y), writer: StreamWriter(stream: y, highWatermark: 16 * 1024, lowWatermark: 4 * 1024))
                defer {
                    a.writer.abort()
                    b.writer.abort()
                }
                if let detail = try await body(loop, a, b) {
                    throw ConformanceFailure(stream: name, check: check, detail: detail)
                }
            }
        }
    }

    typealias End = (reader: StreamReader, writer: StreamWriter)

    /// Every reading call of `reader` that waits when nothing is buffered, by name.
    static func waitingReads(_ reader: StreamReader) -> [(String, @Sendable () async throws -> Void)] {
        [
            ("read(into:)", {
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16, alignment: 1)
                defer { buffer.deallocate() }
                _ = try await reader.read(into: buffer)
            }),
            ("read(upTo:)", { _ = try await reader.read(upTo: 16) }),
            ("read(exactly:)", { _ = try await reader.read(exactly: 1) }),
            ("read(until:)", { _ = try await reader.read(until: [0]) }),
            ("readLine()", { _ = try await reader.readLine() }),
            ("readToEnd()", { _ = try await reader.readToEnd() }),
            ("receiveMore()", { _ = try await reader.receiveMore() }),
        ]
    }
    /// A check returns nil when it passes, else what it saw.
    typealias Check = @Sendable (EventLoop, End, End) async throws -> String?

    static let checks: [(String, Check)] = [
        ("bytes arrive in order across partial reads", { loop, a, b in
            let message = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let writer = loop.spawn { try await a.writer.write(message); await a.writer.close() }
            var received: [UInt8] = []
            while true {
                let chunk = try await b.reader.read(upTo: 3000)
                if chunk.isEmpty { break }
                received += chunk
            }
            try await writer.value
            return received == message ? nil : "received \(received.count) bytes, not the 100,000 sent in order"
        }),
        ("end of stream after a half-close, in every read", { _, a, b in
            try await a.writer.write(Array("abc".utf8))
            a.writer.writeEOF()
            do {
                _ = try await b.reader.read(exactly: 5)
                return "read(exactly: 5) of 3 bytes and an end returned"
            } catch let error as StreamError where error.code == .incompleteRead {
                if error.partial != Array("abc".utf8) { return "the partial bytes were \(error.partial)" }
            }
            if try await !b.reader.read(upTo: 10).isEmpty { return "a read after the end returned bytes" }
            if try await !b.reader.readToEnd().isEmpty { return "readToEnd after the end returned bytes" }
            return b.reader.isAtEOF ? nil : "isAtEOF is false after the end"
        }),
        ("half-close both ways", { _, a, b in
            try await a.writer.write(Array("ping".utf8))
            a.writer.writeEOF()
            if try await b.reader.readToEnd() != Array("ping".utf8) { return "the first direction lost bytes" }
            try await b.writer.write(Array("pong".utf8))
            b.writer.writeEOF()
            if try await a.reader.readToEnd() != Array("pong".utf8) { return "the answer after a half-close was lost" }
            return nil
        }),
        ("a cancelled read consumes nothing", { loop, a, b in
            try await a.writer.write(Array("ab".utf8))
            let pending = loop.spawn { try await b.reader.read(exactly: 5) }
            await loop.waitUntilAllTasksBlocked()
            pending.cancel()
            if (try? await pending.value) != nil { return "the cancelled read returned" }
            try await a.writer.write(Array("cde".utf8))
            let all = try await b.reader.read(exactly: 5)
            return all == Array("abcde".utf8) ? nil : "after the cancelled read, read \(all)"
        }),
        ("every read that waits ends when its task is cancelled, and at its scope's deadline", { loop, _, b in
            for (name, read) in waitingReads(b.reader) {
                let finished = LockedState(false)
                let pending = loop.spawn {
                    defer { finished.withLock { $0 = true } }
                    try await read()
                }
                await loop.waitUntilAllTasksBlocked()
                pending.cancel()
                await loop.waitUntilAllTasksBlocked()
                // A read that went on waiting is ended by the check's close of the streams.
                if !finished.withLock({ $0 }) { return "\(name) went on waiting after its task was cancelled" }
                do {
                    try await pending.value
                    return "the cancelled \(name) returned"
                } catch is CancellationError {}
                do {
                    try await withTimeout(.seconds(1)) { try await read() }
                    return "\(name) returned inside a timeout with nothing to read"
                } catch is TimeoutError {}
            }
            return nil
        }),
        ("closing an end fails a read waiting on it with .closed", { loop, _, b in
            let pending = loop.spawn { try await b.reader.read(upTo: 10) }
            await loop.waitUntilAllTasksBlocked()
            b.writer.abort()
            do {
                _ = try await pending.value
                return "the waiting read returned"
            } catch let error as StreamError {
                return error.code == .closed ? nil : "the waiting read failed with \(error), not .closed"
            }
        }),
        ("a second concurrent reader is .busy", { loop, a, b in
            let first = loop.spawn { try await b.reader.read(upTo: 10) }
            await loop.waitUntilAllTasksBlocked()
            do {
                _ = try await b.reader.read(upTo: 10)
                return "a second reader was let in"
            } catch let error as StreamError where error.code == .busy {}
            try await a.writer.write([42])
            return try await first.value == [42] ? nil : "the first reader lost the byte"
        }),
        ("a writer to a peer that never reads holds at most its watermark", { loop, a, b in
            let chunk = [UInt8](repeating: 7, count: 40 * 1024)  // larger than the watermark
            let writer = loop.spawn { while true { try await a.writer.write(chunk) } }
            try await loop.sleep(for: .seconds(1))
            let parked = a.writer.bufferedCount
            if parked == 0 || parked > a.writer.highWatermark { return "the writer holds \(parked) bytes" }
            try await loop.sleep(for: .seconds(1))
            if a.writer.bufferedCount != parked { return "the writer did not wait: \(a.writer.bufferedCount) bytes" }
            _ = try await b.reader.read(exactly: 256 * 1024)  // reading lets it go on
            writer.cancel()
            _ = try? await writer.value
            return nil
        }),
    ]
}

import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import Glibc
import Testing

/// Issue 17: on an io_uring loop, `File` goes through the ring (`openat`, `read`, `write`, `statx`,
/// `fsync` as ring operations) instead of the offload pool; the same results, the same errors, and a
/// cancelled operation is cancelled in the ring without losing data. (The whole file suite also runs
/// on io_uring in CI's second run.)
@Suite(.timeLimit(.minutes(1)), .enabled(if: BackendTests.ioURingAvailable, "this kernel refuses io_uring"))
struct FileRingTests {
    private static func temporaryPath(_ name: String) -> String {
        "/tmp/aio-ring-\(name)-\(UInt64.random(in: 0...UInt64.max))"
    }

    @Test func everyOperationGoesThroughTheRing() async throws {
        try await withTestLoop(backend: .ioURing) { loop in
            let path = Self.temporaryPath("file")
            let before = loop.ringFileOperations
            let content = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
            let file = try await File.open(path, mode: .write)            // openat
            try await file.write(content)                                  // write (one or more)
            try await file.write("tail")
            try await file.sync()                                          // fsync
            #expect(try await file.status().size == 200_004)               // statx
            try await file.close()
            let reading = try await File.open(path)                        // openat
            let status = try await reading.status()                       // statx
            #expect(status.isRegularFile && !status.isDirectory && status.inode != 0)
            var read: [UInt8] = []
            while true {                                                   // reads, then one at the end
                let chunk = try await reading.read(upTo: 65_536)
                if chunk.isEmpty { break }
                read += chunk
            }
            try await reading.close()
            #expect(read == content + Array("tail".utf8))
            // 2 opens, at least 2 writes, a sync, 2 statx, 4 reads and the one at the end.
            #expect(loop.ringFileOperations - before >= 12, "\(loop.ringFileOperations - before) ring operations")
            #expect(try await File.readAll(path) == read)
            try await File.remove(path)
        }
    }

    /// The kernel's errors come back as the same `FileError`s as on the pool.
    @Test func errorsAreTheSameAsOnThePool() async throws {
        try await withTestLoop(backend: .ioURing) { loop in
            let missing = Self.temporaryPath("missing")
            let notFound = await #expect(throws: FileError.self) { _ = try await File.open(missing) }
            #expect(notFound?.reason == "no such file or directory")
            #expect(notFound?.description == "open \(missing): no such file or directory")
            let directory = await #expect(throws: FileError.self) { _ = try await File.open("/tmp", mode: .write) }
            #expect(directory?.reason == "is a directory")
            // A file opened to write cannot be read.
            let path = Self.temporaryPath("write-only")
            let file = try await File.open(path, mode: .write)
            let badRead = await #expect(throws: FileError.self) { _ = try await file.read() }
            #expect(badRead?.operation == "read" && badRead?.underlying == .badFileDescriptor)
            try await file.close()
            try await File.remove(path)
            #expect(loop.ringFileOperations > 0)
        }
    }

    /// A read waiting in the ring (on a FIFO nobody writes to) is cancelled there: the task gets
    /// `CancellationError`, nothing was read, and bytes written after are read by the next read.
    @Test func aCancelledReadIsCancelledInTheRingAndLosesNothing() async throws {
        try await withTestLoop(virtualTime: false, backend: .ioURing) { loop in
            let path = Self.temporaryPath("fifo")
            #expect(mkfifo(path, 0o600) == 0)
            defer { unlink(path) }
            let fifo = try await File.open(path, mode: .readWrite)  // a FIFO opened both ways does not block
            let before = loop.ringFileOperations
            let reading = loop.spawn { try await fifo.read(upTo: 100) }
            await Task.yield()  // the read is in the ring, waiting
            reading.cancel()
            await #expect(throws: CancellationError.self) { _ = try await reading.value }
            #expect(loop.ringFileOperations == before + 1, "the read's completion came (cancelled)")
            try await fifo.write("after")
            #expect(try await fifo.read(upTo: 100) == Array("after".utf8))
            try await fifo.close()
        }
    }
}

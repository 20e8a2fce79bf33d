import AsyncIO
import AsyncIOTesting
import Testing

// Generous limit: under the thread sanitizer the 3 MB round trip takes minutes.
@Suite(.timeLimit(.minutes(5)))
struct FileTests {
    func temporaryPath() -> String { "/tmp/aio-file-\(UInt64.random(in: 0...UInt64.max)).txt" }

    @Test func roundTripsAppendsAndReadsLines() async throws {
        try await withTestLoop { _ in
            let path = temporaryPath()
            try await File.write(Array("first\nsecond\n".utf8), to: path)
            try await File.write(Array("third, no newline".utf8), to: path, append: true)
            let file = try await File.open(path)
            var lines: [String] = []
            for try await line in file.lines() { lines.append(line) }
            try await file.close()
            try await file.close()  // twice is harmless
            #expect(lines == ["first\n", "second\n", "third, no newline"])
            #expect(try await File.readAll(path) == Array("first\nsecond\nthird, no newline".utf8))
            try await File.write([], to: path)
            #expect(try await File.readAll(path).isEmpty)
            try await File.remove(path)
            await #expect(throws: FileError.self) { try await File.remove(path) }
        }
    }

    @Test func largeFilesRoundTripInChunks() async throws {
        try await withTestLoop { _ in
            let path = temporaryPath()
            let data = (0..<(isThreadSanitized ? 300_000 : 3_000_000)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            try await File.write(data, to: path)
            #expect(try await File.readAll(path) == data)
            try await File.remove(path)
        }
    }

    @Test func readAllRefusesFilesOverTheLimit() async throws {
        try await withTestLoop { _ in
            let path = temporaryPath()
            try await File.write([UInt8](repeating: 1, count: 1000), to: path)
            do {
                _ = try await File.readAll(path, limit: 999)
                Issue.record("read past the limit")
            } catch let error as FileError {
                #expect(error.reason.contains("limit"))
            }
            try await File.remove(path)
        }
    }

    @Test func errorsNameThePathAndTheReason() async throws {
        try await withTestLoop { _ in
            do {
                _ = try await File.open("/no/such/dir/file")
                Issue.record("opened a missing file")
            } catch let error as FileError {
                #expect(error.description == "open /no/such/dir/file: no such file or directory")
            }
            let file = try await File.open("/etc/hostname")
            try await file.close()
            await #expect(throws: FileError.self) { try await file.read() }
        }
    }
}

import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import Testing

/// asyncio's add_reader/add_writer/remove_reader for descriptors another library owns (issue 13).
@Suite(.timeLimit(.minutes(1)))
struct DescriptorWatcherTests {
    private func write(_ fd: Int32, _ text: String) throws {
        _ = try Array(text.utf8).withUnsafeBytes { try FileDescriptorOps.write(fd, $0) }
    }

    private func readOne(_ fd: Int32) throws -> UInt8? {
        var byte: UInt8 = 0
        let result = try withUnsafeMutableBytes(of: &byte) { try FileDescriptorOps.read(fd, into: $0) }
        if case .done(1) = result { return byte }
        return nil
    }

    /// Level-triggered: while bytes remain the callback runs again, one turn after another, though
    /// nothing new arrives; removing the reader leaves the pipe open and usable.
    @Test func aReaderFiresAgainWhileDataRemainsAndRemovalLeavesTheDescriptorOpen() async throws {
        try await withTestLoop { loop in
            let (r, w) = try FileDescriptorOps.makePipe()
            defer {
                try? FileDescriptorOps.close(r)
                try? FileDescriptorOps.close(w)
            }
            let read = Locked<[UInt8]>([])
            let drained = Event()
            try loop.addReader(r) {
                // One byte per call: the rest must bring the callback back (an edge-triggered watch
                // would stall here).
                if let byte = try? readOne(r) { read.mutate { $0.append(byte) } }
                if read.value.count == 3 { drained.set() }
            }
            try write(w, "abc")
            try await drained.wait()
            #expect(read.value == Array("abc".utf8))
            #expect(try loop.removeReader(r))
            #expect(try !loop.removeReader(r))
            #expect(loop.registrationCount == 0)
            // Still open and ours: writing and reading work without the loop.
            try write(w, "d")
            #expect(try readOne(r) == UInt8(ascii: "d"))
        }
    }

    @Test func aWriterFiresWhileWritableAndAReaderAndWriterShareTheDescriptor() async throws {
        try await withTestLoop { loop in
            let (x, y) = try SocketOps.socketPair()
            defer {
                try? FileDescriptorOps.close(x)
                try? FileDescriptorOps.close(y)
            }
            let writable = Locked(0)
            let wrote = Event()
            try loop.addWriter(x) {
                writable.mutate { $0 += 1 }
                if writable.value == 3 {
                    _ = try? loop.removeWriter(x)
                    wrote.set()
                }
            }
            let readable = Event()
            try loop.addReader(x) { readable.set() }
            try await wrote.wait()
            #expect(writable.value == 3)  // fired turn after turn until removed
            try write(y, "z")
            try await readable.wait()
            #expect(try readOne(x) == UInt8(ascii: "z"))
            #expect(try loop.removeReader(x))
            #expect(loop.registrationCount == 0)
        }
    }

    @Test func aDescriptorASocketOfTheLoopOwnsIsRefused() async throws {
        try await withTestLoop { loop in
            let (x, y) = try SocketOps.socketPair()
            let a = try loop.adopt(x)
            defer {
                a.close()
                try? FileDescriptorOps.close(y)
            }
            let error = #expect(throws: EventLoopError.self) { try loop.addReader(x) {} }
            #expect(error?.code == .system)
            #expect(error?.underlying == .fileExists)
        }
    }

    @Test func offTheLoopItThrowsNotOnLoop() async throws {
        try await withTestLoop { loop in
            let error = await Task.detached { () -> EventLoopError? in
                do { try loop.addReader(0) {} } catch { return error as? EventLoopError }
                return nil
            }.value
            #expect(error?.code == .notOnLoop)
        }
    }
}

import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import Testing

@Suite(.timeLimit(.minutes(1)))
struct RegistrationTests {
    @Test func waitReadableResumesWhenDataArrives() async throws {
        try await withTestLoop { loop in
            let (readFD, writeFD) = try FileDescriptorOps.makePipe()
            let reader = try loop.register(readFD)
            let writer = try loop.register(writeFD)
            defer { reader.close(); writer.close() }
            var buffer = [UInt8](repeating: 0, count: 16)
            let first = try buffer.withUnsafeMutableBytes { try FileDescriptorOps.read(readFD, into: $0) }
            #expect(first == .wouldBlock)
            reader.clearReadable()
            let waiter = loop.spawn { try await reader.waitReadable() }
            try await loop.sleep(for: .zero)
            _ = try [UInt8]("hi".utf8).withUnsafeBytes { try FileDescriptorOps.write(writeFD, $0) }
            try await waiter.value
            let n = try buffer.withUnsafeMutableBytes { try FileDescriptorOps.read(readFD, into: $0) }
            #expect(n == .done(2))
        }
    }

    @Test func closingFailsTheWaiterWithClosed() async throws {
        try await withTestLoop { loop in
            let (readFD, writeFD) = try FileDescriptorOps.makePipe()
            let reader = try loop.register(readFD)
            let writer = try loop.register(writeFD)
            reader.clearReadable()
            let waiter = loop.spawn { try await reader.waitReadable() }
            try await loop.sleep(for: .zero)
            reader.close()
            reader.close()  // twice is harmless
            await #expect(throws: EventLoopError.self) { try await waiter.value }
            writer.close()
            #expect(loop.registrationCount == 0)
        }
    }

    @Test func cancellingAWaitLeavesTheRegistrationUsable() async throws {
        try await withTestLoop { loop in
            let (readFD, writeFD) = try FileDescriptorOps.makePipe()
            let reader = try loop.register(readFD)
            let writer = try loop.register(writeFD)
            defer { reader.close(); writer.close() }
            reader.clearReadable()
            let waiter = loop.spawn { try await reader.waitReadable() }
            try await loop.sleep(for: .zero)
            waiter.cancel()
            await #expect(throws: CancellationError.self) { try await waiter.value }
            _ = try [UInt8]("x".utf8).withUnsafeBytes { try FileDescriptorOps.write(writeFD, $0) }
            try await reader.waitReadable()
        }
    }

    @Test func secondConcurrentReaderIsBusy() async throws {
        try await withTestLoop { loop in
            let (readFD, writeFD) = try FileDescriptorOps.makePipe()
            let reader = try loop.register(readFD)
            let writer = try loop.register(writeFD)
            defer { reader.close(); writer.close() }
            reader.clearReadable()
            let first = loop.spawn { try await reader.waitReadable() }
            try await loop.sleep(for: .zero)
            await #expect(throws: EventLoopError.self) { try await reader.waitReadable() }
            first.cancel()
            _ = try? await first.value
        }
    }

    @Test func leakedRegistrationFailsTheTestLoop() async throws {
        let (readFD, writeFD) = try FileDescriptorOps.makePipe()
        await #expect(throws: TestLoopLeak.self) {
            try await withTestLoop { loop in _ = try loop.register(readFD) }
        }
        // The test loop closed the leaked registration's descriptor on its way out.
        try FileDescriptorOps.close(writeFD)
    }

    @Test func leakedTimerAndTaskFailTheTestLoop() async throws {
        await #expect(throws: TestLoopLeak.self) {
            try await withTestLoop { loop in loop.call(after: .seconds(1)) {} }
        }
        await #expect(throws: TestLoopLeak.self) {
            try await withTestLoop { loop in loop.spawn(name: "stray") { try await loop.sleep(for: .seconds(9)) } }
        }
    }
}

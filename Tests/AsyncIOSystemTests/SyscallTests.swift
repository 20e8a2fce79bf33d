import AsyncIOSystem
import Testing

@Suite struct SyscallTests {
    @Test func errnoDescribesItselfWithItsName() {
        #expect(Errno.connectionRefused.description.contains("ECONNREFUSED"))
        #expect(Errno(rawValue: 9999).description.contains("9999"))
    }

    @Test func readingAnEmptyNonBlockingPipeWouldBlock() throws {
        let (r, w) = try FileDescriptorOps.makePipe()
        defer { try? FileDescriptorOps.close(r) }
        var buffer = [UInt8](repeating: 0, count: 8)
        let empty = try buffer.withUnsafeMutableBytes { try FileDescriptorOps.read(r, into: $0) }
        try FileDescriptorOps.close(w)
        #expect(empty == .wouldBlock)
        #expect(try buffer.withUnsafeMutableBytes { try FileDescriptorOps.read(r, into: $0) } == .done(0))
    }

    @Test func epollReportsAnEventFDOnlyOnceItIsSignalled() throws {
        let epoll = try Epoll(capacity: 4)
        let bell = try EventFD()
        defer { bell.close(); epoll.close() }
        try epoll.add(bell.fd, events: .readable, data: 7)
        #expect(try epoll.wait(timeoutMilliseconds: 0) == 0)
        bell.signal()
        #expect(try epoll.wait(timeoutMilliseconds: 0) == 1)
        #expect(epoll.event(at: 0).data == 7)
        #expect(epoll.event(at: 0).events.contains(.readable))
        bell.drain()
        #expect(try epoll.wait(timeoutMilliseconds: 0) == 0)
    }

    @Test func latchReleasesAWaitingThread() throws {
        let latch = ThreadLatch()
        let thread = try SystemThread.spawn(name: "latch") { latch.open() }
        latch.wait()
        thread.join()
    }
}

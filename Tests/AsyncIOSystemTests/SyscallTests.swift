import AsyncIOSystem
import CAsyncIOLinux
import Glibc
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

    /// The flags are literals (read on every event without an accessor): each must be its `EPOLL*` bit.
    @Test func epollFlagsAreTheKernelsBits() {
        #expect(Epoll.Events.readable.rawValue == EPOLLIN.rawValue)
        #expect(Epoll.Events.writable.rawValue == EPOLLOUT.rawValue)
        #expect(Epoll.Events.readHangUp.rawValue == EPOLLRDHUP.rawValue)
        #expect(Epoll.Events.hangUp.rawValue == EPOLLHUP.rawValue)
        #expect(Epoll.Events.error.rawValue == EPOLLERR.rawValue)
        #expect(Epoll.Events.edgeTriggered.rawValue == EPOLLET.rawValue)
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

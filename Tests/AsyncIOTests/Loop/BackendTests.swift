import AsyncIO
import AsyncIOSystem
import Testing

/// Issue 17: the loop's backends. The whole suite runs on each (`.ci/run` runs it a second time with
/// `AIO_BACKEND=io_uring`); these tests pin the choice, the fallback and what io_uring does differently.
@Suite(.timeLimit(.minutes(1)))
struct BackendTests {
    /// Whether this kernel lets us set up a ring (machines of this kind do: `io_uring_disabled` is 0).
    /// Where it does not, the tests that need a ring cannot run, and `.ci/run` says so.
    static let ioURingAvailable = (try? EventLoop.resolve(.ioURing, environmentValue: nil)) == .ioURing

    @Test(.enabled(if: ioURingAvailable, "this kernel refuses io_uring"))
    func eachBackendIsWhatItSays() throws {
        #expect(try EventLoop(backend: .epoll).backend == .epoll)
        #expect(try EventLoop(backend: .ioURing).backend == .ioURing)
        // io_uring is the default where the kernel has what makes it fast (6.1; this machine's kind does).
        let expectedDefault: EventLoop.Backend = SystemInfo.kernelIsAtLeast(6, 1) ? .ioURing : .epoll
        #expect(try EventLoop.resolve(.automatic, environmentValue: nil) == expectedDefault)
        #expect(try EventLoop.resolve(.automatic, environmentValue: "auto") == expectedDefault)
        #expect(try EventLoop.resolve(.automatic, environmentValue: "epoll") == .epoll)
        #expect(try EventLoop.resolve(.automatic, environmentValue: "io_uring") == .ioURing)
        // A value that names no backend: epoll (and a warning, once per process).
        #expect(try EventLoop.resolve(.automatic, environmentValue: "kqueue") == .epoll)
    }

    /// A refused io_uring (no such system call; a seccomp filter or the io_uring_disabled sysctl):
    /// asked for through the environment, the loop falls back to epoll; asked for by name, it is an
    /// error that says so. Synchronous tests: the scripted errors are per thread.
    @Test(arguments: [Errno.noFunction, Errno.notPermitted])
    func aRefusedIOURingFallsBackToEpollOrIsAClearError(_ refusal: Errno) throws {
        SystemCallFaults.inject([refusal], into: "io_uring_setup")
        #expect(try EventLoop.resolve(.automatic, environmentValue: "io_uring") == .epoll)
        #expect(SystemCallFaults.clear() == 0, "the ring was tried")
        // The default (no AIO_BACKEND) falls back the same way.
        SystemCallFaults.inject([refusal], into: "io_uring_setup")
        #expect(try EventLoop.resolve(.automatic, environmentValue: nil) == .epoll)
        #expect(SystemCallFaults.clear() == 0, "the ring was tried")

        SystemCallFaults.inject([refusal], into: "io_uring_setup")
        defer { SystemCallFaults.clear() }
        let error = try #require(throws: EventLoopError.self) { _ = try EventLoop(backend: .ioURing) }
        #expect(error.code == .system)
        #expect("\(error)".contains("io_uring"), "\(error)")
        #expect(error.underlying == refusal)
    }

    /// What io_uring must do as epoll does: a descriptor closed right after its registration goes
    /// (the ring holds the file while it polls it, and a removal that races the poll's wake-up must be
    /// asked again), level-triggered watchers, and refusals of what epoll refuses.
    @Test(.enabled(if: ioURingAvailable, "this kernel refuses io_uring"), arguments: [EventLoop.Backend.epoll, .ioURing])
    func closingReachesThePeerAtOnceAndWatchersAreLevelTriggered(_ backend: EventLoop.Backend) async throws {
        let group = try EventLoopGroup(loops: 1, name: "backend-\(backend.rawValue)", backend: backend)
        defer { group.shutdown() }
        let loop = group.loops[0]
        try await loop.spawn {
            #expect(loop.backend == backend)
            // 200 connections that each send a byte and half-close; the server echoes and closes at
            // once: every client must see its byte and then the end of the stream.
            let server = try await startServer(host: "127.0.0.1", port: 0) { reader, writer in
                let byte = try await reader.read(upTo: 1)
                try await writer.write(byte)
                await writer.close()
            }
            defer { server.close() }
            let port = server.localAddress.port!
            try await withThrowingTaskGroup { group in
                for index in 0..<200 {
                    group.addTask {
                        let (reader, writer) = try await openConnection(host: "127.0.0.1", port: port)
                        try await writer.write([UInt8(truncatingIfNeeded: index)])
                        writer.writeEOF()
                        let echoed = try await reader.readToEnd(limit: 10)
                        #expect(echoed == [UInt8(truncatingIfNeeded: index)])
                        writer.abort()
                    }
                }
                try await group.waitForAll()
            }

            // A watcher is level-triggered: called again at each turn while the data stays unread.
            let (x, y) = try SocketOps.socketPair()
            defer { try? FileDescriptorOps.close(x); try? FileDescriptorOps.close(y) }
            try [UInt8](repeating: 1, count: 3).withUnsafeBytes { bytes in _ = try SocketOps.send(y, bytes) }
            let calls = Locked(0)
            let thrice = Future<Void>()
            try loop.addReader(x) {
                if calls.mutate({ $0 += 1; return $0 }) == 3 { _ = thrice.complete(()) }
            }
            try await thrice.value
            #expect(try loop.removeReader(x))

            // What epoll refuses, io_uring refuses too.
            let file = try FileOps.open("/proc/self/exe", mode: .read)
            defer { try? FileDescriptorOps.close(file) }
            #expect(throws: EventLoopError.self) { try loop.addReader(file) {} }
            let socket = try loop.makeSocket(family: 2, kind: .stream)
            defer { socket.close() }
            #expect(throws: EventLoopError.self) { try loop.addReader(socket.fd) {} }
        }.value
    }
}

import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import Foundation
import Testing

/// CONTRACT.md: `--backend auto|epoll|io_uring` on the server commands (issue 17). Each value serves,
/// and the loops run on the backend it names, as the process's own inspector reports it.
@Suite(.timeLimit(.minutes(2)))
struct BackendFlagTests {
    /// What `auto` comes to in this process's environment (CI's second run sets AIO_BACKEND=epoll,
    /// which the server inherits).
    static var automatic: String {
        if ProcessInfo.processInfo.environment["AIO_BACKEND"] == "epoll" { return "epoll" }
        return SystemInfo.kernelIsAtLeast(6, 1) ? "io_uring" : "epoll"
    }

    static let ioURingAvailable = (try? EventLoop(backend: .ioURing)) != nil

    @Test(arguments: [("echo", "auto"), ("echo", "epoll"), ("echo", "io_uring"), ("serve", "io_uring"), ("serve", "epoll")])
    func eachBackendServesAndIsTheOneNamed(command: String, backend: String) async throws {
        try #require(Self.ioURingAvailable || backend != "io_uring", "this kernel refuses io_uring")
        let path = InspectCommandTests.socketPath()
        let server = AioProcess([command, "--port", "0", "--backend", backend, "--loops", "2", "--inspect", path])
        _ = try await server.startServer()
        let port = server.port
        let request = command == "echo" ? "ping\n" : "GET /get HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        try await withTestLoop(virtualTime: false) { _ in
            for _ in 0..<4 {  // round robin over both loops
                let (reader, writer) = try await openConnection(host: "127.0.0.1", port: port)
                try await writer.write(request)
                let answer = try await reader.read(exactly: 4)
                #expect(answer == Array((command == "echo" ? "ping" : "HTTP").utf8))
                writer.abort()
            }
        }
        let snapshot = try await InspectCommandTests.snapshot(of: path) { $0.loops.count >= 2 }
        let expected = backend == "auto" ? Self.automatic : backend
        // The main loop and the serving loops.
        #expect(snapshot.loops.count >= 2)
        #expect(snapshot.loops.map(\.backend) == Array(repeating: expected, count: snapshot.loops.count))
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }

    @Test func aBackendThatDoesNotExistIsABadFlag() async throws {
        let (code, _, stderr) = try await AioProcess(["echo", "--backend", "kqueue"]).runToEnd()
        #expect(code == 2)
        #expect(stderr.contains("'auto', 'epoll' or 'io_uring'"), "\(stderr)")
        let (serveCode, _, _) = try await AioProcess(["serve", "--backend", "iouring"]).runToEnd()
        #expect(serveCode == 2)
    }
}

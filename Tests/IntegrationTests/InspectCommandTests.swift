import AsyncIO
import AsyncIOSystem
import Foundation
import Testing

/// Issue 16: the inspector of a running `aio` process, seen with `aio ps` and `aio top`.
@Suite(.timeLimit(.minutes(2)))
struct InspectCommandTests {
    /// A client that sends half a request head and keeps the connection open until it is killed;
    /// prints `listening on 127.0.0.1:<its own port>` once the bytes are sent.
    static let halfRequestClient = #"""
    import signal, socket, sys
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(b"GET /get HTTP/1.1\r\nHost: inspected\r\n")
    print("listening on 127.0.0.1:%d" % s.getsockname()[1], flush=True)
    signal.pause()
    """#

    /// A fresh socket path in /tmp (every user may search it, which the other-user test needs).
    static func socketPath() -> String { "/tmp/aio-inspect-\(UUID().uuidString.prefix(8)).sock" }

    /// `aio ps target ...` to its end.
    static func ps(_ arguments: [String]) async throws -> (Int32, String, String) {
        try await AioProcess(["ps"] + arguments).runToEnd()
    }

    /// Runs `aio ps target --json` until `isComplete` holds for what it prints (the server has reached
    /// the state the test set up); fails after 10 s.
    static func snapshot(of target: String, until isComplete: (ProcessSnapshot) -> Bool) async throws -> ProcessSnapshot {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            let (status, out, err) = try await ps([target, "--json"])
            try #require(status == 0, "\(err)")
            let snapshot = try JSONDecoder().decode(ProcessSnapshot.self, from: Data(out.utf8))
            if isComplete(snapshot) || ContinuousClock.now > deadline { return snapshot }
        }
    }

    @Test func psShowsTheAcceptLoopAndAConnectionBlockedInARead() async throws {
        let path = Self.socketPath()
        let server = AioProcess(["serve", "--port", "0", "--inspect", path])
        _ = try await server.startServer()
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600, "the socket is for its owner only")
        let client = AioProcess(tool: "/usr/bin/env", ["python3", "-c", Self.halfRequestClient, "\(server.port)"])
        _ = try await client.startServer()
        let clientPort = client.port

        let snapshot = try await Self.snapshot(of: "\(server.pid)") { snapshot in
            snapshot.loops.first?.tasks.contains { $0.name == "connection 127.0.0.1:\(clientPort)" && $0.waitingOn != nil } == true
        }
        #expect(snapshot.pid == server.pid)
        let loop = try #require(snapshot.loops.first)
        #expect(loop.connections == 1)
        #expect(loop.listeners == ["listening 127.0.0.1:\(server.port)"])
        let accept = try #require(loop.tasks.first { $0.name == "http server 127.0.0.1:\(server.port)" })
        #expect(accept.waitingOn?.hasPrefix("read fd ") == true)
        #expect(accept.waitingOn?.hasSuffix("(listening 127.0.0.1:\(server.port))") == true, "\(accept.waitingOn ?? "-")")
        let connection = try #require(loop.tasks.first { $0.name == "connection 127.0.0.1:\(clientPort)" })
        #expect(connection.parent == accept.id, "a connection hangs under its server's accept loop")
        #expect(connection.waitingOn?.contains("127.0.0.1:\(server.port) ← 127.0.0.1:\(clientPort)") == true,
                "\(connection.waitingOn ?? "-")")
        #expect(loop.tasks.first { $0.name == "main" }?.waitingOn == "signals")

        // The tree as text: the connection is drawn under the accept loop, under main.
        let (status, text, err) = try await Self.ps(["\(server.pid)"])
        #expect(status == 0, "\(err)")
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.first == "process \(server.pid): 1 loop")
        let mainLine = try #require(lines.firstIndex { $0.hasPrefix("└─ #") && $0.contains(" main [waiting") })
        let acceptLine = try #require(lines.firstIndex { $0.contains("http server 127.0.0.1:\(server.port) [waiting") })
        let connectionLine = try #require(lines.firstIndex { $0.contains("connection 127.0.0.1:\(clientPort) [waiting") })
        #expect(mainLine < acceptLine && acceptLine < connectionLine)
        #expect(lines[acceptLine].hasPrefix("   └─ #") || lines[acceptLine].hasPrefix("   ├─ #"), "\(lines[acceptLine])")
        #expect(lines[connectionLine].hasPrefix("      └─ #") || lines[connectionLine].hasPrefix("      ├─ #"), "\(lines[connectionLine])")
        #expect(lines[connectionLine].contains("read fd "))

        client.signal(SIGKILL)
        _ = await client.waitForExit(timeout: .seconds(5))
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(10)) == 0)
        #expect(!FileManager.default.fileExists(atPath: path), "the socket file is removed on the way out")
    }

    @Test func theEnvironmentVariableInspectsAioEchoToo() async throws {
        let path = Self.socketPath()
        let server = AioProcess(["echo", "--port", "0"])
        server.process.environment = ProcessInfo.processInfo.environment.merging([Inspector.environmentVariable: path]) { $1 }
        _ = try await server.startServer()
        let client = AioProcess(tool: "/usr/bin/env", ["python3", "-c", Self.halfRequestClient, "\(server.port)"])
        _ = try await client.startServer()
        let snapshot = try await Self.snapshot(of: path) { snapshot in
            snapshot.loops.first?.tasks.contains { $0.name.hasSuffix("connection 127.0.0.1:\(client.port)") && $0.waitingOn != nil } == true
        }
        let connection = try #require(snapshot.loops.first?.tasks.first { $0.name.hasSuffix("connection 127.0.0.1:\(client.port)") })
        #expect(connection.waitingOn?.hasPrefix("read fd ") == true, "\(connection.waitingOn ?? "-")")
        client.signal(SIGKILL)
        _ = await client.waitForExit(timeout: .seconds(5))
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(10)) == 0)
    }

    @Test func missingProcessesAndInspectorsAreClearErrors() async throws {
        // A process that has exited.
        let path = Self.socketPath()
        let server = AioProcess(["serve", "--port", "0", "--inspect", path])
        _ = try await server.startServer()
        let pid = server.pid
        server.signal(SIGKILL)
        _ = await server.waitForExit(timeout: .seconds(5))
        let (status, _, err) = try await Self.ps(["\(pid)"])
        #expect(status == 1)
        #expect(err == "aio: no process \(pid)\n")
        // Its socket file is left behind (SIGKILL): nobody listens there.
        let (pathStatus, _, pathErr) = try await Self.ps([path])
        #expect(pathStatus == 1)
        #expect(pathErr.contains("cannot reach the inspector at \(path): nobody listens there"), "\(pathErr)")
        try? FileManager.default.removeItem(atPath: path)
        let (noFileStatus, _, noFileErr) = try await Self.ps([path])
        #expect(noFileStatus == 1)
        #expect(noFileErr.contains("no such socket"), "\(noFileErr)")

        // A process without an inspector.
        let plain = AioProcess(["serve", "--port", "0"])
        _ = try await plain.startServer()
        let (plainStatus, _, plainErr) = try await Self.ps(["\(plain.pid)"])
        #expect(plainStatus == 1)
        #expect(plainErr.contains("process \(plain.pid) has no inspector (start it with --inspect PATH or AIO_INSPECT=PATH)"), "\(plainErr)")
        plain.signal(SIGTERM)
        #expect(await plain.waitForExit(timeout: .seconds(10)) == 0)

        // A path that cannot be bound.
        let (badStatus, _, badErr) = try await AioProcess(["serve", "--port", "0", "--inspect", "/nonexistent/dir/x.sock"]).runToEnd()
        #expect(badStatus == 1)
        #expect(badErr.contains("--inspect /nonexistent/dir/x.sock"), "\(badErr)")
    }

    /// Another user cannot connect: the file is 0600, and with the file opened up the inspector still
    /// turns the peer away by its credentials. Switching users needs root.
    @Test(.enabled(if: ProcessFacts.effectiveUserID == 0, "switching to another user needs root"))
    func anotherUserCannotConnect() async throws {
        let path = Self.socketPath()
        let server = AioProcess(["serve", "--port", "0", "--inspect", path])
        _ = try await server.startServer()
        let probe = #"""
        import socket, sys
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(sys.argv[1])
        except PermissionError:
            print("EACCES"); sys.exit(0)
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk: break
            data += chunk
        print("answer:", data.decode().strip())
        """#
        let asNobody = ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", probe, path]
        let (status, out, err) = try await AioProcess(tool: "/usr/bin/setpriv", asNobody).runToEnd()
        #expect(status == 0, "\(err)")
        #expect(out == "EACCES\n")

        try FileManager.default.setAttributes([.posixPermissions: 0o666], ofItemAtPath: path)
        let (openStatus, openOut, openErr) = try await AioProcess(tool: "/usr/bin/setpriv", asNobody).runToEnd()
        #expect(openStatus == 0, "\(openErr)")
        #expect(openOut == "answer: error: permission denied (the inspector answers its owner only)\n")
        #expect(!openOut.contains(Inspector.bannerPrefix), "no snapshot, not even the greeting")

        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(10)) == 0)
    }

    /// `aio top` in a pseudo-terminal: it draws the loop and the tasks, re-sorts on `s`, quits on `q`.
    @Test func topRendersInATerminalAndQuitsOnQ() async throws {
        let path = Self.socketPath()
        let server = AioProcess(["serve", "--port", "0", "--inspect", path])
        _ = try await server.startServer()
        let driver = #"""
        import os, pty, select, sys, time, re
        aio, pid = sys.argv[1], sys.argv[2]
        child, fd = pty.fork()
        if child == 0:
            os.execv(aio, [aio, "top", pid, "--interval", "0.2"])
        screen = b""
        def until(marker, limit=20):
            global screen
            deadline = time.time() + limit
            while marker not in screen:
                left = deadline - time.time()
                if left <= 0:
                    print("TIMEOUT waiting for", marker, screen[-2000:]); sys.exit(1)
                ready, _, _ = select.select([fd], [], [], left)
                if ready:
                    try: screen += os.read(fd, 65536)
                    except OSError: break
        until(b"http server 127.0.0.1:")
        until(b"TASK")
        os.write(fd, b"s")
        until(b"sorted by state")
        os.write(fd, b"q")
        _, status = os.waitpid(child, 0)
        try:
            while True:
                more = os.read(fd, 65536)
                if not more: break
                screen += more
        except OSError: pass
        print("exit", os.waitstatus_to_exitcode(status))
        print("alternate screen left:", b"\x1b[?1049l" in screen)
        frame = screen.rsplit(b"\x1b[H", 1)[-1].decode(errors="replace")
        print(re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", frame))
        """#
        let (status, out, err) = try await AioProcess(
            tool: "/usr/bin/env", ["python3", "-c", driver, AioProcess.executable.path, "\(server.pid)"]).runToEnd()
        #expect(status == 0, "\(out)\n\(err)")
        #expect(out.contains("exit 0\n"), "\(out)")
        #expect(out.contains("alternate screen left: True"))
        #expect(out.contains("aio top · process \(server.pid) · 1 loop"), "\(out)")
        #expect(out.contains("sorted by state"))
        #expect(out.contains("LOOP") && out.contains("JOBS/S"))
        #expect(out.contains("main "), "the loop's row")

        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(10)) == 0)
    }
}

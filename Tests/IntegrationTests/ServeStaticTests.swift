import AsyncIO
import AsyncIOTesting
import Foundation
import Testing

/// `aio serve --static DIR` (CONTRACT.md, issue 14): types, validators, ranges, and paths that cannot
/// escape the directory, against curl.
@Suite(.timeLimit(.minutes(2)))
struct ServeStaticTests {
    func curl(_ arguments: [String]) async throws -> String {
        let (status, out, err) = try await AioProcess(tool: "/usr/bin/curl", ["-sS", "--max-time", "20"] + arguments).runToEnd()
        #expect(status == 0, "curl \(arguments): \(err)")
        return out
    }

    func code(_ base: String, _ path: String, _ extra: [String] = []) async throws -> String {
        try await curl(["--path-as-is", "-o", "/dev/null", "-w", "%{http_code}"] + extra + ["\(base)\(path)"])
    }

    /// Kilobytes of the process's peak resident memory.
    func peakKilobytes(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") })
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    @Test func staticFilesAreServedAndTheRootCannotBeEscaped() async throws {
        let fm = FileManager.default
        let top = fm.temporaryDirectory.appendingPathComponent("aio-static-\(UInt32.random(in: 0...UInt32.max))")
        let root = top.appendingPathComponent("www")
        try fm.createDirectory(at: root.appendingPathComponent("sub"), withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: top) }
        try "<title>home</title>".write(to: root.appendingPathComponent("index.html"), atomically: true, encoding: .utf8)
        try #"{"a": 1}"#.write(to: root.appendingPathComponent("sub/data.json"), atomically: true, encoding: .utf8)
        try "secret".write(to: top.appendingPathComponent("secret.txt"), atomically: true, encoding: .utf8)
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("inside").path, withDestinationPath: root.appendingPathComponent("sub/data.json").path)
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("outside").path, withDestinationPath: top.appendingPathComponent("secret.txt").path)
        let big = Data(count: 32 * 1024 * 1024)
        try big.write(to: root.appendingPathComponent("big.bin"))

        let server = AioProcess(["serve", "--port", "0", "--static", root.path])
        _ = try await server.startServer()
        let base = "http://127.0.0.1:\(server.port)"

        let head = try await curl(["-D", "-", "-o", "/dev/null", "\(base)/static/sub/data.json"])
        #expect(head.hasPrefix("HTTP/1.1 200") && head.contains("Content-Type: application/json\r\n"), "\(head)")
        #expect(head.contains("Last-Modified: ") && head.contains("ETag: \"") && head.contains("Accept-Ranges: bytes"))
        #expect(try await curl(["\(base)/static/index.html"]) == "<title>home</title>")
        #expect(try await curl(["-D", "-", "\(base)/static/index.html"]).contains("Content-Type: text/html; charset=utf-8"))
        #expect(try await curl(["\(base)/static/inside"]) == #"{"a": 1}"#)  // a symlink that stays inside
        #expect(try await curl(["-r", "1-3", "\(base)/static/index.html"]) == "tit")
        #expect(try await code(base, "/static/index.html", ["-r", "100-"]) == "416")

        // Validators.
        let eTag = try #require(head.split(separator: "\r\n").first { $0.hasPrefix("ETag: ") }?.dropFirst(6))
        let modified = try #require(head.split(separator: "\r\n").first { $0.hasPrefix("Last-Modified: ") }?.dropFirst(15))
        #expect(try await code(base, "/static/sub/data.json", ["-H", "If-None-Match: \(eTag)"]) == "304")
        #expect(try await code(base, "/static/sub/data.json", ["-H", "If-None-Match: \"other\""]) == "200")
        #expect(try await code(base, "/static/sub/data.json", ["-H", "If-Modified-Since: \(modified)"]) == "304")
        #expect(try await code(base, "/static/sub/data.json", ["-H", "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT"]) == "200")

        // Nothing outside the root, and nothing that is not a regular file.
        for path in ["/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/sub/..%2f..%2fsecret.txt",
                     "/static/sub%2fdata.json", "/static/sub/../index.html", "/static/./index.html", "/static/outside",
                     "/static/sub", "/static/", "/static/missing.txt", "/static/index.html%00.txt"] {
            #expect(try await code(base, path) == "404", "\(path)")
        }

        // A large file streams: the server's peak memory grows far less than the file.
        let before = try peakKilobytes(server.pid)
        let size = try await curl(["-o", "/dev/null", "-w", "%{size_download}", "\(base)/static/big.bin"])
        #expect(size == "\(big.count)")
        let growth = try peakKilobytes(server.pid) - before
        #expect(growth < 12 * 1024, "peak memory grew by \(growth) KiB for a 32 MiB file")

        let (bad, _, error) = try await AioProcess(["serve", "--port", "0", "--static", "/no/such/dir"]).runToEnd()
        #expect(bad == 2)
        #expect(error.contains("not a directory"))
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }
}

/// `aio serve --loops N` (CONTRACT.md, issue 14): one listener per loop on the same port, and
/// `--max-connections` for the whole process across them.
@Suite(.timeLimit(.minutes(2)))
struct ServeLoopsTests {
    @Test func twoLoopsServeAndShareOneConnectionLimit() async throws {
        let server = AioProcess(["serve", "--port", "0", "--loops", "2", "--max-connections", "3"])
        _ = try await server.startServer()
        // Two loop threads besides the main one.
        let names = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(server.pid)/task").compactMap {
            try? String(contentsOfFile: "/proc/\(server.pid)/task/\($0)/comm", encoding: .utf8)
        }
        #expect(names.filter { $0.hasPrefix("serve-") }.count == 2, "\(names)")
        let (status, out, err) = try await AioProcess(tool: "/usr/bin/env", ["python3", "-c", """
            import select, socket, sys
            port = int(sys.argv[1])
            def request(s):
                s.sendall(b"GET /plaintext HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
            def answered(s, wait):
                ready, _, _ = select.select([s], [], [], wait)
                return bool(ready) and b"Hello, World!" in s.recv(4096)
            held = []
            for _ in range(3):
                s = socket.create_connection(("127.0.0.1", port))
                request(s)
                assert answered(s, 10), "one of the first three was not served"
                held.append(s)
            # The process is at its limit: a fourth connection waits, whichever loop the kernel gave it to.
            extra = socket.create_connection(("127.0.0.1", port))
            request(extra)
            assert not answered(extra, 1.0), "served past --max-connections"
            held[0].close()  # frees a permit, perhaps on the other loop
            assert answered(extra, 10), "not served after a connection closed"
            print("ok")
            """, "\(server.port)"]).runToEnd()
        #expect(status == 0, "\(err)")
        #expect(out == "ok\n")
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(10)) == 0)
    }
}

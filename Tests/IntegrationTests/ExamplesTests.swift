import AsyncIO
import AsyncIOTesting
import Foundation
import Testing

/// Every tutorial program in Examples/ runs, and says what the tutorial says it should.
@Suite(.timeLimit(.minutes(2)))
struct ExamplesTests {
    /// Runs an example to its end; returns its stdout lines after checking it exited 0.
    /// The example's output lines. Tests compare them outside the `try await` (`let lines = ...`), so that
    /// a failed `#expect` shows them.
    func run(_ name: String, _ arguments: [String] = []) async throws -> [String] {
        let (status, out, err) = try await AioProcess(example: name, arguments).runToEnd()
        #expect(status == 0, "\(name) exited \(status): \(err)")
        return out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
    }

    @Test func hello() async throws {
        let lines = try await run("Hello")
        #expect(lines == ["timed out, and the task carries on", "42"])
    }

    @Test func echoServerOnLowLevelSocketCalls() async throws {
        let server = AioProcess(example: "EchoSockets", ["0"])
        _ = try await server.startServer()
        let port = server.port
        try await withTestLoop(virtualTime: false) { _ in
            for message in ["hello\n", String(repeating: "x", count: 100_000)] {
                let (reader, writer) = try await openConnection(host: "127.0.0.1", port: port)
                try await writer.write(message)
                writer.writeEOF()
                #expect(try await reader.readToEnd() == Array(message.utf8))
                writer.abort()
            }
        }
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }

    /// Issue 16: an OpenAPI service whose code was generated from openapi.yaml, served and called
    /// through the AsyncIOOpenAPI transports.
    @Test func anOpenAPIServiceAndItsGeneratedClient() async throws {
        let lines = try await run("PetStore")
        #expect(lines == [
            "added 1 Tea", "added 2 Biscuit", "pets: Tea, Biscuit", "pet 2: Biscuit (dog)", "pet 99: not found",
        ])
    }

    /// Issue 16: SIGTERM to a server run by a ServiceGroup: no new connections, the request in flight
    /// finishes, the program exits 0.
    @Test func aServiceGroupServerShutsDownGracefullyOnSIGTERM() async throws {
        let server = AioProcess(example: "ServiceGroupServer", ["0", "500"])
        _ = try await server.startServer()
        let curl = AioProcess(tool: "/usr/bin/curl", ["-sS", "http://127.0.0.1:\(server.port)/slow"])
        try curl.start()
        #expect(try await server.nextLine() == "serving /slow")
        server.signal(SIGTERM)
        let (curlStatus, body, curlErrors) = try await curl.runToEnd()
        #expect(curlStatus == 0, "\(curlErrors)")
        #expect(body == "finished\n")
        #expect(try await server.nextLine() == "shut down gracefully")
        #expect(await server.waitForExit(timeout: .seconds(10)) == 0)
    }

    /// Issue 12, bug 6: Ctrl-C killed the process without cleanup and orphaned its children.
    @Test func ctrlCCancelsTheMainTaskAndTheChildIsKilledAndReaped() async throws {
        // Started as a shell starts a foreground program: SIGINT unblocked and at its default action (the
        // test's threads block every signal, and a child inherits the mask of the thread that spawns it).
        let example = AioProcess.executable.deletingLastPathComponent().appendingPathComponent("GracefulInterrupt").path
        let program = AioProcess(tool: "/usr/bin/python3", [
            "-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); "
                + "signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])",
            example,
        ])
        try program.start()
        let first = try await program.nextLine()
        let pid = try #require(Int32(first.split(separator: " ").dropFirst().first ?? ""), "\(first)")
        #expect(kill(pid, 0) == 0, "the child runs")
        program.signal(SIGINT)
        // The bound only stops a program that ignores Ctrl-C from hanging the test; the exit takes
        // milliseconds alone, but the whole suite in parallel on 2 cores once took more than 5 s to
        // report it (this test itself takes 7-8 s there, 20 ms alone).
        #expect(await program.waitForExit(timeout: .seconds(20)) == 130)
        #expect(try await program.nextLine() == "main task cancelled: cleaning up")
        #expect(try await program.nextLine() == "interrupted")
        // Killed and reaped by the loop's shutdown: neither running on as an orphan nor a zombie.
        #expect(kill(pid, 0) == -1 && errno == ESRCH, "the child \(pid) is still there")
    }

    @Test func generatorCoroutineAndItsSuccessor() async throws {
        let expected = ["Start coroutine", "Received: 0", "Received: 1", "Received: 2"]
        let lines = try await run("Coroutines")
        #expect(lines == expected + ["Coroutine closed"] + expected)
    }

    @Test func streamsServerAnswersEachMessage() async throws {
        let server = AioProcess(example: "ChatReplyServer", ["0"])
        _ = try await server.startServer()
        let port = server.port
        try await withTestLoop(virtualTime: false) { _ in
            let (reader, writer) = try await openConnection(host: "127.0.0.1", port: port)
            for message in ["你好", "hello there"] {
                try await writer.write(message + "\n")
                #expect(String(decoding: try await reader.readLine(), as: UTF8.self) == "已收到: \(message)\n")
            }
            await writer.close()
        }
        #expect(try await server.nextLine().hasSuffix(": 你好"))
        #expect(try await server.nextLine().hasSuffix(": hello there"))
        server.signal(SIGINT)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }

    @Test func structuredConcurrency() async throws {
        let lines = try await run("StructuredConcurrency")
        #expect(lines == [
            "gather: a done after 0.3 s | b done after 0.1 s | c done after 0.2 s",
            "task group: y done after 0.1 s | x done after 0.2 s",
            "timeout: the slow call was cancelled after 0.1 s",
            "cancelled: cleaning up",
            "the task ended with CancellationError",
        ])
    }

    @Test func rawHTTP10GetAgainstPythonsHttpServer() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("aio-raw-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try String(repeating: "0123456789", count: 100).write(to: directory.appendingPathComponent("data.txt"), atomically: true, encoding: .utf8)
        let site = AioProcess(tool: "/usr/bin/python3", ["-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", directory.path, "0"])
        try site.start()
        let banner = try await site.nextLine()
        let words = banner.split(separator: " ")
        let port = String(try #require(words.firstIndex(of: "port").map { words[$0 + 1] }))
        let lines = try await run("RawHTTPGet", ["127.0.0.1", port, "/data.txt"])
        #expect(lines.first?.hasPrefix("header: HTTP/1.0 200 OK") == true)
        #expect(lines.contains("header: Content-Length: 1000"))
        #expect(lines.last == "body: 1000 bytes")
        site.signal(SIGKILL)
        _ = await site.waitForExit(timeout: .seconds(5))
    }

    @Test func callbacksBridgedToCoroutines() async throws {
        let lines = try await run("CallbacksToAsync")
        #expect(lines == [
            "timer: 10 ms", "timer: 30 ms", "timer: 50 ms",
            "completion handler: hello, callback",
            "awaited: hello, coroutine",
            "from a thread: sum = 5050",
        ])
    }

    @Test func asyncFileReadAndWrite() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("aio-files-\(UInt32.random(in: 0...UInt32.max)).txt").path
        let lines = try await run("AsyncFiles", [path])
        #expect(lines == [
            "read: line 1", "read: line 2", "read: line 3", "read: line 4 (appended)", "size: 39 bytes",
        ])
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func subprocessesInParallel() async throws {
        let lines = try await run("ParallelSubprocesses")
        #expect(lines == [
            "first: one (exit 0)", "second: two (exit 0)", "third: three + to stderr (exit 0)", "ran in parallel",
        ])
    }

    @Test func queueOfJobsForWorkers() async throws {
        let lines = try await run("WorkQueue")
        #expect(lines.count == 11)
        for job in 1...10 { #expect(lines[job - 1].hasPrefix("job \(job) squared is \(job * job), by worker ")) }
        #expect(Set(lines.prefix(10).map { $0.split(separator: " ").last! }).count > 1, "the jobs were shared out")
        #expect(lines.last == "all 10 jobs done")
    }

    @Test func synchronisationPrimitives() async throws {
        let lines = try await run("SyncPrimitives")
        #expect(lines == [
            "lock: balance is 100 after 10 deposits of 10",
            "event: waiter 1 woke", "event: waiter 2 woke", "event: waiter 3 woke",
            "semaphore: at most 2 tasks inside at once",
            "condition: the consumer saw 3 items",
        ])
    }

    @Test func fetchTenPagesConcurrently() async throws {
        let server = AioProcess(["serve", "--port", "0"])
        _ = try await server.startServer()
        let lines = try await run("FetchTitles", ["http://127.0.0.1:\(server.port)"])
        #expect(lines.count == 11)
        #expect(lines.first == "/: status 200, title length 26")
        #expect(lines.contains("/html: status 200, title length 27"))
        #expect(lines.contains("/redirect/2: status 200, title length none"))
        #expect(lines.last == "fetched 10 pages concurrently in under two seconds")
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }

    @Test func cpuWorkOffTheLoopKeepsItResponsive() async throws {
        let lines = try await run("OffloadCPU")
        #expect(lines.first == "on the loop: 49098 primes")
        #expect(lines.dropFirst().first == "offloaded: 49098 and 49098 primes")
        #expect(lines.last == "offload kept the loop responsive", "\(lines)")
    }

    @Test func submittingFromOtherThreads() async throws {
        let lines = try await run("ThreadSubmit")
        #expect(lines == [
            "submit returned 42", "4 threads × 1000 jobs: counter is 4000", "the job's error came back to the thread",
        ])
    }
}

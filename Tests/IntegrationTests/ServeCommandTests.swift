import AsyncIO
import AsyncIOTesting
import Foundation
import Testing

/// `aio serve` end to end, against CONTRACT.md: curl, Python's http.client and raw sockets against a
/// real process.
@Suite(.timeLimit(.minutes(2)))
struct ServeCommandTests {
    /// Runs curl with `arguments` and returns its stdout; fails the test if curl fails.
    func curl(_ arguments: [String]) async throws -> String {
        let (status, out, err) = try await AioProcess(tool: "/usr/bin/curl", ["-sS", "--max-time", "20"] + arguments).runToEnd()
        #expect(status == 0, "curl \(arguments): \(err)")
        return out
    }

    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
    }

    /// Runs a Python 3 program; returns its stdout.
    func python(_ program: String, _ arguments: [String] = []) async throws -> String {
        let (status, out, err) = try await AioProcess(tool: "/usr/bin/python3", ["-c", program] + arguments).runToEnd()
        #expect(status == 0, "python: \(err)")
        return out
    }

    @Test func httpbinEndpointsAnswerCurl() async throws {
        let server = AioProcess(["serve", "--port", "0"])
        let line = try await server.startServer()
        #expect(line == "listening on 127.0.0.1:\(server.port)")
        let base = "http://127.0.0.1:\(server.port)"

        let plain = try await curl(["-i", "\(base)/plaintext"])
        #expect(plain.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(plain.contains("Content-Type: text/plain\r\n"))
        #expect(plain.hasSuffix("\r\n\r\nHello, World!"))

        let get = try json(try await curl(["\(base)/get?x=1&y=a+b&x=2", "-H", "X-Test: yes"]))
        #expect((get["args"] as? [String: Any])?["y"] as? String == "a b")
        #expect((get["args"] as? [String: Any])?["x"] as? [String] == ["1", "2"])
        #expect((get["headers"] as? [String: String])?["X-Test"] == "yes")
        #expect((get["headers"] as? [String: String])?["Host"] == "127.0.0.1:\(server.port)")
        #expect(get["url"] as? String == "\(base)/get?x=1&y=a+b&x=2")

        let post = try json(try await curl(["-X", "POST", "\(base)/post", "-H", "Content-Type: application/json", "-d", #"{"a": [1, 2.5, null]}"#]))
        #expect(post["data"] as? String == #"{"a": [1, 2.5, null]}"#)
        #expect((post["json"] as? [String: Any])?["a"] as? [Any] != nil)
        #expect(post["method"] as? String == "POST")
        let notJSON = try json(try await curl(["-X", "PUT", "\(base)/put", "-H", "Content-Type: text/plain", "-d", "plain words"]))
        #expect(notJSON["data"] as? String == "plain words")
        #expect(notJSON["json"] is NSNull)
        let anything = try json(try await curl(["-X", "PATCH", "\(base)/anything/deep/path?q=1"]))
        #expect(anything["method"] as? String == "PATCH")
        #expect(anything["url"] as? String == "\(base)/anything/deep/path?q=1")
        let deleted = try json(try await curl(["-X", "DELETE", "\(base)/delete"]))
        #expect(deleted["method"] as? String == "DELETE")

        for code in [200, 201, 204, 304, 404, 418, 500, 503] {
            #expect(try await curl(["-o", "/dev/null", "-w", "%{http_code}", "\(base)/status/\(code)"]) == "\(code)")
        }
        #expect(try await curl(["-o", "/dev/null", "-w", "%{http_code}", "\(base)/no/such/page"]) == "404")
        #expect(try await curl(["-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "\(base)/get"]) == "404")
        #expect(try await curl(["-o", "/dev/null", "-w", "%{http_code}", "\(base)/post"]) == "404")

        let bytes1 = try await curl(["\(base)/bytes/3000?seed=7", "-o", "-", "-w", ""])
        let bytes2 = try await curl(["\(base)/bytes/3000?seed=7"])
        #expect(bytes1 == bytes2)
        #expect(try await curl(["-o", "/dev/null", "-w", "%{size_download} %{content_type}", "\(base)/bytes/3000"])
            == "3000 application/octet-stream")

        let stream = try await curl(["-i", "\(base)/stream/3"])
        #expect(stream.contains("Transfer-Encoding: chunked\r\n"))
        let lines = stream.components(separatedBy: "\r\n\r\n")[1].split(separator: "\n")
        #expect(lines.count == 3)
        #expect(try lines.enumerated().allSatisfy { index, line in try json(String(line))["id"] as? Int == index })

        let redirected = try await curl(["-L", "-o", "/dev/null", "-w", "%{http_code} %{num_redirects} %{url_effective}", "\(base)/redirect/3"])
        #expect(redirected == "200 3 \(base)/get")

        let drip = try await curl(["-o", "-", "-w", " %{time_total}", "\(base)/drip?numbytes=5&duration=0.5"])
        #expect(drip.hasPrefix("***** "))
        #expect((Double(drip.dropFirst(6)) ?? 0) >= 0.45)

        let delayed = try json(try await curl(["\(base)/delay/0.2"]))
        #expect(delayed["url"] as? String == "\(base)/delay/0.2")

        #expect(try await curl(["\(base)/html"]).contains("<title>Herman Melville - Moby-Dick</title>"))
        let landing = try await curl(["\(base)/"])
        #expect(landing.contains("<title>"))
        #expect(landing.contains("href=\"/get\""))
        #expect(try json(try await curl(["\(base)/json"]))["slideshow"] != nil)
        #expect(try json(try await curl(["\(base)/ip"]))["origin"] as? String == "127.0.0.1")
        #expect(try json(try await curl(["-A", "tester/1.0", "\(base)/user-agent"]))["user-agent"] as? String == "tester/1.0")
        #expect((try json(try await curl(["\(base)/headers"]))["headers"] as? [String: String])?["Accept"] == "*/*")
        let head = try await curl(["-I", "\(base)/get"])
        #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(head.contains("Content-Length: "))

        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }

    @Test func pythonHttpClientKeepsOneConnectionForEverything() async throws {
        let server = AioProcess(["serve", "--port", "0"])
        _ = try await server.startServer()
        let output = try await python("""
            import http.client, json, sys
            c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
            out = []
            def go(method, path, body=None, headers={}, **kw):
                c.request(method, path, body=body, headers=headers, **kw)
                r = c.getresponse()
                data = r.read()
                out.append([r.status, len(data), id(c.sock)])
                return data
            go("GET", "/get")
            d = json.loads(go("POST", "/post", body=b"x" * 100000, headers={"Content-Type": "application/octet-stream"}))
            assert len(d["data"]) == 100000
            d = json.loads(go("PUT", "/put", body=iter([b"chunk-one ", b"chunk-two"]), encode_chunked=True))
            assert d["data"] == "chunk-one chunk-two", d["data"]
            assert d["headers"]["Transfer-Encoding"] == "chunked"
            go("HEAD", "/get")
            go("GET", "/status/404")
            go("GET", "/plaintext")
            print(json.dumps(out))
            """, ["\(server.port)"])
        let results = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[Int]])
        #expect(results.map { $0[0] } == [200, 200, 200, 200, 404, 200])
        #expect(results[3][1] == 0)  // HEAD: no body
        #expect(results[5][1] == 13)
        #expect(Set(results.map { $0[2] }).count == 1, "every request on one connection")
        server.signal(SIGINT)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }

    @Test func malformedRequestsOverRawSocketsGetTheirStatusThenAClose() async throws {
        let server = AioProcess(["serve", "--port", "0", "--max-body", "1000"])
        _ = try await server.startServer()
        let output = try await python(#"""
            import socket, sys, json
            cases = [
                b"POST /post HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                b"POST /post HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
                b"POST /post HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                b"POST /post HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n",
                b"GET /get HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n folded\r\n\r\n",
                b"GET /get HTTP/1.1\r\nHost : h\r\n\r\n",
                b"GET /get HTTP/1.1\r\nHost: h\rX: y\r\n\r\n",
                b"GET /get HTTP/1.1\r\n\r\n",
                b"G@T /get HTTP/1.1\r\nHost: h\r\n\r\n",
                b"POST /post HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
                b"POST /post HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\nx",
                b"POST /post HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
                b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\nHost: h\r\n\r\n",
                b"GET /get HTTP/1.1\r\nHost: h\r\nX-Big: " + b"v" * 40000 + b"\r\n\r\n",
                b"POST /post HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n",
            ]
            out = []
            for raw in cases:
                s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
                s.sendall(raw)
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break  # the server closed the connection
                    data += chunk
                out.append(int(data.split(b" ")[1]))
                s.close()
            print(json.dumps(out))
            """#, ["\(server.port)"])
        let statuses = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [Int])
        #expect(statuses == [400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 501, 414, 431, 413])
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }

    /// The harness's own timeout: a server that is not told to stop is still running when the wait
    /// ends, and the wait says so (nil) rather than report an exit; the log gets its threads' states.
    @Test func waitForExitTimesOutOnAServerThatKeepsRunning() async throws {
        let server = AioProcess(["serve", "--port", "0"])
        _ = try await server.startServer()
        #expect(await server.waitForExit(timeout: .milliseconds(300)) == nil)
    }

    @Test func sigtermLetsTheRequestInFlightFinish() async throws {
        let server = AioProcess(["serve", "--port", "0"])
        _ = try await server.startServer()
        // The client prints "started" once the response head is in; the body then drips for 1.5 s.
        let client = AioProcess(tool: "/usr/bin/python3", ["-c", """
            import http.client, sys
            c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
            c.request("GET", "/drip?numbytes=3&duration=1.5")
            r = c.getresponse()
            print("started", flush=True)
            print(r.status, len(r.read()), r.getheader("Connection"), flush=True)
            """, "\(server.port)"])
        try client.start()
        #expect(try await client.nextLine() == "started")
        server.signal(SIGTERM)
        let (status, out, err) = try await client.runToEnd()
        #expect(status == 0, "\(err)")
        #expect(out == "200 3 None\n")
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }

    /// 200 MB to a client that reads slower than the server writes: the server's memory grows by its
    /// writer's watermark and one chunk of the body, not by the body (it waits on backpressure instead
    /// of buffering). Measured as growth over the server's resident size before the request.
    @Test func aSlowReaderOfAHugeBodyKeepsTheServersMemoryBounded() async throws {
        let size = isThreadSanitized ? 40_000_000 : 200_000_000
        let server = AioProcess(["serve", "--port", "0"])
        _ = try await server.startServer()
        let before = server.residentKiB
        let output = try await python("""
            import http.client, sys
            c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
            c.request("GET", "/bytes/" + sys.argv[2] + "?seed=1")
            r = c.getresponse()
            total = 0
            while True:
                chunk = r.read(16384)  # small reads: the server outpaces us and must wait
                if not chunk: break
                total += len(chunk)
            print(r.status, total)
            """, ["\(server.port)", "\(size)"])
        #expect(output == "200 \(size)\n")
        // 64 KiB of watermark and a 64 KiB chunk; the bound leaves room for the allocator and, under
        // the thread sanitizer, its shadow memory, and is still a tenth of the smaller body.
        let growthKiB = server.peakResidentKiB - before
        #expect(before > 0 && growthKiB < 4096, "the server grew by \(growthKiB) KiB for a \(size / 1_000_000) MB body")
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }

    /// Issue 12, bug 12: 2,000 slow readers of a 10 MB body took the server from 42 MB to 394 MB, and
    /// it stayed at 221 MB after they left. Now each costs at most the writer's watermark (64 KiB) and
    /// one chunk (64 KiB) plus its connection, and the memory goes back once they are gone. (Not under
    /// the thread sanitizer, whose shadow memory scales every figure.)
    @Test(.disabled(if: isThreadSanitized, "the sanitizer's shadow memory scales every figure"))
    func manySlowReadersCostAWatermarkEachAndGiveTheMemoryBack() async throws {
        let server = AioProcess(["serve", "--port", "0"])
        _ = try await server.startServer()
        let output = try await python("""
            import asyncio, re, socket, sys
            port, pid, n = int(sys.argv[1]), sys.argv[2], 300
            def rss():
                return int(re.search(r"VmRSS:\\s+(\\d+)", open(f"/proc/{pid}/status").read()).group(1))
            async def main():
                before = rss()
                conns = []
                for _ in range(n):
                    # A small receive window, set before connecting: the server's kernel buffers stay
                    # small too, so what grows is the server's own memory.
                    s = socket.socket()
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                    s.connect(("127.0.0.1", port))
                    r, w = await asyncio.open_connection(sock=s, limit=1024)
                    w.write(b"GET /bytes/10485760 HTTP/1.1\\r\\nHost: h\\r\\n\\r\\n")
                    conns.append((r, w))
                for r, w in conns: await r.read(1024)  # every response has started
                # Until every server writer is full and waiting (its peak), 50 ms apart.
                last = -1
                while True:
                    await asyncio.sleep(0.05)
                    now = rss()
                    if now == last: break
                    last = now
                during = now
                for r, w in conns: w.transport.abort()
                await asyncio.sleep(0.5)
                print(before, during, rss())
            asyncio.run(main())
            """, ["\(server.port)", "\(server.process.processIdentifier)"])
        let figures = output.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        try #require(figures.count == 3, "\(output)")
        let (before, during, after) = (figures[0], figures[1], figures[2])
        let perConnection = (during - before) / 300
        // 64 + 64 KiB and the connection's own few KiB; buffering past the watermark (the old writer
        // took watermark + chunk + the chunk's copy, about 180 KiB) fails this.
        #expect(perConnection > 0 && perConnection <= 150, "\(perConnection) KiB per slow reader")
        // Given back: under half of the wave's growth stays once it is gone (without the trim, 2,000
        // readers left 54% behind; with it, 7%; at 300 the connections' small leftovers weigh more).
        #expect(after - before < (during - before) / 2, "before \(before) KiB, during \(during), after \(after)")
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }

    @Test func headerTimeoutDisconnectsASlowlorisClient() async throws {
        let server = AioProcess(["serve", "--port", "0", "--header-timeout", "1"])
        _ = try await server.startServer()
        let output = try await python("""
            import socket, sys, time
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
            start = time.monotonic()
            s.sendall(b"GET /get HTTP/1.1\\r\\nHost: h\\r\\nX-Slow: ")
            data = s.recv(4096)
            while data and b"\\r\\n\\r\\n" not in data: data += s.recv(4096)
            while s.recv(4096): pass
            print(round(time.monotonic() - start, 2), data.split(b" ")[1].decode() if data else "closed")
            """, ["\(server.port)"])
        let parts = output.split(separator: " ")
        let elapsed = Double(parts.first ?? "") ?? -1
        #expect(elapsed >= 0.9 && elapsed < 3, "disconnected after \(elapsed) s")
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }

    /// CONTRACT.md: a client that reads nothing of its response for --write-timeout is disconnected.
    @Test func writeTimeoutDisconnectsAClientThatReadsNothing() async throws {
        let server = AioProcess(["serve", "--port", "0", "--write-timeout", "0.5"])
        _ = try await server.startServer()
        let output = try await python("""
            import socket, sys, time
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            s.sendall(b"GET /bytes/200000000 HTTP/1.1\\r\\nHost: h\\r\\n\\r\\n")
            time.sleep(2)  # the client under test reads nothing for four write timeouts
            received = 0
            s.settimeout(10)
            while True:
                data = s.recv(1 << 20)
                if not data: break
                received += len(data)
            print("closed", received < 200000000)
            """, ["\(server.port)"])
        #expect(output == "closed True\n")
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }

    @Test func portInUseExits1AndBadFlagsExit2() async throws {
        let server = AioProcess(["serve", "--port", "0"])
        _ = try await server.startServer()
        let (inUse, _, inUseError) = try await AioProcess(["serve", "--port", "\(server.port)"]).runToEnd()
        #expect(inUse == 1)
        #expect(inUseError.contains("127.0.0.1:\(server.port)"))
        for flags in [["--port", "http"], ["--header-timeout", "-1"], ["--write-timeout", "0"], ["--max-connections", "0"], ["--bogus"]] {
            let (status, _, error) = try await AioProcess(["serve"] + flags).runToEnd()
            #expect(status == 2, "\(flags)")
            #expect(!error.isEmpty)
        }
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }
}

import AsyncIO
import AsyncIOTesting
import Foundation
import Testing

/// Issue 14: `aio serve`'s application endpoints (CONTRACT.md) against curl and Python `requests`:
/// cookies, Basic auth, response headers, ranges, conditional requests, forms and files.
@Suite(.timeLimit(.minutes(2)))
struct ServeApplicationTests {
    func run(_ tool: String, _ arguments: [String]) async throws -> String {
        let (status, out, err) = try await AioProcess(tool: tool, arguments).runToEnd()
        #expect(status == 0, "\(tool) \(arguments): \(err)")
        return out
    }

    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
    }

    @Test func cookiesAuthHeadersRangesAndCacheAnswerCurl() async throws {
        let server = AioProcess(["serve", "--port", "0"])
        _ = try await server.startServer()
        let base = "http://127.0.0.1:\(server.port)"
        let curl = "/usr/bin/curl"
        let jar = FileManager.default.temporaryDirectory.appendingPathComponent("aio-jar-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: jar) }

        // Cookies: set (redirect to /cookies, curl's jar keeps them), read, delete.
        let set = try json(try await run(curl, ["-sS", "-L", "-c", jar, "-b", jar, "\(base)/cookies/set?a=1&b=two"]))
        #expect(set["cookies"] as? [String: String] == ["a": "1", "b": "two"])
        let deleted = try json(try await run(curl, ["-sS", "-L", "-c", jar, "-b", jar, "\(base)/cookies/delete?a"]))
        #expect(deleted["cookies"] as? [String: String] == ["b": "two"])
        let headers = try await run(curl, ["-sS", "-D", "-", "-o", "/dev/null", "\(base)/cookies/set?x=y"])
        #expect(headers.contains("Set-Cookie: x=y; Path=/\r\n"), "\(headers)")

        // Basic auth.
        let authed = try json(try await run(curl, ["-sS", "-u", "alice:s3cret:x", "\(base)/basic-auth/alice/s3cret:x"]))
        #expect(authed["authenticated"] as? Bool == true && authed["user"] as? String == "alice")
        let refused = try await run(curl, ["-sS", "-o", "/dev/null", "-D", "-", "-u", "alice:wrong", "\(base)/basic-auth/alice/s3cret"])
        #expect(refused.hasPrefix("HTTP/1.1 401"))
        #expect(refused.contains(#"WWW-Authenticate: Basic realm="aio""#))

        // Response headers: repeated keys give repeated fields, and a list in the JSON.
        let echoed = try await run(curl, ["-sS", "-D", "-", "\(base)/response-headers?X-One=1&X-Two=a&X-Two=b"])
        #expect(echoed.contains("X-One: 1\r\n") && echoed.contains("X-Two: a\r\n") && echoed.contains("X-Two: b\r\n"))
        let document = try json(String(echoed[echoed.range(of: "\r\n\r\n")!.upperBound...]))
        #expect(document["X-Two"] as? [String] == ["a", "b"])

        // Ranges: a-b, a-, -k, unsatisfiable, and none.
        #expect(try await run(curl, ["-sS", "-r", "2-5", "\(base)/range/26"]) == "cdef")
        #expect(try await run(curl, ["-sS", "-r", "24-", "\(base)/range/26"]) == "yz")
        #expect(try await run(curl, ["-sS", "-r", "-3", "\(base)/range/26"]) == "xyz")
        let partial = try await run(curl, ["-sS", "-D", "-", "-o", "/dev/null", "-r", "0-9", "\(base)/range/100"])
        #expect(partial.hasPrefix("HTTP/1.1 206") && partial.contains("Content-Range: bytes 0-9/100"), "\(partial)")
        #expect(partial.contains("Accept-Ranges: bytes") && partial.contains("ETag: "))
        let outside = try await run(curl, ["-sS", "-D", "-", "-o", "/dev/null", "-r", "200-300", "\(base)/range/100"])
        #expect(outside.hasPrefix("HTTP/1.1 416") && outside.contains("Content-Range: bytes */100"), "\(outside)")
        #expect(try await run(curl, ["-sS", "\(base)/range/30"]) == "abcdefghijklmnopqrstuvwxyzabcd")

        // Conditional requests: 304 and no body for either validator, whatever its value.
        let fresh = try await run(curl, ["-sS", "-D", "-", "\(base)/cache"])
        #expect(fresh.hasPrefix("HTTP/1.1 200") && fresh.contains("Last-Modified: ") && fresh.contains("ETag: "))
        for header in ["If-None-Match: \"anything\"", "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT"] {
            let cached = try await run(curl, ["-sS", "-D", "-", "-H", header, "\(base)/cache"])
            #expect(cached.hasPrefix("HTTP/1.1 304"), "\(header): \(cached)")
            #expect(cached.hasSuffix("\r\n\r\n"), "a 304 has no body")
        }
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }

    @Test func formsAndFilesFromCurlAndRequests() async throws {
        let server = AioProcess(["serve", "--port", "0"])
        _ = try await server.startServer()
        let base = "http://127.0.0.1:\(server.port)"
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("aio-upload-\(UInt32.random(in: 0...UInt32.max)).txt")
        try "file body\nline two".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }

        let multipart = try json(try await run("/usr/bin/curl", [
            "-sS", "-F", "name=Ada Lovelace", "-F", "tag=a", "-F", "tag=b", "-F", "upload=@\(file.path)", "\(base)/post",
        ]))
        #expect(multipart["form"] as? NSDictionary == ["name": "Ada Lovelace", "tag": ["a", "b"]] as NSDictionary)
        #expect(multipart["files"] as? [String: String] == ["upload": "file body\nline two"])
        #expect(multipart["data"] as? String == "")
        #expect(multipart["json"] is NSNull)

        let urlencoded = try json(try await run("/usr/bin/curl", [
            "-sS", "--data-urlencode", "q=a&b c", "-d", "x=1", "\(base)/post",
        ]))
        #expect(urlencoded["form"] as? [String: String] == ["q": "a&b c", "x": "1"])
        #expect(urlencoded["files"] as? [String: String] == [:])

        // Python requests: a Session's cookies, auth, and files=.
        let python = try await run("/usr/bin/env", ["python3", "-c", """
            import sys, requests
            base = sys.argv[1]
            s = requests.Session()
            s.get(base + "/cookies/set?k=v")
            assert s.get(base + "/cookies").json() == {"cookies": {"k": "v"}}, "cookies"
            assert s.get(base + "/basic-auth/u/p", auth=("u", "p")).json()["authenticated"], "auth"
            assert s.get(base + "/basic-auth/u/p", auth=("u", "x")).status_code == 401, "bad auth"
            r = s.post(base + "/post", data={"a": "1"}, files={"f": ("f.txt", b"hello")}).json()
            assert r["form"] == {"a": "1"} and r["files"] == {"f": "hello"}, r
            r = s.put(base + "/put", json={"n": [1, 2]}).json()
            assert r["json"] == {"n": [1, 2]} and r["form"] == {}, r
            print("ok")
            """, base])
        #expect(python == "ok\n")

        // A malformed multipart body: 400 with the reason, and the server goes on.
        let bad = try await run("/usr/bin/curl", [
            "-sS", "-w", " %{http_code}", "-H", "Content-Type: multipart/form-data", "--data-binary", "no boundary", "\(base)/post",
        ])
        #expect(bad.hasSuffix(" 400") && bad.contains("boundary"), "\(bad)")
        let cut = try await run("/usr/bin/curl", [
            "-sS", "-w", " %{http_code}", "-H", "Content-Type: multipart/form-data; boundary=XX",
            "--data-binary", "--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue without an end", "\(base)/post",
        ])
        #expect(cut.hasSuffix(" 400") && cut.contains("cut short"), "\(cut)")
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }
}

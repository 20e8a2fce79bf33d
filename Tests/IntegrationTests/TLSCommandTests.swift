import AsyncIO
import AsyncIOTesting
import Foundation
import Testing

/// `aio echo`, `aio serve` and `aio fetch` over TLS, per CONTRACT.md, against curl, Python's `ssl` and
/// each other, with certificates made by the test (AsyncIOTesting.TestPKI).
@Suite(.timeLimit(.minutes(2)))
struct TLSCommandTests {
    func jsonLines(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
        }
    }

    @Test func echoOverTLSServesPythonAndSurvivesGarbage() async throws {
        let pki = try await TestPKI.shared()
        let server = AioProcess(["echo", "--port", "0", "--tls-cert", pki.path("chain.pem"), "--tls-key", pki.path("leaf.key")])
        _ = try await server.startServer()
        let client = #"""
            import socket, ssl, sys
            port, cafile = int(sys.argv[1]), sys.argv[2]
            garbage = socket.create_connection(("127.0.0.1", port))
            garbage.sendall(b"this is not a TLS ClientHello\r\n\r\n")
            garbage.settimeout(5)
            closed = garbage.recv(100) == b""  # the server closes it (no alert for non-TLS input needed)
            ctx = ssl.create_default_context(cafile=cafile)
            data = bytes(range(256)) * 400
            with socket.create_connection(("127.0.0.1", port)) as raw, ctx.wrap_socket(raw, server_hostname="localhost") as conn:
                conn.sendall(data)
                got = b""
                while len(got) < len(data):
                    got += conn.recv(65536)
                print(conn.version(), got == data, closed)
            """#
        let (status, out, err) = try await AioProcess(tool: "/usr/bin/python3", ["-c", client, "\(server.port)", pki.path("ca.pem")]).runToEnd()
        #expect(status == 0, "\(err)")
        #expect(out == "TLSv1.3 True True\n")
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }

    @Test func serveOverTLSAnswersCurl() async throws {
        let pki = try await TestPKI.shared()
        let server = AioProcess(["serve", "--port", "0", "--tls-cert", pki.path("chain.pem"), "--tls-key", pki.path("leaf.key")])
        _ = try await server.startServer()
        let url = "https://localhost:\(server.port)/get"
        let (status, out, err) = try await AioProcess(tool: "/usr/bin/curl", [
            "-sS", "--cacert", pki.path("ca.pem"), url, "-w", "\n%{http_version} %{ssl_verify_result}",
        ]).runToEnd()
        #expect(status == 0, "\(err)")
        #expect(out.contains("\"url\": \"\(url)\"") || out.contains("\"url\":\"\(url)\""), "\(out)")
        #expect(out.hasSuffix("\n1.1 0"))
        // Without the CA, curl refuses the certificate (exit 60) and the server carries on.
        let (refused, _, _) = try await AioProcess(tool: "/usr/bin/curl", ["-sS", url]).runToEnd()
        #expect(refused == 60)
        // ALPN: curl asks for h2 and http/1.1; the server picks http/1.1.
        let (verbose, _, log) = try await AioProcess(tool: "/usr/bin/curl", ["-sv", "-o", "/dev/null", "--cacert", pki.path("ca.pem"), url]).runToEnd()
        #expect(verbose == 0)
        #expect(log.contains("ALPN: server accepted http/1.1"), "\(log)")
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }

    @Test func serveCutsAStalledHandshakeAfterTheHandshakeTimeout() async throws {
        let pki = try await TestPKI.shared()
        let server = AioProcess(["serve", "--port", "0", "--tls-cert", pki.path("chain.pem"), "--tls-key", pki.path("leaf.key"),
                                 "--handshake-timeout", "0.5"])
        _ = try await server.startServer()
        let script = #"""
            import socket, sys, time
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
            s.settimeout(10)
            start = time.monotonic()
            print(s.recv(10) == b"", round(time.monotonic() - start, 1) >= 0.4)
            """#
        let (status, out, err) = try await AioProcess(tool: "/usr/bin/python3", ["-c", script, "\(server.port)"]).runToEnd()
        #expect(status == 0, "\(err)")
        #expect(out == "True True\n")
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
    }

    @Test func fetchVerifiesHTTPSAndSaysWhyItRefuses() async throws {
        let pki = try await TestPKI.shared()
        let good = AioProcess(["serve", "--port", "0", "--tls-cert", pki.path("chain.pem"), "--tls-key", pki.path("leaf.key")])
        _ = try await good.startServer()
        let expired = AioProcess(["serve", "--port", "0", "--tls-cert", pki.path("expired.pem"), "--tls-key", pki.path("expired.key")])
        _ = try await expired.startServer()
        let other = AioProcess(["serve", "--port", "0", "--tls-cert", pki.path("other.pem"), "--tls-key", pki.path("other.key")])
        _ = try await other.startServer()
        let page = "https://localhost:\(good.port)/html"
        let redirect = "https://localhost:\(good.port)/redirect/2"

        var (status, out, err) = try await AioProcess(["fetch", "--json", "--cacert", pki.path("ca.pem"), page, redirect]).runToEnd()
        #expect(status == 0, "\(err)")
        var lines = try jsonLines(out)
        #expect(lines.count == 2 && lines.allSatisfy { $0["status"] as? Int == 200 })
        #expect(lines.contains { $0["title"] as? String == "Herman Melville - Moby-Dick" })

        // Without --cacert the test CA is unknown (the system's roots do not have it). Expired, and a certificate for another host: each says so.
        (status, out, _) = try await AioProcess([
            "fetch", "--json", page, "https://localhost:\(expired.port)/html", "https://127.0.0.1:\(other.port)/html",
        ]).runToEnd()
        #expect(status == 1)
        lines = try jsonLines(out)
        let errors = Dictionary(uniqueKeysWithValues: lines.map { ($0["url"] as! String, $0["error"] as? String ?? "") })
        #expect(errors[page]?.contains("unknown issuer") == true, "\(errors)")
        #expect(errors["https://localhost:\(expired.port)/html"]?.contains("unknown issuer") == true, "\(errors)")

        (status, out, _) = try await AioProcess([
            "fetch", "--json", "--cacert", pki.path("ca.pem"), "https://localhost:\(expired.port)/html", "https://127.0.0.1:\(other.port)/html",
        ]).runToEnd()
        #expect(status == 1)
        let byURL = Dictionary(uniqueKeysWithValues: try jsonLines(out).map { ($0["url"] as! String, $0["error"] as? String ?? "") })
        #expect(byURL["https://localhost:\(expired.port)/html"]?.contains("expired") == true, "\(byURL)")
        #expect(byURL["https://127.0.0.1:\(other.port)/html"]?.contains("host name mismatch") == true, "\(byURL)")

        // --insecure skips verification; SSL_CERT_FILE replaces the system's roots.
        (status, _, _) = try await AioProcess(["fetch", "--json", "--insecure", "https://localhost:\(expired.port)/html"]).runToEnd()
        #expect(status == 0)
        let withEnvironment = AioProcess(["fetch", "--json", page])
        withEnvironment.process.environment = ProcessInfo.processInfo.environment.merging(["SSL_CERT_FILE": pki.path("ca.pem")]) { $1 }
        (status, _, err) = try await withEnvironment.runToEnd()
        #expect(status == 0, "\(err)")

        for server in [good, expired, other] {
            server.signal(SIGTERM)
            #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
        }
    }

    @Test func tlsFlagErrors() async throws {
        let pki = try await TestPKI.shared()
        // Bad flags: exit 2.
        for flags in [
            ["echo", "--port", "0", "--tls-cert", pki.path("chain.pem")],
            ["serve", "--port", "0", "--tls-key", pki.path("leaf.key")],
            ["echo", "--port", "0", "--api", "sockets", "--tls-cert", pki.path("chain.pem"), "--tls-key", pki.path("leaf.key")],
        ] {
            let (status, _, error) = try await AioProcess(flags).runToEnd()
            #expect(status == 2, "\(flags)")
            #expect(error.contains("--tls-") || error.contains("TLS"), "\(error)")
        }
        // A file that cannot be read, or a certificate and key that do not belong together: exit 1,
        // naming the file(s).
        let (missing, _, missingError) = try await AioProcess(
            ["serve", "--port", "0", "--tls-cert", "/nonexistent/cert.pem", "--tls-key", pki.path("leaf.key")]
        ).runToEnd()
        #expect(missing == 1)
        #expect(missingError.contains("/nonexistent/cert.pem"))
        let (mismatch, _, mismatchError) = try await AioProcess(
            ["echo", "--port", "0", "--tls-cert", pki.path("chain.pem"), "--tls-key", pki.path("other.key")]
        ).runToEnd()
        #expect(mismatch == 1)
        #expect(mismatchError.contains(pki.path("chain.pem")) && mismatchError.contains(pki.path("other.key")), "\(mismatchError)")
    }
}

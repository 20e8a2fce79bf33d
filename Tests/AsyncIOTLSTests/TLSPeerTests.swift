import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import AsyncIOTLS
import Testing

/// TLS against real peers, both ways: `openssl s_server`/`s_client` and Python's `ssl`, TLS 1.2 and 1.3.
/// Real time: the peers are other processes.
@Suite(.timeLimit(.minutes(2)))
struct TLSPeerTests {
    enum Version: String, CaseIterable, Sendable {
        case tls12, tls13
        var range: ClosedRange<TLSConfiguration.Version> { self == .tls12 ? .tls12...(.tls12) : .tls13...(.tls13) }
        var name: String { self == .tls12 ? "TLSv1.2" : "TLSv1.3" }
        var opensslFlag: String { self == .tls12 ? "-tls1_2" : "-tls1_3" }
        var python: String { self == .tls12 ? "TLSv1_2" : "TLSv1_3" }
    }

    @Test(arguments: Version.allCases)
    func clientEchoesAMegabyteThroughAPythonServerWithAnIntermediate(version: Version) async throws {
        let pki = try await TestPKI.shared()
        try await withTestLoop(virtualTime: false) { loop in
            let (peer, port) = try await Peer.python(pythonEchoServer, [pki.path("chain.pem"), pki.path("leaf.key"), version.python])
            let client = try Contexts.client(pki)
            let (reader, writer) = try await openConnection(host: "localhost", port: port, tls: client)
            let stream = try #require(writer.stream as? TLSStream)
            #expect(stream.protocolVersion == version.name)
            #expect(stream.peerCertificate?.subject == "CN=localhost")
            #expect(stream.peerCertificate?.issuer == "CN=AsyncIO Test Intermediate CA")
            #expect(stream.peerCertificate?.subjectAlternativeNames == ["DNS:localhost", "IP:127.0.0.1", "IP:0:0:0:0:0:0:0:1"])
            let message = pattern(1 << 20)
            let sender = loop.spawn {
                try await writer.write(message)
                writer.writeEOF()  // close_notify: the server's recv returns b"" and it unwraps
            }
            let echoed = try await reader.readToEnd(limit: 2 << 20)
            #expect(echoed == message)
            try await sender.value
            await writer.close()
            await peer.stop()
        }
    }

    @Test(arguments: Version.allCases)
    func clientReadsAnOpenSSLServersPageToItsCloseNotify(version: Version) async throws {
        let pki = try await TestPKI.shared()
        try await withTestLoop(virtualTime: false) { _ in
            let (peer, port) = try await Peer.opensslServer(
                ["-cert", pki.path("leaf.pem"), "-cert_chain", pki.path("int.pem"), "-key", pki.path("leaf.key"), "-www", version.opensslFlag]
            )
            let client = try Contexts.client(pki)
            let (reader, writer) = try await openConnection(host: "localhost", port: port, tls: client)
            try await writer.write("GET / HTTP/1.0\r\n\r\n")
            let page = String(decoding: try await reader.readToEnd(), as: UTF8.self)
            #expect(page.hasPrefix("HTTP/1.0 200 ok"))
            #expect(page.contains(version.name))
            #expect((writer.stream as? TLSStream)?.protocolVersion == version.name)
            await writer.close()
            await peer.stop()
        }
    }

    @Test(arguments: Version.allCases)
    func serverEchoesForOpenSSLClient(version: Version) async throws {
        let pki = try await TestPKI.shared()
        try await withTestLoop(virtualTime: false) { _ in
            let seen = Box<String?>(nil)
            let server = try await startEchoServer(tls: try Contexts.server(pki)) { seen.value = $0.protocolVersion }
            let client = try ChildProcess.spawn("openssl", arguments: [
                "s_client", "-connect", "127.0.0.1:\(server.localAddress.port!)", "-servername", "localhost",
                "-CAfile", pki.path("ca.pem"), "-verify_return_error", "-quiet", "-no_ign_eof", version.opensslFlag,
            ], stdin: .pipe, stdout: .pipe, stderr: .null)
            let peer = Peer(process: client, stdout: client.stdout!)
            for line in ["first line", String(repeating: "x", count: 5000), "last line"] {
                try await client.stdin!.write(line + "\n")
                #expect(try await peer.readLine() == line)
            }
            await client.stdin!.close()
            #expect(try await client.wait() == .exited(0))
            #expect(seen.value == version.name)
            await peer.stop()
            server.close()
            await server.waitClosed()
        }
    }

    @Test func serverAnswersPythonClientWithALPNAndVerification() async throws {
        let pki = try await TestPKI.shared()
        try await withTestLoop(virtualTime: false) { _ in
            let server = try await startEchoServer(tls: try Contexts.server(pki, alpn: ["http/1.1"]))
            let script = #"""
                import socket, ssl, sys
                ctx = ssl.create_default_context(cafile=sys.argv[2])
                ctx.set_alpn_protocols(["h2", "http/1.1"])
                data = bytes(range(256)) * 4096
                with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as raw:
                    with ctx.wrap_socket(raw, server_hostname="localhost") as conn:
                        conn.sendall(data)
                        got = b""
                        while len(got) < len(data):
                            chunk = conn.recv(65536)
                            if not chunk: break
                            got += chunk
                        print(conn.version(), conn.selected_alpn_protocol(), got == data)
                        conn.unwrap()
                """#
            let child = try ChildProcess.spawn("python3", arguments: ["-c", script, "\(server.localAddress.port!)", pki.path("ca.pem")],
                                               stdout: .pipe, stderr: .pipe)
            let (out, err) = try await child.communicate()
            #expect(String(decoding: out, as: UTF8.self) == "TLSv1.3 http/1.1 True\n", "\(String(decoding: err, as: UTF8.self))")
            server.close()
            await server.waitClosed()
        }
    }

    @Test func clientResumesItsSessionWithOpenSSLServerAndNegotiatesALPN() async throws {
        let pki = try await TestPKI.shared()
        try await withTestLoop(virtualTime: false) { _ in
            let (peer, port) = try await Peer.opensslServer(
                ["-cert", pki.path("leaf.pem"), "-cert_chain", pki.path("int.pem"), "-key", pki.path("leaf.key"), "-www", "-alpn", "http/1.1"]
            )
            let client = try Contexts.client(pki, alpn: ["h2", "http/1.1"])
            var reused: [Bool] = []
            for _ in 0..<2 {
                let (reader, writer) = try await openConnection(host: "localhost", port: port, tls: client)
                let stream = try #require(writer.stream as? TLSStream)
                #expect(stream.applicationProtocol == "http/1.1")
                reused.append(stream.isSessionReused)
                try await writer.write("GET / HTTP/1.0\r\n\r\n")
                _ = try await reader.readToEnd()  // TLS 1.3 tickets arrive after the handshake
                await writer.close()
            }
            #expect(reused == [false, true])
            #expect(client.cachedSessionCount == 1)
            await peer.stop()
        }
    }

    @Test func mutualTLSWithOpenSSLClient() async throws {
        let pki = try await TestPKI.shared()
        try await withTestLoop(virtualTime: false) { _ in
            let subject = Box<String?>(nil)
            let server = try await startEchoServer(tls: try Contexts.server(pki, clientCertificates: .full)) {
                subject.value = $0.peerCertificate?.subject
            }
            let client = try ChildProcess.spawn("openssl", arguments: [
                "s_client", "-connect", "127.0.0.1:\(server.localAddress.port!)", "-servername", "localhost",
                "-CAfile", pki.path("ca.pem"), "-verify_return_error", "-quiet", "-no_ign_eof",
                "-cert", pki.path("client.pem"), "-key", pki.path("client.key"),
            ], stdin: .pipe, stdout: .pipe, stderr: .null)
            let peer = Peer(process: client, stdout: client.stdout!)
            try await client.stdin!.write("with a certificate\n")
            #expect(try await peer.readLine() == "with a certificate")
            #expect(subject.value == "CN=client")
            await client.stdin!.close()
            #expect(try await client.wait() == .exited(0))
            await peer.stop()
            server.close()
            await server.waitClosed()
        }
    }
}

/// A loop-confined value that handlers on the same loop set and the test reads.
final class Box<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}

import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import AsyncIOTLS
import Testing

/// Every ``TLSError`` code, produced for real by a certificate or a peer that causes it.
@Suite(.timeLimit(.minutes(2)))
struct TLSErrorTests {
    /// Connects a client (`serverName`) to a TLS echo server that presents `certificate`.
    private func connect(serving certificate: String, key: String? = nil, serverName: String = "localhost",
                         client: TLSContext? = nil) async throws {
        let pki = try await TestPKI.shared()
        let server = try await startEchoServer(tls: try Contexts.server(pki, certificate: certificate, key: key))
        do {
            let context = try client ?? Contexts.client(pki)
            let (_, writer) = try await openConnection(host: "127.0.0.1", port: server.localAddress.port!, tls: context, serverName: serverName)
            await writer.close()
        } catch {
            server.close()
            await server.waitClosed()
            throw error
        }
        server.close()
        await server.waitClosed()
    }

    @Test func verificationFailuresSayWhyAndNameTheHost() async throws {
        try await withTestLoop(virtualTime: false) { loop in
            let cases: [(certificate: String, key: String?, name: String, code: TLSError.Code, words: String)] = [
                ("rogue", nil, "localhost", .unknownIssuer, "unable to get local issuer certificate"),
                ("leaf", nil, "localhost", .unknownIssuer, "unable to get local issuer certificate"),  // intermediate missing
                ("expired", nil, "localhost", .certificateExpired, "certificate has expired"),
                ("notyet", nil, "localhost", .certificateNotYetValid, "certificate is not yet valid"),
                ("other", nil, "localhost", .hostnameMismatch, "hostname mismatch"),
                ("iponly", nil, "localhost", .hostnameMismatch, "hostname mismatch"),
                ("chain", "leaf", "127.0.0.2", .hostnameMismatch, "IP address mismatch"),
            ]
            for item in cases {
                let error = await expectTLSError(item.code) {
                    try await connect(serving: item.certificate, key: item.key, serverName: item.name)
                }
                #expect(error?.message.contains(item.name) == true, "\(String(describing: error))")
                #expect(error?.message.contains(item.words) == true, "\(String(describing: error))")
            }
            // The same certificates pass where they should: an IP address in subjectAltName, and
            // verification turned off.
            try await connect(serving: "iponly", serverName: "127.0.0.1")
            try await connect(serving: "chain", key: "leaf", serverName: "::1")
            let pki = try await TestPKI.shared()
            try await connect(serving: "rogue", client: try Contexts.client(pki, verification: .none))
            #expect(loop.registrationCount == 0)
        }
    }

    @Test func protocolVersionOutsideTheRangeIsRefusedBothWays() async throws {
        let pki = try await TestPKI.shared()
        try await withTestLoop(virtualTime: false) { loop in
            let server = try Contexts.server(pki, versions: .tls12...(.tls12))
            let client = try Contexts.client(pki, versions: .tls13...(.tls13))
            let listener = try loop.listen(on: try SocketAddress(ip: "127.0.0.1", port: 0))
            defer { listener.close() }
            let serverSide = loop.spawn {
                let socket = try await loop.accept(listener)
                _ = try await TLSStream.accept(over: socket, context: server)
            }
            let socket = try await loop.connect(to: listener.localAddress!)
            await expectTLSError(.protocolVersion) {
                try await TLSStream.connect(over: socket, context: client, serverName: "localhost")
            }
            await expectTLSError(.protocolVersion) { try await serverSide.value }
            #expect(server.liveStreamCount == 0 && client.liveStreamCount == 0)
        }
    }

    @Test func aPeerThatEndsWithoutCloseNotifyIsTruncated() async throws {
        let pki = try await TestPKI.shared()
        try await withTestLoop(virtualTime: false) { _ in
            // Python's SSLSocket.close() closes the socket without unwrap(): no close_notify.
            let script = #"""
                import socket, ssl, sys
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(sys.argv[1], sys.argv[2])
                listener = socket.create_server(("127.0.0.1", 0))
                print("port:", listener.getsockname()[1], flush=True)
                raw, _ = listener.accept()
                conn = ctx.wrap_socket(raw, server_side=True)
                conn.sendall(b"partial " * 1000)
                conn.close()
                sys.stdin.read()
                """#
            let (peer, port) = try await Peer.python(script, [pki.path("chain.pem"), pki.path("leaf.key")], stdin: .pipe)
            let (reader, writer) = try await openConnection(host: "localhost", port: port, tls: try Contexts.client(pki))
            let first = try await reader.read(exactly: 8000)
            #expect(first == Array(String(repeating: "partial ", count: 1000).utf8))
            let error = await expectTLSError(.truncated) { try await reader.readToEnd() }
            #expect(error?.message.contains("close_notify") == true)
            writer.abort()
            await peer.stop()
        }
    }

    @Test func aStalledHandshakeTimesOut() async throws {
        let pki = try await TestPKI.shared()
        // Virtual time: a server that accepts and never answers; the 5 s timeout passes at once.
        try await withTestLoop { loop in
            let client = try Contexts.client(pki, handshakeTimeout: .seconds(5))
            let listener = try loop.listen(on: try SocketAddress(ip: "127.0.0.1", port: 0))
            let socket = try await loop.connect(to: listener.localAddress!)
            let silent = try await loop.accept(listener)
            let start = loop.now
            let error = await expectTLSError(.handshakeTimedOut) {
                try await TLSStream.connect(over: socket, context: client, serverName: "localhost")
            }
            #expect(start.duration(to: loop.now) >= .seconds(5))
            #expect(error?.message.contains("localhost") == true)
            #expect(socket.isClosed)
            #expect(client.liveStreamCount == 0)
            silent.close()
            listener.close()
        }
    }

    @Test func serverSideErrors() async throws {
        let pki = try await TestPKI.shared()
        try await withTestLoop(virtualTime: false) { loop in
            let listener = try loop.listen(on: try SocketAddress(ip: "127.0.0.1", port: 0))
            defer { listener.close() }
            // Plain HTTP to a TLS port.
            let server = try Contexts.server(pki)
            let plain = loop.spawn {
                _ = try await TLSStream.accept(over: try await loop.accept(listener), context: server)
            }
            let (reader, writer) = try await openConnection(host: "127.0.0.1", port: listener.localAddress!.port!)
            try await writer.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            let error = await expectTLSError(.handshakeFailed) { try await plain.value }
            #expect(error?.message.contains("does not speak TLS") == true)
            _ = try? await reader.readToEnd()  // the server closed the connection
            #expect(reader.isAtEOF)
            writer.abort()

            // A server that requires a client certificate and gets none.
            let strict = try Contexts.server(pki, clientCertificates: .full)
            let noCertificate = loop.spawn {
                _ = try await TLSStream.accept(over: try await loop.accept(listener), context: strict)
            }
            let socket = try await loop.connect(to: listener.localAddress!)
            let client = try Contexts.client(pki)
            // TLS 1.3: the client's handshake ends before the server has checked; its first read sees the alert.
            if let stream = try? await TLSStream.connect(over: socket, context: client, serverName: "localhost") {
                let clientReader = StreamReader(stream: stream)
                await expectTLSError(.protocolError) { try await clientReader.read(upTo: 10) }
                stream.close()
            }
            await expectTLSError(.peerCertificateRequired) { try await noCertificate.value }
            #expect(server.liveStreamCount == 0 && strict.liveStreamCount == 0 && client.liveStreamCount == 0)
        }
    }

    @Test func configurationErrorsNameTheFiles() async throws {
        let pki = try await TestPKI.shared()
        let missing = TLSConfiguration.server(certificateChain: .file("/nonexistent/cert.pem"), privateKey: .file(pki.path("leaf.key")))
        var error = await expectTLSError(.configuration) { try TLSContext(missing) }
        #expect(error?.message.contains("/nonexistent/cert.pem") == true)

        let badKey = TLSConfiguration.server(certificateChain: .file(pki.path("chain.pem")), privateKey: .file(pki.path("ca.pem")))
        error = await expectTLSError(.configuration) { try TLSContext(badKey) }
        #expect(error?.message.contains("ca.pem") == true)

        let mismatch = TLSConfiguration.server(certificateChain: .file(pki.path("chain.pem")), privateKey: .file(pki.path("other.key")))
        error = await expectTLSError(.configuration) { try TLSContext(mismatch) }
        #expect(error?.message.contains("chain.pem") == true && error?.message.contains("other.key") == true)

        var client = TLSConfiguration.client()
        client.additionalTrustRoots = [.file("/nonexistent/ca.pem")]
        error = await expectTLSError(.configuration) { try TLSContext(client) }
        #expect(error?.message.contains("/nonexistent/ca.pem") == true)

        // PEM bytes work like files.
        var inMemory = TLSConfiguration.server(certificateChain: .bytes(try pki.contents("chain.pem")), privateKey: .bytes(try pki.contents("leaf.key")))
        inMemory.applicationProtocols = ["http/1.1"]
        _ = try TLSContext(inMemory)
        inMemory.privateKey = .bytes(Array("not a key".utf8))
        await expectTLSError(.configuration) { try TLSContext(inMemory) }
    }
}

import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import AsyncIOTLS
import Testing

/// Connections that misbehave, cancellation at every await, STARTTLS and TLS inside TLS: nothing is left
/// behind (the test loop fails on a leaked task, timer or descriptor; the context counts its `SSL`
/// objects).
@Suite(.timeLimit(.minutes(2)))
struct TLSLifecycleTests {
    @Test func serverClosesBadClientsAndKeepsServingOthers() async throws {
        let pki = try await TestPKI.shared()
        try await withTestLoop(virtualTime: false) { loop in
            let context = try Contexts.server(pki, handshakeTimeout: .milliseconds(300))
            let server = try await startEchoServer(tls: context)
            let port = server.localAddress.port!
            // Stalls: connects and never sends a byte.
            let (stalledReader, stalledWriter) = try await openConnection(host: "127.0.0.1", port: port)
            // Plain text instead of a ClientHello.
            let (plainReader, plainWriter) = try await openConnection(host: "127.0.0.1", port: port)
            try await plainWriter.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            // Resets in the middle of its ClientHello (a real RST: SO_LINGER 0).
            let reset = try ChildProcess.spawn("python3", arguments: ["-c", """
                import socket, struct, sys
                s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
                s.sendall(bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]) + b"r" * 40)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
                """, "\(port)"])
            #expect(try await reset.wait() == .exited(0))

            // A good client is served while the stalled one is still open.
            let (reader, writer) = try await openConnection(host: "localhost", port: port, tls: try Contexts.client(pki))
            try await writer.write("still serving\n")
            #expect(try await reader.readLine() == Array("still serving\n".utf8))
            await writer.close()

            // The plain-text client is closed at once; the stalled one when its handshake time is up.
            #expect(try await plainReader.readToEnd().isEmpty || plainReader.isAtEOF)
            let stalledStart = loop.now
            _ = try? await stalledReader.readToEnd()
            #expect(stalledReader.isAtEOF || stalledWriter.isClosed)
            #expect(stalledStart.duration(to: loop.now) < .seconds(5))
            plainWriter.abort()
            stalledWriter.abort()
            server.close()
            await server.waitClosed()
            #expect(context.liveStreamCount == 0)
        }
    }

    /// A connected client and server TLS stream over a socket pair, handshaken.
    private func tlsPair(on loop: EventLoop, server: TLSContext, client: TLSContext) async throws -> (TLSStream, TLSStream) {
        let (a, b) = try SocketOps.socketPair()
        let serverSocket = try loop.adopt(a), clientSocket = try loop.adopt(b)
        async let accepted = TLSStream.accept(over: serverSocket, context: server)
        let connected = try await TLSStream.connect(over: clientSocket, context: client, serverName: "localhost")
        return (connected, try await accepted)
    }

    @Test func cancellingAHandshakeLeavesNothing() async throws {
        let pki = try await TestPKI.shared()
        try await withTestLoop { loop in
            let client = try Contexts.client(pki)
            let (a, b) = try SocketOps.socketPair()
            let silent = try loop.adopt(a), socket = try loop.adopt(b)
            let task = loop.spawn { try await TLSStream.connect(over: socket, context: client, serverName: "localhost") }
            try await loop.sleep(for: .milliseconds(10))  // virtual: the ClientHello is out, the reply never comes
            #expect(client.liveStreamCount == 1)
            task.cancel()
            await #expect(throws: CancellationError.self) { try await task.value }
            #expect(socket.isClosed)
            #expect(client.liveStreamCount == 0)
            silent.close()
        }
    }

    @Test func cancellingAReadLosesNoBytesAndLeavesNothing() async throws {
        let pki = try await TestPKI.shared()
        try await withTestLoop { loop in
            let serverContext = try Contexts.server(pki), clientContext = try Contexts.client(pki)
            let (client, server) = try await tlsPair(on: loop, server: serverContext, client: clientContext)
            let reader = StreamReader(stream: client)
            let serverWriter = StreamWriter(stream: server)
            let waiting = loop.spawn { try await reader.read(exactly: 10) }
            try await loop.sleep(for: .milliseconds(10))
            try await serverWriter.write(Array("01234".utf8))  // half of what the read waits for
            try await loop.sleep(for: .milliseconds(10))
            waiting.cancel()
            await #expect(throws: CancellationError.self) { try await waiting.value }
            try await serverWriter.write(Array("56789".utf8))
            #expect(try await reader.read(exactly: 10) == Array("0123456789".utf8))
            await serverWriter.close()
            #expect(try await reader.readToEnd().isEmpty)  // close_notify: a clean end, not truncated
            client.close()
            #expect(client.isClosed && server.isClosed)
        }
    }

    @Test func cancellingABlockedWriteLeavesNothing() async throws {
        let pki = try await TestPKI.shared()
        try await withTestLoop { loop in
            let serverContext = try Contexts.server(pki), clientContext = try Contexts.client(pki)
            do {
                let (client, server) = try await tlsPair(on: loop, server: serverContext, client: clientContext)
                let writer = StreamWriter(stream: client)
                let chunk = pattern(256 * 1024)
                // The server never reads: the kernel buffers fill, then the writer's buffer, then write waits.
                let writing = loop.spawn { while true { try await writer.write(chunk) } }
                try await loop.sleep(for: .milliseconds(50))
                // Full to the watermark and no further, however large the writes.
                #expect(writer.bufferedCount == writer.highWatermark)
                writing.cancel()
                await #expect(throws: CancellationError.self) { try await writing.value }
                writer.abort()
                server.close()
            }
            #expect(serverContext.liveStreamCount == 0 && clientContext.liveStreamCount == 0)
        }
    }

    @Test func serverResumesSessionsAndClientPresentsItsCertificate() async throws {
        let pki = try await TestPKI.shared()
        try await withTestLoop(virtualTime: false) { _ in
            let subjects = Box<[String]>([])
            let serverContext = try Contexts.server(pki, clientCertificates: .full)
            let server = try await startEchoServer(tls: serverContext) { subjects.value.append($0.peerCertificate?.subject ?? "none") }
            let client = try Contexts.client(pki, certificate: "client")
            var reused: [Bool] = []
            for round in 0..<2 {
                let (reader, writer) = try await openConnection(host: "localhost", port: server.localAddress.port!, tls: client)
                try await writer.write("round \(round)\n")
                #expect(try await reader.readLine() == Array("round \(round)\n".utf8))  // tickets arrive with it
                reused.append((writer.stream as? TLSStream)?.isSessionReused ?? false)
                await writer.close()
            }
            #expect(reused == [false, true])
            #expect(subjects.value == ["CN=client", "CN=client"])  // a resumed session keeps the peer's certificate
            server.close()
            await server.waitClosed()
        }
    }

    @Test func keyLogFileRecordsTheSessionSecrets() async throws {
        let pki = try await TestPKI.shared()
        try await withTestLoop(virtualTime: false) { loop in
            let path = pki.path("keylog-\(UInt32.random(in: 0...UInt32.max)).txt")
            var configuration = TLSConfiguration.client()
            configuration.trustRoots = .none
            configuration.additionalTrustRoots = [.file(pki.path("ca.pem"))]
            configuration.keyLogFile = path
            let client = try TLSContext(configuration)
            let (x, y) = try SocketOps.socketPair()
            let serverSocket = try loop.adopt(x), clientSocket = try loop.adopt(y)
            let serverContext = try Contexts.server(pki)
            let accepting = loop.spawn { try await TLSStream.accept(over: serverSocket, context: serverContext) }
            let stream = try await TLSStream.connect(over: clientSocket, context: client, serverName: "localhost")
            let server = try await accepting.value
            let log = String(decoding: try pki.contents(path.split(separator: "/").last.map(String.init)!), as: UTF8.self)
            for label in ["CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"] {
                #expect(log.contains(label + " "), "\(label) missing from the key log")
            }
            #expect(log.split(separator: "\n").allSatisfy { $0.split(separator: " ").count == 3 })
            stream.close()
            server.close()
        }
    }

    @Test func startTLSUpgradesAPlainConnection() async throws {
        let pki = try await TestPKI.shared()
        try await withTestLoop(virtualTime: false) { _ in
            let serverContext = try Contexts.server(pki)
            // A STARTTLS protocol: plain "STARTTLS" / "OK", then TLS on the same connection.
            let server = try await startServer(host: "127.0.0.1", port: 0) { reader, writer in
                guard try await reader.readLine() == Array("STARTTLS\n".utf8) else { return }
                try await writer.write("OK\n")
                let (tlsReader, tlsWriter) = try await startTLS(reader: reader, writer: writer, tls: serverContext)
                let line = try await tlsReader.readLine()
                try await tlsWriter.write("secure: " + String(decoding: line, as: UTF8.self))
                await tlsWriter.close()
            }
            let (reader, writer) = try await openConnection(host: "127.0.0.1", port: server.localAddress.port!)
            try await writer.write("STARTTLS\n")
            #expect(try await reader.readLine() == Array("OK\n".utf8))
            let (tlsReader, tlsWriter) = try await startTLS(reader: reader, writer: writer, tls: try Contexts.client(pki), serverName: "localhost")
            try await tlsWriter.write("hello\n")
            #expect(try await tlsReader.readToEnd() == Array("secure: hello\n".utf8))
            await tlsWriter.close()
            server.close()
            await server.waitClosed()
        }
    }

    @Test func tlsInsideTLSThroughAConnectProxy() async throws {
        let pki = try await TestPKI.shared()
        try await withTestLoop(virtualTime: false) { loop in
            let serverContext = try Contexts.server(pki), clientContext = try Contexts.client(pki)
            let target = try await startEchoServer(tls: serverContext)
            let proxy = try await startConnectProxy(tls: serverContext, on: loop)
            do {
            let (reader, writer) = try await openConnection(host: "localhost", port: proxy.localAddress.port!, tls: clientContext)
            try await writer.write("CONNECT localhost:\(target.localAddress.port!) HTTP/1.1\r\nHost: localhost\r\n\r\n")
            let head = try await reader.read(until: Array("\r\n\r\n".utf8))
            #expect(String(decoding: head, as: UTF8.self).hasPrefix("HTTP/1.1 200"))
            // The inner handshake's records travel inside the outer TLS stream.
            let (innerReader, innerWriter) = try await startTLS(reader: reader, writer: writer, tls: clientContext, serverName: "localhost")
            let inner = try #require(innerWriter.stream as? TLSStream)
            #expect(inner.inner is TLSStream)
            let message = pattern(300_000)
            async let sent: Void = { try await innerWriter.write(message); innerWriter.writeEOF() }()
            #expect(try await innerReader.readToEnd(limit: 1 << 20) == message)
            try await sent
            await innerWriter.close()
            }
            proxy.close()
            target.close()
            await proxy.waitClosed()
            await target.waitClosed()
            #expect(clientContext.liveStreamCount == 0)
        }
    }
}

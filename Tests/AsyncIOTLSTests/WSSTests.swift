import AsyncIO
import AsyncIOHTTP
import AsyncIOTesting
import AsyncIOTLS
import HTTPTypes
import Testing

/// Issue 15: WebSocket over TLS (`wss://`): our client and our server, Python's `websockets` as a
/// client of our server, and a refused certificate as a clear client error.
@Suite(.timeLimit(.minutes(2)))
struct WSSTests {
    static func echoServer(_ pki: TestPKI) async throws -> HTTPServer {
        var configuration = HTTPServer.Configuration()
        configuration.tls = try Contexts.server(pki, alpn: ["http/1.1"])
        var router = HTTPRouter()
        router.webSocket("/echo") { ws, request in
            #expect(request.isSecure)
            for try await message in ws.messages { try await ws.send(message) }
        }
        return try await HTTPServer.start(host: "127.0.0.1", port: 0, configuration: configuration, handler: router.handler)
    }

    @Test func ourClientAndServerOverTLS() async throws {
        let pki = try await TestPKI.shared()
        try await withTestLoop(virtualTime: false) { _ in
            let server = try await Self.echoServer(pki)
            var configuration = HTTPClient.Configuration()
            configuration.tls = try Contexts.client(pki, alpn: ["http/1.1"])
            try await withHTTPClient(configuration: configuration) { client in
                let ws = try await client.webSocket("wss://localhost:\(server.localAddress.port!)/echo")
                #expect(ws.isCompressed)
                let big = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 % 251) }
                try await ws.send(text: "über TLS")
                #expect(try await ws.receive() == .text("über TLS"))
                try await ws.send(binary: big)
                #expect(try await ws.receive() == .binary(big))
                await ws.close()
                #expect(ws.closeCode == .normal)
            }
            await server.shutdown()
        }
    }

    @Test func pythonWebsocketsOverTLSAgainstOurServer() async throws {
        let pki = try await TestPKI.shared()
        try await withTestLoop(virtualTime: false) { _ in
            let server = try await Self.echoServer(pki)
            let script = #"""
                import asyncio, ssl, sys, websockets
                async def main(url, ca):
                    context = ssl.create_default_context(cafile=ca)
                    async with websockets.connect(url, ssl=context) as ws:
                        await ws.send("hello over wss"); print(await ws.recv())
                        await ws.send(b"\x00" * 100000); print(len(await ws.recv()))
                asyncio.run(main(sys.argv[1], sys.argv[2]))
                """#
            let process = try ChildProcess.spawn("/usr/bin/env", arguments: [
                "python3", "-c", script, "wss://localhost:\(server.localAddress.port!)/echo", pki.path("ca.pem"),
            ], stdout: .pipe, stderr: .pipe)
            let (output, errors) = try await process.communicate()
            #expect(String(decoding: output, as: UTF8.self) == "hello over wss\n100000\n", "\(String(decoding: errors, as: UTF8.self))")
            await server.shutdown()
        }
    }

    @Test func anUntrustedCertificateIsAClearError() async throws {
        let pki = try await TestPKI.shared()
        try await withTestLoop(virtualTime: false) { _ in
            let server = try await Self.echoServer(pki)
            try await withHTTPClient { client -> Void in  // the system's roots only: the test CA is unknown
                await #expect {
                    _ = try await client.webSocket("wss://localhost:\(server.localAddress.port!)/echo")
                } throws: { error in
                    (error as? HTTPClientError)?.code == .tls
                }
            }
            await server.shutdown()
        }
    }
}

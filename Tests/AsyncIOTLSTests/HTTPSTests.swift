import AsyncIO
import AsyncIOHTTP
import AsyncIOSystem
import AsyncIOTesting
import AsyncIOTLS
import HTTPTypes
import Testing

/// HTTPS: the client against Python's HTTPS server (a chain with an intermediate) and against our own
/// server, redirects across schemes, and TLS failures as client errors.
@Suite(.timeLimit(.minutes(2)))
struct HTTPSTests {
    private func clientConfiguration(_ pki: TestPKI) throws -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.tls = try Contexts.client(pki, alpn: ["http/1.1"])
        return configuration
    }

    @Test func clientKeepsAliveWithPythonsHTTPSServer() async throws {
        let pki = try await TestPKI.shared()
        try await withTestLoop(virtualTime: false) { _ in
            let script = #"""
                import http.server, ssl, sys
                class Handler(http.server.BaseHTTPRequestHandler):
                    protocol_version = "HTTP/1.1"
                    def do_GET(self):
                        body = ("hello over %s from %s" % (self.connection.version(), self.path)).encode()
                        self.send_response(200)
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                    def log_message(self, *args): pass
                server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(sys.argv[1], sys.argv[2])
                server.socket = ctx.wrap_socket(server.socket, server_side=True)
                print("port:", server.server_address[1], flush=True)
                server.serve_forever()
                """#
            let (peer, port) = try await Peer.python(script, [pki.path("chain.pem"), pki.path("leaf.key")])
            try await withHTTPClient(configuration: try clientConfiguration(pki)) { client in
                for index in 0..<3 {
                    let response = try await client.get("https://localhost:\(port)/page/\(index)")
                    #expect(response.status == .ok)
                    #expect(String(decoding: try await response.body.collect(), as: UTF8.self) == "hello over TLSv1.3 from /page/\(index)")
                }
                #expect(client.connectionsOpened == 1)  // keep-alive over one TLS connection
            }
            await peer.stop()
        }
    }

    /// TLS inside TLS: an HTTPS request to our server through a CONNECT proxy that speaks TLS itself.
    @Test func httpsRequestThroughATLSConnectTunnel() async throws {
        let pki = try await TestPKI.shared()
        try await withTestLoop(virtualTime: false) { loop in
            let serverContext = try Contexts.server(pki, alpn: ["http/1.1"])
            var configuration = HTTPServer.Configuration()
            configuration.tls = serverContext
            var router = HTTPRouter()
            router.get("/through") { request in .text("tunnelled over \(request.tls?.protocolVersion ?? "plain text")") }
            let target = try await HTTPServer.start(host: "127.0.0.1", port: 0, configuration: configuration, handler: router.handler)
            let proxy = try await startConnectProxy(tls: serverContext, on: loop)
            let client = try Contexts.client(pki, alpn: ["http/1.1"])
            do {
                let (reader, writer) = try await openConnection(host: "localhost", port: proxy.localAddress.port!, tls: client)
                try await writer.write("CONNECT localhost:\(target.localAddress.port!) HTTP/1.1\r\nHost: localhost\r\n\r\n")
                #expect(String(decoding: try await reader.read(until: Array("\r\n\r\n".utf8)), as: UTF8.self).hasPrefix("HTTP/1.1 200"))
                let (innerReader, innerWriter) = try await startTLS(reader: reader, writer: writer, tls: client, serverName: "localhost")
                try await innerWriter.write("GET /through HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                let response = String(decoding: try await innerReader.readToEnd(), as: UTF8.self)
                #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"))
                #expect(response.hasSuffix("\r\n\r\ntunnelled over TLSv1.3"))
                await innerWriter.close()
            }
            proxy.close()
            await proxy.waitClosed()
            await target.shutdown()
            #expect(client.liveStreamCount == 0)
        }
    }

    @Test func clientAndServerOverHTTPSWithRedirectsAcrossSchemes() async throws {
        let pki = try await TestPKI.shared()
        try await withTestLoop(virtualTime: false) { _ in
            var secureConfiguration = HTTPServer.Configuration()
            secureConfiguration.tls = try Contexts.server(pki, alpn: ["http/1.1"])
            var router = HTTPRouter()
            router.get("/secure") { request in
                .text("\(request.isSecure) \(request.tls?.protocolVersion ?? "-") \(request.tls?.applicationProtocol ?? "-")")
            }
            let secure = try await HTTPServer.start(host: "127.0.0.1", port: 0, configuration: secureConfiguration, handler: router.handler)
            let securePort = secure.localAddress.port!
            var plainRouter = HTTPRouter()
            plainRouter.get("/go") { _ in
                var response = HTTPServerResponse.text("moved", status: .found)
                response.head.headerFields[.location] = "https://localhost:\(securePort)/secure"
                return response
            }
            let plain = try await HTTPServer.start(host: "127.0.0.1", port: 0, handler: plainRouter.handler)

            try await withHTTPClient(configuration: try clientConfiguration(pki)) { client in
                let response = try await client.get("http://127.0.0.1:\(plain.localAddress.port!)/go")
                #expect(response.status == .ok)
                #expect(response.url.description == "https://localhost:\(securePort)/secure")
                #expect(String(decoding: try await response.body.collect(), as: UTF8.self) == "true TLSv1.3 http/1.1")
            }
            // A client that does not trust the test CA gets a TLS error that says why.
            try await withHTTPClient { client in
                do {
                    _ = try await client.get("https://localhost:\(securePort)/secure")
                    Issue.record("an unknown issuer was accepted")
                } catch let error as HTTPClientError {
                    #expect(error.code == .tls)
                    #expect(error.tlsCode == .unknownIssuer)
                    #expect(error.description.contains("unknown issuer"))
                }
            }
            await plain.shutdown()
            await secure.shutdown()
            #expect(secureConfiguration.tls!.liveStreamCount == 0)
        }
    }
}

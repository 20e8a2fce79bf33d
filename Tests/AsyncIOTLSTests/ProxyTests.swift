import AsyncIO
import AsyncIOHTTP
import AsyncIOSystem
import AsyncIOTLS
import AsyncIOTesting
import HTTPTypes
import Testing

/// A small forwarding and CONNECT proxy in Python asyncio for ``ProxyTests``: it asks for
/// `Proxy-Authorization: Basic dTpw` (u:p), logs each request line, and marks forwarded responses with
/// `Via: 1.1 testproxy`.
private let proxyScript = #"""
import asyncio, sys

async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()

async def handle(reader, writer):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    print(method, target, flush=True)
    if "Proxy-Authorization: Basic dTpw" not in lines:
        writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()
        return
    if method == "CONNECT":
        host, port = target.rsplit(":", 1)
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        return
    # Forwarding: the absolute target becomes origin-form; one request per upstream connection.
    rest = target.split("://", 1)[1]
    authority, _, path = rest.partition("/")
    host, _, port = authority.partition(":")
    up_reader, up_writer = await asyncio.open_connection(host, int(port or 80))
    fields = [l for l in lines[1:] if l and not l.lower().startswith(("proxy-authorization", "connection"))]
    up_writer.write(("%s /%s HTTP/1.1\r\n%s\r\nConnection: close\r\n\r\n" % (method, path, "\r\n".join(fields))).encode("latin-1"))
    await up_writer.drain()
    response = await up_reader.read()
    head, _, body = response.partition(b"\r\n\r\n")
    kept = [l for l in head.split(b"\r\n") if not l.lower().startswith(b"connection")]
    writer.write(b"\r\n".join(kept) + b"\r\nVia: 1.1 testproxy\r\nConnection: close\r\n\r\n" + body)
    await writer.drain()
    writer.close()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"""#

/// The client through HTTP proxies (issue 14): forwarding for `http://`, `CONNECT` tunnels with TLS
/// inside for `https://`, proxy credentials, and the environment's `http_proxy`/`no_proxy`.
@Suite(.timeLimit(.minutes(2)))
struct ProxyTests {
    @Test func httpIsForwardedAndHTTPSIsTunnelled() async throws {
        let pki = try await TestPKI.shared()
        try await withTestLoop(virtualTime: false) { _ in
            let (proxy, proxyPort) = try await Peer.python(proxyScript)
            var router = HTTPRouter()
            router.get("/where") { request in .text("\(request.isSecure ? "https" : "http") \(request.head.path ?? "")") }
            let plain = try await HTTPServer.start(host: "127.0.0.1", port: 0, handler: router.handler)
            var secureConfiguration = HTTPServer.Configuration()
            secureConfiguration.tls = try Contexts.server(pki, alpn: ["http/1.1"])
            let secure = try await HTTPServer.start(host: "127.0.0.1", port: 0, configuration: secureConfiguration, handler: router.handler)

            var configuration = HTTPClient.Configuration()
            configuration.tls = try Contexts.client(pki, alpn: ["http/1.1"])
            configuration.proxy = try HTTPProxy("http://u:p@127.0.0.1:\(proxyPort)")
            try await withHTTPClient(configuration: configuration) { client in
                let forwarded = try await client.get("http://127.0.0.1:\(plain.localAddress.port!)/where?x=1")
                #expect(forwarded.headerFields[.via] == "1.1 testproxy")
                #expect(try await forwarded.text() == "http /where?x=1")
                #expect(try await proxy.readLine() == "GET http://127.0.0.1:\(plain.localAddress.port!)/where?x=1")

                let tunnelled = try await client.get("https://localhost:\(secure.localAddress.port!)/where")
                #expect(tunnelled.headerFields[.via] == nil)  // the proxy cannot see inside the tunnel
                #expect(try await tunnelled.text() == "https /where")
                #expect(try await proxy.readLine() == "CONNECT localhost:\(secure.localAddress.port!)")
            }

            // Without the proxy's credentials: its 407 for http, a clear error for the tunnel.
            configuration.proxy = try HTTPProxy("127.0.0.1:\(proxyPort)")
            try await withHTTPClient(configuration: configuration) { client in
                let refused = try await client.get("http://127.0.0.1:\(plain.localAddress.port!)/where")
                #expect(refused.status.code == 407)
                _ = try await refused.body.collect()
                let error = await #expect(throws: HTTPClientError.self) {
                    _ = try await client.get("https://localhost:\(secure.localAddress.port!)/where")
                }
                #expect(error?.code == .connectFailed)
                #expect(error?.detail.contains("407") == true, "\(String(describing: error))")
            }
            await plain.shutdown()
            await secure.shutdown()
            await proxy.stop()
        }
    }

    @Test func theEnvironmentNamesTheProxyUnlessNoProxyExcludesTheHost() throws {
        let environment = ["http_proxy": "http://proxy.local:3128", "HTTPS_PROXY": "proxy.local:8443",
                           "no_proxy": "internal.example, .corp.example:8080,localhost"]
        #expect(HTTPProxy.fromEnvironment(for: try HTTPURL("http://example.com/"), environment: environment)?.url.port == 3128)
        #expect(HTTPProxy.fromEnvironment(for: try HTTPURL("https://example.com/"), environment: environment)?.url.port == 8443)
        for excluded in ["http://internal.example/", "http://a.internal.example/", "http://x.corp.example/", "http://localhost:9/"] {
            #expect(HTTPProxy.fromEnvironment(for: try HTTPURL(excluded), environment: environment) == nil, "\(excluded)")
        }
        #expect(HTTPProxy.fromEnvironment(for: try HTTPURL("http://notinternal.example/"), environment: environment) != nil)
        #expect(HTTPProxy.fromEnvironment(for: try HTTPURL("http://example.com/"), environment: ["no_proxy": "*", "http_proxy": "p:1"]) == nil)
        #expect(HTTPProxy.fromEnvironment(for: try HTTPURL("http://example.com/"), environment: [:]) == nil)
        #expect(throws: HTTPClientError.self) { try HTTPProxy("https://proxy.local/") }
    }
}

@testable import AsyncIOHTTP
import AsyncIO
import AsyncIOTesting
import HTTPTypes
import Testing

/// Issue 15: our WebSocket server and client against real peers (Python's `websockets` and aiohttp,
/// with and without permessage-deflate), and against hostile raw frames.
@Suite("WebSocket peers", .timeLimit(.minutes(2)))
struct WebSocketPeerTests {
    static func echoRouter(_ configuration: WebSocket.Configuration = WebSocket.Configuration()) -> HTTPRouter {
        var router = HTTPRouter()
        router.webSocket("/echo", configuration: configuration) { ws, _ in
            for try await message in ws.messages { try await ws.send(message) }
        }
        return router
    }

    /// Runs a Python script with the URL as its argument; returns its stdout (stderr in the failure).
    static func python(_ script: String, _ arguments: [String]) async throws -> String {
        let process = try ChildProcess.spawn("/usr/bin/env", arguments: ["python3", "-c", script] + arguments, stdout: .pipe, stderr: .pipe)
        let (output, errors) = try await process.communicate()
        let text = String(decoding: output, as: UTF8.self)
        if text.isEmpty { Issue.record("python: \(String(decoding: errors, as: UTF8.self))") }
        return text
    }

    static let websocketsClient = #"""
    import asyncio, sys, websockets
    async def main(url, compression):
        async with websockets.connect(url, compression=compression, max_size=None) as ws:
            await ws.send("héllo")
            assert await ws.recv() == "héllo"
            big = bytes(range(256)) * 4000
            await ws.send(big)
            assert await ws.recv() == big
            await ws.send(["frag", "mented ", "text"])          # one message in three frames
            assert await ws.recv() == "fragmented text"
            pong = await ws.ping(b"are you there")
            await asyncio.wait_for(pong, 5)
            print("extensions:", ws.response.headers.get("Sec-WebSocket-Extensions"))
        print("closed:", ws.close_code)
    asyncio.run(main(sys.argv[1], None if sys.argv[2] == "off" else "deflate"))
    """#

    @Test(arguments: ["deflate", "off"])
    func pythonWebsocketsClientAgainstOurServer(compression: String) async throws {
        try await withServer(Self.echoRouter(), autojumpThreshold: .seconds(2)) { server, _ in
            let output = try await Self.python(Self.websocketsClient, ["ws://127.0.0.1:\(server.localAddress.port!)/echo", compression])
            let negotiated = compression == "off" ? "None" : "permessage-deflate; server_no_context_takeover"
            #expect(output == "extensions: \(negotiated)\nclosed: 1000\n")
        }
    }

    static let aiohttpClient = #"""
    import asyncio, sys, aiohttp
    async def main(url, compress):
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(url, compress=compress) as ws:
                await ws.send_str("hello aiohttp")
                assert (await ws.receive()).data == "hello aiohttp"
                await ws.send_bytes(b"\x00\xff" * 50000)
                assert (await ws.receive()).data == b"\x00\xff" * 50000
                print("compress:", ws.compress)
                await ws.close()
                print("closed:", ws.close_code)
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
    """#

    @Test(arguments: [15, 0])
    func aiohttpClientAgainstOurServer(compress: Int) async throws {
        try await withServer(Self.echoRouter(), autojumpThreshold: .seconds(2)) { server, _ in
            let output = try await Self.python(Self.aiohttpClient, ["ws://127.0.0.1:\(server.localAddress.port!)/echo", "\(compress)"])
            #expect(output == "compress: \(compress)\nclosed: 1000\n")
        }
    }

    static let websocketsServer = #"""
    import asyncio, sys, websockets
    async def echo(ws):
        async for message in ws:
            await ws.send(message)
    async def main(compression):
        async with websockets.serve(echo, "127.0.0.1", 0, compression=compression, max_size=None) as server:
            print(server.sockets[0].getsockname()[1], flush=True)
            await asyncio.Future()
    asyncio.run(main(None if sys.argv[1] == "off" else "deflate"))
    """#

    static let aiohttpServer = #"""
    import asyncio, sys
    from aiohttp import web
    async def echo(request):
        ws = web.WebSocketResponse(compress=sys.argv[1] != "off", max_msg_size=0)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == web.WSMsgType.TEXT: await ws.send_str(msg.data)
            elif msg.type == web.WSMsgType.BINARY: await ws.send_bytes(msg.data)
        return ws
    async def main():
        app = web.Application(); app.add_routes([web.get("/echo", echo)])
        runner = web.AppRunner(app); await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0); await site.start()
        print(site._server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()
    asyncio.run(main())
    """#

    /// Our client against a Python server: echoes of text, a large binary (compressible and not), a
    /// ping's pong, and the close handshake.
    @Test(arguments: [("websockets", "deflate"), ("websockets", "off"), ("aiohttp", "deflate"), ("aiohttp", "off")])
    func ourClientAgainstPythonServers(_ peer: String, _ compression: String) async throws {
        try await withTestLoop(autojumpThreshold: .seconds(2)) { _ in
            let script = peer == "websockets" ? Self.websocketsServer : Self.aiohttpServer
            let process = try ChildProcess.spawn("/usr/bin/env", arguments: ["python3", "-c", script, compression], stdout: .pipe, stderr: .null)
            let portLine = try await process.stdout!.readLine()
            let port = String(decoding: portLine.dropLast(), as: UTF8.self)
            do {
                try await Self.exchange(with: port, peer, compression)
            } catch {
                process.kill()
                _ = try? await process.wait()
                throw error
            }
            process.kill()
            _ = try? await process.wait()
        }
    }

    static func exchange(with port: String, _ peer: String, _ compression: String) async throws {
        try await withHTTPClient { client in
            let ws = try await client.webSocket("ws://127.0.0.1:\(port)/" + (peer == "aiohttp" ? "echo" : ""))
            #expect(ws.isCompressed == (compression == "deflate"))
            try await ws.send(text: "hello, \(peer)")
            #expect(try await ws.receive() == .text("hello, \(peer)"))
            let compressible = [UInt8](repeating: 7, count: 200_000)
            let random = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
            for payload in [compressible, random] {
                try await ws.send(binary: payload)
                #expect(try await ws.receive() == .binary(payload))
            }
            try await ws.ping(Array("ping".utf8))
            try await ws.send(text: "after the ping")
            #expect(try await ws.receive() == .text("after the ping"))
            await ws.close()
            #expect(ws.closeCode == .normal)
        }
    }
}

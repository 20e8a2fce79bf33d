import AsyncIO
import AsyncIOTesting
import Foundation
import Testing

/// Issue 15: `aio ws` and `aio serve`'s `/ws/echo` as CONTRACT.md describes them, with real peers.
@Suite(.timeLimit(.minutes(2)))
struct WSCommandTests {
    /// A Python `websockets` server whose paths close first in different ways; prints its port.
    static let closingServer = #"""
    import asyncio, websockets
    async def handler(ws):
        path = ws.request.path
        if path == "/binary-then-normal":
            await ws.send(b"\x00\x01\xfe\xff")
            await ws.close(1000)
        elif path == "/policy":
            await ws.close(4001, "policy reasons")
        else:
            async for message in ws: await ws.send(message)
    async def main():
        async with websockets.serve(handler, "127.0.0.1", 0) as server:
            print("listening on 127.0.0.1:%d" % server.sockets[0].getsockname()[1], flush=True)
            await asyncio.Future()
    asyncio.run(main())
    """#

    @Test func linesGoOutAsTextAndComeBackFromAioServe() async throws {
        let server = AioProcess(["serve", "--port", "0"])
        _ = try await server.startServer()
        let ws = AioProcess(["ws", "ws://127.0.0.1:\(server.port)/ws/echo"])
        try ws.start()
        ws.write("hello\nwörld, with ünïcode\n\n")
        ws.closeStdin()
        let (status, out, err) = try await ws.runToEnd()
        #expect(status == 0, "\(err)")
        #expect(out == "hello\nwörld, with ünïcode\n\n")
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(10)) == 0)
    }

    @Test func theServerClosingFirstSetsTheExitCode() async throws {
        let server = AioProcess(tool: "/usr/bin/env", ["python3", "-c", Self.closingServer])
        _ = try await server.startServer()
        // stdin stays open: the server closes first.
        let normal = AioProcess(["ws", "ws://127.0.0.1:\(server.port)/binary-then-normal"])
        let (status, out, err) = try await normal.runToEnd()
        #expect(status == 0, "\(err)")
        #expect(out == "AAH+/w==\n")  // a binary message as one line of base64

        let policy = AioProcess(["ws", "ws://127.0.0.1:\(server.port)/policy"])
        let (policyStatus, policyOut, policyErr) = try await policy.runToEnd()
        #expect(policyStatus == 1)
        #expect(policyOut == "")
        #expect(policyErr.contains("4001") && policyErr.contains("policy reasons"), "\(policyErr)")
        server.signal(SIGKILL)
        _ = await server.waitForExit(timeout: .seconds(5))
    }

    @Test func badURLsAndUnreachableServersAreClearErrors() async throws {
        let (badStatus, _, badErr) = try await AioProcess(["ws", "http://127.0.0.1:1/"]).runToEnd()
        #expect(badStatus == 2)
        #expect(badErr.contains("ws:// or wss://"))
        let (refusedStatus, _, refusedErr) = try await AioProcess(["ws", "ws://127.0.0.1:1/"]).runToEnd()
        #expect(refusedStatus == 1)
        #expect(refusedErr.contains("connection refused"), "\(refusedErr)")

        let server = AioProcess(["serve", "--port", "0"])
        _ = try await server.startServer()
        let (notWS, _, notWSErr) = try await AioProcess(["ws", "ws://127.0.0.1:\(server.port)/get"]).runToEnd()
        #expect(notWS == 1)
        #expect(notWSErr.contains("200 OK, not 101 Switching Protocols"), "\(notWSErr)")
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(10)) == 0)
    }

    /// SIGTERM: every open WebSocket gets Close 1001 and the server exits within 10 s (CONTRACT.md).
    @Test func sigtermClosesOpenWebSocketsWithGoingAway() async throws {
        let server = AioProcess(["serve", "--port", "0"])
        _ = try await server.startServer()
        let client = AioProcess(tool: "/usr/bin/env", ["python3", "-c", #"""
            import asyncio, sys, websockets
            async def main():
                async with websockets.connect(sys.argv[1]) as ws:
                    await ws.send("ready"); assert await ws.recv() == "ready"
                    print("connected", flush=True)
                    try:
                        await ws.recv()
                    except websockets.ConnectionClosed as closed:
                        print("closed", closed.rcvd.code, closed.rcvd.reason, flush=True)
            asyncio.run(main())
            """#, "ws://127.0.0.1:\(server.port)/ws/echo"])
        try client.start()
        #expect(try await client.nextLine() == "connected")
        let start = ContinuousClock.now
        server.signal(SIGTERM)
        #expect(try await client.nextLine() == "closed 1001 the server is shutting down")
        #expect(await server.waitForExit(timeout: .seconds(10)) == 0)
        #expect(ContinuousClock.now - start < .seconds(10))
        _ = await client.waitForExit(timeout: .seconds(5))
    }
}

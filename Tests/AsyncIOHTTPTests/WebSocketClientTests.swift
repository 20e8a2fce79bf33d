@testable import AsyncIOHTTP
import AsyncIO
import AsyncIOTesting
import HTTPTypes
import Testing

/// Issue 15: the client side's checks: the server's handshake answer, frames a server may not send,
/// the heartbeat, and our client with our server.
@Suite("WebSocket client", .timeLimit(.minutes(1)))
struct WebSocketClientTests {
    /// A raw server: reads the upgrade request, answers with `answer(key)`, then writes `frames` and
    /// keeps reading (and discarding) until the client closes.
    static func withRawServer(
        answer: @escaping @Sendable (String) -> String, frames: [UInt8] = [],
        _ body: @escaping @Sendable (UInt16) async throws -> Void
    ) async throws {
        try await withTestLoop { _ in
            let server = try await startServer(host: "127.0.0.1", port: 0) { reader, writer in
                let head = String(decoding: try await reader.read(until: Array("\r\n\r\n".utf8)), as: UTF8.self)
                let key = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("sec-websocket-key:") }
                    .map { String($0.dropFirst("sec-websocket-key:".count).drop { $0 == " " }) } ?? ""
                try await writer.write(Array(answer(key).utf8) + frames)
                while try await !reader.read(upTo: 4096).isEmpty {}
                writer.abort()
            }
            do {
                try await body(server.localAddress.port!)
            } catch {
                server.close()
                throw error
            }
            server.close()
            try await server.serveForever()
        }
    }

    static func switching(_ key: String) -> String {
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(WebSocketHandshake.accept(key: key))\r\n\r\n"
    }

    @Test func aMaskedFrameFromTheServerFailsTheClientWith1002() async throws {
        let masked = WebSocketFrameEncoder.frame(opcode: 1, payload: Array("masked".utf8), mask: (1, 2, 3, 4))
        try await Self.withRawServer(answer: Self.switching, frames: masked) { port in
            try await withHTTPClient { client in
                let ws = try await client.webSocket("ws://127.0.0.1:\(port)/")
                await #expect { try await ws.receive() } throws: { error in
                    let failure = error as? WebSocketError
                    return failure?.code == .protocolViolation && failure?.closeCode == .protocolError
                }
                #expect(ws.isClosed)
            }
        }
    }

    @Test(arguments: [
        ("a wrong Sec-WebSocket-Accept", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAA\r\n\r\n",
         "the server's Sec-WebSocket-Accept does not match the key sent"),
        ("no switch", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "the server answered 200 OK, not 101 Switching Protocols"),
        ("an extension not offered", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ACCEPT\r\nSec-WebSocket-Extensions: x-unknown\r\n\r\n",
         "the server accepted an extension that was not offered: x-unknown"),
        ("a subprotocol not offered", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ACCEPT\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
         "the server chose the subprotocol mqtt, which was not offered"),
    ] as [(String, String, String)])
    func aBadHandshakeAnswerIsAClearError(_ label: String, _ answer: String, _ message: String) async throws {
        try await Self.withRawServer(answer: { key in answer.replacingAccept(WebSocketHandshake.accept(key: key)) }) { port in
            try await withHTTPClient { client -> Void in
                await #expect(throws: WebSocketError(.handshakeFailed, message), "\(label)") {
                    _ = try await client.webSocket("ws://127.0.0.1:\(port)/")
                }
            }
        }
    }

    @Test func aURLThatIsNotAWebSocketOneIsRefused() async throws {
        try await withTestLoop { _ in
            try await withHTTPClient { client in
                await #expect(throws: HTTPClientError.self) { _ = try await client.webSocket("ftp://example.com/") }
            }
        }
    }

    /// A server that never answers pings: the heartbeat gives up after one missed pong.
    @Test func theHeartbeatDropsAServerThatNeverAnswers() async throws {
        try await Self.withRawServer(answer: Self.switching) { port in
            try await withHTTPClient { client in
                var configuration = WebSocket.Configuration()
                configuration.heartbeat = .seconds(10)
                let ws = try await client.webSocket("ws://127.0.0.1:\(port)/", configuration: configuration)
                let start = EventLoop.current!.now
                await #expect { try await ws.receive() } throws: { ($0 as? WebSocketError)?.code == .heartbeatTimeout }
                #expect(start.duration(to: EventLoop.current!.now) >= .seconds(20))
            }
        }
    }

    /// Our client and our server: compression, a subprotocol, messages both ways, the close code.
    @Test func ourClientWithOurServer() async throws {
        var configuration = WebSocket.Configuration()
        configuration.subprotocols = ["echo.v1"]
        var router = HTTPRouter()
        router.webSocket("/ws", configuration: configuration) { ws, _ in
            #expect(ws.subprotocol == "echo.v1")
            while let message = try await ws.receive() {
                if message == .text("bye") {
                    await ws.close(code: WebSocketCloseCode(rawValue: 4000), reason: "asked to")
                    return
                }
                try await ws.send(message)
            }
        }
        let settings = configuration
        try await withServer(router) { server, _ in
            try await withHTTPClient { client in
                let ws = try await client.webSocket("ws://127.0.0.1:\(server.localAddress.port!)/ws", configuration: settings)
                #expect(ws.isCompressed)
                #expect(ws.subprotocol == "echo.v1")
                for size in [0, 10, 1000, 100_000, 1 << 20] {
                    let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 / 3) }
                    try await ws.send(binary: payload)
                    #expect(try await ws.receive() == .binary(payload))
                }
                try await ws.send(text: "bye")
                #expect(try await ws.receive() == nil)
                #expect(ws.closeCode == WebSocketCloseCode(rawValue: 4000))
                #expect(ws.closeReason == "asked to")
            }
        }
    }
}

extension String {
    /// The canned answer with its `ACCEPT` placeholder replaced.
    fileprivate func replacingAccept(_ accept: String) -> String {
        replacing("ACCEPT", with: accept)
    }
}

/// Streamed messages over a connection: larger than the whole-message limit, in bounded pieces.
@Suite("WebSocket streamed messages", .timeLimit(.minutes(1)))
struct WebSocketStreamingTests {
    @Test func aServerReadsAMessageLargerThanItsLimitPieceByPiece() async throws {
        final class Seen: @unchecked Sendable { var total = 0; var largest = 0; var checksum: UInt64 = 0; var isText: Bool? }
        let seen = Seen()
        var configuration = WebSocket.Configuration()
        configuration.maxMessageSize = 64 * 1024
        var router = HTTPRouter()
        router.webSocket("/upload", configuration: configuration) { ws, _ in
            guard let message = try await ws.receiveStreamed() else { return }
            seen.isText = message.isText
            for try await piece in message {
                seen.total += piece.count
                seen.largest = max(seen.largest, piece.count)
                for byte in piece { seen.checksum = seen.checksum &* 31 &+ UInt64(byte) }
            }
            try await ws.send(text: "got \(seen.total)")
            // A whole message after the streamed one, within the limit.
            if let next = try await ws.receive() { try await ws.send(next) }
        }
        try await withServer(router) { server, _ in
            let ws = try await RawWebSocket(port: server.localAddress.port!, path: "/upload")
            let size = 3 << 20
            var expected: UInt64 = 0
            var offset = 0
            var first = true
            while offset < size {
                let count = min(200_000, size - offset)
                let piece = (offset..<(offset + count)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 11) }
                for byte in piece { expected = expected &* 31 &+ UInt64(byte) }
                offset += count
                try await ws.send(WebSocketCodecTests.frame(first ? 2 : 0, piece, fin: offset == size))
                first = false
            }
            #expect(try await ws.next() == .message(.text("got \(size)")))
            try await ws.send(WebSocketCodecTests.text("small"))
            #expect(try await ws.next() == .message(.text("small")))
            #expect(seen.total == size)
            #expect(seen.checksum == expected)
            #expect(seen.isText == false)
            #expect(seen.largest > 0 && seen.largest <= 64 * 1024, "a piece of \(seen.largest) bytes")
            ws.writer.abort()
        }
    }
}

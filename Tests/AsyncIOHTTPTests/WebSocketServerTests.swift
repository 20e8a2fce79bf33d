@testable import AsyncIOHTTP
import AsyncIO
import AsyncIOTesting
import HTTPTypes
import Testing

/// A WebSocket client that writes whatever bytes a test gives it (hostile frames included) and reads
/// the server's frames with the codec in the client role.
final class RawWebSocket: @unchecked Sendable {
    let reader: StreamReader
    let writer: StreamWriter
    var parser = WebSocketParser(role: .client, maxMessageSize: 1 << 24)
    /// The server's 101 head.
    private(set) var head = ""

    init(port: UInt16, path: String = "/ws", extensions: String? = nil, extra: String = "") async throws {
        (reader, writer) = try await openConnection(host: "127.0.0.1", port: port)
        var request = "GET \(path) HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + extra
        if let extensions { request += "Sec-WebSocket-Extensions: \(extensions)\r\n" }
        try await writer.write(Array((request + "\r\n").utf8))
        head = String(decoding: try await reader.read(until: Array("\r\n\r\n".utf8)), as: UTF8.self)
    }

    func send(_ bytes: [UInt8]) async throws { try await writer.write(bytes) }

    /// The next event from the server, or nil at the end of the stream.
    func next() async throws -> WebSocketParser.Event? {
        while true {
            let event = try reader.withBufferedBytes { buffer in
                let (consumed, event) = try parser.parse(buffer)
                return (consumed: consumed, result: event)
            }
            if let event { return event }
            if try await !reader.receiveMore() { return nil }
        }
    }

    /// Whether the server closed the connection (after whatever it sent).
    func sawEndOfStream() async -> Bool {
        do {
            while try await next() != nil {}
            return true
        } catch {
            return true
        }
    }
}

/// Issue 15: the server side's rules and lifecycle: refusals, protocol errors answered with the right
/// close code, a peer that never answers a close, a peer that stops reading, shutdown.
@Suite("WebSocket server", .timeLimit(.minutes(1)))
struct WebSocketServerTests {
    static func frame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0) -> [UInt8] {
        WebSocketCodecTests.frame(opcode, payload, fin: fin, rsv: rsv)
    }

    static func echoRouter(_ configuration: WebSocket.Configuration = WebSocket.Configuration()) -> HTTPRouter {
        var router = HTTPRouter()
        router.webSocket("/ws", configuration: configuration) { ws, _ in
            for try await message in ws.messages { try await ws.send(message) }
        }
        return router
    }

    @Test(arguments: [
        ("an unmasked frame", WebSocketFrameEncoder.frame(opcode: 1, payload: Array("hi".utf8), mask: nil), WebSocketCloseCode.protocolError),
        ("a 2^63 length", [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4], .protocolError),
        ("invalid UTF-8 split across fragments", frame(1, [0xCE, 0xBA, 0xE1], fin: false) + frame(0, [0xBD, 0xF4, 0x90]), .invalidPayload),
        ("a reserved opcode", frame(5, []), .protocolError),
        ("a fragmented ping", frame(9, [1], fin: false), .protocolError),
        ("a 126-byte ping", frame(9, [UInt8](repeating: 1, count: 126)), .protocolError),
        ("RSV1 without compression", frame(1, [0x41], rsv: 4), .protocolError),
        ("a message over 16 MiB announced", [0x82, 0xFF, 0, 0, 0, 0, 1, 0, 0, 1, 9, 9, 9, 9], .messageTooBig),
    ] as [(String, [UInt8], WebSocketCloseCode)])
    func protocolErrorsAreAnsweredWithTheirCloseCode(_ label: String, _ bytes: [UInt8], _ code: WebSocketCloseCode) async throws {
        try await withServer(Self.echoRouter()) { server, _ in
            let ws = try await RawWebSocket(port: server.localAddress.port!)
            #expect(ws.head.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
            try await ws.send(Self.frame(1, Array("before".utf8)))
            #expect(try await ws.next() == .message(.text("before")))
            try await ws.send(bytes)
            let event = try await ws.next()
            guard case .close(let sent, _)? = event else {
                Issue.record("\(label): expected a close frame, got \(String(describing: event))")
                return
            }
            #expect(sent == code, "\(label)")
            #expect(await ws.sawEndOfStream(), "\(label)")
        }
    }

    @Test func aCompressionBombFailsWith1009() async throws {
        let bomb = try WebSocketCompressor(windowBits: 15, contextTakeover: false).compress([UInt8](repeating: 0, count: 32 << 20))
        #expect(bomb.count < 64 * 1024)
        try await withServer(Self.echoRouter()) { server, _ in
            let ws = try await RawWebSocket(port: server.localAddress.port!, extensions: "permessage-deflate")
            #expect(ws.head.contains("Sec-WebSocket-Extensions: permessage-deflate"))
            try await ws.send(Self.frame(2, bomb, rsv: 4))
            #expect(try await ws.next() == .close(.messageTooBig, "a compressed message inflates past the limit of 16777216 bytes"))
            #expect(await ws.sawEndOfStream())
        }
    }

    @Test func upgradesAreCheckedAndRefusedClearly() async throws {
        var configuration = WebSocket.Configuration()
        configuration.subprotocols = ["chat.v2", "chat.v1"]
        configuration.checkOrigin = { origin in origin == nil || origin == "https://good.example" }
        try await withServer(Self.echoRouter(configuration)) { server, _ in
            let port = server.localAddress.port!
            let client = try await TestClient(port: port)
            try await client.send(get("/ws"))
            let plain = try await client.response()
            #expect(plain?.status == 426)
            #expect(plain?.head.response.headerFields[HTTPField.Name("Sec-WebSocket-Version")!] == "13")
            client.close()

            let oldVersion = try await TestClient(port: port)
            try await oldVersion.send("GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n")
            #expect(try await oldVersion.response()?.status == 426)
            oldVersion.close()

            let badKey = try await TestClient(port: port)
            try await badKey.send("GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n")
            #expect(try await badKey.response()?.status == 400)
            badKey.close()

            let evil = try await RawWebSocket(port: port, extra: "Origin: https://evil.example\r\n")
            #expect(evil.head.hasPrefix("HTTP/1.1 403"))
            evil.writer.abort()

            let chat = try await RawWebSocket(port: port, extra: "Origin: https://good.example\r\nSec-WebSocket-Protocol: chat.v1, chat.v2\r\n")
            #expect(chat.head.hasPrefix("HTTP/1.1 101"))
            #expect(chat.head.contains("Sec-WebSocket-Protocol: chat.v2\r\n"))  // the server's preference
            #expect(chat.head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"))
            chat.writer.abort()
        }
    }

    /// The server starts the close; the peer never answers: the connection is dropped after the close
    /// timeout (virtual time), not held forever.
    @Test func aPeerThatNeverAnswersTheCloseIsDroppedAfterTheTimeout() async throws {
        var router = HTTPRouter()
        let closed = Locked(false)
        router.webSocket("/ws") { ws, _ in
            await ws.close(code: .normal, reason: "bye")
            closed.set(true)
        }
        try await withServer(router) { server, loop in
            let ws = try await RawWebSocket(port: server.localAddress.port!)
            let start = loop.now
            #expect(try await ws.next() == .close(.normal, "bye"))
            #expect(await ws.sawEndOfStream())
            #expect(start.duration(to: loop.now) >= .seconds(5))
            #expect(closed.value)
        }
    }

    /// A peer that stops reading holds the sender in `send` (backpressure): the bytes queued stay
    /// within the writer's watermark while the handler tries to send 64 MiB.
    @Test func aPeerThatStopsReadingHoldsTheSender() async throws {
        let progress = Locked((sent: 0, peakQueued: 0))
        var router = HTTPRouter()
        router.webSocket("/ws") { ws, _ in
            let message = [UInt8](repeating: 1, count: 256 * 1024)
            for _ in 0..<256 {
                try await ws.send(binary: message)
                progress.set((progress.value.sent + 1, max(progress.value.peakQueued, ws.writer.bufferedCount)))
            }
        }
        try await withServer(router, configure: { $0.writeTimeout = nil }) { server, loop in
            let ws = try await RawWebSocket(port: server.localAddress.port!)
            await loop.waitUntilAllTasksBlocked()
            // The kernel's socket buffers take a few messages; the rest wait for the reader.
            #expect(progress.value.sent >= 1)
            #expect(progress.value.sent < 40, "\(progress.value.sent) messages of 256 KiB went out to a peer that reads nothing")
            #expect(progress.value.peakQueued <= 64 * 1024 + 256 * 1024)
            ws.writer.abort()
        }
    }

    @Test func shutdownClosesOpenWebSocketsWithGoingAway() async throws {
        try await withTestLoop { _ in
            let server = try await HTTPServer.start(host: "127.0.0.1", port: 0, handler: Self.echoRouter().handler)
            let ws = try await RawWebSocket(port: server.localAddress.port!)
            try await ws.send(Self.frame(1, Array("hi".utf8)))
            #expect(try await ws.next() == .message(.text("hi")))
            let shutdown = EventLoop.current!.spawn { await server.shutdown(gracePeriod: .seconds(10)) }
            #expect(try await ws.next() == .close(.goingAway, "the server is shutting down"))
            try await ws.send(Self.frame(8, [0x03, 0xE9]))  // our close answer: 1001
            #expect(await ws.sawEndOfStream())
            _ = await shutdown.result
            #expect(server.connectionCount == 0)
        }
    }
}

/// A value shared by a test and the handlers it starts on the same loop.
final class Locked<Value: Sendable>: @unchecked Sendable {
    private(set) var value: Value
    init(_ value: Value) { self.value = value }
    func set(_ value: Value) { self.value = value }
}

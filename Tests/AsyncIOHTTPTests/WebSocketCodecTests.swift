@testable import AsyncIOHTTP
import Testing

/// Issue 15: the WebSocket codec against the Autobahn TestSuite's case catalogue (its runner needs
/// Python 2 and cannot run here). Each case is the client's frames as Autobahn sends them and the
/// outcome Autobahn expects of a server: the events (what the connection then echoes or answers), or
/// a failed connection with its close code. Every case runs with the input whole, a byte at a time,
/// and in 7-byte chops ("chopped" cases in Autobahn), on the pure parser.
@Suite("WebSocket codec (Autobahn catalogue)")
struct WebSocketCodecTests {
    enum Outcome: Equatable {
        case events([WebSocketParser.Event])
        case fails(WebSocketCloseCode)
    }

    struct Case: CustomTestStringConvertible, Sendable {
        let id: String
        let input: [UInt8]
        let outcome: Outcome
        var maxMessageSize = 1 << 20
        var deflate: WebSocketDeflate?
        var testDescription: String { id }
    }

    /// One masked client frame.
    static func frame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0) -> [UInt8] {
        var bytes = WebSocketFrameEncoder.frame(opcode: opcode, final: fin, payload: payload, mask: (0x37, 0xFA, 0x21, 0x3D))
        bytes[0] |= rsv << 4
        return bytes
    }

    static func text(_ text: String, fin: Bool = true) -> [UInt8] { frame(1, Array(text.utf8), fin: fin) }
    static func cont(_ payload: [UInt8], fin: Bool = true) -> [UInt8] { frame(0, payload, fin: fin) }
    static func bytes(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7) } }
    static func close(_ code: UInt16?, _ reason: [UInt8] = []) -> [UInt8] {
        frame(8, code.map { [UInt8($0 >> 8), UInt8($0 & 0xFF)] + reason } ?? [])
    }

    static func textMessage(_ text: String) -> WebSocketParser.Event { .message(.text(text)) }

    static let cases: [Case] = {
        var all: [Case] = []
        // 1 Framing: text and binary of every length class.
        for (index, length) in [0, 125, 126, 127, 128, 65535, 65536].enumerated() {
            let payload = String(repeating: "*", count: length)
            all.append(Case(id: "1.1.\(index + 1) text, \(length) bytes", input: text(payload), outcome: .events([.message(.text(payload))])))
            all.append(Case(id: "1.2.\(index + 1) binary, \(length) bytes", input: frame(2, bytes(length)), outcome: .events([.message(.binary(bytes(length)))])))
        }
        // 2 Pings and pongs.
        all.append(Case(id: "2.1 ping, no payload", input: frame(9, []), outcome: .events([.ping([])])))
        all.append(Case(id: "2.2 ping, text payload", input: frame(9, Array("Hello, world!".utf8)), outcome: .events([.ping(Array("Hello, world!".utf8))])))
        all.append(Case(id: "2.3 ping, binary payload", input: frame(9, [0, 0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0, 0xFF]), outcome: .events([.ping([0, 0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0, 0xFF])])))
        all.append(Case(id: "2.4 ping, 125 bytes", input: frame(9, bytes(125)), outcome: .events([.ping(bytes(125))])))
        all.append(Case(id: "2.5 ping, 126 bytes", input: frame(9, bytes(126)), outcome: .fails(.protocolError)))
        all.append(Case(id: "2.7 unsolicited pong", input: frame(10, []), outcome: .events([.pong([])])))
        all.append(Case(id: "2.9 pong then ping", input: frame(10, Array("unsolicited".utf8)) + frame(9, Array("ping".utf8)),
                        outcome: .events([.pong(Array("unsolicited".utf8)), .ping(Array("ping".utf8))])))
        all.append(Case(id: "2.10 ten pings", input: (0..<10).flatMap { frame(9, Array("payload-\($0)".utf8)) },
                        outcome: .events((0..<10).map { .ping(Array("payload-\($0)".utf8)) })))
        // 3 Reserved bits (no extension negotiated).
        all.append(Case(id: "3.1 RSV1 on text", input: frame(1, Array("Hello".utf8), rsv: 4), outcome: .fails(.protocolError)))
        all.append(Case(id: "3.2 RSV2 after a valid text", input: text("Hello") + frame(1, Array("Hello".utf8), rsv: 2),
                        outcome: .fails(.protocolError)))
        all.append(Case(id: "3.3 RSV3 on text", input: frame(1, Array("Hello".utf8), rsv: 1), outcome: .fails(.protocolError)))
        all.append(Case(id: "3.4 RSV1+RSV2", input: frame(1, Array("Hello".utf8), rsv: 6), outcome: .fails(.protocolError)))
        all.append(Case(id: "3.5 RSV1+RSV3 on binary", input: frame(2, bytes(10), rsv: 5), outcome: .fails(.protocolError)))
        all.append(Case(id: "3.6 RSV2+RSV3 on ping", input: frame(9, bytes(10), rsv: 3), outcome: .fails(.protocolError)))
        all.append(Case(id: "3.7 all RSV on close", input: { var f = close(1000); f[0] |= 0x70; return f }(), outcome: .fails(.protocolError)))
        // 4 Opcodes.
        for (index, opcode) in [3, 4, 5, 6, 7].enumerated() {
            all.append(Case(id: "4.1.\(index + 1) reserved data opcode \(opcode)", input: frame(UInt8(opcode), []), outcome: .fails(.protocolError)))
        }
        for (index, opcode) in [11, 12, 13, 14, 15].enumerated() {
            all.append(Case(id: "4.2.\(index + 1) reserved control opcode \(opcode)", input: frame(UInt8(opcode), bytes(3)), outcome: .fails(.protocolError)))
        }
        // 5 Fragmentation.
        all.append(Case(id: "5.1 fragmented ping", input: frame(9, Array("frag".utf8), fin: false) + cont(Array("ment".utf8)), outcome: .fails(.protocolError)))
        all.append(Case(id: "5.2 fragmented pong", input: frame(10, Array("frag".utf8), fin: false) + cont(Array("ment".utf8)), outcome: .fails(.protocolError)))
        all.append(Case(id: "5.3 text in two fragments", input: text("frag", fin: false) + cont(Array("ment1".utf8)), outcome: .events([textMessage("fragment1")])))
        all.append(Case(id: "5.6 a ping between fragments", input: text("frag", fin: false) + frame(9, Array("ping".utf8)) + cont(Array("ment".utf8)),
                        outcome: .events([.ping(Array("ping".utf8)), textMessage("fragment")])))
        all.append(Case(id: "5.9 a continuation with nothing to continue", input: cont(Array("x".utf8)) + text("fragment"), outcome: .fails(.protocolError)))
        all.append(Case(id: "5.12 a non-final continuation with nothing to continue", input: cont(Array("x".utf8), fin: false), outcome: .fails(.protocolError)))
        all.append(Case(id: "5.15 a new message inside a fragmented one", input: text("a", fin: false) + text("b"), outcome: .fails(.protocolError)))
        all.append(Case(id: "5.19 five fragments with pings between", input:
                            text("f1", fin: false) + cont(Array("f2".utf8), fin: false) + frame(9, Array("p1".utf8))
                            + cont(Array("f3".utf8), fin: false) + cont(Array("f4".utf8), fin: false) + frame(9, Array("p2".utf8))
                            + cont(Array("f5".utf8)),
                        outcome: .events([.ping(Array("p1".utf8)), .ping(Array("p2".utf8)), textMessage("f1f2f3f4f5")])))
        // 6 UTF-8 handling.
        let kosme = Array("κόσμε".utf8)
        all.append(Case(id: "6.2.3 valid UTF-8 fragmented at every byte", input:
                            kosme.enumerated().flatMap { index, byte in index == 0 ? frame(1, [byte], fin: false) : cont([byte], fin: index == kosme.count - 1) },
                        outcome: .events([textMessage("κόσμε")])))
        all.append(Case(id: "6.3.1 invalid UTF-8 (an overlong encoding)", input: frame(1, [0xC0, 0xAF]), outcome: .fails(.invalidPayload)))
        all.append(Case(id: "6.3.2 invalid UTF-8 split across fragments", input: frame(1, [0xCE, 0xBA, 0xE1], fin: false) + cont([0xBD, 0xF4, 0x90, 0x80, 0x80])
                        , outcome: .fails(.invalidPayload)))
        all.append(Case(id: "6.4.1 fail fast: the bad byte fails the message before its end arrives",
                        input: frame(1, [0x61, 0xED, 0xA0, 0x80], fin: false), outcome: .fails(.invalidPayload)))
        all.append(Case(id: "6.5 a text message ending inside a character", input: frame(1, [0xCE]), outcome: .fails(.invalidPayload)))
        all.append(Case(id: "6.7 surrogates are invalid", input: frame(1, [0xED, 0xBF, 0xBF]), outcome: .fails(.invalidPayload)))
        all.append(Case(id: "6.10 above U+10FFFF is invalid", input: frame(1, [0xF4, 0x90, 0x80, 0x80]), outcome: .fails(.invalidPayload)))
        all.append(Case(id: "6.12 a lone continuation byte", input: frame(1, [0x80]), outcome: .fails(.invalidPayload)))
        all.append(Case(id: "6.22 U+FFFF and the largest code point are valid", input: frame(1, [0xEF, 0xBF, 0xBF, 0xF4, 0x8F, 0xBF, 0xBF]),
                        outcome: .events([textMessage("\u{FFFF}\u{10FFFF}")])))
        // 7 Close handling.
        all.append(Case(id: "7.1.1 a message, then close", input: text("Hello") + close(1000), outcome: .events([textMessage("Hello"), .close(.normal, "")])))
        all.append(Case(id: "7.3.1 close without payload", input: close(nil), outcome: .events([.close(nil, "")])))
        all.append(Case(id: "7.3.2 close with a 1-byte payload", input: frame(8, [0x03]), outcome: .fails(.protocolError)))
        all.append(Case(id: "7.3.4 close with a reason", input: close(1000, Array("Hello World!".utf8)), outcome: .events([.close(.normal, "Hello World!")])))
        all.append(Case(id: "7.3.5 close with a 123-byte reason", input: close(1000, Array(repeating: 0x2A, count: 123)),
                        outcome: .events([.close(.normal, String(repeating: "*", count: 123))])))
        all.append(Case(id: "7.3.6 close with a 124-byte reason (a 126-byte control frame)", input: close(1000, Array(repeating: 0x2A, count: 124)),
                        outcome: .fails(.protocolError)))
        all.append(Case(id: "7.5.1 close with an invalid UTF-8 reason", input: close(1000, [0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5, 0xED, 0xA0, 0x80]),
                        outcome: .fails(.invalidPayload)))
        for (index, code) in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999].enumerated() {
            all.append(Case(id: "7.7.\(index + 1) valid close code \(code)", input: close(UInt16(code)),
                            outcome: .events([.close(WebSocketCloseCode(rawValue: UInt16(code)), "")])))
        }
        for (index, code) in [0, 999, 1004, 1005, 1006, 1012, 1016, 1100, 2000, 2999, 5000, 65535].enumerated() {
            all.append(Case(id: "7.9.\(index + 1) invalid close code \(code)", input: close(UInt16(code)), outcome: .fails(.protocolError)))
        }
        // 9 Limits: a message over the limit fails on the frame header that announces it (1009).
        all.append(Case(id: "9.1 a frame past the message limit", input: frame(2, bytes(2000)), outcome: .fails(.messageTooBig), maxMessageSize: 1000))
        all.append(Case(id: "9.2 fragments that add up past the limit",
                        input: frame(2, bytes(600), fin: false) + cont(bytes(600)), outcome: .fails(.messageTooBig), maxMessageSize: 1000))
        all.append(Case(id: "9.3 a message of exactly the limit", input: frame(2, bytes(1000)), outcome: .events([.message(.binary(bytes(1000)))]),
                        maxMessageSize: 1000))
        // Hostile framing beyond Autobahn.
        var unmasked = WebSocketFrameEncoder.frame(opcode: 1, payload: Array("x".utf8), mask: nil)
        all.append(Case(id: "an unmasked client frame", input: unmasked, outcome: .fails(.protocolError)))
        unmasked = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]
        all.append(Case(id: "a 64-bit length with its top bit set (2^63)", input: unmasked, outcome: .fails(.protocolError)))
        // 12/13 Compression (permessage-deflate negotiated).
        let deflate = WebSocketDeflate()
        let compressor = WebSocketCompressor(windowBits: 15, contextTakeover: true)
        let hello = try! compressor.compress(Array("Hello, compressed world! Hello, compressed world!".utf8))
        all.append(Case(id: "12.1 a compressed text message", input: frame(1, hello, rsv: 4),
                        outcome: .events([textMessage("Hello, compressed world! Hello, compressed world!")]), deflate: deflate))
        let again = try! compressor.compress(Array("Hello, compressed world! Hello, compressed world!".utf8))
        all.append(Case(id: "12.2 two messages sharing the compression context", input: frame(1, hello, rsv: 4) + frame(1, again, rsv: 4),
                        outcome: .events([textMessage("Hello, compressed world! Hello, compressed world!"), textMessage("Hello, compressed world! Hello, compressed world!")]),
                        deflate: deflate))
        let big = try! WebSocketCompressor(windowBits: 15, contextTakeover: false).compress(bytes(100_000))
        all.append(Case(id: "13.1 a compressed message fragmented", input: frame(2, Array(big.prefix(100)), fin: false, rsv: 4) + cont(Array(big.dropFirst(100))),
                        outcome: .events([.message(.binary(bytes(100_000)))]), deflate: deflate))
        let bomb = try! WebSocketCompressor(windowBits: 15, contextTakeover: false).compress([UInt8](repeating: 0, count: 10 << 20))
        all.append(Case(id: "a compression bomb (10 MiB of zeros in \(bomb.count) bytes)", input: frame(2, bomb, rsv: 4), outcome: .fails(.messageTooBig),
                        maxMessageSize: 1 << 20, deflate: deflate))
        all.append(Case(id: "RSV1 on a continuation frame", input: frame(2, hello, fin: false, rsv: 4) + frame(0, [1], rsv: 4), outcome: .fails(.protocolError),
                        deflate: deflate))
        all.append(Case(id: "a compressed control frame", input: frame(9, [1], rsv: 4), outcome: .fails(.protocolError), deflate: deflate))
        return all
    }()

    /// The events (or the failure) of `input` fed `pieceSize` bytes at a time.
    static func run(_ test: Case, pieceSize: Int) -> Outcome {
        var parser = WebSocketParser(role: .server, maxMessageSize: test.maxMessageSize, deflate: test.deflate)
        var events: [WebSocketParser.Event] = []
        var pending: [UInt8] = []
        var offset = 0
        do {
            while offset < test.input.count || !pending.isEmpty {
                if offset < test.input.count {
                    pending += test.input[offset..<min(test.input.count, offset + pieceSize)]
                    offset += pieceSize
                }
                while true {
                    let (consumed, event) = try pending.withUnsafeBytes { try parser.parse($0) }
                    pending.removeFirst(consumed)
                    guard let event else { break }
                    events.append(event)
                }
                if offset >= test.input.count { break }
            }
        } catch let error as WebSocketError {
            return .fails(error.closeCode ?? .abnormal)
        } catch {
            return .fails(.abnormal)
        }
        return .events(events)
    }

    @Test(arguments: cases)
    func autobahnCase(_ test: Case) {
        for pieceSize in [test.input.count, 1, 7] {
            #expect(Self.run(test, pieceSize: max(pieceSize, 1)) == test.outcome, "\(test.id), pieces of \(pieceSize)")
        }
    }

    /// 10.1: what the sending side fragments (or compresses) is reassembled to the same message.
    @Test func compressedMessagesRoundTripWithEveryNegotiatedWindow() throws {
        for bits in [9, 12, 15] {
            for takeover in [true, false] {
                let compressor = WebSocketCompressor(windowBits: bits, contextTakeover: takeover)
                var parser = WebSocketParser(role: .client, maxMessageSize: 1 << 22, deflate: WebSocketDeflate(serverNoContextTakeover: !takeover))
                for round in 0..<3 {
                    let message = Array(String(repeating: "round \(round) of window \(bits): the same words again and again. ", count: 500).utf8)
                    let payload = try compressor.compress(message)
                    #expect(payload.count < message.count / 5)
                    let wire = WebSocketFrameEncoder.frame(opcode: 1, compressed: true, payload: payload, mask: nil)
                    let (consumed, event) = try wire.withUnsafeBytes { try parser.parse($0) }
                    #expect(consumed == wire.count)
                    #expect(event == .message(.text(String(decoding: message, as: UTF8.self))))
                }
            }
        }
    }

    /// Connections that compress without context takeover share their loop's zlib stream: messages of
    /// two connections, interleaved, each inflate to themselves (the stream is reset between them).
    @Test func connectionsSharingALoopsDeflaterStayApart() throws {
        let pool = WebSocketDeflaterPool()
        let first = WebSocketCompressor(windowBits: 15, level: 1, contextTakeover: false, pool: pool)
        let second = WebSocketCompressor(windowBits: 15, level: 1, contextTakeover: false, pool: pool)
        let narrow = WebSocketCompressor(windowBits: 10, level: 9, contextTakeover: false, pool: pool)
        var parser = WebSocketParser(role: .client, maxMessageSize: 1 << 20, deflate: WebSocketDeflate(serverNoContextTakeover: true))
        for round in 0..<4 {
            for (index, compressor) in [first, second, narrow].enumerated() {
                let message = Array(String(repeating: "connection \(index), round \(round); ", count: 300).utf8)
                let wire = WebSocketFrameEncoder.frame(opcode: 2, compressed: true, payload: try compressor.compress(message), mask: nil)
                let (consumed, event) = try wire.withUnsafeBytes { try parser.parse($0) }
                #expect(consumed == wire.count)
                #expect(event == .message(.binary(message)))
            }
        }
    }

    @Test func theServerNegotiatesWhatItCanHonour() {
        #expect(WebSocketDeflate.negotiate(offers: ["permessage-deflate; client_max_window_bits"])?.response
                == "permessage-deflate; server_no_context_takeover")
        #expect(WebSocketDeflate.negotiate(offers: ["permessage-deflate; server_max_window_bits=10; client_no_context_takeover"])?.response
                == "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_no_context_takeover")
        // An 8-bit server window cannot be produced by zlib: that offer is declined, the next taken.
        #expect(WebSocketDeflate.negotiate(offers: ["permessage-deflate; server_max_window_bits=8, permessage-deflate"])?.response
                == "permessage-deflate; server_no_context_takeover")
        #expect(WebSocketDeflate.negotiate(offers: ["permessage-deflate; unknown_parameter"]) == nil)
        #expect(WebSocketDeflate.negotiate(offers: ["permessage-deflate; server_no_context_takeover; server_no_context_takeover"]) == nil)
        #expect(WebSocketDeflate.negotiate(offers: ["x-webkit-deflate-frame"]) == nil)
    }

    @Test func theAcceptValueIsRFC6455s() {
        // RFC 6455 §1.3's example.
        #expect(WebSocketHandshake.accept(key: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(SHA1.hash(Array("abc".utf8)) == [0xA9, 0x99, 0x3E, 0x36, 0x47, 0x06, 0x81, 0x6A, 0xBA, 0x3E, 0x25, 0x71, 0x78, 0x50, 0xC2, 0x6C, 0x9C, 0xD0, 0xD8, 0x9D])
    }

    @Test func closeReasonsAreCutOnACharacterBoundary() {
        let payload = WebSocketFrameEncoder.closePayload(.normal, String(repeating: "é", count: 100))
        #expect(payload.count <= 125)
        var validator = UTF8Validator()
        #expect(validator.feed(payload.dropFirst(2)) && validator.isComplete)
    }
}

/// Streamed messages: the same bytes as whole ones, piece by piece, without the total limit.
@Suite("WebSocket codec, streamed messages")
struct WebSocketStreamingCodecTests {
    /// Events of `input` fed `size` bytes at a time, with streaming asked for before each message;
    /// pieces are joined.
    static func streamed(_ input: [UInt8], pieceSize size: Int, maxMessageSize: Int = 1000, deflate: WebSocketDeflate? = nil)
        throws -> [WebSocketParser.Event] {
        var parser = WebSocketParser(role: .server, maxMessageSize: maxMessageSize, deflate: deflate)
        var events: [WebSocketParser.Event] = []
        var pending: [UInt8] = []
        var offset = 0
        while true {
            parser.streamsNextMessage = parser.isIdle
            let (consumed, event) = try pending.withUnsafeBytes { try parser.parse($0) }
            pending.removeFirst(consumed)
            if let event {
                if case .streamPiece(let piece) = event, case .streamPiece(let before)? = events.last {
                    events[events.count - 1] = .streamPiece(before + piece)
                } else {
                    events.append(event)
                }
                continue
            }
            guard offset < input.count else { return events }
            pending += input[offset..<min(input.count, offset + size)]
            offset += size
        }
    }

    @Test func aStreamedMessageHasTheSameBytesAndNoTotalLimit() throws {
        let bytes = WebSocketCodecTests.bytes(5000)  // five times the whole-message limit
        let input = WebSocketCodecTests.frame(2, Array(bytes[..<700]), fin: false) + WebSocketCodecTests.frame(9, [1])
            + WebSocketCodecTests.frame(0, Array(bytes[700...])) + WebSocketCodecTests.text("after")
        for size in [1, 13, input.count] {
            let events = try Self.streamed(input, pieceSize: size)
            #expect(events == [.streamStart(isText: false), .streamPiece(Array(bytes[..<700])), .ping([1]),
                               .streamPiece(Array(bytes[700...])), .streamEnd,
                               .streamStart(isText: true), .streamPiece(Array("after".utf8)), .streamEnd], "pieces of \(size)")
        }
    }

    @Test func aCompressedStreamedMessageIsInflatedFrameByFrame() throws {
        let text = String(repeating: "streamed and compressed, frame by frame. ", count: 400)
        let compressed = try WebSocketCompressor(windowBits: 15, contextTakeover: false).compress(Array(text.utf8))
        let cut = compressed.count / 3
        let input = WebSocketCodecTests.frame(1, Array(compressed[..<cut]), fin: false, rsv: 4) + WebSocketCodecTests.frame(0, Array(compressed[cut...]))
        let events = try Self.streamed(input, pieceSize: 7, maxMessageSize: 1 << 20, deflate: WebSocketDeflate())
        #expect(events == [.streamStart(isText: true), .streamPiece(Array(text.utf8)), .streamEnd])
    }

    @Test func invalidUTF8InAStreamedTextFailsAtOnce() {
        let input = WebSocketCodecTests.frame(1, [0x61, 0xC0], fin: false)
        #expect(throws: WebSocketError.self) { _ = try Self.streamed(input, pieceSize: 1) }
        do {
            _ = try Self.streamed(input, pieceSize: 1)
        } catch {
            #expect((error as? WebSocketError)?.closeCode == .invalidPayload)
        }
    }

    @Test func aCompressedFrameOverTheLimitFailsEvenWhenStreamed() {
        let bomb = try! WebSocketCompressor(windowBits: 15, contextTakeover: false).compress([UInt8](repeating: 0, count: 4 << 20))
        do {
            _ = try Self.streamed(WebSocketCodecTests.frame(2, bomb, rsv: 4), pieceSize: 4096, maxMessageSize: 1 << 20, deflate: WebSocketDeflate())
            Issue.record("a 4 MiB inflation passed a 1 MiB limit")
        } catch {
            #expect((error as? WebSocketError)?.closeCode == .messageTooBig)
        }
    }
}

import CCompression

/// `permessage-deflate` (RFC 7692): the negotiated parameters, the server's and the client's side of
/// the negotiation, and the per-message compressor and decompressor (system zlib, raw deflate).
struct WebSocketDeflate: Sendable, Hashable {
    /// The server resets its compressor after every message.
    var serverNoContextTakeover = false
    /// The client resets its compressor after every message.
    var clientNoContextTakeover = false
    /// The server's compression window (LZ77 sliding window, 2^bits bytes).
    var serverMaxWindowBits = 15
    /// The client's compression window.
    var clientMaxWindowBits = 15

    /// The client's offer: every option left to the server, which may limit our window.
    static let clientOffer = "permessage-deflate; client_max_window_bits"

    /// The server's choice among the `Sec-WebSocket-Extensions` offers: the first `permessage-deflate`
    /// offer it can honour, with the response header's value; nil when there is none. The server
    /// always resets its own compressor after each message (RFC 7692 §7.1.1.1 lets it say so unasked),
    /// so an idle connection holds no compression state of its own.
    static func negotiate(offers: [String]) -> (WebSocketDeflate, response: String)? {
        for offer in offers.flatMap({ Self.split($0, at: ",") }) {
            let parts = Self.split(offer, at: ";")
            guard parts.first?.lowercased() == "permessage-deflate" else { continue }
            var result = WebSocketDeflate()
            result.serverNoContextTakeover = true
            var response = ["permessage-deflate", "server_no_context_takeover"]
            var seen = Set<String>()
            var acceptable = true
            for parameter in parts.dropFirst() {
                let (name, value) = Self.parameter(parameter)
                guard seen.insert(name).inserted else { acceptable = false; break }
                switch name {
                case "server_no_context_takeover" where value == nil:
                    break
                case "client_no_context_takeover" where value == nil:
                    result.clientNoContextTakeover = true
                    response.append("client_no_context_takeover")
                case "server_max_window_bits":
                    // zlib cannot compress raw deflate with an 8-bit window: decline such an offer.
                    guard let bits = value.flatMap({ Int($0) }), (9...15).contains(bits) else { acceptable = false; break }
                    result.serverMaxWindowBits = bits
                    response.append("server_max_window_bits=\(bits)")
                case "client_max_window_bits":
                    // The client may use any window up to its value (or 15): we inflate with 15.
                    if let value { guard let bits = Int(value), (8...15).contains(bits) else { acceptable = false; break } }
                default:
                    acceptable = false
                }
                if !acceptable { break }
            }
            if acceptable { return (result, response.joined(separator: "; ")) }
        }
        return nil
    }

    /// The client's reading of the server's response to ``clientOffer``.
    ///
    /// - Throws: ``WebSocketError`` `.handshakeFailed` for a response the offer did not allow.
    static func accept(response: String) throws(WebSocketError) -> WebSocketDeflate {
        let extensions = Self.split(response, at: ",")
        guard extensions.count == 1 else {
            throw WebSocketError(.handshakeFailed, "the server accepted extensions that were not offered: \(response)")
        }
        let parts = Self.split(extensions[0], at: ";")
        guard parts.first?.lowercased() == "permessage-deflate" else {
            throw WebSocketError(.handshakeFailed, "the server accepted an extension that was not offered: \(response)")
        }
        var result = WebSocketDeflate()
        var seen = Set<String>()
        for parameter in parts.dropFirst() {
            let (name, value) = Self.parameter(parameter)
            guard seen.insert(name).inserted else {
                throw WebSocketError(.handshakeFailed, "permessage-deflate parameter \(name) given twice")
            }
            switch name {
            case "server_no_context_takeover" where value == nil:
                result.serverNoContextTakeover = true
            case "client_no_context_takeover" where value == nil:
                result.clientNoContextTakeover = true
            case "server_max_window_bits":
                guard let bits = value.flatMap({ Int($0) }), (8...15).contains(bits) else {
                    throw WebSocketError(.handshakeFailed, "bad server_max_window_bits in \(response)")
                }
                result.serverMaxWindowBits = bits
            case "client_max_window_bits":
                guard let bits = value.flatMap({ Int($0) }), (8...15).contains(bits) else {
                    throw WebSocketError(.handshakeFailed, "bad client_max_window_bits in \(response)")
                }
                // zlib cannot compress raw deflate with an 8-bit window.
                guard bits >= 9 else {
                    throw WebSocketError(.handshakeFailed, "the server asks for an 8-bit compression window, which zlib cannot produce")
                }
                result.clientMaxWindowBits = bits
            default:
                throw WebSocketError(.handshakeFailed, "unknown permessage-deflate parameter \(name)")
            }
        }
        return result
    }

    private static func split(_ text: String, at separator: Character) -> [String] {
        text.split(separator: separator).map { String($0.trimmingSpaces) }.filter { !$0.isEmpty }
    }

    private static func parameter(_ text: String) -> (String, String?) {
        guard let equals = text.firstIndex(of: "=") else { return (text.lowercased(), nil) }
        let name = text[..<equals].trimmingSpaces.lowercased()
        let value = text[text.index(after: equals)...].trimmingSpaces.unquoted
        return (name, String(value))
    }
}

/// Compresses messages for one direction of a connection (raw deflate, sync flush, the trailing
/// `00 00 FF FF` removed: RFC 7692 §7.2.1). Without context takeover, every message starts from an
/// empty window, so the zlib state is not the connection's: it borrows its loop's (one per window
/// size and level, reset after each message), and an idle connection holds none.
final class WebSocketCompressor {
    private var stream: UnsafeMutablePointer<z_stream>?
    private let windowBits: Int32
    private let level: Int32
    private let takesOverContext: Bool
    /// Where the shared streams live (no context takeover).
    private let pool: WebSocketDeflaterPool?

    init(windowBits: Int, level: Int = 6, contextTakeover: Bool, pool: WebSocketDeflaterPool? = nil) {
        self.windowBits = Int32(windowBits)
        self.level = Int32(level)
        takesOverContext = contextTakeover
        self.pool = contextTakeover ? nil : pool
    }

    deinit { if let stream { WebSocketDeflaterPool.end(stream) } }

    /// The compressed payload of `message`.
    func compress(_ message: [UInt8]) throws(WebSocketError) -> [UInt8] {
        let stream: UnsafeMutablePointer<z_stream>
        if let pool {
            stream = try pool.stream(windowBits: windowBits, level: level)
        } else if let own = self.stream {
            stream = own
        } else {
            stream = try WebSocketDeflaterPool.begin(windowBits: windowBits, level: level)
            if takesOverContext { self.stream = stream }
        }
        defer {
            if pool != nil {
                deflateReset(stream)  // the next message, of any connection, starts anew
            } else if !takesOverContext {
                WebSocketDeflaterPool.end(stream)
            }
        }
        var output: [UInt8] = []
        output.reserveCapacity(message.count / 2 + 64)
        var chunk = [UInt8](repeating: 0, count: max(1024, min(message.count + 64, 64 * 1024)))
        var failed = false
        message.withUnsafeBufferPointer { input in
            // SAFETY: zlib reads `input` and writes into `chunk` only during this call; neither pointer
            // is kept after it (the next call sets them again).
            stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.pointee.avail_in = uInt(input.count)
            repeat {
                chunk.withUnsafeMutableBufferPointer { out in
                    stream.pointee.next_out = out.baseAddress
                    stream.pointee.avail_out = uInt(out.count)
                    let result = deflate(stream, Z_SYNC_FLUSH)
                    if result != Z_OK && result != Z_BUF_ERROR { failed = true }
                    output.append(contentsOf: out[0..<(out.count - Int(stream.pointee.avail_out))])
                }
            } while !failed && stream.pointee.avail_out == 0
            stream.pointee.next_in = nil
            stream.pointee.next_out = nil
        }
        if failed { throw WebSocketError(.protocolViolation, closeCode: .internalError, "zlib could not compress a message") }
        if output.count >= 4 && output.suffix(4).elementsEqual([0, 0, 0xFF, 0xFF]) { output.removeLast(4) }
        return output
    }
}

/// A loop's deflate streams for messages compressed without context takeover (used synchronously,
/// one message at a time, then reset), so connections do not each hold one (about 256 KiB apiece).
final class WebSocketDeflaterPool {
    private var streams: [Int32: UnsafeMutablePointer<z_stream>] = [:]

    deinit { for stream in streams.values { Self.end(stream) } }

    func stream(windowBits: Int32, level: Int32) throws(WebSocketError) -> UnsafeMutablePointer<z_stream> {
        let key = windowBits << 8 | (level & 0xFF)
        if let stream = streams[key] { return stream }
        let stream = try Self.begin(windowBits: windowBits, level: level)
        streams[key] = stream
        return stream
    }

    static func begin(windowBits: Int32, level: Int32) throws(WebSocketError) -> UnsafeMutablePointer<z_stream> {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        guard deflateInit2_(stream, level, Z_DEFLATED, -windowBits, 8, Z_DEFAULT_STRATEGY,
                            zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            stream.deallocate()
            throw WebSocketError(.protocolViolation, closeCode: .internalError, "zlib could not start (out of memory)")
        }
        return stream
    }

    static func end(_ stream: UnsafeMutablePointer<z_stream>) {
        deflateEnd(stream)
        stream.deallocate()
    }
}

/// Decompresses messages for one direction, bounding the output: a message that would inflate past
/// the limit fails with close code 1009 while holding at most the limit (a compression bomb costs
/// nothing more).
final class WebSocketDecompressor {
    private var stream: UnsafeMutablePointer<z_stream>?
    private let takesOverContext: Bool

    init(contextTakeover: Bool) { takesOverContext = contextTakeover }

    deinit { release() }

    /// The message whose compressed payload is `payload`, at most `limit` bytes; or, with `final`
    /// false, a piece of it (a frame of a streamed message: the next piece continues the stream).
    func decompress(_ payload: [UInt8], limit: Int, final: Bool = true) throws(WebSocketError) -> [UInt8] {
        let stream = try start()
        defer { if final && !takesOverContext { release() } }
        var output: [UInt8] = []
        var failure: WebSocketError?
        let input = final ? payload + [0, 0, 0xFF, 0xFF] : payload
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        input.withUnsafeBufferPointer { input in
            // SAFETY: zlib reads `input` and writes into `chunk` only during this call.
            stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.pointee.avail_in = uInt(input.count)
            while failure == nil {
                var produced = 0
                var result: Int32 = Z_OK
                chunk.withUnsafeMutableBufferPointer { out in
                    stream.pointee.next_out = out.baseAddress
                    stream.pointee.avail_out = uInt(out.count)
                    result = inflate(stream, Z_SYNC_FLUSH)
                    produced = out.count - Int(stream.pointee.avail_out)
                }
                if result != Z_OK && result != Z_BUF_ERROR && result != Z_STREAM_END {
                    let reason = stream.pointee.msg.map { String(cString: $0) } ?? "corrupt data"
                    failure = WebSocketError(.protocolViolation, closeCode: .invalidPayload, "a compressed message does not inflate: \(reason)")
                    break
                }
                if produced > limit - output.count {
                    failure = WebSocketError(.protocolViolation, closeCode: .messageTooBig, "a compressed message inflates past the limit of \(limit) bytes")
                    break
                }
                output.append(contentsOf: chunk[0..<produced])
                if result == Z_STREAM_END {
                    inflateReset(stream)  // a final block ended the stream: the next message starts anew
                    break
                }
                if stream.pointee.avail_in == 0 && produced < chunk.count { break }
                if result == Z_BUF_ERROR && produced == 0 { break }
            }
            stream.pointee.next_in = nil
            stream.pointee.next_out = nil
        }
        if let failure {
            release()
            throw failure
        }
        return output
    }

    private func start() throws(WebSocketError) -> UnsafeMutablePointer<z_stream> {
        if let stream { return stream }
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // Inflating with the largest window accepts whatever window the peer compressed with.
        guard inflateInit2_(stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            stream.deallocate()
            throw WebSocketError(.protocolViolation, closeCode: .internalError, "zlib could not start (out of memory)")
        }
        self.stream = stream
        return stream
    }

    private func release() {
        guard let stream else { return }
        inflateEnd(stream)
        stream.deallocate()
        self.stream = nil
    }
}

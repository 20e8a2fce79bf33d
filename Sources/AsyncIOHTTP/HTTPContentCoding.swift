import CCompression

/// A content coding (RFC 9110 §8.4.1): how a body is compressed on the wire.
///
/// ``HTTPClient`` asks for and decodes all three (system zlib and libbrotli); a server compresses with
/// ``compress(_:)`` (gzip and deflate).
public enum HTTPContentCoding: String, Sendable, Hashable, CaseIterable {
    /// `gzip` (RFC 1952; `x-gzip` is read as the same).
    case gzip
    /// `deflate`: the zlib format (RFC 1950). Raw deflate, which some servers send under this name,
    /// is read too.
    case deflate
    /// `br`: Brotli (RFC 7932); decoded only.
    case brotli = "br"

    /// The coding a `Content-Encoding` token names, or nil (`identity` and unknown codings).
    public init?(token: some StringProtocol) {
        switch token.trimmingSpaces.lowercased() {
        case "gzip", "x-gzip": self = .gzip
        case "deflate": self = .deflate
        case "br": self = .brotli
        default: return nil
        }
    }

    /// The value `HTTPClient` sends in `Accept-Encoding`.
    public static let acceptEncoding = "gzip, deflate, br"

    /// Compresses `bytes` in this coding (zlib's default level).
    ///
    /// - Throws: ``HTTPContentCodingError`` for `br` (AsyncIO decodes Brotli but does not encode it).
    public func compress(_ bytes: [UInt8]) throws(HTTPContentCodingError) -> [UInt8] {
        let windowBits: Int32
        switch self {
        case .gzip: windowBits = 15 + 16
        case .deflate: windowBits = 15
        case .brotli: throw HTTPContentCodingError("brotli: AsyncIO decodes it but does not encode it")
        }
        var stream = z_stream()
        guard deflateInit2_(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY,
                            zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw HTTPContentCodingError("\(rawValue): zlib could not start (out of memory)")
        }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, uLong(bytes.count)))
        var failed = false
        let output = [UInt8](unsafeUninitializedCapacity: bound) { out, count in
            bytes.withUnsafeBufferPointer { input in
                // SAFETY: zlib reads `input` and writes at most `bound` bytes into `out` during this call
                // only; neither pointer is kept past `deflateEnd`.
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
                stream.avail_in = uInt(input.count)
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(bound)
                failed = CCompression.deflate(&stream, Z_FINISH) != Z_STREAM_END
                count = bound - Int(stream.avail_out)
            }
        }
        if failed { throw HTTPContentCodingError("\(rawValue): zlib could not compress the body") }
        return output
    }
}

/// A body that cannot be decoded (or encoded) in its content coding.
public struct HTTPContentCodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, naming the coding.
    public let message: String

    init(_ message: String) { self.message = message }

    public var description: String { message }
}

/// Decodes a body in a content coding as it arrives, one bounded piece of output at a time: however
/// far the data inflates (a compression bomb), no more than one piece is held.
final class ContentDecoder {
    private enum Engine {
        case zlib(UnsafeMutablePointer<z_stream>)
        case brotli(OpaquePointer)
    }

    let coding: HTTPContentCoding
    private var engine: Engine?
    private var input: [UInt8] = []
    private var inputOffset = 0
    private var sawInput = false
    private(set) var isFinished = false

    init(_ coding: HTTPContentCoding) { self.coding = coding }

    deinit {
        switch engine {
        case .zlib(let stream):
            inflateEnd(stream)
            stream.deallocate()
        case .brotli(let state):
            BrotliDecoderDestroyInstance(state)
        case nil:
            break
        }
    }

    /// Whether all input given so far has been used.
    var needsInput: Bool { inputOffset == input.count }

    /// Adds the next raw bytes; call when ``needsInput``.
    func feed(_ bytes: [UInt8]) {
        input = bytes
        inputOffset = 0
        if !bytes.isEmpty { sawInput = true }
    }

    /// Decodes up to `maximum` bytes from the input given so far; empty when more input is needed (or
    /// the stream has ended).
    func produce(maximum: Int) throws(HTTPContentCodingError) -> [UInt8] {
        while !isFinished && !needsInput {
            let before = inputOffset
            let piece = try produceOnce(maximum: maximum)
            if !piece.isEmpty { return piece }
            if inputOffset == before {
                throw HTTPContentCodingError("\(coding.rawValue): the decoder made no progress (corrupt data)")
            }
        }
        return []
    }

    private func produceOnce(maximum: Int) throws(HTTPContentCodingError) -> [UInt8] {
        if engine == nil { try start() }
        var failure: HTTPContentCodingError?
        let output = [UInt8](unsafeUninitializedCapacity: maximum) { out, count in
            input.withUnsafeBufferPointer { all in
                // SAFETY: the decoder reads from `all` and writes into `out` only during this call.
                let start = all.baseAddress! + inputOffset
                let available = all.count - inputOffset
                do {
                    let (used, written) = try step(start, available, out.baseAddress!, maximum)
                    inputOffset += used
                    count = written
                } catch {
                    failure = error as? HTTPContentCodingError ?? HTTPContentCodingError("\(coding.rawValue): \(error)")
                    count = 0
                }
            }
        }
        if let failure { throw failure }
        return output
    }

    /// The raw body ended: throws if the compressed stream did not.
    func finish() throws(HTTPContentCodingError) {
        if !isFinished && sawInput {
            throw HTTPContentCodingError("\(coding.rawValue): the compressed body is cut short")
        }
    }

    private func start() throws(HTTPContentCodingError) {
        switch coding {
        case .brotli:
            guard let state = BrotliDecoderCreateInstance(nil, nil, nil) else {
                throw HTTPContentCodingError("br: the decoder could not start (out of memory)")
            }
            engine = .brotli(state)
        case .gzip, .deflate:
            // gzip: 15 + 16. deflate: the zlib format (15), or raw deflate (-15) when the first two bytes
            // are not a zlib header (RFC 1950: CM = 8, and the pair a multiple of 31).
            var windowBits: Int32 = 15 + 16
            if coding == .deflate {
                let isZlib = input.count - inputOffset < 2
                    || (input[inputOffset] & 0x0F == 8 && (UInt16(input[inputOffset]) << 8 | UInt16(input[inputOffset + 1])) % 31 == 0)
                windowBits = isZlib ? 15 : -15
            }
            let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            stream.initialize(to: z_stream())
            guard inflateInit2_(stream, windowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                stream.deallocate()
                throw HTTPContentCodingError("\(coding.rawValue): zlib could not start (out of memory)")
            }
            engine = .zlib(stream)
        }
    }

    /// One decoding step; returns the input bytes used and the output bytes written.
    private func step(
        _ input: UnsafePointer<UInt8>, _ available: Int, _ output: UnsafeMutablePointer<UInt8>, _ capacity: Int
    ) throws(HTTPContentCodingError) -> (Int, Int) {
        switch engine! {
        case .zlib(let stream):
            stream.pointee.next_in = UnsafeMutablePointer(mutating: input)
            stream.pointee.avail_in = uInt(available)
            stream.pointee.next_out = output
            stream.pointee.avail_out = uInt(capacity)
            let result = inflate(stream, Z_NO_FLUSH)
            let used = available - Int(stream.pointee.avail_in)
            let written = capacity - Int(stream.pointee.avail_out)
            switch result {
            case Z_STREAM_END:
                if coding == .gzip && used < available {
                    inflateReset(stream)  // another gzip member follows (RFC 1952 §2.2)
                } else {
                    isFinished = true
                }
            case Z_OK, Z_BUF_ERROR:
                break
            default:
                let reason = stream.pointee.msg.map { String(cString: $0) } ?? "corrupt data"
                throw HTTPContentCodingError("\(coding.rawValue): \(reason)")
            }
            return (used, written)
        case .brotli(let state):
            var nextIn: UnsafePointer<UInt8>? = input
            var availableIn = available
            var nextOut: UnsafeMutablePointer<UInt8>? = output
            var availableOut = capacity
            let result = BrotliDecoderDecompressStream(state, &availableIn, &nextIn, &availableOut, &nextOut, nil)
            if result == BROTLI_DECODER_RESULT_ERROR {
                let code = BrotliDecoderGetErrorCode(state)
                throw HTTPContentCodingError("br: \(String(cString: BrotliDecoderErrorString(code)))")
            }
            if result == BROTLI_DECODER_RESULT_SUCCESS { isFinished = true }
            return (available - availableIn, capacity - availableOut)
        }
    }
}

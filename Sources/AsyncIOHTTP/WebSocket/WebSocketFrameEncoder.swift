/// The WebSocket codec's writing half (RFC 6455 §5.2): frame headers, masking for clients. Pure.
enum WebSocketFrameEncoder {
    static let text: UInt8 = 1, binary: UInt8 = 2, close: UInt8 = 8, ping: UInt8 = 9, pong: UInt8 = 10

    /// Appends a frame's header: FIN, RSV1 (a compressed message's first frame), the opcode, the
    /// length, and the masking key when there is one.
    static func appendHeader(opcode: UInt8, final: Bool = true, compressed: Bool = false, length: Int,
                             mask: (UInt8, UInt8, UInt8, UInt8)?, into output: inout [UInt8]) {
        output.append((final ? 0x80 : 0) | (compressed ? 0x40 : 0) | opcode)
        let maskBit: UInt8 = mask == nil ? 0 : 0x80
        if length < 126 {
            output.append(maskBit | UInt8(length))
        } else if length <= 0xFFFF {
            output.append(maskBit | 126)
            output.append(UInt8(length >> 8))
            output.append(UInt8(length & 0xFF))
        } else {
            output.append(maskBit | 127)
            for shift in stride(from: 56, through: 0, by: -8) { output.append(UInt8(truncatingIfNeeded: length >> shift)) }
        }
        if let mask { output.append(contentsOf: [mask.0, mask.1, mask.2, mask.3]) }
    }

    /// A whole frame: the header and `payload`, masked when `mask` is given.
    static func frame(opcode: UInt8, final: Bool = true, compressed: Bool = false, payload: some Collection<UInt8>,
                      mask: (UInt8, UInt8, UInt8, UInt8)?) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(payload.count + 14)
        appendHeader(opcode: opcode, final: final, compressed: compressed, length: payload.count, mask: mask, into: &output)
        let start = output.count
        output.append(contentsOf: payload)
        if let mask { WebSocketParser.unmask(&output, from: start, key: mask, offset: 0) }
        return output
    }

    /// A close frame's payload: the code and a reason cut to fit 125 bytes on a character boundary.
    static func closePayload(_ code: WebSocketCloseCode?, _ reason: String) -> [UInt8] {
        guard let code else { return [] }
        var payload = [UInt8(code.rawValue >> 8), UInt8(code.rawValue & 0xFF)]
        var reasonBytes = Array(reason.utf8)
        if reasonBytes.count > 123 {
            var cut = 123
            while cut > 0 && reasonBytes[cut] & 0xC0 == 0x80 { cut -= 1 }  // not inside a character
            reasonBytes = Array(reasonBytes[..<cut])
        }
        payload += reasonBytes
        return payload
    }

    /// A fresh masking key (RFC 6455 §5.3: unpredictable, from a strong source).
    static func randomMask() -> (UInt8, UInt8, UInt8, UInt8) {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt32
        return (UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 24))
    }
}

/// Where ``HTTPSerializer`` writes a head: an array, or an ``HTTPHeadBuffer`` sized beforehand.
///
/// One serializer writes both. The server's responses go to the head buffer (one bounds check and a
/// copy per piece); the client's requests and chunk framing go to arrays.
protocol HTTPByteSink {
    /// Appends one byte.
    mutating func append(_ byte: UInt8)
    /// Appends `bytes`.
    mutating func append(bytes: UnsafeBufferPointer<UInt8>)
}

extension HTTPByteSink {
    /// Appends the bytes of a literal (no string to look into: its UTF-8 is at a fixed address).
    @inline(__always)
    mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { append(bytes: $0) }
    }

    /// Appends the UTF-8 bytes of `text`.
    @inline(__always)
    mutating func append(utf8 text: String) {
        let copied: Void? = text.utf8.withContiguousStorageIfAvailable { append(bytes: $0) }
        if copied == nil {  // a bridged or otherwise non-contiguous string: a byte at a time
            for byte in text.utf8 { append(byte) }
        }
    }

    /// Appends `bytes`.
    @inline(__always)
    mutating func append(array bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { append(bytes: $0) }
    }

    /// Appends CR LF.
    @inline(__always)
    mutating func appendCRLF() {
        append("\r\n")
    }

    /// Appends the decimal digits of a non-negative `value`.
    mutating func appendDecimal(_ value: Int) {
        precondition(value >= 0, "a negative length")
        if value < 10 {
            append(UInt8(truncatingIfNeeded: 0x30 + value))
            return
        }
        if value < 10_000 {
            // The lengths of most bodies: their digits appended in order, by division by constants.
            if value >= 1000 { append(UInt8(truncatingIfNeeded: 0x30 + value / 1000)) }
            if value >= 100 { append(UInt8(truncatingIfNeeded: 0x30 + value / 100 % 10)) }
            append(UInt8(truncatingIfNeeded: 0x30 + value / 10 % 10))
            append(UInt8(truncatingIfNeeded: 0x30 + value % 10))
            return
        }
        // Int.max has 19 digits: written backwards into a tuple on the stack, then copied once.
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { raw in
            var start = raw.count
            var rest = value
            while rest > 0 {
                start -= 1
                raw[start] = UInt8(truncatingIfNeeded: 0x30 + rest % 10)
                rest /= 10
            }
            let written = UnsafeRawBufferPointer(rebasing: raw[start...])
            append(bytes: written.assumingMemoryBound(to: UInt8.self))
        }
    }
}

extension Array: HTTPByteSink where Element == UInt8 {
    @inline(__always)
    mutating func append(bytes: UnsafeBufferPointer<UInt8>) {
        append(contentsOf: bytes)
    }
}

/// A head's bytes, written at a cursor into temporary memory sized beforehand.
///
/// An array append checks the array's uniqueness and capacity and goes through the generic sequence
/// copy for every piece, and a response head is a dozen pieces; the array is a heap allocation too.
/// Here each piece costs one bounds check and a copy, into memory on the stack (for a head of up to
/// about a kilobyte). A piece that does not fit is not written: the buffer is marked ``overflowed``
/// and takes nothing more, and the writer tries again with more room. It never writes past its memory.
struct HTTPHeadBuffer: HTTPByteSink {
    private let base: UnsafeMutablePointer<UInt8>
    private let capacity: Int
    /// Bytes written so far.
    private(set) var count = 0
    /// Whether a piece did not fit (what was written is then incomplete).
    private(set) var overflowed = false

    private init(base: UnsafeMutablePointer<UInt8>, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    /// Calls `body` with an empty buffer for at most `capacity` bytes, valid only during the call, and
    /// with `context`.
    ///
    /// What `body` needs comes in `context`, by reference, rather than in its captures: a closure's
    /// captured constants are copied into its context (a reference count each, and back), and a
    /// response head's writer needs half a dozen of them.
    static func with<Context, Result>(
        capacity: Int, _ context: inout Context, _ body: (inout HTTPHeadBuffer, inout Context) throws -> Result
    ) rethrows -> Result {
        precondition(capacity > 0)
        return try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { storage in
            // SAFETY: `storage` holds `capacity` (> 0) bytes for this call, so its base address is not
            // nil; the buffer writes only below `capacity` (every write checks it) and lends only the
            // `count` bytes written, and `body` cannot keep it (it is inout, for the call).
            var buffer = HTTPHeadBuffer(base: storage.baseAddress!, capacity: capacity)
            return try body(&buffer, &context)
        }
    }

    /// The bytes written, valid while the buffer is.
    var written: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        guard !overflowed, count < capacity else {
            overflowed = true
            return
        }
        // SAFETY: `count < capacity`: inside the allocation.
        (base + count).initialize(to: byte)
        count += 1
    }

    @inline(__always)
    mutating func append(bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress else { return }
        guard !overflowed, bytes.count <= capacity - count else {
            overflowed = true
            return
        }
        // SAFETY: the checked count fits between `count` and `capacity`, inside the allocation; the
        // source is another object's memory (a literal, a string's or an array's storage), never this one.
        (base + count).initialize(from: source, count: bytes.count)
        count += bytes.count
    }
}

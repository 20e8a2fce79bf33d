import AsyncIOSystem

/// Parsing in place: a protocol parser reads the reader's buffered bytes where they lie, and asks for
/// more only when it needs them.
extension StreamReader {
    /// Runs `body` over the bytes buffered now, with no copy, and consumes the first `consumed` of
    /// them: the way a protocol parser (such as the HTTP one) reads a stream. Call ``receiveMore()``
    /// when `body` needs more bytes than are buffered.
    ///
    /// Inlinable, so that it is specialized for the caller's `Result`: the generic form moved its result
    /// through the type's value witnesses, two `memmove`s a call for the HTTP parser's event (1.5 % of
    /// `/plaintext`'s CPU). What it wraps, ``consumeBuffered(_:)``, is not generic.
    @inlinable
    public func withBufferedBytes<Result>(
        _ body: (UnsafeRawBufferPointer) throws -> (consumed: Int, result: Result)
    ) rethrows -> Result {
        var result: Result?
        try consumeBuffered { bytes in
            let (consumed, value) = try body(bytes)
            result = value
            return consumed
        }
        return result.take()!  // moved out: `result!` would copy it (a reference count for each part)
    }

    /// ``withBufferedBytes(_:)``'s work: runs `body` over the bytes buffered now and consumes as many
    /// of them as it returns.
    @usableFromInline
    func consumeBuffered(_ body: (UnsafeRawBufferPointer) throws -> Int) rethrows {
        if lent != nil {
            // In place: a copy of the lent buffer would count a reference to its ring.
            let bytes = lent!.bytes
            let consumed = try body(bytes)
            precondition(consumed >= 0 && consumed <= bytes.count, "consumed more bytes than were buffered")
            if consumed == bytes.count {
                lent.take()!.giveBack()
            } else {
                lent!.consume(consumed)
            }
            return
        }
        let consumed = try body(buffer.readable)
        precondition(consumed >= 0 && consumed <= buffer.count, "consumed more bytes than were buffered")
        buffer.consume(consumed)
    }

    /// Receives more bytes into the buffer, for ``withBufferedBytes(_:)``: at least one, unless the
    /// stream ends. Returns false at end of stream.
    ///
    /// The buffer grows by at most one receive (16 KiB) per call, so a caller that stops calling at
    /// its own limit keeps memory bounded.
    ///
    /// On the io_uring backend, when nothing is buffered, the bytes stay in the ring's receive buffer
    /// they arrived in, and ``withBufferedBytes(_:)`` reads them there: no copy, and no buffer of the
    /// reader's own (the ring's buffer goes back to its pool once they are consumed, or is copied out
    /// at the next call).
    ///
    /// ### Cancellation
    /// Safe: bytes already received stay buffered.
    public nonisolated(nonsending) func receiveMore() async throws -> Bool {
        try beginRead()
        defer { isReading = false }
        if eof { return false }
        let before = bufferedCount
        try await fill(minimum: 1, lending: true)
        return bufferedCount > before  // not `!eof`: bytes fed by hand just before the end come first
    }

    /// Receives whatever the stream holds right now into the buffer, without waiting; returns how many
    /// bytes arrived (0 if none). End of stream shows in ``isAtEOF``. A connection pool uses it to see
    /// whether an idle connection was closed by its peer before reusing it.
    ///
    /// - Throws: ``StreamError`` `.broken` if the connection was reset (or the stream's own error).
    public func receiveIfAvailable() throws -> Int {
        guard let stream, !eof, !isReading else { return 0 }
        if lent != nil { settleLent() }
        let space = buffer.writableSpace(minimum: Self.receiveSize)
        switch try stream.tryReceive(into: space) {
        case .done(let count):
            if count == 0 { eof = true } else { buffer.commitWrite(count) }
            return count
        case .wouldBlock:
            return 0
        }
    }
}

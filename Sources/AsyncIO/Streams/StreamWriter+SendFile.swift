import AsyncIOSystem

extension StreamWriter {
    /// Sends `count` bytes of `file`, from `offset`, after everything already written (what nginx's
    /// `sendfile on` does for static files).
    ///
    /// Over a plain ``Socket`` (TCP, Unix, a pipe) the kernel copies the bytes from the page cache to
    /// the socket with `sendfile(2)`: no copy through the program and no buffer. The call runs on the
    /// loop's thread, so a file that is not in the page cache makes the loop wait for the disk while
    /// the kernel reads it, at most 1 MiB at a time. Over TLS or any other stream the file is read in
    /// 64 KiB pieces on the offload pool and written with ``write(_:)-([UInt8])``.
    ///
    /// While the kernel sends, other writes to this writer throw ``StreamError/Code-swift.struct/busy``
    /// (they would interleave with the file). ``stallTimeout`` applies: a peer that takes nothing for
    /// that long fails the send with `.timedOut` and the stream is aborted. The process ignores
    /// `SIGPIPE` from the first such send on, so a peer that has gone gives `.broken`, not a signal.
    ///
    /// - Throws: ``FileError`` if the file cannot be read, or ends before `count` bytes ("the file
    ///   ended after N of M bytes"); ``StreamError`` as ``write(_:)-([UInt8])``.
    ///
    /// ### Cancellation
    /// Stops between pieces: a prefix of the range may have gone out, so close the connection.
    public func sendFile(_ file: File, offset: Int = 0, count: Int) async throws {
        precondition(offset >= 0 && count >= 0, "sendFile needs a non-negative offset and count")
        try checkWritable()
        guard count > 0 else { return }
        guard let socket = stream as? Socket else {
            try await copyFile(file, offset: offset, count: count)
            return
        }
        try await flush()
        try checkWritable()
        _ = Self.ignoreBrokenPipeOnce
        isSendingFile = true
        defer { isSendingFile = false }
        var position = offset
        let end = offset + count
        try await file.withDescriptor("sendfile") { fileDescriptor in
            while position < end {
                switch try socket.trySendFile(from: fileDescriptor, offset: &position, count: min(end - position, 1 << 20)) {
                case .done(0):
                    throw FileError(path: file.path, operation: "sendfile", reason: "the file ended after \(position - offset) of \(count) bytes")
                case .done:
                    await loop.cooperateOnLoop()
                case .wouldBlock:
                    try await waitUntilSendableWithinStallTimeout(socket)
                }
                if socket.isClosed { throw StreamError(.closed, operation: "write") }
            }
        }
    }

    /// `SIGPIPE` ignored, once per process (a lazy global runs its initializer once, thread-safely).
    private static let ignoreBrokenPipeOnce: Void = ProcessOps.ignoreBrokenPipeSignal()

    /// Waits for room in the socket; a peer that takes nothing for ``stallTimeout`` fails the writer.
    private func waitUntilSendableWithinStallTimeout(_ socket: Socket) async throws {
        guard let stallTimeout else {
            try await socket.waitUntilSendable()
            return
        }
        let ready: Void? = try await moveOnAfter(stallTimeout) { _ in try await socket.waitUntilSendable() }
        if ready == nil {
            let error = StreamError(.timedOut, operation: "write", detail: "no byte of the file went out for \(stallTimeout)")
            fail(error)
            abort()
            throw error
        }
    }

    /// The path for streams the kernel cannot send to: read on the pool, write through the buffer.
    private func copyFile(_ file: File, offset: Int, count: Int) async throws {
        try await file.seek(to: offset)
        var left = count
        while left > 0 {
            let piece = try await file.read(upTo: min(left, 64 * 1024))
            if piece.isEmpty {
                throw FileError(path: file.path, operation: "read", reason: "the file ended after \(count - left) of \(count) bytes")
            }
            try await write(piece)
            left -= piece.count
        }
    }
}

extension Socket {
    /// One non-blocking `sendfile(2)` from `fileDescriptor` at `offset` (advanced by what was sent).
    func trySendFile(from fileDescriptor: Int32, offset: inout Int, count: Int) throws -> IOResult<Int> {
        if isClosed { throw StreamError(.closed, operation: "write") }
        if let sender = registration.sender, sender.isSending {
            // A send in the ring goes first; its completion makes the socket writable.
            registration.clearWritable()
            return .wouldBlock
        }
        let result: IOResult<Int>
        do {
            result = try FileDescriptorOps.sendFile(to: fd, from: fileDescriptor, offset: &offset, count: count)
        } catch {
            throw StreamError.from(error, operation: "sendfile")
        }
        if case .wouldBlock = result { registration.clearWritable() }
        return result
    }
}

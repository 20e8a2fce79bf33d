import AsyncIOSystem

extension File {
    /// The file's status: kind, size, modification time, inode (`fstat` on the offload pool, or `statx`
    /// in the ring of an io_uring loop).
    ///
    /// - Throws: ``FileError``.
    ///
    /// ### Cancellation
    /// Cancelled before the pool starts it, nothing happens.
    public func status() async throws -> FileStatus {
        try await withDescriptor("fstat") { fd in
            if let loop = EventLoop.currentRing {
                let memory = RingMemory(count: FileOps.statxSize)
                _ = try await loop.performOnRing(.status(fd: fd, into: memory.bytes.baseAddress!), keeping: memory)
                return FileOps.status(fromStatx: UnsafeRawPointer(memory.bytes.baseAddress!))
            }
            return try await offload { try FileOps.status(fd) }
        }
    }

    /// Moves the position of the next ``read(upTo:)`` to `offset` bytes from the start.
    ///
    /// - Throws: ``FileError``.
    ///
    /// ### Cancellation
    /// As ``status()``.
    public func seek(to offset: Int) async throws {
        try await withDescriptor("seek") { fd in
            try await offload { try FileOps.seek(fd, to: offset) }
        }
    }

    /// The canonical absolute path of `path`, symbolic links resolved (`realpath`, on the offload pool).
    ///
    /// - Throws: ``FileError`` (not found, permission denied, ...).
    ///
    /// ### Cancellation
    /// As ``status()``.
    public static func realPath(_ path: String) async throws -> String {
        do {
            return try await offload { try FileOps.realPath(path) }
        } catch let error as Errno {
            throw FileError(path: path, operation: "realpath", underlying: error)
        }
    }
}

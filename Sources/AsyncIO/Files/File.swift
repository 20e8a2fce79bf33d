import AsyncIOSystem

/// A regular file whose reads and writes run on the offload pool, so the loop never blocks on the disk
/// (what asyncio users do with aiofiles); on a loop whose backend is io_uring, they go through its ring
/// instead (`openat`, `read`, `write`, `statx`, `fsync` as ring operations: no thread involved). Buffers
/// are bounded: whole-file reads take a size limit.
///
/// ```swift
/// let file = try await File.open("/tmp/notes.txt", mode: .append)
/// try await file.write("one more line\n")
/// try await file.close()
/// for try await line in try await File.open("/tmp/notes.txt").lines() { print(line) }
/// ```
///
/// One operation runs at a time per file (they queue, in order).
///
/// ### Thread safety
/// Every member is safe from any task on any loop.
public final class File: @unchecked Sendable {
    /// How to open a file.
    public typealias Mode = FileOps.Mode

    /// The path it was opened with.
    public let path: String
    private let fd: Int32
    private let turn = Lock()
    private var isClosed = false  // guarded by `turn`

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit {
        if !isClosed { try? FileDescriptorOps.close(fd) }
    }

    /// Opens `path` (asyncio/aiofiles `open`).
    ///
    /// - Throws: ``FileError`` naming the path and the reason (not found, permission denied, ...).
    ///
    /// ### Cancellation
    /// Cancelled before the pool starts the open, nothing is opened.
    public static func open(_ path: String, mode: Mode = .read) async throws -> File {
        do {
            if let loop = EventLoop.currentRing {
                let memory = RingMemory(cString: path)
                let fd = try await loop.performOnRing(
                    .open(path: UnsafePointer(memory.bytes.baseAddress!.assumingMemoryBound(to: CChar.self)), mode: mode),
                    keeping: memory)
                FileOps.noteOpened(fd)
                return File(path: path, fd: fd)
            }
            let fd = try await offload { () throws(Errno) -> Int32 in try FileOps.open(path, mode: mode) }
            return File(path: path, fd: fd)
        } catch let error as Errno {
            throw FileError(path: path, operation: "open", underlying: error)
        }
    }

    /// Reads up to `maxCount` bytes; empty at end of file.
    ///
    /// ### Cancellation
    /// A read the pool has started completes; cancelled before, nothing is read. In the ring, the read
    /// is cancelled if it has not run (nothing is read); one that has run returns its bytes.
    public func read(upTo maxCount: Int = 64 * 1024) async throws -> [UInt8] {
        precondition(maxCount > 0, "read(upTo:) needs a positive count")
        return try await exclusive("read") { fd in
            if let loop = EventLoop.currentRing {
                let memory = RingMemory(count: maxCount)
                let count = try await loop.performOnRing(.read(fd: fd, into: memory.bytes), keeping: memory)
                return [UInt8](UnsafeRawBufferPointer(rebasing: memory.bytes[..<Int(count)]))
            }
            return try await offload { () throws -> [UInt8] in
                var bytes = [UInt8](repeating: 0, count: maxCount)
                let count = try bytes.withUnsafeMutableBytes { raw in try FileOps.read(fd, into: raw) }
                bytes.removeLast(maxCount - count)
                return bytes
            }
        }
    }

    /// Reads the rest of the file.
    ///
    /// - Parameter limit: The most bytes accepted (default 16 MiB).
    /// - Throws: ``FileError`` with reason "larger than the limit" when the file is bigger.
    ///
    /// ### Cancellation
    /// As ``read(upTo:)``.
    public func readAll(limit: Int = 16 * 1024 * 1024) async throws -> [UInt8] {
        var result: [UInt8] = []
        while true {
            let chunk = try await read(upTo: 256 * 1024)
            if chunk.isEmpty { return result }
            if result.count + chunk.count > limit {
                throw FileError(path: path, operation: "readAll", reason: "larger than the limit of \(limit) bytes")
            }
            result += chunk
        }
    }

    /// Writes every byte of `bytes`.
    ///
    /// ### Cancellation
    /// A write the pool has started completes; cancelled before, nothing is written.
    public func write(_ bytes: [UInt8]) async throws {
        try await exclusive("write") { fd in
            if let loop = EventLoop.currentRing {
                guard !bytes.isEmpty else { return }
                let memory = RingMemory(count: bytes.count)
                bytes.withUnsafeBytes { memory.bytes.copyMemory(from: $0) }
                var written = 0
                while written < bytes.count {
                    let rest = UnsafeRawBufferPointer(rebasing: memory.bytes[written..<bytes.count])
                    written += Int(try await loop.performOnRing(.write(fd: fd, from: rest), keeping: memory))
                }
                return
            }
            try await offload { () throws in
                try bytes.withUnsafeBytes { raw in try FileOps.writeAll(fd, raw) }
            }
        }
    }

    /// Flushes what was written to the device (`fsync`), so that it survives a crash of the machine.
    ///
    /// - Throws: ``FileError``.
    ///
    /// ### Cancellation
    /// On the offload pool, a sync the pool has started completes; in the ring, the sync is cancelled
    /// if it has not started.
    public func sync() async throws {
        try await exclusive("fsync") { fd in
            if let loop = EventLoop.currentRing {
                _ = try await loop.performOnRing(.sync(fd: fd), keeping: nil)
                return
            }
            try await offload { () throws in try FileOps.sync(fd) }
        }
    }

    /// Writes the UTF-8 bytes of `text`.
    ///
    /// ### Cancellation
    /// As ``write(_:)-([UInt8])``.
    public func write(_ text: String) async throws { try await write(Array(text.utf8)) }

    /// The file's lines, each with its `\n` (the last may have none), read in 64 KiB chunks.
    ///
    /// - Parameter limit: The longest line accepted (default 64 KiB); a longer one ends the iteration
    ///   with ``FileError``.
    public func lines(limit: Int = 64 * 1024) -> Lines { Lines(file: self, limit: limit) }

    /// The lines of a ``File`` as an `AsyncSequence` of UTF-8 strings.
    public struct Lines: AsyncSequence, Sendable {
        public typealias Element = String
        let file: File
        let limit: Int

        /// Reads the lines one by one.
        public struct AsyncIterator: AsyncIteratorProtocol {
            let file: File
            let limit: Int
            var pending: [UInt8] = []
            var isAtEnd = false

            /// The next line, or nil at end of file.
            ///
            /// ### Cancellation
            /// Only the wait stops; a read already on its thread finishes there and its bytes are kept.
            public mutating func next() async throws -> String? {
                while true {
                    if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                        let line = String(decoding: pending[...newline], as: UTF8.self)
                        pending.removeFirst(newline + 1)
                        return line
                    }
                    if pending.count > limit {
                        throw FileError(path: file.path, operation: "lines", reason: "a line is longer than \(limit) bytes")
                    }
                    if isAtEnd {
                        if pending.isEmpty { return nil }
                        defer { pending = [] }
                        return String(decoding: pending, as: UTF8.self)
                    }
                    let chunk = try await file.read(upTo: 64 * 1024)
                    if chunk.isEmpty { isAtEnd = true } else { pending += chunk }
                }
            }
        }

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(file: file, limit: limit) }
    }

    /// Closes the file. Closing twice is harmless.
    ///
    /// ### Cancellation
    /// Waits for the operation in progress; the close itself always happens.
    public func close() async throws {
        try await turn.withLock {
            guard !isClosed else { return }
            isClosed = true
            try? FileDescriptorOps.close(fd)
        }
    }

    /// Runs `body` with the descriptor, one operation at a time.
    /// Runs `body` with the descriptor, alone among this file's operations (for extensions).
    func withDescriptor<Result>(_ operation: String, _ body: (Int32) async throws -> Result) async throws -> Result {
        try await exclusive(operation, body)
    }

    private func exclusive<Result>(_ operation: String, _ body: (Int32) async throws -> Result) async throws -> Result {
        try await turn.withLock {
            if isClosed { throw FileError(path: path, operation: operation, reason: "the file is closed") }
            do { return try await body(fd) } catch let error as Errno {
                throw FileError(path: path, operation: operation, underlying: error)
            }
        }
    }

    // MARK: - Whole files

    /// Reads the whole file at `path`, refusing more than `limit` bytes (default 16 MiB).
    ///
    /// - Throws: ``FileError``.
    ///
    /// ### Cancellation
    /// Only the wait stops; the read finishes on its thread and the file is closed.
    public static func readAll(_ path: String, limit: Int = 16 * 1024 * 1024) async throws -> [UInt8] {
        let file = try await open(path)
        do {
            let bytes = try await file.readAll(limit: limit)
            try await file.close()
            return bytes
        } catch {
            try? await file.close()
            throw error
        }
    }

    /// Removes the file at `path` (`os.remove`).
    ///
    /// - Throws: ``FileError`` (for example "no such file or directory").
    ///
    /// ### Cancellation
    /// Only the wait stops; the removal happens on its thread.
    public static func remove(_ path: String) async throws {
        do {
            try await offload { () throws in try FileOps.remove(path) }
        } catch let error as Errno {
            throw FileError(path: path, operation: "remove", underlying: error)
        }
    }

    /// Writes `bytes` to `path`, replacing what was there (or appending with `append: true`).
    ///
    /// - Throws: ``FileError``.
    ///
    /// ### Cancellation
    /// Only the wait stops; the write finishes on its thread.
    public static func write(_ bytes: [UInt8], to path: String, append: Bool = false) async throws {
        let file = try await open(path, mode: append ? .append : .write)
        do {
            try await file.write(bytes)
            try await file.close()
        } catch {
            try? await file.close()
            throw error
        }
    }
}

/// A file operation that failed, naming the path, the operation and the reason.
public struct FileError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The file.
    public let path: String
    /// What was being done: "open", "read", "write", ...
    public let operation: String
    /// Why it failed.
    public let reason: String
    /// The system error, when there is one.
    public let underlying: Errno?

    init(path: String, operation: String, reason: String) {
        self.path = path
        self.operation = operation
        self.reason = reason
        self.underlying = nil
    }

    init(path: String, operation: String, underlying: Errno) {
        self.path = path
        self.operation = operation
        self.underlying = underlying
        switch underlying {
        case .noSuchFileOrDirectory: reason = "no such file or directory"
        case .permissionDenied: reason = "permission denied"
        case .isDirectory: reason = "is a directory"
        default: reason = underlying.description
        }
    }

    public var description: String { "\(operation) \(path): \(reason)" }
}

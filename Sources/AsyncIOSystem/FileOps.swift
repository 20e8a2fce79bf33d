import Glibc

/// Blocking regular-file calls, for AsyncIO's `File` (which runs them on its thread pool: regular files
/// are not pollable).
public enum FileOps {
    /// How to open a file.
    public enum Mode: Sendable {
        /// Read only; the file must exist.
        case read
        /// Write only; created, or truncated if it exists.
        case write
        /// Write only at the end; created if missing.
        case append
        /// Read and write; created if missing, not truncated.
        case readWrite

        var flags: Int32 {
            switch self {
            case .read: O_RDONLY
            case .write: O_WRONLY | O_CREAT | O_TRUNC
            case .append: O_WRONLY | O_CREAT | O_APPEND
            case .readWrite: O_RDWR | O_CREAT
            }
        }
    }

    /// Opens `path` (close-on-exec; new files get mode 0644).
    ///
    /// The corresponding C function is `open`.
    public static func open(_ path: String, mode: Mode) throws(Errno) -> Int32 {
        let fd = try systemCall("open") { Glibc.open(path, mode.flags | O_CLOEXEC, 0o644) }
        DescriptorLedger.record(fd)
        return fd
    }

    /// Reads up to `buffer.count` bytes (blocking); 0 at end of file.
    ///
    /// The corresponding C function is `read`.
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try systemCall("read") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// Writes every byte (blocking).
    ///
    /// The corresponding C function is `write`.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(Errno) {
        var offset = 0
        while offset < bytes.count {
            offset += try systemCall("write") { Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset) }
        }
    }

    /// Removes the file at `path`.
    ///
    /// The corresponding C function is `unlink`.
    public static func remove(_ path: String) throws(Errno) {
        try systemCall("unlink") { Glibc.unlink(path) }
    }

    /// The file's size in bytes.
    ///
    /// The corresponding C function is `fstat`.
    public static func size(_ fd: Int32) throws(Errno) -> Int {
        var info = stat()
        try systemCall("fstat") { fstat(fd, &info) }
        return Int(info.st_size)
    }
}

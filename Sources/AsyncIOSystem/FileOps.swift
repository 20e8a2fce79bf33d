import CAsyncIOLinux
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

    /// Records a descriptor opened elsewhere (by the ring's `openat`) as the system layer's own opens
    /// are, for the leak checks of tests.
    public static func noteOpened(_ fd: Int32) {
        DescriptorLedger.record(fd)
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

    /// The status of an open file (`fstat`).
    ///
    /// The corresponding C function is `fstat`.
    public static func status(_ fd: Int32) throws(Errno) -> FileStatus {
        var info = stat()
        try systemCall("fstat") { fstat(fd, &info) }
        let kind = info.st_mode & S_IFMT
        return FileStatus(
            isRegularFile: kind == S_IFREG, isDirectory: kind == S_IFDIR, size: Int(info.st_size),
            modifiedSeconds: Int64(info.st_mtim.tv_sec), inode: UInt64(info.st_ino))
    }

    /// The canonical absolute path of `path`: symbolic links, `.` and `..` resolved.
    ///
    /// The corresponding C function is `realpath`.
    public static func realPath(_ path: String) throws(Errno) -> String {
        guard let resolved = Glibc.realpath(path, nil) else { throw Errno.current }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The bytes a `struct statx` takes (for ``IOURing/FileOperation/status(fd:into:)``).
    public static var statxSize: Int { casyncio_statx_size() }

    /// The status in a `struct statx` the ring filled.
    public static func status(fromStatx storage: UnsafeRawPointer) -> FileStatus {
        var mode: UInt32 = 0, size: UInt64 = 0, modified: Int64 = 0, inode: UInt64 = 0
        casyncio_statx_decode(storage, &mode, &size, &modified, &inode)
        let kind = mode & UInt32(S_IFMT)
        return FileStatus(isRegularFile: kind == UInt32(S_IFREG), isDirectory: kind == UInt32(S_IFDIR),
                          size: Int(size), modifiedSeconds: modified, inode: inode)
    }

    /// Flushes the file's data and metadata to the device.
    ///
    /// The corresponding C function is `fsync`.
    public static func sync(_ fd: Int32) throws(Errno) {
        try systemCall("fsync") { Glibc.fsync(fd) }
    }

    /// Moves the file offset to `offset` bytes from the start.
    ///
    /// The corresponding C function is `lseek`.
    public static func seek(_ fd: Int32, to offset: Int) throws(Errno) {
        let result = Glibc.lseek(fd, off_t(offset), SEEK_SET)
        if result < 0 { throw Errno.current }
    }
}

/// What `fstat` says about a file.
public struct FileStatus: Sendable, Hashable {
    /// A regular file.
    public let isRegularFile: Bool
    /// A directory.
    public let isDirectory: Bool
    /// The size in bytes.
    public let size: Int
    /// The last modification, in seconds since the Unix epoch.
    public let modifiedSeconds: Int64
    /// The inode number.
    public let inode: UInt64
}

/// Questions about paths, asked synchronously (for start-up checks, never on a loop's hot path).
public enum SystemFiles {
    /// Whether `path` names a directory (following symbolic links).
    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }
}

import Glibc
import CAsyncIOLinux

/// Operations on raw file descriptors shared by every kind of descriptor.
public enum FileDescriptorOps {
    /// Closes `fd`.
    ///
    /// On Linux the descriptor is released even when `close` fails with `EINTR`, so it is never retried
    /// (a retry could close a descriptor that another thread has just opened). Other errors are
    /// reported but the descriptor is gone either way.
    ///
    /// The corresponding C function is `close`.
    public static func close(_ fd: Int32) throws(Errno) {
        DescriptorLedger.strike(fd)
        if Glibc.close(fd) == -1 {
            let err = Glibc.errno
            if err == EINTR { return }
            checkNotABug(err, "close")
            throw Errno(rawValue: err)
        }
    }

    /// Makes `fd` non-blocking (`O_NONBLOCK`).
    ///
    /// The corresponding C function is `fcntl`.
    public static func setNonBlocking(_ fd: Int32) throws(Errno) {
        let flags = try systemCall("fcntl") { fcntl(fd, F_GETFL) }
        try systemCall("fcntl") { fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
    }

    /// Makes `fd` blocking again (clears `O_NONBLOCK`), for a pipe end handed to a child process.
    ///
    /// The corresponding C function is `fcntl`.
    public static func setBlocking(_ fd: Int32) throws(Errno) {
        let flags = try systemCall("fcntl") { fcntl(fd, F_GETFL) }
        try systemCall("fcntl") { fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
    }

    /// Reads up to `buffer.count` bytes; `.wouldBlock` on `EAGAIN`, `.done(0)` at end of file.
    ///
    /// The corresponding C function is `read`.
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> IOResult<Int> {
        try nonBlockingCall("read") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// Writes up to `buffer.count` bytes; `.wouldBlock` on `EAGAIN`.
    ///
    /// The corresponding C function is `write`.
    public static func write(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) throws(Errno) -> IOResult<Int> {
        try nonBlockingCall("write") { Glibc.write(fd, buffer.baseAddress, buffer.count) }
    }

    /// Copies up to `count` bytes of the file `source`, from `offset`, to `destination` inside the
    /// kernel (from the page cache, no copy through the program), and advances `offset` by what was
    /// copied. The file's own position does not move. `.wouldBlock` when `destination` (a non-blocking
    /// socket or pipe) is full; `.done(0)` at the end of the file.
    ///
    /// A peer that has gone raises `SIGPIPE` (there is no `MSG_NOSIGNAL` for this call): ignore it
    /// first (``ProcessOps/ignoreBrokenPipeSignal()``) to get `EPIPE` instead.
    ///
    /// The corresponding C function is `sendfile`.
    public static func sendFile(to destination: Int32, from source: Int32, offset: inout Int, count: Int) throws(Errno) -> IOResult<Int> {
        var position = off_t(offset)
        let result = try nonBlockingCall("sendfile") { Glibc.sendfile(destination, source, &position, count) }
        offset = Int(position)
        return result
    }

    /// Creates a pipe with `O_CLOEXEC | O_NONBLOCK` on both ends: `(read end, write end)`.
    ///
    /// The corresponding C function is `pipe2`.
    public static func makePipe() throws(Errno) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        _ = try fds.withUnsafeMutableBufferPointer { (p: inout UnsafeMutableBufferPointer<Int32>) throws(Errno) in
            try systemCall("pipe2") { casyncio_pipe2(p.baseAddress, O_CLOEXEC | O_NONBLOCK) }
        }
        DescriptorLedger.record(fds[0])
        DescriptorLedger.record(fds[1])
        return (fds[0], fds[1])
    }
}

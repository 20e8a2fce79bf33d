import Glibc

/// An error number reported by the operating system.
///
/// System calls in this module throw `Errno` (typed throws). `EINTR` never escapes: wrappers retry it.
/// `EAGAIN` is not an error here either: non-blocking calls return ``IOResult/wouldBlock``.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    /// The raw C `errno` value.
    public let rawValue: Int32

    /// Wraps a raw C `errno` value.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's current `errno`.
    @inlinable
    public static var current: Errno { Errno(rawValue: Glibc.errno) }

    /// `strerror(3)` text, with the symbolic name where known: "Connection refused (ECONNREFUSED)".
    public var description: String {
        let text = String(cString: strerror(rawValue))
        if let name = symbolicName { return "\(text) (\(name))" }
        return "\(text) (errno \(rawValue))"
    }

    private var symbolicName: String? {
        switch rawValue {
        case Glibc.EAGAIN: "EAGAIN"
        case EINTR: "EINTR"
        case EBADF: "EBADF"
        case EINVAL: "EINVAL"
        case EMFILE: "EMFILE"
        case ENFILE: "ENFILE"
        case ENOMEM: "ENOMEM"
        case ENOENT: "ENOENT"
        case EEXIST: "EEXIST"
        case EPERM: "EPERM"
        case EACCES: "EACCES"
        case EPIPE: "EPIPE"
        case ECONNRESET: "ECONNRESET"
        case ECONNREFUSED: "ECONNREFUSED"
        case ECONNABORTED: "ECONNABORTED"
        case EADDRINUSE: "EADDRINUSE"
        case EADDRNOTAVAIL: "EADDRNOTAVAIL"
        case EINPROGRESS: "EINPROGRESS"
        case ETIMEDOUT: "ETIMEDOUT"
        case ENOTCONN: "ENOTCONN"
        case ENOSYS: "ENOSYS"
        case ESRCH: "ESRCH"
        case ECHILD: "ECHILD"
        case ENETUNREACH: "ENETUNREACH"
        case EHOSTUNREACH: "EHOSTUNREACH"
        default: nil
        }
    }

    /// `EAGAIN`/`EWOULDBLOCK`: the operation would block.
    public static var resourceTemporarilyUnavailable: Errno { Errno(rawValue: Glibc.EAGAIN) }
    /// `EINTR`: interrupted by a signal.
    public static var interrupted: Errno { Errno(rawValue: EINTR) }
    /// `EBADF`: not an open file descriptor.
    public static var badFileDescriptor: Errno { Errno(rawValue: EBADF) }
    /// `EINVAL`: invalid argument.
    public static var invalidArgument: Errno { Errno(rawValue: EINVAL) }
    /// `EMFILE`: the process has too many open files.
    public static var tooManyOpenFiles: Errno { Errno(rawValue: EMFILE) }
    /// `ENFILE`: the system has too many open files.
    public static var tooManyOpenFilesInSystem: Errno { Errno(rawValue: ENFILE) }
    /// `ENOENT`: no such file or directory.
    public static var noSuchFileOrDirectory: Errno { Errno(rawValue: ENOENT) }
    /// `EPIPE`: the peer closed for reading.
    public static var brokenPipe: Errno { Errno(rawValue: EPIPE) }
    /// `ECONNRESET`: the peer reset the connection.
    public static var connectionReset: Errno { Errno(rawValue: ECONNRESET) }
    /// `ECONNREFUSED`: nobody listens there.
    public static var connectionRefused: Errno { Errno(rawValue: ECONNREFUSED) }
    /// `EADDRINUSE`: the address is already in use.
    public static var addressInUse: Errno { Errno(rawValue: EADDRINUSE) }
    /// `EINPROGRESS`: a non-blocking connect has started.
    public static var nowInProgress: Errno { Errno(rawValue: EINPROGRESS) }
    /// `ENOSYS`: the kernel does not have this call.
    public static var noFunction: Errno { Errno(rawValue: ENOSYS) }

    /// Spelled ``resourceTemporarilyUnavailable`` here.
    @available(*, unavailable, renamed: "resourceTemporarilyUnavailable")
    public static var EAGAIN: Errno { resourceTemporarilyUnavailable }
}

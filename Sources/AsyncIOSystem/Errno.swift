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
        case Glibc.EINTR: "EINTR"
        case Glibc.EBADF: "EBADF"
        case Glibc.EINVAL: "EINVAL"
        case Glibc.EMFILE: "EMFILE"
        case Glibc.ENFILE: "ENFILE"
        case Glibc.ENOMEM: "ENOMEM"
        case Glibc.ENOENT: "ENOENT"
        case Glibc.EEXIST: "EEXIST"
        case Glibc.EISDIR: "EISDIR"
        case Glibc.EPERM: "EPERM"
        case Glibc.EACCES: "EACCES"
        case Glibc.ENOEXEC: "ENOEXEC"
        case Glibc.EPIPE: "EPIPE"
        case Glibc.ECONNRESET: "ECONNRESET"
        case Glibc.ECONNREFUSED: "ECONNREFUSED"
        case Glibc.ECONNABORTED: "ECONNABORTED"
        case Glibc.EADDRINUSE: "EADDRINUSE"
        case Glibc.EADDRNOTAVAIL: "EADDRNOTAVAIL"
        case Glibc.EINPROGRESS: "EINPROGRESS"
        case Glibc.ETIMEDOUT: "ETIMEDOUT"
        case Glibc.ENOTCONN: "ENOTCONN"
        case Glibc.EMSGSIZE: "EMSGSIZE"
        case Glibc.EPROTO: "EPROTO"
        case Glibc.ENOPROTOOPT: "ENOPROTOOPT"
        case Glibc.EOPNOTSUPP: "EOPNOTSUPP"
        case Glibc.EHOSTDOWN: "EHOSTDOWN"
        case Glibc.EHOSTUNREACH: "EHOSTUNREACH"
        case Glibc.ENONET: "ENONET"
        case Glibc.ENETDOWN: "ENETDOWN"
        case Glibc.ENETUNREACH: "ENETUNREACH"
        case Glibc.ENOSYS: "ENOSYS"
        case Glibc.ESRCH: "ESRCH"
        case Glibc.ECHILD: "ECHILD"
        default: nil
        }
    }

    /// `EAGAIN`: the operation would block.
    public static var resourceTemporarilyUnavailable: Errno { Errno(rawValue: Glibc.EAGAIN) }
    /// `EINTR`: interrupted by a signal.
    public static var interrupted: Errno { Errno(rawValue: Glibc.EINTR) }
    /// `EBADF`: not an open file descriptor.
    public static var badFileDescriptor: Errno { Errno(rawValue: Glibc.EBADF) }
    /// `EINVAL`: invalid argument.
    public static var invalidArgument: Errno { Errno(rawValue: Glibc.EINVAL) }
    /// `EMFILE`: the process has too many open files.
    public static var tooManyOpenFiles: Errno { Errno(rawValue: Glibc.EMFILE) }
    /// `ENFILE`: the system has too many open files.
    public static var tooManyOpenFilesInSystem: Errno { Errno(rawValue: Glibc.ENFILE) }
    /// `ENOMEM`: the kernel is out of memory.
    public static var outOfMemory: Errno { Errno(rawValue: Glibc.ENOMEM) }
    /// `ENOENT`: no such file or directory.
    public static var noSuchFileOrDirectory: Errno { Errno(rawValue: Glibc.ENOENT) }
    /// `EEXIST`: the file exists.
    public static var fileExists: Errno { Errno(rawValue: Glibc.EEXIST) }
    /// `EISDIR`: the path is a directory.
    public static var isDirectory: Errno { Errno(rawValue: Glibc.EISDIR) }
    /// `EPERM`: the operation is not permitted.
    public static var notPermitted: Errno { Errno(rawValue: Glibc.EPERM) }
    /// `EACCES`: permission denied.
    public static var permissionDenied: Errno { Errno(rawValue: Glibc.EACCES) }
    /// `ENOEXEC`: not a program the kernel can run.
    public static var execFormatError: Errno { Errno(rawValue: Glibc.ENOEXEC) }
    /// `EPIPE`: the peer closed for reading.
    public static var brokenPipe: Errno { Errno(rawValue: Glibc.EPIPE) }
    /// `ECONNRESET`: the peer reset the connection.
    public static var connectionReset: Errno { Errno(rawValue: Glibc.ECONNRESET) }
    /// `ECONNREFUSED`: nobody listens there.
    public static var connectionRefused: Errno { Errno(rawValue: Glibc.ECONNREFUSED) }
    /// `ECONNABORTED`: the connection was aborted.
    public static var connectionAborted: Errno { Errno(rawValue: Glibc.ECONNABORTED) }
    /// `EADDRINUSE`: the address is already in use.
    public static var addressInUse: Errno { Errno(rawValue: Glibc.EADDRINUSE) }
    /// `EADDRNOTAVAIL`: the address is not available here.
    public static var addressNotAvailable: Errno { Errno(rawValue: Glibc.EADDRNOTAVAIL) }
    /// `EINPROGRESS`: a non-blocking connect has started.
    public static var nowInProgress: Errno { Errno(rawValue: Glibc.EINPROGRESS) }
    /// `ETIMEDOUT`: the connection timed out.
    public static var timedOut: Errno { Errno(rawValue: Glibc.ETIMEDOUT) }
    /// `ENOTCONN`: the socket is not connected.
    public static var notConnected: Errno { Errno(rawValue: Glibc.ENOTCONN) }
    /// `EMSGSIZE`: the datagram is too long.
    public static var messageTooLong: Errno { Errno(rawValue: Glibc.EMSGSIZE) }
    /// `EPROTO`: a protocol error.
    public static var protocolError: Errno { Errno(rawValue: Glibc.EPROTO) }
    /// `ENOPROTOOPT`: the protocol is not available.
    public static var protocolNotAvailable: Errno { Errno(rawValue: Glibc.ENOPROTOOPT) }
    /// `EOPNOTSUPP`: the operation is not supported.
    public static var notSupported: Errno { Errno(rawValue: Glibc.EOPNOTSUPP) }
    /// `EHOSTDOWN`: the host is down.
    public static var hostDown: Errno { Errno(rawValue: Glibc.EHOSTDOWN) }
    /// `EHOSTUNREACH`: no route to the host.
    public static var hostUnreachable: Errno { Errno(rawValue: Glibc.EHOSTUNREACH) }
    /// `ENONET`: the machine is not on the network.
    public static var machineNotOnNetwork: Errno { Errno(rawValue: Glibc.ENONET) }
    /// `ENETDOWN`: the network is down.
    public static var networkDown: Errno { Errno(rawValue: Glibc.ENETDOWN) }
    /// `ENETUNREACH`: the network is unreachable.
    public static var networkUnreachable: Errno { Errno(rawValue: Glibc.ENETUNREACH) }
    /// `ENOSYS`: the kernel does not have this call.
    public static var noFunction: Errno { Errno(rawValue: Glibc.ENOSYS) }
    /// `ESRCH`: no such process.
    public static var noSuchProcess: Errno { Errno(rawValue: Glibc.ESRCH) }
    /// `ECHILD`: no child process to wait for.
    public static var noChildProcess: Errno { Errno(rawValue: Glibc.ECHILD) }

    /// Spelled ``resourceTemporarilyUnavailable`` here.
    @available(*, unavailable, renamed: "resourceTemporarilyUnavailable")
    public static var EAGAIN: Errno { resourceTemporarilyUnavailable }
}

import CAsyncIOLinux
import Glibc

/// What a descriptor is, for inspection tools: its kind and a short human description.
public struct DescriptorInfo: Sendable, Hashable {
    /// The broad kind of a descriptor.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// A listening stream socket.
        case listener
        /// A connected stream socket (TCP or Unix).
        case connection
        /// A datagram socket.
        case datagram
        /// Any other socket (not yet connected, say).
        case socket
        /// A pipe or FIFO.
        case pipe
        /// An eventfd, signalfd, pidfd, timerfd or epoll instance.
        case kernelObject
        /// A regular file, a terminal or a device.
        case file
    }

    /// The kind.
    public let kind: Kind
    /// For sockets `local ← peer` (or the local address), else the target of `/proc/self/fd/N`.
    public let text: String

    /// Describes `fd` (a few system calls; meant for inspection, not hot paths). A descriptor that is no
    /// longer open is described as `file` with the text `closed`.
    public static func describe(_ fd: Int32) -> DescriptorInfo {
        var type: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0 {
            let local = (try? SocketOps.localAddress(fd)) ?? nil
            let peer = (try? SocketOps.peerAddress(fd)) ?? nil
            let localText = local.map { $0.description.isEmpty ? "unnamed" : $0.description } ?? "?"
            if type == Int32(SOCK_DGRAM.rawValue) {
                return DescriptorInfo(kind: .datagram, text: localText)
            }
            var accepting: Int32 = 0
            length = socklen_t(MemoryLayout<Int32>.size)
            if getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) == 0, accepting != 0 {
                return DescriptorInfo(kind: .listener, text: "listening \(localText)")
            }
            if let peer {
                let peerText = peer.description.isEmpty ? "unnamed" : peer.description
                return DescriptorInfo(kind: .connection, text: "\(localText) ← \(peerText)")
            }
            return DescriptorInfo(kind: .socket, text: localText)
        }
        let target = linkTarget("/proc/self/fd/\(fd)") ?? "closed"
        if target.hasPrefix("pipe:") { return DescriptorInfo(kind: .pipe, text: target) }
        if target.hasPrefix("anon_inode:") { return DescriptorInfo(kind: .kernelObject, text: target) }
        return DescriptorInfo(kind: .file, text: target)
    }

    /// The target of the symbolic link at `path`, or nil.
    ///
    /// The corresponding C function is `readlink`.
    public static func linkTarget(_ path: String) -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { raw in
            // SAFETY: readlink writes at most `raw.count` bytes into the buffer it is given.
            readlink(path, raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count)
        }
        guard count >= 0 else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }
}

/// The process and user at the other end of a connected Unix socket.
public struct PeerCredentials: Sendable, Hashable {
    /// The peer's process id (when it connected).
    public let pid: Int32
    /// Its effective user id.
    public let uid: UInt32
    /// Its effective group id.
    public let gid: UInt32
}

extension SocketOps {
    /// The credentials of the process at the other end of a connected Unix socket.
    ///
    /// The corresponding C call is `getsockopt(SO_PEERCRED)`.
    public static func peerCredentials(_ fd: Int32) throws(Errno) -> PeerCredentials {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
        try systemCall("getsockopt") { casyncio_peer_credentials(fd, &pid, &uid, &gid) }
        return PeerCredentials(pid: pid, uid: uid, gid: gid)
    }
}

extension FileOps {
    /// Sets the permission bits of the file at `path` (such as `0o600`).
    ///
    /// The corresponding C function is `chmod`.
    public static func setPermissions(_ path: String, _ mode: UInt32) throws(Errno) {
        try systemCall("chmod") { chmod(path, mode_t(mode)) }
    }
}

/// Facts about processes, for tools that look at another process (`aio ps`).
public enum ProcessFacts {
    /// This process's id.
    public static var currentID: Int32 { getpid() }
    /// This process's effective user id.
    public static var effectiveUserID: UInt32 { geteuid() }

    /// Whether a process with id `pid` exists (it has a `/proc` entry).
    public static func exists(_ pid: Int32) -> Bool { access("/proc/\(pid)", F_OK) == 0 }

    /// The paths of the Unix stream sockets process `pid` listens on, from `/proc/PID/fd` and
    /// `/proc/PID/net/unix` (abstract and unnamed sockets are left out).
    ///
    /// - Throws: `Errno` (`ENOENT` when the process does not exist, `EACCES` when its descriptors may
    ///   not be read).
    public static func listeningUnixSockets(of pid: Int32) throws(Errno) -> [String] {
        guard let dir = opendir("/proc/\(pid)/fd") else { throw Errno.current }
        var inodes: Set<String> = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let target = DescriptorInfo.linkTarget("/proc/\(pid)/fd/\(name)"),
               target.hasPrefix("socket:["), target.hasSuffix("]") {
                inodes.insert(String(target.dropFirst(8).dropLast()))
            }
        }
        closedir(dir)
        // Lines: "Num RefCount Protocol Flags Type St Inode Path"; Flags 00010000 is __SO_ACCEPTCON,
        // Type 0001 is SOCK_STREAM.
        let table = try readSmallFile("/proc/\(pid)/net/unix")
        var paths: [String] = []
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 8, fields[3] == "00010000", fields[4] == "0001",
                  inodes.contains(String(fields[6])), fields[7].hasPrefix("/") else { continue }
            paths.append(fields[7...].joined(separator: " "))
        }
        return paths
    }

    /// The whole of a small file (such as one under `/proc`) as text.
    public static func readSmallFile(_ path: String) throws(Errno) -> String {
        let fd = try FileOps.open(path, mode: .read)
        defer { try? FileDescriptorOps.close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { raw in Result { () throws(Errno) in try FileOps.read(fd, into: raw) } }
            switch count {
            case .success(0): return String(decoding: bytes, as: UTF8.self)
            case .success(let count): bytes += chunk[..<count]
            case .failure(let error): throw error
            }
        }
    }
}

/// A terminal in raw input mode, for full-screen tools (`aio top`); put back by ``restore()``.
public final class TerminalMode: @unchecked Sendable {
    private let fd: Int32
    private var saved: termios
    private var isRestored = false

    /// Puts the terminal on `fd` in raw input mode (no echo, no line buffering; output processing and
    /// the keys that send signals are kept), or returns nil if `fd` is not a terminal.
    public init?(rawInputOn fd: Int32) {
        var current = termios()
        guard tcgetattr(fd, &current) == 0 else { return nil }
        self.fd = fd
        saved = current
        current.c_lflag &= ~tcflag_t(ECHO | ICANON)
        current.c_cc.6 = 1  // VMIN
        current.c_cc.5 = 0  // VTIME
        guard tcsetattr(fd, TCSANOW, &current) == 0 else { return nil }
    }

    /// Puts the terminal back as it was. Calling it twice is harmless.
    public func restore() {
        guard !isRestored else { return }
        isRestored = true
        _ = tcsetattr(fd, TCSANOW, &saved)
    }

    deinit { restore() }

    /// The size of the terminal on `fd` in rows and columns, or nil if it is not a terminal.
    public static func size(of fd: Int32) -> (rows: Int, columns: Int)? {
        var size = winsize()
        guard ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_row > 0 else { return nil }
        return (Int(size.ws_row), Int(size.ws_col))
    }
}

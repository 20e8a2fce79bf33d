import CAsyncIOLinux
import Glibc

/// An IPv4, IPv6 or Unix-domain socket address.
public enum SocketAddress: Hashable, Sendable, CustomStringConvertible {
    /// An IPv4 address and port.
    case ipv4(address: (UInt8, UInt8, UInt8, UInt8), port: UInt16)
    /// An IPv6 address (16 bytes, network order), port and scope id.
    case ipv6(address: [UInt8], port: UInt16, scopeID: UInt32)
    /// A Unix-domain socket path.
    case unix(path: String)

    /// Parses a numeric IPv4 or IPv6 address (no name resolution) with a port.
    ///
    /// - Throws: ``SocketAddressError`` if `host` is not a numeric address.
    public init(ip host: String, port: UInt16) throws(SocketAddressError) {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            let b = withUnsafeBytes(of: v4.s_addr) { Array($0) }
            self = .ipv4(address: (b[0], b[1], b[2], b[3]), port: port)
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            self = .ipv6(address: withUnsafeBytes(of: v6) { Array($0) }, port: port, scopeID: 0)
            return
        }
        throw SocketAddressError(message: "'\(host)' is not a numeric IPv4 or IPv6 address")
    }

    /// A Unix-domain address.
    ///
    /// - Throws: ``SocketAddressError`` if the path is empty or longer than `sun_path` (107 bytes).
    public init(unixPath path: String) throws(SocketAddressError) {
        guard !path.isEmpty, path.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            throw SocketAddressError(message: "Unix socket path '\(path)' is empty or longer than 107 bytes")
        }
        self = .unix(path: path)
    }

    /// The port, for IP addresses.
    public var port: UInt16? {
        switch self {
        case .ipv4(_, let port), .ipv6(_, let port, _): port
        case .unix: nil
        }
    }

    /// The host part as text: `127.0.0.1`, `::1`, or the Unix path.
    public var host: String {
        switch self {
        case .ipv4(let a, _):
            return "\(a.0).\(a.1).\(a.2).\(a.3)"
        case .ipv6(let bytes, _, _):
            var raw = in6_addr()
            withUnsafeMutableBytes(of: &raw) { $0.copyBytes(from: bytes) }
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            _ = inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count))
            return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        case .unix(let path):
            return path
        }
    }

    /// `127.0.0.1:8080`, `[::1]:8080` or `unix:/path`.
    public var description: String {
        switch self {
        case .ipv4(_, let port): "\(host):\(port)"
        case .ipv6(_, let port, _): "[\(host)]:\(port)"
        case .unix(let path): "unix:\(path)"
        }
    }

    /// The address family (`AF_INET`, `AF_INET6`, `AF_UNIX`).
    public var family: Int32 {
        switch self {
        case .ipv4: AF_INET
        case .ipv6: AF_INET6
        case .unix: AF_UNIX
        }
    }

    public static func == (lhs: SocketAddress, rhs: SocketAddress) -> Bool { lhs.description == rhs.description }
    public func hash(into hasher: inout Hasher) { hasher.combine(description) }

    /// Calls `body` with this address as a C `sockaddr` and its length.
    public func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
        var storage = sockaddr_storage()
        let length: socklen_t
        switch self {
        case .ipv4(let a, let port):
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
            withUnsafeMutableBytes(of: &storage) { raw in
                let sin = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)
                sin.pointee.sin_family = sa_family_t(AF_INET)
                sin.pointee.sin_port = port.bigEndian
                withUnsafeMutableBytes(of: &sin.pointee.sin_addr) { $0.copyBytes(from: [a.0, a.1, a.2, a.3]) }
            }
        case .ipv6(let bytes, let port, let scope):
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            withUnsafeMutableBytes(of: &storage) { raw in
                let sin6 = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)
                sin6.pointee.sin6_family = sa_family_t(AF_INET6)
                sin6.pointee.sin6_port = port.bigEndian
                sin6.pointee.sin6_scope_id = scope
                withUnsafeMutableBytes(of: &sin6.pointee.sin6_addr) { $0.copyBytes(from: bytes) }
            }
        case .unix(let path):
            length = socklen_t(MemoryLayout<sockaddr_un>.size)
            withUnsafeMutableBytes(of: &storage) { raw in
                let sun = raw.baseAddress!.assumingMemoryBound(to: sockaddr_un.self)
                sun.pointee.sun_family = sa_family_t(AF_UNIX)
                withUnsafeMutableBytes(of: &sun.pointee.sun_path) { dst in
                    let utf8 = Array(path.utf8)
                    dst.copyBytes(from: utf8.prefix(dst.count - 1))
                }
            }
        }
        return try withUnsafePointer(to: &storage) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, length) }
        }
    }

    /// Reads an address the kernel filled in; nil for families other than IPv4, IPv6 and Unix.
    public init?(storage: sockaddr_storage, length: socklen_t) {
        var storage = storage
        let family = Int32(storage.ss_family)
        let parsed: SocketAddress? = withUnsafeBytes(of: &storage) { raw -> SocketAddress? in
            switch family {
            case AF_INET:
                let sin = raw.load(as: sockaddr_in.self)
                let b = withUnsafeBytes(of: sin.sin_addr) { Array($0) }
                return .ipv4(address: (b[0], b[1], b[2], b[3]), port: UInt16(bigEndian: sin.sin_port))
            case AF_INET6:
                let sin6 = raw.load(as: sockaddr_in6.self)
                return .ipv6(address: withUnsafeBytes(of: sin6.sin6_addr) { Array($0) },
                             port: UInt16(bigEndian: sin6.sin6_port), scopeID: sin6.sin6_scope_id)
            case AF_UNIX:
                let offset = MemoryLayout<sa_family_t>.size
                let pathBytes = raw[offset..<max(offset, min(Int(length), raw.count))]
                let path = String(decoding: pathBytes.prefix { $0 != 0 }, as: UTF8.self)
                return .unix(path: path)
            default:
                return nil
            }
        }
        guard let parsed else { return nil }
        self = parsed
    }
}

extension SocketAddress {
    // `(UInt8, UInt8, UInt8, UInt8)` is not Hashable; the conformance above compares descriptions.
}

/// A socket address that could not be parsed or built.
public struct SocketAddressError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was wrong.
    public let message: String
    public var description: String { message }
}

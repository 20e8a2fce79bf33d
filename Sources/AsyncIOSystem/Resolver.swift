import CAsyncIOLinux
import Glibc

/// Blocking name resolution with `getaddrinfo`. Call it off the event loop (AsyncIO runs it on its
/// resolver threads).
public enum Resolver {
    /// Resolves `host` to the addresses to try, in the order `getaddrinfo` prefers (RFC 6724).
    ///
    /// - Throws: ``ResolverError`` naming the host and the reason (`gai_strerror`).
    ///
    /// The corresponding C function is `getaddrinfo`.
    public static func resolve(host: String, port: UInt16, kind: SocketOps.Kind) throws(ResolverError) -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = kind == .stream ? Int32(SOCK_STREAM.rawValue) : Int32(SOCK_DGRAM.rawValue)
        hints.ai_flags = AI_ADDRCONFIG
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        if rc != 0 {
            let reason = rc == EAI_SYSTEM ? Errno.current.description : String(cString: gai_strerror(rc))
            throw ResolverError(host: host, code: rc, reason: reason)
        }
        defer { freeaddrinfo(list) }
        var addresses: [SocketAddress] = []
        var cursor = list
        while let entry = cursor {
            if let raw = entry.pointee.ai_addr {
                var storage = sockaddr_storage()
                withUnsafeMutableBytes(of: &storage) { dst in
                    dst.copyMemory(from: UnsafeRawBufferPointer(start: raw, count: Int(entry.pointee.ai_addrlen)))
                }
                if let address = SocketAddress(storage: storage, length: entry.pointee.ai_addrlen),
                   !addresses.contains(address) {
                    addresses.append(address)
                }
            }
            cursor = entry.pointee.ai_next
        }
        if addresses.isEmpty { throw ResolverError(host: host, code: EAI_NONAME, reason: "no addresses") }
        return addresses
    }
}

/// A failed name resolution: which host, and why.
public struct ResolverError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The name that was looked up.
    public let host: String
    /// The `EAI_*` code.
    public let code: Int32
    /// The reason, from `gai_strerror`.
    public let reason: String
    public var description: String { "cannot resolve '\(host)': \(reason)" }
}

import AsyncIOSystem

/// Name resolution off the loop, on resolver threads of its own (never the general offload pool, so a
/// slow DNS server cannot starve file or CPU work, and the reverse).
enum Resolution {
    /// Two threads: lookups are short and rare next to I/O; a hung server blocks one of them at most.
    static let threads = LazyThreadPool { try ThreadPool(threads: 2, name: "aio-dns") }

    /// The addresses for `host`: parsed directly when numeric (no thread hop), else from `getaddrinfo`.
    static func resolve(host: String, port: UInt16, kind: SocketOps.Kind = .stream) async throws -> [SocketAddress] {
        if let numeric = try? SocketAddress(ip: host, port: port) { return [numeric] }
        if host == "localhost" {
            return [try! SocketAddress(ip: "127.0.0.1", port: port), try! SocketAddress(ip: "::1", port: port)]
        }
        do {
            return try await threads.pool(for: "resolve \(host)").run {
                do { return try Resolver.resolve(host: host, port: port, kind: kind) } catch { throw error }
            }
        } catch let error as ResolverError {
            throw StreamError(.resolution, operation: "resolve \(host)", detail: error.reason)
        }
    }
}

/// The addresses of `host` for a stream connection to `port`, best first (asyncio's `getaddrinfo`).
/// Numeric addresses are parsed in place; names are looked up on resolver threads of their own, never
/// on the loop.
///
/// - Throws: ``StreamError`` `.resolution`, naming the host and the resolver's reason.
///
/// ### Cancellation
/// The caller stops waiting; a lookup already running finishes on its thread and is dropped.
public func resolveAddresses(host: String, port: UInt16) async throws -> [SocketAddress] {
    try await Resolution.resolve(host: host, port: port)
}

/// A thread pool started on first use. If its threads cannot start (out of threads or memory), the
/// operation that needed it fails with a clear error and the next one tries again: a library does not
/// stop the process for that.
final class LazyThreadPool: Sendable {
    private let state = LockedState<ThreadPool?>(nil)
    private let make: @Sendable () throws -> ThreadPool

    init(make: @escaping @Sendable () throws -> ThreadPool) { self.make = make }

    /// The pool, started now if need be.
    ///
    /// - Throws: ``StreamError`` `.resolution` naming `operation` if the threads cannot start.
    func pool(for operation: String) throws -> ThreadPool {
        try state.withLock { pool in
            if let pool { return pool }
            do {
                let started = try make()
                pool = started
                return started
            } catch {
                throw StreamError(.resolution, operation: operation, detail: "cannot start the resolver threads (\(error))")
            }
        }
    }
}

import AsyncIO
import AsyncIOTLS

/// Keep-alive connections per (scheme, host, port): reused most-recent first, at most a limit per host (more
/// requests wait their turn, first come first served), and closed after sitting idle too long.
///
/// ### Thread safety
/// Loop-confined, like its connections.
final class HTTPConnectionPool: @unchecked Sendable {
    struct Key: Hashable, Sendable {
        let isSecure: Bool
        let host: String
        let port: UInt16
        /// The proxy the connection goes through: for `http`, the connection is to the proxy itself
        /// (host and port are the proxy's); for `https`, it is a `CONNECT` tunnel to host and port.
        var proxy: HTTPProxy? = nil
    }

    private final class Host: @unchecked Sendable {
        var idle: [HTTPClientConnection] = []
        var open = 0
        var waiters: [(id: UInt64, continuation: UnsafeContinuation<Void, any Error>)] = []
    }

    let loop: EventLoop
    private let maxPerHost: Int
    /// The most connections across every host (idle ones included).
    private let maxTotal: Int
    /// Connections open across every host.
    private var totalOpen = 0 {
        didSet { metrics?.poolSize(totalOpen) }
    }
    /// The client's metrics, when it records them.
    var metrics: HTTPClientMetricsRecorder?
    /// Requests waiting because the whole pool is full (woken whenever a connection closes or idles).
    private var poolWaiters: Host = Host()
    private let idleTimeout: Duration
    private var hosts: [Key: Host] = [:]
    private var nextWaiterID: UInt64 = 0
    private var sweepTimer: TimerHandle?
    private(set) var isShutDown = false
    /// Connections opened over the pool's life (for tests and statistics).
    private(set) var connectionsOpened = 0

    /// The TLS context for `https`, nil for the shared default.
    private let tls: TLSContext?

    init(loop: EventLoop, maxPerHost: Int, maxTotal: Int = .max, idleTimeout: Duration, tls: TLSContext?) {
        precondition(maxPerHost > 0, "maxConnectionsPerHost must be positive")
        precondition(maxTotal > 0, "maxConnections must be positive")
        self.maxTotal = maxTotal
        self.loop = loop
        self.tls = tls
        self.maxPerHost = maxPerHost
        self.idleTimeout = idleTimeout
    }

    /// An idle connection to `url`'s host, a new one, or (at the limit) the next one to come free.
    func acquire(
        _ url: HTTPURL, via proxy: HTTPProxy? = nil, connectTimeout: Duration, forceNew: Bool
    ) async throws -> (HTTPClientConnection, reused: Bool) {
        let key = if let proxy, url.scheme == "http" {
            Key(isSecure: false, host: proxy.url.host, port: proxy.url.port, proxy: proxy)
        } else {
            Key(isSecure: url.scheme == "https", host: url.host, port: url.port, proxy: proxy)
        }
        let host = hosts[key] ?? { let made = Host(); hosts[key] = made; return made }()
        while true {
            if isShutDown { throw HTTPClientError(.connectionClosed, url: url.description, "the client is shut down") }
            if !forceNew {
                while let connection = host.idle.popLast() {
                    if connection.isUsableWhenIdle { return (connection, true) }
                    connection.close()
                    closed(host)
                }
            } else if host.open >= maxPerHost, let oldest = host.idle.first {
                // A fresh connection was asked for: make room by closing an idle one.
                host.idle.removeFirst()
                oldest.close()
                closed(host)
            }
            if host.open < maxPerHost && totalOpen >= maxTotal {
                // The pool is full: make room by closing the oldest idle connection of another host.
                if let (other, oldest) = oldestIdleElsewhere(than: host) {
                    other.idle.removeFirst()
                    oldest.close()
                    closed(other)
                }
            }
            if host.open < maxPerHost && totalOpen < maxTotal {
                host.open += 1
                totalOpen += 1
                do {
                    let connection = try await connect(url, key: key, timeout: connectTimeout)
                    connectionsOpened += 1
                    metrics?.connectionOpened()
                    return (connection, false)
                } catch {
                    closed(host)
                    throw error
                }
            }
            if host.open < maxPerHost {
                metrics?.waited()
                try await wait(in: poolWaiters)  // full across hosts, nothing idle to close
                continue
            }
            metrics?.waited()
            try await wait(in: host)
        }
    }

    /// Takes a connection back after its response: kept for reuse if it allows, closed otherwise.
    func release(_ connection: HTTPClientConnection) {
        guard let host = hosts[connection.key] else { return connection.close() }
        if connection.isReusable && !isShutDown {
            connection.idleDeadline = loop.now.nanoseconds.addingSaturated(idleTimeout.nanoseconds)
            host.idle.append(connection)
            if sweepTimer == nil { armSweep(at: connection.idleDeadline) }
            wakeOne(poolWaiters)  // an idle connection can now be closed for another host
        } else {
            connection.close()
            host.open -= 1
            totalOpen -= 1
            wakeOne(poolWaiters)
        }
        wakeOne(host)
    }

    /// Takes a connection out of the pool for good (a WebSocket took it over): it no longer counts
    /// against the limits, and the pool will never close or reuse it.
    func detach(_ connection: HTTPClientConnection) {
        guard let host = hosts[connection.key] else { return }
        host.open -= 1
        totalOpen -= 1
        wakeOne(poolWaiters)
        wakeOne(host)
    }

    /// Closes the connections idle past their deadline; one timer for the whole pool, re-armed for the
    /// earliest deadline left (no timer per request).
    private func sweep() {
        sweepTimer = nil
        let now = loop.now.nanoseconds
        var earliest: Int64?
        for host in hosts.values {
            var closed = 0
            host.idle.removeAll { connection in
                if connection.idleDeadline <= now {
                    connection.close()
                    closed += 1
                    return true
                }
                earliest = min(earliest ?? .max, connection.idleDeadline)
                return false
            }
            host.open -= closed
            totalOpen -= closed
            for _ in 0..<closed {
                wakeOne(host)
                wakeOne(poolWaiters)
            }
        }
        if let earliest, !isShutDown { armSweep(at: earliest) }
    }

    private func armSweep(at deadline: Int64) {
        sweepTimer = loop.plainTimer(at: LoopClock.Instant(nanoseconds: deadline)) { [weak self] in self?.sweep() }
    }

    /// Closes the idle connections; busy ones close when their responses end. Later requests fail.
    func shutdown() {
        isShutDown = true
        sweepTimer?.cancel()
        sweepTimer = nil
        for host in hosts.values {
            for connection in host.idle { connection.close() }
            host.open -= host.idle.count
            totalOpen -= host.idle.count
            host.idle.removeAll()
            let waiters = host.waiters
            host.waiters.removeAll()
            for waiter in waiters { waiter.continuation.resume() }  // they see isShutDown
        }
        let waiters = poolWaiters.waiters
        poolWaiters.waiters.removeAll()
        for waiter in waiters { waiter.continuation.resume() }
    }

    /// Idle connections, for tests.
    var idleCount: Int { hosts.values.reduce(0) { $0 + $1.idle.count } }

    private func connect(_ url: HTTPURL, key: Key, timeout: Duration) async throws -> HTTPClientConnection {
        do {
            let tls = key.isSecure ? try self.tls ?? TLSContext.defaultClient(applicationProtocols: ["http/1.1"]) : nil
            let stream: any ByteStream = try await withTimeout(timeout) {
                guard let proxy = key.proxy else {
                    let socket = try await self.loop.connect(host: url.host, port: url.port)
                    guard let tls else { return socket }
                    return try await TLSStream.connect(over: socket, context: tls, serverName: url.host, port: url.port)
                }
                let socket = try await self.loop.connect(host: proxy.url.host, port: proxy.url.port)
                guard let tls else { return socket }  // plain http: the proxy forwards each request
                do {
                    try await self.openTunnel(over: socket, to: url, via: proxy)
                    return try await TLSStream.connect(over: socket, context: tls, serverName: url.host, port: url.port)
                } catch {
                    socket.close()
                    throw error
                }
            }
            return HTTPClientConnection(key: key, reader: StreamReader(stream: stream), writer: StreamWriter(stream: stream))
        } catch is TimeoutError {
            throw HTTPClientError(.timedOut, url: url.description, "no connection within \(timeout)")
        } catch let error as TLSError {
            throw HTTPClientError(.tls, url: url.description, "\(error.code): \(error.message)", tlsCode: error.code)
        } catch let error as StreamError {
            switch error.code {
            case .refused: throw HTTPClientError(.refused, url: url.description, "nobody listens on \(url.authority)")
            case .resolution: throw HTTPClientError(.resolution, url: url.description, error.description)
            default: throw HTTPClientError(.connectFailed, url: url.description, error.description)
            }
        }
    }

    /// Asks the proxy for a tunnel to `url`'s host and port (`CONNECT`, RFC 9110 §9.3.6) and reads its
    /// answer: a `2xx` opens the tunnel; anything else is an error naming the status.
    private func openTunnel(over socket: Socket, to url: HTTPURL, via proxy: HTTPProxy) async throws {
        let authority = url.host.contains(":") ? "[\(url.host)]:\(url.port)" : "\(url.host):\(url.port)"
        var head = "CONNECT \(authority) HTTP/1.1\r\nHost: \(authority)\r\n"
        if let authorization = proxy.authorization { head += "Proxy-Authorization: \(authorization)\r\n" }
        head += "\r\n"
        try await loop.sendAll(socket, Array(head.utf8))
        // The answer's head, read byte by byte so that nothing of the tunnel is consumed (a proxy sends
        // no body with a 2xx to CONNECT).
        var answer: [UInt8] = []
        while !answer.suffix(4).elementsEqual([13, 10, 13, 10]) {
            guard answer.count < 16 * 1024 else {
                throw HTTPClientError(.protocolError, url: url.description, "the proxy's answer to CONNECT is too long")
            }
            let received = try await loop.receive(socket, upTo: 1)
            guard received.count == 1 else {
                throw HTTPClientError(.connectionClosed, url: url.description, "the proxy closed the connection during CONNECT")
            }
            answer.append(received[0])
        }
        let statusLine = String(decoding: answer.prefix { $0 != 13 }, as: UTF8.self)
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let code = Int(parts[1]), (200..<300).contains(code) else {
            throw HTTPClientError(.connectFailed, url: url.description,
                                  "the proxy \(proxy.url.authority) refused the tunnel: \(statusLine)")
        }
    }

    private func wait(in host: Host) async throws {
        nextWaiterID &+= 1
        let id = nextWaiterID
        let noted = loop.beginWait(.primitive("HTTPClient connection pool"))
        defer { if noted { loop.endWait() } }
        try await withCancellableWait(on: loop) {
            try await withInheritedThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                host.waiters.append((id, continuation))
            }
        } onCancel: {
            self.loop.callSoon { [weak host] in
                guard let host, let index = host.waiters.firstIndex(where: { $0.id == id }) else { return }
                host.waiters.remove(at: index).continuation.resume(throwing: CancellationError())
            }
        }
    }

    /// A connection of `host` closed: one fewer open, and a waiter of the host and of the pool may go.
    private func closed(_ host: Host) {
        host.open -= 1
        totalOpen -= 1
        wakeOne(host)
        wakeOne(poolWaiters)
    }

    /// The host, other than `host`, whose first idle connection is the oldest.
    private func oldestIdleElsewhere(than host: Host) -> (Host, HTTPClientConnection)? {
        var best: (Host, HTTPClientConnection)?
        for other in hosts.values where other !== host {
            guard let first = other.idle.first else { continue }
            if best == nil || first.idleDeadline < best!.1.idleDeadline { best = (other, first) }
        }
        return best
    }

    private func wakeOne(_ host: Host) {
        guard !host.waiters.isEmpty else { return }
        host.waiters.removeFirst().continuation.resume()
    }
}

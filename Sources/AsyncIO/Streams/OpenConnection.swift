import AsyncIOSystem

/// Connects to `host:port` over TCP and returns a buffered reader and writer (asyncio's
/// `open_connection`).
///
/// Names are resolved off the loop. When a name has several addresses they are tried with happy
/// eyeballs (RFC 8305): the next attempt starts 250 ms after the previous one unless it has already
/// failed, and the first to connect wins; the others are cancelled and closed.
///
/// - Throws: ``StreamError`` `.resolution` naming the host, `.refused` or `.system` naming the address
///   (the last attempt's error when all fail).
///
/// ### Cancellation
/// Every attempt is cancelled and its socket closed.
public func openConnection(
    host: String,
    port: UInt16,
    limit: Int = 64 * 1024
) async throws -> (reader: StreamReader, writer: StreamWriter) {
    let socket = try await EventLoop.requireCurrent("openConnection").connect(host: host, port: port)
    return (StreamReader(socket: socket, limit: limit), StreamWriter(socket: socket))
}

extension EventLoop {
    /// Connects a TCP socket to `host:port`: the name is resolved off the loop and, when it has several
    /// addresses, they are tried with happy eyeballs (see ``openConnection(host:port:limit:)``). For
    /// protocols that wrap the socket (TLS) before buffering it.
    ///
    /// - Throws: ``StreamError`` `.resolution` naming the host, `.refused` or `.system` naming the address.
    ///
    /// ### Cancellation
    /// Every attempt is cancelled and its socket closed.
    public func connect(host: String, port: UInt16) async throws -> Socket {
        let addresses = try await Resolution.resolve(host: host, port: port)
        return try await happyEyeballs(loop: self, addresses: addresses)
    }
}

/// Connects to a Unix-domain stream socket and returns a buffered reader and writer (asyncio's
/// `open_unix_connection`).
///
/// - Throws: ``StreamError`` `.refused` or `.system` naming the path.
///
/// ### Cancellation
/// The socket is closed.
public func openUnixConnection(path: String, limit: Int = 64 * 1024) async throws -> (reader: StreamReader, writer: StreamWriter) {
    let loop = try EventLoop.requireCurrent("openUnixConnection")
    let address: SocketAddress
    do { address = try SocketAddress(unixPath: path) } catch {
        throw StreamError(.system, operation: "connect to unix:\(path)", detail: error.message)
    }
    let socket = try await loop.connect(to: address)
    return (StreamReader(socket: socket, limit: limit), StreamWriter(socket: socket))
}

/// RFC 8305: staggered connection attempts, first success wins.
func happyEyeballs(loop: EventLoop, addresses: [SocketAddress], stagger: Duration = .milliseconds(250)) async throws -> Socket {
    if addresses.count == 1 { return try await loop.connect(to: addresses[0]) }
    // Interleave address families, starting with the one getaddrinfo preferred.
    let preferred = addresses.filter { $0.family == addresses[0].family }
    let others = addresses.filter { $0.family != addresses[0].family }
    var ordered: [SocketAddress] = []
    for i in 0..<max(preferred.count, others.count) {
        if i < preferred.count { ordered.append(preferred[i]) }
        if i < others.count { ordered.append(others[i]) }
    }
    let turns = Turnstile(loop: loop)
    defer { turns.cancelTimers() }
    return try await withThrowingTaskGroup(of: SocketBox.self) { group in
        for (index, address) in ordered.enumerated() {
            group.addTask {
                try await turns.wait(for: index)
                // The next attempt may start after the stagger delay, or as soon as this one fails.
                turns.schedule(index + 1, after: stagger)
                do {
                    return SocketBox(try await loop.connect(to: address))
                } catch {
                    turns.grant(index + 1)
                    throw error
                }
            }
        }
        var lastError: (any Error)?
        var winner: Socket?
        while true {
            do {
                guard let box = try await group.next() else { break }
                if winner == nil {
                    winner = box.socket
                    group.cancelAll()
                } else {
                    box.socket?.close()  // connected after the winner
                }
            } catch {
                if winner == nil && !(error is CancellationError) { lastError = error }
            }
        }
        if let winner { return winner }
        try checkTaskCancellation()
        throw lastError ?? StreamError(.system, operation: "connect", detail: "no address to try")
    }
}

/// Grants connection attempts their turn: attempt `n` may start once `n <= granted`.
/// Loop-confined: every child of the happy-eyeballs group runs on the same loop.
private final class Turnstile: @unchecked Sendable {
    let loop: EventLoop
    private var granted = 0
    private var waiters: [Int: UnsafeContinuation<Void, any Error>] = [:]
    private var timers: [TimerHandle] = []

    init(loop: EventLoop) { self.loop = loop }

    func wait(for index: Int) async throws {
        if index <= granted { return }
        let noted = loop.beginWait(.primitive("happy eyeballs turn"))
        defer { if noted { loop.endWait() } }
        try await withCancellableContinuation(on: loop) { (continuation: UnsafeContinuation<Void, any Error>) in
            if index <= granted { continuation.resume() } else { waiters[index] = continuation }
        } onCancel: {
            self.loop.execute { [self] in waiters.removeValue(forKey: index)?.resume(throwing: CancellationError()) }
        }
    }

    func grant(_ index: Int) {
        guard index > granted else { return }
        granted = index
        for (waiting, continuation) in waiters where waiting <= index {
            waiters[waiting] = nil
            continuation.resume()
        }
    }

    func schedule(_ index: Int, after delay: Duration) {
        timers.append(loop.plainTimer(after: delay) { [self] in grant(index) })
    }

    func cancelTimers() {
        for timer in timers { timer.cancel() }
        timers = []
    }
}

final class SocketBox: @unchecked Sendable {
    let socket: Socket?
    init(_ socket: Socket? = nil) { self.socket = socket }
}

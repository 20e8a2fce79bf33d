// What an HTTP server on AsyncIO costs before any HTTP: the C responder of ../shared/bench
// (`peers/c/http_epoll.c`) written on this library's loop. It counts request ends ("\r\n\r\n") and
// answers each with the same fixed 13-byte response; it parses nothing. Two forms:
//
// - streams (the default): a task per connection reading with `StreamReader` and answering with
//   `StreamWriter`, as `aio serve` does. Its CPU a request, against the C responder's on the same load,
//   is the floor that `aio serve` (which does all of this, and parses, routes and builds its answer)
//   cannot go below.
// - `--callbacks`: the loop's level-triggered `addReader` callbacks and the system layer's `recv` and
//   `send`, no task and no stream: what the loop alone costs, without Swift's task suspensions.
//
//   swift build -c release --product HTTPFloor
//   [AIO_BACKEND=epoll] .build/release/HTTPFloor [--callbacks] [--port] PORT
//
// See BENCHMARKS.md ("twelfth session") for what it measured.
import AsyncIO
import AsyncIOSystem

let response: [UInt8] = Array(
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\n\r\nHello, World!".utf8)
let port = CommandLine.arguments.dropFirst().last.flatMap { UInt16($0) } ?? 8080  // `PORT` or `--port PORT`

/// How much of "\r\n\r\n" the bytes seen so far end with, and how many request ends they held.
struct RequestEnds {
    private var matched = 0

    mutating func count(in bytes: UnsafeRawBufferPointer) -> Int {
        var ends = 0
        for byte in bytes {
            switch (matched, byte) {
            case (0, 13), (2, 13): matched += 1
            case (1, 10): matched = 2
            case (3, 10): matched = 0; ends += 1
            case (_, 13): matched = 1
            default: matched = 0
            }
        }
        return ends
    }
}

/// The streams form: a task per connection.
func serveStreams() throws {
    try EventLoop.run { loop in
        let server = try await startServer(host: "127.0.0.1", port: port) { reader, writer in
            reader.ownerHandlesCancellation = true  // as the HTTP server: one handler a connection
            var ends = RequestEnds()
            do {
                try await withInheritedCancellationHandler {
                    while true {
                        let requests = reader.withBufferedBytes { bytes in (consumed: bytes.count, result: ends.count(in: bytes)) }
                        for _ in 0..<requests {
                            let sent = try response.withUnsafeBytes { try writer.tryWrite($0) }
                            if !sent { try await writer.write(response) }
                        }
                        guard try await reader.receiveMore() else { return }
                    }
                } onCancel: {
                    reader.interruptWaitSoon()
                }
            } catch let error as StreamError where error.code == .broken {
                writer.abort()  // the load generator resets its connections at the end
            }
        }
        print("listening on 127.0.0.1:\(server.localAddress.port ?? port)")
        try await server.serveForever()
    }
}

/// The callbacks form's state, touched on the loop's thread only.
final class CallbackResponder: @unchecked Sendable {
    let loop: EventLoop
    let listener: Int32
    /// One receive buffer for every connection: each callback is done with it when it returns.
    // SAFETY: used by the loop's callbacks only, one at a time; never freed, as the responder lives as long
    // as the process.
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)

    /// A connection's request-end counter, held by its reader callback: no look-up a request (the C
    /// program indexes an array by descriptor).
    final class Connection: @unchecked Sendable {
        var ends = RequestEnds()
    }

    init(loop: EventLoop) throws {
        self.loop = loop
        let address = try SocketAddress(ip: "127.0.0.1", port: port)
        listener = try SocketOps.socket(family: address.family, kind: .stream)
        try SocketOps.set(.reuseAddress, true, on: listener)
        try SocketOps.bind(listener, to: address)
        try SocketOps.listen(listener, backlog: 511)
        try loop.addReader(listener) { [unowned self] in acceptAll() }
    }

    private func acceptAll() {
        while case .done(let accepted)? = try? SocketOps.accept(listener) {
            let fd = accepted.fd
            try? SocketOps.set(.noDelay, true, on: fd)
            let connection = Connection()
            do { try loop.addReader(fd) { [unowned self] in readable(fd, connection) } } catch { close(fd) }
        }
    }

    /// One `recv` a wake-up, as the C responder: a level-triggered reader is called again while
    /// bytes remain.
    private func readable(_ fd: Int32, _ connection: Connection) {
        switch try? SocketOps.receive(fd, into: buffer) {
        case .wouldBlock?:
            return
        case .done(let count)? where count > 0:
            let requests = connection.ends.count(in: UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            for _ in 0..<requests {
                // The response is under 100 bytes: a short send would mean a client that does not read.
                guard case .done(response.count)? = response.withUnsafeBytes({ try? SocketOps.send(fd, $0) }) else {
                    return close(fd)
                }
            }
        default:
            close(fd)  // end of stream or an error
        }
    }

    private func close(_ fd: Int32) {
        _ = try? loop.removeReader(fd)  // drops the callback, and with it the connection's state
        try? FileDescriptorOps.close(fd)
    }
}

func serveCallbacks() throws {
    try EventLoop.run { loop in
        let responder = try CallbackResponder(loop: loop)
        print("listening on 127.0.0.1:\(port)")
        defer { withExtendedLifetime(responder) {} }
        try await loop.sleep(for: .seconds(86_400 * 365))
    }
}

if CommandLine.arguments.contains("--callbacks") { try serveCallbacks() } else { try serveStreams() }

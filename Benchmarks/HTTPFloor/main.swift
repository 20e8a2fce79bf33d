// What an HTTP server on AsyncIO costs before any HTTP: the C responder of ../shared/bench
// (`peers/c/http_epoll.c`) written on this library's loop, task-per-connection streams and writer.
// It counts request ends ("\r\n\r\n") and answers each with the same fixed 13-byte response; it
// parses nothing. Its CPU a request, against the C responder's on the same load, is the floor that
// `aio serve` (which does all of this, and parses, routes and builds its answer) cannot go below.
//
//   swift build -c release --product HTTPFloor
//   [AIO_BACKEND=epoll] .build/release/HTTPFloor PORT
//
// See BENCHMARKS.md ("twelfth session") for what it measured.
import AsyncIO

let response: [UInt8] = Array(
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\n\r\nHello, World!".utf8)
let port = CommandLine.arguments.count > 1 ? UInt16(CommandLine.arguments[1]) ?? 8080 : 8080

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

// Tutorial 1: an echo server on the loop's low-level socket calls (asyncio's sock_accept / sock_recv /
// sock_sendall on a non-blocking socket).
//
//     swift run EchoSockets [port]      # then: nc 127.0.0.1 PORT
import AsyncIO
import AsyncIOSystem

let port = CommandLine.arguments.count > 1 ? UInt16(CommandLine.arguments[1]) ?? 8888 : 8888
Signal.blockForStreams([.interrupt, .terminate])

try EventLoop.run { loop in
    let listener = try loop.listen(on: try SocketAddress(ip: "127.0.0.1", port: port))
    StandardStreams.printLine("listening on 127.0.0.1:\(listener.localAddress!.port!)")

    // One task per client: receive into a buffer, send it all back, until the client closes.
    let server = loop.spawn(name: "accept") {
        await withDiscardingTaskGroup { group in
            while let client = try? await loop.accept(listener) {
                group.addTask(executorPreference: loop) {
                    defer { client.close() }
                    while let data = try? await loop.receive(client, upTo: 4096), !data.isEmpty {
                        guard (try? await loop.sendAll(client, data)) != nil else { return }
                    }
                }
            }
        }
    }

    let signals = try SignalStream([.interrupt, .terminate])
    _ = try await signals.next()
    signals.close()
    listener.close()  // accept fails: the loop above ends, then each client task is cancelled
    server.cancel()
    try? await server.value
    StandardStreams.printLine("bye")
}

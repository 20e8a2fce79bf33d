// Tutorial 3: a TCP server on reader/writer streams that prints each client's messages and answers
// "已收到: <message>" ("received").
//
//     swift run ChatReplyServer [port]      # then: nc 127.0.0.1 PORT
import AsyncIO
import AsyncIOSystem

let port = CommandLine.arguments.count > 1 ? UInt16(CommandLine.arguments[1]) ?? 8888 : 8888
Signal.blockForStreams([.interrupt, .terminate])

try EventLoop.run {
    let server = try await startServer(host: "127.0.0.1", port: port) { reader, writer in
        let peer = writer.stream.peerAddress.map { "\($0)" } ?? "?"
        while true {
            var line = try await reader.readLine()
            if line.isEmpty { break }  // the client closed
            while let last = line.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { line.removeLast() }
            let message = String(decoding: line, as: UTF8.self)
            StandardStreams.printLine("\(peer): \(message)")
            try await writer.write("已收到: \(message)\n")
            try await writer.drain()
        }
        StandardStreams.printLine("\(peer) left")
    }
    StandardStreams.printLine("listening on 127.0.0.1:\(server.localAddress.port!)")
    let signals = try SignalStream([.interrupt, .terminate])
    _ = try await signals.next()
    signals.close()
    server.closeClients()
    await server.waitClosed()
}


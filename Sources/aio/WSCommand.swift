import ArgumentParser
import AsyncIO
import AsyncIOHTTP
import AsyncIOSystem
import FoundationEssentials
import HTTPTypes

/// `aio ws URL`: a WebSocket client for scripts and for trying a server by hand (CONTRACT.md).
struct WSCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ws",
        abstract: "Talk to a WebSocket server: stdin lines out as text messages, messages in to stdout.",
        discussion: """
            Each line read from stdin is sent as one text message (without its newline); each message \
            received is written to stdout and a newline (a binary message as one line of base64). At the \
            end of stdin it closes (1000) and exits 0 once the server's close arrives (1 if none comes \
            within 5 s). When the server closes first: exit 0 for 1000, 1001 or no code, else 1 with the \
            code and reason on stderr. wss:// servers are verified as for fetch.
            """
    )

    static let examples = [
        "echo hello | aio ws ws://127.0.0.1:8080/ws/echo",
        "aio ws --cacert cert.pem wss://localhost:8443/ws/echo",
    ]

    @Argument(help: "A ws:// or wss:// URL.")
    var url: String

    @Option(name: .customLong("header"), help: ArgumentHelp(
        "A handshake header, 'Name: value' (repeatable).", valueName: "header"))
    var headers: [String] = []

    @OptionGroup var tls: TLSClientOptions

    func validate() throws {
        let lowered = url.lowercased()
        guard lowered.hasPrefix("ws://") || lowered.hasPrefix("wss://") else {
            throw ValidationError("the URL must start with ws:// or wss://, not '\(url)'")
        }
        _ = try FetchCommand.headerFields(headers, defaults: [:])
    }

    func run() throws {
        let url = self.url
        let fields = try FetchCommand.headerFields(headers, defaults: [:])
        let tlsContext = try tls.makeContext(applicationProtocols: ["http/1.1"])
        try EventLoop.run { loop in
            var configuration = HTTPClient.Configuration()
            configuration.tls = tlsContext
            let code = await withHTTPClientOrFailure(configuration) { client in
                let ws: WebSocket
                do {
                    ws = try await client.webSocket(url, headerFields: fields)
                } catch let error as HTTPClientError {
                    StandardStreams.printError("aio ws: \(error)")  // it names the URL
                    return 1
                } catch {
                    StandardStreams.printError("aio ws: \(url): \(error)")
                    return 1
                }
                return await Self.session(ws, on: loop)
            }
            // Leave from here: a pool thread may still be blocked reading a line of stdin, and
            // EventLoop.run waits for its offload pool's threads when it returns. Output is unbuffered.
            exitImmediately(code)
        }
    }

    /// Sends stdin's lines while printing what arrives; the exit code per CONTRACT.md.
    static func session(_ ws: WebSocket, on loop: EventLoop) async -> Int32 {
        let stdinEnded = LoopConfined(false)
        let sender = loop.spawn(name: "stdin") {
            while let line = try await offload({ Swift.readLine(strippingNewline: true) }) {
                try await ws.send(text: line)
            }
            stdinEnded.set(true)
            await ws.close(code: .normal)
        }
        defer { sender.cancel() }
        do {
            while let message = try await ws.receive() {
                switch message {
                case .text(let text): StandardStreams.printLine(text)
                case .binary(let bytes): StandardStreams.printLine(Data(bytes).base64EncodedString())
                }
            }
        } catch {
            if stdinEnded.value, (error as? WebSocketError)?.code == .connectionLost {
                StandardStreams.printError("aio ws: the server did not answer the close within 5 s")
            } else {
                StandardStreams.printError("aio ws: \(error)")
            }
            return 1
        }
        // The server's close arrived: after ours (end of stdin), or first.
        if stdinEnded.value { return 0 }
        let code = ws.closeCode
        if code == nil || code == .normal || code == .goingAway { return 0 }
        StandardStreams.printError("aio ws: the server closed with \(code!.rawValue)\(ws.closeReason.isEmpty ? "" : ": \(ws.closeReason)")")
        return 1
    }
}

/// A value set on the loop and read there (the stdin task and the receiving task share the loop).
final class LoopConfined<Value: Sendable>: @unchecked Sendable {
    private(set) var value: Value
    init(_ value: Value) { self.value = value }
    func set(_ value: Value) { self.value = value }
}

/// `withHTTPClient`, with a failure to start reported as exit code 1.
private func withHTTPClientOrFailure(_ configuration: HTTPClient.Configuration, _ body: (HTTPClient) async -> Int32) async -> Int32 {
    do {
        return try await withHTTPClient(configuration: configuration) { client in await body(client) }
    } catch {
        StandardStreams.printError("aio ws: \(error)")
        return 1
    }
}

import ArgumentParser
import AsyncIO
import AsyncIOSystem
import AsyncIOTLS

/// `aio echo`: the TCP echo server of the asyncio tutorials (CONTRACT.md).
struct EchoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo",
        abstract: "A TCP (or TLS) echo server: every byte is sent back, in order.",
        discussion: """
            Prints "listening on HOST:PORT" once it accepts connections. SIGINT or SIGTERM stops \
            accepting, closes the connections and exits 0; a second signal exits at once.
            """
    )

    /// Pasted at the end of `aio echo --help`.
    static let examples = [
        "aio echo --port 8888",
        "aio echo --port 8888 --loops 2    (two loops, SO_REUSEPORT)",
        "aio echo --port 8443 --tls-cert cert.pem --tls-key key.pem",
    ]

    enum API: String, ExpressibleByArgument, CaseIterable {
        case streams, sockets
    }

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0 picks a free one).")
    var port: UInt16 = 8888

    @Option(help: "streams: StreamReader/StreamWriter (startServer); sockets: the loop's accept/receive/sendAll.")
    var api: API = .streams

    @Option(help: "Event loops, one thread each, with SO_REUSEPORT listeners.")
    var loops = 1

    @OptionGroup var tls: TLSServerOptions

    @OptionGroup var inspect: InspectOption

    @OptionGroup var backendOption: BackendOption

    func validate() throws {
        guard loops >= 1 && loops <= 1024 else { throw ValidationError("--loops must be between 1 and 1024") }
        if tls.isEnabled && api == .sockets {
            throw ValidationError("--api sockets speaks plain TCP only: TLS needs --api streams")
        }
    }

    func run() throws {
        // Before any thread starts, so that every thread inherits the mask and the signalfd sees them.
        Signal.blockForStreams([.interrupt, .terminate, .quit])
        let host = self.host, port = self.port, api = self.api, loops = self.loops
        let context = try tls.makeContext()
        let inspector = try inspect.start()
        defer { inspector?.close() }
        let backend = backendOption.backend
        try EventLoop.run(backend: backend) { loop in
            let signals = try SignalStream([.interrupt, .terminate])
            defer { signals.close() }
            let started: LoopServers<EchoServer>
            do {
                started = try await LoopServers.start(loops: loops, on: loop, name: "echo", port: port, backend: backend, portOf: { $0.port }) {
                    serverLoop, p, reusePort in
                    try await EchoServer.start(on: serverLoop, host: host, port: p, api: api, tls: context, reusePort: reusePort)
                }
            } catch let error as StreamError {
                throw CommandFailure(message: "\(error)", exitCode: 1)
            }
            let servers = started.servers, group = started.group
            // SIGQUIT dumps the live tasks of every loop to stderr (asyncio's debug task dump).
            let quit = try SignalStream([.quit])
            defer { quit.close() }
            let serverLoops = servers.map(\.loop)
            loop.spawn(name: "task-dump") {
                for try await _ in quit {
                    for serverLoop in serverLoops {
                        let tasks = try await serverLoop.spawn { serverLoop.tasks }.value
                        StandardStreams.printError("loop \(serverLoop.name): \(tasks.count) task(s)")
                        for task in tasks { StandardStreams.printError("  \(task)") }
                    }
                }
            }

            // Last: once this line is out, the process is fully set up (tests count its descriptors).
            StandardStreams.printLine("listening on \(host):\(servers[0].port)")

            _ = try await signals.next()
            // First signal: stop accepting and close every connection. A second one ends the process.
            loop.spawn(name: "second-signal") {
                // Cancelled (nil) when the shutdown below finishes first.
                if (try? await signals.next()) != nil { exitImmediately(0) }
            }
            for server in servers { await server.stop() }
            group?.shutdown()
        }
    }
}

/// One echo server on one loop, with either API.
final class EchoServer: @unchecked Sendable {
    let loop: EventLoop
    let port: UInt16
    private let stopper: @Sendable () async -> Void

    private init(loop: EventLoop, port: UInt16, stopper: @escaping @Sendable () async -> Void) {
        self.loop = loop
        self.port = port
        self.stopper = stopper
    }

    /// Stops accepting, closes the connections and waits for their tasks (from any loop).
    func stop() async {
        let stopper = self.stopper
        _ = try? await loop.spawn { await stopper() }.value
    }

    static func start(
        on loop: EventLoop, host: String, port: UInt16, api: EchoCommand.API, tls: TLSContext?, reusePort: Bool
    ) async throws -> EchoServer {
        switch api {
        case .streams:
            // One receive buffer per loop, shared by its connections: a handler receives into it and
            // sends (or copies the unsent rest into its writer) in the same job, before any other task
            // of the loop runs. Memory does not grow with the number of connections.
            let scratch = ScratchBuffer(size: 64 * 1024)
            let echo: @Sendable (StreamReader, StreamWriter) async throws -> Void = { reader, writer in
                do {
                    // One cancellation handler for the connection's life, as the HTTP server has: the
                    // reads install none of their own (three task allocations and a status record a
                    // read), and closing the clients still ends them (with CancellationError).
                    reader.ownerHandlesCancellation = true
                    try await withInheritedCancellationHandler {
                        while true {
                            let count = try await reader.read(into: scratch.bytes)
                            if count == 0 { return }  // the client half-closed: the server closes after flushing
                            try await writer.write(UnsafeRawBufferPointer(rebasing: scratch.bytes[..<count]))
                        }
                    } onCancel: {
                        reader.interruptWaitSoon()
                    }
                } catch let error as StreamError where error.code == .broken {
                    // A client that resets or vanishes ends its connection; it is not the server's error
                    // (logged, one line per connection, it flooded stderr: 359 KB in the TLS soak test).
                    writer.abort()
                } catch let error as TLSError where error.code == .truncated {
                    writer.abort()  // the same, over TLS: the client closed without close_notify
                }
            }
            let server = if let tls {
                try await startServer(host: host, port: port, tls: tls, reusePort: reusePort, handler: echo)
            } else {
                try await startServer(host: host, port: port, reusePort: reusePort, handler: echo)
            }
            return EchoServer(loop: loop, port: server.localAddress.port ?? port) {
                server.closeClients()
                await server.waitClosed()
            }
        case .sockets:
            let address = try await resolveListenAddress(host: host, port: port)
            let listener = try loop.listen(on: address, reusePort: reusePort)
            let acceptor = loop.spawn(name: "echo accept") {
                await withDiscardingTaskGroup { group in
                    // nextConnection rides out EMFILE (backs off, keeps serving); nil once closed.
                    while let connection = try? await loop.nextConnection(on: listener) {
                        group.addImmediateTask(executorPreference: loop) {
                            // Per connection: sendAll may suspend (backpressure) while holding the bytes.
                            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * 1024, alignment: 16)
                            defer {
                                buffer.deallocate()
                                connection.close()
                            }
                            while true {
                                guard let count = try? await loop.receive(connection, into: buffer), count > 0 else { return }
                                do { try await loop.sendAll(connection, UnsafeRawBufferPointer(rebasing: buffer[..<count])) } catch { return }
                            }
                        }
                    }
                }
            }
            return EchoServer(loop: loop, port: listener.localAddress?.port ?? port) {
                listener.close()
                acceptor.cancel()
                _ = try? await acceptor.value
            }
        }
    }

    private static func resolveListenAddress(host: String, port: UInt16) async throws -> SocketAddress {
        if let numeric = try? SocketAddress(ip: host, port: port) { return numeric }
        if host == "localhost" { return try SocketAddress(ip: "127.0.0.1", port: port) }
        throw StreamError(.resolution, operation: "listen on \(host)", detail: "--api sockets takes a numeric address")
    }
}

/// A loop-confined receive buffer shared by the connections of one loop.
final class ScratchBuffer: @unchecked Sendable {
    let bytes: UnsafeMutableRawBufferPointer
    init(size: Int) { bytes = .allocate(byteCount: size, alignment: 16) }
    deinit { bytes.deallocate() }
}

import ArgumentParser
import AsyncIO
import AsyncIOHTTP
import AsyncIOSystem

/// `aio serve`: an HTTP/1.1 server that behaves like a local httpbin (CONTRACT.md).
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "An HTTP/1.1 (or HTTPS) server that behaves like a local httpbin.",
        discussion: """
            Prints "listening on HOST:PORT" once it accepts connections; GET / lists the endpoints. \
            SIGINT or SIGTERM stops accepting, lets requests in flight finish (up to 10 s) and exits 0; \
            a second signal exits at once.
            """
    )

    /// Pasted at the end of `aio serve --help`.
    static let examples = [
        "aio serve --port 8080             then: curl 127.0.0.1:8080/get",
        "aio serve --port 8080 --header-timeout 5 --idle-timeout 30",
        "aio serve --port 8443 --tls-cert cert.pem --tls-key key.pem",
    ]

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0 picks a free one).")
    var port: UInt16 = 8080

    @Option(name: .customLong("header-timeout"), help: "Seconds a client has to send a complete request head.")
    var headerTimeout: Double = 10

    @Option(name: .customLong("idle-timeout"), help: "Seconds an idle keep-alive connection stays open.")
    var idleTimeout: Double = 60

    @Option(name: .customLong("write-timeout"), help: "Seconds a response may go without the client reading any of it.")
    var writeTimeout: Double = 30

    @Option(name: .customLong("max-body"), help: "The largest request body in bytes (413 beyond).")
    var maxBody = 10 * 1024 * 1024

    @Option(name: .customLong("max-connections"), help: "The most open connections; more wait to be accepted.")
    var maxConnections = 10_000

    @Option(help: "Event loops, one thread each, with SO_REUSEPORT listeners; --max-connections is for them all.")
    var loops = 1

    @Option(name: .customLong("static"), help: ArgumentHelp("Serve the files under this directory at /static/.", valueName: "dir"))
    var staticDirectory: String?

    @OptionGroup var tls: TLSServerOptions

    @OptionGroup var inspect: InspectOption

    @OptionGroup var backendOption: BackendOption

    func validate() throws {
        for (flag, value) in [("--header-timeout", headerTimeout), ("--idle-timeout", idleTimeout), ("--write-timeout", writeTimeout)] {
            guard value.isFinite, value > 0, value <= 86_400 else {
                throw ValidationError("\(flag) must be a number of seconds greater than 0 (at most 86400)")
            }
        }
        guard maxBody >= 0 else { throw ValidationError("--max-body must be a number of bytes, 0 or more") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
        guard loops >= 1 && loops <= 1024 else { throw ValidationError("--loops must be between 1 and 1024") }
        if let staticDirectory, !SystemFiles.isDirectory(staticDirectory) {
            throw ValidationError("--static \(staticDirectory): not a directory")
        }
    }

    func run() throws {
        // Before any thread starts, so that every thread inherits the mask and the signalfd sees them.
        Signal.blockForStreams([.interrupt, .terminate])
        var configuration = HTTPServer.Configuration()
        configuration.headerTimeout = .milliseconds(Int64(headerTimeout * 1000))
        configuration.idleTimeout = .milliseconds(Int64(idleTimeout * 1000))
        configuration.writeTimeout = .milliseconds(Int64(writeTimeout * 1000))
        configuration.maxBodySize = maxBody
        configuration.maxConnections = maxConnections
        configuration.tls = try tls.makeContext(applicationProtocols: ["http/1.1"])
        let host = self.host, port = self.port, staticDirectory = self.staticDirectory, loops = self.loops
        if loops > 1 {
            configuration.reusePort = true
            configuration.sharedConnectionLimit = Semaphore(value: maxConnections)
        }
        let settings = configuration
        let inspector = try inspect.start()
        defer { inspector?.close() }
        let backend = backendOption.backend
        try EventLoop.run(backend: backend) { loop in
            let signals = try SignalStream([.interrupt, .terminate])
            defer { signals.close() }
            let router = HTTPBin.router(staticDirectory: staticDirectory)
            let started: LoopServers<HTTPServer>
            do {
                // With several loops, `settings` asks for SO_REUSEPORT and one connection limit for all.
                started = try await LoopServers.start(loops: loops, on: loop, name: "serve", port: port, backend: backend,
                                                      portOf: { $0.localAddress.port }) { _, p, _ in
                    try await HTTPServer.start(host: host, port: p, configuration: settings, router: router)
                }
            } catch let error as StreamError {
                throw CommandFailure(message: "\(error)", exitCode: 1)
            }
            let servers = started.servers, group = started.group
            // Last: once this line is out, the server accepts connections.
            StandardStreams.printLine("listening on \(host):\(servers[0].localAddress.port ?? port)")

            _ = try await signals.next()
            // First signal: stop accepting, finish what is in flight (10 s at most). A second one ends
            // the process at once.
            loop.spawn(name: "second-signal") {
                if (try? await signals.next()) != nil { exitImmediately(0) }
            }
            await withTaskGroup(of: Void.self) { shutdowns in
                for server in servers { shutdowns.addTask { await server.shutdown(gracePeriod: .seconds(10)) } }
            }
            group?.shutdown()
        }
    }
}

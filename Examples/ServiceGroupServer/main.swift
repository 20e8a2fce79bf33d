// An HTTP server run by swift-service-lifecycle's ServiceGroup on the AsyncIO loop: SIGTERM (or
// SIGINT) starts a graceful shutdown, the server stops accepting, requests in flight finish, and the
// program exits 0. `GET /slow` answers after 2 s (or the milliseconds given after the port), to watch
// a request finish during a shutdown.
//
//     swift run ServiceGroupServer 8080 &
//     curl 127.0.0.1:8080/slow & kill -TERM %1     # curl still gets its answer
import AsyncIO
import AsyncIOHTTP
import Logging
import ServiceLifecycle
import UnixSignals

let arguments = CommandLine.arguments.dropFirst()
let port = UInt16(arguments.first ?? "8080") ?? 8080
let slowness = Int64(arguments.dropFirst().first ?? "2000") ?? 2000
try EventLoop.run(handlesInterrupt: false) { loop in
    var router = HTTPRouter()
    router.get("/") { _ in .text("Hello from a service group\n") }
    router.get("/slow") { _ in
        StandardStreams.printLine("serving /slow")
        try await loop.sleep(for: .milliseconds(slowness))
        return .text("finished\n")
    }
    let server = try await HTTPServer.start(host: "127.0.0.1", port: port, handler: router.handler)
    StandardStreams.printLine("listening on \(server.localAddress)")
    let group = ServiceGroup(
        services: [server],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: Logger(label: "ServiceGroupServer"))
    try await group.run()
    StandardStreams.printLine("shut down gracefully")
}

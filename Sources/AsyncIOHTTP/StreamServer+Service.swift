import AsyncIO
import ServiceLifecycle

// The AsyncIO core does not depend on swift-service-lifecycle; the server layer does, so the plain
// stream server gets its `Service` conformance here, beside `HTTPServer`'s.
extension StreamServer: Service {
    /// Serves until the server is closed and every connection has finished: the server as a
    /// swift-service-lifecycle `Service`. In a `ServiceGroup`, a graceful shutdown closes the listener
    /// (``StreamServer/close()``): no new connections, open ones carry on to their end.
    ///
    /// ### Cancellation
    /// Cancelling the caller closes the server and cancels every connection
    /// (``StreamServer/closeClients()``), as asyncio's `serve_forever` does when cancelled.
    public func run() async throws {
        let loop = try EventLoop.requireCurrent("StreamServer.run")
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await serveForever()
            } onCancel: {
                loop.spawn { self.closeClients() }
            }
        } onGracefulShutdown: {
            loop.spawn { self.close() }
        }
    }
}

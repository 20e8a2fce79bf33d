import AsyncIO
import Logging

extension HTTPRouter {
    /// Adds a WebSocket endpoint at `pattern` (aiohttp's `WebSocketResponse` in a `GET` handler): the
    /// upgrade is checked and answered (`101`, or `426`/`400`/`403`), `permessage-deflate` and a
    /// subprotocol are negotiated per `configuration`, then `handler` runs with the connection. When it
    /// returns, the connection is closed (1000; 1011 if it threw). At server shutdown an open WebSocket
    /// is closed with 1001 ("going away").
    ///
    /// ```swift
    /// router.webSocket("/ws/echo") { ws, _ in
    ///     for try await message in ws.messages { try await ws.send(message) }
    /// }
    /// ```
    public mutating func webSocket(
        _ pattern: String,
        configuration: WebSocket.Configuration = WebSocket.Configuration(),
        _ handler: @escaping @Sendable (WebSocket, HTTPServerRequest) async throws -> Void
    ) {
        add(.get, pattern) { request in
            switch WebSocketHandshake.serverResponse(to: request, configuration: configuration) {
            case .failure(let refusal):
                return refusal.response
            case .success(let (response, deflate, subprotocol)):
                var upgraded = response
                upgraded.upgrade = { connection in
                    let ws = Self.takeOver(connection, deflate: deflate, subprotocol: subprotocol, configuration: configuration)
                    let outcome: Result<Void, any Error>
                    do {
                        try await handler(ws, request)
                        outcome = .success(())
                    } catch {
                        outcome = .failure(error)
                    }
                    await Self.finish(ws, outcome, logger: connection.server.logger)
                }
                return upgraded
            }
        }
    }

    /// The WebSocket over an upgraded connection, closed with 1001 at server shutdown. Out of line, as
    /// is ``finish(_:_:logger:)``: the upgrade's frame stays alive as long as the WebSocket, so it
    /// holds only what the handler needs.
    @inline(never)
    static func takeOver(
        _ connection: HTTPServerConnection, deflate: WebSocketDeflate?, subprotocol: String?, configuration: WebSocket.Configuration
    ) -> WebSocket {
        let ws = WebSocket(reader: connection.reader, writer: connection.writer, role: .server,
                           deflate: deflate, subprotocol: subprotocol, configuration: configuration)
        let loop = connection.loop
        connection.onShutdown = { [weak ws] in
            guard let ws else { return }
            loop.spawn { await ws.close(code: .goingAway, reason: "the server is shutting down") }
        }
        return ws
    }

    /// Closes `ws` after its handler: 1000, or 1011 if the handler threw while the connection was open.
    @inline(never)
    static func finish(_ ws: WebSocket, _ outcome: Result<Void, any Error>, logger: Logger) async {
        guard case .failure(let error) = outcome else {
            await ws.close()
            return
        }
        if !ws.isClosed { logger.error("WebSocket handler failed", metadata: ["error": "\(error)"]) }
        await ws.close(code: .internalError, reason: "")
    }
}

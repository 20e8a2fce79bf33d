import AsyncIO
import HTTPTypes

extension HTTPClient {
    /// Opens a WebSocket to `url` (`ws://` or `wss://`; aiohttp's `session.ws_connect`), through the
    /// client's TLS settings, proxies (`wss://` tunnels with `CONNECT`), default header fields,
    /// credentials and cookies. Offers `permessage-deflate` and `configuration`'s subprotocols.
    ///
    /// ```swift
    /// let ws = try await client.webSocket("ws://127.0.0.1:8080/ws/echo")
    /// try await ws.send(text: "hello")
    /// print(try await ws.receive() as Any)
    /// await ws.close()
    /// ```
    ///
    /// - Throws: ``HTTPClientError`` for the URL and the connection (`.badURL`, `.refused`, `.tls`, ...);
    ///   ``WebSocketError`` `.handshakeFailed` when the server does not switch protocols (its status in
    ///   the message), sends a wrong `Sec-WebSocket-Accept`, or accepts what was not offered.
    ///
    /// ### Cancellation
    /// Stops the handshake; the connection is closed.
    public func webSocket(
        _ url: String,
        headerFields: HTTPFields = [:],
        configuration webSocketConfiguration: WebSocket.Configuration = WebSocket.Configuration()
    ) async throws -> WebSocket {
        let lowered = url.lowercased()
        let httpURL: String
        if lowered.hasPrefix("ws://") {
            httpURL = "http://" + url.dropFirst(5)
        } else if lowered.hasPrefix("wss://") {
            httpURL = "https://" + url.dropFirst(6)
        } else if lowered.hasPrefix("http://") || lowered.hasPrefix("https://") {
            httpURL = url
        } else {
            throw HTTPClientError(.badURL, url: url, "a WebSocket URL starts with ws:// or wss://")
        }
        let target = try resolve(httpURL)
        let key = WebSocketHandshake.makeKey()
        var fields = headerFields
        for field in configuration.headerFields where fields[field.name] == nil { fields.append(field) }
        if fields[.authorization] == nil, let credentials = target.credentials ?? configuration.basicCredentials {
            fields[.authorization] = credentials.authorizationValue
        }
        if configuration.storesCookies, let stored = cookieJar.cookieValue(for: target) {
            fields[.cookie] = fields[.cookie].map { "\($0); \(stored)" } ?? stored
        }
        fields[WebSocketHandshake.upgrade] = "websocket"
        fields[.connection] = "Upgrade"
        fields[WebSocketHandshake.key] = key
        fields[WebSocketHandshake.version] = "13"
        if webSocketConfiguration.compression { fields[WebSocketHandshake.extensions] = WebSocketDeflate.clientOffer }
        if !webSocketConfiguration.subprotocols.isEmpty {
            fields[WebSocketHandshake.protocolField] = webSocketConfiguration.subprotocols.joined(separator: ", ")
        }
        var request = HTTPRequest(method: .get, scheme: nil, authority: target.authority, path: target.target, headerFields: fields)
        let proxy = configuration.proxy ?? (configuration.proxiesFromEnvironment ? HTTPProxy.fromEnvironment(for: target) : nil)
        if let proxy, target.scheme == "http" {
            request.path = "http://\(target.authority)\(target.target)"
            if let authorization = proxy.authorization { request.headerFields[.proxyAuthorization] = authorization }
        }
        let timeouts = configuration.timeouts
        let (connection, _) = try await pool.acquire(target, via: proxy, connectTimeout: timeouts.connect, forceNew: true)
        pool.detach(connection)
        do {
            try await connection.send(request, body: .empty, url: target, userAgent: configuration.userAgent,
                                      acceptEncoding: nil, readTimeout: timeouts.read, totalDeadline: nil)
            let head = try await connection.readUpgradeHead(url: target)
            let response = head.response
            if configuration.storesCookies {
                for field in response.headerFields where field.name == .setCookie {
                    cookieJar.store(setCookie: field.value, from: target)
                }
            }
            let (deflate, subprotocol) = try Self.checkUpgrade(response, key: key, offered: webSocketConfiguration)
            return WebSocket(reader: connection.reader, writer: connection.writer, role: .client,
                             deflate: deflate, subprotocol: subprotocol, configuration: webSocketConfiguration)
        } catch {
            connection.close()
            throw error
        }
    }

    /// The client's checks of the server's answer (RFC 6455 §4.1).
    static func checkUpgrade(
        _ response: HTTPResponse, key: String, offered: WebSocket.Configuration
    ) throws(WebSocketError) -> (WebSocketDeflate?, String?) {
        let fields = response.headerFields
        guard response.status.code == 101 else {
            throw WebSocketError(.handshakeFailed, "the server answered \(response.status.code) \(response.status.reasonPhrase), not 101 Switching Protocols")
        }
        guard WebSocketHandshake.lists(fields[WebSocketHandshake.upgrade], "websocket") else {
            throw WebSocketError(.handshakeFailed, "the server's 101 does not say Upgrade: websocket")
        }
        guard WebSocketHandshake.lists(fields[.connection], "upgrade") else {
            throw WebSocketError(.handshakeFailed, "the server's 101 does not say Connection: Upgrade")
        }
        guard fields[WebSocketHandshake.acceptField] == WebSocketHandshake.accept(key: key) else {
            throw WebSocketError(.handshakeFailed, "the server's Sec-WebSocket-Accept does not match the key sent")
        }
        var subprotocol: String?
        if let chosen = fields[WebSocketHandshake.protocolField] {
            guard offered.subprotocols.contains(chosen) else {
                throw WebSocketError(.handshakeFailed, "the server chose the subprotocol \(chosen), which was not offered")
            }
            subprotocol = chosen
        }
        var deflate: WebSocketDeflate?
        let extensions = fields[values: WebSocketHandshake.extensions]
        if !extensions.isEmpty {
            guard offered.compression else {
                throw WebSocketError(.handshakeFailed, "the server accepted extensions that were not offered: \(extensions.joined(separator: ", "))")
            }
            deflate = try WebSocketDeflate.accept(response: extensions.joined(separator: ", "))
        }
        return (deflate, subprotocol)
    }
}

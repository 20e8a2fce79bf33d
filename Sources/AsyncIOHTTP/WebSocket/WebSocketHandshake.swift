import HTTPTypes

/// The opening handshake (RFC 6455 §4): the key and its accept value, and the checks of both sides.
enum WebSocketHandshake {
    static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// `Sec-WebSocket-Accept` for `key`: base64(SHA-1(key + GUID)).
    static func accept(key: String) -> String {
        Base64.encode(SHA1.hash(Array((key + guid).utf8)))
    }

    /// A fresh `Sec-WebSocket-Key`: 16 random bytes, base64.
    static func makeKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return Base64.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// Whether a comma-separated header value lists `token` (case-insensitive).
    static func lists(_ value: String?, _ token: String) -> Bool {
        guard let value else { return false }
        return value.split(separator: ",").contains { $0.trimmingSpaces.lowercased() == token }
    }

    static let upgrade = HTTPField.Name("Upgrade")!
    static let key = HTTPField.Name("Sec-WebSocket-Key")!
    static let version = HTTPField.Name("Sec-WebSocket-Version")!
    static let acceptField = HTTPField.Name("Sec-WebSocket-Accept")!
    static let protocolField = HTTPField.Name("Sec-WebSocket-Protocol")!
    static let extensions = HTTPField.Name("Sec-WebSocket-Extensions")!
    static let origin = HTTPField.Name("Origin")!

    /// The server's side: the `101` for `request` and what was agreed, or the error response to send
    /// instead (`426` without the upgrade fields or with another version, `400` for a bad key, `403`
    /// for a refused origin).
    static func serverResponse(
        to request: HTTPServerRequest, configuration: WebSocket.Configuration
    ) -> Result<(HTTPServerResponse, WebSocketDeflate?, String?), HTTPServerResponseBox> {
        let fields = request.head.headerFields
        guard request.method == .get, lists(fields[upgrade], "websocket"), lists(fields[.connection], "upgrade") else {
            var refusal = HTTPServerResponse.text("This is a WebSocket endpoint: upgrade to websocket (RFC 6455).\n", status: .init(code: 426))
            refusal.head.headerFields[upgrade] = "websocket"
            refusal.head.headerFields[.connection] = "Upgrade"
            refusal.head.headerFields[version] = "13"
            return .failure(HTTPServerResponseBox(refusal))
        }
        guard fields[values: version].count == 1, fields[version] == "13" else {
            var refusal = HTTPServerResponse.text("Only WebSocket version 13 is supported.\n", status: .init(code: 426))
            refusal.head.headerFields[version] = "13"
            return .failure(HTTPServerResponseBox(refusal))
        }
        guard fields[values: key].count == 1, let clientKey = fields[key], Base64.decode(clientKey)?.count == 16 else {
            return .failure(HTTPServerResponseBox(.text("Sec-WebSocket-Key must be 16 bytes in base64.\n", status: .badRequest)))
        }
        if let checkOrigin = configuration.checkOrigin, !checkOrigin(fields[origin]) {
            return .failure(HTTPServerResponseBox(.text("This origin may not open a WebSocket here.\n", status: .forbidden)))
        }
        var response = HTTPServerResponse(status: .switchingProtocols)
        response.headerFields[upgrade] = "websocket"
        response.headerFields[.connection] = "Upgrade"
        response.headerFields[acceptField] = accept(key: clientKey)
        let offered = fields[values: protocolField].flatMap { $0.split(separator: ",").map { String($0.trimmingSpaces) } }
        let chosen = configuration.subprotocols.first { offered.contains($0) }
        if let chosen { response.headerFields[protocolField] = chosen }
        var deflate: WebSocketDeflate?
        if configuration.compression, let (parameters, value) = WebSocketDeflate.negotiate(offers: fields[values: extensions]) {
            deflate = parameters
            response.headerFields[extensions] = value
        }
        return .success((response, deflate, chosen))
    }
}

/// A response as an `Error`, for a `Result` whose failure is the answer to send.
struct HTTPServerResponseBox: Error {
    let response: HTTPServerResponse
    init(_ response: HTTPServerResponse) { self.response = response }
}

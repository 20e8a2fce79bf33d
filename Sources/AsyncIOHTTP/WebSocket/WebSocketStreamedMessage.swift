/// A message read piece by piece as its frames arrive (``WebSocket/receiveStreamed()``): an
/// `AsyncSequence` of byte pieces, never the whole message in memory.
///
/// A text message's pieces are UTF-8 (checked as they arrive) but may split a character between two
/// pieces: decode the whole, or carry the incomplete tail over.
public struct WebSocketStreamedMessage: AsyncSequence, Sendable {
    public typealias Element = [UInt8]

    /// Whether it is a text message (else binary).
    public let isText: Bool
    let socket: WebSocket
    let generation: UInt64?
    let whole: [UInt8]?

    init(socket: WebSocket, isText: Bool, generation: UInt64) {
        self.socket = socket
        self.isText = isText
        self.generation = generation
        whole = nil
    }

    /// A message that had arrived whole before streaming was asked for.
    init(whole: [UInt8], isText: Bool, socket: WebSocket) {
        self.socket = socket
        self.isText = isText
        generation = nil
        self.whole = whole
    }

    /// Iterates over the pieces.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let message: WebSocketStreamedMessage
        var wholeGiven = false

        /// The next piece, or nil at the end of the message.
        ///
        /// ### Cancellation
        /// As ``WebSocket/receive()``.
        public mutating func next() async throws -> [UInt8]? {
            if let whole = message.whole {
                if wholeGiven || whole.isEmpty { return nil }
                wholeGiven = true
                return whole
            }
            return try await message.socket.nextPiece(of: message.generation!)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(message: self) }
}

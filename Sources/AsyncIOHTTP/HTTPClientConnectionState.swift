/// What one HTTP/1.1 client connection is doing, as a state machine (STYLE rule 5): the connection
/// feeds it what happened and does what it answers; tested without sockets
/// (`HTTPClientConnectionStateTests`).
///
/// The rules it keeps: interim (1xx) responses are skipped, except `101`; a response without a body is
/// complete with its head; a connection goes back to its pool only after a complete response that
/// allows keep-alive, on an open socket; a failure before the first byte of the response means a stale
/// pooled connection (an idempotent request may be retried), after it does not; a timeout after the head
/// is a stalled body, before it a missing response.
struct HTTPClientConnectionState {
    enum Phase: Equatable {
        /// Between requests (a fresh or pooled connection).
        case idle
        /// Writing a request.
        case sending
        /// Waiting for the final response head.
        case awaitingHead
        /// Reading the response body.
        case readingBody
        /// Closed.
        case closed
    }

    /// What to do with a response head.
    enum HeadAction: Equatable {
        /// An interim (1xx) response: read its end, then the next head.
        case skipInterim
        /// The final head; its body follows.
        case readBody
        /// The final head of a response without a body: read its end, and the response is complete.
        case complete
    }

    private(set) var phase = Phase.idle
    /// Whether any byte of the current response has arrived.
    private(set) var receivedAny = false
    /// Whether the last response ended in a way that lets the connection carry another request.
    private(set) var isReusable = false
    private var keepAlive = false

    /// Whether the current response has been read to its end (or no request was made yet). A
    /// connection closed in the middle of a response is not complete: reading on must fail, not end.
    var bodyComplete: Bool { phase == .idle }

    /// A request starts on this connection.
    mutating func requestStarted() {
        phase = .sending
        receivedAny = false
        isReusable = false
        keepAlive = false
    }

    /// The request went out; the response is awaited.
    mutating func requestSent() { if phase == .sending { phase = .awaitingHead } }

    /// Bytes of the response arrived.
    mutating func bytesArrived() { receivedAny = true }

    /// A response head arrived.
    mutating func headReceived(status: Int, keepAlive: Bool, hasBody: Bool) -> HeadAction {
        if (100..<200).contains(status) && status != 101 { return .skipInterim }
        self.keepAlive = keepAlive
        phase = .readingBody
        return hasBody ? .readBody : .complete
    }

    /// The response ended; `socketOpen` says whether the connection is still usable.
    mutating func responseEnded(socketOpen: Bool) {
        phase = .idle
        isReusable = keepAlive && socketOpen
    }

    /// The connection closed (an error, a timeout, or the pool's decision).
    mutating func closed() {
        phase = .closed
        isReusable = false
    }

    /// What a timeout means now.
    var timeoutReason: String {
        phase == .readingBody
            ? "the response body stalled: nothing more arrived within the timeout"
            : "no response within the timeout"
    }

    /// What the server closing the connection means now.
    var closedByServerReason: String {
        receivedAny ? "the server closed the connection inside the response" : "the server closed the connection"
    }
}

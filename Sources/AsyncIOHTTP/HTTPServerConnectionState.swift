/// What one HTTP/1.1 server connection is doing, as a state machine (STYLE rule 5): the connection
/// feeds it what happened and does what it answers. It holds no socket, no clock and no handler, so
/// every rule of the connection's life is tested without them (`HTTPServerConnectionStateTests`).
///
/// The rules it keeps: the first request gets the header timeout from the start, later ones the idle
/// timeout until their first byte; a request body can be read only until its response is decided (a
/// body kept past it would read the next request's bytes); `100 Continue` goes out before the first
/// body read, or never, and a client still waiting for it cannot keep the connection; an unread body is
/// discarded if it is all here, else the connection closes; a shutdown closes an idle connection now
/// and a busy one after its response.
struct HTTPServerConnectionState {
    enum Phase: Equatable {
        /// Waiting for the first byte of a request.
        case idle
        /// Some of a request head has arrived.
        case head
        /// Reading the body or running the handler.
        case busy
        /// Answered the last request; discarding what the peer still sends before closing.
        case closing
        /// Closed.
        case closed
    }

    /// Which timeout the connection's deadline runs.
    enum Timeout: Equatable {
        /// Until the whole head is in (slowloris).
        case header
        /// Between requests on a kept-alive connection.
        case idle
    }

    /// What a body read must do.
    enum BodyRead: Equatable {
        /// The body belongs to a request already answered.
        case expired
        /// The body is complete: end of body.
        case ended
        /// Read from the connection, after sending `100 Continue` if the client waits for it.
        case read(sendContinueFirst: Bool)
    }

    /// How to answer once the handler has returned.
    struct ResponsePlan: Equatable {
        /// Whether the connection may carry another request after this response.
        var keepAlive: Bool
        /// Whether to consume what is already buffered of an unread body first (keep-alive then
        /// depends on ``keepAliveAfterDiscard(_:)``).
        var discardBufferedBody: Bool
    }

    /// What a shutdown does to this connection.
    enum Shutdown: Equatable {
        /// Idle: close it now.
        case closeNow
        /// Busy: close it after the response in progress.
        case afterResponse
    }

    private(set) var phase = Phase.idle
    /// Counts requests and responses, so a body kept past its request cannot read the next one's bytes.
    private(set) var generation: UInt64 = 0
    private(set) var bodyComplete = true
    private(set) var continuePending = false
    private(set) var closeAfterResponse = false
    private var hasServedARequest = false

    /// About to read a request head; `buffered` says whether bytes of it are already here.
    mutating func awaitingHead(buffered: Bool) -> Timeout {
        if buffered {
            phase = .head
            return .header
        }
        phase = .idle
        return hasServedARequest ? .idle : .header
    }

    /// Bytes arrived while a head is awaited: the header timeout starts if they are its first.
    mutating func bytesArrived() -> Timeout? {
        guard phase == .idle else { return nil }
        phase = .head
        return .header
    }

    /// A request head was parsed; returns the generation its body is read with.
    mutating func headReceived(hasBody: Bool, expectsContinue: Bool) -> UInt64 {
        phase = .busy
        generation &+= 1
        bodyComplete = !hasBody
        continuePending = hasBody && expectsContinue
        return generation
    }

    /// The handler asks for body bytes of the request of `generation`.
    mutating func bodyReadRequested(generation requested: UInt64) -> BodyRead {
        guard requested == generation else { return .expired }
        if bodyComplete { return .ended }
        let sendContinue = continuePending
        continuePending = false
        return .read(sendContinueFirst: sendContinue)
    }

    /// The parser reached the end of the request body.
    mutating func bodyEnded() { bodyComplete = true }

    /// The handler returned (or failed into a 500): decide the response's connection handling. The body
    /// can no longer be read by the handler.
    mutating func handlerFinished(requestKeepAlive: Bool) -> ResponsePlan {
        generation &+= 1
        hasServedARequest = true
        var plan = ResponsePlan(keepAlive: requestKeepAlive && !closeAfterResponse,
                                discardBufferedBody: false)
        if !bodyComplete {
            if continuePending {
                // The client still waits to be told to send the body: it will not come.
                plan.keepAlive = false
            } else {
                plan.discardBufferedBody = true
            }
        }
        return plan
    }

    /// After discarding the buffered part of an unread body: the connection carries on only if the
    /// whole body was there.
    func keepAliveAfterDiscard(_ keepAlive: Bool) -> Bool { keepAlive && bodyComplete }

    /// The server shuts down.
    mutating func shutdownRequested() -> Shutdown {
        closeAfterResponse = true
        return phase == .idle ? .closeNow : .afterResponse
    }

    /// The connection answered its last request and lingers before closing.
    mutating func lingering() { phase = .closing }

    /// The connection is closed.
    mutating func closed() { phase = .closed }
}

@testable import AsyncIOHTTP
import Testing

/// The client connection's rules, without a socket.
@Suite struct HTTPClientConnectionStateTests {
    @Test func interimResponsesAreSkippedAndABodilessResponseIsCompleteWithItsHead() {
        var state = HTTPClientConnectionState()
        state.requestStarted()
        state.requestSent()
        #expect(state.headReceived(status: 100, keepAlive: true, hasBody: false) == .skipInterim)
        #expect(state.headReceived(status: 103, keepAlive: true, hasBody: false) == .skipInterim)
        #expect(state.phase == .awaitingHead)
        #expect(state.headReceived(status: 204, keepAlive: true, hasBody: false) == .complete)
        // 101 is final: the connection is handed over.
        var upgrade = HTTPClientConnectionState()
        upgrade.requestStarted()
        #expect(upgrade.headReceived(status: 101, keepAlive: false, hasBody: false) == .complete)
    }

    @Test func aConnectionIsReusableOnlyAfterACompleteKeepAliveResponseOnAnOpenSocket() {
        var state = HTTPClientConnectionState()
        #expect(state.bodyComplete && !state.isReusable)  // fresh
        state.requestStarted()
        state.requestSent()
        #expect(!state.bodyComplete)
        #expect(state.headReceived(status: 200, keepAlive: true, hasBody: true) == .readBody)
        #expect(!state.isReusable)
        state.responseEnded(socketOpen: true)
        #expect(state.bodyComplete && state.isReusable)

        state.requestStarted()
        _ = state.headReceived(status: 200, keepAlive: false, hasBody: true)
        state.responseEnded(socketOpen: true)
        #expect(!state.isReusable)  // Connection: close

        state.requestStarted()
        _ = state.headReceived(status: 200, keepAlive: true, hasBody: true)
        state.responseEnded(socketOpen: false)
        #expect(!state.isReusable)  // the socket is gone
    }

    @Test func aConnectionClosedMidResponseIsNotComplete() {
        var state = HTTPClientConnectionState()
        state.requestStarted()
        _ = state.headReceived(status: 200, keepAlive: true, hasBody: true)
        state.closed()
        // Reading on must fail, not end quietly: no silent truncation.
        #expect(!state.bodyComplete)
        #expect(!state.isReusable)
    }

    @Test func failuresSayWhatTheyMeanAtEachPoint() {
        var state = HTTPClientConnectionState()
        state.requestStarted()
        state.requestSent()
        #expect(state.timeoutReason == "no response within the timeout")
        #expect(state.closedByServerReason == "the server closed the connection")
        #expect(!state.receivedAny)  // a pooled connection that fails now was stale: retry an idempotent request
        state.bytesArrived()
        #expect(state.closedByServerReason == "the server closed the connection inside the response")
        _ = state.headReceived(status: 200, keepAlive: true, hasBody: true)
        #expect(state.timeoutReason == "the response body stalled: nothing more arrived within the timeout")
    }
}

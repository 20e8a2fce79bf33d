@testable import AsyncIOHTTP
import Testing

/// The server connection's rules, without a socket, a clock or a handler.
@Suite struct HTTPServerConnectionStateTests {
    @Test func theFirstRequestGetsTheHeaderTimeoutAndLaterOnesTheIdleTimeout() {
        var state = HTTPServerConnectionState()
        #expect(state.awaitingHead(buffered: false) == .header)
        #expect(state.phase == .idle)
        #expect(state.bytesArrived() == .header)
        #expect(state.phase == .head)
        #expect(state.bytesArrived() == nil)  // more bytes of the same head: the timeout runs on
        _ = state.headReceived(hasBody: false, expectsContinue: false)
        #expect(state.phase == .busy)
        _ = state.handlerFinished(requestKeepAlive: true)
        #expect(state.awaitingHead(buffered: false) == .idle)
        #expect(state.bytesArrived() == .header)
        // A pipelined head already buffered: the header timeout at once.
        _ = state.headReceived(hasBody: false, expectsContinue: false)
        _ = state.handlerFinished(requestKeepAlive: true)
        #expect(state.awaitingHead(buffered: true) == .header)
        #expect(state.phase == .head)
    }

    @Test func aBodyCannotBeReadOnceItsResponseIsDecided() {
        var state = HTTPServerConnectionState()
        let generation = state.headReceived(hasBody: true, expectsContinue: false)
        #expect(state.bodyReadRequested(generation: generation) == .read(sendContinueFirst: false))
        state.bodyEnded()
        #expect(state.bodyReadRequested(generation: generation) == .ended)
        _ = state.handlerFinished(requestKeepAlive: true)
        #expect(state.bodyReadRequested(generation: generation) == .expired)
        // Nor the next request's body with the old generation.
        let next = state.headReceived(hasBody: true, expectsContinue: false)
        #expect(next != generation)
        #expect(state.bodyReadRequested(generation: generation) == .expired)
    }

    @Test func continueGoesOutBeforeTheFirstBodyReadOnly() {
        var state = HTTPServerConnectionState()
        let generation = state.headReceived(hasBody: true, expectsContinue: true)
        #expect(state.bodyReadRequested(generation: generation) == .read(sendContinueFirst: true))
        #expect(state.bodyReadRequested(generation: generation) == .read(sendContinueFirst: false))
        // Without a body there is nothing to continue to.
        var bodiless = HTTPServerConnectionState()
        let g = bodiless.headReceived(hasBody: false, expectsContinue: true)
        #expect(bodiless.bodyReadRequested(generation: g) == .ended)
    }

    @Test func anUnreadBodyIsDiscardedOrClosesTheConnection() {
        // The client still waits for 100 Continue: the body will not come, the connection closes.
        var waiting = HTTPServerConnectionState()
        _ = waiting.headReceived(hasBody: true, expectsContinue: true)
        #expect(waiting.handlerFinished(requestKeepAlive: true)
                == .init(keepAlive: false, discardBufferedBody: false))
        // A body the handler ignored: discard what is here; keep alive only if that was all of it.
        var ignored = HTTPServerConnectionState()
        _ = ignored.headReceived(hasBody: true, expectsContinue: false)
        let plan = ignored.handlerFinished(requestKeepAlive: true)
        #expect(plan == .init(keepAlive: true, discardBufferedBody: true))
        #expect(!ignored.keepAliveAfterDiscard(plan.keepAlive))
        ignored.bodyEnded()
        #expect(ignored.keepAliveAfterDiscard(plan.keepAlive))
        // A body read to its end: nothing to discard.
        var read = HTTPServerConnectionState()
        _ = read.headReceived(hasBody: true, expectsContinue: false)
        read.bodyEnded()
        #expect(read.handlerFinished(requestKeepAlive: true)
                == .init(keepAlive: true, discardBufferedBody: false))
    }

    @Test func shutdownClosesAnIdleConnectionNowAndABusyOneAfterItsResponse() {
        var idle = HTTPServerConnectionState()
        _ = idle.awaitingHead(buffered: false)
        #expect(idle.shutdownRequested() == .closeNow)

        var busy = HTTPServerConnectionState()
        _ = busy.headReceived(hasBody: false, expectsContinue: false)
        #expect(busy.shutdownRequested() == .afterResponse)
        #expect(!busy.handlerFinished(requestKeepAlive: true).keepAlive)

        var closing = HTTPServerConnectionState()
        _ = closing.headReceived(hasBody: false, expectsContinue: false)
        #expect(!closing.handlerFinished(requestKeepAlive: false).keepAlive)
        #expect(!HTTPServerConnectionState().keepAliveAfterDiscard(false))
        closing.lingering()
        #expect(closing.phase == .closing)
        closing.closed()
        #expect(closing.phase == .closed)
    }
}

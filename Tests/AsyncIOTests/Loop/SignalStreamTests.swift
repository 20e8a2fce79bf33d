import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import Testing

@Suite(.timeLimit(.minutes(1)))
struct SignalStreamTests {
    /// A signal sent to the loop's own thread arrives on the stream; closing restores the thread's mask.
    /// (Process-wide delivery needs every thread to block the signal, which `aio` does first thing in
    /// main; its integration tests cover SIGINT and SIGTERM end to end.)
    @Test func aSignalToTheLoopThreadArrivesOnTheStream() async throws {
        try await withTestLoop(virtualTime: false) { _ in
            // Threads started from Dispatch's workers inherit a mask that blocks most signals: start clean.
            ThreadSignals.unblockInCallingThread(Signal.user1.rawValue)
            let signals = try SignalStream([.user1])
            #expect(ThreadSignals.isBlockedInCallingThread(Signal.user1.rawValue))
            ThreadSignals.raiseInCallingThread(Signal.user1.rawValue)
            let signal = try await signals.next()
            #expect(signal == .user1)
            signals.close()
            signals.close()  // twice is harmless
            #expect(!ThreadSignals.isBlockedInCallingThread(Signal.user1.rawValue))
        }
    }
}

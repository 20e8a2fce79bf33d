import AsyncIO
import AsyncIOTesting
import Testing

/// A loop that has shut down is freed: nothing it held (an exception handler that captures it, the
/// tasks and timers it ran) keeps it alive. Every test loop leaked before (found by LeakSanitizer).
@Suite(.timeLimit(.minutes(1)))
struct LoopLifetimeTests {
    final class WeakLoop: @unchecked Sendable { weak var loop: EventLoop? }

    @Test func aTestLoopIsFreedWhenItsTestEnds() async throws {
        let plain = WeakLoop()
        try await withTestLoop { loop in plain.loop = loop }
        #expect(plain.loop == nil)

        let busy = WeakLoop()
        try await withTestLoop { loop in
            busy.loop = loop
            loop.setExceptionHandler { exception in loop.defaultExceptionHandler(exception) }
            try await withTimeout(.seconds(5)) { try await loop.sleep(for: .seconds(1)) }
            _ = try await offload { 1 }
            loop.call(after: .seconds(1)) {}.cancel()
            try await loop.spawn { try await Task.sleep(for: .milliseconds(1)) }.value
        }
        #expect(busy.loop == nil)
    }
}

import AsyncIO
import AsyncIOTesting
import CoreMetrics
import MetricsTestKit
import Testing

/// Issue 16: the loop's own swift-metrics.
@Suite(.timeLimit(.minutes(1)))
struct EventLoopMetricsTests {
    @Test func turnsTimersWaitsAndTasksAreRecorded() async throws {
        let backend = TestMetrics()
        try await withTestLoop(virtualTime: false) { loop in
            try loop.enableMetrics(EventLoopMetrics(prefix: "l", factory: backend))
            // Ten tasks that keep each other runnable: turns with several jobs.
            let workers = (0..<10).map { _ in loop.spawn { for _ in 0..<20 { await Task.yield() } } }
            for worker in workers { _ = await worker.result }
            // A real 5 ms wait: the loop blocks in epoll_wait, then the timer fires (a little late).
            try await loop.sleep(for: .milliseconds(5))
        }
        let dimensions = [("loop", "test-loop")]
        let jobs = try backend.expectRecorder("l_jobs_per_turn", dimensions).values
        #expect(jobs.contains { $0 >= 10 }, "the turns ran \(jobs.max() ?? 0) jobs at most")
        let lag = try backend.expectTimer("l_lag_seconds", dimensions).values
        #expect(!lag.isEmpty && lag.allSatisfy { $0 >= 0 })
        let blocked = try backend.expectTimer("l_blocked_seconds", dimensions).values
        #expect(blocked.contains { $0 >= 4_000_000 }, "longest wait in epoll: \(blocked.max() ?? 0) ns")
        #expect(try backend.expectMeter("l_tasks", dimensions).values.isEmpty == false)
    }
}

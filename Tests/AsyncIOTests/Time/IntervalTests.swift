import AsyncIO
import AsyncIOTesting
import Testing

/// Periodic ticks with an explicit missed-tick policy (issue 13, Tokio's MissedTickBehavior).
@Suite(.timeLimit(.minutes(1)))
struct IntervalTests {
    /// Ticks as offsets in milliseconds from `start`, for a consumer that is late once: it spends 2.5
    /// periods on the tick at 100 ms.
    private func ticks(_ behavior: MissedTickBehavior, on loop: EventLoop) async throws -> [Int64] {
        let start = loop.now
        var seen: [Int64] = []
        for try await tick in loop.interval(every: .milliseconds(100), missedTicks: behavior) {
            seen.append(Int64(start.duration(to: tick) / .milliseconds(1)))
            if seen.count == 2 { try await loop.sleep(for: .milliseconds(250)) }
            if seen.count == 6 { break }
        }
        return seen
    }

    @Test func theFirstTickIsImmediateAndTheRestArePeriodic() async throws {
        try await withTestLoop { loop in
            let start = loop.now
            var times: [Duration] = []
            for try await _ in loop.interval(every: .seconds(1)) {
                times.append(start.duration(to: loop.now))
                if times.count == 4 { break }
            }
            #expect(times == [.zero, .seconds(1), .seconds(2), .seconds(3)])
        }
    }

    @Test func burstDeliversTheMissedTicksAtOnce() async throws {
        try await withTestLoop { loop in
            let seen = try await ticks(.burst, on: loop)
            #expect(seen == [0, 100, 200, 300, 400, 500])
        }
    }

    @Test func delayShiftsTheScheduleByTheDelay() async throws {
        try await withTestLoop { loop in
            // The late tick (due at 200) is delivered at 350; the next ones follow a period apart.
            let seen = try await ticks(.delay, on: loop)
            #expect(seen == [0, 100, 200, 450, 550, 650])
        }
    }

    @Test func skipDropsTheMissedTicksAndKeepsTheGrid() async throws {
        try await withTestLoop { loop in
            // Delivered at 350: the tick due at 200, then 300 is skipped and the grid resumes at 400.
            let seen = try await ticks(.skip, on: loop)
            #expect(seen == [0, 100, 200, 400, 500, 600])
        }
    }

    @Test func aDeadlineEndsTheIteration() async throws {
        try await withTestLoop { loop in
            var count = 0
            let ended: Void? = try await moveOnAfter(.milliseconds(350)) { _ in
                for try await _ in loop.interval(every: .milliseconds(100)) { count += 1 }
            }
            #expect(ended == nil)
            #expect(count == 4)
        }
    }
}

import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import Testing

@Suite(.timeLimit(.minutes(1)))
struct TimeoutTests {
    @Test func firedDeadlineThrowsTimeoutError() async throws {
        try await withTestLoop { loop in
            let start = loop.now
            await #expect(throws: TimeoutError.self) {
                try await withTimeout(.seconds(2)) { try await loop.sleep(for: .seconds(10)) }
            }
            #expect(start.duration(to: loop.now) == .seconds(2))
        }
    }

    @Test func callerCarriesOnAfterATimeout() async throws {
        try await withTestLoop { loop in
            _ = try? await withTimeout(.seconds(1)) { try await loop.sleep(for: .seconds(5)) }
            #expect(!Task.isCancelled)
            try await loop.sleep(for: .seconds(1))  // would throw if the caller had been cancelled
            let value = try await withTimeout(.seconds(1)) { 42 }
            #expect(value == 42)
        }
    }

    @Test func operationThatFinishesInTimeReturnsItsValueAndLeavesNoTimer() async throws {
        try await withTestLoop { loop in
            let value = try await withTimeout(.seconds(5)) {
                try await loop.sleep(for: .seconds(1))
                return "done"
            }
            #expect(value == "done")
            #expect(loop.pendingTimerCount == 0)
        }
    }

    @Test func operationErrorsPassThroughUnchanged() async throws {
        try await withTestLoop { _ in
            await #expect(throws: Boom.self) {
                try await withTimeout(.seconds(5)) { throw Boom() }
            }
        }
    }

    @Test func outerCancellationStaysCancellationError() async throws {
        try await withTestLoop { loop in
            let task = loop.spawn {
                try await withTimeout(.seconds(10)) { try await loop.sleep(for: .seconds(3600)) }
            }
            try await loop.sleep(for: .seconds(1))
            task.cancel()
            await #expect(throws: CancellationError.self) { try await task.value }
        }
    }

    /// asyncio's `wait_for` race: the deadline and an outer cancellation land in the same turn.
    /// The outer cancellation must win; it must never turn into a TimeoutError.
    @Test func outerCancellationAtTheDeadlineIsNotMistakenForATimeout() async throws {
        try await withTestLoop { loop in
            let deadline = loop.now.advanced(by: .seconds(5))
            let started = Locked(false)
            let task = loop.spawn {
                started.mutate { $0 = true }
                return try await withDeadline(deadline) { try await loop.sleep(for: .seconds(3600)) }
            }
            // This timer is created after the task's deadline timer only if the task started first;
            // schedule it at the same instant so both fire in one timer phase.
            try await loop.sleep(for: .zero)
            #expect(started.value)
            loop.call(at: deadline) { task.cancel() }
            await #expect(throws: CancellationError.self) { try await task.value }
        }
    }

    @Test func innerTimeoutIsCaughtInside() async throws {
        try await withTestLoop { loop in
            let result = try await withTimeout(.seconds(10)) {
                do {
                    try await withTimeout(.seconds(1)) { try await loop.sleep(for: .seconds(5)) }
                    return "no timeout"
                } catch is TimeoutError {
                    return "inner timed out"
                }
            }
            #expect(result == "inner timed out")
        }
    }

    @Test func outerTimeoutIsReportedByTheOuterScope() async throws {
        try await withTestLoop { loop in
            let innerSaw = Locked<String>("")
            let start = loop.now
            do {
                try await withTimeout(.seconds(1)) {
                    do {
                        try await withTimeout(.seconds(5)) { try await loop.sleep(for: .seconds(60)) }
                    } catch {
                        innerSaw.mutate { $0 = error is TimeoutError ? "timeout" : "\(type(of: error))" }
                        throw error
                    }
                }
                Issue.record("expected a timeout")
            } catch let error as TimeoutError {
                #expect(error.deadline == start.advanced(by: .seconds(1)))
            }
            #expect(innerSaw.value == "CancellationError")
        }
    }

    @Test func operationThatSwallowsCancellationReturnsItsValue() async throws {
        try await withTestLoop { loop in
            let value = try await withTimeout(.seconds(1)) { () async -> Int in
                do { try await loop.sleep(for: .seconds(5)) } catch { return -1 }
                return 1
            }
            #expect(value == -1)
        }
    }

    @Test func oneHourTimeoutRunsInUnderASecondOnVirtualTime() async throws {
        // Wall time is read on the loop thread around the scope itself, so a loaded machine (or the
        // thread sanitizer) delaying the test's start cannot make it fail.
        let (virtualElapsed, wallNanoseconds) = try await withTestLoop { loop in
            let start = loop.now
            let wallStart = MonotonicClock.nanoseconds()
            await #expect(throws: TimeoutError.self) {
                try await withTimeout(.seconds(3600)) { try await loop.sleep(for: .seconds(7200)) }
            }
            return (start.duration(to: loop.now), MonotonicClock.nanoseconds() - wallStart)
        }
        #expect(virtualElapsed == .seconds(3600))
        #expect(wallNanoseconds < 1_000_000_000)
    }

    @Test func manyScopesThatDoNotFireLeaveTheHeapEmpty() async throws {
        try await withTestLoop { loop in
            for i in 0..<10_000 {
                let value = try await withTimeout(.seconds(1)) { i }
                #expect(value == i)
            }
            #expect(loop.pendingTimerCount == 0)
        }
    }

    /// Issue 12, bug 2: deadline arithmetic wrapped, so a timeout of `.seconds(Int64.max)` fired at once
    /// and such a sleep returned at once. Deadlines saturate at the end of time, which never comes.
    @Test func deadlinesPastTheEndOfTimeNeverFire() async throws {
        try await withTestLoop { loop in
            let start = loop.now
            let value = try await withTimeout(.seconds(Int64.max)) {
                try await loop.sleep(for: .seconds(10))
                return 7
            }
            #expect(value == 7)
            #expect(start.duration(to: loop.now) == .seconds(10))
            #expect(loop.now.advanced(by: .seconds(Int64.max)) == .distantFuture)
            #expect(LoopClock.Instant(nanoseconds: -10).advanced(by: .seconds(Int64.min)).nanoseconds == .min)

            let fired = FiredFlags()
            let sleeper = loop.spawn {
                try await Task.sleep(for: .seconds(Int64.max), clock: loop.clock)
                fired.sleeper = true
            }
            let callback = loop.call(after: .seconds(Int64.max)) { loop.callSoon { fired.callback = true } }
            let scope = loop.spawn {
                try await withTimeout(.seconds(Int64.max)) { try await loop.sleep(for: .seconds(7200)) }
                fired.scope = true
            }
            // Virtual time runs an hour ahead, and then to the scope's two hours: nothing else fires.
            try await loop.sleep(for: .seconds(3600))
            #expect(!fired.sleeper && !fired.callback && !fired.scope)
            try await scope.value
            #expect(fired.scope)
            #expect(!fired.sleeper && !fired.callback)
            sleeper.cancel()
            await #expect(throws: CancellationError.self) { try await sleeper.value }
            callback.cancel()
            #expect(loop.pendingTimerCount == 0)
        }
    }
}

/// Flags set by a test's tasks and callbacks on its loop, read by the test on the same loop.
private final class FiredFlags: @unchecked Sendable {
    var sleeper = false
    var callback = false
    var scope = false
}

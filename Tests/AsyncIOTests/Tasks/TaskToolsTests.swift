import AsyncIO
import AsyncIOTesting
import Testing

@Suite(.timeLimit(.minutes(1)))
struct GatherTests {
    @Test func gatherReturnsResultsInArgumentOrder() async throws {
        try await withTestLoop { loop in
            let (a, b, c) = try await gather(
                { try await loop.sleep(for: .seconds(3)); return 1 },
                { try await loop.sleep(for: .seconds(1)); return "two" },
                { try await loop.sleep(for: .seconds(2)); return [3.0] }
            )
            #expect(a == 1)
            #expect(b == "two")
            #expect(c == [3.0])
        }
    }

    @Test func gatherRunsConcurrently() async throws {
        try await withTestLoop { loop in
            let start = loop.now
            let values = try await gather((1...50).map { i in { try await loop.sleep(for: .seconds(10)); return i } })
            #expect(values == Array(1...50))
            #expect(start.duration(to: loop.now) == .seconds(10))
        }
    }

    @Test func gatherFailsFastAndCancelsSiblings() async throws {
        try await withTestLoop { loop in
            let siblingSaw = Locked<String>("")
            let start = loop.now
            await #expect(throws: Boom.self) {
                _ = try await gather(
                    { try await loop.sleep(for: .seconds(1)); throw Boom() },
                    {
                        do { try await loop.sleep(for: .seconds(3600)) } catch {
                            siblingSaw.mutate { $0 = "\(type(of: error))" }
                            throw error
                        }
                        return 0
                    }
                )
            }
            #expect(siblingSaw.value == "CancellationError")
            #expect(start.duration(to: loop.now) == .seconds(1))
        }
    }

    @Test func gatherResultsCollectsErrorsWithoutCancelling() async throws {
        try await withTestLoop { loop in
            let (a, b) = await gatherResults(
                { try await loop.sleep(for: .seconds(1)); throw Boom() },
                { try await loop.sleep(for: .seconds(2)); return "ok" }
            )
            #expect(throws: Boom.self) { try a.get() }
            let bValue = try b.get()
            #expect(bValue == "ok")
        }
    }
}

@Suite(.timeLimit(.minutes(1)))
struct AsCompletedTests {
    @Test func yieldsEachOutcomeInCompletionOrderPastFailures() async throws {
        try await withTestLoop { loop in
            let ops: [@Sendable () async throws -> Int] = [
                { try await loop.sleep(for: .seconds(3)); return 3 },
                { try await loop.sleep(for: .seconds(1)); throw Boom() },
                { try await loop.sleep(for: .seconds(2)); return 2 },
            ]
            var seen: [String] = []
            for try await outcome in asCompleted(ops) {
                switch outcome {
                case .success(let value): seen.append("\(value)")
                case .failure(let error): seen.append(error is Boom ? "boom" : "\(error)")
                }
            }
            #expect(seen == ["boom", "2", "3"])
        }
    }

    @Test func failFastEndsAtTheFirstErrorAndCancelsTheRest() async throws {
        try await withTestLoop { loop in
            let cancelled = Locked(0)
            let ops: [@Sendable () async throws -> Int] = [
                { try await loop.sleep(for: .seconds(1)); return 1 },
                { try await loop.sleep(for: .seconds(2)); throw Boom() },
                {
                    do { try await loop.sleep(for: .seconds(3600)) } catch { cancelled.mutate { $0 += 1 }; throw error }
                    return 3
                },
            ]
            var seen: [Int] = []
            await #expect(throws: Boom.self) {
                for try await value in asCompletedFailFast(ops) { seen.append(value) }
            }
            #expect(seen == [1])
            // Dropping the sequence cancelled the operation still running; it unwinds in the next turns.
            try await loop.sleep(for: .seconds(1))
            #expect(cancelled.value == 1)
        }
    }

    /// A deadline around the iteration ends it (the consumer's wait honours the scope), and the
    /// operations are cancelled when the sequence is dropped.
    @Test func aTimeoutAroundTheIterationEndsItAndCancelsTheOperations() async throws {
        try await withTestLoop { loop in
            let cancelled = Locked(0)
            let ops: [@Sendable () async throws -> Int] = (1...3).map { n in
                {
                    do { try await loop.sleep(for: .seconds(n * 10)) } catch { cancelled.mutate { $0 += 1 }; throw error }
                    return n
                }
            }
            var seen: [Int] = []
            await #expect(throws: TimeoutError.self) {
                try await withTimeout(.seconds(15)) {
                    for try await outcome in asCompleted(ops) { seen.append(try outcome.get()) }
                }
            }
            #expect(seen == [1])
            try await loop.sleep(for: .seconds(1))
            #expect(cancelled.value == 2)
        }
    }
}

@Suite(.timeLimit(.minutes(1)))
struct ShieldTests {
    @Test func shieldedWorkOutlivesTheCancelledCaller() async throws {
        try await withTestLoop { loop in
            let finished = Locked(false)
            let caller = loop.spawn {
                try await shield {
                    try await loop.sleep(for: .seconds(10))
                    finished.mutate { $0 = true }
                    return 1
                }
            }
            try await loop.sleep(for: .seconds(1))
            caller.cancel()
            let start = loop.now
            await #expect(throws: CancellationError.self) { try await caller.value }
            #expect(loop.now == start)  // the caller stopped waiting at once
            #expect(!finished.value)
            try await loop.sleep(for: .seconds(10))
            #expect(finished.value)
        }
    }

    @Test func shieldReturnsTheValueWhenNotCancelled() async throws {
        try await withTestLoop { loop in
            let value = try await shield { try await loop.sleep(for: .seconds(1)); return "v" }
            #expect(value == "v")
        }
    }
}

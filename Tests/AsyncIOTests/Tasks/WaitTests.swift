import AsyncIO
import AsyncIOTesting
import Testing

/// asyncio.wait (issue 13).
@Suite(.timeLimit(.minutes(1)))
struct WaitTests {
    private func tasks(on loop: EventLoop) -> [Task<Int, any Error>] {
        [
            loop.spawn { try await loop.sleep(for: .seconds(3)); return 3 },
            loop.spawn { try await loop.sleep(for: .seconds(1)); throw Boom() },
            loop.spawn { try await loop.sleep(for: .seconds(2)); return 2 },
        ]
    }

    @Test func firstCompletedReturnsWhenAnyFinishes() async throws {
        try await withTestLoop { loop in
            let start = loop.now
            let all = tasks(on: loop)
            let (done, pending) = try await wait(all, returnWhen: .firstCompleted)
            #expect(start.duration(to: loop.now) == .seconds(1))
            #expect(done.count == 1 && pending.count == 2)
            await #expect(throws: Boom.self) { try await done[0].value }
            // Nothing was cancelled: the pending tasks finish with their values.
            #expect(try await pending[0].value == 3)
            #expect(try await pending[1].value == 2)
        }
    }

    @Test func firstExceptionReturnsAtTheFirstFailureOrWhenAllAreDone() async throws {
        try await withTestLoop { loop in
            let start = loop.now
            let all = tasks(on: loop)
            let (done, pending) = try await wait(all, returnWhen: .firstException)
            #expect(start.duration(to: loop.now) == .seconds(1))
            #expect(done.count == 1 && pending.count == 2)
            for task in pending { task.cancel() }
            // With no failure it waits for all of them.
            let good = [loop.spawn { try await loop.sleep(for: .seconds(1)); return 1 },
                        loop.spawn { try await loop.sleep(for: .seconds(2)); return 2 }]
            let again = loop.now
            let result = try await wait(good, returnWhen: .firstException)
            #expect(result.done.count == 2 && result.pending.isEmpty)
            #expect(again.duration(to: loop.now) == .seconds(2))
        }
    }

    @Test func allCompletedWaitsForEveryTaskAndKeepsTheirOrder() async throws {
        try await withTestLoop { loop in
            let start = loop.now
            let all = tasks(on: loop)
            let (done, pending) = try await wait(all)
            #expect(start.duration(to: loop.now) == .seconds(3))
            #expect(pending.isEmpty)
            #expect(try await done[0].value == 3)
            #expect(try await done[2].value == 2)
        }
    }

    @Test func aTimeoutReturnsWhatIsDoneAndLeavesTheRestRunning() async throws {
        try await withTestLoop { loop in
            let start = loop.now
            let all = tasks(on: loop)
            let (done, pending) = try await wait(all, timeout: .milliseconds(2500))
            #expect(start.duration(to: loop.now) == .milliseconds(2500))
            #expect(done.count == 2 && pending.count == 1)
            #expect(try await pending[0].value == 3)
        }
    }

    /// Cancelling the waiter ends the wait; as in asyncio, the tasks it watched are not cancelled.
    @Test func cancellingTheWaiterLeavesTheTasksAlone() async throws {
        try await withTestLoop { loop in
            let all = tasks(on: loop)
            let waiter = loop.spawn { try await wait(all) }
            try await loop.sleep(for: .milliseconds(500))
            waiter.cancel()
            await #expect(throws: CancellationError.self) { try await waiter.value }
            #expect(try await all[0].value == 3)
            await #expect(throws: Boom.self) { try await all[1].value }
            #expect(try await all[2].value == 2)
        }
    }
}

/// asyncio's Future (loop.create_future), usable across loops (issue 13).
@Suite(.timeLimit(.minutes(1)))
struct FutureTests {
    @Test func manyWaitersGetTheOneValueAndLaterCompletionsAreIgnored() async throws {
        try await withTestLoop { loop in
            let future = Future<Int>()
            let waiters = (0..<5).map { _ in loop.spawn { try await future.value } }
            try await loop.sleep(for: .seconds(1))
            #expect(future.waitingCount == 5)
            #expect(!future.isDone)
            loop.call(after: .seconds(1)) { future.complete(42) }
            for waiter in waiters { #expect(try await waiter.value == 42) }
            #expect(!future.complete(7))
            #expect(!future.fail(Boom()))
            #expect(try await future.value == 42)
            #expect(try future.result?.get() == 42)
        }
    }

    @Test func failAndCancelReachEveryWaiter() async throws {
        try await withTestLoop { loop in
            let failed = Future<Int>()
            let waiter = loop.spawn { try await failed.value }
            try await loop.sleep(for: .seconds(1))
            failed.fail(Boom())
            await #expect(throws: Boom.self) { try await waiter.value }
            let cancelled = Future<Int>()
            #expect(cancelled.cancel())
            #expect(cancelled.isCancelled)
            await #expect(throws: CancellationError.self) { try await cancelled.value }
        }
    }

    /// A cancelled waiter (or one whose deadline passed) leaves; the future and the other waiters stay.
    @Test func aCancelledWaiterLeavesTheFutureUntouched() async throws {
        try await withTestLoop { loop in
            let future = Future<String>()
            let leaving = loop.spawn { try await future.value }
            let staying = loop.spawn { try await future.value }
            try await loop.sleep(for: .seconds(1))
            leaving.cancel()
            await #expect(throws: CancellationError.self) { try await leaving.value }
            #expect(try await moveOnAfter(.seconds(1)) { _ in try await future.value } == nil)
            #expect(future.waitingCount == 1)
            #expect(!future.isDone)
            future.complete("done")
            #expect(try await staying.value == "done")
        }
    }

    @Test func waitersOnOtherLoopsResumeOnTheirOwnLoop() async throws {
        let group = try EventLoopGroup(loops: 2, name: "future")
        defer { group.shutdown() }
        let future = Future<Int>()
        let waiters = group.loops.map { loop in
            loop.spawn { () async throws -> Bool in
                let value = try await future.value
                return value == 9 && EventLoop.current === loop
            }
        }
        // Whether each waiter is already suspended or finds the value set, it returns on its own loop.
        future.complete(9)
        for waiter in waiters { #expect(try await waiter.value) }
    }
}

@Suite(.timeLimit(.minutes(1)))
struct GatherResultsArrayTests {
    @Test func returnsEveryOutcomeInOrderWithoutCancellingOnFailure() async throws {
        try await withTestLoop { loop in
            let finished = Locked(0)
            let ops: [@Sendable () async throws -> Int] = [
                { try await loop.sleep(for: .seconds(2)); finished.mutate { $0 += 1 }; return 1 },
                { try await loop.sleep(for: .seconds(1)); throw Boom() },
                { try await loop.sleep(for: .seconds(3)); finished.mutate { $0 += 1 }; return 3 },
            ]
            let results = await gatherResults(ops)
            let (first, third) = (try results[0].get(), try results[2].get())
            #expect(first == 1 && third == 3)
            #expect(throws: Boom.self) { try results[1].get() }
            #expect(finished.value == 2)
        }
    }
}

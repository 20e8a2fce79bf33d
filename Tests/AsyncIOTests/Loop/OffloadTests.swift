import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import Testing

@Suite(.timeLimit(.minutes(1)))
struct OffloadTests {
    @Test func workRunsOnAnotherThreadWhileTheLoopStaysResponsive() async throws {
        try await withTestLoop(virtualTime: false) { loop in
            let loopThread = SystemThread.currentID
            let latch = ThreadLatch()
            let work = loop.spawn {
                try await offload { () -> Int32 in
                    latch.wait()  // blocks this pool thread until the loop has shown it is free
                    return SystemThread.currentID
                }
            }
            // The loop keeps running timers while the pool thread is blocked.
            try await loop.sleep(for: .milliseconds(5))
            latch.open()
            let workerThread = try await work.value
            #expect(workerThread != loopThread)
        }
    }

    @Test func errorsComeBackToTheCaller() async throws {
        try await withTestLoop(virtualTime: false) { _ in
            await #expect(throws: Boom.self) { try await offload { throw Boom() } }
        }
    }

    @Test func cancelledBeforeItStartsTheWorkIsSkipped() async throws {
        let pool = try ThreadPool(threads: 1, name: "one")
        defer { pool.shutdown() }
        let latch = ThreadLatch()
        let ran = Locked(false)
        try await withTestLoop(virtualTime: false) { loop in
            let blocker = loop.spawn { try await pool.run { latch.wait() } }
            let skipped = loop.spawn { try await pool.run { ran.mutate { $0 = true } } }
            // A few loop turns: both tasks have queued their work (FIFO: the blocker holds the only
            // thread, so the second job waits in the queue).
            try await settle(loop)
            skipped.cancel()
            await #expect(throws: CancellationError.self) { try await skipped.value }
            latch.open()
            try await blocker.value
        }
        pool.shutdown()  // finishes queued work: the skipped job must still not run
        #expect(!ran.value)
    }

    @Test func virtualTimeWaitsForWorkOnOtherThreads() async throws {
        try await withTestLoop { loop in
            let start = loop.now
            let timer = loop.call(after: .seconds(60)) {}
            let value = try await offload { (0..<10_000).reduce(0, +) }
            #expect(value == 49_995_000)
            #expect(loop.now == start)  // the clock did not jump to the timer while the pool worked
            timer.cancel()
        }
    }
}

@Suite(.timeLimit(.minutes(1)))
struct SharedOffloadPoolTests {
    /// `EventLoop.run` shuts the shared pool down when it returns; a task on another loop that is
    /// offloading at that moment must not see the shutdown.
    @Test func offloadSurvivesAnotherRunShuttingThePoolDown() async throws {
        try await withTestLoop(virtualTime: false) { loop in
            // Another thread keeps starting and ending runs (each shuts the pool down) while this loop
            // offloads without pause, so shutdowns land while work is being handed over.
            let churn = Task.detached {
                for _ in 0..<100 { try EventLoop.run { _ = try await offload { 1 } } }
            }
            var done = 0
            while !churn.isCancelled, done < 2_000 {
                let expected = done
                let value = try await offload { expected }
                #expect(value == expected)
                done += 1
            }
            try await churn.value
            _ = loop
        }
    }
}

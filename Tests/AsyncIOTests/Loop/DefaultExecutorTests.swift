import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import Glibc
import Testing

/// Stops the exit test's process with `message` on standard error unless `condition` holds.
private func require(_ condition: Bool, _ message: String) {
    if !condition {
        let line = Array("FAILED: \(message)\n".utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        exit(1)
    }
}

private actor Counter {
    var count = 0
    var sawLoop = true
    func add() {
        count += 1
        if EventLoop.current == nil { sawLoop = false }
    }
}

/// `Task {}` on the loop (issue 13). The opt-in changes Swift's global executor for the whole process,
/// so each test runs in a process of its own (an exit test): the test runner's own tasks must not land
/// on a test's loop.
@Suite(.timeLimit(.minutes(1)))
struct DefaultExecutorTests {
    @Test func plainTasksSleepsAndActorsRunOnTheLoopWithTheOptIn() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            let value = try EventLoop.run(defaultExecutor: true) { loop in
                let task = Task { () async throws -> Int in
                    require(EventLoop.current === loop, "Task {} did not start on the loop")
                    // Loop-bound calls work inside it: a timeout scope, a stream round trip, loop sleeps.
                    let (x, y) = try SocketOps.socketPair()
                    let a = try loop.adopt(x)
                    let reader = StreamReader(socket: a)
                    let writer = StreamWriter(socket: try loop.adopt(y))
                    try await writer.write("ping\n")
                    let line = try await withTimeout(.seconds(5)) { try await reader.readLine() }
                    require(line == Array("ping\n".utf8), "the stream round trip failed")
                    // Task.sleep on Swift's own clock becomes a loop timer and wakes on the loop.
                    let timersBefore = loop.pendingTimerCount
                    async let slept: Void = Task.sleep(for: .milliseconds(200))
                    try await loop.sleep(for: .milliseconds(50))
                    require(loop.pendingTimerCount == timersBefore + 1,
                            "Task.sleep did not arm a loop timer: \(timersBefore) -> \(loop.pendingTimerCount)")
                    try await slept
                    require(EventLoop.current === loop, "Task.sleep woke off the loop")
                    await writer.close()
                    a.close()
                    return 7
                }
                let detached = Task.detached { EventLoop.current === loop }
                let counter = Counter()
                await withTaskGroup(of: Void.self) { group in
                    for _ in 0..<100 { group.addTask { await counter.add() } }
                }
                let (count, sawLoop) = (await counter.count, await counter.sawLoop)
                require(count == 100 && sawLoop, "a default actor ran off the loop")
                require(await detached.value, "Task.detached did not run on the loop")
                return try await task.value
            }
            require(value == 7, "the task's value was lost")
            // After run returns, Swift's own pool runs Task {} again.
            let after = await Task { EventLoop.current == nil }.value
            require(after, "Task {} still went to the closed loop")
        }
        let errors = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(errors == "", "\(errors)")
    }

    /// One loop at a time holds the global executor; a second one asking is refused with a clear error.
    @Test func aSecondTakeoverIsRefused() async {
        await #expect(processExitsWith: .success) {
            try EventLoop.run(defaultExecutor: true) { _ in
                // A plain thread of its own (not the offload pool, which a run shuts down on its way out).
                nonisolated(unsafe) var outcome: EventLoopError?
                let thread = try SystemThread.spawn(name: "second") {
                    do {
                        try EventLoop.run(defaultExecutor: true) { _ in }
                    } catch {
                        outcome = error as? EventLoopError
                    }
                }
                thread.join()  // blocks this loop briefly: the refused run never needs it
                require(outcome?.code == .busy, "a second takeover was not refused: \(String(describing: outcome))")
            }
        }
    }

    /// The test loop's leak check sees a `Task {}` still waiting when the test ends (by its timer).
    @Test func theTestLoopReportsATaskStillSleeping() async {
        await #expect(processExitsWith: .success) {
            do {
                try await withTestLoop(defaultExecutor: true) { loop in
                    Task { try await loop.sleep(for: .seconds(3600)) }
                    try await loop.sleep(for: .seconds(1))
                }
                require(false, "the leak was not reported")
            } catch let leak as TestLoopLeak {
                require(leak.timers == 1, "expected the task's timer in \(leak)")
            }
        }
    }

    /// Without the opt-in a plain `Task {}` runs on Swift's pool, and loop-bound calls there throw a
    /// clear error instead of stopping the process (issue 13: they were precondition failures).
    @Test func withoutTheOptInLoopBoundCallsFromATaskThrowNotOnLoop() async throws {
        try await withTestLoop(virtualTime: false) { loop in
            let (x, y) = try SocketOps.socketPair()
            let a = try loop.adopt(x)
            let reader = StreamReader(socket: a)
            let writer = StreamWriter(socket: try loop.adopt(y))
            let lock = Lock()
            try await lock.acquire()
            let errors = await Task { () -> [String: EventLoopError] in
                var errors: [String: EventLoopError] = [:]
                func record(_ name: String, _ body: () async throws -> Void) async {
                    do {
                        try await body()
                    } catch let error as EventLoopError {
                        errors[name] = error
                    } catch {}
                }
                // Time.
                await record("withTimeout") { _ = try await withTimeout(.seconds(1)) { 1 } }
                await record("moveOnAfter") { _ = try await moveOnAfter(.seconds(1)) { _ in 1 } }
                await record("shield") { _ = try await shield { 1 } }
                // Streams and sockets.
                await record("openConnection") { _ = try await openConnection(host: "127.0.0.1", port: 9) }
                await record("startServer") { _ = try await startServer(host: "127.0.0.1", port: 0) { _, _ in } }
                await record("DatagramSocket.bind") { _ = try DatagramSocket.bind(host: "127.0.0.1", port: 0) }
                await record("reader.read") { _ = try await reader.readLine() }
                await record("writer.write") { try await writer.write("x") }
                await record("SignalStream") { _ = try SignalStream([.user1]) }
                // Sync primitives are not loop-bound: a lock held on the loop is still awaited here.
                try? await withTimeout(.seconds(1)) { try await lock.acquire() }
                return errors
            }.value
            for name in ["withTimeout", "moveOnAfter", "shield", "openConnection", "startServer",
                         "DatagramSocket.bind", "reader.read", "writer.write", "SignalStream"] {
                let error = try #require(errors[name], "\(name) did not throw EventLoopError" as Comment)
                #expect(error.code == .notOnLoop, "\(name): \(error)")
                #expect(error.description.contains("EventLoop.run"), "\(name): \(error)")
            }
            // The lock is untouched by the failed calls and still works across threads.
            let acquired = Task.detached { try await lock.acquire(); try lock.release() }
            try lock.release()
            try await acquired.value
            await writer.close()
            a.close()
        }
    }
}

/// Swift's own `Task.sleep` in a task of the loop is a loop timer (the loop is a `SchedulingExecutor`),
/// with or without the takeover: it follows virtual time and wakes on the loop thread.
@Suite(.timeLimit(.minutes(1)))
struct TaskSleepOnTheLoopTests {
    @Test func taskSleepIsALoopTimerAndFollowsVirtualTime() async throws {
        try await withTestLoop { loop in
            let start = loop.now
            async let slept: Void = Task.sleep(for: .seconds(3600))
            try await loop.sleep(for: .seconds(1))
            #expect(loop.pendingTimerCount == 1)
            try await slept
            #expect(EventLoop.current === loop)
            // The runtime hands over a deadline on Swift's continuous clock; the real time between the
            // call and the hand-over (microseconds; more on a loaded machine) is all the virtual clock can
            // be off by.
            let elapsed = start.duration(to: loop.now)
            #expect(elapsed > Duration.seconds(3600) - .milliseconds(200) && elapsed <= Duration.seconds(3600), "\(elapsed)")
            // Cancelling it wakes it at once with CancellationError.
            let cancelledAt = loop.now
            let task = loop.spawn { try await Task.sleep(for: .seconds(10)) }
            try await loop.sleep(for: .seconds(1))
            task.cancel()
            await #expect(throws: CancellationError.self) { try await task.value }
            #expect(cancelledAt.duration(to: loop.now) == .seconds(1))
            // The runtime's own wake-up job for that sleep stays queued until its deadline, as it does
            // on Swift's default executor; it then runs and does nothing.
            #expect(loop.pendingTimerCount == 1)
            try await loop.sleep(for: .seconds(10))
            #expect(loop.pendingTimerCount == 0)
        }
    }
}

import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import Glibc
import Logging
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(1)))
struct EventLoopTests {
    @Test func runReturnsTheMainTasksValue() throws {
        let value = try EventLoop.run { 6 * 7 }
        #expect(value == 42)
    }

    @Test func runRethrowsTheMainTasksError() {
        #expect(throws: Boom.self) { try EventLoop.run { throw Boom() } }
    }

    @Test func currentIsTheLoopInsideItsTasksAndNilOutside() throws {
        #expect(EventLoop.current == nil)
        let same = try EventLoop.run { () async -> Bool in
            let loop = EventLoop.current!
            let child = await withTaskGroup(of: Bool.self) { group in
                group.addTask { EventLoop.current === loop }
                return await group.next()!
            }
            return child && loop.inEventLoop
        }
        #expect(same)
        #expect(EventLoop.current == nil)
    }

    @Test func callSoonRunsCallbacksInOrder() async throws {
        try await withTestLoop { loop in
            let order = Locked<[Int]>([])
            for i in 0..<10 { loop.callSoon { order.mutate { $0.append(i) } } }
            try await loop.sleep(for: .zero)
            #expect(order.value == Array(0..<10))
        }
    }

    @Test func runCancelsAndAwaitsTasksStillAliveOnTheWayOut() throws {
        let outcome = Locked<String>("not run")
        try EventLoop.run {
            let loop = EventLoop.current!
            loop.spawn(name: "forever") {
                do {
                    try await loop.sleep(for: .seconds(3600))
                    outcome.mutate { $0 = "woke" }
                } catch {
                    outcome.mutate { $0 = "\(type(of: error))" }
                }
            }
            try await loop.sleep(for: .zero)
        }
        #expect(outcome.value == "CancellationError")
    }

    @Test func spawnedTasksAreListedWithNameAndState() async throws {
        try await withTestLoop { loop in
            let worker = loop.spawn(name: "worker") { try await loop.sleep(for: .seconds(5)) }
            let me = loop.spawn(name: "inspector") { loop.tasks }
            let seen = try await me.value
            #expect(seen.map(\.name) == ["worker", "inspector"])
            #expect(seen.first { $0.name == "inspector" }?.state == .running)
            #expect(seen.first { $0.name == "worker" }?.state == .waiting)
            try await worker.value
            #expect(loop.tasks.isEmpty)
        }
    }

    @Test func unnamedTasksGetAsyncioStyleNames() async throws {
        try await withTestLoop { loop in
            let name = try await loop.spawn { loop.tasks.first?.name ?? "" }.value
            #expect(name.hasPrefix("Task-"))
        }
    }

    @Test func eagerSpawnRunsUntilItsFirstSuspensionAtOnce() async throws {
        try await withTestLoop { loop in
            let started = Locked(false)
            let task = loop.spawn(eager: true) {
                started.mutate { $0 = true }
                try await loop.sleep(for: .seconds(1))
            }
            #expect(started.value)
            try await task.value
        }
    }

    @Test func submitFromEightThreadsRunsEveryJobOnTheLoop() async throws {
        let group = try EventLoopGroup(loops: 1, name: "submit")
        defer { group.shutdown() }
        let loop = group.next()
        let counter = Locked(0)
        let offLoop = Locked(0)
        let threads = try (0..<8).map { t in
            try SystemThread.spawn(name: "submitter-\(t)") {
                for i in 0..<10_000 {
                    let echoed = try! loop.submit {
                        if !loop.inEventLoop { offLoop.mutate { $0 += 1 } }
                        counter.mutate { $0 += 1 }
                        return i
                    }
                    precondition(echoed == i)
                }
            }
        }
        try await runBlocking { for thread in threads { thread.join() } }
        #expect(counter.value == 80_000)
        #expect(offLoop.value == 0)
    }

    @Test func submitOnTheLoopThreadThrowsInsteadOfDeadlocking() async throws {
        try await withTestLoop { loop in
            #expect(throws: EventLoopError.self) { try loop.submit { 1 } }
        }
    }

    @Test func actorPinnedToTheLoopRunsOnItsThread() async throws {
        actor Counter {
            let loop: EventLoop
            var count = 0
            init(loop: EventLoop) { self.loop = loop }
            nonisolated var unownedExecutor: UnownedSerialExecutor { loop.serialExecutor.asUnownedSerialExecutor() }
            func bump() -> Bool {
                count += 1
                return loop.inEventLoop
            }
        }
        let group = try EventLoopGroup(loops: 1, name: "actor")
        defer { group.shutdown() }
        let counter = Counter(loop: group.next())
        for _ in 0..<100 { #expect(await counter.bump()) }
        #expect(await counter.count == 100)
    }

    @Test func groupLoopsRunOnDistinctThreads() async throws {
        let group = try EventLoopGroup(loops: 3, name: "grp")
        defer { group.shutdown() }
        var ids: Set<Int32> = []
        for loop in group.loops {
            ids.insert(try await loop.spawn { SystemThread.currentID }.value)
        }
        #expect(ids.count == 3)
    }

    /// Busy-waits `milliseconds` of real time on the calling thread.
    private static func hold(milliseconds: Int64) {
        let end = MonotonicClock.nanoseconds() + milliseconds * 1_000_000
        while MonotonicClock.nanoseconds() < end {}
    }

    /// The slow jobs hold the loop just past the threshold (a spin on the clock holds at least that
    /// long); the threshold is high so that a quick job the loaded machine deschedules is not taken for
    /// a slow one (one was held 183 ms of real time, in a parallel run under AddressSanitizer, against
    /// the 30 ms threshold this test had).
    private static let slowHold: Int64 = 260

    /// Debug mode reports every kind of work that holds the loop past the threshold, by name, and only
    /// that (issue 12, bug 4: timer callbacks and writable handlers went unreported, and the main task
    /// and child tasks were "unnamed task").
    @Test func slowWorkIsReportedWithItsNameAndQuickWorkIsNot() async throws {
        let records = Locked<[String]>([])
        let logger = Logger(label: "test") { _ in CapturingLogHandler(records: records) }
        let loop = try EventLoop(name: "slow", debug: true, slowJobThreshold: .milliseconds(250), logger: logger)
        try loop.runMain {
            try await loop.spawn(name: "slowpoke") { Self.hold(milliseconds: Self.slowHold) }.value
            _ = try await loop.spawn(name: "quick") { (0..<1000).reduce(0, +) }.value
            Self.hold(milliseconds: Self.slowHold)  // the main task's own job
            await Task.yield()
            try await withTimeout(.seconds(10)) { Self.hold(milliseconds: Self.slowHold) }
            let fired = Event()
            loop.call(after: .milliseconds(1)) {
                Self.hold(milliseconds: Self.slowHold)
                fired.set()
            }
            try await fired.wait()
            // A writable handler runs inside the poll, on the socket's first writable edge.
            let (x, y) = try SocketOps.socketPair()
            let a = try loop.adopt(x), b = try loop.adopt(y)
            let handled = Event()
            a.setSendableHandler {
                Self.hold(milliseconds: Self.slowHold)
                a.setSendableHandler(nil)
                handled.set()
            }
            try await handled.wait()
            a.close()
            b.close()
        }
        let reports = records.value
        #expect(reports.contains { $0.contains("a job held") && $0.contains("slowpoke") }, "\(reports)")
        #expect(reports.contains { $0.contains("a job held") && ($0.contains("\"task\": main]") || $0.contains("\"task\": main,")) }, "\(reports)")
        // A timeout scope is no task of its own: its body's slow job is the main task's.
        #expect(reports.filter { $0.contains("a job held") && $0.contains("main") }.count >= 2, "\(reports)")
        #expect(reports.contains { $0.contains("a timer callback held") }, "\(reports)")
        #expect(reports.contains { $0.contains("an I/O callback held") }, "\(reports)")
        #expect(!reports.contains { $0.contains("quick") }, "\(reports)")
        #expect(!reports.contains { $0.contains("unnamed task") }, "\(reports)")
    }

    @Test func runLeavesNoThreadDescriptorOrTaskBehind() async {
        await #expect(processExitsWith: .success) {
            // One run first: the runtime and Dispatch start their own threads lazily.
            try! EventLoop.run { try await EventLoop.current!.sleep(for: .milliseconds(1)) }
            // The test runner in this process can start a thread or open a descriptor of its own at any
            // moment, so a clean round is retried (twice at most). A leak cannot pass: it grows with
            // every one of the 20 runs of every round.
            for _ in 0..<3 {
                let fds = ProcessStats.openFileDescriptorCount()
                let threads = ProcessStats.threadCount()
                for _ in 0..<20 {
                    try! EventLoop.run {
                        let loop = EventLoop.current!
                        for _ in 0..<10 { loop.spawn { try await loop.sleep(for: .seconds(3600)) } }
                        loop.call(after: .seconds(3600)) {}
                        _ = try await offload { 42 }  // starts the offload pool, which run shuts down
                        try await loop.sleep(for: .milliseconds(1))
                    }
                }
                let fdsAfter = ProcessStats.openFileDescriptorCount()
                let threadsAfter = ProcessStats.threadCount()
                if fdsAfter == fds && threadsAfter == threads { exit(0) }
                print("fds \(fds) -> \(fdsAfter), threads \(threads) -> \(threadsAfter)")
            }
            exit(1)
        }
    }

    /// Issue 12, bug 7: `EventLoop.run` inside a loop stopped the process (a precondition failure), and
    /// `runForever()` from one of the loop's own tasks ran the loop inside itself. Both now throw.
    @Test func coarseNowIsTheLastPollsTimeAndNeverAhead() async throws {
        try await withTestLoop(virtualTime: false) { loop in
            let before = loop.now
            try await loop.sleep(for: .milliseconds(2))  // the loop blocks in its poll for the timer
            let coarse = loop.coarseNow
            #expect(coarse >= before.advanced(by: .milliseconds(2)), "the poll that ended the sleep came after it was due")
            // Within a job it reads no clock: it stays where the last poll left it, behind `now`.
            let spinStart = loop.now
            while loop.now < spinStart.advanced(by: .milliseconds(1)) {}
            #expect(loop.coarseNow == coarse)
            #expect(loop.coarseNow.duration(to: loop.now) >= .milliseconds(1))
        }
        // On virtual time it is the virtual clock.
        try await withTestLoop { loop in
            try await loop.sleep(for: .seconds(3600))
            #expect(loop.coarseNow == loop.now)
        }
    }

    @Test func runningALoopInsideALoopIsRefusedWithAnError() async throws {
        try await withTestLoop { loop in
            do {
                _ = try EventLoop.run { 1 }
                Issue.record("a nested EventLoop.run was not refused")
            } catch let error as EventLoopError {
                #expect(error.code == .wouldDeadlock)
                #expect(error.description.contains("EventLoop.run"))
            }
            #expect(throws: EventLoopError.self) { try loop.runForever() }
            try await loop.sleep(for: .seconds(1))  // the loop carries on
        }
    }
}

struct CapturingLogHandler: LogHandler {
    let records: Locked<[String]>
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        records.mutate { $0.append("\(event.message) \(all)") }
    }
}


/// STYLE rule 9: a loop-bound object used from another loop fails loudly, with an error that names the
/// type, the function and both loops, instead of racing (issue 13: it no longer stops the process).
@Suite(.timeLimit(.minutes(1)))
struct LoopConfinementTests {
    @Test func aWriterUsedFromAnotherLoopThrowsAClearError() async throws {
        let group = try EventLoopGroup(loops: 2, name: "confined")
        defer { group.shutdown() }
        let (x, y) = try SocketOps.socketPair()
        defer { try? FileDescriptorOps.close(y) }
        let writer = try await group.loops[0].spawn { StreamWriter(socket: try group.loops[0].adopt(x)) }.value
        let error = await #expect(throws: EventLoopError.self) {
            try await group.loops[1].spawn { try await writer.write("hi") }.value
        }
        #expect(error?.code == .notOnLoop)
        let message = error?.description ?? ""
        #expect(message.contains("StreamWriter.write"), "\(message)")
        #expect(message.contains("loop \"confined-0\", which owns this StreamWriter"), "\(message)")
        #expect(message.contains("called on loop \"confined-1\""), "\(message)")
        // The writer still works on its own loop, and closes there.
        try await group.loops[0].spawn {
            try await writer.write("hi")
            await writer.close()
        }.value
    }
}

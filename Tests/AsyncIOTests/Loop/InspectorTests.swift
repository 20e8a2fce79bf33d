import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import Foundation
import Testing

/// Issue 16: what the inspector sees inside a loop. These tests inspect their own loop only
/// (``EventLoop/startInspection()``): starting the process's ``Inspector`` would make every loop of the
/// test process inspected while it runs. The socket, `aio ps` and `aio top` are tested with real
/// processes in `InspectCommandTests`.
@Suite(.timeLimit(.minutes(1)))
struct InspectorTests {
    /// The snapshot of the loop the caller runs on.
    private static func ownSnapshot() async throws -> LoopSnapshot {
        try #require(EventLoop.current).snapshot()
    }

    /// Takes snapshots until `isComplete` holds (the tasks have reached their waits), yielding between.
    private static func snapshot(until isComplete: (LoopSnapshot) -> Bool) async throws -> LoopSnapshot {
        for _ in 0..<10_000 {
            let snapshot = try await ownSnapshot()
            if isComplete(snapshot) { return snapshot }
            await Task.yield()
        }
        Issue.record("the tasks never reached their waits")
        return try await ownSnapshot()
    }

    @Test func eachTaskIsListedWithWhatItWaitsOnUnderTheTaskThatStartedIt() async throws {
        try await withTestLoop(virtualTime: false) { loop in
            loop.startInspection()
            let lock = Lock()
            try await lock.acquire()
            let queue = Queue<Int>()
            let event = Event()
            let (x, y) = try SocketOps.socketPair()
            let a = try loop.adopt(x), b = try loop.adopt(y)
            defer { a.close(); b.close() }
            let release = ThreadLatch()
            let child = try ChildProcess.spawn("/bin/sleep", arguments: ["30"])
            let spawned = Locked<[Task<Void, any Error>]>([])
            let parent = loop.spawn(name: "parent") {
                await withThrowingTaskGroup { group in
                    group.addTask { try await lock.acquire() }
                    let tasks = [
                        loop.spawn(name: "getter") { _ = try await queue.get() },
                        loop.spawn(name: "event waiter") { try await event.wait() },
                        loop.spawn(name: "sleeper") { try await loop.sleep(for: .seconds(30)) },
                        loop.spawn(name: "reader") { _ = try await loop.receive(a, upTo: 16) },
                        loop.spawn(name: "offloader") { try await offload { release.wait() } },
                        loop.spawn(name: "process waiter") { _ = try await child.wait() },
                    ]
                    spawned.mutate { $0 = tasks }
                    try? await group.next()
                }
            }
            let expected = ["getter", "event waiter", "sleeper", "reader", "offloader", "process waiter"]
            let snapshot = try await Self.snapshot { snapshot in
                expected.allSatisfy { name in snapshot.tasks.contains { $0.name == name && $0.waitingOn != nil } }
                    && snapshot.tasks.contains { $0.kind == "child" && $0.waitingOn == "Lock" }
            }
            let byName = Dictionary(snapshot.tasks.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            let parentID = try #require(byName["parent"]?.id)
            #expect(byName["getter"]?.waitingOn == "Queue.get")
            #expect(byName["event waiter"]?.waitingOn == "Event")
            #expect(byName["sleeper"]?.waitingOn?.hasPrefix("sleep, ") == true)
            #expect(byName["reader"]?.waitingOn?.hasPrefix("read fd \(a.fd) (") == true)
            #expect(byName["offloader"]?.waitingOn == "work on another thread")
            #expect(byName["process waiter"]?.waitingOn == "process \(child.pid)")
            for name in expected {
                #expect(byName[name]?.parent == parentID, "\(name) should hang under the task that spawned it")
                #expect(byName[name]?.kind == "spawned")
                #expect(byName[name]?.state == .waiting)
                #expect((byName[name]?.waitingNanoseconds ?? -1) >= 0)
            }
            // The task-group child the loop does not track: seen through its wait, under its parent.
            let groupChild = try #require(snapshot.tasks.first { $0.kind == "child" && $0.waitingOn == "Lock" })
            #expect(groupChild.parent == parentID)
            #expect(groupChild.ageNanoseconds == nil)
            // The test's own task takes the snapshot: it is not a spawned task, so it is not listed;
            // the registration and the child's pidfd are counted.
            #expect(snapshot.descriptors.values.reduce(0, +) >= 3)
            #expect(snapshot.timers >= 1)

            child.kill()
            _ = try? await child.wait()
            release.open()
            try await queue.put(1)
            event.set()
            try lock.release()
            try await loop.sendAll(b, [1])
            _ = await parent.result
            for task in spawned.value {
                if task == spawned.value[2] { task.cancel() }  // the sleeper
                _ = await task.result
            }
            loop.stopInspection()
        }
    }

    @Test func aTaskInGatherWaitsOnItsChildTasks() async throws {
        try await withTestLoop(virtualTime: false) { loop in
            loop.startInspection()
            defer { loop.stopInspection() }
            let event = Event()
            let gatherer = loop.spawn(name: "gatherer") {
                _ = try await gather({ try await event.wait() }, { try await event.wait() })
            }
            let snapshot = try await Self.snapshot { snapshot in
                snapshot.tasks.contains { $0.name == "gatherer" && $0.waitingOn != nil }
                    && snapshot.tasks.filter { $0.kind == "child" && $0.waitingOn == "Event" }.count == 2
            }
            let task = try #require(snapshot.tasks.first { $0.name == "gatherer" })
            #expect(task.waitingOn == "child tasks (gather)")
            #expect(snapshot.tasks.filter { $0.kind == "child" && $0.parent == task.id }.count == 2,
                    "its two children hang under it, each waiting on the event")
            event.set()
            _ = try await gatherer.value
        }
    }

    @Test func withoutInspectionNoWaitIsKept() async throws {
        try await withTestLoop(virtualTime: false) { loop in
            let event = Event()
            let waiter = loop.spawn(name: "uninspected waiter") { try await event.wait() }
            await Task.yield()
            await Task.yield()
            let snapshot = try await Self.ownSnapshot()
            let task = try #require(snapshot.tasks.first { $0.name == "uninspected waiter" })
            #expect(task.waitingOn == nil)
            #expect(task.parent == nil)
            #expect(!snapshot.tasks.contains { $0.kind == "child" })
            event.set()
            _ = try await waiter.value
        }
    }

    @Test func aLoopHeldByAJobIsReportedAsNotRespondingWithTheJobsTask() async throws {
        let held = try EventLoopGroup(loops: 1, name: "held-loop")
        let asker = try EventLoopGroup(loops: 1, name: "asking-loop")
        defer { asker.shutdown(); held.shutdown() }
        let loop = held.loops[0]
        _ = try await loop.spawn { loop.startInspection() }.value
        let started = Future<Void>()
        let release = ThreadLatch()
        loop.spawn(name: "blocker") {
            _ = started.complete(())
            release.wait()  // holds the loop's thread, as a blocking call in a task would
        }
        try await started.value
        let snapshot = try await asker.loops[0].spawn { await Inspector.snapshot(timeout: .milliseconds(200)) }.value
        release.open()
        let seen = try #require(snapshot.loops.first { $0.name == "held-loop-0" })
        #expect(seen.responsive == false)
        #expect(seen.busyTask == "blocker")
        #expect((seen.busyNanoseconds ?? 0) >= 150_000_000, "held for \(seen.busyNanoseconds ?? 0) ns")
        #expect(seen.tasks.contains { $0.name == "blocker" && $0.state == .running })
        // What goes over the wire decodes to the same thing.
        #expect(try JSONDecoder().decode(ProcessSnapshot.self, from: Data(snapshot.json.utf8)) == snapshot)
        // Once released, it answers again.
        let later = try await asker.loops[0].spawn { await Inspector.snapshot(timeout: .seconds(5)) }.value
        #expect(later.loops.first { $0.name == "held-loop-0" }?.responsive == true)
    }

    @Test func timerLagIsTheLastAndTheWorstOfTheLastSeconds() async throws {
        try await withTestLoop(virtualTime: false) { loop in
            loop.startInspection()
            defer { loop.stopInspection() }
            let fired = Future<Void>()
            _ = loop.call(after: .milliseconds(1)) { _ = fired.complete(()) }
            // A job that holds the loop for 300 ms: the timer fires at least 250 ms late. (The margin is
            // wide because the later 1 ms sleep's own lag is real time too: a loaded machine, such as CI
            // running tests in parallel on 2 cores, once made it 54 ms.)
            let until = MonotonicClock.nanoseconds() + 300_000_000
            while MonotonicClock.nanoseconds() < until {}
            try await fired.value
            let first = try await Self.ownSnapshot()
            #expect(first.maxLagNanoseconds >= 250_000_000, "lag \(first.maxLagNanoseconds) ns")
            try await loop.sleep(for: .milliseconds(1))
            let second = try await Self.ownSnapshot()
            #expect(second.lagNanoseconds < 250_000_000, "the last lag is the 1 ms sleep's")
            #expect(second.maxLagNanoseconds >= 250_000_000, "looking does not reset the worst lag")
            #expect(second.jobs > first.jobs && second.turns > first.turns)
        }
    }

    @Test func theJSONDecodesToTheSameSnapshot() async throws {
        try await withTestLoop(virtualTime: false) { loop in
            loop.startInspection()
            defer { loop.stopInspection() }
            let event = Event()
            let names = ["quote \" and backslash \\", "line\nbreak\ttab", "ünïcødé ✓ \u{1}"]
            let tasks = names.map { name in loop.spawn(name: name) { try await event.wait() } }
            let snapshot = try await Self.snapshot { snapshot in
                names.allSatisfy { name in snapshot.tasks.contains { $0.name == name && $0.waitingOn == "Event" } }
            }
            let process = ProcessSnapshot(pid: 42, loops: [snapshot])
            let json = process.json
            #expect(!json.contains("\n"), "one line on the wire")
            #expect(try JSONDecoder().decode(ProcessSnapshot.self, from: Data(json.utf8)) == process)
            event.set()
            for task in tasks { _ = try await task.value }
        }
    }
}

// Loop micro-benchmarks (issue: runtime core). Run in release:
//   swift run -c release LoopBenchmarks [--runs 5] [--only name,name]
// Prints "name<TAB>ns/op<TAB>allocations/op", medians over the runs. See BENCHMARKS.md.
import AsyncIO
import AsyncIOSystem
import BenchmarkHarness
import Synchronization

let options = BenchmarkOptions()
let runs = options.runs

func wanted(_ name: String) -> Bool { options.wants(name) }

/// Runs `body` as the main task of a fresh loop (the benchmark's operations happen inside).
func onLoop(_ body: @escaping @Sendable (EventLoop) async throws -> Void) throws {
    try EventLoop.run { loop in try await body(loop) }
}

// 1. Await on the loop: a task yields and the loop resumes it (suspend + resume, one turn).
if wanted("await_yield") {
    report(try measure("await_yield", operations: 1_000_000, runs: runs) { n in
        try onLoop { _ in for _ in 0..<n { await Task.yield() } }
    })
}

// 2. Await on the loop between two tasks: each resumes the other's continuation and suspends
//    (what an I/O wake-up costs: resume a waiter, switch to it). One op = one switch.
final class Baton: @unchecked Sendable {
    var waiting: UnsafeContinuation<Void, Never>?
    var count = 0
}
if wanted("await_pingpong") {
    report(try measure("await_pingpong", operations: 1_000_000, runs: runs) { n in
        try onLoop { loop in
            let baton = Baton()
            let rounds = n / 2
            let player: @Sendable () async -> Void = {
                for _ in 0..<rounds {
                    await withUnsafeContinuation { (mine: UnsafeContinuation<Void, Never>) in
                        let other = baton.waiting
                        baton.waiting = mine
                        other?.resume()
                    }
                }
                baton.waiting?.resume()
                baton.waiting = nil
            }
            let a = loop.spawn { await player() }
            let b = loop.spawn { await player() }
            _ = try await (a.value, b.value)
        }
    })
}

// 3. Spawn a task on the loop and join it.
if wanted("spawn_join") {
    report(try measure("spawn_join", operations: 200_000, runs: runs) { n in
        try onLoop { loop in
            for i in 0..<n { _ = try await loop.spawn { i }.value }
        }
    })
}
if wanted("child_task_join") {
    report(try measure("child_task_join", operations: 200_000, runs: runs) { n in
        try onLoop { _ in
            for i in 0..<n {
                _ = await withTaskGroup(of: Int.self) { group in
                    group.addTask { i }
                    return await group.next()!
                }
            }
        }
    })
}

// 4. Schedule 1,000,000 timers at random deadlines within 1 s of virtual time and fire them all.
//    Virtual time, so the figure is the cost of the heap and the firing, not the wall-clock wait.
if wanted("timers_1m") {
    report(try measure("timers_1m", operations: 1_000_000, runs: runs) { n in
        let loop = try EventLoop(name: "timers", virtualTime: true)
        try loop.runMain {
            let fired = Baton()
            var random = SplitMix(seed: 42)
            await withUnsafeContinuation { (done: UnsafeContinuation<Void, Never>) in
                fired.waiting = done
                for _ in 0..<n {
                    loop.call(after: .nanoseconds(Int64(random.next() % 1_000_000_000))) {
                        fired.count += 1
                        if fired.count == n { fired.waiting?.resume() }
                    }
                }
            }
        }
    })
}

// 5. 1,000,000 timeout scopes that do not fire.
if wanted("timeout_scope") {
    report(try measure("timeout_scope", operations: 1_000_000, runs: runs) { n in
        try onLoop { _ in
            var sum = 0
            for i in 0..<n { sum &+= try await withTimeout(.seconds(10)) { i } }
            precondition(sum > 0)
        }
    })
}

// 5b. Timeout scopes whose deadline is moved while the body waits (asyncio's Timeout.reschedule):
//     one op = a scope, a reschedule and one suspension in it.
if wanted("timeout_reschedule") {
    report(try measure("timeout_reschedule", operations: 200_000, runs: runs) { n in
        try onLoop { _ in
            for _ in 0..<n {
                try await withTimeout(.seconds(10)) { scope in
                    scope.reschedule(after: .seconds(20))
                    await Task.yield()
                }
            }
        }
    })
}

// 5c. asyncio.wait(FIRST_COMPLETED) over two tasks, one finishing at once: one op = two spawns, one
//     wait; the other task is then cancelled.
if wanted("wait_first_completed") {
    report(try measure("wait_first_completed", operations: 50_000, runs: runs) { n in
        try onLoop { loop in
            for i in 0..<n {
                let quick = loop.spawn { i }
                let slow = loop.spawn { try await loop.sleep(for: .seconds(10)); return i }
                let (done, _) = try await wait([quick, slow], returnWhen: .firstCompleted)
                precondition(done.count >= 1)
                slow.cancel()
                _ = try? await slow.value
            }
        }
    })
}

// 5d. `Task {}` + `await .value` with the loop as Swift's default executor (the opt-in), against
//     DefaultExecutorBenchmarks' spawn_join on Swift's own pool.
if wanted("task_unstructured") {
    report(try measure("task_unstructured", operations: 200_000, runs: runs) { n in
        try EventLoop.run(defaultExecutor: true) { _ in
            for i in 0..<n { _ = await Task { i }.value }
        }
    })
}

// 6. Cross-thread submit: 8 plain threads each submit work to one loop and wait for its result.
if wanted("submit_8_threads") {
    report(try measure("submit_8_threads", operations: 80_000, runs: runs) { n in
        let group = try EventLoopGroup(loops: 1, name: "submit")
        let loop = group.next()
        let threads = try (0..<8).map { t in
            try SystemThread.spawn(name: "submitter-\(t)") {
                for i in 0..<(n / 8) { precondition(try! loop.submit { i } == i) }
            }
        }
        for thread in threads { thread.join() }
        group.shutdown()
    })
}

// The LoopBenchmarks workloads on Swift's default executor (`Task {}`, `Task.sleep`, task groups),
// the peer that AsyncIO's loop must beat. Run: swift run -c release DefaultExecutorBenchmarks
import AsyncIOSystem
import BenchmarkHarness
import Synchronization

let options = BenchmarkOptions()

/// Runs `body` on the default executor and blocks until it finishes.
func onGlobal(_ body: @escaping @Sendable () async throws -> Void) {
    let latch = ThreadLatch()
    Task.detached {
        try! await body()
        latch.open()
    }
    latch.wait()
}

if options.wants("await_yield") {
    report(measure("await_yield", operations: 1_000_000, runs: options.runs) { n in
        onGlobal { for _ in 0..<n { await Task.yield() } }
    })
}

final class Baton: Sendable {
    let waiting = Mutex<UnsafeContinuation<Void, Never>?>(nil)
}
if options.wants("await_pingpong") {
    report(measure("await_pingpong", operations: 400_000, runs: options.runs) { n in
        onGlobal {
            let baton = Baton()
            let rounds = n / 2
            let player: @Sendable () async -> Void = {
                for _ in 0..<rounds {
                    await withUnsafeContinuation { (mine: UnsafeContinuation<Void, Never>) in
                        let other = baton.waiting.withLock { waiting in
                            defer { waiting = mine }
                            return waiting
                        }
                        other?.resume()
                    }
                }
                baton.waiting.withLock { waiting in
                    waiting?.resume()
                    waiting = nil
                }
            }
            async let a: Void = player()
            async let b: Void = player()
            _ = await (a, b)
        }
    })
}

if options.wants("spawn_join") {
    report(measure("spawn_join", operations: 200_000, runs: options.runs) { n in
        onGlobal { for i in 0..<n { _ = await Task { i }.value } }
    })
}

// The same workload as LoopBenchmarks' task_unstructured (Task {} + await .value).
if options.wants("task_unstructured") {
    report(measure("task_unstructured", operations: 200_000, runs: options.runs) { n in
        onGlobal { for i in 0..<n { _ = await Task { i }.value } }
    })
}

if options.wants("child_task_join") {
    report(measure("child_task_join", operations: 200_000, runs: options.runs) { n in
        onGlobal {
            for i in 0..<n {
                _ = await withTaskGroup(of: Int.self) { group in
                    group.addTask { i }
                    return await group.next()!
                }
            }
        }
    })
}

// A million timers: a million tasks each sleeping up to 1 ms (real time, as in the Python peer).
if options.wants("timers_1m") {
    report(measure("timers_1m", operations: 1_000_000, runs: options.runs) { n in
        onGlobal {
            var random = SplitMix(seed: 42)
            await withDiscardingTaskGroup { group in
                for _ in 0..<n {
                    let delay = Int64(random.next() % 1_000_000)
                    group.addTask { try? await Task.sleep(for: .nanoseconds(delay)) }
                }
            }
        }
    })
}

// The ecosystem's timeout: race the body against Task.sleep in a task group.
struct TimedOut: Error {}
func withGroupTimeout<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            throw TimedOut()
        }
        let value = try await group.next()!
        group.cancelAll()
        return value
    }
}
if options.wants("timeout_scope") {
    report(measure("timeout_scope", operations: 100_000, runs: options.runs) { n in
        onGlobal {
            var sum = 0
            for i in 0..<n { sum &+= try await withGroupTimeout(.seconds(10)) { i } }
            precondition(sum > 0)
        }
    })
}

// 8 plain threads each start a task and block until it has run.
final class Box: @unchecked Sendable { var value = 0 }
if options.wants("submit_8_threads") {
    report(measure("submit_8_threads", operations: 80_000, runs: options.runs) { n in
        let threads = (0..<8).map { t in
            try! SystemThread.spawn(name: "submitter-\(t)") {
                for i in 0..<(n / 8) {
                    let latch = ThreadLatch()
                    let box = Box()
                    Task {
                        box.value = i
                        latch.open()
                    }
                    latch.wait()
                    precondition(box.value == i)
                }
            }
        }
        for thread in threads { thread.join() }
    })
}

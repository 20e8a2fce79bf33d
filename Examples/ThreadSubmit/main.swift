// Tutorial 13: submitting work to a loop from another thread (asyncio.run_coroutine_threadsafe).
import AsyncIO
import AsyncIOSystem

// A loop running in a thread of its own, as a GUI or a legacy program would host it.
let group = try EventLoopGroup(loops: 1, name: "worker-loop")
let loop = group.loops[0]

// From this plain thread: run async code on the loop and block for its result.
let answer = try loop.submit {
    try await loop.sleep(for: .milliseconds(50))
    return 6 * 7
}
print("submit returned \(answer)")

// From several threads at once: every job runs on the loop, one at a time, no locks needed.
final class Counter: @unchecked Sendable { var value = 0 }
let counter = Counter()
let threads = try (0..<4).map { index in
    try SystemThread.spawn(name: "client-\(index)") {
        for _ in 0..<1000 {
            _ = try? loop.submit { counter.value += 1 }
        }
    }
}
for thread in threads { thread.join() }
print("4 threads × 1000 jobs: counter is \(try loop.submit { counter.value })")

// Errors travel back to the submitting thread.
struct Refused: Error {}
do {
    _ = try loop.submit { () async throws -> Int in throw Refused() }
} catch is Refused {
    print("the job's error came back to the thread")
}
group.shutdown()

// Benchmarks of the asyncio batteries (issue 4). Run in release:
//   swift run -c release BatteryBenchmarks [--runs 5] [--only name,name]
// Prints "name<TAB>ns/op<TAB>allocations/op"; Benchmarks/peers/battery_bench.py does the same in Python.
import AsyncIO
import AsyncIOSystem
import BenchmarkHarness

let options = BenchmarkOptions()

func onLoop(_ body: @escaping @Sendable (EventLoop) async throws -> Void) throws {
    try EventLoop.run { loop in try await body(loop) }
}

// Two tasks hand a Lock back and forth: one op = one acquire + release with a waiter to hand it to.
if options.wants("lock_handoff") {
    report(try measure("lock_handoff", operations: 200_000, runs: options.runs) { n in
        try onLoop { loop in
            let lock = Lock()
            let worker: @Sendable () async throws -> Void = {
                for _ in 0..<(n / 2) {
                    try await lock.acquire()
                    await Task.yield()
                    try lock.release()
                }
            }
            let a = loop.spawn { try await worker() }
            let b = loop.spawn { try await worker() }
            _ = try await (a.value, b.value)
        }
    })
}

// 10,000 tasks wait on one Event, which is then set: one op = one waiter woken.
if options.wants("event_broadcast_10k") {
    report(try measure("event_broadcast_10k", operations: 10_000, runs: options.runs) { n in
        try onLoop { loop in
            let event = Event()
            let tasks = (0..<n).map { _ in loop.spawn { try await event.wait() } }
            await Task.yield()
            event.set()
            for task in tasks { try await task.value }
        }
    })
}

// Two tasks pass an item back and forth through two queues: one op = a round trip, in which each
// task's get waits for the other's put (two waits; queue_1m seldom waits).
if options.wants("queue_pingpong") {
    report(try measure("queue_pingpong", operations: 200_000, runs: options.runs) { n in
        try onLoop { loop in
            let there = Queue<Int>()
            let back = Queue<Int>()
            let echo = loop.spawn { for _ in 0..<n { try await back.put(try await there.get()) } }
            for i in 0..<n {
                try await there.put(i)
                let returned = try await back.get()
                precondition(returned == i)
            }
            try await echo.value
        }
    })
}

// queue_pingpong with every get inside a timeout (asyncio's `async with asyncio.timeout(...)`): a wait
// in an open cancel scope, which ties itself to the scope as well as to the task.
if options.wants("queue_pingpong_timeout") {
    report(try measure("queue_pingpong_timeout", operations: 200_000, runs: options.runs) { n in
        try onLoop { loop in
            let there = Queue<Int>()
            let back = Queue<Int>()
            let echo = loop.spawn {
                for _ in 0..<n {
                    let item = try await withTimeout(.seconds(60)) { try await there.get() }
                    try await back.put(item)
                }
            }
            for i in 0..<n {
                try await there.put(i)
                let returned = try await withTimeout(.seconds(60)) { try await back.get() }
                precondition(returned == i)
            }
            try await echo.value
        }
    })
}

// One producer, one consumer, 1,000,000 items through a queue bounded at 1,000.
if options.wants("queue_1m") {
    report(try measure("queue_1m", operations: 1_000_000, runs: options.runs) { n in
        try onLoop { loop in
            let queue = Queue<Int>(maxSize: 1_000)
            let producer = loop.spawn { for i in 0..<n { try await queue.put(i) } }
            var sum = 0
            for _ in 0..<n { sum &+= try await queue.get() }
            try await producer.value
            precondition(sum == n * (n - 1) / 2)
        }
    })
}

// offload round trip: hand trivial work to the pool and get the result back.
if options.wants("offload_roundtrip") {
    report(try measure("offload_roundtrip", operations: 20_000, runs: options.runs) { n in
        try onLoop { _ in
            for i in 0..<n {
                let echoed = try await offload { i }
                precondition(echoed == i)
            }
        }
    })
}

// A static file server's work: open a small (cached) file, stat it, read its 4 KiB, close it; on the
// offload pool (epoll loop) and in the ring (io_uring loop).
for backend in [EventLoop.Backend.epoll, .ioURing] where options.wants("file_small_\(backend.rawValue)") {
    let path = "/tmp/aio-battery-file-4k"
    try EventLoop.run(backend: backend) { _ in try await File.write([UInt8](repeating: 7, count: 4096), to: path) }
    report(try measure("file_small_\(backend.rawValue)", operations: 20_000, runs: options.runs) { n in
        try EventLoop.run(backend: backend) { loop in
            precondition(loop.backend == backend)
            for _ in 0..<n {
                let file = try await File.open(path)
                let size = try await file.status().size
                let bytes = try await file.read(upTo: size)
                precondition(bytes.count == 4096)
                try await file.close()
            }
        }
    })
}

// Spawn /bin/true and wait for it, 1,000 times.
if options.wants("spawn_wait_true") {
    report(try measure("spawn_wait_true", operations: 1_000, runs: options.runs) { n in
        try onLoop { _ in
            for _ in 0..<n {
                let status = try await ChildProcess.spawn("/bin/true").wait()
                precondition(status == .exited(0))
            }
        }
    })
}

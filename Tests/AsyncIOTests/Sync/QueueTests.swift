import AsyncIO
import AsyncIOTesting
import Testing

@Suite(.timeLimit(.minutes(1)))
struct QueueTests {
    @Test func fifoLifoAndPriorityOrder() async throws {
        try await withTestLoop { _ in
            let fifo = Queue<Int>(), lifo = LIFOQueue<Int>(), priority = PriorityQueue<Int>()
            for i in [3, 1, 2] {
                try await fifo.put(i)
                try await lifo.put(i)
                try await priority.put(i)
            }
            #expect([try await fifo.get(), try await fifo.get(), try await fifo.get()] == [3, 1, 2])
            #expect([try await lifo.get(), try await lifo.get(), try await lifo.get()] == [2, 1, 3])
            #expect([try await priority.get(), try await priority.get(), try await priority.get()] == [1, 2, 3])
        }
    }

    struct Job: Comparable, Sendable {
        let priority: Int
        let name: String
        static func < (a: Job, b: Job) -> Bool { a.priority < b.priority }
    }

    @Test func priorityTiesComeOutInPutOrder() async throws {
        try await withTestLoop { _ in
            let queue = PriorityQueue<Job>()
            for name in ["a", "b", "c"] { try await queue.put(Job(priority: 1, name: name)) }
            try await queue.put(Job(priority: 0, name: "urgent"))
            var names: [String] = []
            while let job = queue.tryGet() { names.append(job.name) }
            #expect(names == ["urgent", "a", "b", "c"])
        }
    }

    @Test func boundedPutWaitsAndWaitersAreServedInOrder() async throws {
        try await withTestLoop { loop in
            let queue = Queue<Int>(maxSize: 2)
            #expect(queue.tryPut(1))
            #expect(queue.tryPut(2))
            #expect(!queue.tryPut(3))
            #expect(queue.isFull)
            let putters = (3...5).map { i in loop.spawn { try await queue.put(i) } }
            try await settle(loop)
            var got: [Int] = []
            for _ in 0..<5 { got.append(try await queue.get()) }
            for putter in putters { try await putter.value }
            #expect(got == [1, 2, 3, 4, 5])
        }
    }

    @Test func waitingGettersAreServedInOrder() async throws {
        try await withTestLoop { loop in
            let queue = Queue<String>()
            let getters = (0..<3).map { _ in loop.spawn { try await queue.get() } }
            try await settle(loop)
            for item in ["x", "y", "z"] { try await queue.put(item) }
            #expect([try await getters[0].value, try await getters[1].value, try await getters[2].value] == ["x", "y", "z"])
        }
    }

    @Test func aCancelledGetterNeverTakesAnItem() async throws {
        try await withTestLoop { loop in
            let queue = Queue<Int>()
            let cancelled = loop.spawn { try await queue.get() }
            let patient = loop.spawn { try await queue.get() }
            try await settle(loop)
            cancelled.cancel()
            await #expect(throws: CancellationError.self) { try await cancelled.value }
            try await queue.put(42)
            #expect(try await patient.value == 42)
            #expect(queue.isEmpty)
        }
    }

    @Test func aCancelledPutterAddsNothing() async throws {
        try await withTestLoop { loop in
            let queue = Queue<Int>(maxSize: 1)
            try await queue.put(1)
            let cancelled = loop.spawn { try await queue.put(2) }
            try await settle(loop)
            cancelled.cancel()
            await #expect(throws: CancellationError.self) { try await cancelled.value }
            #expect(try await queue.get() == 1)
            #expect(queue.tryGet() == nil)
        }
    }

    @Test func joinWaitsForEveryTaskDone() async throws {
        try await withTestLoop { loop in
            let queue = Queue<Int>()
            for i in 0..<10 { try await queue.put(i) }
            let processed = Locked(0)
            let workers = (0..<3).map { _ in
                loop.spawn {
                    while let _ = queue.tryGet() {
                        try await loop.sleep(for: .milliseconds(10))
                        processed.mutate { $0 += 1 }
                        try queue.taskDone()
                    }
                }
            }
            try await queue.join()
            #expect(processed.value == 10)
            for worker in workers { try await worker.value }
            #expect(throws: QueueError.self) { try queue.taskDone() }
        }
    }

    @Test func shutdownWakesWaitersAndEndsIteration() async throws {
        try await withTestLoop { loop in
            let queue = Queue<Int>(maxSize: 1)
            try await queue.put(1)
            let blockedPutter = loop.spawn { try await queue.put(2) }
            try await settle(loop)
            queue.shutdown()
            await #expect(throws: QueueError.self) { try await blockedPutter.value }
            await #expect(throws: QueueError.self) { try await queue.put(3) }
            var drained: [Int] = []
            for try await item in queue { drained.append(item) }  // drains, then ends
            #expect(drained == [1])
            let emptyGetter = loop.spawn { try await queue.get() }
            await #expect(throws: QueueError.self) { try await emptyGetter.value }
        }
    }

    @Test func immediateShutdownDropsItemsAndReleasesJoin() async throws {
        try await withTestLoop { loop in
            let queue = Queue<Int>()
            for i in 0..<5 { try await queue.put(i) }
            let joiner = loop.spawn { try await queue.join() }
            try await settle(loop)
            queue.shutdown(immediate: true)
            try await joiner.value
            #expect(queue.isEmpty)
            await #expect(throws: QueueError.self) { try await queue.get() }
        }
    }

    @Test func producersAndConsumersOnTwoLoops() async throws {
        let group = try EventLoopGroup(loops: 2, name: "queue")
        let queue = Queue<Int>(maxSize: 10)
        let producers = (0..<4).map { p in
            group.loops[p % 2].spawn { for i in 0..<2_500 { try await queue.put(p * 10_000 + i) } }
        }
        let consumers = (0..<4).map { c in
            group.loops[(c + 1) % 2].spawn {
                var sum = 0
                for _ in 0..<2_500 { sum += try await queue.get() }
                return sum
            }
        }
        for producer in producers { try await producer.value }
        var total = 0
        for consumer in consumers { total += try await consumer.value }
        try await runBlocking { group.shutdown() }
        let expected = (0..<4).reduce(0) { sum, p in sum + (0..<2_500).reduce(0) { $0 + p * 10_000 + $1 } }
        #expect(total == expected)
    }
}

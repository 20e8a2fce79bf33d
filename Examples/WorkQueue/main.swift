// Tutorial 9: a queue distributing jobs to workers (producer/consumer), with join.
import AsyncIO

try EventLoop.run { loop in
    let jobs = Queue<Int>(maxSize: 5)  // bounded: the producer waits when the workers fall behind
    let results = Queue<(job: Int, line: String)>()

    // Three workers take jobs until the queue shuts down.
    let workers = (1...3).map { worker in
        loop.spawn(name: "worker-\(worker)") {
            for try await job in jobs {
                try await loop.sleep(for: .milliseconds(10 * (job % 3 + 1)))
                try await results.put((job, "job \(job) squared is \(job * job), by worker \(worker)"))
                try jobs.taskDone()
            }
        }
    }

    // The producer.
    for job in 1...10 { try await jobs.put(job) }
    try await jobs.join()  // every job processed
    jobs.shutdown()
    for worker in workers { try await worker.value }

    var done: [(job: Int, line: String)] = []
    while let result = results.tryGet() { done.append(result) }
    for result in done.sorted(by: { $0.job < $1.job }) { print(result.line) }
    print("all \(done.count) jobs done")
}

// Tutorial 4: structured concurrency: gather several coroutines, a task group, a timeout, and
// cancellation handled cleanly.
import AsyncIO

try EventLoop.run { loop in

    func work(_ name: String, seconds: Double) async throws -> String {
        try await loop.sleep(for: .milliseconds(Int64(seconds * 1000)))
        return "\(name) done after \(seconds) s"
    }

    // asyncio.gather: run together, results in argument order.
    let (a, b, c) = try await gather(
        { try await work("a", seconds: 0.3) },
        { try await work("b", seconds: 0.1) },
        { try await work("c", seconds: 0.2) }
    )
    print("gather:", a, "|", b, "|", c)

    // asyncio.TaskGroup: children finish (or fail) together; results as they complete.
    var finished: [String] = []
    try await withThrowingTaskGroup(of: String.self) { group in
        for (name, seconds) in [("x", 0.2), ("y", 0.1)] {
            group.addTask(executorPreference: loop) { try await work(name, seconds: seconds) }
        }
        for try await result in group { finished.append(result) }
    }
    print("task group:", finished.joined(separator: " | "))

    // asyncio.timeout: the slow call is cut off; the caller carries on.
    do {
        _ = try await withTimeout(.milliseconds(100)) { try await work("slow", seconds: 5) }
    } catch is TimeoutError {
        print("timeout: the slow call was cancelled after 0.1 s")
    }

    // Cancellation: the task sees it at its next await and cleans up.
    let task = loop.spawn(name: "cancellable") {
        do {
            try await loop.sleep(for: .seconds(10))
            print("not reached")
        } catch is CancellationError {
            print("cancelled: cleaning up")
            throw CancellationError()
        }
    }
    try await loop.sleep(for: .milliseconds(50))
    task.cancel()
    do {
        try await task.value
    } catch is CancellationError {
        print("the task ended with CancellationError")
    }
}

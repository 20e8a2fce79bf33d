// Tutorial 6: callbacks versus coroutines. A callback-style API (timers with call(after:), a
// completion handler, a blocking call on a thread that reports back) bridged to async/await with a
// continuation.
import AsyncIO
import AsyncIOSystem

/// A callback-style API, as older libraries have: it calls `completion` later, on the loop.
func fetchGreeting(for name: String, on loop: EventLoop, completion: @escaping @Sendable (String) -> Void) {
    _ = loop.call(after: .milliseconds(100)) { completion("hello, \(name)") }
}

/// The same as an async function: a continuation resumed by the callback.
func greeting(for name: String, on loop: EventLoop) async -> String {
    await withCheckedContinuation { continuation in
        fetchGreeting(for: name, on: loop) { continuation.resume(returning: $0) }
    }
}

/// A blocking call on a plain thread that reports back to the loop with callSoon.
func blockingSum(upTo n: Int, on loop: EventLoop, completion: @escaping @Sendable (Int) -> Void) throws {
    try SystemThread.spawn(name: "worker") {
        let sum = (1...n).reduce(0, +)  // pretend this blocks
        loop.callSoon { completion(sum) }
    }.detach()
}

try EventLoop.run { loop in

    // Callbacks: timers fire in deadline order. The deadlines count from one instant: with
    // call(after:) each counts from its own call, and a pause of 20 ms between the first two lines (a
    // busy machine) would put "10 ms" after "30 ms".
    let done = Event()
    let start = loop.now
    _ = loop.call(at: start.advanced(by: .milliseconds(30))) { print("timer: 30 ms") }
    _ = loop.call(at: start.advanced(by: .milliseconds(10))) { print("timer: 10 ms") }
    _ = loop.call(at: start.advanced(by: .milliseconds(50))) {
        print("timer: 50 ms")
        done.set()
    }
    try await done.wait()

    // A completion handler, called with the result...
    let handled = Event()
    fetchGreeting(for: "callback", on: loop) { text in
        print("completion handler:", text)
        handled.set()
    }
    try await handled.wait()

    // ...and the same API awaited like any coroutine.
    print("awaited:", await greeting(for: "coroutine", on: loop))

    // A blocking call on a thread, its answer brought back to the loop and awaited.
    let sum = try await withCheckedThrowingContinuation { continuation in
        do {
            try blockingSum(upTo: 100, on: loop) { continuation.resume(returning: $0) }
        } catch {
            continuation.resume(throwing: error)
        }
    }
    print("from a thread: sum =", sum)
}

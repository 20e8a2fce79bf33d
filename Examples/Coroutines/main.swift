// Tutorial 2: a generator-style coroutine that receives values (Python's `yield` / `send`), and its
// async/await successor.
//
// Python:
//     def coroutine():
//         print("Start coroutine")
//         while True:
//             value = yield
//             print(f"Received: {value}")
//
// In Swift, a task reading from an AsyncStream plays the generator; `yield` on the stream is `send`.
import AsyncIO

try EventLoop.run { loop in

    // 1. The generator style: the coroutine suspends until a value is sent.
    let (values, sender) = AsyncStream.makeStream(of: Int.self)
    let coroutine = loop.spawn(name: "coroutine") {
        print("Start coroutine")
        for await value in values {
            print("Received: \(value)")
        }
        print("Coroutine closed")
    }
    for value in 0..<3 {
        sender.yield(value)  // coroutine.send(value)
        try await loop.sleep(for: .milliseconds(100))
    }
    sender.finish()  // coroutine.close()
    try await coroutine.value

    // 2. The async/await successor: the same steps as an async function that sleeps.
    func counter(_ count: Int) async throws {
        print("Start coroutine")
        for value in 0..<count {
            try await loop.sleep(for: .milliseconds(100))
            print("Received: \(value)")
        }
    }
    try await counter(3)
}

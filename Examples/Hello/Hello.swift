// The README's first program: a task, gather, and a timeout the caller survives.
import AsyncIO

@main
struct Hello {
    static func main() throws {
        let total = try EventLoop.run { loop in                        // asyncio.run
            let slow = loop.spawn(name: "slow") {             // asyncio.create_task
                try await loop.sleep(for: .seconds(1))
                return 40
            }
            let (a, b) = try await gather(                    // asyncio.gather
                { try await loop.sleep(for: .milliseconds(200)); return 1 },
                { 1 }
            )
            do {
                try await withTimeout(.milliseconds(100)) {   // asyncio.timeout
                    try await loop.sleep(for: .seconds(5))
                }
            } catch is TimeoutError {
                print("timed out, and the task carries on")
            }
            return try await slow.value + a + b
        }
        print(total)  // 42
    }
}

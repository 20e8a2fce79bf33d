// Tutorial 12: CPU-bound work moved off the loop with offload (asyncio.to_thread), while the loop
// stays responsive. A ticker wakes every 10 ms and records how late it runs: first with the work done
// on the loop (the ticker waits until it ends), then with the work offloaded to threads.
import AsyncIO

/// Deliberately slow: counts primes below `limit` by trial division.
func countPrimes(below limit: Int) -> Int {
    var count = 0
    for candidate in 2..<limit {
        var isPrime = true
        var divisor = 2
        while divisor * divisor <= candidate {
            if candidate % divisor == 0 { isPrime = false; break }
            divisor += 1
        }
        if isPrime { count += 1 }
    }
    return count
}

/// Runs `work` while a ticker measures the loop's lateness; returns the worst lateness.
func worstLateness(on loop: EventLoop, during work: () async throws -> Void) async throws -> Duration {
    let worst = Worst()
    let ticker = loop.spawn(name: "ticker") {
        var next = loop.now
        while true {
            next = next.advanced(by: .milliseconds(10))
            try await loop.sleep(until: next)
            worst.record(next.duration(to: loop.now))
        }
    }
    try await loop.sleep(for: .milliseconds(20))  // the ticker is running
    try await work()
    // Let the ticker see its late tick before it stops: cancelled first, its timer would never fire.
    try await loop.sleep(for: .milliseconds(20))
    ticker.cancel()
    _ = try? await ticker.value
    return worst.value
}

/// The worst lateness seen, kept on the loop.
final class Worst: @unchecked Sendable {
    private(set) var value: Duration = .zero
    func record(_ late: Duration) { value = max(value, late) }
}

func milliseconds(_ duration: Duration) -> Int {
    Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
}

try EventLoop.run { loop in
    let limit = 600_000

    // 1. On the loop: nothing else runs until the count is done.
    let blocked = try await worstLateness(on: loop) {
        print("on the loop: \(countPrimes(below: limit)) primes")
    }

    // 2. Offloaded to a thread: the loop goes on ticking while the counts run, one after the other (on a
    //    two-core machine, one core stays free for the loop even when other programs are busy).
    let offloaded = try await worstLateness(on: loop) {
        let a = try await offload { countPrimes(below: limit) }
        let b = try await offload { countPrimes(below: limit) }
        print("offloaded: \(a) and \(b) primes")
    }

    print("ticker lateness with the work on the loop: \(milliseconds(blocked)) ms")
    print("ticker lateness with the work offloaded: \(milliseconds(offloaded)) ms")
    print(offloaded * 2 < blocked ? "offload kept the loop responsive" : "the loop was not responsive")
}

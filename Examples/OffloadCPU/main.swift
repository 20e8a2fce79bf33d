// Tutorial 12: CPU-bound work moved off the loop with offload (asyncio.to_thread), while the loop
// stays responsive: a ticker measures how late the loop runs it.
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

try EventLoop.run {
    let loop = EventLoop.current!
    // The ticker wakes every 10 ms and records how late each wake-up is.
    let lateness = LatenessLog()
    let ticker = loop.spawn(name: "ticker") {
        var next = loop.now
        while true {
            next = next.advanced(by: .milliseconds(10))
            try await loop.sleep(until: next)
            lateness.record(next.duration(to: loop.now))
        }
    }
    async let first = offload { countPrimes(below: 400_000) }
    async let second = offload { countPrimes(below: 400_000) }
    let (a, b) = try await (first, second)
    ticker.cancel()
    _ = try? await ticker.value
    print("primes below 400000: \(a) and \(b), computed on offload threads")
    print("ticks while computing: \(lateness.count)")
    print("loop stayed responsive: \(lateness.worst < .milliseconds(50) ? "yes" : "no") (worst lateness \(lateness.worst))")
}

/// Ticker lateness, kept on the loop.
final class LatenessLog: @unchecked Sendable {
    private(set) var count = 0
    private(set) var worst: Duration = .zero
    func record(_ late: Duration) {
        count += 1
        worst = max(worst, late)
    }
}

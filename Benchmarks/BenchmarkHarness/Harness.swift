import CMallocCounter

func exitFailure() -> Never { cmalloc_counter_exit_failure() }

/// One benchmark result: the median over runs of time and allocations per operation.
public struct Measurement {
    public let name: String
    public let nanosecondsPerOp: Double
    public let allocationsPerOp: Double
}

/// Runs `body` (which performs `operations` operations and returns nothing) `runs` times and reports
/// the medians. `body` is handed the operation count so one closure serves every run.
public func measure(
    _ name: String,
    operations: Int,
    runs: Int,
    _ body: (Int) throws -> Void
) rethrows -> Measurement {
    var times: [Double] = []
    var allocations: [Double] = []
    let clock = ContinuousClock()
    for _ in 0..<runs {
        let mallocs = cmalloc_counter_allocations()
        let start = clock.now
        try body(operations)
        let elapsed = start.duration(to: clock.now)
        let allocated = cmalloc_counter_allocations() - mallocs
        let (seconds, attoseconds) = elapsed.components
        times.append((Double(seconds) * 1e9 + Double(attoseconds) / 1e9) / Double(operations))
        allocations.append(Double(allocated) / Double(operations))
    }
    return Measurement(name: name, nanosecondsPerOp: median(times), allocationsPerOp: median(allocations))
}

public func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

public func report(_ m: Measurement) {
    // name, ns/op, allocations/op: tab-separated for Benchmarks/run-loop-benchmarks.sh
    let ns = (m.nanosecondsPerOp * 10).rounded() / 10
    let allocs = (m.allocationsPerOp * 100).rounded() / 100
    print("\(m.name)\t\(ns)\t\(allocs)")
}

/// Command-line options shared by the benchmark executables: `[--runs N] [--only a,b]`.
public struct BenchmarkOptions: Sendable {
    public var runs = 5
    public var only: Set<String>?

    public init(arguments: [String] = CommandLine.arguments) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--runs": runs = Int(iterator.next() ?? "") ?? runs
            case "--only": only = Set((iterator.next() ?? "").split(separator: ",").map(String.init))
            default:
                print("usage: \(arguments.first ?? "benchmark") [--runs N] [--only name,...]")
                exitFailure()
            }
        }
    }

    public func wants(_ name: String) -> Bool { only?.contains(name) ?? true }
}

/// A small deterministic PRNG (no Foundation).
public struct SplitMix: Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

import CMallocCounter

/// One benchmark result: the median over runs of time and allocations per operation.
struct Measurement {
    let name: String
    let nanosecondsPerOp: Double
    let allocationsPerOp: Double
}

/// Runs `body` (which performs `operations` operations and returns nothing) `runs` times and reports
/// the medians. `body` is handed the operation count so one closure serves every run.
func measure(
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

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func report(_ m: Measurement) {
    // name, ns/op, allocations/op: tab-separated for Benchmarks/run-loop-benchmarks.sh
    let ns = (m.nanosecondsPerOp * 10).rounded() / 10
    let allocs = (m.allocationsPerOp * 100).rounded() / 100
    print("\(m.name)\t\(ns)\t\(allocs)")
}

extension EventLoop {
    /// Stops the process, naming `type`, `function` and this loop, unless called on this loop's thread
    /// (STYLE rule 9: misuse is loud and early). Every loop-bound type calls it at its public entries:
    /// one thread-local read, cheap enough for release builds.
    @inline(__always)
    public func preconditionInLoop(_ type: StaticString, _ function: StaticString = #function) {
        if !inEventLoop { confinementViolation(type, function) }
    }

    @inline(never)
    private func confinementViolation(_ type: StaticString, _ function: StaticString) -> Never {
        let here = EventLoop.current.map { "loop \"\($0.name)\"" } ?? "a thread that runs no loop"
        preconditionFailure(
            "\(type).\(function) called on \(here): a \(type) belongs to loop \"\(name)\" and is used only by "
                + "tasks running there (hand the work over with spawn on that loop)"
        )
    }
}

extension EventLoop {
    /// Throws ``EventLoopError`` `.notOnLoop`, naming `type`, `function` and this loop, unless called on
    /// this loop's thread (STYLE rule 9: misuse is loud and early, and never a crash). Every loop-bound
    /// type calls it at its public entries: one thread-local read, cheap enough for release builds.
    @inline(__always)
    public func checkInLoop(_ type: StaticString, _ function: StaticString = #function) throws(EventLoopError) {
        if !inEventLoop { throw confinementViolation(type, function) }
    }

    @inline(never)
    private func confinementViolation(_ type: StaticString, _ function: StaticString) -> EventLoopError {
        let here = EventLoop.current.map { "loop \"\($0.name)\"" }
            ?? "a thread that runs no loop (Swift's global pool, for a plain Task { })"
        return EventLoopError(.notOnLoop, operation: "\(type).\(function)",
                              detail: "loop \"\(name)\", which owns this \(type), but was called on \(here)")
    }

    /// The loop of the calling task.
    ///
    /// - Throws: ``EventLoopError`` `.notOnLoop`, naming `function`, when the caller runs on no loop.
    @inlinable
    public static func requireCurrent(_ function: StaticString = #function) throws(EventLoopError) -> EventLoop {
        guard let loop = EventLoop.current else { throw notOnLoop(function) }
        return loop
    }

    @usableFromInline @inline(never)
    static func notOnLoop(_ function: StaticString) -> EventLoopError {
        EventLoopError(.notOnLoop, operation: "\(function)",
                       detail: "an EventLoop, but was called on a thread that runs no loop (Swift's global pool, "
                           + "for a plain Task { })")
    }
}

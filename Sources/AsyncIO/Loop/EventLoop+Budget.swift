extension EventLoop {
    /// Counts one I/O operation that completed without waiting against the running job's budget, and
    /// yields once the budget is spent (Tokio's `coop`, libuv's 32 reads per callback).
    ///
    /// Reads and writes that can complete at once never suspend, so a task copying from a fast peer
    /// (`for try await chunk in reader.chunks { try await writer.write(chunk) }`) would otherwise hold
    /// the loop for as long as the peer keeps up, and every other connection would wait. The budget
    /// (64 operations) is reset whenever a job starts; every socket, pipe, datagram, signal and TLS
    /// operation of this library calls this, and so can a custom ``ByteStream``'s users.
    ///
    /// Off the loop's thread it does nothing.
    ///
    /// ### Cancellation
    /// Not a cancellation point: the yield returns even if the task is cancelled.
    @inline(__always)
    public nonisolated(nonsending) func cooperate() async {
        guard inEventLoop else { return }
        await cooperateOnLoop()
    }

    /// ``cooperate()`` for callers that have already checked they run on this loop (every loop-bound
    /// type does at its entry): no second thread-local read on the hot path.
    @inline(__always)
    package nonisolated(nonsending) func cooperateOnLoop() async {
        if spendIOBudget() { await Task.yield() }
    }

    /// Counts one operation against the job's I/O budget; true when the budget is spent and the caller
    /// should yield (`await Task.yield()`). ``cooperateOnLoop()`` for other modules: that async
    /// function cannot be inlined across modules, and a call to it cost a task allocation (one a
    /// request in the HTTP server).
    @inline(__always)
    package func spendIOBudget() -> Bool {
        ioBudget -= 1
        return ioBudget <= 0
    }

}

import Synchronization

extension EventLoop {
    /// Whether nothing on the loop can make progress right now: no other work is ready, the last poll
    /// found no event, and no other thread has handed work over. Read by a task of the loop (for
    /// `AsyncIOTesting`'s `waitUntilAllTasksBlocked`), whose own job is the one running.
    package var isQuiescent: Bool {
        precondition(inEventLoop, "isQuiescent is read by a task of the loop")
        return ready.isEmpty && lastPollEventCount == 0 && !inboxPending.load(ordering: .acquiring)
    }
}

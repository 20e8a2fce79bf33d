import AsyncIOSystem
import Synchronization

/// Several event loops, each on a thread of its own: one per core for servers that scale out
/// (each loop with its own `SO_REUSEPORT` listener).
///
/// ### Thread safety
/// All members are safe from any thread, except that ``shutdown()`` must not be called from one of the
/// group's own loops (it waits for them).
public final class EventLoopGroup: Sendable {
    /// The loops, one per thread.
    public let loops: [EventLoop]
    private let threads: [SystemThread]
    private let cursor = Atomic<Int>(0)
    private let isShutDown = Atomic<Bool>(false)

    /// Starts `loops` loops (default: one per online core), each on a new thread named `name-N`, on
    /// `backend` (see ``EventLoop/Backend``).
    ///
    /// - Throws: ``EventLoopError`` if a loop or thread cannot be created; the ones already started are
    ///   shut down first.
    public convenience init(loops count: Int = SystemInfo.coreCount, name: String = "aio", backend: EventLoop.Backend = .automatic) throws {
        try self.init(loops: count, name: name, backend: backend, ringReceiveBuffers: EventLoop.defaultRingReceiveBuffers)
    }

    /// ``init(loops:name:backend:)`` with io_uring receive pools of `ringReceiveBuffers` buffers, for tests.
    package init(loops count: Int, name: String, backend: EventLoop.Backend, ringReceiveBuffers: Int) throws {
        precondition(count > 0, "an EventLoopGroup needs at least one loop")
        var loops: [EventLoop] = []
        var threads: [SystemThread] = []
        do {
            for index in 0..<count {
                let loop = try EventLoop(name: "\(name)-\(index)", backend: backend, ringReceiveBuffers: ringReceiveBuffers)
                let thread = try SystemThread.spawn(name: "\(name)-\(index)") {
                    try? loop.runForever()  // a new thread runs no loop yet: this never throws
                    loop.shutdown()
                }
                loops.append(loop)
                threads.append(thread)
            }
        } catch {
            for loop in loops { loop.stop() }
            for thread in threads { thread.join() }
            if let error = error as? EventLoopError { throw error }
            throw EventLoopError(.system, operation: "EventLoopGroup.init", underlying: error as? Errno)
        }
        self.loops = loops
        self.threads = threads
    }

    /// The next loop, round robin.
    public func next() -> EventLoop {
        loops[cursor.add(1, ordering: .relaxed).oldValue % loops.count]
    }

    /// Stops every loop (each cancels and awaits its tasks) and joins the threads. Calling it twice is
    /// harmless. Blocks the calling thread.
    public func shutdown() {
        guard !isShutDown.exchange(true, ordering: .acquiringAndReleasing) else { return }
        precondition(EventLoop.current.map { current in !loops.contains { $0 === current } } ?? true,
                     "EventLoopGroup.shutdown() called from one of its own loops")
        for loop in loops { loop.stop() }
        for thread in threads { thread.join() }
    }
}

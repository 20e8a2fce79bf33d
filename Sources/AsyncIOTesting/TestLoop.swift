import AsyncIO
import AsyncIOSystem

/// What a test loop found left behind when its body returned.
public struct TestLoopLeak: Error, CustomStringConvertible {
    /// Spawned tasks still alive, by name and state.
    public let tasks: [TaskInfo]
    /// Spawned tasks that have not even started.
    public let unstartedTasks: Int
    /// Timers still pending.
    public let timers: Int
    /// Descriptors still registered with the loop.
    public let registrations: Int
    /// Descriptors opened on the loop's thread during the test (sockets, accepted connections, pipes,
    /// files) and still open once the loop has shut down, registered or not.
    public let descriptors: [Int32]
    /// Errors reported to the loop's exception handler: from tasks nobody awaits, from server handlers.
    public let unhandledErrors: [LoopException]

    /// Whether anything at all was left behind.
    var isEmpty: Bool {
        tasks.isEmpty && unstartedTasks == 0 && timers == 0 && registrations == 0 && unhandledErrors.isEmpty
            && descriptors.isEmpty
    }

    public var description: String {
        var parts: [String] = []
        if !tasks.isEmpty { parts.append("\(tasks.count) task(s) still alive: \(tasks.map(\.description).joined(separator: "; "))") }
        if unstartedTasks > 0 { parts.append("\(unstartedTasks) spawned task(s) not yet started") }
        if timers > 0 { parts.append("\(timers) timer(s) still pending") }
        if registrations > 0 { parts.append("\(registrations) descriptor(s) still registered") }
        if !descriptors.isEmpty {
            parts.append("\(descriptors.count) descriptor(s) opened and never closed: \(descriptors.map(String.init).joined(separator: ", "))")
        }
        if !unhandledErrors.isEmpty {
            parts.append("\(unhandledErrors.count) unhandled error(s): \(unhandledErrors.map(\.description).joined(separator: "; "))")
        }
        return "test loop leaked: " + parts.joined(separator: ", ")
    }
}

/// Runs `body` on a fresh `EventLoop` on a thread of its own, with virtual time, and fails if it leaves
/// anything behind (libuv's `MAKE_VALGRIND_HAPPY`).
///
/// Virtual time: whenever no work is ready and no descriptor is ready, the loop's clock jumps straight to
/// the next timer. A test of a one-hour timeout runs in microseconds, over real sockets too, and the
/// order of events is deterministic. Work done on other threads (the global executor, `Task.detached`)
/// does not hold the clock back: keep such work out of virtual-time tests, or pass
/// `virtualTime: false`.
///
/// After `body` returns, and before the loop shuts down, the loop must have no spawned task alive, no
/// timer pending and no descriptor registered, no descriptor opened on the loop's thread may stay open
/// after the loop shuts down (a raw socket pair never closed), and no error may have reached the loop's exception
/// handler (a task nobody awaits threw, a server handler threw); otherwise this throws ``TestLoopLeak``
/// (the loop then cleans up as `EventLoop.run` does, so one failing test does not disturb the next).
/// A test that expects such errors sets its own handler with `loop.setExceptionHandler`.
///
/// ```swift
/// @Test func sleepAdvancesVirtualTime() async throws {
///     try await withTestLoop { loop in
///         let start = loop.now
///         try await loop.sleep(for: .seconds(3600))
///         #expect(start.duration(to: loop.now) == .seconds(3600))
///     }
/// }
/// ```
///
/// - Throws: What `body` throws, or ``TestLoopLeak``.
///
/// ### Cancellation
/// Cancelling the calling task does not reach the loop: `body` runs to completion.
/// - Parameters:
///   - virtualTime: Whether the clock jumps to the next timer when the loop is idle (the default).
///   - autojumpThreshold: With virtual time and sockets registered, how long the idle loop waits in real
///     time for the kernel (loopback data or a FIN still on its way) before it jumps (Trio's autojump
///     threshold; 25 ms by default, 0 to jump at once).
///   - debug: Debug mode (slow-job reports).
///   - defaultExecutor: Make the loop Swift's global executor while the test runs, so that `Task {}`
///     runs on it (see `EventLoop.run(defaultExecutor:)`). That is process-wide: every `Task {}` of
///     the process, the test runner's too, then runs on this loop. Use it in a test of its own process
///     (an exit test) or in a suite that runs serially and alone.
///   - backend: The loop's backend: as `AIO_BACKEND` says by default, or epoll or io_uring by name.
///   - body: The test.
@discardableResult
public func withTestLoop<Value: Sendable>(
    virtualTime: Bool = true,
    autojumpThreshold: Duration = .milliseconds(25),
    debug: Bool = false,
    defaultExecutor: Bool = false,
    backend: EventLoop.Backend = .automatic,
    _ body: sending @escaping (EventLoop) async throws -> Value
) async throws -> Value {
    let loop = try EventLoop(name: "test-loop", debug: debug, virtualTime: virtualTime, backend: backend)
    let (seconds, attoseconds) = autojumpThreshold.components
    loop.autojumpThresholdMilliseconds = Int32(clamping: max(0, seconds * 1000 + attoseconds / 1_000_000_000_000_000))
    // `body` is `sending`: handing it to the loop thread cannot race with the caller.
    nonisolated(unsafe) let body = body
    let handoff = ThreadHandoff()
    let outcome: Result<Value, any Error> = await withCheckedContinuation { continuation in
        do {
            handoff.thread = try SystemThread.spawn(name: "test-loop") {
                var result: Result<Value, any Error>
                DescriptorLedger.begin()
                do {
                    result = .success(try loop.runMain({
                        let unhandled = UnhandledErrors()
                        loop.setExceptionHandler { exception in
                            unhandled.append(exception)
                            loop.defaultExceptionHandler(exception)
                        }
                        let value = try await body(loop)
                        let tasks = loop.tasks
                        let leak = TestLoopLeak(
                            tasks: tasks,
                            unstartedTasks: loop.taskCount - tasks.count,
                            timers: loop.pendingTimerCount,
                            registrations: loop.registrationCount,
                            descriptors: [],
                            unhandledErrors: unhandled.taken()
                        )
                        if !leak.isEmpty { throw leak }
                        return value
                    }, interruptible: false, defaultExecutor: defaultExecutor))
                } catch {
                    result = .failure(error)
                }
                // Descriptors opened on this thread and still open after the loop closed what it owned:
                // reported, then closed, so one failing test does not disturb the next.
                let leaked = DescriptorLedger.end()
                if !leaked.isEmpty {
                    for fd in leaked { try? FileDescriptorOps.close(fd) }
                    if case .success = result {
                        result = .failure(TestLoopLeak(tasks: [], unstartedTasks: 0, timers: 0, registrations: 0,
                                                       descriptors: leaked, unhandledErrors: []))
                    }
                }
                handoff.latch.wait()  // the spawning thread has stored `thread`
                continuation.resume(returning: result)
            }
        } catch {
            continuation.resume(returning: .failure(error))
        }
        handoff.latch.open()
    }
    // The loop thread resumed us as its very last act: this join waits microseconds at most.
    handoff.thread?.join()
    return try outcome.get()
}

/// The errors a test loop's exception handler received.
private final class UnhandledErrors: Sendable {
    private let errors = LockedState<[LoopException]>([])
    func append(_ exception: LoopException) { errors.withLock { $0.append(exception) } }
    func taken() -> [LoopException] { errors.withLock { $0 } }
}

extension EventLoop {
    /// Returns once every other task of the loop is blocked: nothing else is ready to run, no socket
    /// event is pending, no other thread has handed work over (Trio's `wait_all_tasks_blocked`). Tests
    /// use it instead of sleeping or yielding "a few times" to let the other tasks get to their waits.
    ///
    /// It does not move virtual time. A task that never blocks (it only yields) keeps it waiting.
    ///
    /// ### Cancellation
    /// Not a cancellation point.
    public func waitUntilAllTasksBlocked() async {
        repeat { await Task.yield() } while !isQuiescent
    }
}

/// Hands the loop thread's handle to the caller once it has been stored.
private final class ThreadHandoff: @unchecked Sendable {
    var thread: SystemThread?
    let latch = ThreadLatch()
}

/// Whether this test process runs under the thread sanitizer. Its instrumentation makes byte-by-byte
/// loops about a hundred times slower, so volume tests shrink their payloads there: the sanitizer run is
/// for races, the ordinary run for volume.
public let isThreadSanitized = SystemInfo.isThreadSanitized

/// Runs blocking work (a thread join, a blocking pipe read, a process wait) on a thread kept for such
/// work and awaits it from any task, without blocking Swift's cooperative pool, which tests running in
/// parallel need. There are 16 such threads: work that blocks for long holds one, and the 17th call
/// made meanwhile waits for a thread to come free.
///
/// The wait goes through a loop: the worker hands its result back through the loop's inbox, so the
/// hand-off is visible to the thread sanitizer even when the caller is not on a loop.
///
/// ### Cancellation
/// Only the wait stops; the work finishes on its thread.
public func runBlocking<Result: Sendable>(_ work: @escaping @Sendable () throws -> Result) async throws -> Result {
    let loop = BlockingWork.group.loops[0]
    return try await loop.spawn(name: "runBlocking") { try await BlockingWork.pool.run(work) }.value
}

private enum BlockingWork {
    static let pool: ThreadPool = {
        // Not 4: four calls blocked on output that never ended (a pipe another process held open) once
        // held all four, and every other test that needed one waited behind them until its time limit.
        // Blocked threads cost no CPU; each holds one test's wait, not everyone's.
        do { return try ThreadPool(threads: 16, name: "test-blocking") } catch {
            preconditionFailure("cannot start the test's blocking threads: \(error)")
        }
    }()
    static let group: EventLoopGroup = {
        do { return try EventLoopGroup(loops: 1, name: "test-blocking-loop") } catch {
            preconditionFailure("cannot start the test's blocking loop: \(error)")
        }
    }()
}

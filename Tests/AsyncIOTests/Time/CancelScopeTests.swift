import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import Testing

/// Deadlines as cancel scopes (issue 13): no child task, movable while the body runs, honoured by every
/// AsyncIO wait of the task and of its child tasks.
@Suite(.timeLimit(.minutes(1)))
struct CancelScopeTests {
    @Test func aDeadlineMovedLaterLetsTheBodyFinish() async throws {
        try await withTestLoop { loop in
            let start = loop.now
            let value = try await withTimeout(.seconds(2)) { scope in
                try await loop.sleep(for: .seconds(1))
                scope.reschedule(after: .seconds(5))
                #expect(scope.deadline == start.advanced(by: .seconds(6)))
                try await loop.sleep(for: .seconds(3))
                return "finished"
            }
            #expect(value == "finished")
            #expect(start.duration(to: loop.now) == .seconds(4))
            #expect(loop.pendingTimerCount == 0)
        }
    }

    @Test func aDeadlineMovedEarlierFiresThen() async throws {
        try await withTestLoop { loop in
            let start = loop.now
            let error = await #expect(throws: TimeoutError.self) {
                try await withTimeout(.seconds(10)) { scope in
                    try await loop.sleep(for: .seconds(1))
                    scope.reschedule(after: .seconds(1))
                    try await loop.sleep(for: .seconds(5))
                }
            }
            #expect(start.duration(to: loop.now) == .seconds(2))
            #expect(error?.deadline == start.advanced(by: .seconds(2)))
        }
    }

    @Test func aDeadlineMovedWhileTheBodyWaitsTakesEffectAtOnce() async throws {
        try await withTestLoop { loop in
            let start = loop.now
            await #expect(throws: TimeoutError.self) {
                try await withTimeout(.seconds(100)) { scope in
                    loop.call(after: .seconds(1)) { scope.reschedule(after: .seconds(2)) }
                    try await loop.sleep(for: .seconds(50))
                }
            }
            #expect(start.duration(to: loop.now) == .seconds(3))
        }
    }

    @Test func aRemovedDeadlineNeverFires() async throws {
        try await withTestLoop { loop in
            let start = loop.now
            try await withTimeout(.seconds(1)) { scope in
                try await loop.sleep(for: .milliseconds(500))
                scope.reschedule(nil)
                #expect(scope.deadline == nil)
                try await loop.sleep(for: .seconds(5))
                #expect(!scope.expired)
            }
            #expect(start.duration(to: loop.now) == .milliseconds(5500))
        }
    }

    /// The reschedule and the firing land in the same turn: whichever timer was created first wins, and
    /// the outcome is consistent either way (never a timeout with a body that finished, or the reverse).
    @Test func aRescheduleRacingTheFiringIsDecisive() async throws {
        try await withTestLoop { loop in
            let deadline = loop.now.advanced(by: .seconds(1))
            // Created before the scope's timer (armed by the body's first wait): runs first and saves it.
            let value = try await withDeadline(deadline) { scope in
                loop.call(at: deadline) { scope.reschedule(after: .seconds(1)) }
                try await loop.sleep(for: .milliseconds(1500))
                return 1
            }
            #expect(value == 1)

            // Created after the scope's timer: the scope has already cancelled, the reschedule is too late.
            let later = loop.now.advanced(by: .seconds(1))
            var scopeSeen: CancelScope?
            await #expect(throws: TimeoutError.self) {
                try await withDeadline(later) { scope in
                    scopeSeen = scope
                    try await loop.sleep(for: .zero)  // the first wait arms the scope's timer
                    loop.call(at: later) { scope.reschedule(after: .seconds(10)) }
                    try await loop.sleep(for: .seconds(5))
                }
            }
            #expect(scopeSeen?.expired == true)
            #expect(loop.now == later)
        }
    }

    @Test func nestedScopesFiringTogetherThrowOneTimeoutError() async throws {
        try await withTestLoop { loop in
            let start = loop.now
            await #expect(throws: TimeoutError.self) {
                try await withTimeout(.seconds(1)) {
                    try await withTimeout(.seconds(1)) { try await loop.sleep(for: .seconds(5)) }
                }
            }
            #expect(start.duration(to: loop.now) == .seconds(1))
        }
    }

    /// An outer deadline cancels the waits inside an inner scope; the inner scope did not fire, so it
    /// passes the cancellation on and the outer one reports the timeout with its own deadline.
    @Test func anOuterDeadlineReachesIntoAnInnerScope() async throws {
        try await withTestLoop { loop in
            let start = loop.now
            var innerCaught: (any Error)?
            let error = await #expect(throws: TimeoutError.self) {
                try await withTimeout(.seconds(1)) {
                    do {
                        try await withTimeout(.seconds(10)) { try await loop.sleep(for: .seconds(5)) }
                    } catch {
                        innerCaught = error
                        throw error
                    }
                }
            }
            #expect(innerCaught is CancellationError)
            #expect(error?.deadline == start.advanced(by: .seconds(1)))
            // An inner moveOnAfter firing first does not disturb the outer scope.
            let outcome = try await withTimeout(.seconds(10)) {
                let inner: Void? = try await moveOnAfter(.seconds(1)) { _ in try await loop.sleep(for: .seconds(5)) }
                try await loop.sleep(for: .seconds(1))
                return inner == nil ? "moved on" : "finished"
            }
            #expect(outcome == "moved on")
        }
    }

    @Test func moveOnAfterReturnsNilOrTheValue() async throws {
        try await withTestLoop { loop in
            let late = try await moveOnAfter(.seconds(1)) { _ in
                try await loop.sleep(for: .seconds(2))
                return 1
            }
            #expect(late == nil)
            let early = try await moveOnAfter(.seconds(1)) { _ in 2 }
            #expect(early == 2)
            await #expect(throws: Boom.self) { try await moveOnAfter(.seconds(1)) { _ in throw Boom() } }
        }
    }

    /// Once a scope has cancelled, every further wait inside it throws at once: a body that swallows the
    /// first cancellation cannot wait past its deadline.
    @Test func aCancelledScopeRefusesFurtherWaits() async throws {
        try await withTestLoop { loop in
            let start = loop.now
            await #expect(throws: TimeoutError.self) {
                try await withTimeout(.seconds(1)) {
                    do { try await loop.sleep(for: .seconds(5)) } catch {}
                    try await loop.sleep(for: .seconds(5))
                }
            }
            #expect(start.duration(to: loop.now) == .seconds(1))
        }
    }

    @Test func aScopeThatNeverWaitsArmsNoTimer() async throws {
        try await withTestLoop { loop in
            let inside = try await withTimeout(.seconds(5)) { loop.pendingTimerCount }
            #expect(inside == 0)
        }
    }

    @Test func childTasksInheritTheScope() async throws {
        try await withTestLoop { loop in
            let start = loop.now
            await #expect(throws: TimeoutError.self) {
                try await withTimeout(.seconds(1)) {
                    async let a: Void = loop.sleep(for: .seconds(5))
                    async let b: Void = loop.sleep(for: .seconds(7))
                    _ = try await (a, b)
                }
            }
            await #expect(throws: TimeoutError.self) {
                try await withTimeout(.seconds(1)) {
                    _ = try await gather({ try await loop.sleep(for: .seconds(5)) }, { try await loop.sleep(for: .seconds(6)) })
                }
            }
            #expect(start.duration(to: loop.now) == .seconds(2))
        }
    }

    /// Each of several waits in one scope is cancelled by it on its own (the children catch their
    /// cancellation, so no sibling's failure cancels the others), and one that ended before is untied.
    @Test func everyWaitInTheScopeIsCancelledByIt() async throws {
        try await withTestLoop { loop in
            let start = loop.now
            let outcomes = try await moveOnAfter(.seconds(1)) { _ in
                await withTaskGroup(of: (Int, Bool).self) { group in
                    for (index, seconds) in [0.5, 5, 7, 3].enumerated() {
                        group.addTask {
                            do {
                                try await loop.sleep(for: .seconds(seconds))
                                return (index, false)
                            } catch {
                                return (index, true)
                            }
                        }
                    }
                    var cancelled: [Int: Bool] = [:]
                    for await (index, wasCancelled) in group { cancelled[index] = wasCancelled }
                    return cancelled
                }
            }
            #expect(outcomes == [0: false, 1: true, 2: true, 3: true])
            #expect(start.duration(to: loop.now) == .seconds(1))
        }
    }

    @Test func spawnedAndShieldedWorkOutlivesTheScope() async throws {
        try await withTestLoop { loop in
            var spawned: Task<Int, any Error>?
            await #expect(throws: TimeoutError.self) {
                try await withTimeout(.seconds(1)) {
                    spawned = loop.spawn {
                        try await loop.sleep(for: .seconds(3))
                        return 7
                    }
                    try await loop.sleep(for: .seconds(5))
                }
            }
            #expect(try await spawned?.value == 7)
            let finished = Event()
            await #expect(throws: TimeoutError.self) {
                try await withTimeout(.seconds(1)) {
                    try await shield {
                        try await loop.sleep(for: .seconds(2))
                        finished.set()
                    }
                }
            }
            try await finished.wait()
        }
    }

    /// What the docs promise for an await not built on the loop: it is not interrupted; the deadline
    /// takes effect at the next AsyncIO wait, or the body's value is returned if there is none.
    @Test func aForeignAwaitRunsToCompletionAndTheNextLoopWaitThrows() async throws {
        try await withTestLoop { loop in
            let start = loop.now
            func foreign() async {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    loop.call(after: .seconds(3)) { continuation.resume() }
                }
            }
            var afterForeign = false
            await #expect(throws: TimeoutError.self) {
                try await withTimeout(.seconds(1)) {
                    await foreign()
                    afterForeign = true
                    try await loop.sleep(for: .seconds(1))
                }
            }
            #expect(afterForeign)
            #expect(start.duration(to: loop.now) == .seconds(3))
            let value = try await withTimeout(.seconds(1)) {
                await foreign()
                return "returned"
            }
            #expect(value == "returned")
        }
    }

    /// I/O, queue and lock waits all honour the scope, and each primitive still works afterwards: the
    /// interrupted wait took nothing.
    @Test func everyKindOfWaitHonoursTheScopeAndLosesNothing() async throws {
        try await withTestLoop { loop in
            let (x, y) = try SocketOps.socketPair()
            let a = try loop.adopt(x), b = try loop.adopt(y)
            let reader = StreamReader(socket: a)
            let writer = StreamWriter(socket: b)
            #expect(try await moveOnAfter(.seconds(1)) { _ in try await reader.readLine() } == nil)
            try await writer.write("late\n")
            #expect(try await reader.readLine() == Array("late\n".utf8))

            let queue = Queue<Int>()
            #expect(try await moveOnAfter(.seconds(1)) { _ in try await queue.get() } == nil)
            #expect(queue.tryPut(5))
            #expect(try await queue.get() == 5)

            let lock = Lock()
            try await lock.acquire()
            #expect(try await moveOnAfter(.seconds(1)) { _ in try await lock.acquire() } == nil)
            try lock.release()
            try await lock.acquire()
            try lock.release()

            let event = Event()
            #expect(try await moveOnAfter(.seconds(1)) { _ in try await event.wait() } == nil)
            await writer.close()
            a.close()
        }
    }
}

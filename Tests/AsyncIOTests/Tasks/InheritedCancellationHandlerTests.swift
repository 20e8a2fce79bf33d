import AsyncIO
import AsyncIOTesting
import Testing

/// The library's cancellation handlers without executor switches (`withInheritedCancellationHandler`,
/// `withInheritedThrowingContinuation(onCancel:_:)`): the semantics of `withTaskCancellationHandler`
/// around a wait, from the same runtime calls.
@Suite(.timeLimit(.minutes(1)))
struct InheritedCancellationHandlerTests {
    /// A wait parked on the loop, and what happened to it, in order.
    private final class Parked: @unchecked Sendable {
        var continuation: UnsafeContinuation<Int, any Error>?
        var events: [String] = []
        let handlerRuns = Locked(0)

        /// The cancellation handler's part (any thread): counts the call and resumes the wait from a
        /// job of the loop, as the library's waits do.
        func cancelSoon(on loop: EventLoop) {
            handlerRuns.mutate { $0 += 1 }
            loop.callSoon {
                self.events.append("handler job")
                self.continuation.take()?.resume(throwing: CancellationError())
            }
        }

        /// Cancels `task`, parked here with its handler not run yet, and expects the handler to run
        /// once and end the wait with `CancellationError`.
        nonisolated(nonsending) func cancelAndExpectTheHandlerToEndTheWait(of task: Task<Int, any Error>, on loop: EventLoop) async throws {
            #expect(handlerRuns.value == 0)
            task.cancel()
            try await loop.sleep(for: .seconds(1))
            #expect(handlerRuns.value == 1)
            endIfStillParked()
            await #expect(throws: CancellationError.self) { try await task.value }
        }

        /// Parks the calling task with no cancellation handler: only the test resumes it.
        nonisolated(nonsending) func parkWithoutHandler() async throws -> Int {
            try await withInheritedThrowingContinuation { (continuation: UnsafeContinuation<Int, any Error>) in
                self.continuation = continuation
            }
        }

        /// Ends a wait that the handler did not end (with a value, which the tests do not expect), so
        /// that a broken handler fails the test rather than hang it.
        func endIfStillParked() {
            continuation.take()?.resume(returning: -1)
        }

        /// Parks the calling task with the handler installed.
        nonisolated(nonsending) func park(on loop: EventLoop) async throws -> Int {
            try await withInheritedThrowingContinuation(onCancel: { self.cancelSoon(on: loop) }) {
                (continuation: UnsafeContinuation<Int, any Error>) in
                events.append(handlerRuns.value == 0 ? "body" : "body after the handler")
                self.continuation = continuation
            }
        }
    }

    @Test func cancellingAParkedTaskRunsTheHandlerWhichEndsTheWait() async throws {
        try await withTestLoop { loop in
            let parked = Parked()
            let task = loop.spawn { try await parked.park(on: loop) }
            try await loop.sleep(for: .seconds(1))
            #expect(parked.continuation != nil)
            try await parked.cancelAndExpectTheHandlerToEndTheWait(of: task, on: loop)
            #expect(parked.events == ["body", "handler job"])
        }
    }

    @Test func anAlreadyCancelledTaskRunsTheHandlerAtOnceAndStillParks() async throws {
        try await withTestLoop { loop in
            let parked = Parked()
            let task = loop.spawn {
                withUnsafeCurrentTask { $0?.cancel() }
                return try await parked.park(on: loop)
            }
            try await loop.sleep(for: .seconds(1))
            parked.endIfStillParked()
            await #expect(throws: CancellationError.self) { try await task.value }
            // The handler ran when it was installed, before the body stored the continuation; its job
            // ran after, and found the continuation.
            #expect(parked.events == ["body after the handler", "handler job"])
            #expect(parked.handlerRuns.value == 1)
        }
    }

    @Test func theHandlerIsRemovedWhenTheWaitEnds() async throws {
        try await withTestLoop { loop in
            let parked = Parked()
            let plain = Parked()
            let task = loop.spawn {
                let first = try await parked.park(on: loop)
                // Parked again, without a handler: a cancellation now must not reach the first's.
                return first + (try await plain.parkWithoutHandler())
            }
            try await loop.sleep(for: .seconds(1))
            parked.continuation.take()?.resume(returning: 40)
            try await loop.sleep(for: .seconds(1))
            task.cancel()
            try await loop.sleep(for: .seconds(1))
            #expect(parked.handlerRuns.value == 0)
            plain.continuation.take()?.resume(returning: 2)
            #expect(try await task.value == 42)
        }
    }

    @Test func theClosureFormReturnsAndRethrowsWhatTheOperationDoesAndRemovesItsHandler() async throws {
        try await withTestLoop { loop in
            let handlerRuns = Locked(0)
            let plain = Parked()
            let task = loop.spawn {
                let value = try await withInheritedCancellationHandler {
                    try await loop.sleep(for: .milliseconds(10))
                    return 2
                } onCancel: {
                    handlerRuns.mutate { $0 += 1 }
                }
                await #expect(throws: Boom.self) {
                    try await withInheritedCancellationHandler { () async throws -> Int in
                        throw Boom()
                    } onCancel: {
                        handlerRuns.mutate { $0 += 1 }
                    }
                }
                return value + (try await plain.parkWithoutHandler())
            }
            try await loop.sleep(for: .seconds(1))
            task.cancel()
            try await loop.sleep(for: .seconds(1))
            #expect(handlerRuns.value == 0)
            plain.continuation.take()?.resume(returning: 40)
            #expect(try await task.value == 42)
        }
    }

    @Test func theClosureFormRunsItsHandlerOnCancellation() async throws {
        try await withTestLoop { loop in
            let parked = Parked()
            let task = loop.spawn {
                try await withInheritedCancellationHandler {
                    try await parked.parkWithoutHandler()
                } onCancel: {
                    parked.cancelSoon(on: loop)
                }
            }
            try await loop.sleep(for: .seconds(1))
            try await parked.cancelAndExpectTheHandlerToEndTheWait(of: task, on: loop)
        }
    }

    @Test func theWaitsCancellationCheckThrowsOnlyInACancelledTask() async throws {
        let outcome = await Task { () -> [String] in
            var seen: [String] = []
            do { try checkTaskCancellation(); seen.append("ran") } catch { seen.append("\(type(of: error))") }
            withUnsafeCurrentTask { $0?.cancel() }
            do { try checkTaskCancellation(); seen.append("ran") } catch { seen.append("\(type(of: error))") }
            return seen
        }.value
        #expect(outcome == ["ran", "CancellationError"])
    }
}

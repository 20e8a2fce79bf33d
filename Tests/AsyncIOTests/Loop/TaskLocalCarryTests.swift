import AsyncIO
import AsyncIOTesting
import Testing

enum RequestContext {
    @TaskLocal static var id: String?
}

/// Task-local values reach the work a task hands off (issue 13; asyncio copies the context into
/// `to_thread` and callbacks).
@Suite(.timeLimit(.minutes(1)))
struct TaskLocalCarryTests {
    @Test func offloadSeesTheCallersTaskLocals() async throws {
        try await withTestLoop(virtualTime: false) { _ in
            let seen = try await RequestContext.$id.withValue("req-1") {
                try await offload { RequestContext.id }
            }
            #expect(seen == "req-1")
            let pool = try ThreadPool(threads: 1, name: "carry")
            defer { pool.shutdown() }
            let fromPool = try await RequestContext.$id.withValue("req-2") { try await pool.run { RequestContext.id } }
            #expect(fromPool == "req-2")
            // Outside the binding there is nothing to see.
            let unbound = try await offload { RequestContext.id }
            #expect(unbound == nil)
        }
    }

    @Test func callbacksSeeTheTaskLocalsOfTheTaskThatScheduledThem() async throws {
        try await withTestLoop { loop in
            let soon = Future<String?>(), later = Future<String?>(), at = Future<String?>()
            RequestContext.$id.withValue("req-3") {
                loop.callSoon { soon.complete(RequestContext.id) }
                loop.call(after: .seconds(1)) { later.complete(RequestContext.id) }
                loop.call(at: loop.now.advanced(by: .seconds(2))) { at.complete(RequestContext.id) }
            }
            let values = [try await soon.value, try await later.value, try await at.value]
            #expect(values == ["req-3", "req-3", "req-3"])
            #expect(loop.pendingTimerCount == 0)
        }
    }

    /// A cancelled callback scheduled from a task never runs, and its carrier ends: nothing is left.
    @Test func aCancelledCarriedCallbackNeverRunsAndLeavesNothing() async throws {
        try await withTestLoop { loop in
            let ran = Locked(false)
            let handle = RequestContext.$id.withValue("req-4") {
                loop.call(after: .seconds(1)) { ran.mutate { $0 = true } }
            }
            #expect(handle.cancel())
            try await loop.sleep(for: .seconds(2))
            #expect(!ran.value)
            #expect(loop.pendingTimerCount == 0)
        }
    }

    /// Callbacks from one task keep their order, carried or not.
    @Test func carriedCallbacksKeepTheirOrder() async throws {
        try await withTestLoop { loop in
            let order = Locked<[Int]>([])
            let done = Event()
            for i in 0..<10 {
                loop.callSoon { order.mutate { $0.append(i) } }
            }
            loop.callSoon { done.set() }
            try await done.wait()
            #expect(order.value == Array(0..<10))
        }
    }
}

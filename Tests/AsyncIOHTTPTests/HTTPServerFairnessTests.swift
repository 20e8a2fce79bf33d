import AsyncIO
import AsyncIOHTTP
import Synchronization
import Testing

/// A client that pipelines many requests in one send has them answered from the reader's buffer, with
/// no wait in between: each response written counts against the loop's I/O budget, so the connection
/// yields to the loop's other work every so often instead of holding it until every buffered request
/// is answered.
@Suite(.timeLimit(.minutes(1)))
struct HTTPServerFairnessTests {
    @Test func aPipeliningClientDoesNotHoldTheLoop() async throws {
        let served = Atomic<Int>(0)
        let seenByOtherWork = Atomic<Int>(-1)
        var router = HTTPRouter()
        router.get("/n") { _ in
            if served.add(1, ordering: .relaxed).newValue == 1 {
                // Other work for the loop, ready now: it runs when the connection next yields.
                EventLoop.current!.callSoon { seenByOtherWork.store(served.load(ordering: .relaxed), ordering: .relaxed) }
            }
            return .text("n")
        }
        let count = 300  // about 10 KiB: one receive holds them all
        try await withServer(router) { server, _ in
            let client = try await TestClient(port: server.localAddress.port!)
            try await client.send(String(repeating: get("/n"), count: count))
            for _ in 0..<count {
                #expect(try await client.response()?.text == "n")
            }
            client.close()
        }
        #expect(served.load(ordering: .relaxed) == count)
        let seen = seenByOtherWork.load(ordering: .relaxed)
        // The budget is 64 operations a job: the other work runs after at most that many responses.
        #expect(seen >= 1 && seen <= 70, "the other work ran after \(seen) of \(count) responses")
    }
}

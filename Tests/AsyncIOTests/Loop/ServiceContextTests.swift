import AsyncIO
import AsyncIOTesting
import Instrumentation
import ServiceContextModule
import Testing

/// Issue 16: the task-local service context (trace context) reaches work the loop runs elsewhere:
/// spawned tasks, offloaded work and callbacks.
@Suite(.timeLimit(.minutes(1)))
struct ServiceContextTests {
    enum RequestID: ServiceContextKey { typealias Value = String }

    @Test func theContextIsCarriedAcrossSpawnOffloadAndCallbacks() async throws {
        try await withTestLoop { loop in
            var context = ServiceContext.topLevel
            context[RequestID.self] = "req-42"
            try await ServiceContext.withValue(context) {
                let spawned = try await loop.spawn { ServiceContext.current?[RequestID.self] }.value
                let offloaded = try await offload { ServiceContext.current?[RequestID.self] }
                let seen = Future<String?>()
                _ = loop.callSoon { _ = seen.complete(ServiceContext.current?[RequestID.self]) }
                let called = try await seen.value
                #expect(spawned == "req-42")
                #expect(offloaded == "req-42")
                #expect(called == "req-42")
            }
        }
    }
}

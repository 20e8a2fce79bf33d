import AsyncIO
import AsyncIOTesting
import Testing

/// Issue 12, bug 8: errors nobody awaits reach the loop's exception handler instead of vanishing.
@Suite(.timeLimit(.minutes(1)))
struct ExceptionHandlerTests {
    @Test func anErrorFromATaskWhoseHandleIsGoneIsReportedWithItsName() async throws {
        try await withTestLoop { loop in
            let reports = Locked<[LoopException]>([])
            loop.setExceptionHandler { exception in reports.mutate { $0.append(exception) } }
            let thrown = Event()
            loop.spawn(name: "forgotten") {
                thrown.set()
                throw Boom()
            }
            try await thrown.wait()
            let report = try #require(reports.value.first)
            #expect(reports.value.count == 1)
            #expect(report.taskName == "forgotten")
            #expect(report.error is Boom)
            #expect(report.message == "task exception was never retrieved")
        }
    }

    @Test func anErrorSomebodyCanStillAwaitIsNotReported() async throws {
        try await withTestLoop { loop in
            let reports = Locked(0)
            loop.setExceptionHandler { _ in reports.mutate { $0 += 1 } }
            let awaited = loop.spawn(name: "awaited") { () async throws -> Int in throw Boom() }
            await #expect(throws: Boom.self) { try await awaited.value }
            // Held (for cancel(), say) but not awaited yet: the error can still be retrieved.
            let held = loop.spawn(name: "held") { () async throws -> Int in
                try await loop.sleep(for: .seconds(1))
                throw Boom()
            }
            try await loop.sleep(for: .seconds(2))
            // Cancellation is not an error to report, handle or no handle.
            let cancelled = Event()
            loop.spawn(name: "cancelled") {
                cancelled.set()
                try await loop.sleep(for: .seconds(3600))
            }.cancel()
            try await cancelled.wait()
            try await loop.sleep(for: .seconds(1))
            #expect(reports.value == 0)
            await #expect(throws: Boom.self) { try await held.value }
        }
    }

    @Test func aServerHandlerThatThrowsIsReported() async throws {
        try await withTestLoop(virtualTime: false) { loop in
            let reports = Locked<[LoopException]>([])
            let reported = Event()
            loop.setExceptionHandler { exception in
                reports.mutate { $0.append(exception) }
                reported.set()
            }
            let server = try await startServer(host: "127.0.0.1", port: 0) { reader, _ in
                _ = try await reader.readLine()
                throw Boom()
            }
            let (reader, writer) = try await openConnection(host: "127.0.0.1", port: server.localAddress.port!)
            try await writer.write("hi\n")
            try await reported.wait()
            #expect(try await reader.readToEnd().isEmpty)  // the connection was aborted
            #expect(reports.value.count == 1)
            #expect(reports.value.first?.error is Boom)
            #expect(reports.value.first?.message == "connection handler failed")
            writer.abort()
            server.close()
            try await server.serveForever()
        }
    }

    @Test func theTestLoopFailsATestWhoseErrorWentUnhandled() async throws {
        let error = await #expect(throws: TestLoopLeak.self) {
            try await withTestLoop { loop in
                let thrown = Event()
                loop.spawn(name: "fire-and-forget") {
                    thrown.set()
                    throw Boom()
                }
                try await thrown.wait()
            }
        }
        #expect(error?.unhandledErrors.count == 1)
        #expect(error?.unhandledErrors.first?.taskName == "fire-and-forget")
        #expect(error?.description.contains("1 unhandled error(s)") == true)
    }
}

import Foundation
import Testing

/// The test harness's own processes.
@Suite(.timeLimit(.minutes(1)))
struct AioProcessTests {
    /// A test's process pipes are close-on-exec from the moment they exist. Foundation's `Process`
    /// closes the descriptors it finds open when it prepares a launch, not the ones another thread
    /// opens between that and the launch: tests run in parallel, and a long-running server launched so
    /// inherited a short-lived process's stdout and held it open, so the test reading that output to
    /// its end waited as long as the server ran (the CI run that hung). Only the flag closes that window.
    @Test func pipesAreCloseOnExecAndAServerStartedMeanwhileHoldsNone() async throws {
        let pending = AioProcess(tool: "/bin/true", [])  // its pipes exist from here
        let descriptors = pending.pipeDescriptorsForTesting
        #expect(descriptors.count == 6, "stdin, stdout and stderr, both ends")
        for descriptor in descriptors {
            #expect(fcntl(descriptor, F_GETFD) & FD_CLOEXEC != 0, "descriptor \(descriptor) is inherited by every process launched")
        }
        let pipes = Set(descriptors.compactMap { Self.pipeInode(path: "/proc/self/fd/\($0)") })
        let server = AioProcess(["serve", "--port", "0"])
        _ = try await server.startServer()
        let open = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(server.pid)/fd")
        let held = Set(open.compactMap { Self.pipeInode(path: "/proc/\(server.pid)/fd/\($0)") })
        #expect(held.isDisjoint(with: pipes), "the server holds \(held.intersection(pipes))")
        server.signal(SIGTERM)
        #expect(await server.waitForExit(timeout: .seconds(5)) == 0)
        let (status, _, _) = try await pending.runToEnd()
        #expect(status == 0)
    }

    /// `pipe:[INODE]` for a descriptor that is a pipe, else nil.
    private static func pipeInode(path: String) -> String? {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: path),
              target.hasPrefix("pipe:") else { return nil }
        return target
    }
}

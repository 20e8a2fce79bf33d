@testable import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import Glibc
import Testing

// Generous limit: under the thread sanitizer 100 MiB through communicate takes minutes.
@Suite(.timeLimit(.minutes(5)))
struct ChildProcessTests {
    @Test func outputAndExitCodeComeBack() async throws {
        try await withTestLoop(virtualTime: false) { _ in
            let child = try ChildProcess.spawn("echo", arguments: ["hello", "world"], stdout: .pipe)
            let (out, err) = try await child.communicate()
            #expect(String(decoding: out, as: UTF8.self) == "hello world\n")
            #expect(err.isEmpty)
            #expect(try await child.wait() == .exited(0))
        }
    }

    /// A descriptor the program left inheritable (as Foundation's `Process` leaves one end of a socket
    /// pair while it starts a child, and waits for that pair's EOF to learn of the exit) does not reach
    /// the child: a long-lived child holding it hung `Process.waitUntilExit()` in the test run.
    @Test func theChildGetsOnlyItsStandardDescriptors() async throws {
        try await withTestLoop(virtualTime: false) { _ in
            let pipe = try FileDescriptorOps.makePipe()
            defer {
                try? FileDescriptorOps.close(pipe.read)
                try? FileDescriptorOps.close(pipe.write)
            }
            #expect(fcntl(pipe.write, F_SETFD, 0) == 0)  // inheritable, as Foundation's is
            let child = try ChildProcess.shell(
                "[ -e /proc/self/fd/\(pipe.write) ] && echo inherited || echo closed; ls /proc/self/fd | wc -l",
                stdout: .pipe)
            let (out, _) = try await child.communicate()
            // The shell's 0, 1, 2 and the directory `ls` reads: 4 entries.
            #expect(String(decoding: out, as: UTF8.self) == "closed\n4\n")
            #expect(try await child.wait() == .exited(0))
        }
    }

    @Test func exitCodesAndSignalsAreReported() async throws {
        try await withTestLoop(virtualTime: false) { _ in
            #expect(try await ChildProcess.shell("exit 3").wait() == .exited(3))
            let killed = try await ChildProcess.shell("kill -9 $$").wait()
            #expect(killed == .signaled(9))
            #expect(killed.returnCode == -9)
        }
    }

    @Test func aMissingExecutableNamesItselfAndTheReason() async throws {
        try await withTestLoop(virtualTime: false) { _ in
            do {
                _ = try ChildProcess.spawn("/no/such/program")
                Issue.record("spawned a missing program")
            } catch let error as ChildProcessError {
                #expect(error.description == "/no/such/program: not found")
            }
            do {
                _ = try ChildProcess.spawn("/etc/hostname")
                Issue.record("spawned a data file")
            } catch let error as ChildProcessError {
                #expect(error.description.contains("not executable"))
            }
        }
    }

    @Test func twentyChildrenAtOnce() async throws {
        try await withTestLoop(virtualTime: false) { _ in
            let children = try (0..<20).map { i in
                try ChildProcess.shell("echo child \(i); exit \(i % 4)", stdout: .pipe)
            }
            for (i, child) in children.enumerated() {
                let (out, _) = try await child.communicate()
                #expect(String(decoding: out, as: UTF8.self) == "child \(i)\n")
                #expect(try await child.wait() == .exited(Int32(i % 4)))
            }
        }
    }

    @Test func communicateMovesLargeDataBothWaysWithoutDeadlock() async throws {
        try await withTestLoop(virtualTime: false) { _ in
            // `cat` echoes stdin while we still write: with 64 KiB pipes, writing everything first and
            // reading after would deadlock.
            let size = isThreadSanitized ? 4 * 1024 * 1024 : 100 * 1024 * 1024
            let input = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 13) }
            let child = try ChildProcess.spawn("cat", stdin: .pipe, stdout: .pipe)
            let (out, _) = try await child.communicate(input: input)
            #expect(out.count == input.count)
            #expect(out == input)
            #expect(try await child.wait() == .exited(0))
        }
    }

    @Test func stderrCanBeMergedIntoStdout() async throws {
        try await withTestLoop(virtualTime: false) { _ in
            let child = try ChildProcess.shell("echo out; echo err >&2", stdout: .pipe, stderr: .mergeWithStdout)
            let (out, _) = try await child.communicate()
            #expect(String(decoding: out, as: UTF8.self) == "out\nerr\n")
        }
    }

    @Test func aTimeoutKillsTheWholeGroup() async throws {
        try await withTestLoop(virtualTime: false) { loop in
            let child = try ChildProcess.shell("sleep 100 & sleep 100; wait", newProcessGroup: true)
            await #expect(throws: TimeoutError.self) {
                try await withTimeout(.milliseconds(200)) { try await child.wait() }
            }
            // The child is reaped by its loop; the grandchild was killed with the group. Signals land
            // asynchronously, so look for survivors for up to 2 s.
            var survivors = ProcessOps.livingMembers(ofGroup: child.pid)
            for _ in 0..<200 where !survivors.isEmpty {
                try await loop.sleep(for: .milliseconds(10))
                survivors = ProcessOps.livingMembers(ofGroup: child.pid)
            }
            #expect(survivors.isEmpty, "still alive in the group: \(survivors)")
            _ = try? await child.wait()
            #expect(child.exitStatus == .signaled(9))
        }
    }

    @Test func environmentAndWorkingDirectory() async throws {
        try await withTestLoop(virtualTime: false) { _ in
            let child = try ChildProcess.shell("echo $GREETING; pwd", environment: ["GREETING": "hi", "PATH": "/usr/bin:/bin"],
                                               workingDirectory: "/tmp", stdout: .pipe)
            let (out, _) = try await child.communicate()
            #expect(String(decoding: out, as: UTF8.self) == "hi\n/tmp\n")
        }
    }

    /// Issue 12, bug 10: on a virtual-time test loop the clock jumped over a running child, so a 5 s
    /// timeout around a child that takes a moment fired after a few milliseconds of real time. A running
    /// child is external work: the clock waits for it.
    @Test func virtualTimeDoesNotJumpOverARunningChild() async throws {
        try await withTestLoop { loop in
            let child = try ChildProcess.spawn("/bin/sleep", arguments: ["0.3"])
            let status = try await withTimeout(.seconds(5)) { try await child.wait() }
            #expect(status == .exited(0))
        }
    }

}

/// The fallback for kernels without pidfds: a thread waits in `waitpid`.
@Suite(.timeLimit(.minutes(2)))
struct ThreadExitWatcherTests {
    func spawn(_ command: String, group: Bool = false, stdout: ChildProcess.IO = .inherit) throws -> ChildProcess {
        try ChildProcess.spawn("/bin/sh", arguments: ["-c", command], environment: nil, workingDirectory: nil,
                               stdin: .inherit, stdout: stdout, stderr: .inherit, newProcessGroup: group,
                               exitWatcher: .thread)
    }

    @Test func exitCodesSignalsAndOutput() async throws {
        try await withTestLoop { _ in
            let child = try spawn("echo fallback; exit 4", stdout: .pipe)
            let (out, _) = try await child.communicate()
            #expect(String(decoding: out, as: UTF8.self) == "fallback\n")
            #expect(try await child.wait() == .exited(4))
            #expect(try await spawn("kill -9 $$").wait() == .signaled(9))
        }
    }

    @Test func cancellingTheWaitKillsTheChild() async throws {
        try await withTestLoop(virtualTime: false) { _ in
            let child = try spawn("sleep 100", group: true)
            await #expect(throws: TimeoutError.self) {
                try await withTimeout(.milliseconds(100)) { try await child.wait() }
            }
            _ = try? await child.wait()
            #expect(child.exitStatus == .signaled(9))
        }
    }

}

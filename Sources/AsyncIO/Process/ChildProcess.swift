import AsyncIOSystem

/// A child process started with `posix_spawn`, whose pipes are streams on the loop and whose exit is
/// observed through a pidfd in epoll (asyncio's `create_subprocess_exec`).
///
/// ```swift
/// let child = try ChildProcess.spawn("ls", arguments: ["-l"], stdout: .pipe)
/// let (output, _) = try await child.communicate()
/// let status = try await child.wait()
/// ```
///
/// The child gets its three standard descriptors and no others of the parent's (asyncio's default,
/// `close_fds=True`): a descriptor the program left inheritable does not outlive it in the child.
///
/// The exit is reaped by a small task of the loop as soon as it happens, so no zombie is left even if
/// nobody calls ``wait()``; ``wait()`` depends only on the exit, never on the pipes reaching end of file.
/// A child still running when its loop shuts down is killed (with its group) and reaped.
///
/// ### Thread safety
/// Loop-confined: use it from tasks running on the loop that spawned it. Signals can be sent from
/// anywhere.
public final class ChildProcess: @unchecked Sendable {
    /// Where a child's standard stream goes.
    public enum IO: Sendable {
        /// The parent's own stream.
        case inherit
        /// `/dev/null`.
        case null
        /// A pipe to this process: a ``StreamWriter`` for stdin, a ``StreamReader`` for stdout/stderr.
        case pipe
        /// A file: read for stdin; created or truncated for stdout/stderr.
        case file(String)
        /// For stderr: wherever stdout goes.
        case mergeWithStdout
    }

    /// The child's process id.
    public let pid: Int32
    /// The executable as given to ``spawn(_:arguments:environment:workingDirectory:stdin:stdout:stderr:newProcessGroup:)``.
    public let executable: String
    /// Whether it leads a process group of its own (signals can go to the whole group).
    public let hasOwnProcessGroup: Bool
    /// Writes to the child's stdin, when it is `.pipe`.
    public let stdin: StreamWriter?
    /// Reads the child's stdout, when it is `.pipe`.
    public let stdout: StreamReader?
    /// Reads the child's stderr, when it is `.pipe`.
    public let stderr: StreamReader?

    private let exited = Event()
    /// The loop that spawned the child and reaps it.
    private let loop: EventLoop
    private var status: ExitStatus?

    /// How the child ended, once it has.
    public var exitStatus: ExitStatus? { status }

    private init(loop: EventLoop, pid: Int32, executable: String, group: Bool, stdin: StreamWriter?, stdout: StreamReader?, stderr: StreamReader?) {
        self.loop = loop
        self.pid = pid
        self.executable = executable
        self.hasOwnProcessGroup = group
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
    }

    /// Starts `executable` (searched in `PATH` unless it contains a `/`).
    ///
    /// - Parameters:
    ///   - executable: The program: a path, or a name looked up in `PATH`.
    ///   - arguments: The arguments after the program name.
    ///   - environment: The child's whole environment; nil inherits the parent's.
    ///   - workingDirectory: Where the child starts; nil inherits the parent's.
    ///   - stdin: What the child reads: `.inherit` (the default), `.pipe` (``stdin`` is then a writer),
    ///     `.null` or `.file(path)`.
    ///   - stdout: Where the child writes: `.inherit`, `.pipe` (``stdout`` is then a reader), `.null` or
    ///     `.file(path)`.
    ///   - stderr: As `stdout`, or `.mergeWithStdout`.
    ///   - newProcessGroup: Start the child in a process group of its own, so ``kill()`` and a
    ///     cancelled ``wait()`` reach everything it started too.
    /// - Throws: ``ChildProcessError`` naming the executable: "not found", "not executable", or the
    ///   system error.
    public static func spawn(
        _ executable: String,
        arguments: [String] = [],
        environment: [String: String]? = nil,
        workingDirectory: String? = nil,
        stdin: IO = .inherit,
        stdout: IO = .inherit,
        stderr: IO = .inherit,
        newProcessGroup: Bool = false
    ) throws -> ChildProcess {
        try spawn(executable, arguments: arguments, environment: environment, workingDirectory: workingDirectory,
                  stdin: stdin, stdout: stdout, stderr: stderr, newProcessGroup: newProcessGroup, exitWatcher: .automatic)
    }

    /// How the exit of a child is observed.
    enum ExitWatcher {
        /// A pidfd in epoll; a waiting thread where pidfds are missing (Linux before 5.3).
        case automatic
        /// A thread blocked in `waitpid` (asyncio's ThreadedChildWatcher), for tests of that path.
        case thread
    }

    static func spawn(
        _ executable: String,
        arguments: [String],
        environment: [String: String]?,
        workingDirectory: String?,
        stdin: IO,
        stdout: IO,
        stderr: IO,
        newProcessGroup: Bool,
        exitWatcher: ExitWatcher
    ) throws -> ChildProcess {
        let loop = try EventLoop.requireCurrent("ChildProcess.spawn")
        ProcessOps.ignoreBrokenPipeSignal()
        var parentEnds: [(fd: Int32, kind: Int)] = []  // 0 stdin writer, 1 stdout reader, 2 stderr reader
        var childEnds: [Int32] = []
        func cleanUp() {
            for end in parentEnds { try? FileDescriptorOps.close(end.fd) }
            for fd in childEnds { try? FileDescriptorOps.close(fd) }
        }
        func descriptor(_ io: IO, index: Int) throws -> ProcessOps.Descriptor {
            switch io {
            case .inherit: return .inherit
            case .null: return .null
            case .file(let path): return .file(path)
            case .mergeWithStdout: return index == 2 ? .stdout : .inherit
            case .pipe:
                let (readEnd, writeEnd) = try FileDescriptorOps.makePipe()
                // The child's end must be blocking: most programs expect that.
                let childEnd = index == 0 ? readEnd : writeEnd
                try FileDescriptorOps.setBlocking(childEnd)
                childEnds.append(childEnd)
                parentEnds.append((index == 0 ? writeEnd : readEnd, index))
                return .descriptor(childEnd)
            }
        }
        let pid: Int32
        do {
            let stdinPlan = try descriptor(stdin, index: 0)
            let stdoutPlan = try descriptor(stdout, index: 1)
            let stderrPlan = try descriptor(stderr, index: 2)
            pid = try ProcessOps.spawn(
                executable: executable, arguments: arguments, environment: environment,
                workingDirectory: workingDirectory, stdin: stdinPlan, stdout: stdoutPlan, stderr: stderrPlan,
                newProcessGroup: newProcessGroup
            )
        } catch let error as Errno {
            cleanUp()
            let reason: String
            switch error {
            case .noSuchFileOrDirectory: reason = "not found"
            case .permissionDenied: reason = "not executable (permission denied)"
            case .execFormatError: reason = "not executable (not a program the kernel can run)"
            default: reason = "cannot start: \(error)"
            }
            throw ChildProcessError(executable: executable, reason: reason, underlying: error)
        }
        for fd in childEnds { try? FileDescriptorOps.close(fd) }

        var writer: StreamWriter?
        var outReader: StreamReader?
        var errReader: StreamReader?
        do {
            for (index, end) in parentEnds.enumerated() {
                let socket: Socket
                do { socket = try loop.adopt(end.fd, kind: .pipe) } catch {
                    // adopt closed this end; close the ones not adopted yet.
                    for rest in parentEnds[(index + 1)...] { try? FileDescriptorOps.close(rest.fd) }
                    throw error
                }
                switch end.kind {
                case 0: writer = StreamWriter(socket: socket)
                case 1: outReader = StreamReader(socket: socket)
                default: errReader = StreamReader(socket: socket)
                }
            }
            let child = ChildProcess(loop: loop, pid: pid, executable: executable, group: newProcessGroup,
                                     stdin: writer, stdout: outReader, stderr: errReader)
            try child.watchExit(on: loop, with: exitWatcher)
            return child
        } catch {
            // The child runs but cannot be managed: do not leave it behind.
            try? ProcessOps.send(ProcessOps.killSignal, to: pid, group: newProcessGroup)
            _ = ProcessOps.reapBlocking(pid)
            writer?.abort()
            outReader?.stream?.close()
            errReader?.stream?.close()
            throw error
        }
    }

    /// Runs `command` with `/bin/sh -c` (asyncio's `create_subprocess_shell`).
    ///
    /// - Throws: ``ChildProcessError``.
    public static func shell(
        _ command: String,
        environment: [String: String]? = nil,
        workingDirectory: String? = nil,
        stdin: IO = .inherit,
        stdout: IO = .inherit,
        stderr: IO = .inherit,
        newProcessGroup: Bool = false
    ) throws -> ChildProcess {
        try spawn("/bin/sh", arguments: ["-c", command], environment: environment, workingDirectory: workingDirectory,
                  stdin: stdin, stdout: stdout, stderr: stderr, newProcessGroup: newProcessGroup)
    }

    /// Reaps the child when its pidfd becomes readable, on a task of the loop; without pidfds (or when
    /// asked), a thread waits in `waitpid` instead.
    private func watchExit(on loop: EventLoop, with watcher: ExitWatcher) throws {
        if watcher == .thread {
            try watchExitWithThread(on: loop)
            return
        }
        let pidfd: Int32
        do {
            pidfd = try ProcessOps.pidfdOpen(pid)
        } catch {
            // ENOSYS: a kernel before 5.3; EPERM: a seccomp filter that forbids it.
            if error == .noFunction || error == .notPermitted {
                try watchExitWithThread(on: loop)
                return
            }
            throw ChildProcessError(executable: executable, reason: "cannot watch the child (pidfd_open)", underlying: error)
        }
        let registration = try loop.register(pidfd)
        let pid = self.pid
        // A running child is work outside the loop: virtual time must not jump over it (a test's
        // timeout would fire before the child could finish).
        loop.beginExternalWork()
        loop.spawn(name: "reap \(pid)") { [self] in
            defer {
                registration.close()
                loop.endExternalWork()
            }
            do {
                // The pidfd turns readable when the child exits; until then there is nothing to reap.
                let (code, signal) = try await registration.perform(.read) { () -> IOResult<(Int32?, Int32?)> in
                    if let status = (try? ProcessOps.reap(pid)) ?? nil { return .done(status) }
                    return .wouldBlock
                }
                record(code: code, signal: signal)
            } catch {
                await killAndReap(registration)
            }
        }
    }

    /// The fallback watcher: a thread of its own blocks in `waitpid` (what asyncio's ThreadedChildWatcher
    /// does), and a task of the loop takes its result.
    private func watchExitWithThread(on loop: EventLoop) throws {
        let pid = self.pid
        let outcome = Future<Int32>()  // the raw pieces: code, or -signal
        let thread: SystemThread
        do {
            thread = try SystemThread.spawn(name: "reap-\(pid)") {
                let (code, signal) = ProcessOps.reapBlocking(pid)
                outcome.complete(code ?? -(signal ?? 0))
            }
        } catch {
            throw ChildProcessError(executable: executable, reason: "cannot start a thread to watch the child",
                                    underlying: error)
        }
        thread.detach()
        loop.beginExternalWork()
        loop.spawn(name: "reap \(pid)") { [self] in
            defer { loop.endExternalWork() }
            let raw: Int32
            do {
                raw = try await outcome.value
            } catch {
                // Cancelled: kill the child; the thread reaps it.
                try? ProcessOps.send(ProcessOps.killSignal, to: pid, group: hasOwnProcessGroup)
                raw = -ProcessOps.killSignal
            }
            record(code: raw >= 0 ? raw : nil, signal: raw < 0 ? -raw : nil)
        }
    }

    private func record(code: Int32?, signal: Int32?) {
        status = code.map(ExitStatus.exited) ?? .signaled(signal ?? 0)
        exited.set()
    }

    /// The watcher was cancelled (the loop is shutting down): kill the child, and its group if it has
    /// one, and reap it, waiting for its pidfd without blocking the loop; cancellation cannot cut this
    /// short, so no child outlives its loop as an orphan or a zombie.
    private nonisolated(nonsending) func killAndReap(_ registration: IORegistration) async {
        try? ProcessOps.send(ProcessOps.killSignal, to: pid, group: hasOwnProcessGroup)
        while true {
            if let (code, signal) = (try? ProcessOps.reap(pid)) ?? nil {
                record(code: code, signal: signal)
                return
            }
            registration.clearReadable()
            do { try await registration.waitReadableIgnoringCancellation() } catch {
                // The registration was closed under us: wait in place, the child is dying already.
                let (code, signal) = ProcessOps.reapBlocking(pid)
                record(code: code, signal: signal)
                return
            }
        }
    }

    /// Waits for the child to exit (asyncio's `wait`).
    ///
    /// - Returns: How it ended.
    ///
    /// ### Cancellation
    /// Cancelling the wait (a timeout, a cancelled task) kills the child, and its whole group if it has
    /// one, so no orphan is left; the child is still reaped.
    public func wait() async throws -> ExitStatus {
        try loop.checkInLoop("ChildProcess")
        let noted = loop.beginWait(.process(pid))
        defer { if noted { loop.endWait() } }
        do {
            try await exited.wait()
        } catch {
            kill()
            throw error
        }
        return status!
    }

    /// Writes `input` to stdin (then closes it), reads stdout and stderr to their end, and waits for
    /// the exit, all at once so that a child filling one pipe never blocks (asyncio's `communicate`).
    ///
    /// - Parameters:
    ///   - input: Bytes for stdin (which must be `.pipe`), or nil to send nothing.
    ///   - limit: The most bytes kept from each of stdout and stderr (default 256 MiB).
    /// - Returns: What the child wrote to its piped stdout and stderr (empty for streams not piped).
    /// - Throws: ``StreamError`` `.limitOverrun` past `limit`.
    ///
    /// ### Cancellation
    /// The child is killed (with its group) and reaped.
    public func communicate(input: [UInt8]? = nil, limit: Int = 256 * 1024 * 1024) async throws -> (stdout: [UInt8], stderr: [UInt8]) {
        try loop.checkInLoop("ChildProcess")
        let stdin = self.stdin, stdout = self.stdout, stderr = self.stderr
        do {
            async let written: Void = {
                guard let stdin else { return }
                if let input { try await stdin.write(input) }
                await stdin.close()
            }()
            async let out: [UInt8] = stdout?.readToEnd(limit: limit) ?? []
            async let err: [UInt8] = stderr?.readToEnd(limit: limit) ?? []
            let result = try await (out, err)
            try await written
            _ = try await wait()
            return result
        } catch {
            kill()
            throw error
        }
    }

    /// Sends `signal` to the child (and its group, when it has one of its own and `group` is true).
    /// A child that already exited is not an error.
    public func sendSignal(_ signal: Signal, group: Bool = false) {
        guard status == nil else { return }
        try? ProcessOps.send(signal.rawValue, to: pid, group: group && hasOwnProcessGroup)
    }

    /// Sends `SIGTERM` (asyncio's `terminate`).
    public func terminate() { sendSignal(Signal(rawValue: ProcessOps.terminateSignal)) }

    /// Sends `SIGKILL` to the child, and to its whole group when it has one (asyncio's `kill`).
    public func kill() { sendSignal(Signal(rawValue: ProcessOps.killSignal), group: true) }
}

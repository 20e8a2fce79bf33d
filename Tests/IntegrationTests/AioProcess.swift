import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import Foundation

/// A running `aio` process started by a test, with its stdout readiness line parsed.
final class AioProcess: @unchecked Sendable {
    let process = Process()
    private let stdout = ClosingPipe()
    private let stderr = ClosingPipe()
    /// The process's stdin: a pipe the test may write to (and that stays open until ``closeStdin()``).
    private let stdin = ClosingPipe()
    private var usesStdin = false
    private(set) var port: UInt16 = 0
    private let exited = DispatchSemaphore(value: 0)
    /// Everything the process wrote to stderr, drained as it comes: a server that logs more than a
    /// pipe holds (64 KiB) would otherwise block in `write` (its loop with it) while the test waits on
    /// something else (the TLS soak test's server stopped, mid-run, on a full stderr pipe).
    private let stderrLog = StderrLog()

    /// The `aio` executable built next to the test bundle.
    static var executable: URL {
        let me = URL(fileURLWithPath: try! FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        return me.deletingLastPathComponent().appendingPathComponent("aio")
    }

    /// `aio arguments...`, or `launcher launcherArguments... aio arguments...` (for `prlimit`).
    init(_ arguments: [String], launcher: String? = nil, launcherArguments: [String] = []) {
        if let launcher {
            process.executableURL = URL(fileURLWithPath: launcher)
            process.arguments = launcherArguments + [Self.executable.path] + arguments
        } else {
            process.executableURL = Self.executable
            process.arguments = arguments
        }
        process.standardInput = stdin.fileHandleForReading
        usesStdin = true
        process.standardOutput = stdout.fileHandleForWriting
        process.standardError = stderr.fileHandleForWriting
        let exited = self.exited
        process.terminationHandler = { _ in exited.signal() }
    }

    /// Any other program (curl, python3), driven the same way.
    init(tool: String, _ arguments: [String]) {
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardOutput = stdout.fileHandleForWriting
        process.standardError = stderr.fileHandleForWriting
        let exited = self.exited
        process.terminationHandler = { _ in exited.signal() }
    }

    /// An example program (Examples/NAME), built next to the test bundle like `aio`.
    convenience init(example name: String, _ arguments: [String] = []) {
        self.init(tool: Self.executable.deletingLastPathComponent().appendingPathComponent(name).path, arguments)
    }

    /// The descriptors of this process's pipes still open in the test process (the parent's ends, and
    /// the child's before launch).
    var pipeDescriptorsForTesting: [Int32] {
        [stdin, stdout, stderr].flatMap { [$0.fileHandleForReading.fileDescriptor, $0.fileHandleForWriting.fileDescriptor] }
            .filter { $0 >= 0 }
    }

    /// Writes `text` to the process's stdin.
    func write(_ text: String) { stdin.fileHandleForWriting.write(Data(text.utf8)) }

    /// Closes the process's stdin (it reads end of file).
    func closeStdin() { try? stdin.fileHandleForWriting.close() }

    /// Starts the process without waiting for anything.
    func start() throws { try launch() }

    /// Foundation's launches, one at a time. `Process.run()` makes a socket pair whose child end is open
    /// in this process, without close-on-exec, until `run()` returns; the parent learns of the child's
    /// exit from that end's EOF. A child launched meanwhile by a concurrent test inherits the end and
    /// keeps it open for its own life: the first child then exits unnoticed (a zombie, `state Z` in
    /// ``waitForExit(timeout:)``'s report). Seen under AddressSanitizer, where launches are slow: six
    /// `aio echo` tests at once reported servers that had exited as not exiting within 5 s.
    private static let launches = NSLock()

    /// Runs the process and starts draining its stderr.
    private func launch() throws {
        try Self.launches.withLock { try process.run() }
        // The child has its ends now; ours would keep its output from ever ending (and its input).
        try? stdout.fileHandleForWriting.close()
        try? stderr.fileHandleForWriting.close()
        if usesStdin { try? stdin.fileHandleForReading.close() }
        stderrLog.drain(stderr.fileHandleForReading)
    }

    /// Starts the process and waits for its first stdout line, `listening on HOST:PORT`.
    func startServer() async throws -> String {
        try await runBlocking { try self.startServerBlocking() }
    }

    private func startServerBlocking() throws -> String {
        try launch()
        let line = readLine()
        if let colon = line.lastIndex(of: ":"), let port = UInt16(line[line.index(after: colon)...]) {
            self.port = port
        }
        return line
    }

    /// Reads one line from stdout, off the cooperative pool.
    func nextLine() async throws -> String {
        try await runBlocking { self.readLine() }
    }

    /// Reads one line from stdout (blocking).
    func readLine() -> String {
        var bytes: [UInt8] = []
        let handle = stdout.fileHandleForReading
        while true {
            let byte = handle.readData(ofLength: 1)
            if byte.isEmpty || byte.first == UInt8(ascii: "\n") { break }
            bytes.append(byte.first!)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Runs (or, if started, goes on) to completion and returns (exit code, stdout, stderr).
    func runToEnd() async throws -> (Int32, String, String) {
        try await runBlocking { try self.runToEndBlocking() }
    }

    private func runToEndBlocking() throws -> (Int32, String, String) {
        if process.processIdentifier == 0 { try launch() }
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let err = stderrLog.waitForEnd()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// The process id.
    var pid: Int32 { process.processIdentifier }

    /// Waits for the process to exit, up to `timeout`; returns its status, or nil if it is still running
    /// (then it is killed).
    func waitForExit(timeout: Duration) async -> Int32? {
        (try? await runBlocking { self.waitForExitBlocking(timeout: timeout) }) ?? nil
    }

    private func waitForExitBlocking(timeout: Duration) -> Int32? {
        let (seconds, attoseconds) = timeout.components
        let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        if exited.wait(timeout: .now() + .nanoseconds(nanoseconds)) == .timedOut {
            FileHandle.standardError.write(Data(diagnosis(after: timeout).utf8))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    /// What a process that did not exit in time is doing, for the test log: its state and each
    /// thread's (`Z`: it did exit, and only the termination handler missed it; `S` with a wait channel:
    /// it is stuck waiting).
    private func diagnosis(after timeout: Duration) -> String {
        let pid = process.processIdentifier
        func read(_ path: String) -> String {
            ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "?").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func state(_ stat: String) -> String {
            stat.split(separator: ")").last?.split(separator: " ").first.map(String.init) ?? "?"
        }
        var lines = ["\(process.executableURL?.lastPathComponent ?? "?") \(pid) did not exit within \(timeout): state \(state(read("/proc/\(pid)/stat")))"]
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        for tid in tasks.sorted() {
            let base = "/proc/\(pid)/task/\(tid)"
            lines.append("  thread \(tid) \(read(base + "/comm")): state \(state(read(base + "/stat"))), waiting in \(read(base + "/wchan"))")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Open descriptors of the process (entries of /proc/PID/fd).
    var openFileDescriptors: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.processIdentifier)/fd").count) ?? -1
    }

    /// Resident memory of the process in KiB (VmRSS).
    var residentKiB: Int {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return -1 }
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
    }

    /// CPU time used so far, in clock ticks (utime + stime from /proc/PID/stat).
    var cpuTicks: Int {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return -1 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // Fields after the command name start at field 3 (state); utime and stime are fields 14 and 15.
        return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
    }

    /// Peak resident memory of the process in KiB (VmHWM).
    var peakResidentKiB: Int {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return -1 }
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// A pipe whose ends are close-on-exec (`pipe2` with `O_CLOEXEC`; the child's end is made its stdin,
/// stdout or stderr by `dup2`, which clears the flag on the copy). Foundation's `Pipe` makes inheritable
/// ends, and tests run in parallel: a server another test started meanwhile inherited the write end of
/// a short-lived process's stdout and held it open, so the reader waiting for that output's end never
/// saw it, and four such readers filled `runBlocking`'s threads and hung the whole run (CI, the epoll
/// pass). The parent closes the child's end once the child has it (``AioProcess/launch()``).
private final class ClosingPipe: Sendable {
    let fileHandleForReading: FileHandle
    let fileHandleForWriting: FileHandle

    init() {
        do {
            // Close-on-exec from the start (`pipe2`); blocking, for FileHandle's reads and writes.
            let (read, write) = try FileDescriptorOps.makePipe()
            try FileDescriptorOps.setBlocking(read)
            try FileDescriptorOps.setBlocking(write)
            fileHandleForReading = FileHandle(fileDescriptor: read, closeOnDealloc: true)
            fileHandleForWriting = FileHandle(fileDescriptor: write, closeOnDealloc: true)
        } catch {
            preconditionFailure("cannot make a pipe for a test's process: \(error)")
        }
    }
}

/// A process's stderr, read as it comes (off any test thread) until its end.
private final class StderrLog: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes = Data()
    private let ended = DispatchSemaphore(value: 0)

    /// Reads `handle` to its end on a thread of its own (a blocking read: Foundation's readability
    /// handler missed the end of a process that exited at once).
    func drain(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            let data = handle.readDataToEndOfFile()
            lock.lock()
            bytes = data
            lock.unlock()
            ended.signal()
        }
    }

    /// Waits for the end of the stream (the process exited and its last byte was read) and returns it all.
    func waitForEnd() -> Data {
        ended.wait()
        ended.signal()  // a second caller does not wait
        lock.lock()
        defer { lock.unlock() }
        return bytes
    }
}

import ArgumentParser
import AsyncIO
import AsyncIOSystem
import struct FoundationEssentials.Data
import class FoundationEssentials.JSONDecoder

/// `--inspect PATH` of the server commands: start the process's inspector there.
struct InspectOption: ParsableArguments {
    @Option(name: .customLong("inspect"), help: ArgumentHelp(
        "Serve the inspector on this Unix socket (owner only): see inside with aio ps PID / aio top PID.",
        valueName: "path"))
    var path: String?

    /// Starts the inspector asked for, if any; a path that cannot be bound is exit 1.
    func start() throws -> Inspector? {
        guard let path else { return nil }
        do { return try Inspector.start(path: path) } catch {
            throw CommandFailure(message: "--inspect \(path): \(error)", exitCode: 1)
        }
    }
}

/// `--backend auto|epoll|io_uring` of the server commands: the loops' I/O backend.
struct BackendOption: ParsableArguments {
    @Option(name: .customLong("backend"), help: ArgumentHelp(
        "auto, epoll or io_uring. auto: AIO_BACKEND if set, else io_uring where the kernel allows it, else epoll.",
        valueName: "backend"))
    var backend: EventLoop.Backend = .automatic
}

extension EventLoop.Backend: ExpressibleByArgument {
    /// `auto` (or `automatic`), `epoll`, `io_uring`.
    public init?(argument: String) {
        switch argument {
        case "auto", "automatic": self = .automatic
        case "epoll": self = .epoll
        case "io_uring": self = .ioURing
        default: return nil
        }
    }

    public static var allValueStrings: [String] { ["auto", "epoll", "io_uring"] }

    public var defaultValueDescription: String { self == .automatic ? "auto" : rawValue }
}

/// `aio ps PID`: the task tree of every loop of a process, once (asyncio's `python -m asyncio pstree`).
struct PSCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ps",
        abstract: "Print the task tree of a running AsyncIO process (started with --inspect or AIO_INSPECT).",
        discussion: """
            TARGET is a process id (its inspector socket is found through /proc) or the inspector's \
            socket path. Each loop is listed with its counters, then its tasks as a tree: spawned and \
            named tasks under the task that started them, and what each one waits on.
            """
    )

    /// Pasted at the end of `aio ps --help`.
    static let examples = [
        "aio serve --port 8080 --inspect /tmp/serve.sock &   then: aio ps $!",
        "aio ps /tmp/serve.sock --json",
    ]

    @Argument(help: "A process id, or the path of an inspector socket.")
    var target: String

    @Flag(help: "Print the snapshot as the inspector sends it (one line of JSON).")
    var json = false

    func run() throws {
        let target = self.target, json = self.json
        try EventLoop.run(handlesInterrupt: true) { _ in
            let client = try await InspectorClient.connect(to: target)
            defer { client.close() }
            let (snapshot, text) = try await client.snapshot()
            if json {
                StandardStreams.printLine(text)
            } else {
                StandardStreams.printRaw(TaskTree.render(snapshot))
            }
        }
    }
}

/// A connection to a process's inspector.
final class InspectorClient: Sendable {
    private let reader: StreamReader
    private let writer: StreamWriter
    /// The process id the inspector gave in its greeting.
    let pid: Int32

    private init(reader: StreamReader, writer: StreamWriter, pid: Int32) {
        self.reader = reader
        self.writer = writer
        self.pid = pid
    }

    /// Connects to `target`: a process id or a socket path. Failures are ``CommandFailure``s (exit 1)
    /// that say what is wrong: no such process, no inspector in it, a socket of another user.
    static func connect(to target: String) async throws -> InspectorClient {
        guard let pid = Int32(target), pid > 0 else {
            return try await connect(path: target, what: target)
        }
        guard ProcessFacts.exists(pid) else { throw CommandFailure(message: "no process \(pid)", exitCode: 1) }
        let paths: [String]
        do { paths = try ProcessFacts.listeningUnixSockets(of: pid) } catch {
            if !ProcessFacts.exists(pid) { throw CommandFailure(message: "no process \(pid) (it has exited)", exitCode: 1) }
            throw CommandFailure(message: "cannot look at process \(pid)'s sockets: \(error)", exitCode: 1)
        }
        for path in paths {
            // Another Unix socket of the process stays silent (or says something else): only ours
            // greets. Nothing is written to a socket that has not greeted.
            if let client = try? await connect(path: path, what: "process \(pid)", greetingWithin: .seconds(1)) {
                return client
            }
        }
        throw CommandFailure(
            message: "process \(pid) has no inspector (start it with --inspect PATH or \(Inspector.environmentVariable)=PATH)",
            exitCode: 1)
    }

    private static func connect(path: String, what: String, greetingWithin limit: Duration = .seconds(5)) async throws -> InspectorClient {
        let connection: (reader: StreamReader, writer: StreamWriter)
        do { connection = try await openUnixConnection(path: path, limit: 64 * 1024 * 1024) } catch let error as StreamError {
            let reason = switch error.underlying {
            case Errno.noSuchFileOrDirectory?: "no such socket"
            case Errno.permissionDenied?: "permission denied (the inspector answers its owner only)"
            case Errno.connectionRefused?: "nobody listens there (has the process exited?)"
            default: "\(error)"
            }
            throw CommandFailure(message: "cannot reach the inspector at \(path): \(reason)", exitCode: 1)
        }
        let greeting = try await moveOnAfter(limit) { _ in try await connection.reader.readLine() }
        let line = greeting.map { trimmed(String(decoding: $0, as: UTF8.self)) } ?? ""
        guard line.hasPrefix(Inspector.bannerPrefix), let pid = Int32(line.dropFirst(Inspector.bannerPrefix.count)) else {
            await connection.writer.close()
            let reason = line.hasPrefix("error: ") ? String(line.dropFirst(7)) : "it is not an AsyncIO inspector"
            throw CommandFailure(message: "\(what): \(reason)", exitCode: 1)
        }
        return InspectorClient(reader: connection.reader, writer: connection.writer, pid: pid)
    }

    /// Asks for a snapshot; returns it decoded and as the JSON text it came in.
    func snapshot() async throws -> (ProcessSnapshot, String) {
        let line: [UInt8]
        do {
            try await writer.write("snapshot\n")
            line = try await reader.readLine()
        } catch {
            throw CommandFailure(message: "process \(pid): the inspector went away (\(error))", exitCode: 1)
        }
        if line.isEmpty { throw CommandFailure(message: "process \(pid) has exited", exitCode: 1) }
        let text = trimmed(String(decoding: line, as: UTF8.self))
        do {
            return (try JSONDecoder().decode(ProcessSnapshot.self, from: Data(text.utf8)), text)
        } catch {
            throw CommandFailure(message: "process \(pid): the inspector's answer cannot be read: \(text.prefix(200))", exitCode: 1)
        }
    }

    func close() { writer.abort() }
}

/// `text` without its line end.
private func trimmed(_ text: String) -> String {
    var text = Substring(text)
    while let last = text.last, last == "\n" || last == "\r" || last == "\r\n" { text = text.dropLast() }
    return String(text)
}

/// The text `aio ps` prints: per loop a summary line, then the task tree.
enum TaskTree {
    static func render(_ snapshot: ProcessSnapshot) -> String {
        var out = "process \(snapshot.pid): \(snapshot.loops.count) loop\(snapshot.loops.count == 1 ? "" : "s")\n"
        for loop in snapshot.loops {
            out += "\n" + summary(loop) + "\n"
            for listener in loop.listeners { out += "  \(listener)\n" }
            let ids = Set(loop.tasks.map(\.id))
            var children: [UInt64: [TaskSnapshot]] = [:]
            var roots: [TaskSnapshot] = []
            for task in loop.tasks {
                if let parent = task.parent, ids.contains(parent), parent != task.id {
                    children[parent, default: []].append(task)
                } else {
                    roots.append(task)
                }
            }
            func order(_ tasks: [TaskSnapshot]) -> [TaskSnapshot] {
                tasks.sorted { ($0.kind == "child" ? 1 : 0, $0.id) < ($1.kind == "child" ? 1 : 0, $1.id) }
            }
            func walk(_ task: TaskSnapshot, prefix: String, isLast: Bool, depth: Int) {
                out += prefix + (isLast ? "└─ " : "├─ ") + line(task) + "\n"
                guard depth < 64 else { return }
                let kids = order(children[task.id] ?? [])
                for (index, kid) in kids.enumerated() {
                    walk(kid, prefix: prefix + (isLast ? "   " : "│  "), isLast: index == kids.count - 1, depth: depth + 1)
                }
            }
            let sortedRoots = order(roots)
            for (index, root) in sortedRoots.enumerated() {
                walk(root, prefix: "", isLast: index == sortedRoots.count - 1, depth: 0)
            }
        }
        return out
    }

    /// `loop main (thread 4242): 5 tasks, 2 connections, 3 timers, 0 ready, lag 0.1 ms (max 2 ms), 1234 jobs`
    static func summary(_ loop: LoopSnapshot) -> String {
        var text = "loop \(loop.name) (thread \(loop.thread), \(loop.backend)): \(loop.tasks.count) task\(loop.tasks.count == 1 ? "" : "s")"
        guard loop.responsive else {
            let busy = loop.busyNanoseconds.map { " for \(duration($0))" } ?? ""
            let task = loop.busyTask.map { " by \($0)" } ?? ""
            return text + ", NOT RESPONDING: a job has held it\(busy)\(task)"
        }
        let descriptors = loop.descriptors.values.reduce(0, +)
        text += ", \(loop.connections) connection\(loop.connections == 1 ? "" : "s"), \(descriptors) descriptors"
        text += ", \(loop.timers) timer\(loop.timers == 1 ? "" : "s"), \(loop.ready) ready"
        text += ", lag \(duration(loop.lagNanoseconds)) (max \(duration(loop.maxLagNanoseconds))), \(loop.jobs) jobs"
        return text
    }

    /// One task: `#3 http server 127.0.0.1:8080 [waiting, 12.0 s] read fd 7 (listening ...)`.
    static func line(_ task: TaskSnapshot) -> String {
        var text = task.kind == "child" ? task.name : "#\(task.id) \(task.name)"
        var facts = [task.state.rawValue]
        if let age = task.ageNanoseconds { facts.append("age \(duration(age))") }
        if task.cancelled { facts.append("cancelled") }
        text += " [\(facts.joined(separator: ", "))]"
        if let waiting = task.waitingOn {
            text += " \(waiting)"
            if let waited = task.waitingNanoseconds { text += " for \(duration(waited))" }
        }
        return text
    }

    /// `850 µs`, `12.3 ms`, `4.20 s`, `3 min 5 s`.
    static func duration(_ nanoseconds: Int64) -> String {
        let n = max(0, nanoseconds)
        if n < 1_000_000 { return "\(n / 1_000) µs" }
        if n < 1_000_000_000 { return "\(n / 1_000_000).\(n / 100_000 % 10) ms" }
        if n < 60_000_000_000 {
            let hundredths = n / 10_000_000
            return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100) s"
        }
        let seconds = n / 1_000_000_000
        if seconds < 3600 { return "\(seconds / 60) min \(seconds % 60) s" }
        return "\(seconds / 3600) h \(seconds / 60 % 60) min"
    }
}

import ArgumentParser
import AsyncIO
import AsyncIOSystem

/// `aio top PID`: the tasks of a running AsyncIO process, live in the terminal (Tokio's console,
/// `top` for tasks).
struct TopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "Show the loops and tasks of a running AsyncIO process live (started with --inspect or AIO_INSPECT).",
        discussion: """
            TARGET is a process id or the inspector's socket path. The screen is redrawn every \
            --interval seconds: per loop its tasks, ready jobs, timers, connections, timer lag and jobs \
            per second; then every task with its state, age and what it waits on. Keys: a sorts by age, \
            s by state, n by name, w by time waited; q quits (so does Ctrl-C).
            """
    )

    /// Pasted at the end of `aio top --help`.
    static let examples = [
        "aio serve --port 8080 --inspect /tmp/serve.sock &   then: aio top $!",
    ]

    @Argument(help: "A process id, or the path of an inspector socket.")
    var target: String

    @Option(help: "Seconds between refreshes.")
    var interval: Double = 1

    @Option(help: "Sort by age, state, name or wait (also keys a, s, n, w).")
    var sort: TopScreen.Order = .age

    func validate() throws {
        guard interval.isFinite, interval >= 0.1, interval <= 3600 else {
            throw ValidationError("--interval must be between 0.1 and 3600 seconds")
        }
    }

    func run() throws {
        let target = self.target, interval = self.interval, initialOrder = sort
        let terminal = TerminalMode(rawInputOn: 0)
        defer { terminal?.restore() }
        let size = TerminalMode.size(of: 1) ?? (rows: 24, columns: 100)
        // The alternate screen, restored on the way out whatever happens.
        StandardStreams.printRaw("\u{1B}[?1049h\u{1B}[?25l")
        defer { StandardStreams.printRaw("\u{1B}[?25h\u{1B}[?1049l") }
        do {
            try show(target: target, interval: interval, order: initialOrder, size: size)
        } catch let error as EventLoopError where error.code == .interrupted {
            return  // Ctrl-C quits, as q does
        }
    }

    private func show(target: String, interval: Double, order initialOrder: TopScreen.Order, size: (rows: Int, columns: Int)) throws {
        try EventLoop.run { (loop: EventLoop) async throws -> Void in
            let client = try await InspectorClient.connect(to: target)
            defer { client.close() }
            let keys = Queue<UInt8>(maxSize: 256)
            // Keys, when stdin can be watched (a terminal or a pipe; Ctrl-C quits in any case).
            let watchingKeys = (try? loop.addReader(0) {
                var bytes = [UInt8](repeating: 0, count: 64)
                let count = bytes.withUnsafeMutableBytes { (try? FileOps.read(0, into: $0)) ?? 0 }
                if count == 0 {  // stdin ended: quit
                    _ = try? EventLoop.current?.removeReader(0)
                    _ = keys.tryPut(UInt8(ascii: "q"))
                    return
                }
                for byte in bytes[..<count] { _ = keys.tryPut(byte) }
            }) != nil
            defer { if watchingKeys { _ = try? loop.removeReader(0) } }
            var order = initialOrder
            var previous: (ProcessSnapshot, LoopClock.Instant)?
            while true {
                let (snapshot, _) = try await client.snapshot()
                let now = loop.now
                let screen = TopScreen(
                    snapshot: snapshot, previous: previous.map { ($0.0, Double(now.nanoseconds - $0.1.nanoseconds) / 1e9) },
                    order: order, interval: interval)
                StandardStreams.printRaw(screen.render(rows: size.rows, columns: size.columns))
                previous = (snapshot, now)
                let key = try await moveOnAfter(.milliseconds(Int64(interval * 1000))) { _ in try await keys.get() }
                switch key.map({ Character(Unicode.Scalar($0)) }) {
                case "q", "Q": return
                case "a": order = .age
                case "s": order = .state
                case "n": order = .name
                case "w": order = .wait
                default: continue
                }
            }
        }
    }
}

/// One frame of `aio top`: pure, so tests can check it without a terminal.
struct TopScreen {
    /// The orders the task table can be sorted in.
    enum Order: String, ExpressibleByArgument, CaseIterable {
        case age, state, name, wait
    }

    let snapshot: ProcessSnapshot
    /// The previous snapshot and the seconds since, for rates.
    let previous: (ProcessSnapshot, Double)?
    let order: Order
    let interval: Double

    /// The frame: cursor home, each line cut to `columns`, the task table cut to the rows left, the
    /// rest of the screen cleared.
    func render(rows: Int, columns: Int) -> String {
        var lines = self.lines()
        let taskHeader = lines.firstIndex { $0.hasPrefix("TASK") } ?? lines.count
        if lines.count > rows - 1 {
            let hidden = lines.count - (rows - 2)
            lines = Array(lines.prefix(max(taskHeader + 1, rows - 2))) + ["… \(hidden) more task\(hidden == 1 ? "" : "s")"]
        }
        let cut = lines.map { line in line.count > columns ? String(line.prefix(max(columns - 1, 1))) + "…" : line }
        return "\u{1B}[H" + cut.map { $0 + "\u{1B}[K" }.joined(separator: "\n") + "\u{1B}[J"
    }

    /// The lines, uncut.
    func lines() -> [String] {
        let tasks = snapshot.loops.reduce(0) { $0 + $1.tasks.count }
        var lines = [
            "aio top · process \(snapshot.pid) · \(snapshot.loops.count) loop\(snapshot.loops.count == 1 ? "" : "s") · \(tasks) tasks · every \(TaskTree.duration(Int64(interval * 1e9))) · sorted by \(order.rawValue) · keys: a s n w sort, q quit",
            "",
            pad(["LOOP", "THREAD", "TASKS", "READY", "TIMERS", "CONNS", "LAG", "MAX LAG", "JOBS/S", "TURNS/S"],
                [10, 8, 6, 6, 7, 6, 9, 9, 9, 8]),
        ]
        for loop in snapshot.loops {
            let before = previous?.0.loops.first { $0.name == loop.name && $0.thread == loop.thread }
            let seconds = previous?.1 ?? 0
            func rate(_ now: UInt64, _ then: UInt64?) -> String {
                guard let then, seconds > 0, now >= then else { return "-" }
                return String(Int((Double(now - then) / seconds).rounded()))
            }
            guard loop.responsive else {
                let busy = loop.busyNanoseconds.map { TaskTree.duration($0) } ?? "?"
                lines.append(pad([loop.name, "\(loop.thread)", "\(loop.tasks.count)"], [10, 8, 6])
                             + "NOT RESPONDING for \(busy)" + (loop.busyTask.map { " (\($0))" } ?? ""))
                continue
            }
            lines.append(pad([
                loop.name, "\(loop.thread)", "\(loop.tasks.count)", "\(loop.ready)", "\(loop.timers)",
                "\(loop.connections)", TaskTree.duration(loop.lagNanoseconds), TaskTree.duration(loop.maxLagNanoseconds),
                rate(loop.jobs, before?.jobs), rate(loop.turns, before?.turns),
            ], [10, 8, 6, 6, 7, 6, 9, 9, 9, 8]))
        }
        lines.append("")
        lines.append(pad(["TASK", "LOOP", "STATE", "AGE", "WAITED", "NAME"], Self.taskWidths) + "WAITING ON")
        let rows = snapshot.loops.flatMap { loop in loop.tasks.map { (loop.name, $0) } }
        for (loopName, task) in sorted(rows) {
            lines.append(pad([
                task.kind == "child" ? "-" : "#\(task.id)", loopName,
                task.state.rawValue + (task.cancelled ? "!" : ""),
                task.ageNanoseconds.map(TaskTree.duration) ?? "-",
                task.waitingNanoseconds.map(TaskTree.duration) ?? "-",
                task.name,
            ], Self.taskWidths) + (task.waitingOn ?? ""))
        }
        return lines
    }

    /// Widths of the task table's columns before WAITING ON.
    private static let taskWidths = [8, 10, 8, 9, 9, 30]

    private func sorted(_ rows: [(String, TaskSnapshot)]) -> [(String, TaskSnapshot)] {
        let stateRank: [TaskSnapshot.State: Int] = [.running: 0, .ready: 1, .waiting: 2]
        return rows.sorted { a, b in
            let (x, y) = (a.1, b.1)
            switch order {
            case .age: return (x.ageNanoseconds ?? -1, y.id) > (y.ageNanoseconds ?? -1, x.id)
            case .state: return (stateRank[x.state]!, -(x.ageNanoseconds ?? -1), x.id) < (stateRank[y.state]!, -(y.ageNanoseconds ?? -1), y.id)
            case .name: return (x.name, x.id) < (y.name, y.id)
            case .wait: return (x.waitingNanoseconds ?? -1, y.id) > (y.waitingNanoseconds ?? -1, x.id)
            }
        }
    }

    /// The fields, each padded to its width (a field that fills it gets one space after it).
    private func pad(_ fields: [String], _ widths: [Int]) -> String {
        zip(fields, widths).map { field, width in
            field.count >= width ? field + " " : field + String(repeating: " ", count: width - field.count)
        }.joined()
    }
}

/// What an ``Inspector`` saw in a process at one moment: each of its loops.
public struct ProcessSnapshot: Sendable, Decodable, Equatable {
    /// The process id.
    public var pid: Int32
    /// The loops, in the order they were created.
    public var loops: [LoopSnapshot]

    /// A snapshot of `loops` in process `pid`.
    public init(pid: Int32, loops: [LoopSnapshot]) {
        self.pid = pid
        self.loops = loops
    }
}

/// One loop as the inspector saw it: its counters, descriptors, timers and tasks.
public struct LoopSnapshot: Sendable, Decodable, Equatable {
    /// The loop's name.
    public var name: String
    /// The id of the thread running it (as `gettid` and `ps -L` give it).
    public var thread: Int32
    /// Its backend: `epoll` or `io_uring`.
    public var backend: String
    /// False when the loop did not answer in time: a job has held it (``busyNanoseconds``), and only
    /// what other threads can see is filled in (the tasks, without their waits).
    public var responsive: Bool
    /// When not responsive: how long the job running now has held the loop.
    public var busyNanoseconds: Int64?
    /// When not responsive: the name of the task whose job holds the loop, if the loop knows it.
    public var busyTask: String?
    /// Jobs run since the loop started.
    public var jobs: UInt64
    /// Turns taken since the loop started.
    public var turns: UInt64
    /// How late the last timer fired past its deadline.
    public var lagNanoseconds: Int64
    /// The worst timer lateness in the last 5 to 10 seconds.
    public var maxLagNanoseconds: Int64
    /// Jobs queued to run.
    public var ready: Int
    /// Timers that will still fire.
    public var timers: Int
    /// Time until the next one fires (nil: none).
    public var nextTimerNanoseconds: Int64?
    /// Registered descriptors, by ``AsyncIOSystem/DescriptorInfo/Kind`` raw value (`connection`,
    /// `listener`, `pipe`...).
    public var descriptors: [String: Int]
    /// What the listening sockets listen on.
    public var listeners: [String]
    /// The tasks: spawned and named ones, and the untracked tasks (task-group children) that wait on
    /// something, each under the nearest tracked task it descends from.
    public var tasks: [TaskSnapshot]

    /// Connected stream sockets registered with the loop.
    public var connections: Int { descriptors["connection"] ?? 0 }
}

/// One task as the inspector saw it.
public struct TaskSnapshot: Sendable, Decodable, Equatable {
    /// Its state.
    public enum State: String, Sendable, Decodable {
        /// Its job runs on the loop now (seen only when the loop did not answer).
        case running
        /// Its job is queued to run.
        case ready
        /// Suspended.
        case waiting
    }

    /// The id: `spawn`'s counter for spawned and named tasks, the task's address for untracked ones.
    public var id: UInt64
    /// The id of the task it was started from (its parent in the tree), if the loop tracks that one.
    public var parent: UInt64?
    /// Its name: the given one, `Task-N`, or Swift's task name; `child task` for an unnamed untracked task.
    public var name: String
    /// `spawned` (``EventLoop/spawn(name:eager:_:)``), `named` (a loop's own tasks: main, connections)
    /// or `child` (an untracked task seen waiting).
    public var kind: String
    /// Running, ready or waiting.
    public var state: State
    /// Time since it started (nil for untracked tasks, whose start the loop does not see).
    public var ageNanoseconds: Int64?
    /// What it waits on (`read fd 7 (127.0.0.1:8080 ← 127.0.0.1:51000)`, `sleep`, `Lock`...), when known.
    public var waitingOn: String?
    /// How long it has waited on that.
    public var waitingNanoseconds: Int64?
    /// Whether cancellation was requested.
    public var cancelled: Bool
}

// MARK: - JSON

extension ProcessSnapshot {
    /// The snapshot as one line of JSON (the inspector's wire format; decode it with any JSON decoder
    /// into ``ProcessSnapshot``).
    public var json: String {
        var out = JSONWriter()
        out.beginObject()
        out.field("pid", Int64(pid))
        out.key("loops")
        out.beginArray()
        for loop in loops { loop.write(to: &out) }
        out.endArray()
        out.endObject()
        return out.text
    }
}

extension LoopSnapshot {
    func write(to out: inout JSONWriter) {
        out.beginObject()
        out.field("name", name)
        out.field("thread", Int64(thread))
        out.field("backend", backend)
        out.field("responsive", responsive)
        if let busyNanoseconds { out.field("busyNanoseconds", busyNanoseconds) }
        if let busyTask { out.field("busyTask", busyTask) }
        out.field("jobs", Int64(truncatingIfNeeded: jobs))
        out.field("turns", Int64(truncatingIfNeeded: turns))
        out.field("lagNanoseconds", lagNanoseconds)
        out.field("maxLagNanoseconds", maxLagNanoseconds)
        out.field("ready", Int64(ready))
        out.field("timers", Int64(timers))
        if let nextTimerNanoseconds { out.field("nextTimerNanoseconds", nextTimerNanoseconds) }
        out.key("descriptors")
        out.beginObject()
        for (kind, count) in descriptors.sorted(by: { $0.key < $1.key }) { out.field(kind, Int64(count)) }
        out.endObject()
        out.key("listeners")
        out.beginArray()
        for listener in listeners { out.string(listener) }
        out.endArray()
        out.key("tasks")
        out.beginArray()
        for task in tasks { task.write(to: &out) }
        out.endArray()
        out.endObject()
    }
}

extension TaskSnapshot {
    func write(to out: inout JSONWriter) {
        out.beginObject()
        out.field("id", Int64(bitPattern: id))
        if let parent { out.field("parent", Int64(bitPattern: parent)) }
        out.field("name", name)
        out.field("kind", kind)
        out.field("state", state.rawValue)
        if let ageNanoseconds { out.field("ageNanoseconds", ageNanoseconds) }
        if let waitingOn { out.field("waitingOn", waitingOn) }
        if let waitingNanoseconds { out.field("waitingNanoseconds", waitingNanoseconds) }
        out.field("cancelled", cancelled)
        out.endObject()
    }
}

/// A minimal JSON writer for the inspector's snapshots (the core module has no Foundation).
struct JSONWriter {
    private(set) var text = ""
    private var needsComma = false

    mutating func beginObject() { open("{") }
    mutating func endObject() { close("}") }
    mutating func beginArray() { open("[") }
    mutating func endArray() { close("]") }

    private mutating func open(_ bracket: String) {
        separate()
        text += bracket
        needsComma = false
    }

    private mutating func close(_ bracket: String) {
        text += bracket
        needsComma = true
    }

    mutating func key(_ name: String) {
        separate()
        appendQuoted(name)
        text += ":"
        needsComma = false
    }

    mutating func field(_ name: String, _ value: String) { key(name); string(value) }
    mutating func field(_ name: String, _ value: Int64) { key(name); raw(String(value)) }
    mutating func field(_ name: String, _ value: Bool) { key(name); raw(value ? "true" : "false") }

    mutating func string(_ value: String) {
        separate()
        appendQuoted(value)
        needsComma = true
    }

    private mutating func raw(_ value: String) {
        separate()
        text += value
        needsComma = true
    }

    private mutating func separate() {
        if needsComma { text += "," }
    }

    private mutating func appendQuoted(_ value: String) {
        text += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}

import AsyncIOSystem
import Synchronization

/// A window into a running process: a Unix socket where tools (`aio ps PID`, `aio top PID`) ask for
/// what every event loop of the process is doing (asyncio's `python -m asyncio ps`, Tokio's console).
///
/// Off unless started: by the program (``start(path:)``), by `aio serve`/`aio echo --inspect PATH`,
/// or by the environment variable `AIO_INSPECT=PATH` for any program that calls
/// ``EventLoop/run(debug:handlesInterrupt:defaultExecutor:_:)-(_,_,_,(EventLoop)->_)``.
///
/// While it runs, each loop keeps what its tasks wait on (a descriptor and direction, a timer, a lock,
/// queue or event, a child process, another thread), and the tasks it starts remember their parent;
/// that costs a little per wait and per spawn, and nothing when no inspector runs.
///
/// The socket is for the owner alone: its file is made `0600` as soon as it is bound, and a peer whose
/// user is neither this process's effective user nor root is turned away (checked with
/// `SO_PEERCRED`, so the moment between `bind` and `chmod` is covered too).
///
/// ### Protocol
/// The inspector speaks first, one line: `AIO-INSPECT/1 <pid>`. Then for each line `snapshot` the
/// client sends, it answers with one line of JSON, a ``ProcessSnapshot``. Anything else gets a line
/// starting with `error:`. A loop that does not answer within a second (a job holds it) is reported
/// as not responsive, with its tasks and the job holding it.
///
/// ### Thread safety
/// Every member is safe from any thread. The inspector runs on a thread and loop of its own, so it
/// answers even when the program's loops are blocked.
public final class Inspector: Sendable {
    /// The socket's path.
    public let path: String
    private let group: EventLoopGroup
    private let listener: Socket

    /// The first line the inspector sends.
    public static let bannerPrefix = "AIO-INSPECT/1 "

    /// The environment variable that starts an inspector in ``EventLoop/run(debug:handlesInterrupt:defaultExecutor:_:)-(_,_,_,(EventLoop)->_)``.
    public static let environmentVariable = "AIO_INSPECT"

    private static let current = LockedState<Inspector?>(nil)

    private init(path: String, group: EventLoopGroup, listener: Socket) {
        self.path = path
        self.group = group
        self.listener = listener
    }

    /// Starts the process's inspector at `path` (a stale socket file there is replaced) and makes every
    /// loop of the process, and those created later, keep what it reports.
    ///
    /// - Returns: The inspector; ``close()`` stops it and removes the socket file.
    /// - Throws: ``EventLoopError`` `.busy` if one already runs; `.system` if its thread cannot start;
    ///   ``StreamError`` if the socket cannot be bound (the message names the path).
    public static func start(path: String) throws -> Inspector {
        try current.withLock { current throws -> Inspector in
            if current != nil { throw EventLoopError(.busy, operation: "Inspector.start: an inspector already runs") }
            let group = try EventLoopGroup(loops: 1, name: "aio-inspector")
            let loop = group.loops[0]
            LoopDirectory.exclude(loop)
            do {
                let listener = try loop.submit { () throws -> Socket in
                    let address: SocketAddress
                    do { address = try SocketAddress(unixPath: path) } catch let error as SocketAddressError {
                        throw StreamError(.system, operation: "listen on unix:\(path)", detail: error.message)
                    }
                    let listener = try loop.listen(on: address, backlog: 16)
                    do { try FileOps.setPermissions(path, 0o600) } catch let error as Errno {
                        listener.close()
                        try? SocketOps.unlinkIfPresent(path)
                        throw StreamError.from(error, operation: "chmod 0600 \(path)")
                    }
                    return listener
                }
                let inspector = Inspector(path: path, group: group, listener: listener)
                loop.spawn(name: "inspector \(path)") { await inspector.serve() }
                current = inspector
                for watched in LoopDirectory.setInspecting(true) { _ = watched.execute { watched.startInspection() } }
                return inspector
            } catch {
                group.shutdown()
                throw error
            }
        }
    }

    /// Starts an inspector at the path in `AIO_INSPECT`, if it is set and none runs yet.
    ///
    /// - Returns: The inspector started, or nil.
    /// - Throws: As ``start(path:)``.
    @discardableResult
    public static func startFromEnvironment() throws -> Inspector? {
        guard let path = SystemEnvironment.value(of: environmentVariable), !path.isEmpty,
              current.withLock({ $0 == nil }) else { return nil }
        return try start(path: path)
    }

    /// Stops the inspector: its clients are disconnected, the socket file is removed, and the loops stop
    /// keeping what it reported. Calling it twice is harmless.
    ///
    /// Blocks the calling thread until the inspector's thread ends; do not call it from a task of the
    /// inspector itself.
    public func close() {
        let wasCurrent = Self.current.withLock { current -> Bool in
            guard current === self else { return false }
            current = nil
            return true
        }
        guard wasCurrent else { return }
        for watched in LoopDirectory.setInspecting(false) { _ = watched.execute { watched.stopInspection() } }
        group.shutdown()
        try? SocketOps.unlinkIfPresent(path)
    }

    /// A snapshot of every loop of the process, as the socket's clients get it. The loops are asked
    /// at once, and each has `timeout` to answer (it answers between two jobs); one that does not is
    /// described from outside (``LoopSnapshot/responsive`` is false). Call it from a task on a loop:
    /// elsewhere there is no timer, and it waits for every loop to answer.
    ///
    /// ### Cancellation
    /// Not interrupted: it returns within `timeout`.
    public static func snapshot(timeout: Duration = .seconds(1)) async -> ProcessSnapshot {
        // No loop is held while the answers are awaited: a test loop (or any) that shuts down meanwhile
        // is freed at once. A loop that does not answer is looked up again in the directory.
        let answers = ask(timeout: timeout)
        var snapshots: [LoopSnapshot] = []
        for (id, answer, timer) in answers {
            let reply = (try? await answer.value) ?? .closed
            timer?.cancel()
            switch reply {
            case .snapshot(let snapshot):
                snapshots.append(snapshot)
            case .timedOut:
                if let loop = LoopDirectory.loop(id), !loop.isClosed { snapshots.append(loop.unresponsiveSnapshot()) }
            case .closed:
                break
            }
        }
        return ProcessSnapshot(pid: ProcessFacts.currentID, loops: snapshots)
    }

    /// Asks every running loop for its snapshot (the calling loop answers at once); returns, per loop,
    /// where the answer comes, and the timer that answers nil after `timeout`.
    private static func ask(timeout: Duration) -> [(ObjectIdentifier, Future<SnapshotReply.Outcome>, TimerHandle?)] {
        let current = EventLoop.current
        var answers: [(ObjectIdentifier, Future<SnapshotReply.Outcome>, TimerHandle?)] = []
        for loop in LoopDirectory.loops {
            let answer = Future<SnapshotReply.Outcome>()
            if loop === current {
                _ = answer.complete(.snapshot(loop.takeSnapshot()))
                answers.append((ObjectIdentifier(loop), answer, nil))
                continue
            }
            // The callback does not hold the loop, and answers nil when a closing loop drops it.
            let reply = SnapshotReply(answer: answer)
            guard loop.execute({
                _ = reply.answer.complete(EventLoop.current.map { .snapshot($0.takeSnapshot()) } ?? .closed)
            }) else { continue }
            let timer = current?.plainTimer(after: timeout) { _ = reply.answer.complete(.timedOut) }
            answers.append((ObjectIdentifier(loop), answer, timer))
        }
        return answers
    }

    // MARK: - Serving

    private func serve() async {
        let loop = listener.loop
        await withDiscardingTaskGroup { group in
            while let socket = try? await loop.nextConnection(on: listener) {
                group.addTask(executorPreference: loop) { await Self.answer(socket) }
            }
        }
    }

    /// One client: check who it is, greet it, answer its requests until it leaves.
    private static func answer(_ socket: Socket) async {
        let writer = StreamWriter(socket: socket)
        defer { socket.close() }
        let owner = ProcessFacts.effectiveUserID
        guard let peer = try? SocketOps.peerCredentials(socket.fd), peer.uid == owner || peer.uid == 0 else {
            try? await writer.write("error: permission denied (the inspector answers its owner only)\n")
            return
        }
        let reader = StreamReader(socket: socket, limit: 1024)
        do {
            try await writer.write("\(bannerPrefix)\(ProcessFacts.currentID)\n")
            while true {
                let line = try await reader.readLine()
                if line.isEmpty { return }  // end of stream
                let request = String(decoding: line, as: UTF8.self).trimmingLineEnd()
                switch request {
                case "snapshot":
                    try await writer.write(await snapshot().json + "\n")
                case "":
                    continue
                default:
                    try await writer.write("error: unknown request \"\(request.prefix(64))\" (send snapshot)\n")
                }
            }
        } catch {
            return  // the client left, or sent a line longer than any request
        }
    }
}

/// A snapshot's answer slot; dropped unanswered (a closing loop drops its callbacks), it answers
/// `closed`.
private final class SnapshotReply: Sendable {
    enum Outcome: Sendable {
        case snapshot(LoopSnapshot)
        /// The loop did not answer in time.
        case timedOut
        /// The loop shut down first.
        case closed
    }

    let answer: Future<Outcome>
    init(answer: Future<Outcome>) { self.answer = answer }
    deinit { _ = answer.complete(.closed) }
}

extension String {
    /// The string without a trailing `\n` or `\r\n`.
    fileprivate func trimmingLineEnd() -> String {
        var text = Substring(self)
        if text.hasSuffix("\n") { text = text.dropLast() }
        if text.hasSuffix("\r") { text = text.dropLast() }
        return String(text)
    }
}

/// The loops of the process that are running, for the inspector. Held strongly from the moment a loop
/// starts running until it has shut down (a weak reference would give every loop a side table, and
/// make each retain and release of it, one per job, take the runtime's slow path).
enum LoopDirectory {
    private struct State {
        var loops: [EventLoop] = []
        var excluded: Set<ObjectIdentifier> = []
        var inspecting = false
    }
    private static let state = LockedState(State())

    /// Enters a loop that starts running (on its thread); while an inspector runs, it is inspected.
    static func add(_ loop: EventLoop) {
        let inspect = state.withLock { state -> Bool in
            state.loops.append(loop)
            return state.inspecting && !state.excluded.contains(ObjectIdentifier(loop))
        }
        if inspect { loop.startInspection() }
    }

    /// The running loop `id` identifies, if it is still in the directory.
    static func loop(_ id: ObjectIdentifier) -> EventLoop? {
        state.withLock { state in state.loops.first { ObjectIdentifier($0) == id } }
    }

    /// Takes out a loop that has shut down.
    static func remove(_ loop: EventLoop) {
        state.withLock { state in
            state.loops.removeAll { $0 === loop }
            state.excluded.remove(ObjectIdentifier(loop))
        }
    }

    /// Leaves `loop` out of the listing and of inspection (the inspector's own).
    static func exclude(_ loop: EventLoop) {
        state.withLock { _ = $0.excluded.insert(ObjectIdentifier(loop)) }
    }

    /// Turns inspection of every loop on or off; returns the loops running now, for which the caller
    /// does it (loops that start from now on follow `on` by themselves).
    static func setInspecting(_ on: Bool) -> [EventLoop] {
        state.withLock { state in
            state.inspecting = on
            return state.loops.filter { !state.excluded.contains(ObjectIdentifier($0)) }
        }
    }

    /// The running loops, oldest first, without excluded ones.
    static var loops: [EventLoop] {
        state.withLock { state in state.loops.filter { !state.excluded.contains(ObjectIdentifier($0)) && !$0.isClosed } }
    }
}

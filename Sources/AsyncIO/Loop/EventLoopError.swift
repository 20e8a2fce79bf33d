import AsyncIOSystem

/// An error from the event loop itself: it is closed, a call would deadlock, or the OS refused a resource.
public struct EventLoopError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable { case closed, busy, wouldDeadlock, system, interrupted, notOnLoop }
        private let value: Value
        /// The loop (or the registration) is closed.
        public static let closed = Code(value: .closed)
        /// Another task is already waiting for the same readiness on this descriptor.
        public static let busy = Code(value: .busy)
        /// A blocking call was made on the loop's own thread, which would wait for itself forever.
        public static let wouldDeadlock = Code(value: .wouldDeadlock)
        /// A system call failed; see ``EventLoopError/underlying``.
        public static let system = Code(value: .system)
        /// Ctrl-C (`SIGINT`) cancelled the main task of ``EventLoop/run(debug:handlesInterrupt:_:)``
        /// (asyncio's `KeyboardInterrupt`).
        public static let interrupted = Code(value: .interrupted)
        /// A loop-bound API was called outside a task running on its loop: on Swift's global pool (a
        /// plain `Task {}` without ``EventLoop/run(debug:handlesInterrupt:defaultExecutor:_:)``'s
        /// `defaultExecutor`), on a thread that runs no loop, or on another loop.
        public static let notOnLoop = Code(value: .notOnLoop)
        public var description: String {
            switch value {
            case .closed: "closed"
            case .busy: "busy"
            case .wouldDeadlock: "would deadlock"
            case .system: "system error"
            case .interrupted: "interrupted"
            case .notOnLoop: "not on loop"
            }
        }
    }

    /// What went wrong.
    public let code: Code
    /// The operation that failed, such as "epoll_ctl" or "submit".
    public let operation: String
    /// The system error, when there is one.
    public let underlying: Errno?
    /// More about where it happened (for `.notOnLoop`: the loop the call belongs to and where it was made).
    public let detail: String?

    /// Creates an error.
    public init(_ code: Code, operation: String, underlying: Errno? = nil, detail: String? = nil) {
        self.code = code
        self.operation = operation
        self.underlying = underlying
        self.detail = detail
    }

    static let notOnLoopAdvice = "run it inside EventLoop.run { ... } or a task started with loop.spawn, or pass "
        + "defaultExecutor: true to EventLoop.run so that Task { } runs on the loop"

    public var description: String {
        switch code {
        case .closed: "\(operation): the event loop or descriptor is closed"
        case .busy: "\(operation): another task is already waiting on this descriptor"
        case .wouldDeadlock: "\(operation): called on the loop's own thread, which would wait for itself forever"
        case .interrupted: "\(operation): interrupted (SIGINT); the main task was cancelled"
        case .notOnLoop: "\(operation) must be called from a task running on \(detail ?? "an EventLoop"); \(Self.notOnLoopAdvice)"
        default: "\(operation) failed: \(underlying.map(String.init(describing:)) ?? "unknown error")"
        }
    }
}

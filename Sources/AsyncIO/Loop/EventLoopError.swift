import AsyncIOSystem

/// An error from the event loop itself: it is closed, a call would deadlock, or the OS refused a resource.
public struct EventLoopError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable { case closed, busy, wouldDeadlock, system, interrupted }
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
        public var description: String {
            switch value {
            case .closed: "closed"
            case .busy: "busy"
            case .wouldDeadlock: "would deadlock"
            case .system: "system error"
            case .interrupted: "interrupted"
            }
        }
    }

    /// What went wrong.
    public let code: Code
    /// The operation that failed, such as "epoll_ctl" or "submit".
    public let operation: String
    /// The system error, when there is one.
    public let underlying: Errno?

    /// Creates an error.
    public init(_ code: Code, operation: String, underlying: Errno? = nil) {
        self.code = code
        self.operation = operation
        self.underlying = underlying
    }

    public var description: String {
        switch code {
        case .closed: "\(operation): the event loop or descriptor is closed"
        case .busy: "\(operation): another task is already waiting on this descriptor"
        case .wouldDeadlock: "\(operation): called on the loop's own thread, which would wait for itself forever"
        case .interrupted: "\(operation): interrupted (SIGINT); the main task was cancelled"
        default: "\(operation) failed: \(underlying.map(String.init(describing:)) ?? "unknown error")"
        }
    }
}

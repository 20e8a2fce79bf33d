/// How a child process ended: with an exit code, or killed by a signal.
public enum ExitStatus: Hashable, Sendable, CustomStringConvertible {
    /// It called `exit(code)`.
    case exited(Int32)
    /// A signal ended it.
    case signaled(Int32)

    /// Whether it exited with code 0.
    public var isSuccess: Bool { self == .exited(0) }

    /// asyncio's `returncode`: the exit code, or minus the signal number.
    public var returnCode: Int32 {
        switch self {
        case .exited(let code): code
        case .signaled(let signal): -signal
        }
    }

    public var description: String {
        switch self {
        case .exited(let code): "exited with code \(code)"
        case .signaled(let signal): "killed by \(Signal(rawValue: signal))"
        }
    }
}

/// A child process that could not be started or talked to, naming the executable and the reason.
public struct ChildProcessError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The executable as given.
    public let executable: String
    /// Why it failed.
    public let reason: String
    /// The system error, when there is one.
    public let underlying: Errno?

    public var description: String { "\(executable): \(reason)" }
}

import AsyncIOSystem

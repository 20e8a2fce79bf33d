import CAsyncIOLinux
import Glibc

/// Signals as readable events: a signalfd, and the thread signal mask it depends on.
///
/// A signal reaches a signalfd only if every thread blocks it; otherwise a thread that does not block
/// it takes the default action (for SIGINT and SIGTERM: the process ends). Block the signals with
/// ``blockInCallingThread(_:)`` early in `main`, before other threads start, so they inherit the mask.
public enum SignalFD {
    /// Blocks `signals` in the calling thread (threads it starts later inherit the mask) and returns the
    /// previous mask, for ``restoreMask(_:)``.
    ///
    /// The corresponding C function is `pthread_sigmask`.
    public static func blockInCallingThread(_ signals: [Int32]) -> SignalMask {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &set, &previous)
        return SignalMask(raw: previous)
    }

    /// Restores a mask returned by ``blockInCallingThread(_:)`` on the calling thread.
    public static func restoreMask(_ mask: SignalMask) {
        var raw = mask.raw
        pthread_sigmask(SIG_SETMASK, &raw, nil)
    }

    /// Opens a non-blocking, close-on-exec signalfd for `signals`.
    ///
    /// The corresponding C function is `signalfd`.
    public static func open(_ signals: [Int32]) throws(Errno) -> Int32 {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        let fd = try systemCall("signalfd") { signalfd(-1, &set, Int32(SFD_NONBLOCK | SFD_CLOEXEC)) }
        DescriptorLedger.record(fd)
        return fd
    }

    /// Reads the next pending signal number; `.wouldBlock` when none is pending.
    public static func read(_ fd: Int32) throws(Errno) -> IOResult<Int32> {
        var info = signalfd_siginfo()
        let result = try nonBlockingCall("read") { Glibc.read(fd, &info, MemoryLayout<signalfd_siginfo>.size) }
        switch result {
        case .wouldBlock: return .wouldBlock
        case .done: return .done(Int32(info.ssi_signo))
        }
    }

    /// `SIGINT`.
    public static let interrupt = SIGINT
    /// `SIGTERM`.
    public static let terminate = SIGTERM
    /// `SIGHUP`.
    public static let hangup = SIGHUP
    /// `SIGQUIT`.
    public static let quit = SIGQUIT
    /// `SIGUSR1`.
    public static let user1 = SIGUSR1
    /// `SIGUSR2`.
    public static let user2 = SIGUSR2
}

/// A thread's signal mask, as saved by ``SignalFD/blockInCallingThread(_:)``.
public struct SignalMask: @unchecked Sendable {
    let raw: sigset_t
}

/// Writing to standard output and error without stdio buffering, so a line is out when the call returns.
public enum StandardStreams {
    /// Writes `line` and a newline to standard output at once (a readiness line must not sit in a buffer
    /// when stdout is a pipe).
    public static func printLine(_ line: String) { write(1, line + "\n") }

    /// Writes `line` and a newline to standard error.
    public static func printError(_ line: String) { write(2, line + "\n") }

    /// Writes `text` to standard output as it is (no newline), at once: for progress lines.
    public static func printRaw(_ text: String) { write(1, text) }

    /// Whether standard output is a terminal (not a pipe or a file).
    public static var isOutputTerminal: Bool { isatty(1) == 1 }

    private static func write(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n > 0 { offset += n } else if n == -1 && Glibc.errno == EINTR { continue } else { return }
        }
        bytes.removeAll()
    }
}

/// Ends the process at once with `code`, without running cleanup (a second Ctrl-C).
public func exitImmediately(_ code: Int32) -> Never { _exit(code) }

/// Signals aimed at the calling thread, for tests of signal delivery.
public enum ThreadSignals {
    /// Sends `signal` to the calling thread only (`tgkill`).
    public static func raiseInCallingThread(_ signal: Int32) { _ = pthread_kill(pthread_self(), signal) }

    /// Unblocks `signal` in the calling thread.
    public static func unblockInCallingThread(_ signal: Int32) {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, signal)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// Whether the calling thread blocks `signal`.
    public static func isBlockedInCallingThread(_ signal: Int32) -> Bool {
        var current = sigset_t()
        pthread_sigmask(SIG_BLOCK, nil, &current)
        return sigismember(&current, signal) == 1
    }
}

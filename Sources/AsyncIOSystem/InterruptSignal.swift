import Glibc
import Synchronization

/// Ctrl-C for `EventLoop.run`: a `SIGINT` handler that counts the signal and rings a loop's eventfd
/// (Python's `signal.set_wakeup_fd`), so the loop can cancel its main task as `asyncio.run` does.
///
/// The handler is process-wide and does only async-signal-safe work: an atomic increment and a
/// `write(2)` of the eventfd. A second `SIGINT` ends the process at once with the default action. It is installed only where `SIGINT` still has its default action (a
/// program that ignores it, handles it itself, or blocks it for a `SignalStream` keeps its choice), and
/// by one loop at a time.
public enum InterruptSignal {
    /// Signals received since the handler was installed.
    private static let received = Atomic<Int>(0)
    /// The eventfd to ring; -1 when none.
    private static let wakeFD = Atomic<Int32>(-1)
    /// Whether a loop owns the handler.
    private static let isInstalled = Atomic<Bool>(false)
    nonisolated(unsafe) private static var previous = sigaction()

    /// Installs the handler, ringing `wakeFD` on every `SIGINT`. Returns false (and changes nothing) if
    /// `SIGINT` does not have its default action, is blocked in the calling thread, or another loop
    /// holds the handler.
    public static func install(wakeFD fd: Int32) -> Bool {
        guard isInstalled.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            return false
        }
        var current = sigaction()
        sigaction(SIGINT, nil, &current)
        var mask = sigset_t()
        pthread_sigmask(SIG_BLOCK, nil, &mask)
        // SAFETY: reading the handler union's pointer member; SIG_DFL is the null pointer.
        let isDefault = unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) == 0
        guard isDefault, sigismember(&mask, SIGINT) == 0 else {
            isInstalled.store(false, ordering: .releasing)
            return false
        }
        received.store(0, ordering: .relaxed)
        wakeFD.store(fd, ordering: .releasing)
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            // Async-signal-safe only: an atomic add and write(2). errno is saved: the signal may land
            // between a system call and its caller's read of errno.
            let savedErrno = Glibc.errno
            if InterruptSignal.received.add(1, ordering: .relaxed).newValue >= 2 {
                // A second Ctrl-C: the default action, at once (asyncio's second KeyboardInterrupt).
                Glibc.signal(SIGINT, SIG_DFL)
                Glibc.raise(SIGINT)
            }
            let fd = InterruptSignal.wakeFD.load(ordering: .acquiring)
            if fd >= 0 {
                var one: UInt64 = 1
                _ = Glibc.write(fd, &one, 8)
            }
            Glibc.errno = savedErrno
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        sigaction(SIGINT, &action, &previous)
        return true
    }

    /// How many `SIGINT`s arrived since ``install(wakeFD:)``.
    public static var count: Int { received.load(ordering: .relaxed) }

    /// Puts back the action that was there before ``install(wakeFD:)``: the default, which ends the
    /// process on the next Ctrl-C.
    public static func uninstall() {
        guard isInstalled.load(ordering: .acquiring) else { return }
        sigaction(SIGINT, &previous, nil)
        wakeFD.store(-1, ordering: .releasing)
        isInstalled.store(false, ordering: .releasing)
    }

    /// Ends the process as a second Ctrl-C does: default action for `SIGINT`, then raise it, so the
    /// parent sees "killed by SIGINT" (exit status 130 in a shell).
    public static func dieOfInterrupt() -> Never {
        signal(SIGINT, SIG_DFL)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        raise(SIGINT)
        _exit(130)
    }
}

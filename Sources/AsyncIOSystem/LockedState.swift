import Glibc

/// State guarded by a `pthread_mutex_t`, for the few places where threads meet (the loop's inbox, task
/// registry, cross-thread results).
///
/// Why not `Synchronization.Mutex`: on Linux its lock is a futex driven by atomics inside the standard
/// library, which ThreadSanitizer does not instrument, so every access it guards is reported as a race
/// and real races drown in the noise. `pthread_mutex_*` is intercepted by the sanitizer and costs the same
/// uncontended (one atomic each way).
///
/// ### Thread safety
/// `withLock` is safe from any thread. Never call back into the same lock from inside `body` (it is not
/// recursive), and never resume a continuation while holding it.
public final class LockedState<State>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var state: State

    /// Guards `initial`.
    public init(_ initial: State) {
        state = initial
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the state.
    @inlinable
    public func withLock<Result, Failure: Error>(_ body: (inout State) throws(Failure) -> Result) throws(Failure) -> Result {
        lock()
        defer { unlock() }
        return try body(&unsafeState)
    }

    @usableFromInline
    var unsafeState: State {
        _read { yield state }
        _modify { yield &state }
    }

    @usableFromInline
    func lock() { pthread_mutex_lock(mutex) }

    @usableFromInline
    func unlock() { pthread_mutex_unlock(mutex) }
}

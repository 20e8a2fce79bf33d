import Glibc
import Synchronization

/// The result of a non-blocking operation: done, or it would have blocked (`EAGAIN`).
///
/// `EAGAIN` is an expected outcome of every non-blocking call, so it is a value, not an error.
@frozen
public enum IOResult<Value> {
    /// The call completed with this value.
    case done(Value)
    /// The call would have blocked; wait for readiness and try again.
    case wouldBlock
}

extension IOResult: Sendable where Value: Sendable {}
extension IOResult: Equatable where Value: Equatable {}

/// Runs a C call that returns -1 and sets `errno` on failure, retrying `EINTR`.
///
/// `EBADF` and `EFAULT` mean a bug in the caller (a closed or wild descriptor or pointer), so they stop the
/// process instead of being thrown: continuing could read or write another object's descriptor.
@inlinable
@discardableResult
package func systemCall<R: FixedWidthInteger>(
    _ name: StaticString,
    _ body: () -> R
) throws(Errno) -> R {
    while true {
        let err: Int32
        if let injected = injectedFault(name) {
            err = injected.rawValue
        } else {
            let result = body()
            if result != -1 { return result }
            err = Glibc.errno
        }
        if err == EINTR { continue }
        checkNotABug(err, name)
        throw Errno(rawValue: err)
    }
}

/// Like ``systemCall(_:_:)``, but `EAGAIN` becomes ``IOResult/wouldBlock``.
@inlinable
package func nonBlockingCall<R: FixedWidthInteger>(
    _ name: StaticString,
    _ body: () -> R
) throws(Errno) -> IOResult<R> {
    while true {
        let err: Int32
        if let injected = injectedFault(name) {
            err = injected.rawValue
        } else {
            let result = body()
            if result != -1 { return .done(result) }
            err = Glibc.errno
        }
        if err == EINTR { continue }
        if err == EAGAIN || err == EWOULDBLOCK { return .wouldBlock }
        checkNotABug(err, name)
        throw Errno(rawValue: err)
    }
}

/// A scripted error for this call (see ``SystemCallFaults``); nil, after one atomic load, when none.
@inlinable
func injectedFault(_ name: StaticString) -> Errno? {
    systemCallFaultsArmed.load(ordering: .relaxed) > 0 ? takeInjectedFault(name) : nil
}

@usableFromInline
func takeInjectedFault(_ name: StaticString) -> Errno? { SystemCallFaults.take(name) }

/// How many threads have scripted system-call errors (``SystemCallFaults``).
@usableFromInline
let systemCallFaultsArmed = Atomic<Int>(0)

@usableFromInline
func checkNotABug(_ err: Int32, _ name: StaticString) {
    precondition(err != EBADF && err != EFAULT, "\(name) failed with \(Errno(rawValue: err)): a bug in AsyncIO")
}

/// The test seam of ``systemCall(_:_:)`` and ``nonBlockingCall(_:_:)``: a test scripts errors that the
/// next calls of a given name on its thread fail with, before the real call is made (`EINTR`, `EAGAIN`,
/// `ECONNRESET` mid-write, `EMFILE` on accept). Calls on other threads, and all calls while nothing is
/// scripted, are untouched; the cost then is one relaxed atomic load.
package enum SystemCallFaults {
    private static let scripts = LockedState<[Int32: [(call: String, error: Errno)]]>([:])

    /// Makes the next calls named `call` on the calling thread fail with `errors`, one each, in order.
    package static func inject(_ errors: [Errno], into call: String) {
        let thread = SystemThread.currentID
        scripts.withLock { scripts in
            if scripts[thread] == nil { systemCallFaultsArmed.add(1, ordering: .relaxed) }
            scripts[thread, default: []] += errors.map { (call, $0) }
        }
    }

    /// Forgets the calling thread's script; returns how many scripted errors were never used.
    @discardableResult
    package static func clear() -> Int {
        let thread = SystemThread.currentID
        return scripts.withLock { scripts in
            guard let left = scripts.removeValue(forKey: thread) else { return 0 }
            systemCallFaultsArmed.subtract(1, ordering: .relaxed)
            return left.count
        }
    }

    /// The next scripted error for `call` on this thread, for an operation the io_uring ring makes in
    /// the call's place (an accept in the ring stands for `accept4`); nil when nothing is scripted.
    @inline(__always)
    package static func scripted(_ call: StaticString) -> Errno? {
        guard systemCallFaultsArmed.load(ordering: .relaxed) > 0 else { return nil }
        return take(call)
    }

    /// The next scripted error for `call` on this thread, if it is the script's next entry.
    static func take(_ call: StaticString) -> Errno? {
        let thread = SystemThread.currentID
        return scripts.withLock { scripts -> Errno? in
            guard var script = scripts[thread], let next = script.first, next.call == "\(call)" else { return nil }
            script.removeFirst()
            scripts[thread] = script
            return next.error
        }
    }
}

import Glibc

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
        let result = body()
        if result != -1 { return result }
        let err = Glibc.errno
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
        let result = body()
        if result != -1 { return .done(result) }
        let err = Glibc.errno
        if err == EINTR { continue }
        if err == EAGAIN || err == EWOULDBLOCK { return .wouldBlock }
        checkNotABug(err, name)
        throw Errno(rawValue: err)
    }
}

@usableFromInline
func checkNotABug(_ err: Int32, _ name: StaticString) {
    precondition(err != EBADF && err != EFAULT, "\(name) failed with \(Errno(rawValue: err)): a bug in AsyncIO")
}

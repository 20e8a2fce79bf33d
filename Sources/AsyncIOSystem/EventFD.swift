import CAsyncIOLinux
import Glibc

/// A non-blocking eventfd: the loop's doorbell for other threads.
public struct EventFD: Sendable {
    /// The descriptor.
    public let fd: Int32

    /// Creates a non-blocking, close-on-exec eventfd with counter 0.
    ///
    /// The corresponding C function is `eventfd`.
    public init() throws(Errno) {
        fd = try systemCall("eventfd") { eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC)) }
    }

    /// Adds 1 to the counter, waking a poller. Safe from any thread.
    public func signal() {
        var one: UInt64 = 1
        // EAGAIN only if the counter would overflow 2^64-2: the poller is already woken.
        _ = try? nonBlockingCall("write") { Glibc.write(fd, &one, 8) }
    }

    /// Resets the counter to 0.
    public func drain() {
        var value: UInt64 = 0
        _ = try? nonBlockingCall("read") { Glibc.read(fd, &value, 8) }
    }

    /// Closes the descriptor.
    public func close() { try? FileDescriptorOps.close(fd) }
}

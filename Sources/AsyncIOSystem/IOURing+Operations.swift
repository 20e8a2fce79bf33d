import CAsyncIOLinux
import Glibc

/// The ring's completion I/O: multishot receives into the buffer pool, sends, and file operations.
extension IOURing {

    /// Queues a multishot receive on the stream socket `fd` into the pool's buffers; its completions
    /// carry `data` (which must leave bits 62 and 63 clear).
    public func startReceiving(_ fd: Int32, data: UInt64) throws(Errno) {
        precondition(receiveBufferCount > 0, "no receive buffers")
        let tagged = data | Self.receiveTag
        try submitting { casyncio_uring_recv_multishot(ring, fd, tagged) }
        liveReceives.insert(tagged)
    }

    /// Queues the cancellation of the receive started with `data`: its last completion comes with
    /// `ECANCELED` (or whatever ended it first).
    public func stopReceiving(data: UInt64) throws(Errno) {
        try submitting { casyncio_uring_cancel(ring, data | Self.receiveTag, Self.cancellationData) }
    }

    /// Queues a multishot accept on the listening socket `fd`: each completion (kind
    /// ``Completion/Kind/accept``) carries a new non-blocking, close-on-exec descriptor, or `-errno`.
    public func startAccepting(_ fd: Int32, data: UInt64) throws(Errno) {
        let tagged = data | Self.receiveTag | Self.acceptTag
        try submitting { casyncio_uring_accept_multishot(ring, fd, tagged) }
        liveReceives.insert(tagged)
    }

    /// Queues the cancellation of the accept started with `data`.
    public func stopAccepting(data: UInt64) throws(Errno) {
        try submitting { casyncio_uring_cancel(ring, data | Self.receiveTag | Self.acceptTag, Self.cancellationData) }
    }

    /// Buffers in the pool the kernel can fill now.
    public var freeReceiveBuffers: Int { receiveBufferCount - receiveBuffersOut }

    /// The bytes of receive buffer `id`, which must be out (delivered and not given back).
    @inline(__always)
    public func receiveBuffer(_ id: UInt16) -> UnsafeRawPointer {
        // SAFETY: `id` came with a completion, so it is below the pool's count; the pool stays mapped
        // while a buffer is out, even past `close()` (``orphanedPool``).
        let base = ring.pointee.buffers.map(UnsafeMutableRawPointer.init) ?? orphanedPool!.baseAddress!
        return UnsafeRawPointer(base + Int(id) * receiveBufferSize)
    }

    /// Gives a buffer that came with a completion back to the pool. After ``close()`` it only counts:
    /// the last one back unmaps the pool.
    @inline(__always)
    public func giveBack(_ id: UInt16) {
        receiveBuffersOut -= 1
        if ring.pointee.buf_ring == nil { return releaseOrphanedPool() }
        casyncio_uring_give_back(ring, id)
    }

    @inline(never)
    private func releaseOrphanedPool() {
        guard receiveBuffersOut == 0, let pool = orphanedPool else { return }
        munmap(pool.baseAddress, pool.count)
        orphanedPool = nil
    }

    /// Queues a send of `bytes` on the stream socket `fd` (`MSG_NOSIGNAL | MSG_WAITALL`: the kernel
    /// sends them all unless the connection fails); its completion carries `data`. The memory must stay
    /// valid and unchanged until the completion is taken.
    public func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, data: UInt64) throws(Errno) {
        let tagged = data | Self.receiveTag | Self.sendTag
        try submitting { casyncio_uring_send(ring, fd, bytes.baseAddress, UInt32(bytes.count), tagged) }
        sendsInFlight += 1
    }

    /// Queues the cancellation of the send queued with `data` (for closing the loop: then
    /// ``waitForSends(turns:)``, so that no send reads memory about to be freed).
    public func cancelSends(data: UInt64) {
        let tagged = data | Self.receiveTag | Self.sendTag
        try? submitting { casyncio_uring_cancel(ring, tagged, Self.cancellationData) }
    }

    /// Enters the ring until no send is in flight (at most `turns` times), taking completions.
    public func waitForSends(turns: Int = 64) {
        for _ in 0..<turns where sendsInFlight > 0 {
            guard (try? enter(wait: false, timeoutNanoseconds: 0)) != nil,
                  (try? drainCompletions(into: &deferred, retrying: nil)) != nil else { return }
        }
    }

    /// Calls `body` with each receive and send completion taken by the last waits, in order, and
    /// forgets them. `body` may remove descriptors (whose completions then follow).
    public func forEachCompletion(_ body: (Completion) -> Void) {
        var index = 0
        while index < completions.count {
            let completion = completions[index]
            index += 1
            body(completion)
        }
        completions.removeAll(keepingCapacity: true)
    }

    /// Whether completions wait for ``forEachCompletion(_:)``.
    public var hasCompletions: Bool { !completions.isEmpty }

    /// A file operation for the ring. The memory it points to must stay valid until its completion.
    public enum FileOperation {
        /// `read` at the file position (`offset` -1) into `buffer`.
        case read(fd: Int32, into: UnsafeMutableRawBufferPointer)
        /// `write` at the file position (or the end, for a file opened to append) from `bytes`.
        case write(fd: Int32, from: UnsafeRawBufferPointer)
        /// `openat(AT_FDCWD, path, mode's flags | O_CLOEXEC, 0644)`.
        case open(path: UnsafePointer<CChar>, mode: FileOps.Mode)
        /// `statx(fd, "", AT_EMPTY_PATH)` into `into` (``FileOps/statxSize`` bytes).
        case status(fd: Int32, into: UnsafeMutableRawPointer)
        /// `fsync`.
        case sync(fd: Int32)
    }

    /// Queues `operation`; its completion (kind ``Completion/Kind/operation``) carries `data`, which must
    /// fit in 30 bits.
    public func queue(_ operation: FileOperation, data: UInt64) throws(Errno) {
        precondition(data < Self.operationTag, "operation data must fit in 30 bits")
        let tagged = data | Self.receiveTag | Self.sendTag | Self.operationTag
        try submitting {
            switch operation {
            case .read(let fd, let buffer):
                casyncio_uring_file_op(ring, Int32(CASYNCIO_URING_READ), fd, buffer.baseAddress, UInt32(buffer.count), .max, 0, tagged)
            case .write(let fd, let bytes):
                casyncio_uring_file_op(ring, Int32(CASYNCIO_URING_WRITE), fd, bytes.baseAddress, UInt32(bytes.count), .max, 0, tagged)
            case .open(let path, let mode):
                casyncio_uring_file_op(ring, Int32(CASYNCIO_URING_OPENAT), AT_FDCWD, path, 0o644, 0,
                                       UInt32(bitPattern: mode.flags | O_CLOEXEC), tagged)
            case .status(let fd, let storage):
                casyncio_uring_file_op(ring, Int32(CASYNCIO_URING_STATX), fd, nil, casyncio_statx_basic_mask(),
                                       UInt64(UInt(bitPattern: storage)), 0x1000 /* AT_EMPTY_PATH */, tagged)
            case .sync(let fd):
                casyncio_uring_file_op(ring, Int32(CASYNCIO_URING_FSYNC), fd, nil, 0, 0, 0, tagged)
            }
        }
    }

    /// Submits what is queued and takes the completions there are, without waiting.
    public func takeCompletions() {
        guard (try? enter(wait: false, timeoutNanoseconds: 0)) != nil else { return }
        _ = try? drainCompletions(into: &deferred, retrying: nil)
    }

    /// Queues the cancellation of the operation queued with `data`: its completion then comes with
    /// `ECANCELED`, or with its result if it had finished.
    public func cancelOperation(data: UInt64) {
        let tagged = data | Self.receiveTag | Self.sendTag | Self.operationTag
        try? submitting { casyncio_uring_cancel(ring, tagged, Self.cancellationData) }
    }
}

import CAsyncIOLinux
import Glibc

/// What the loop's selector needs from a source of readiness: epoll, or io_uring's poll requests.
///
/// `add` with ``Epoll/Events/edgeTriggered`` reports each new readiness once (epoll's `EPOLLET`, a
/// multishot poll on the ring); without it, readiness is reported for as long as it lasts (level).
public protocol EventPoller: AnyObject {
    /// Starts watching `fd` for `events`; its events carry `data`.
    func add(_ fd: Int32, events: Epoll.Events, data: UInt64) throws(Errno)
    /// ``add(_:events:data:)`` for a descriptor known to be a socket (a poller that checks what it is
    /// given can skip that).
    func addSocket(_ fd: Int32, events: Epoll.Events, data: UInt64) throws(Errno)
    /// Changes what `fd` (added with `data`) is watched for.
    func modify(_ fd: Int32, events: Epoll.Events, data: UInt64) throws(Errno)
    /// Stops watching `fd` (added with `data`).
    func remove(_ fd: Int32, data: UInt64) throws(Errno)
    /// Waits up to `timeoutMilliseconds` (-1: no limit, 0: not at all) for events; returns how many.
    func wait(timeoutMilliseconds: Int32) throws(Errno) -> Int
    /// The `index`th event of the last ``wait(timeoutMilliseconds:)``.
    func event(at index: Int) -> (events: Epoll.Events, data: UInt64)
    /// Releases the poller's descriptors.
    func close()
}

extension EventPoller {
    public func addSocket(_ fd: Int32, events: Epoll.Events, data: UInt64) throws(Errno) {
        try add(fd, events: events, data: data)
    }
}

extension Epoll: EventPoller {
    /// `EPOLL_CTL_DEL`; `data` is not needed.
    public func remove(_ target: Int32, data: UInt64) throws(Errno) { try remove(target) }
}

/// io_uring as a readiness source: a poll request per descriptor (multishot for edge-triggered
/// interest, re-armed one-shot for level), submitted in batches by the one `io_uring_enter` that also
/// waits for completions, so registering and deregistering cost no system call of their own.
///
/// And as a completion source for stream sockets: a multishot receive per socket
/// (``startReceiving(_:data:)``) fills buffers of a provided-buffer ring that the ring owns; the
/// completions wait in ``forEachCompletion(_:)`` for the selector, and the reader gives each
/// buffer back (``giveBack(_:)``) once it has copied it out. Memory is bounded by the pool: when it is
/// empty, a receive ends with `ENOBUFS` and the bytes stay in the kernel.
///
/// Set up through the raw system calls (no liburing). Loop-thread only.
public final class IOURing: EventPoller {
    // Its `var`s are `@exclusivity(unchecked)`: the object is loop-confined and no access to them
    // spans a call that could reach them again (each is a load, a store, or a mutation that calls
    // nothing back), so the runtime's checks could not fire; on the request path of the loop, the
    // streams and the HTTP server they cost 2.4 % of `/plaintext`'s CPU (31 checks a request).
    let ring: UnsafeMutablePointer<casyncio_uring>
    /// The poll requests the loop wants, by their data: re-armed when the kernel ends one.
    @exclusivity(unchecked) private var armed: [UInt64: Arm] = [:]
    @exclusivity(unchecked) private var ready: [(events: Epoll.Events, data: UInt64)] = []
    /// Events taken while removing a descriptor, for the next wait.
    @exclusivity(unchecked) var deferred: [(events: Epoll.Events, data: UInt64)] = []
    /// The descriptors watched now: adding one twice is `EEXIST`, as with epoll.
    @exclusivity(unchecked) private var watchedDescriptors: Set<Int32> = []

    /// A completed receive or send: `data` as given to ``startReceiving(_:data:)`` or
    /// ``send(_:_:data:)``, the kernel's result (bytes received or sent, 0 at end of stream, or
    /// `-errno`) and, when `buffer` is set, the receive buffer holding the bytes.
    public struct Completion: Sendable {
        public let data: UInt64
        public let result: Int32
        /// What completed.
        public let kind: Kind
        /// A receive, an accept (the result is the new descriptor), a send, or a file operation
        /// (``queue(_:data:)``).
        public enum Kind: Sendable { case receive, accept, send, operation }
        /// Whether it is a send's.
        public var isSend: Bool { kind == .send }
        /// The receive buffer the bytes are in (to be given back), if any.
        public let buffer: UInt16?
        /// Whether the multishot receive has ended (no `IORING_CQE_F_MORE`).
        public let isFinal: Bool

        /// Whether the pool had no buffer for it (`ENOBUFS`): the receive has ended, the stream has not.
        public var isPoolEmpty: Bool { result == -ENOBUFS }

        /// Whether it was cancelled (``IOURing/stopReceiving(data:)``).
        public var isCancelled: Bool { result == -ECANCELED }

        /// Whether it ends the stream: end of stream (0) or an error; not `ENOBUFS` (the pool ran
        /// dry), `ECANCELED` (cancelled), `EAGAIN` or `EINTR`, which only end the receive.
        public var endsStream: Bool {
            result == 0 || (result < 0 && result != -ENOBUFS && result != -ECANCELED && result != -EAGAIN && result != -EINTR)
        }
    }
    @exclusivity(unchecked) var completions: [Completion] = []
    /// Sends in the ring (their memory must live until they complete).
    @exclusivity(unchecked) public internal(set) var sendsInFlight = 0
    /// Multishot receives in the ring, by data (tag included): until the last completion of one comes,
    /// the ring holds the socket's file.
    @exclusivity(unchecked) var liveReceives: Set<UInt64> = []
    /// How many receive buffers the pool has (0: completion receives are not available).
    @exclusivity(unchecked) public private(set) var receiveBufferCount = 0
    /// The size of each receive buffer.
    @exclusivity(unchecked) public private(set) var receiveBufferSize = 0
    /// Buffers delivered with a completion and not given back yet.
    @exclusivity(unchecked) public internal(set) var receiveBuffersOut = 0
    /// The pool's memory when the ring closed with buffers still out (lent to a reader, which may read
    /// them until it gives them back): unmapped when the last one comes back, or at deinit.
    @exclusivity(unchecked) var orphanedPool: UnsafeMutableRawBufferPointer?

    /// Receives and sends carry this bit in their data (owned registrations' generations leave bits 62
    /// and 63 clear; watchers set bit 63, removals both).
    public static let receiveTag: UInt64 = 1 << 62
    /// Sends carry this one too: bit 31, the sign bit of the descriptor, which is never set.
    static let sendTag: UInt64 = 1 << 31
    /// File operations carry both, and bit 30 (no descriptor reaches 2^30): their data is a counter.
    static let operationTag: UInt64 = 1 << 30
    /// Accepts carry the receive tag and bit 30 (and not bit 31).
    static let acceptTag: UInt64 = 1 << 30
    /// `IORING_CQE_F_BUFFER`: the completion names a provided buffer in the top 16 bits of its flags.
    private static let bufferFlag: UInt32 = 1 << 0
    /// Cancellations carry this (in the removals' space, a counter removals never reach); their
    /// completions are not needed: the cancelled request's own last one says when it has ended.
    static let cancellationData: UInt64 = removalGeneration << 32 | 0xFFFF_FFFE

    private struct Arm {
        let fd: Int32
        let mask: UInt32
        let multishot: Bool
    }

    /// `IORING_CQE_F_MORE`: the multishot request goes on.
    private static let moreFlag: UInt32 = 1 << 1

    /// Removal requests carry this in the top half of their data (no registration's generation: owned
    /// ones keep the top bit clear, watchers' never reach it) and a counter in the bottom half.
    private static let removalGeneration: UInt64 = 0xFFFF_FFFF
    /// The removals in flight, by counter: what each removes.
    @exclusivity(unchecked) private var removals: [UInt32: UInt64] = [:]
    @exclusivity(unchecked) private var removalCounter: UInt32 = 0

    /// Sets up a ring with `entries` submission slots.
    ///
    /// - Throws: `Errno`: `ENOSYS` without io_uring (or before Linux 5.11), `EPERM` when a seccomp
    ///   filter or the `kernel.io_uring_disabled` sysctl refuses it, `ENOMEM`.
    ///
    /// The corresponding C function is `io_uring_setup`.
    ///
    /// With `receiveBuffers` > 0 (a power of two), a pool of that many buffers of `bufferSize` bytes
    /// is set up for completion receives; a kernel without provided-buffer rings (before 5.19) leaves
    /// ``receiveBufferCount`` at 0 and the ring a readiness source only.
    public init(entries: UInt32 = 1024, receiveBuffers: Int = 512, bufferSize: Int = 4096) throws(Errno) {
        // SAFETY: the ring's state lives at a stable address for the C side; deinit frees it (also when
        // this initializer throws: every stored property is set by then).
        ring = .allocate(capacity: 1)
        try systemCall("io_uring_setup") { casyncio_uring_init(ring, entries) }
        DescriptorLedger.record(ring.pointee.fd)
        ready.reserveCapacity(256)
        completions.reserveCapacity(256)
        // Multishot receives into a provided-buffer ring: Linux 6.0.
        if receiveBuffers > 0, SystemInfo.kernelIsAtLeast(6, 0),
           casyncio_uring_setup_buffers(ring, UInt32(receiveBuffers), UInt32(bufferSize)) == 0 {
            receiveBufferCount = receiveBuffers
            receiveBufferSize = bufferSize
        }
    }

    deinit {
        if let pool = orphanedPool { munmap(pool.baseAddress, pool.count) }
        ring.deallocate()
    }

    /// Whether the ring does completion I/O at its best: completion work deferred to `io_uring_enter`
    /// (Linux 6.1) and a receive pool (multishot receives, 6.0). Without them it still works (as a
    /// readiness source, and `recv` on it), but is no faster than epoll.
    public var isCompletionCapable: Bool { ring.pointee.deferred != 0 && receiveBufferCount > 0 }

    /// The ring's descriptor.
    public var fd: Int32 { ring.pointee.fd }

    /// As `epoll_ctl(EPOLL_CTL_ADD)`: `EBADF` for a descriptor that is not open, `EPERM` for a regular
    /// file or directory (they are always ready: polling them means nothing), `EEXIST` when `fd` is
    /// watched already; otherwise the poll request is queued (submitted by the next wait).
    public func add(_ fd: Int32, events: Epoll.Events, data: UInt64) throws(Errno) {
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw Errno.current }
        let type = status.st_mode & S_IFMT
        if type == S_IFREG || type == S_IFDIR { throw Errno(rawValue: EPERM) }
        try addSocket(fd, events: events, data: data)
    }

    /// As ``add(_:events:data:)``, without the `fstat` that refuses regular files and directories.
    public func addSocket(_ fd: Int32, events: Epoll.Events, data: UInt64) throws(Errno) {
        guard watchedDescriptors.insert(fd).inserted else { throw Errno(rawValue: EEXIST) }
        let arm = Arm(fd: fd, mask: events.subtracting(.edgeTriggered).rawValue,
                      multishot: events.contains(.edgeTriggered))
        armed[data] = arm
        try queue(arm, data: data)
    }

    public func modify(_ fd: Int32, events: Epoll.Events, data: UInt64) throws(Errno) {
        guard armed[data] != nil else { return try add(fd, events: events, data: data) }
        armed[data] = Arm(fd: fd, mask: events.subtracting(.edgeTriggered).rawValue,
                          multishot: events.contains(.edgeTriggered))
        // The old request ends (cancelled, or completed meanwhile) with one last completion, which
        // re-arms with the new interest.
        try queueRemoval(of: data)
    }

    /// Submitted at once, not with the next wait, and asked again until the kernel has let go: the
    /// ring holds a reference to the descriptor's file while it polls it, so a socket closed right
    /// after would stay open (a listener accepting, a connection not sending its FIN or RST) until the
    /// removal went through. Completions taken meanwhile are kept for the next wait.
    ///
    /// A multishot receive on `fd` (``startReceiving(_:data:)``) is cancelled the same way, and waited
    /// for until its last completion (whose buffers the selector gives back).
    public func remove(_ fd: Int32, data: UInt64) throws(Errno) {
        let polled = armed.removeValue(forKey: data)
        if let polled {
            watchedDescriptors.remove(polled.fd)
            try queueRemoval(of: data)
        }
        let receiving = liveReceives.contains(data | Self.receiveTag)
        if receiving { try stopReceiving(data: data) }
        let accepting = liveReceives.contains(data | Self.receiveTag | Self.acceptTag)
        if accepting { try stopAccepting(data: data) }
        guard polled != nil || receiving || accepting else { return }
        for _ in 0..<64 {
            try enter(wait: false, timeoutNanoseconds: 0)
            let retried = try drainCompletions(into: &deferred, retrying: data)
            if !retried && !liveReceives.contains(data | Self.receiveTag)
                && !liveReceives.contains(data | Self.receiveTag | Self.acceptTag) { return }
        }
        // Still being triggered after 64 tries: the removal is queued again and goes in with the next wait.
    }


    public func wait(timeoutMilliseconds: Int32) throws(Errno) -> Int {
        ready.removeAll(keepingCapacity: true)
        if !deferred.isEmpty { swap(&ready, &deferred) }
        let waiting = ready.isEmpty && completions.isEmpty && casyncio_uring_ready(ring) == 0 && timeoutMilliseconds != 0
        if waiting || casyncio_uring_pending(ring) > 0 || timeoutMilliseconds == 0 {
            try enter(wait: waiting, timeoutNanoseconds: timeoutMilliseconds < 0 ? -1 : Int64(timeoutMilliseconds) * 1_000_000)
        }
        _ = try drainCompletions(into: &ready, retrying: nil)
        return ready.count
    }

    /// Submits what is queued and, when `wait`, waits up to `timeoutNanoseconds` (-1: no limit) for a
    /// completion.
    func enter(wait: Bool, timeoutNanoseconds: Int64) throws(Errno) {
        guard casyncio_uring_enter(ring, wait ? 1 : 0, timeoutNanoseconds) != 0 else { return }
        let err = Glibc.errno
        // ETIME: the timeout passed; EINTR: a signal; EBUSY/EAGAIN: completions to take first.
        if err != ETIME && err != EINTR && err != EBUSY && err != EAGAIN {
            checkNotABug(err, "io_uring_enter")
            throw Errno(rawValue: err)
        }
    }

    /// Takes every completion: events go to `events`, ended requests are re-armed, removals the kernel
    /// answered with EALREADY are queued again. Returns whether the removal of `target` was among those.
    func drainCompletions(into events: inout [(events: Epoll.Events, data: UInt64)], retrying target: UInt64?) throws(Errno) -> Bool {
        var retried = false
        var data: UInt64 = 0
        var result: Int32 = 0
        var flags: UInt32 = 0
        while casyncio_uring_next(ring, &data, &result, &flags) == 1 {
            if data >> 62 == 1 && data & Self.sendTag != 0 {
                let isOperation = data & Self.operationTag != 0
                if !isOperation { sendsInFlight -= 1 }
                completions.append(Completion(data: data & ~(Self.receiveTag | Self.sendTag | Self.operationTag),
                                              result: result, kind: isOperation ? .operation : .send,
                                              buffer: nil, isFinal: true))
                continue
            }
            if data >> 62 == 1 {
                // A receive's completion (tag 01 in the top bits).
                var buffer: UInt16?
                if flags & Self.bufferFlag != 0 {
                    buffer = UInt16(truncatingIfNeeded: flags >> 16)
                    receiveBuffersOut += 1
                }
                let isFinal = flags & Self.moreFlag == 0
                if isFinal { liveReceives.remove(data) }
                let isAccept = data & Self.acceptTag != 0
                completions.append(Completion(data: data & ~(Self.receiveTag | Self.acceptTag), result: result,
                                              kind: isAccept ? .accept : .receive, buffer: buffer, isFinal: isFinal))
                continue
            }
            if data == Self.cancellationData { continue }
            if data >> 32 == Self.removalGeneration && data != .max {
                // A removal's completion. EALREADY: the poll was being triggered and goes on; ask again
                // (until it is gone the ring keeps the descriptor's file open).
                let removed = removals.removeValue(forKey: UInt32(truncatingIfNeeded: data))
                if result == -EALREADY, let removed {
                    try queueRemoval(of: removed)
                    if removed == target { retried = true }
                }
                continue
            }
            guard let arm = armed[data] else { continue }  // removed: a late completion
            if result >= 0 {
                events.append((Epoll.Events(rawValue: UInt32(result)), data))
            } else if result == -EBADF {
                // The descriptor was closed without being removed: stop polling it.
                armed[data] = nil
                watchedDescriptors.remove(arm.fd)
                continue
            }
            // Otherwise (cancelled by a modification, ended by the kernel: an overflowing completion
            // queue ends multishot requests) a request without IORING_CQE_F_MORE is re-armed.
            if flags & Self.moreFlag == 0 { try queue(arm, data: data) }
        }
        return retried
    }

    @inline(__always)
    public func event(at index: Int) -> (events: Epoll.Events, data: UInt64) { ready[index] }

    public func close() {
        armed.removeAll()
        deferred.removeAll()
        removals.removeAll()
        watchedDescriptors.removeAll()
        completions.removeAll()
        liveReceives.removeAll()
        if receiveBuffersOut > 0, let buffers = ring.pointee.buffers {
            // SAFETY: the mapping is the pool's (`buffers_size` bytes); taken from the C side, which
            // then does not unmap it, it stays mapped until the last buffer out comes back.
            orphanedPool = UnsafeMutableRawBufferPointer(start: buffers, count: ring.pointee.buffers_size)
            ring.pointee.buffers = nil
        }
        DescriptorLedger.strike(ring.pointee.fd)
        casyncio_uring_close(ring)
    }

    private func queue(_ arm: Arm, data: UInt64) throws(Errno) {
        try submitting { casyncio_uring_poll_add(ring, arm.fd, arm.mask, arm.multishot ? 1 : 0, data) }
    }

    private func queueRemoval(of data: UInt64) throws(Errno) {
        removalCounter = removalCounter == 0xFFFF_FFFD ? 0 : removalCounter + 1
        removals[removalCounter] = data
        let removal = Self.removalGeneration << 32 | UInt64(removalCounter)
        try submitting { casyncio_uring_poll_remove(ring, data, removal) }
    }

    /// Queues with `body`; when the submission queue is full, submits it first and tries again.
    func submitting(_ body: () -> Int32) throws(Errno) {
        if body() == 0 { return }
        if casyncio_uring_enter(ring, 0, 0) != 0, Glibc.errno != EINTR, Glibc.errno != EBUSY, Glibc.errno != EAGAIN {
            throw Errno.current
        }
        if body() != 0 { throw Errno(rawValue: EBUSY) }
    }
}

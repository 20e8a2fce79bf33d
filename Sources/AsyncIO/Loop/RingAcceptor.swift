import AsyncIOSystem

/// A listening socket's accepts on the io_uring backend: a multishot accept in the ring takes each
/// connection as it arrives (no `accept4` call, no readiness event first), and ``EventLoop/accept(_:)``
/// takes the new descriptors from here, in order.
///
/// Bounded: holding ``pauseThreshold`` connections nobody has taken, the acceptor cancels its accept,
/// and the kernel's backlog holds the next ones (as when a server stops calling `accept`) until the
/// server catches up. An error that ends the accept (`EMFILE`: out of descriptors) is thrown by the
/// next ``EventLoop/accept(_:)`` and the accept starts again with the one after.
///
/// ### Thread safety
/// Loop-confined, like its registration.
final class RingAcceptor {
    /// Accepted descriptors not yet taken, oldest first.
    private var accepted = FIFOBuffer<Int32>()
    /// Whether an accept is in the ring.
    var isArmed = true
    private var isPausing = false
    /// An error that ended the accept, for the next take.
    private var failure: Errno?
    /// Whether the listener is a Unix socket (its connections get no `TCP_NODELAY`).
    let isUnix: Bool

    /// Connections held before the accept is paused.
    static let pauseThreshold = 64

    init(isUnix: Bool) {
        self.isUnix = isUnix
    }

    /// Takes a completion; returns whether the accept should be paused (too many connections held).
    func deliver(_ completion: IOURing.Completion) -> Bool {
        if completion.result >= 0 {
            FileOps.noteOpened(completion.result)
            accepted.push(completion.result)
        } else if !completion.isCancelled {
            let error = Errno(rawValue: -completion.result)
            // A connection that failed between the handshake and the accept is not the listener's error.
            if !EventLoop.acceptRetryErrors.contains(error) { failure = error }
        }
        if completion.isFinal {
            isArmed = false
            isPausing = false
            return false
        }
        if accepted.count >= Self.pauseThreshold && !isPausing {
            isPausing = true
            return true
        }
        return false
    }

    /// The next accepted descriptor, or the error that ended the accept (thrown once), or nil.
    func take() throws(Errno) -> Int32? {
        // The test seam: a scripted accept4 error is this accept's (the connection stays queued, as the
        // kernel leaves it in the backlog when it has no descriptor for it).
        if let fault = SystemCallFaults.scripted("accept4") { throw fault }
        if let fd = accepted.popFirst() { return fd }
        if let failure {
            self.failure = nil
            throw failure
        }
        return nil
    }

    /// Connections accepted and not yet taken.
    var heldCount: Int { accepted.count }

    /// Whether a take would find a connection or an error.
    var hasSomething: Bool { !accepted.isEmpty || failure != nil }

    /// Closes the connections nobody took (the listener is closing).
    func closeAll() {
        while let fd = accepted.popFirst() { try? FileDescriptorOps.close(fd) }
    }
}

extension LoopSelector {
    /// Starts a multishot accept for `listener`'s registration (io_uring backend); returns whether it did.
    func startAccepting(_ registration: IORegistration, isUnix: Bool) -> Bool {
        guard let uring, registration.acceptor == nil else { return false }
        let token = Self.token(fd: registration.fd, generation: registration.generation)
        do {
            try epoll.modify(registration.fd, events: [.readHangUp, .edgeTriggered], data: token)
            try uring.startAccepting(registration.fd, data: token)
        } catch {
            try? epoll.modify(registration.fd, events: Self.ownedEvents, data: token)
            return false
        }
        registration.acceptor = RingAcceptor(isUnix: isUnix)
        return true
    }

    /// Starts the accept again after it ended (paused, or an error).
    func resumeAccepting(_ registration: IORegistration) {
        guard let uring, let acceptor = registration.acceptor, !acceptor.isArmed else { return }
        let token = Self.token(fd: registration.fd, generation: registration.generation)
        if (try? uring.startAccepting(registration.fd, data: token)) != nil { acceptor.isArmed = true }
    }

    /// Hands an accept's completion to its listener; a connection accepted for a listener closed
    /// meanwhile is closed.
    func deliverAccept(_ completion: IOURing.Completion, to registration: IORegistration?) {
        guard let registration, let acceptor = registration.acceptor else {
            if completion.result >= 0 { try? FileDescriptorOps.close(completion.result) }
            return
        }
        if acceptor.deliver(completion) { try? uring?.stopAccepting(data: completion.data) }
        if acceptor.hasSomething || completion.isFinal { registration.deliver(.readable) }
    }
}

import AsyncIOSystem

/// The io_uring backend's completion I/O for stream sockets: a socket moves onto the ring the first
/// time a read finds it empty (``RingReceiver`` for its receives, ``RingSender`` for its sends), and the
/// selector hands each completion of a wait to its socket.
extension LoopSelector {
    /// Moves `registration`'s stream socket onto the ring, if the backend has one and its pool has
    /// room: the readiness poll stops watching for input (the receive's completions say when bytes
    /// arrive), a multishot receive goes in with the next wait, and sends go through the ring from now
    /// on. Returns whether it did.
    func startReceiving(_ registration: IORegistration) -> Bool {
        guard let ring, registration.receiver == nil else { return false }
        guard Self.hasRoom(ring) else {
            pollForInput(registration)  // stays on readiness (an accepted socket was not polled for it)
            return false
        }
        if registration.isStreamSocket == nil { registration.isStreamSocket = SocketOps.isStream(registration.fd) }
        guard registration.isStreamSocket == true else { return false }
        let token = Self.token(fd: registration.fd, generation: registration.generation)
        do {
            if registration.pollsForInput {
                try epoll.modify(registration.fd, events: Self.ringEvents, data: token)
                registration.pollsForInput = false
            }
            try ring.startReceiving(registration.fd, data: token)
        } catch {
            // Not in the ring: readiness goes on (the poll is asked for input again).
            pollForInput(registration)
            return false
        }
        registration.receiver = RingReceiver(ring: ring)
        if registration.sender == nil { registration.sender = RingSender(ring: ring, buffers: buffers) }
        return true
    }

    /// Makes the poll watch `registration`'s descriptor for input again, if it did not. A fresh poll
    /// reports input that is already there at once.
    private func pollForInput(_ registration: IORegistration) {
        guard !registration.pollsForInput else { return }
        let token = Self.token(fd: registration.fd, generation: registration.generation)
        if (try? epoll.modify(registration.fd, events: Self.ownedEvents, data: token)) != nil {
            registration.pollsForInput = true
        }
    }

    /// Called when `registration`'s reader found nothing and its receive has ended (paused, or the pool
    /// ran dry): starts the receive again, or, if the pool is low, goes back to readiness and `recv` for
    /// this socket until it next waits with room in the pool. Sends stay on the ring.
    func resumeReceiving(_ registration: IORegistration) {
        guard let ring, let receiver = registration.receiver, !receiver.isArmed else { return }
        let token = Self.token(fd: registration.fd, generation: registration.generation)
        if Self.hasRoom(ring), (try? ring.startReceiving(registration.fd, data: token)) != nil {
            receiver.isArmed = true
            return
        }
        receiver.releaseAll()
        registration.receiver = nil
        pollForInput(registration)
    }

    /// Whether the pool can take another socket's receive: a quarter of it free, so that a receive
    /// that starts can fill a few buffers before it runs dry.
    private static func hasRoom(_ ring: IOURing) -> Bool {
        ring.freeReceiveBuffers >= max(RingReceiver.pauseThreshold, ring.receiveBufferCount / 4)
    }

    /// Queues a send of a prefix of `bytes` for `registration` (see ``RingSender``).
    func send(_ bytes: UnsafeRawBufferPointer, for registration: IORegistration, through sender: RingSender) throws(Errno) -> IOResult<Int> {
        try sender.send(bytes, fd: registration.fd, data: Self.token(fd: registration.fd, generation: registration.generation))
    }

    /// Hands the completions of the last wait to their sockets; returns how many there were.
    func deliverCompletions(_ ring: IOURing) -> Int {
        var count = 0
        ring.forEachCompletion { completion in
            count += 1
            let fd = Int(Int32(bitPattern: UInt32(truncatingIfNeeded: completion.data)))
            if completion.kind == .operation {
                completeOperation(completion)
                return
            }
            if completion.isSend {
                deliverSend(completion, to: registration(at: fd, token: completion.data))
                return
            }
            if completion.kind == .accept {
                deliverAccept(completion, to: registration(at: fd, token: completion.data))
                return
            }
            // Borrowed: a receive only resumes the reader's task, which runs later.
            let delivered = withRegistration(at: fd, token: completion.data) { registration in
                deliverReceive(completion, to: registration, ring: ring)
            }
            if delivered != true, let buffer = completion.buffer {
                // Its socket was closed meanwhile (or its fd reused): the buffer goes back.
                ring.giveBack(buffer)
            }
        }
        return count
    }

    /// Hands a receive's completion to `registration`'s receiver; false when it has none (its socket
    /// closed, or went back to readiness).
    @inline(__always)
    private func deliverReceive(_ completion: IOURing.Completion, to registration: IORegistration, ring: IOURing) -> Bool {
        guard let (pause, hasSomething) = registration.withReceiver({ receiver in
            (receiver.deliver(completion), receiver.hasSomething)
        }) else { return false }
        if completion.isPoolEmpty { ringStarvations += 1 }
        if completion.isCancelled { ringPauses += 1 }  // a closing socket's are not delivered
        if pause { try? ring.stopReceiving(data: completion.data) }
        if hasSomething || completion.isFinal { registration.deliver(.readable) }
        return true
    }

    /// What a socket's finished send asks for next: its close, or the shutdown of its writing side.
    private struct SendOutcome {
        let close: Bool
        let shutdown: Bool
    }

    private func deliverSend(_ completion: IOURing.Completion, to registration: IORegistration?) {
        // The sender borrowed (nothing here lets it go); the registration not: the writable handler
        // that `deliver` calls may close it.
        guard let registration, let outcome = registration.withSender({ sender -> SendOutcome? in
            guard sender.complete(completion, fd: registration.fd, data: completion.data) else { return nil }
            defer { sender.shutdownRequested = false }
            return SendOutcome(close: sender.closeRequested, shutdown: sender.shutdownRequested)
        }) else {
            // Its socket was closed at the loop's close, with the send cancelled: nothing waits for it.
            return
        }
        guard let outcome else { return }  // more of the bytes to send
        if outcome.close {
            closingCount -= 1
            registration.finishClose()
            return
        }
        if outcome.shutdown { try? SocketOps.shutdown(registration.fd, write: true, read: false) }
        registration.deliver(.writable)
    }

    /// At the loop's close: the sockets closed while a send was in the ring have their sends cancelled
    /// and are closed once the cancellations complete (a send that outlives the ring's wait keeps its
    /// memory: it is leaked rather than read after being freed).
    func closeSocketsWithSendsInFlight() {
        guard let ring else { return }
        let waiting = allRegistrations.filter { $0.sender?.isSending == true }
        guard !waiting.isEmpty else { return }
        for registration in waiting {
            ring.cancelSends(data: Self.token(fd: registration.fd, generation: registration.generation))
        }
        ring.waitForSends()
        if ring.hasCompletions { _ = deliverCompletions(ring) }
        for registration in waiting where registration.sender?.isSending == true {
            _ = Unmanaged.passRetained(registration.sender!)  // never freed: the kernel may still read it
            if registration.sender!.closeRequested { closingCount -= 1 }
            registration.sender = nil
            registration.finishClose()
        }
    }

    /// `registration` was closed while `sender` had a send in the ring: the descriptor is closed when the
    /// last send completes (``deliverCompletions(_:)``). To the program it is closed now: it no longer
    /// counts in ``registrationCount``.
    func closeAfterSends(_ registration: IORegistration, _ sender: RingSender) {
        sender.closeRequested = true
        closingCount += 1
    }
}

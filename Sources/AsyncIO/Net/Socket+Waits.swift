import AsyncIOSystem

extension Socket {
    /// The readiness-I/O primitive for sockets and pipes: ``IORegistration/perform(_:_:)``, with every
    /// error mapped to ``StreamError`` here, in one place.
    ///
    /// ### Cancellation
    /// Safe between attempts: cancellation ends the wait, and an attempt is never interrupted.
    nonisolated(nonsending) func perform<Value>(
        _ interest: IORegistration.Interest,
        operation: @autoclosure () -> String,
        _ attempt: () throws -> IOResult<Value>
    ) async throws -> Value {
        do {
            return try await registration.perform(interest, attempt)
        } catch let error as Errno {
            throw StreamError.from(error, operation: operation())
        } catch let error as EventLoopError {
            throw StreamError.from(error, operation: operation())
        }
    }
}

extension Socket {
    /// ``waitUntilReceivable()``, or with `watchingCancellation` false a wait that installs no
    /// cancellation handler and attaches to no cancel scope: it ends only when the socket is readable
    /// or closed, or when ``IORegistration/interruptReadWait()`` interrupts it. It throws
    /// `CancellationError` at once if the task is cancelled already: a cancellation that comes later
    /// finds the task parked, since its owner's handler interrupts the wait from a job of the loop.
    @inline(always)
    nonisolated(nonsending) func waitUntilReceivable(watchingCancellation: Bool) async throws {
        if watchingCancellation {
            try await waitUntilReceivable()
            return
        }
        try checkTaskCancellation()
        do { try await registration.waitReadableIgnoringCancellation() } catch let error as EventLoopError {
            throw StreamError.from(error, operation: "read")
        }
    }
}

extension EventLoop {
    /// Waits until `socket` is readable, with the wait's errors as ``StreamError``.
    @inline(always)
    nonisolated(nonsending) func waitReadable(_ socket: Socket, operation: String) async throws {
        do { try await socket.registration.waitUntilReadable() } catch let error as EventLoopError {
            throw StreamError.from(error, operation: operation)
        }
    }

    /// Waits until `socket` is writable, with the wait's errors as ``StreamError``.
    @inline(always)
    nonisolated(nonsending) func waitWritable(_ socket: Socket, operation: String) async throws {
        do { try await socket.registration.waitUntilWritable() } catch let error as EventLoopError {
            throw StreamError.from(error, operation: operation)
        }
    }
}

extension Socket {
    /// The next buffer the ring received for this socket, lent without a copy (``tryLendReceived()``),
    /// waiting for one when none is there (``waitUntilReceivable(watchingCancellation:)``): `.lent`
    /// or `.end`; nil when the socket does not receive through the ring (now), so that the caller
    /// receives with ``tryReceive(into:)`` instead.
    ///
    /// A method of the socket, so that the loop of lends and waits runs on `self`: a caller's loop
    /// over them retained and released the socket for each call.
    ///
    /// ### Cancellation
    /// As ``waitUntilReceivable(watchingCancellation:)``: nothing is lent when the wait ends with an
    /// error.
    @inline(always)  // into the reader's fill, its one caller: no frame of its own (a task allocation)
    nonisolated(nonsending) func lendReceived(watchingCancellation: Bool) async throws -> RingReceiver.Lending? {
        while true {
            guard let lending = try tryLendReceived() else { return nil }
            guard case .wouldBlock = lending else { return lending }
            try await waitUntilReceivable(watchingCancellation: watchingCancellation)
        }
    }
}

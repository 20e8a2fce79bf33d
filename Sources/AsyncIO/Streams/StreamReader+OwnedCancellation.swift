extension StreamReader {
    /// Ends a wait of the reader's on its socket with `CancellationError`, if one is in progress while
    /// ``ownerHandlesCancellation`` is set, in a job of the loop: the owner's cancellation handler calls
    /// it, from any thread. A job that is running when it is called (and may be about to wait) finishes
    /// first, so the interruption finds the wait it started.
    package func interruptWaitSoon() {
        guard let socket else { return }
        socket.loop.execute { [self] in
            guard ownerHandlesCancellation else { return }  // the owner's own code: not reading heads now
            socket.registration.interruptReadWait()
        }
    }
}

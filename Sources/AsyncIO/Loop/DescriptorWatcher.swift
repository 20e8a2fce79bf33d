import AsyncIOSystem
import Logging

/// A descriptor the loop watches for another owner (asyncio's `add_reader`/`add_writer`):
/// level-triggered, and never closed by the loop. Loop-thread only.
final class DescriptorWatcher {
    let fd: Int32
    var generation: UInt32
    var onReadable: (@Sendable () -> Void)?
    var onWritable: (@Sendable () -> Void)?

    init(fd: Int32, generation: UInt32) {
        self.fd = fd
        self.generation = generation
    }

    /// The epoll interest for the callbacks set now (level-triggered: no `EPOLLET`).
    var events: Epoll.Events {
        var events: Epoll.Events = []
        if onReadable != nil { events.insert(.readable) }
        if onWritable != nil { events.insert(.writable) }
        return events
    }
}

extension LoopSelector {
    /// The top bit of a generation marks a watcher's token.
    static let watcherGenerationBit: UInt32 = 1 << 31

    /// Sets the reader (`write == false`) or writer callback for `fd`, watching it from now on.
    func watch(_ fd: Int32, write: Bool, callback: @escaping @Sendable () -> Void) throws(Errno) {
        if let watcher = watchers[fd] {
            if write { watcher.onWritable = callback } else { watcher.onReadable = callback }
            try epoll.modify(fd, events: watcher.events, data: Self.token(fd: fd, generation: watcher.generation))
            return
        }
        let generation = nextWatcherGeneration()
        let watcher = DescriptorWatcher(fd: fd, generation: generation)
        if write { watcher.onWritable = callback } else { watcher.onReadable = callback }
        try epoll.add(fd, events: watcher.events, data: Self.token(fd: fd, generation: generation))
        watchers[fd] = watcher
    }

    /// Removes the reader or writer callback of `fd`; returns whether there was one. The descriptor is
    /// not closed.
    func unwatch(_ fd: Int32, write: Bool) -> Bool {
        guard let watcher = watchers[fd] else { return false }
        let had = write ? watcher.onWritable != nil : watcher.onReadable != nil
        if write { watcher.onWritable = nil } else { watcher.onReadable = nil }
        if watcher.events.isEmpty {
            watchers[fd] = nil
            // Fails harmlessly if the owner closed the descriptor already.
            try? epoll.remove(fd, data: Self.token(fd: fd, generation: watcher.generation))
        } else {
            try? epoll.modify(fd, events: watcher.events, data: Self.token(fd: fd, generation: watcher.generation))
        }
        return had
    }

    /// Stops watching every descriptor (the loop is closing); none is closed.
    func unwatchAll() {
        for (fd, watcher) in watchers { try? epoll.remove(fd, data: Self.token(fd: fd, generation: watcher.generation)) }
        watchers.removeAll()
    }

    func deliverToWatcher(_ events: Epoll.Events, fd: Int32, generation: UInt32, loop: EventLoop) {
        guard let watcher = watchers[fd], watcher.generation == generation else { return }
        let started = loop.isDebug ? MonotonicClock.nanoseconds() : 0
        // Errors and hang-ups wake both sides, as they do for asyncio's selector loop.
        if !events.isDisjoint(with: [.readable, .hangUp, .error]), let reader = watcher.onReadable { reader() }
        // The reader may have removed the writer (or both): look again.
        if !events.isDisjoint(with: [.writable, .hangUp, .error]), watchers[fd] === watcher,
           let writer = watcher.onWritable { writer() }
        if loop.isDebug {
            loop.reportIfSlow("an I/O callback held the event loop too long", task: "watcher callback for fd \(fd)",
                              since: started)
        }
    }

    private func nextWatcherGeneration() -> UInt32 {
        watcherGenerationCounter = (watcherGenerationCounter &+ 1) % (Self.watcherGenerationBit - 1)
        return watcherGenerationCounter | Self.watcherGenerationBit
    }
}

extension EventLoop {
    /// Calls `callback` on the loop whenever `fd` is readable, until ``removeReader(_:)`` (asyncio's
    /// `add_reader`). For descriptors another library owns (libpq, c-ares, libcurl's multi interface):
    /// the loop watches it level-triggered, so the callback runs again at every turn while data
    /// remains, and never closes it. A second call replaces the callback.
    ///
    /// Remove the reader before the owner closes the descriptor.
    ///
    /// - Throws: ``EventLoopError`` `.notOnLoop` off the loop's thread; `.system` if epoll refuses the
    ///   descriptor (`EBADF`; `EEXIST` when a socket of this loop already owns it; `EPERM` for a regular
    ///   file).
    public func addReader(_ fd: Int32, _ callback: @escaping @Sendable () -> Void) throws(EventLoopError) {
        try checkInLoop("EventLoop", "addReader")
        do { try poller.watch(fd, write: false, callback: callback) } catch {
            throw EventLoopError(.system, operation: "addReader(\(fd))", underlying: error)
        }
    }

    /// Calls `callback` on the loop whenever `fd` is writable, until ``removeWriter(_:)`` (asyncio's
    /// `add_writer`). As ``addReader(_:_:)``: level-triggered, and the loop never closes `fd`.
    ///
    /// - Throws: As ``addReader(_:_:)``.
    public func addWriter(_ fd: Int32, _ callback: @escaping @Sendable () -> Void) throws(EventLoopError) {
        try checkInLoop("EventLoop", "addWriter")
        do { try poller.watch(fd, write: true, callback: callback) } catch {
            throw EventLoopError(.system, operation: "addWriter(\(fd))", underlying: error)
        }
    }

    /// Stops calling the reader callback of `fd` (asyncio's `remove_reader`); `fd` stays open.
    ///
    /// - Returns: Whether a reader was set.
    /// - Throws: ``EventLoopError`` `.notOnLoop` off the loop's thread.
    @discardableResult
    public func removeReader(_ fd: Int32) throws(EventLoopError) -> Bool {
        try checkInLoop("EventLoop", "removeReader")
        return poller.unwatch(fd, write: false)
    }

    /// Stops calling the writer callback of `fd` (asyncio's `remove_writer`); `fd` stays open.
    ///
    /// - Returns: Whether a writer was set.
    /// - Throws: ``EventLoopError`` `.notOnLoop` off the loop's thread.
    @discardableResult
    public func removeWriter(_ fd: Int32) throws(EventLoopError) -> Bool {
        try checkInLoop("EventLoop", "removeWriter")
        return poller.unwatch(fd, write: true)
    }
}

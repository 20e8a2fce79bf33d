import AsyncIOSystem

/// A file operation in a loop's ring: who waits for its completion, and what keeps the memory it reads
/// or writes alive until then.
final class RingOperation {
    let continuation: UnsafeContinuation<Int32, any Error>
    /// The buffer, path or `statx` storage the kernel uses: released only with the completion.
    let memory: AnyObject?

    init(continuation: UnsafeContinuation<Int32, any Error>, memory: AnyObject?) {
        self.continuation = continuation
        self.memory = memory
    }
}

/// Bytes that live until a ring operation on them completes.
final class RingMemory {
    let bytes: UnsafeMutableRawBufferPointer

    init(count: Int) {
        bytes = .allocate(byteCount: max(count, 1), alignment: 16)
    }

    /// A copy of `source`, with a terminating zero (for a path).
    convenience init(cString source: String) {
        let utf8 = Array(source.utf8)
        self.init(count: utf8.count + 1)
        // SAFETY: `bytes` holds `utf8.count + 1` bytes.
        utf8.withUnsafeBytes { bytes.copyMemory(from: $0) }
        bytes[utf8.count] = 0
    }

    deinit { bytes.deallocate() }
}

extension EventLoop {
    /// How many file operations this loop's ring has completed.
    package var ringFileOperations: Int { poller.completedOperations }

    /// The loop the calling task runs on, if its backend is io_uring: files go through its ring.
    static var currentRing: EventLoop? {
        guard let loop = current, loop.poller.uring != nil else { return nil }
        return loop
    }

    /// Runs `operation` in this loop's ring (the caller runs on this loop) and returns the system call's
    /// result (≥ 0). `memory` owns what the operation points into, and is kept until it completes.
    ///
    /// - Throws: `Errno` for a failed call; `CancellationError` if the task was cancelled and the ring
    ///   cancelled the operation before it ran.
    ///
    /// ### Cancellation
    /// Asks the ring to cancel the operation (`IORING_OP_ASYNC_CANCEL`) and waits for its completion
    /// either way, so no completion ever touches memory that was freed: one that had already run returns
    /// its result.
    nonisolated(nonsending) func performOnRing(_ operation: IOURing.FileOperation, keeping memory: AnyObject?) async throws -> Int32 {
        guard let ring = poller.uring else { throw EventLoopError(.closed, operation: "io_uring file operation") }
        let id = poller.nextOperationID()
        let noted = beginWait(.primitive("file operation in the ring"))
        defer { if noted { endWait() } }
        return try await withInheritedThrowingContinuation(onCancel: { self.cancelOnRingSoon(id) }) {
            (continuation: UnsafeContinuation<Int32, any Error>) in
            do {
                try ring.queue(operation, data: id)
                poller.operations[id] = RingOperation(continuation: continuation, memory: memory)
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }

    /// A cancellation handler's part (any thread): asks the ring to cancel the operation `id`, on the
    /// loop, if it is still in flight.
    private func cancelOnRingSoon(_ id: UInt64) {
        execute {
            if self.poller.operations[id] != nil { self.poller.uring?.cancelOperation(data: id) }
        }
    }
}

extension LoopSelector {
    /// The next file operation's data (30 bits, then round again: none lives that long).
    func nextOperationID() -> UInt64 {
        operationCounter = (operationCounter + 1) & 0x3FFF_FFFF
        return operationCounter
    }

    /// Resumes the task waiting for the operation `completion` ends.
    func completeOperation(_ completion: IOURing.Completion) {
        guard let operation = operations.removeValue(forKey: completion.data) else { return }
        completedOperations += 1
        if completion.result >= 0 {
            operation.continuation.resume(returning: completion.result)
        } else if completion.isCancelled {
            operation.continuation.resume(throwing: CancellationError())
        } else {
            operation.continuation.resume(throwing: Errno(rawValue: -completion.result))
        }
    }

    /// At the loop's close: the file operations still in the ring are cancelled and waited for (their
    /// tasks get `CancellationError`, or their results).
    func finishOperations() {
        guard let uring, !operations.isEmpty else { return }
        for id in operations.keys { uring.cancelOperation(data: id) }
        for _ in 0..<64 where !operations.isEmpty {
            uring.takeCompletions()
            if uring.hasCompletions { _ = deliverCompletions(uring) }
        }
        // Never completed: the memory stays (leaked) rather than be written after being freed.
        for operation in operations.values {
            _ = Unmanaged.passRetained(operation)
            operation.continuation.resume(throwing: EventLoopError(.closed, operation: "io_uring file operation"))
        }
        operations.removeAll()
    }
}

import Synchronization
import Logging

/// An error that nobody else will see: one that ended a spawned task whose handle nobody holds, or
/// that a server's connection handler threw (asyncio's exception handler `context`).
public struct LoopException: Sendable, CustomStringConvertible {
    /// What happened, such as "task exception was never retrieved".
    public let message: String
    /// The error.
    public let error: any Error
    /// The name of the task it came from, when there is one.
    public let taskName: String?

    /// Creates a report.
    public init(message: String, error: any Error, taskName: String? = nil) {
        self.message = message
        self.error = error
        self.taskName = taskName
    }

    public var description: String {
        "\(message)\(taskName.map { " (task \($0))" } ?? ""): \(error)"
    }
}

/// The loop's exception handler, guarded for calls from any thread.
struct ExceptionHandlerSlot: Sendable {
    var handler: (@Sendable (LoopException) -> Void)?
}

extension EventLoop {
    /// Sets the loop's exception handler (asyncio's `set_exception_handler`), or with nil puts back the
    /// default, which logs the report as an error with the task's name.
    ///
    /// The handler is called on the loop's thread for every ``LoopException``: an error that ends a
    /// spawned task whose handle nobody holds any more (asyncio's "Task exception was never
    /// retrieved"), an error thrown by a ``startServer(host:port:backlog:reusePort:handler:)`` handler,
    /// and what ``callExceptionHandler(_:)`` is given. A `CancellationError` is never reported.
    ///
    /// ### Thread safety
    /// Safe from any thread.
    public func setExceptionHandler(_ handler: (@Sendable (LoopException) -> Void)?) {
        exceptionHandler.withLock { $0.handler = handler }
    }

    /// Reports `exception` to the exception handler (asyncio's `call_exception_handler`).
    ///
    /// ### Thread safety
    /// Safe from any thread; the handler runs on the calling thread.
    public func callExceptionHandler(_ exception: LoopException) {
        if let handler = exceptionHandler.withLock({ $0.handler }) {
            handler(exception)
        } else {
            defaultExceptionHandler(exception)
        }
    }

    /// What happens to a report when no handler is set: it is logged as an error, with the task's name
    /// and the error (asyncio's `default_exception_handler`).
    public func defaultExceptionHandler(_ exception: LoopException) {
        var metadata: Logger.Metadata = ["error": "\(exception.error)"]
        if let task = exception.taskName { metadata["task"] = "\(task)" }
        logger.error("\(exception.message)", metadata: metadata)
    }

    /// Reports an error that ended a spawned task if nobody holds the task's handle: nobody can
    /// `await` its value any more, so nobody else will ever see the error.
    func reportIfUnretrievable(_ error: any Error, taskName: String) {
        if error is CancellationError { return }
        if CurrentTaskHandles.areHeldElsewhere() { return }
        callExceptionHandler(LoopException(message: "task exception was never retrieved", error: error, taskName: taskName))
    }
}

/// Whether anybody but the runtime holds a handle (`Task`) of the running task.
///
/// A running task is referenced by the runtime and by each copy of its `Task` handle; only the strong
/// reference count tells them apart. The runtime's share is not a documented constant, so it is
/// measured, once per process, on a probe task made exactly as ``EventLoop/spawn(name:eager:_:)`` makes
/// its tasks, whose handle is dropped at once. Until the probe has run, nothing is reported (the probe
/// is queued before the first spawned task, so in practice it always has).
enum CurrentTaskHandles {
    @_silgen_name("swift_retainCount")
    private static func retainCount(_ object: UnsafeMutableRawPointer) -> Int

    /// References to a running task held by the runtime itself; 0 until measured.
    private static let runtimeReferences = Atomic<Int>(0)
    private static let isProbing = Atomic<Bool>(false)

    /// Queues the probe on `loop` the first time a loop spawns a task from its own thread. Only from
    /// there: the probe then runs after this thread has dropped its handle. Spawned from another
    /// thread, the probe could run on the loop while the spawner still held the handle, count it as the
    /// runtime's, and later take held handles for none.
    static func calibrate(on loop: EventLoop) {
        guard loop.inEventLoop, runtimeReferences.load(ordering: .relaxed) == 0,
              isProbing.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        Task(name: "aio-probe", executorPreference: loop) {
            // Only a probe that ran on the loop measured what spawned tasks see; one forwarded to the
            // global executor (its loop closed first) leaves the measuring to the next spawn.
            if loop.inEventLoop {
                runtimeReferences.store(currentCount(), ordering: .relaxed)
            } else {
                isProbing.store(false, ordering: .relaxed)
            }
        }
    }

    /// The running task's strong reference count.
    @inline(never)
    private static func currentCount() -> Int {
        withUnsafeCurrentTask { task in
            guard let task else { return 0 }
            // SAFETY: an UnsafeCurrentTask is the task's object pointer; reading its count retains
            // nothing, and the task is alive while it runs this.
            return retainCount(unsafeBitCast(task, to: UnsafeMutableRawPointer.self))
        }
    }

    /// Whether a handle of the running task is held anywhere (true while that is not known yet).
    static func areHeldElsewhere() -> Bool {
        let runtime = runtimeReferences.load(ordering: .relaxed)
        return runtime == 0 || currentCount() > runtime
    }
}

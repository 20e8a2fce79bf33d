import CAsyncIOLinux
import Glibc

/// A joinable OS thread (`pthread`), for event loops and thread pools.
public final class SystemThread: @unchecked Sendable {
    private var handle: pthread_t
    private var joined = false

    private init(handle: pthread_t) { self.handle = handle }

    /// Starts a thread named `name` (cut to 15 bytes) that runs `body`.
    ///
    /// The corresponding C function is `pthread_create`.
    public static func spawn(name: String, _ body: @escaping @Sendable () -> Void) throws(Errno) -> SystemThread {
        let box = Unmanaged.passRetained(ThreadStart(name: name, body: body))
        var handle = pthread_t()
        let rc = pthread_create(&handle, nil, { raw in
            let start = Unmanaged<ThreadStart>.fromOpaque(raw!).takeRetainedValue()
            start.name.withCString { casyncio_set_thread_name($0) }
            start.body()
            return nil
        }, box.toOpaque())
        if rc != 0 {
            box.release()
            throw Errno(rawValue: rc)
        }
        return SystemThread(handle: handle)
    }

    /// Lets the thread end on its own: its resources are freed when it finishes. Use instead of
    /// ``join()``, at most once.
    public func detach() {
        precondition(!joined, "SystemThread detached after join")
        joined = true
        pthread_detach(handle)
    }

    /// Waits for the thread to finish. Call at most once, never from the thread itself.
    public func join() {
        precondition(!joined, "SystemThread joined twice")
        joined = true
        pthread_join(handle, nil)
    }

    /// The calling thread's kernel id.
    public static var currentID: Int32 { casyncio_gettid() }
}

private final class ThreadStart {
    let name: String
    let body: @Sendable () -> Void
    init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }
}

/// A one-shot latch a plain thread can block on until another thread opens it.
///
/// Used to hand results from a loop to a thread that is not running async code
/// (asyncio's `concurrent.futures.Future.result()`).
public final class ThreadLatch: @unchecked Sendable {
    private let condition = ThreadCondition()
    private var isOpen = false  // guarded by `condition`

    /// Creates a closed latch.
    public init() {}

    /// Opens the latch and wakes every waiter. Opening twice is harmless.
    public func open() {
        condition.withLock {
            isOpen = true
            condition.broadcast()
        }
    }

    /// Blocks the calling thread until the latch is open.
    public func wait() {
        condition.withLock {
            while !isOpen { condition.waitLocked() }
        }
    }
}

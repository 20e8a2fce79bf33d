/// A deadline that bounds every AsyncIO wait of the code running inside it (trio's cancel scope,
/// asyncio's `Timeout` object).
///
/// ``withDeadline(_:_:)-(_,(CancelScope)->_)``, ``withTimeout(_:_:)-(_,(CancelScope)->_)`` and
/// ``moveOnAfter(_:_:)`` hand their scope to the body, which can read its deadline, move it earlier or
/// later, or remove it while it runs:
///
/// ```swift
/// let line = try await withTimeout(.seconds(5)) { scope in
///     let first = try await reader.readLine()
///     scope.reschedule(after: .seconds(30))  // the client is alive: give it longer
///     return first + (try await reader.readLine())
/// }
/// ```
///
/// ### How it works
/// A scope is no task and no thread: it is a task-local value. Every AsyncIO wait (I/O readiness,
/// sleeps, locks, queues, events, stream back-pressure, thread-pool results) looks up the open scopes of
/// the calling task when it suspends; the first one arms the scope's timer on the loop, and when the
/// deadline passes the scope wakes every wait inside it with `CancellationError`. From then on, until
/// the scope ends, any further AsyncIO wait inside it throws at once (trio's rule), so the body unwinds;
/// the scope then turns that into ``TimeoutError`` (or `nil` for ``moveOnAfter(_:_:)``) and the caller
/// carries on. A scope whose body never waits costs one object and a task-local push; no timer is
/// armed.
///
/// Child tasks (`async let`, task groups, ``gather(_:_:)``) inherit the scope and are interrupted too.
/// Tasks started with ``EventLoop/spawn(name:eager:_:)`` and ``shield(_:)`` do not: they outlive the scope.
/// A plain `Task {}` copies task-local values, so while the scope is open its waits honour it too.
///
/// **Foreign awaits are not interrupted.** An await that is not built on the loop (a continuation
/// another library resumes, `Task.sleep` on Swift's own clocks, an actor on another executor) runs to
/// completion; the deadline takes effect at the body's next AsyncIO wait, or, if there is none, the
/// body's value is returned (as asyncio returns the value of a body that did not see its cancellation).
/// To bound foreign work, wrap it in a ``Future`` or ``offload(_:)``, whose waits do honour the scope.
///
/// ### Thread safety
/// Loop-confined: use a scope from tasks of the loop it was created on. Waits of tasks on other loops do
/// not see it.
public final class CancelScope: @unchecked Sendable {
    /// The loop whose timer enforces the deadline.
    public let loop: EventLoop
    /// The scope that was open when this one began, if any.
    let parent: CancelScope?
    /// The deadline in loop nanoseconds; `.max` for none.
    private var deadlineNanoseconds: Int64
    private var timer: TimerHandle?
    /// The waits tied to the scope: the first in a property of its own (a scope mostly has one wait at
    /// a time, and an array's storage and the closure's conversion for it cost two allocations a
    /// wait), the others in `moreLinks`.
    private var link: Link?
    private var moreLinks: [Link] = []
    private typealias Link = (id: UInt64, interrupt: @Sendable () -> Void)
    /// Whether the deadline passed while the body waited (or was found passed when it began to wait).
    @usableFromInline private(set) var isCancelled = false
    /// Whether the scope's body has returned.
    private(set) var isClosed = false

    /// The innermost scope of the calling task (it may have closed: see ``innermost(on:)``).
    @usableFromInline static let currentKey = TaskLocal<CancelScope?>(wrappedValue: nil)
    @inline(__always) static var current: CancelScope? { currentKey.get() }

    /// Runs `operation` with no scope open: for work that outlives the scope it was started in.
    @inline(never)
    static func outsideScopes<T>(_ operation: () async throws -> T) async rethrows -> T {
        try await currentKey.withValue(nil, operation: operation)
    }

    /// A scope on the calling task's loop, inside the scope open now, if any.
    @usableFromInline
    static func open(deadline: LoopClock.Instant?, _ function: StaticString) throws(EventLoopError) -> CancelScope {
        CancelScope(loop: try EventLoop.requireCurrent(function), deadline: deadline?.nanoseconds ?? .max,
                    parent: current)
    }

    init(loop: EventLoop, deadline: Int64, parent: CancelScope?) {
        self.loop = loop
        self.deadlineNanoseconds = deadline
        self.parent = parent
    }

    /// When the scope cancels its waits, on the loop's clock; `nil` if it has no deadline (asyncio's
    /// `Timeout.when()`).
    public var deadline: LoopClock.Instant? {
        deadlineNanoseconds == .max ? nil : LoopClock.Instant(nanoseconds: deadlineNanoseconds)
    }

    /// Whether the scope cancelled the work inside it: its deadline passed while the body waited
    /// (asyncio's `Timeout.expired()`).
    public var expired: Bool { isCancelled }

    /// Moves the deadline to `deadline`, earlier or later, or removes it with `nil` (asyncio's
    /// `Timeout.reschedule()`). A deadline already in the past cancels the waits inside at the loop's
    /// next turn. After the scope has cancelled, rescheduling changes nothing.
    ///
    /// ### Thread safety
    /// From another thread the change is handed to the loop and takes effect in its next turn.
    public func reschedule(_ deadline: LoopClock.Instant?) {
        let nanoseconds = deadline?.nanoseconds ?? .max
        guard loop.inEventLoop else {
            loop.execute { [self] in reschedule(deadline) }
            return
        }
        guard !isCancelled, !isClosed, nanoseconds != deadlineNanoseconds else { return }
        deadlineNanoseconds = nanoseconds
        if timer != nil {
            timer!.cancel()
            timer = nil
            armIfNeeded()
        }
    }

    /// Moves the deadline to `delay` from now (see ``reschedule(_:)``).
    public func reschedule(after delay: Duration) {
        reschedule(loop.now.advanced(by: delay))
    }

    // MARK: - Waits

    /// Ties a wait of the calling task to every open scope of it on this loop: they call `interrupt`
    /// (the wait's own cancellation handler) when they cancel. Returns the id to ``detach(_:)`` with.
    ///
    /// - Throws: `CancellationError` if one of them has already cancelled or its deadline has passed:
    ///   the wait must not start. Untyped, and made out of line: every wait inlines this function, and
    ///   an async function that can throw a `CancellationError` as such (a type of a resilient module,
    ///   of unknown size) reserves room for one in its frame, a task allocation on every call.
    func attach(_ interrupt: @escaping @Sendable () -> Void) throws -> UInt64 {
        let now = loop.nowNanoseconds
        var scope: CancelScope? = self
        while let current = scope, !current.isClosed {
            if current.isCancelled { throw cancellation() }
            if current.deadlineNanoseconds <= now {
                current.expire()
                throw cancellation()
            }
            scope = current.parent
        }
        loop.scopeLinkID &+= 1
        let id = loop.scopeLinkID
        scope = self
        while let current = scope, !current.isClosed {
            if current.link == nil { current.link = (id, interrupt) } else { current.moreLinks.append((id, interrupt)) }
            current.armIfNeeded()
            scope = current.parent
        }
        return id
    }

    /// Unties the wait `id` from the scopes (it resumed, whatever the reason).
    func detach(_ id: UInt64) {
        var scope: CancelScope? = self
        while let current = scope {
            if current.link?.id == id {
                current.link = nil
            } else if let index = current.moreLinks.firstIndex(where: { $0.id == id }) {
                current.moreLinks.remove(at: index)
            }
            scope = current.parent
        }
    }

    private func armIfNeeded() {
        guard timer == nil, deadlineNanoseconds != .max, !isCancelled else { return }
        timer = loop.schedule(deadline: deadlineNanoseconds, action: .scopeDeadline(self))
    }

    /// The deadline's timer fired (the loop calls it).
    func deadlinePassed() {
        timer = nil
        if !isClosed { expire() }
    }

    /// Cancels: every wait inside is woken with `CancellationError`, and later ones throw at once.
    private func expire() {
        guard !isCancelled else { return }
        isCancelled = true
        timer?.cancel()
        timer = nil
        let first = link
        let more = moreLinks
        link = nil
        moreLinks.removeAll()
        first?.interrupt()
        for link in more { link.interrupt() }
    }

    /// The body has returned: the scope stops applying and its timer is removed.
    @usableFromInline
    func close() {
        isClosed = true
        timer?.cancel()
        timer = nil
        link = nil
        moreLinks.removeAll()
    }

    /// The innermost open scope on `loop` of the calling task, if any.
    @inline(__always)
    static func innermost(on loop: EventLoop) -> CancelScope? {
        guard var scope = current else { return nil }
        while scope.isClosed || scope.loop !== loop {
            guard let parent = scope.parent else { return nil }
            scope = parent
        }
        return scope
    }
}

/// Runs `operation`, a wait of a task on `loop`, with `onCancel` as its cancellation handler both for
/// task cancellation and for the open ``CancelScope``s of the calling task, whose deadlines it thereby
/// honours. The library's waits honour scopes the same way; use it to make your own waits (a C
/// library's callback resumed on the loop, say) end at the deadlines of ``withTimeout(_:_:)-(_,()->_)``.
///
/// `operation` runs on the caller's executor (for a task of a loop, the loop), as this function does.
///
/// `onCancel` must be safe from any thread, idempotent, and do nothing once the wait has resumed: the
/// rules of `withTaskCancellationHandler`'s handler. It should resume the wait with `CancellationError`.
///
/// ```swift
/// /// Rung on the loop by a C library's callback.
/// final class Doorbell: @unchecked Sendable {
///     var waiter: UnsafeContinuation<Void, any Error>?
///     func ring() { waiter.take()?.resume() }
/// }
///
/// func waitForTheBell(_ bell: Doorbell, on loop: EventLoop) async throws {
///     try await withCancellableWait(on: loop) {
///         try await withUnsafeThrowingContinuation { bell.waiter = $0 }
///     } onCancel: {
///         loop.callSoon { bell.waiter.take()?.resume(throwing: CancellationError()) }
///     }
/// }
/// ```
///
/// - Parameter loop: The loop whose scopes apply (those of the calling task when it runs there);
///   `nil` for task cancellation alone.
/// - Throws: `CancellationError` at once if a scope has already cancelled or its deadline has passed;
///   what `operation` throws.
///
/// ### Cancellation
/// `onCancel` runs when the task is cancelled or a scope's deadline passes, whichever is first.
public nonisolated(nonsending) func withCancellableWait<T>(
    on loop: EventLoop?,
    _ operation: nonisolated(nonsending) () async throws -> T,
    onCancel: @escaping @Sendable () -> Void
) async throws -> T {
    guard let link = try CancelScope.attachWait(on: loop, onCancel) else {
        return try await withInheritedCancellationHandler(operation, onCancel: onCancel)
    }
    defer { link.detach() }
    return try await withInheritedCancellationHandler(operation, onCancel: onCancel)
}

/// ``withCancellableWait(on:_:onCancel:)`` for a wait that is one continuation: `body` gets it (and
/// stores it, or resumes it at once), and `onCancel` ends the wait, for task cancellation and for the
/// calling task's open scopes on `loop`. The library's own waits (queues, locks, events, timers, drains,
/// readiness inside a scope) use it.
///
/// Inlined, with the handler installed by the runtime's two calls and the continuation made by the
/// builtin (``withInheritedThrowingContinuation(onCancel:_:)``): no executor switch, where
/// `withCancellableWait`'s `operation` closure costs one after it returns (the compiler hops back after
/// any closure call), and no frame of its own (a task allocation).
///
/// ### Cancellation
/// `onCancel` runs when the task is cancelled or a scope's deadline passes, whichever is first; if one
/// of them has already happened, the wait does not begin and `CancellationError` is thrown.
@inline(always)
package nonisolated(nonsending) func withCancellableContinuation<T>(
    on loop: EventLoop?,
    _ body: (UnsafeContinuation<T, any Error>) -> Void,
    onCancel: @escaping @Sendable () -> Void
) async throws -> T {
    guard let link = try CancelScope.attachWait(on: loop, onCancel) else {
        return try await withInheritedThrowingContinuation(onCancel: onCancel, body)
    }
    defer { link.detach() }
    return try await withInheritedThrowingContinuation(onCancel: onCancel, body)
}

extension CancelScope {
    /// A wait's tie to the open scopes of its task (see ``attach(_:)``).
    @usableFromInline
    struct WaitLink {
        let scope: CancelScope
        let id: UInt64

        /// Unties the wait (it has ended).
        @usableFromInline
        func detach() { scope.detach(id) }
    }

    /// Ties a wait on `loop` to the calling task's open scopes there (nil when it has none, or does not
    /// run on `loop`). Throws `CancellationError` if one of them has cancelled already.
    @usableFromInline
    static func attachWait(on loop: EventLoop?, _ interrupt: @escaping @Sendable () -> Void) throws -> WaitLink? {
        guard let loop, let scope = scopeForWait(on: loop) else { return nil }
        return WaitLink(scope: scope, id: try scope.attach(interrupt))
    }
}

extension CancelScope {
    /// The scope a wait on `loop` must honour: the innermost open one, if the caller runs on `loop`.
    @inline(__always)
    static func scopeForWait(on loop: EventLoop) -> CancelScope? {
        guard loop.inEventLoop else { return nil }
        return innermost(on: loop)
    }
}

extension CancelScope {
    /// Runs `operation` with `scope` as the calling task's innermost scope (``current``).
    ///
    /// The binding is the runtime's task-local push and pop, which `TaskLocal.withValue` makes too; a
    /// call of `withValue` also hops to its `isolation` parameter's executor on the way in and back on
    /// the way out: two executor switches on every timeout.
    ///
    /// ### Cancellation
    /// None of its own: `operation`'s.
    @inlinable @inline(__always)
    nonisolated(nonsending) static func withCurrent<T>(
        _ scope: CancelScope,
        _ operation: () async throws -> T
    ) async rethrows -> T {
        // SAFETY: the key is `currentKey`'s, as `TaskLocal` makes it (the object's address), and the
        // value's type is the task-local's (`CancelScope?`), so `currentKey.get()` reads what is pushed
        // here. The pop follows the push on every path, after everything `operation` allocated on the
        // task was freed (the binding lives in the task's stack allocator).
        scopeBindingPush(key: UnsafeRawPointer(Unmanaged.passUnretained(currentKey).toOpaque()),
                         value: Optional(scope))
        defer { scopeBindingPop() }
        return try await operation()
    }
}

/// The runtime's `swift_task_localValuePush` (declared as the standard library declares its
/// `_taskLocalValuePush`), through the C shim's forwarding function of the same convention: binds
/// `value` to the task-local whose key is `key` in the calling task, until ``scopeBindingPop()``.
@usableFromInline
@_silgen_name("casyncio_task_local_push")
func scopeBindingPush<Value>(key: UnsafeRawPointer, value: __owned Value)

/// The runtime's `swift_task_localValuePop`, through the C shim: ends the calling task's last binding.
@usableFromInline
@_silgen_name("casyncio_task_local_pop")
func scopeBindingPop()

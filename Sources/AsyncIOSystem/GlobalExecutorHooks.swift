import CAsyncIOLinux

/// The concurrency runtime's global-enqueue hooks (`swift_task_enqueueGlobal_hook` and its delayed
/// variants), as SwiftNIO's opt-in "concurrency takeover" uses them: unofficial runtime interface,
/// present in every Swift 5.x and 6.x runtime on Linux, isolated here and in the C shim.
package enum GlobalExecutorHooks {
    /// Receives a job the runtime would have run on its global pool.
    package typealias Sink = @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void
    /// Receives a job the runtime would have run on its global pool after a delay (nanoseconds).
    package typealias DelayedSink = @convention(c) (UnsafeMutableRawPointer?, UInt64, UnsafeMutableRawPointer?) -> Void

    /// Sends every global job to `sink` and every delayed one to `delayedSink`, with `context`.
    /// Returns false if another takeover is installed or the runtime has no hooks.
    package static func takeOver(context: UnsafeMutableRawPointer, sink: Sink, delayedSink: DelayedSink) -> Bool {
        casyncio_global_executor_take_over(context, sink, delayedSink) == 0
    }

    /// Ends the takeover: jobs go to Swift's own pool again.
    package static func release() { casyncio_global_executor_release() }

    /// Runs `job` on Swift's own global pool, bypassing any takeover.
    package static func enqueueOnOriginalPool(_ job: UnsafeMutableRawPointer) {
        casyncio_global_executor_enqueue_original(job)
    }

    /// Runs `job` on Swift's own global pool after `nanoseconds`, bypassing any takeover.
    package static func enqueueOnOriginalPool(after nanoseconds: UInt64, _ job: UnsafeMutableRawPointer) {
        casyncio_global_executor_enqueue_original_after(nanoseconds, job)
    }
}

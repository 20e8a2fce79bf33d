import AsyncIOSystem

/// A POSIX signal that a ``SignalStream`` can deliver.
public struct Signal: Hashable, Sendable, CustomStringConvertible {
    /// The signal number.
    public let rawValue: Int32
    /// Wraps a signal number.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// `SIGINT` (Ctrl-C).
    public static let interrupt = Signal(rawValue: SignalFD.interrupt)
    /// `SIGTERM`.
    public static let terminate = Signal(rawValue: SignalFD.terminate)
    /// `SIGHUP`.
    public static let hangup = Signal(rawValue: SignalFD.hangup)
    /// `SIGQUIT`.
    public static let quit = Signal(rawValue: SignalFD.quit)
    /// `SIGUSR1`.
    public static let user1 = Signal(rawValue: SignalFD.user1)
    /// `SIGUSR2`.
    public static let user2 = Signal(rawValue: SignalFD.user2)

    public var description: String {
        switch self {
        case .interrupt: "SIGINT"
        case .terminate: "SIGTERM"
        case .hangup: "SIGHUP"
        case .quit: "SIGQUIT"
        case .user1: "SIGUSR1"
        case .user2: "SIGUSR2"
        default: "signal \(rawValue)"
        }
    }

    /// Blocks `signals` in the calling thread so that only a ``SignalStream`` sees them. Call it first
    /// thing in `main`, before any other thread starts: threads inherit the mask, and a thread that does
    /// not block a signal takes its default action (for SIGINT and SIGTERM, ending the process).
    public static func blockForStreams(_ signals: [Signal]) {
        _ = SignalFD.blockInCallingThread(signals.map(\.rawValue))
    }
}

/// The signals the process receives, delivered on the loop through a signalfd, as an `AsyncSequence`
/// (asyncio's `add_signal_handler`).
///
/// ```swift
/// Signal.blockForStreams([.interrupt, .terminate])   // first thing in main
/// // ... the program starts its loop, and in a task of it:
/// let signals = try SignalStream([.interrupt, .terminate])
/// for try await signal in signals { print("got \(signal)"); break }
/// signals.close()
/// ```
///
/// Creating the stream blocks the signals in the calling thread too; ``close()`` closes the signalfd and
/// restores the thread's previous mask.
///
/// ### Thread safety
/// Loop-confined: create and iterate it on one loop.
public final class SignalStream: AsyncSequence, @unchecked Sendable {
    public typealias Element = Signal
    private let registration: IORegistration
    /// The thread's signal mask before this stream blocked its signals, restored by ``close()``.
    private let previousMask: SignalMask

    /// Opens a stream of `signals` on the current loop.
    ///
    /// - Throws: ``EventLoopError`` if the signalfd cannot be created.
    public init(_ signals: [Signal]) throws {
        let loop = try EventLoop.requireCurrent("SignalStream")
        let previous = SignalFD.blockInCallingThread(signals.map(\.rawValue))
        let fd: Int32
        do { fd = try SignalFD.open(signals.map(\.rawValue)) } catch {
            SignalFD.restoreMask(previous)
            throw EventLoopError(.system, operation: "signalfd", underlying: error)
        }
        do { registration = try loop.register(fd) } catch {
            SignalFD.restoreMask(previous)
            throw error
        }
        previousMask = previous
    }

    /// Stops delivery, closes the signalfd and restores the loop thread's previous signal mask (signals
    /// that were blocked before, as `aio` blocks them at start-up, stay blocked). Idempotent.
    public func close() {
        guard !registration.isClosed else { return }
        registration.close()
        SignalFD.restoreMask(previousMask)
    }

    /// The next signal.
    ///
    /// - Throws: ``EventLoopError`` `.closed` once the stream is closed.
    ///
    /// ### Cancellation
    /// Safe: a signal is consumed only when returned.
    public func next() async throws -> Signal {
        do {
            let noted = registration.loop.beginWait(.primitive("signals"))
            defer { if noted { registration.loop.endWait() } }
            let number = try await registration.perform(.read) { () throws -> IOResult<Int32> in
                try SignalFD.read(registration.fd)
            }
            return Signal(rawValue: number)
        } catch let error as Errno {
            throw EventLoopError(.system, operation: "read(signalfd)", underlying: error)
        } catch let error as EventLoopError {
            throw EventLoopError(error.code, operation: "SignalStream.next")
        }
    }

    /// Delivers the signals one by one.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let stream: SignalStream
        /// The next signal; nil once the stream is closed.
        ///
        /// ### Cancellation
        /// Safe: a signal is consumed only when it is returned.
        public mutating func next() async throws -> Signal? {
            do { return try await stream.next() } catch let error as EventLoopError where error.code == .closed {
                return nil
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: self) }
}

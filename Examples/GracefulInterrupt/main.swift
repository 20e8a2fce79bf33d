// Ctrl-C in an asyncio program (asyncio.run and KeyboardInterrupt): the first Ctrl-C cancels the main
// task, so its cleanup runs, and the loop then cancels the other tasks and kills the child processes it
// started; `run` throws `.interrupted`. A second Ctrl-C ends the process at once.
import AsyncIO

do {
    try EventLoop.run { loop in
        let child = try ChildProcess.spawn("/bin/sleep", arguments: ["3600"])
        StandardStreams.printLine("child \(child.pid) running; press Ctrl-C")
        do {
            try await loop.sleep(for: .seconds(3600))
        } catch is CancellationError {
            StandardStreams.printLine("main task cancelled: cleaning up")
            throw CancellationError()
        }
    }
} catch let error as EventLoopError where error.code == .interrupted {
    StandardStreams.printLine("interrupted")
    exitImmediately(130)
}

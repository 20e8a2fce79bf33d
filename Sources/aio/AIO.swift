import ArgumentParser
import AsyncIO
import AsyncIOSystem
import Logging

/// `aio`: the AsyncIO command-line tool (CONTRACT.md): `echo`, `serve` and `fetch`.
@main
struct AIO: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aio",
        abstract: "asyncio for Swift on Linux: servers and tools built on the AsyncIO event loop.",
        version: "0.1.0",
        subcommands: [EchoCommand.self, ServeCommand.self, FetchCommand.self]
    )

    /// Like `ParsableCommand.main()`, but bad flags or arguments exit with 2 (CONTRACT.md), not
    /// ArgumentParser's 64.
    static func main() {
        // Logs go to stderr: stdout carries the readiness line and command output (CONTRACT.md).
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let code as ExitCode {
            exitImmediately(code.rawValue)
        } catch let failure as CommandFailure {
            StandardStreams.printError("aio: \(failure.message)")
            exitImmediately(failure.exitCode)
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                StandardStreams.printLine(message)
                exitImmediately(0)
            }
            StandardStreams.printError(message)
            exitImmediately(2)
        }
    }
}

/// A failure the user can act on: printed as one line on stderr, then the process exits with `exitCode`.
struct CommandFailure: Error {
    let message: String
    let exitCode: Int32
}

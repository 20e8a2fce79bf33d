import ArgumentParser
import AsyncIO
import AsyncIOSystem
import Logging

/// `aio`: the AsyncIO command-line tool (CONTRACT.md): `echo`, `serve`, `fetch` and `ws`; `ps` and `top`
/// look inside a running AsyncIO process.
@main
struct AIO: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aio",
        abstract: "asyncio for Swift on Linux: servers and tools built on the AsyncIO event loop.",
        version: "0.1.0",
        subcommands: [EchoCommand.self, ServeCommand.self, FetchCommand.self, WSCommand.self, PSCommand.self, TopCommand.self]
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
                if let examples = examples(for: Array(CommandLine.arguments.dropFirst())) {
                    StandardStreams.printLine("EXAMPLES:")
                    for example in examples { StandardStreams.printLine("  " + example) }
                    StandardStreams.printLine("")
                }
                exitImmediately(0)
            }
            StandardStreams.printError(message)
            exitImmediately(2)
        }
    }
}

extension AIO {
    /// Examples a newcomer can paste, printed at the end of `aio --help` and of each command's help.
    static let examples = [
        "aio echo --port 8888              then: nc 127.0.0.1 8888",
        "aio serve --port 8080             then: curl 127.0.0.1:8080/get",
        "aio fetch https://example.com/ https://www.python.org/",
    ]

    /// The examples for a help request (`--help`, `-h`, `help`) of the command that `arguments` name.
    static func examples(for arguments: [String]) -> [String]? {
        guard arguments.contains(where: { $0 == "--help" || $0 == "-h" || $0 == "help" }) else { return nil }
        switch arguments.first(where: { !$0.hasPrefix("-") && $0 != "help" }) {
        case "echo": return EchoCommand.examples
        case "serve": return ServeCommand.examples
        case "fetch": return FetchCommand.examples
        case "ws": return WSCommand.examples
        case "ps": return PSCommand.examples
        case "top": return TopCommand.examples
        default: return examples
        }
    }
}

/// A failure the user can act on: printed as one line on stderr, then the process exits with `exitCode`.
struct CommandFailure: Error {
    let message: String
    let exitCode: Int32
}

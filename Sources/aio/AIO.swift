import ArgumentParser
import AsyncIO

/// `aio`: the AsyncIO command-line tool (see CONTRACT.md). Subcommands: echo, serve, fetch (arriving with
/// the streams and HTTP layers).
@main
struct AIO: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aio",
        abstract: "asyncio for Swift on Linux: servers and tools built on the AsyncIO event loop.",
        version: "0.1.0",
        subcommands: []
    )
}

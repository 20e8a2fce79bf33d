import Testing

/// Issue 18: `aio --help` and each command's help end with examples a newcomer can paste.
@Suite(.timeLimit(.minutes(1)))
struct HelpTests {
    @Test(arguments: [["--help"], ["echo", "--help"], ["serve", "-h"], ["help", "fetch"]])
    func helpEndsWithExamples(arguments: [String]) async throws {
        let (status, out, _) = try await AioProcess(arguments).runToEnd()
        #expect(status == 0)
        let lines = out.split(separator: "\n").map(String.init)
        let heading = try #require(lines.lastIndex(of: "EXAMPLES:"), "\(out)")
        let examples = Array(lines[(heading + 1)...])
        // The very end of the help, two or three of them, each a command line of its own.
        #expect((2...3).contains(examples.count), "\(out)")
        #expect(examples.allSatisfy { $0.hasPrefix("  aio ") && $0.count <= 80 }, "\(examples)")
        let command = arguments.first { !$0.hasPrefix("-") && $0 != "help" }
        if let command { #expect(examples.allSatisfy { $0.hasPrefix("  aio \(command) ") }) }
    }

    @Test func versionHasNoExamples() async throws {
        let (status, out, _) = try await AioProcess(["--version"]).runToEnd()
        #expect(status == 0)
        #expect(out == "0.1.0\n")
    }
}

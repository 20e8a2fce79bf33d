import AsyncIO
import AsyncIOTesting
import Foundation
import Testing

/// Issue 18: what a newcomer reads compiles (this target is every Swift block of the docs, generated),
/// stays in step with the docs, and the README's first program runs.
@Suite(.timeLimit(.minutes(1)))
struct DocSnippetTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The check runs as a ``ChildProcess``, not a Foundation `Process`: `Process.run()` is not safe
    /// beside another thread's (the integration tests launch `aio` with it, one at a time under their own
    /// lock), and once crashed in `memcpy` inside `run()` while this test launched one.
    @Test func snippetsAreUpToDate() async throws {
        let script = Self.root.appendingPathComponent("Scripts/doc-snippets.py").path
        try await withTestLoop(virtualTime: false) { _ in
            let check = try ChildProcess.spawn("python3", arguments: [script, "--check"])
            let status = try await check.wait()
            #expect(status == .exited(0), "the docs changed: run Scripts/doc-snippets.py and commit Tests/DocSnippetTests/Snippets.swift")
        }
    }

    @Test func theReadmeProgramRuns() async throws {
        // It is a whole program (`@main`): run its `main`, renamed `run`, on a thread of its own.
        try await runBlocking { try Snippet_README_md_1.Hello.run() }
    }

    /// The Swift the README asks for is the one Package.swift declares (SwiftPM refuses older
    /// toolchains with that declaration, and the code uses Swift 6.2 APIs: `Task.immediate`,
    /// `addImmediateTask`, `Task(name:)`, `NonisolatedNonsendingByDefault`).
    @Test func theReadmeAsksForTheSwiftThePackageDeclares() throws {
        let manifest = try String(contentsOf: Self.root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let declared = try #require(manifest.split(separator: "\n").first?.split(separator: ":").last.map(String.init))
        #expect(declared == "6.2")
        #expect(readme.contains("You need Swift \(declared) or later"), "README and Package.swift disagree on the Swift version")
    }
}

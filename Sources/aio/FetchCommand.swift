import ArgumentParser
import AsyncIO
import AsyncIOHTTP
import AsyncIOSystem
import AsyncIOTLS
import HTTPTypes

/// `aio fetch`: the tutorials' "fetch pages concurrently and report their titles" (CONTRACT.md).
struct FetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Fetch pages concurrently and report their status, size and <title>.",
        discussion: """
            Follows up to 10 redirects. With --json, prints one JSON object per URL as each finishes. \
            Exits 0 when every URL got a response, 1 otherwise (a refused connection, a timeout, a bad URL, a TLS failure). https:// servers are \
            verified against the system's trusted certificates (SSL_CERT_FILE replaces them) plus --cacert.
            """
    )

    /// Pasted at the end of `aio fetch --help`.
    static let examples = [
        "aio fetch https://example.com/ https://www.python.org/",
        "aio fetch --json --concurrency 20 http://127.0.0.1:8080/delay/1",
        "aio fetch --cacert cert.pem --header 'X-Token: abc' https://localhost:8443/",
    ]

    @Argument(help: "The http:// and https:// URLs to fetch.")
    var urls: [String]

    @Option(help: "The most requests in flight at once.")
    var concurrency = 10

    @Option(help: "Seconds allowed per request (connect, read and total).")
    var timeout: Double = 30

    @Flag(help: "One JSON object per line per URL instead of a table.")
    var json = false

    @Option(name: .customLong("header"), help: ArgumentHelp(
        "A request header, 'Name: value' (repeatable); replaces a default of the same name "
            + "(User-Agent, Accept-Encoding).", valueName: "header"))
    var headers: [String] = []

    @OptionGroup var tls: TLSClientOptions

    func validate() throws {
        guard !urls.isEmpty else { throw ValidationError("give at least one URL") }
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        guard timeout.isFinite, timeout > 0, timeout <= 86_400 else {
            throw ValidationError("--timeout must be a number of seconds greater than 0")
        }
        _ = try Self.headerFields(headers)
    }

    /// The request's fields: CONTRACT.md's `Accept-Encoding: gzip, deflate`, then each `--header`,
    /// which replaces a field of the same name.
    static func headerFields(_ headers: [String], defaults: HTTPFields = [.acceptEncoding: "gzip, deflate"]) throws -> HTTPFields {
        var fields = defaults
        var given: Set<HTTPField.Name> = []
        for header in headers {
            guard let colon = header.firstIndex(of: ":"), let name = HTTPField.Name(String(header[..<colon])) else {
                throw ValidationError("--header must be 'Name: value' with a valid field name, not '\(header)'")
            }
            let value = header[header.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
            guard !value.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) else {
                throw ValidationError("--header '\(name)': a value cannot hold CR, LF or NUL")
            }
            if !given.contains(name) { fields[name] = nil }
            given.insert(name)
            fields.append(HTTPField(name: name, value: String(value)))
        }
        return fields
    }

    func run() throws {
        let urls = self.urls, concurrency = self.concurrency, json = self.json
        let headerFields = try Self.headerFields(headers)
        let timeout = Duration.milliseconds(Int64(timeout * 1000))
        let tlsContext = try tls.makeContext(applicationProtocols: ["http/1.1"])
        let allSucceeded = try EventLoop.run { loop in
            var configuration = HTTPClient.Configuration()
            configuration.maxConnectionsPerHost = concurrency
            configuration.maxConnections = max(100, concurrency)
            configuration.tls = tlsContext
            configuration.timeouts = .init(connect: timeout, read: timeout, total: timeout)
            // CONTRACT.md: a live progress display on a terminal, nothing of it in a pipe or with --json.
            let progress = !json && StandardStreams.isOutputTerminal ? FetchProgress(total: urls.count, loop: loop) : nil
            return try await withHTTPClient(configuration: configuration) { client in
                let permits = Semaphore(value: concurrency)
                var results: [FetchResult] = []
                // Redrawn at every event and every 100 ms in between (the elapsed time moves on).
                let ticker = progress.map { progress in
                    loop.spawn(name: "progress") {
                        while true {
                            progress.draw()
                            try await loop.sleep(for: .milliseconds(100))
                        }
                    }
                }
                await withTaskGroup(of: FetchResult.self) { group in
                    for url in urls {
                        group.addTask(executorPreference: loop) {
                            do {
                                return try await permits.withPermit {
                                    await FetchResult.fetch(url, headerFields: headerFields, with: client, on: loop, progress: progress)
                                }
                            } catch {
                                return FetchResult(url: url, outcome: .failure("\(error)"))
                            }
                        }
                    }
                    for await result in group {
                        results.append(result)
                        if json {
                            StandardStreams.printLine(result.json.encoded(pretty: false))
                        } else if let progress {
                            progress.finished(succeeded: result.succeeded)
                        }
                    }
                }
                ticker?.cancel()
                _ = await ticker?.result
                if !json {
                    progress?.clear()
                    let ordered = urls.compactMap { url in results.firstIndex { $0.url == url }.map { results.remove(at: $0) } }
                    for line in FetchResult.table(ordered) { StandardStreams.printLine(line) }
                    return ordered.allSatisfy(\.succeeded)
                }
                return results.allSatisfy(\.succeeded)
            }
        }
        if !allSucceeded { throw ExitCode(1) }
    }
}

/// What fetching one URL gave.
struct FetchResult: Sendable {
    enum Outcome: Sendable {
        case success(status: Int, bytes: Int, title: String?, milliseconds: Double)
        case failure(String)
    }

    let url: String
    let outcome: Outcome

    var succeeded: Bool { if case .success = outcome { true } else { false } }

    static func fetch(
        _ url: String, headerFields: HTTPFields = [:], with client: HTTPClient, on loop: EventLoop,
        progress: FetchProgress? = nil
    ) async -> FetchResult {
        let start = loop.now
        progress?.started()
        do {
            let response = try await client.get(url, headerFields: headerFields)
            var body: [UInt8] = []
            for try await chunk in response.body {
                body += chunk
                progress?.received(chunk.count)
                if body.count > 64 * 1024 * 1024 { throw HTTPBodyError(.tooLarge, "the body is over 64 MiB") }
            }
            let elapsed = start.duration(to: loop.now)
            let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
            return FetchResult(url: url, outcome: .success(
                status: response.status.code, bytes: body.count, title: HTMLTitle.extract(from: body),
                milliseconds: (milliseconds * 10).rounded() / 10))
        } catch let error as HTTPClientError {
            return FetchResult(url: url, outcome: .failure(error.description))
        } catch {
            return FetchResult(url: url, outcome: .failure("\(url): \(error)"))
        }
    }

    /// The CONTRACT.md JSON line.
    var json: JSON {
        switch outcome {
        case .success(let status, let bytes, let title, let milliseconds):
            .object([
                ("url", .string(url)), ("status", .int(status)), ("bytes", .int(bytes)),
                ("title", title.map(JSON.string) ?? .null),
                ("title_length", title.map { .int($0.unicodeScalars.count) } ?? .null),
                ("ms", .number(String(milliseconds))),
            ])
        case .failure(let message):
            .object([("url", .string(url)), ("error", .string(message))])
        }
    }

    /// A table for people: status, bytes, time, title length and title, URL; errors after.
    static func table(_ results: [FetchResult]) -> [String] {
        func pad(_ text: String, _ width: Int) -> String {
            text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
        }
        var lines = ["STATUS    BYTES       MS  TITLE"]
        for result in results {
            switch result.outcome {
            case .success(let status, let bytes, let title, let milliseconds):
                let shown = title.map { $0.count > 50 ? String($0.prefix(49)) + "…" : $0 } ?? "(no title)"
                lines.append("\(pad(String(status), 6)) \(pad(String(bytes), 8)) \(pad(String(milliseconds), 8))  \(shown)  \(result.url)")
            case .failure(let message):
                lines.append(" ERROR                    \(message)")
            }
        }
        let failed = results.filter { !$0.succeeded }.count
        lines.append("\(results.count) URL(s), \(results.count - failed) fetched, \(failed) failed")
        return lines
    }
}

/// The live progress line of `aio fetch` on a terminal: requests done (and failed), in flight, bytes
/// received, elapsed; redrawn in place (`\r` and erase-line), cleared before the table.
final class FetchProgress: @unchecked Sendable {
    private let total: Int
    private let loop: EventLoop
    private let start: LoopClock.Instant
    private var done = 0, failed = 0, inFlight = 0, bytes = 0

    init(total: Int, loop: EventLoop) {
        self.total = total
        self.loop = loop
        start = loop.now
    }

    func started() {
        inFlight += 1
        draw()
    }

    func received(_ count: Int) { bytes += count }

    func finished(succeeded: Bool) {
        done += 1
        inFlight = max(0, inFlight - 1)
        if !succeeded { failed += 1 }
        draw()
    }

    func draw() {
        let elapsed = start.duration(to: loop.now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let kib = Double(bytes) / 1024
        func tenths(_ value: Double) -> String {
            let count = Int((value * 10).rounded())
            return "\(count / 10).\(count % 10)"
        }
        let line = "\(done)/\(total) done, \(inFlight) in flight, \(failed) failed, \(tenths(kib)) KiB, \(tenths(seconds)) s"
        StandardStreams.printRaw("\r\u{1B}[K" + line)
    }

    /// Erases the progress line.
    func clear() { StandardStreams.printRaw("\r\u{1B}[K") }
}

@testable import AsyncIOHTTP
import AsyncIO
import AsyncIOTesting
import HTTPTypes
import Testing

/// Issue 14: multipart bodies read part by part as they arrive (`request.multipart()`), and the one
/// parser behind it and the buffered `request.form()`.
@Suite("Multipart", .timeLimit(.minutes(2)))
struct HTTPMultipartTests {
    static let boundary = "XyZ-boundary-1"

    /// A body with a preamble, a field, a file whose content holds CRLFs and near-delimiters, an empty
    /// field, and an epilogue.
    static let body = Array((
        "this preamble is ignored\r\n"
            + "--XyZ-boundary-1\r\n"
            + "Content-Disposition: form-data; name=\"title\"\r\n\r\n"
            + "Hello; world\r\n"
            + "--XyZ-boundary-1  \r\n"  // transport padding before the line end
            + "Content-Disposition: form-data; name=\"upload\"; filename=\"a;b.txt\"\r\n"
            + "Content-Type: text/plain\r\n\r\n"
            + "line one\r\n--XyZ-boundary-\r\n\r\n--XyZ\r\nend\r\n"
            + "--XyZ-boundary-1\r\n"
            + "Content-Disposition: form-data; name=\"empty\"\r\n\r\n"
            + "\r\n--XyZ-boundary-1--\r\nthis epilogue is ignored"
    ).utf8)

    static let expected: [MultipartParser.Event] = [
        .part(HTTPMultipartPartHead(name: "title")), .content(Array("Hello; world".utf8)), .partEnd,
        .part(HTTPMultipartPartHead(name: "upload", filename: "a;b.txt", contentType: "text/plain")),
        .content(Array("line one\r\n--XyZ-boundary-\r\n\r\n--XyZ\r\nend".utf8)), .partEnd,
        .part(HTTPMultipartPartHead(name: "empty")), .partEnd,
        .end,
    ]

    /// Runs the parser over `body` cut into pieces of `size` bytes; adjacent content pieces are joined.
    static func events(_ body: [UInt8], pieceSize size: Int, maxHeaderBytes: Int = 1024) throws(HTTPFormError) -> [MultipartParser.Event] {
        var parser = MultipartParser(boundary: boundary, maxHeaderBytes: maxHeaderBytes)
        var events: [MultipartParser.Event] = []
        var offset = 0
        while true {
            if let event = try parser.next() {
                if case .content(let piece) = event, case .content(let before)? = events.last {
                    events[events.count - 1] = .content(before + piece)
                } else {
                    events.append(event)
                }
                if event == .end { return events }
                continue
            }
            if offset < body.count {
                parser.append(Array(body[offset..<min(body.count, offset + size)]))
                offset += size
            } else {
                parser.finish()
            }
        }
    }

    @Test(arguments: [1, 2, 3, 7, 16, 64, 100_000])
    func theParserGivesTheSameEventsHoweverTheBodyArrives(pieceSize: Int) throws {
        #expect(try Self.events(Self.body, pieceSize: pieceSize) == Self.expected)
    }

    @Test(arguments: [
        ("no boundary at all", "just some bytes", "the multipart body does not contain its boundary"),
        ("cut after the boundary", "--XyZ-boundary-1", "the multipart body is cut short after a boundary"),
        ("garbage after the boundary", "--XyZ-boundary-1garbage\r\n", "a multipart boundary is followed by something other than a line end"),
        ("headers cut short", "--XyZ-boundary-1\r\nContent-Disposition: form-data; name=\"a\"\r\n", "a multipart part's headers are cut short"),
        ("a part without a name", "--XyZ-boundary-1\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ-boundary-1--", "a multipart part has no Content-Disposition: form-data; name=..."),
        ("a part cut short", "--XyZ-boundary-1\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nhalf a valu", "a multipart part is cut short (no closing boundary)"),
    ])
    func malformedBodiesFailWithTheReason(_ label: String, _ body: String, _ reason: String) {
        for size in [1, 5, 1000] {
            #expect(throws: HTTPFormError(reason), "\(label), pieces of \(size)") {
                _ = try Self.events(Array(body.utf8), pieceSize: size)
            }
        }
    }

    @Test func headersOverTheLimitAreRefusedWithoutWaitingForTheirEnd() throws {
        let endless = "--XyZ-boundary-1\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Pad: " + String(repeating: "p", count: 5000)
        var parser = MultipartParser(boundary: Self.boundary, maxHeaderBytes: 1024)
        parser.append(Array(endless.utf8))
        #expect(throws: HTTPFormError("a multipart part's headers are over 1024 bytes")) { _ = try parser.next() }
    }

    /// The buffered form goes through the same parser.
    @Test func theBufferedFormAgrees() throws {
        let form = try HTTPForm.multipart(Self.body, boundary: Self.boundary)
        #expect(form.fields.map(\.name) == ["title", "empty"])
        #expect(form.fields.map(\.value) == ["Hello; world", ""])
        #expect(form.files == [HTTPForm.File(name: "upload", filename: "a;b.txt", contentType: "text/plain",
                                             content: Array("line one\r\n--XyZ-boundary-\r\n\r\n--XyZ\r\nend".utf8))])
    }

    /// curl uploads an 8 MiB file and a field; the handler streams the parts: the file's bytes arrive
    /// whole and in order, in pieces no larger than a body chunk (the body is never held whole).
    @Test func aLargeUploadFromCurlIsReadPartByPart() async throws {
        let path = "/tmp/aio-multipart-\(UInt64.random(in: 0...UInt64.max)).bin"
        let size = 8 << 20
        let content = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            for index in 0..<size { buffer[index] = UInt8(truncatingIfNeeded: index &* 31 &+ index >> 13) }
            initialized = size
        }
        try await withTestLoop { _ in try await File.write(content, to: path) }

        final class Summary: @unchecked Sendable {
            var parts: [String] = []
            var largestPiece = 0
            var received: [UInt8] = []
        }
        let summary = Summary()
        var router = HTTPRouter()
        router.post("/upload") { request in
            let parts = try request.multipart()
            while let part = try await parts.nextPart() {
                summary.parts.append("\(part.name):\(part.filename ?? "-"):\(part.contentType ?? "-")")
                while let piece = try await parts.readChunk() {
                    summary.largestPiece = max(summary.largestPiece, piece.count)
                    if part.filename != nil { summary.received += piece }
                }
            }
            return .text("ok")
        }
        try await withServer(router) { server, _ in
            let curl = try ChildProcess.spawn("curl", arguments: [
                "-sS", "-F", "note=hello", "-F", "blob=@\(path);type=application/octet-stream",
                "http://127.0.0.1:\(server.localAddress.port!)/upload",
            ], stdout: .pipe, stderr: .pipe)
            let (output, errors) = try await curl.communicate()
            #expect(String(decoding: output, as: UTF8.self) == "ok", "\(String(decoding: errors, as: UTF8.self))")
        }
        try await withTestLoop { _ in try await File.remove(path) }
        #expect(summary.parts == ["note:-:-", "blob:\(path.split(separator: "/").last!):application/octet-stream"])
        #expect(summary.received.count == size)
        #expect(summary.received == content)
        #expect(summary.largestPiece > 0 && summary.largestPiece <= 64 * 1024, "a piece of \(summary.largestPiece) bytes")
    }

    @Test func aBodyThatIsNotMultipartIsRefused() throws {
        var head = HTTPRequest(method: .post, scheme: nil, authority: "t", path: "/")
        head.headerFields[.contentType] = "application/json"
        #expect(throws: HTTPFormError("the body is application/json, not multipart/form-data")) {
            _ = try HTTPServerRequest(head: head).multipart()
        }
        head.headerFields[.contentType] = "multipart/form-data"
        #expect(throws: HTTPFormError.self) { _ = try HTTPServerRequest(head: head).multipart() }
    }

    /// Python `requests` with `files=`: a skipped part (its content never read) does not disturb the
    /// next one.
    @Test func partsLeftUnreadAreSkipped() async throws {
        var router = HTTPRouter()
        router.post("/names") { request in
            let parts = try request.multipart()
            var names: [String] = []
            while let part = try await parts.nextPart() {
                names.append(part.name)
                if part.name == "keep" { names.append(String(decoding: try await parts.collectPart(upTo: 100), as: UTF8.self)) }
            }
            return .text(names.joined(separator: ","))
        }
        try await withServer(router) { server, _ in
            let script = """
            import sys, requests
            r = requests.post(sys.argv[1], files={"skip": ("s.bin", b"x" * 300000), "keep": (None, "kept value")})
            print(r.status_code, r.text)
            """
            let python = try ChildProcess.spawn("/usr/bin/env", arguments: [
                "python3", "-c", script, "http://127.0.0.1:\(server.localAddress.port!)/names",
            ], stdout: .pipe, stderr: .pipe)
            let (output, errors) = try await python.communicate()
            #expect(String(decoding: output, as: UTF8.self) == "200 skip,keep,kept value\n", "\(String(decoding: errors, as: UTF8.self))")
        }
    }
}

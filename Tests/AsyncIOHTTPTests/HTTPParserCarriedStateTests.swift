@testable import AsyncIOHTTP
import Testing

/// What a parser keeps from one message to the next on a keep-alive connection: the last target and
/// `Host` (reused when the next request repeats them), the method, a response's reason.
@Suite("HTTP parser: state across messages")
struct HTTPParserCarriedStateTests {
    @Test func aRequestWithoutHostAfterOneWithHostHasNoAuthority() {
        let outcome = parseEverySplit(.request,
            "GET /a HTTP/1.1\r\nHost: example.com\r\n\r\nGET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.1\r\nHost: example.com\r\n\r\n")
        #expect(outcome.error == nil)
        #expect(outcome.messages.map(\.head) == [
            "GET - example.com /a HTTP/1.1 none ka=true continue=false []",
            "GET - - /a HTTP/1.0 none ka=false continue=false []",
            "GET - example.com /b HTTP/1.1 none ka=true continue=false []",
        ])
    }

    @Test func aChangedTargetHostOrMethodIsTheNewOne() {
        let outcome = parseEverySplit(.request,
            "GET /same HTTP/1.1\r\nHost: a.example\r\n\r\n"
                + "POST /same HTTP/1.1\r\nHost: b.example\r\nContent-Length: 0\r\n\r\n"
                + "POST /other HTTP/1.1\r\nHost: b.example\r\n\r\n"
                + "GET /other HTTP/1.1\r\nHost: a.example\r\n\r\n")
        #expect(outcome.error == nil)
        #expect(outcome.messages.map(\.head) == [
            "GET - a.example /same HTTP/1.1 none ka=true continue=false []",
            "POST - b.example /same HTTP/1.1 none ka=true continue=false [content-length=0]",
            "POST - b.example /other HTTP/1.1 none ka=true continue=false []",
            "GET - a.example /other HTTP/1.1 none ka=true continue=false []",
        ])
    }

    @Test func anInvalidHostAfterAValidOneIsRejected() {
        let outcome = parseEverySplit(.request,
            "GET / HTTP/1.1\r\nHost: example.com\r\n\r\nGET / HTTP/1.1\r\nHost: exa mple.com\r\n\r\n")
        #expect(outcome.messages.count == 1)
        #expect(outcome.error?.kind == .malformed)
    }

    @Test func aResponseWithoutAReasonAfterOneWithAReasonHasNone() {
        let outcome = parseEverySplit(.response,
            "HTTP/1.1 200 Fine\r\nContent-Length: 0\r\n\r\nHTTP/1.1 204\r\n\r\n")
        #expect(outcome.error == nil)
        #expect(outcome.messages.map(\.head) == [
            "200 Fine HTTP/1.1 none ka=true [content-length=0]",
            "204  HTTP/1.1 none ka=true []",
        ])
    }

    /// Errors found by the word scans carry the offset of the offending byte, wherever it falls in a
    /// word.
    @Test func anInvalidByteIsReportedAtItsOffset() {
        for position in 0..<17 {
            var target = Array("/abcdefghijklmnopq".utf8)
            target[1 + position] = 0x7F
            let request = Array("GET ".utf8) + target + Array(" HTTP/1.1\r\nHost: h\r\n\r\n".utf8)
            let outcome = parse(.request, request)
            #expect(outcome.error?.reason == "invalid byte in request target")
            #expect(outcome.error?.offset == 5 + position)

            var value = Array("abcdefghijklmnopq".utf8)
            value[position] = 0x01
            let head = Array("GET / HTTP/1.1\r\nHost: h\r\nX-Test: ".utf8)
            let fielded = parse(.request, head + value + Array("\r\n\r\n".utf8))
            #expect(fielded.error?.reason == "invalid byte in field value")
            #expect(fielded.error?.offset == head.count + position)
        }
    }

    @Test func tabsAndObsTextInAValueAreKept() {
        let outcome = parseEverySplit(.request, "GET / HTTP/1.1\r\nHost: h\r\nX-Test: a\tb\u{00E9}c\td\r\n\r\n")
        #expect(outcome.error == nil)
        #expect(outcome.messages.first?.head.hasSuffix("[x-test=a\tb\u{00E9}c\td]") == true)
    }

    /// A server that knows from the head that no body follows ends the message without a `parse`
    /// call: the parser is then at the next message; after a head with a body it refuses, and the body
    /// still comes.
    @Test func aMessageWithoutABodyEndsWithoutAParse() throws {
        var parser = HTTPParser(.request)
        let bytes = Array("GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nokGET /c HTTP/1.1\r\nHost: h\r\n\r\n".utf8)
        var offset = 0
        func next() throws -> HTTPParser.Event? {
            try bytes.withUnsafeBytes { raw in
                let (consumed, event) = try parser.parse(UnsafeRawBufferPointer(rebasing: raw[offset...]))
                offset += consumed
                return event
            }
        }
        guard case .requestHead(let first) = try next() else { Issue.record("no head"); return }
        #expect(first.request.path == "/a")
        let ended = parser.endMessageWithoutBody()
        let endedAgain = parser.endMessageWithoutBody()
        #expect(ended)
        #expect(!endedAgain)  // once: the parser is at the next message
        guard case .requestHead(let second) = try next() else { Issue.record("no second head"); return }
        #expect(second.request.path == "/b")
        let endedBeforeTheBody = parser.endMessageWithoutBody()
        #expect(!endedBeforeTheBody)  // a body follows
        guard case .body(let range) = try next() else { Issue.record("no body"); return }
        #expect(range.count == 2)
        guard case .end = try next() else { Issue.record("no end"); return }
        guard case .requestHead(let third) = try next() else { Issue.record("no third head"); return }
        #expect(third.request.path == "/c")
        let endedLast = parser.endMessageWithoutBody()
        #expect(endedLast)
        #expect(parser.isIdle)
    }

    /// The route generation moves with every head whose method or target is not the last one's, and
    /// only then: a server keeps a route while it stands still. A change of `Host`, of the version or
    /// of the fields is not a change of route; an absolute-form target routes by its path.
    @Test func theRouteGenerationMovesWhenTheMethodOrTargetChangesAndOnlyThen() throws {
        let heads: [(String, moves: Bool)] = [
            ("GET /a HTTP/1.1\r\nHost: h\r\n\r\n", true),  // the first head
            ("GET /a HTTP/1.1\r\nHost: h\r\n\r\n", false),
            ("GET /a HTTP/1.0\r\nHost: other\r\nX-Extra: 1\r\n\r\n", false),
            ("HEAD /a HTTP/1.1\r\nHost: h\r\n\r\n", true),
            ("HEAD /a HTTP/1.1\r\nHost: h\r\n\r\n", false),
            ("GET /a HTTP/1.1\r\nHost: h\r\n\r\n", true),
            ("GET /a?q=1 HTTP/1.1\r\nHost: h\r\n\r\n", true),
            ("GET /a?q=1 HTTP/1.1\r\nHost: h\r\n\r\n", false),
            ("GET /b HTTP/1.1\r\nHost: h\r\n\r\n", true),
            ("GET http://h/b HTTP/1.1\r\nHost: h\r\n\r\n", false),  // the same path, absolute-form
            ("GET http://h/c HTTP/1.1\r\nHost: h\r\n\r\n", true),
            ("GET /0123456789abcdef0123456789abcdef HTTP/1.1\r\nHost: h\r\n\r\n", true),  // longer than kept in place
            ("GET /0123456789abcdef0123456789abcdef HTTP/1.1\r\nHost: h\r\n\r\n", false),
            ("GET /0123456789abcdef0123456789abcdeg HTTP/1.1\r\nHost: h\r\n\r\n", true),
        ]
        var parser = HTTPParser(.request)
        var generation = parser.routeGeneration
        for (index, (head, moves)) in heads.enumerated() {
            let bytes = Array(head.utf8)
            let event = try bytes.withUnsafeBytes { try parser.parse($0) }
            #expect(event.consumed == bytes.count)
            guard case .requestHead = event.event else { Issue.record("no head at \(index)"); return }
            let ended = parser.endMessageWithoutBody()
            #expect(ended)
            #expect((parser.routeGeneration != generation) == moves, "head \(index): \(head)")
            generation = parser.routeGeneration
        }
    }
}

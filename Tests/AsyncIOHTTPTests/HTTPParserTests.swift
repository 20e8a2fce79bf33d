@testable import AsyncIOHTTP
import HTTPTypes
import Testing

/// One parsed message, flattened so that runs fed in different pieces compare equal.
struct ParsedMessage: Equatable, CustomStringConvertible {
    var head: String
    var body: [UInt8]
    var trailers: [String]
    var description: String { "\(head) body=\(body.count)B trailers=\(trailers)" }
}

/// The outcome of parsing a whole stream: messages, then an error or a clean end.
struct ParseOutcome: Equatable {
    var messages: [ParsedMessage] = []
    var error: HTTPParseError?

    static func == (a: ParseOutcome, b: ParseOutcome) -> Bool {
        a.messages == b.messages && a.error?.kind == b.error?.kind && a.error?.reason == b.error?.reason
    }
}

func describe(_ head: HTTPRequestHead) -> String {
    let r = head.request
    let fields = r.headerFields.map { "\($0.name.canonicalName)=\($0.value)" }.joined(separator: ",")
    return "\(r.method) \(r.scheme ?? "-") \(r.authority ?? "-") \(r.path ?? "-") \(head.version) "
        + "\(head.framing) ka=\(head.keepAlive) continue=\(head.expectsContinue) [\(fields)]"
}

func describe(_ head: HTTPResponseHead) -> String {
    let fields = head.response.headerFields.map { "\($0.name.canonicalName)=\($0.value)" }.joined(separator: ",")
    return "\(head.response.status.code) \(head.response.status.reasonPhrase) \(head.version) \(head.framing) "
        + "ka=\(head.keepAlive) [\(fields)]"
}

/// Feeds `bytes` to a fresh parser in pieces ending at `cuts`, the way a connection does: unconsumed
/// bytes are presented again with the next piece.
func parse(
    _ kind: HTTPParser.Kind, _ bytes: [UInt8], cuts: [Int] = [], limits: HTTPParser.Limits = .init(),
    requestMethod: HTTPRequest.Method = .get
) -> ParseOutcome {
    var parser = HTTPParser(kind, limits: limits)
    parser.requestMethod = requestMethod
    var outcome = ParseOutcome()
    var pending: [UInt8] = []
    var current: ParsedMessage?
    func record(_ event: HTTPParser.Event, _ buffer: UnsafeRawBufferPointer) {
        switch event {
        case .requestHead(let head): current = ParsedMessage(head: describe(head), body: [], trailers: [])
        case .responseHead(let head): current = ParsedMessage(head: describe(head), body: [], trailers: [])
        case .body(let range): current!.body += buffer[range]
        case .end(let trailers):
            current!.trailers = trailers.map { "\($0.name.canonicalName)=\($0.value)" }
            outcome.messages.append(current!)
            current = nil
        }
    }
    var start = 0
    for end in cuts + [bytes.count] where end >= start {
        pending += bytes[start..<end]
        start = end
        do {
            while true {
                let (consumed, event): (Int, HTTPParser.Event?) = try pending.withUnsafeBytes { buffer in
                    let (consumed, event) = try parser.parse(buffer)
                    if let event { record(event, buffer) }
                    return (consumed, event)
                }
                pending.removeFirst(consumed)
                if event == nil { break }
            }
        } catch {
            outcome.error = error as? HTTPParseError
            return outcome
        }
    }
    do {
        if let event = try parser.finish() { [UInt8]().withUnsafeBytes { record(event, $0) } }
    } catch {
        outcome.error = error
    }
    return outcome
}

/// Parses `text` whole, split in two at every byte, and one byte at a time; all must agree.
func parseEverySplit(
    _ kind: HTTPParser.Kind, _ text: String, limits: HTTPParser.Limits = .init(),
    requestMethod: HTTPRequest.Method = .get, sourceLocation: SourceLocation = #_sourceLocation
) -> ParseOutcome {
    let bytes = Array(text.utf8)
    let whole = parse(kind, bytes, limits: limits, requestMethod: requestMethod)
    for cut in 0...bytes.count {
        let split = parse(kind, bytes, cuts: [cut], limits: limits, requestMethod: requestMethod)
        #expect(split == whole, "split at byte \(cut) disagrees: \(split) vs \(whole)", sourceLocation: sourceLocation)
        if split != whole { break }
    }
    let drip = parse(kind, bytes, cuts: Array(0..<bytes.count), limits: limits, requestMethod: requestMethod)
    #expect(drip == whole, "byte-at-a-time disagrees", sourceLocation: sourceLocation)
    return whole
}

@Suite("HTTP parser: valid requests")
struct HTTPParserRequestTests {
    @Test func simpleGet() {
        let outcome = parseEverySplit(.request, "GET /get?a=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n")
        #expect(outcome.error == nil)
        #expect(outcome.messages.count == 1)
        #expect(outcome.messages.first?.head == "GET - example.com /get?a=1 HTTP/1.1 none ka=true continue=false [accept=*/*]")
    }

    @Test func contentLengthBody() {
        let outcome = parseEverySplit(.request, "POST /post HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world")
        #expect(outcome.error == nil)
        #expect(outcome.messages.map(\.body) == [Array("hello world".utf8)])
        #expect(outcome.messages.first?.head.contains("length(11)") == true)
    }

    @Test func chunkedBodyWithExtensionsAndTrailers() {
        let text = "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;name=value\r\nhello\r\n6 ; x\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n"
        let outcome = parseEverySplit(.request, text)
        #expect(outcome.error == nil)
        #expect(outcome.messages.map(\.body) == [Array("hello world".utf8)])
        #expect(outcome.messages.first?.trailers == ["x-checksum=abc"])
    }

    @Test func pipelinedRequestsInOrder() {
        var text = ""
        for index in 0..<5 { text += "GET /\(index) HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\n\(index)" }
        let outcome = parseEverySplit(.request, text)
        #expect(outcome.error == nil)
        #expect(outcome.messages.map(\.body) == (0..<5).map { Array("\($0)".utf8) })
        #expect(outcome.messages.map { $0.head.split(separator: " ")[3] } == ["/0", "/1", "/2", "/3", "/4"])
    }

    @Test func http10RulesAndConnectionTokens() {
        let plain = parseEverySplit(.request, "GET / HTTP/1.0\r\n\r\n")
        #expect(plain.messages.first?.head.contains("HTTP/1.0 none ka=false") == true)
        let keepAlive = parseEverySplit(.request, "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
        #expect(keepAlive.messages.first?.head.contains("ka=true") == true)
        let close = parseEverySplit(.request, "GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, close\r\n\r\n")
        #expect(close.messages.first?.head.contains("ka=false") == true)
    }

    @Test func targetForms() {
        let absolute = parseEverySplit(.request, "GET http://Example.com:8080?q HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(absolute.messages.first?.head.hasPrefix("GET http Example.com:8080 /?q ") == true)
        let asterisk = parseEverySplit(.request, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(asterisk.messages.first?.head.hasPrefix("OPTIONS - x * ") == true)
        let connect = parseEverySplit(.request, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        #expect(connect.messages.first?.head.hasPrefix("CONNECT - example.com:443 - ") == true)
    }

    @Test func expectContinueAndListContentLength() {
        let outcome = parseEverySplit(
            .request, "PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 3, 3\r\n\r\nabc")
        #expect(outcome.error == nil)
        #expect(outcome.messages.first?.head.contains("continue=true") == true)
        #expect(outcome.messages.first?.body == Array("abc".utf8))
    }

    @Test func leadingEmptyLinesAndObsTextAndOWS() {
        let outcome = parseEverySplit(.request, "\r\nGET / HTTP/1.1\r\nHost: h\r\nX-Name:\t caf\u{e9} \t\r\n\r\n")
        #expect(outcome.error == nil)
        #expect(outcome.messages.first?.head.contains("x-name=café]") == true)
    }

    @Test func laterMinorVersionIsAnsweredAs11() {
        let outcome = parseEverySplit(.request, "GET / HTTP/1.7\r\nHost: h\r\n\r\n")
        #expect(outcome.messages.first?.head.contains("HTTP/1.1") == true)
    }

    @Test func aKeptRequestIsNotChangedByTheNextOne() throws {
        // The parser reuses request storage; a head someone still holds must keep its own values.
        var parser = HTTPParser(.request)
        var heads: [HTTPRequestHead] = []
        // It also keeps the values equal to the last request's: each changed one must still change.
        let bytes = Array(("GET /first HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\r\nPOST /second HTTP/1.1\r\nHost: b\r\n\r\n"
            + "POST http://b/second HTTP/1.1\r\nHost: b\r\n\r\nPOST /second HTTP/1.1\r\nHost: b\r\n\r\n"
            + "POST /second HTTP/1.1\r\nHost: b\r\n\r\nCONNECT b:443 HTTP/1.1\r\nHost: b:443\r\n\r\n"
            // Fields after requests without any, then none again (the kept request's empty fields are
            // left as they are only while the requests have none).
            + "HEAD /third HTTP/1.1\r\nHost: b\r\nX-B: 2\r\nX-C: 3\r\n\r\nGET /third HTTP/1.1\r\nHost: b\r\n\r\n").utf8)
        try bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let (consumed, event) = try parser.parse(UnsafeRawBufferPointer(rebasing: buffer[offset...]))
                offset += consumed
                if case .requestHead(let head) = event { heads.append(head) }
                if event == nil { break }
            }
        }
        #expect(heads.map {
            "\($0.request.method) \($0.request.scheme ?? "-") \($0.request.path ?? "-") \($0.request.authority!) "
                + "\($0.request.headerFields.count) \($0.isHEAD)"
        } == ["GET - /first a 1 false", "POST - /second b 0 false", "POST http /second b 0 false", "POST - /second b 0 false",
              "POST - /second b 0 false", "CONNECT - - b:443 0 false", "HEAD - /third b 2 true", "GET - /third b 0 false"])
    }

    @Test func endOfStreamInsideAMessageIsIncomplete() {
        let outcome = parseEverySplit(.request, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc")
        #expect(outcome.error?.kind == .incomplete)
        let idle = parseEverySplit(.request, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(idle.error == nil)
    }
}

@Suite("HTTP parser: rejected requests")
struct HTTPParserRejectionTests {
    /// Malformed requests and the status each must get; every one is also fed split at every byte.
    static let cases: [(name: String, text: String, status: Int)] = [
        ("CL and TE", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("TE and CL", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400),
        ("differing CLs", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400),
        ("differing CL list", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\nhello", 400),
        ("negative CL", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400),
        ("signed CL", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello", 400),
        ("non-numeric CL", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\n", 400),
        ("empty CL", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n", 400),
        ("overflowing CL", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
        ("non-hex chunk size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        ("empty chunk size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", 400),
        ("overflowing chunk size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff1\r\n", 400),
        ("signed chunk size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n", 400),
        ("chunk without CRLF", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", 400),
        ("obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n  continued\r\n\r\n", 400),
        ("space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400),
        ("tab before colon", "GET / HTTP/1.1\r\nHost: h\r\nX-A\t: 1\r\n\r\n", 400),
        ("bare CR in field", "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r2\r\n\r\n", 400),
        ("bare CR line end", "GET / HTTP/1.1\rHost: h\r\n\r\n", 400),
        ("bare LF", "GET / HTTP/1.1\nHost: h\r\n\r\n", 400),
        ("missing Host", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400),
        ("two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("invalid method", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("lowercase version", "GET / http/1.1\r\nHost: h\r\n\r\n", 400),
        ("double space", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("space in target", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("NUL in target", "GET /a\u{0}b HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("relative target", "GET abc HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("asterisk outside OPTIONS", "GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("invalid field name", "GET / HTTP/1.1\r\nHost: h\r\nX(A): 1\r\n\r\n", 400),
        ("empty field name", "GET / HTTP/1.1\r\nHost: h\r\n: 1\r\n\r\n", 400),
        ("field without colon", "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400),
        ("control byte in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\u{1}2\r\n\r\n", 400),
        ("DEL in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\u{7f}2\r\n\r\n", 400),
        ("chunked not last", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
        ("chunked twice", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("gzip coding", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        ("gzip then chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
    ]

    @Test(arguments: cases.indices)
    func rejected(_ index: Int) {
        let (name, text, status) = Self.cases[index]
        let outcome = parseEverySplit(.request, text)
        #expect(outcome.error?.status == status, "\(name): \(outcome.error.map(String.init(describing:)) ?? "accepted")")
        #expect(outcome.messages.isEmpty, "\(name): a message got through")
    }

    @Test func errorsCarryTheOffset() {
        let outcome = parse(.request, Array("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\u{1}2\r\n\r\n".utf8))
        #expect(outcome.error?.offset == 31)  // the \u{1} after "X-A: 1"
        #expect(outcome.error?.reason == "invalid byte in field value")
    }

    @Test func requestLineLimitIs414() {
        let limits = HTTPParser.Limits(maxStartLineLength: 64)
        let long = "GET /\(String(repeating: "a", count: 100)) HTTP/1.1\r\nHost: h\r\n\r\n"
        #expect(parseEverySplit(.request, long, limits: limits).error?.status == 414)
        // Rejected before the line ends: a client cannot make the server buffer an endless line.
        let endless = "GET /" + String(repeating: "a", count: 100)
        #expect(parse(.request, Array(endless.utf8), limits: limits).error?.status == 414)
    }

    @Test func headerSectionLimitIs431() {
        let limits = HTTPParser.Limits(maxHeaderSectionSize: 256, maxFieldCount: 8)
        let big = "GET / HTTP/1.1\r\nHost: h\r\nX-Big: \(String(repeating: "v", count: 300))\r\n\r\n"
        #expect(parseEverySplit(.request, big, limits: limits).error?.status == 431)
        var many = "GET / HTTP/1.1\r\nHost: h\r\n"
        for index in 0..<10 { many += "X-\(index): 1\r\n" }
        #expect(parseEverySplit(.request, many + "\r\n", limits: limits).error?.status == 431)
        let endless = "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + String(repeating: "v", count: 300)
        #expect(parse(.request, Array(endless.utf8), limits: limits).error?.status == 431)
    }

    @Test func bodyLimitIs413ForBothFramings() {
        let limits = HTTPParser.Limits(maxBodySize: 10)
        let fixed = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world"
        #expect(parseEverySplit(.request, fixed, limits: limits).error?.status == 413)
        let chunked = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n"
        let outcome = parseEverySplit(.request, chunked, limits: limits)
        #expect(outcome.error?.status == 413)
        let fits = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nhelloworld"
        #expect(parseEverySplit(.request, fits, limits: limits).error == nil)
    }

    @Test func aFailedParserStaysFailed() throws {
        var parser = HTTPParser(.request)
        let bad = Array("GET / HTTP/1.1\r\nHost : h\r\n\r\n".utf8)
        #expect(throws: HTTPParseError.self) { try bad.withUnsafeBytes { _ = try parser.parse($0) } }
        let good = Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8)
        #expect(throws: HTTPParseError.self) { try good.withUnsafeBytes { _ = try parser.parse($0) } }
    }
}

@Suite("HTTP parser: responses")
struct HTTPParserResponseTests {
    @Test func fixedChunkedAndUntilClose() {
        let fixed = parseEverySplit(.response, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
        #expect(fixed.messages.map(\.body) == [Array("hi".utf8)])
        let chunked = parseEverySplit(.response, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n")
        #expect(chunked.messages.map(\.body) == [Array("hi".utf8)])
        let close = parseEverySplit(.response, "HTTP/1.0 200 OK\r\n\r\nuntil the end")
        #expect(close.error == nil)
        #expect(close.messages.map(\.body) == [Array("until the end".utf8)])
        #expect(close.messages.first?.head.contains("untilClose ka=false") == true)
    }

    @Test func noBodyForHeadAnd204And304() {
        let head = parseEverySplit(.response, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", requestMethod: .head)
        #expect(head.error == nil)
        #expect(head.messages.count == 1)
        let noContent = parseEverySplit(.response, "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\n")
        #expect(noContent.messages.map(\.body) == [[], []])
    }

    @Test func informationalThenFinal() {
        let outcome = parseEverySplit(.response, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
        #expect(outcome.error == nil)
        #expect(outcome.messages.map { $0.head.prefix(3) } == ["100", "201"])
    }

    @Test func statusLineWithoutReasonAndHostFieldKept() {
        let outcome = parseEverySplit(.response, "HTTP/1.1 404\r\nHost: h\r\nContent-Length: 0\r\n\r\n")
        #expect(outcome.error == nil)
        #expect(outcome.messages.first?.head.contains("host=h") == true)
    }

    /// Issue 12, bug 13: chunk extensions follow RFC 9112 §7.1.1 (they were accepted with any bytes).
    @Test func chunkExtensionsFollowTheirGrammar() {
        func request(_ sizeLine: String) -> ParseOutcome {
            parseEverySplit(.request, "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\(sizeLine)\r\nhi\r\n0\r\n\r\n")
        }
        for line in ["2;a", "2;a=b", "2 ; a = b", "2;a=\"x y\"", "2;a=\"q\\\"d\"", "2;a;b=c", "2\t;\ta"] {
            let outcome = request(line)
            #expect(outcome.error == nil, "\(line): \(String(describing: outcome.error))")
            #expect(outcome.messages.first?.body == Array("hi".utf8), "\(line)")
        }
        for line in ["2;", "2;=x", "2;a b c", "2;a=\"unbalanced", "2;a=", "2 x", "2;a=b c", "2;a=\"x\"y"] {
            #expect(request(line).error?.kind == .malformed, "\(line) was accepted")
        }
    }

    /// Issue 12, bug 13: a response whose transfer codings end with chunked is chunked (it was read until
    /// close with the chunk framing as its body); one whose codings go on after chunked is read until
    /// close (it was rejected) (RFC 9112 §6.3). Requests stay strict.
    @Test func responseTransferCodingsFollowRFC9112() {
        let gzipChunked = parseEverySplit(.response, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n")
        #expect(gzipChunked.error == nil)
        #expect(gzipChunked.messages.first?.head.contains(" chunked ka=true") == true, "\(gzipChunked.messages)")
        #expect(gzipChunked.messages.first?.body == Array("hi".utf8))
        let chunkedDeflate = parseEverySplit(.response, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, deflate\r\n\r\nabc")
        #expect(chunkedDeflate.error == nil)
        #expect(chunkedDeflate.messages.first?.head.contains("untilClose ka=false") == true, "\(chunkedDeflate.messages)")
        #expect(chunkedDeflate.messages.first?.body == Array("abc".utf8))
        let twice = parseEverySplit(.response, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n")
        #expect(twice.error?.kind == .malformed)
        #expect(parseEverySplit(.request, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n").error?.kind == .malformed)
        #expect(parseEverySplit(.request, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").error?.kind == .unsupportedTransferCoding)
    }

    /// Issue 12, bug 13: a CONNECT request has no content (RFC 9110 §9.3.6), whatever its Content-Length.
    @Test func connectRequestsHaveNoBody() {
        let outcome = parseEverySplit(.request, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nContent-Length: 5\r\n\r\n")
        #expect(outcome.error == nil)
        #expect(outcome.messages.count == 1)
        #expect(outcome.messages.first?.head.contains(" none ") == true, "\(outcome.messages)")
        #expect(outcome.messages.first?.body == [])
    }

    /// Issue 12, bug 11: a Host that is not `uri-host [":" port]` (RFC 9112 §3.2) is a 400.
    @Test func hostValuesAreValidated() {
        let valid = ["example.com", "example.com:8080", "127.0.0.1:80", "[::1]:8080", "[2001:db8::7]", "[::ffff:192.0.2.1]",
                     "[v1.fe:x]", "", "ex%41mple.com", "a-b_c~d!$&'()*+,;=e", "host:", "h:65535"]
        for host in valid {
            let outcome = parseEverySplit(.request, "GET / HTTP/1.1\r\nHost: \(host)\r\n\r\n")
            #expect(outcome.error == nil, "Host: \(host) -> \(String(describing: outcome.error))")
            #expect(outcome.messages.count == 1, "Host: \(host)")
        }
        let invalid = ["exa mple.com", "a/b", "a:b:c", "[::1", "::1", "host:80x", "host:65536", "host:123456", "ex%4Gmple",
                       "ex%4", "user@host", "[::1]x", "[]", "[1.2.3.4]", "host?", "h#", "[vx.y]", "\"quoted\""]
        for host in invalid {
            let outcome = parseEverySplit(.request, "GET / HTTP/1.1\r\nHost: \(host)\r\n\r\n")
            #expect(outcome.error?.kind == .malformed, "Host: \(host) was accepted")
            #expect(outcome.error?.reason.contains("Host") == true, "Host: \(host): \(String(describing: outcome.error))")
        }
    }

    @Test func malformedStatusLines() {
        #expect(parseEverySplit(.response, "HTTP/1.1 20 OK\r\n\r\n").error?.kind == .malformed)
        #expect(parseEverySplit(.response, "HTTP/1.1 099 X\r\n\r\n").error?.kind == .malformed)
        #expect(parseEverySplit(.response, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n").error?.kind == .malformed)
    }
}

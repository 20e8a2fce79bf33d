import AsyncIO
import AsyncIOHTTP
import AsyncIOTesting
import HTTPTypes
import Testing

/// The server writes a response head into memory sized for it beforehand, and sends it without a
/// wait when the writer has room: heads of every size, and the path where it has none.
@Suite("HTTP response heads", .timeLimit(.minutes(1)))
struct HTTPResponseHeadTests {
    /// Responses whose heads are far from the usual hundred bytes, each read back field by field.
    @Test func headsOfEverySizeArriveWhole() async throws {
        var router = HTTPRouter()
        let fieldValue = String(repeating: "v", count: 300)
        let body64K = [UInt8]((0..<(64 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        router.get("/many") { _ in
            // 40 fields of 300 bytes: a 12 KB head, past any stack buffer.
            var fields = HTTPFields()
            for index in 0..<40 { fields[HTTPField.Name("X-Field-\(index)")!] = fieldValue }
            let status = HTTPResponse.Status(code: 299, reasonPhrase: String(repeating: "r", count: 500))
            return HTTPServerResponse(status: status, headerFields: fields, body: HTTPBody("many"))
        }
        router.get("/unnamed") { _ in
            // A code with no standard reason and none given: the status line ends after the code.
            HTTPServerResponse(status: HTTPResponse.Status(code: 599, reasonPhrase: ""), body: HTTPBody("x"))
        }
        router.get("/big") { _ in
            // 64 KiB of body travels inside the head's send; with the head that is past the
            // writer's watermark, so the head goes the waiting way.
            HTTPServerResponse(headerFields: [.contentType: "application/octet-stream"], body: HTTPBody(bytes: body64K))
        }
        try await withServer(router) { server, _ in
            let client = try await TestClient(port: server.localAddress.port!)
            for _ in 0..<2 {  // twice: the second request reuses the parser's last target and host
                try await client.send(get("/many"))
                let many = try #require(try await client.response())
                #expect(many.status == 299)
                #expect(many.head.response.status.reasonPhrase == String(repeating: "r", count: 500))
                for index in 0..<40 {
                    #expect(many.head.response.headerFields[HTTPField.Name("X-Field-\(index)")!] == fieldValue)
                }
                #expect(many.head.response.headerFields[.contentLength] == "4")
                #expect(many.text == "many")

                try await client.send(get("/unnamed"))
                let unnamed = try #require(try await client.response())
                #expect(unnamed.status == 599)
                #expect(unnamed.text == "x")

                try await client.send(get("/big"))
                let big = try #require(try await client.response())
                #expect(big.status == 200)
                #expect(big.head.response.headerFields[.contentLength] == "65536")
                #expect(big.body == body64K)
            }
            client.close()
        }
    }

    /// The framing fields a handler sets are the server's to write: `Content-Length` follows the body,
    /// a `Connection: close` closes the connection (once, in one field line), and a HEAD answer with
    /// no body keeps the length the handler declared for the GET body.
    @Test func framingFieldsFromTheHandlerAreTheServers() async throws {
        var router = HTTPRouter()
        router.get("/closing") { _ in
            HTTPServerResponse(headerFields: [.connection: "close", .contentLength: "999"], body: HTTPBody("short"))
        }
        router.add(.head, "/declared") { _ in
            HTTPServerResponse(headerFields: [.contentLength: "12345"])
        }
        try await withServer(router) { server, _ in
            let client = try await TestClient(port: server.localAddress.port!)
            try await client.send("HEAD /declared HTTP/1.1\r\nHost: t\r\n\r\n")
            let declared = try #require(try await client.response(to: .head))
            #expect(declared.head.response.headerFields[values: .contentLength] == ["12345"])
            #expect(declared.head.keepAlive)

            try await client.send(get("/closing"))
            let closing = try #require(try await client.response())
            #expect(closing.text == "short")
            #expect(closing.head.response.headerFields[values: .contentLength] == ["5"])
            #expect(closing.head.response.headerFields[values: .connection] == ["close"])
            #expect(!closing.head.keepAlive)
            #expect(await client.isClosedByServer())
            client.close()
        }
    }

    /// A keep-alive client that changes its target, `Host` or method between requests gets each one's own:
    /// the parser's reuse of the last ones is by equal bytes only.
    @Test func aChangedTargetOrHostIsNotTakenForTheLastOne() async throws {
        var router = HTTPRouter()
        router.get("/a") { request in .text("a \(request.head.authority ?? "-")") }
        router.get("/b") { request in .text("b \(request.head.authority ?? "-")") }
        router.add(nil, "/m") { request in .text("\(request.method) \(request.path)") }
        try await withServer(router) { server, _ in
            let client = try await TestClient(port: server.localAddress.port!)
            // Same lengths, other bytes: in the first eight (compared as a word), and after them.
            let sequence = [
                ("/a", "one"), ("/a", "one"), ("/b", "one"), ("/b", "two"), ("/a", "tw"), ("/a", "two"),
                ("/a", "one-longhost"), ("/a", "two-longhost"), ("/a", "longhost-one"), ("/a", "longhost-two"),
                ("/a", "longhost-two"),
            ]
            for (path, host) in sequence {
                try await client.send("GET \(path) HTTP/1.1\r\nHost: \(host)\r\n\r\n")
                let response = try #require(try await client.response())
                #expect(response.text == "\(path.dropFirst()) \(host)")
            }
            // The method too: each request's own, whatever the last one's was.
            for method in ["GET", "POST", "POST", "DELETE", "GET"] {
                try await client.send("\(method) /m HTTP/1.1\r\nHost: one\r\nContent-Length: 0\r\n\r\n")
                #expect(try await client.response()?.text == "\(method) /m")
            }
            // A bad Host after a good one is still refused: equal bytes skip the check, others do not.
            try await client.send("GET /a HTTP/1.1\r\nHost: two/\r\n\r\n")
            let refused = try #require(try await client.response())
            #expect(refused.status == 400)
            client.close()
        }
    }

    /// The status a response is made with is known without a parse; a change through `head` replaces
    /// it, a change of the fields alone does not, and a reason that is not the standard one is kept.
    @Test func theStatusAResponseEndsWithIsTheOneSent() async throws {
        var made = HTTPServerResponse(status: .notFound)
        #expect(made.status == .notFound)
        made.headerFields[.server] = "t"
        #expect(made.status == .notFound && made.head.headerFields[.server] == "t")
        made.head.status = .created
        #expect(made.status == .created)
        #expect(HTTPServerResponse(status: .init(code: 200, reasonPhrase: "Fine")).status.reasonPhrase == "Fine")
        #expect(HTTPServerResponse(HTTPResponse(status: .init(code: 418, reasonPhrase: "Teapot"))).status.code == 418)

        var router = HTTPRouter()
        router.get("/made") { _ in HTTPServerResponse(status: .notFound, body: HTTPBody("x")) }
        router.get("/changed") { _ in
            var response = HTTPServerResponse(status: .ok, body: HTTPBody("x"))
            response.head.status = .created
            return response
        }
        router.get("/replaced") { _ in
            var response = HTTPServerResponse.text("x")
            response.head = HTTPResponse(status: .accepted)
            return response
        }
        router.get("/fields") { _ in
            var response = HTTPServerResponse(status: .notFound, body: HTTPBody("x"))
            response.headerFields[.server] = "t"
            return response
        }
        router.get("/custom") { _ in HTTPServerResponse(status: .init(code: 200, reasonPhrase: "Fine"), body: HTTPBody("x")) }
        router.get("/unreasoned") { _ in HTTPServerResponse(status: .init(code: 200, reasonPhrase: ""), body: HTTPBody("x")) }
        router.get("/head") { _ in HTTPServerResponse(HTTPResponse(status: .init(code: 418, reasonPhrase: "Teapot")), body: HTTPBody("x")) }
        let expected: [(path: String, code: Int, reason: String)] = [
            ("/made", 404, "Not Found"), ("/changed", 201, "Created"), ("/replaced", 202, "Accepted"),
            ("/fields", 404, "Not Found"), ("/custom", 200, "Fine"), ("/unreasoned", 200, "OK"), ("/head", 418, "Teapot"),
        ]
        try await withServer(router) { server, _ in
            let client = try await TestClient(port: server.localAddress.port!)
            for (path, code, reason) in expected {
                try await client.send(get(path))
                let response = try #require(try await client.response())
                #expect(response.status == code, "\(path)")
                #expect(response.head.response.status.reasonPhrase == reason, "\(path)")
            }
            client.close()
        }
    }
}

import AsyncIOHTTP
import AsyncIOSystem
import HTTPTypes
import Testing

/// Issue 14: the application helpers the server gives handlers, on hostile input.
@Suite
struct HTTPApplicationHelperTests {
    private func request(_ fields: HTTPFields) -> HTTPServerRequest {
        HTTPServerRequest(head: HTTPRequest(method: .get, scheme: nil, authority: "x", path: "/", headerFields: fields))
    }

    @Test func cookiesAreReadInOrderAndSetCookieRefusesInjection() throws {
        var fields = HTTPFields()
        fields.append(HTTPField(name: .cookie, value: #"a=1; b="quoted"; junk; a=2"#))
        fields.append(HTTPField(name: .cookie, value: "c = 3"))
        let cookies = request(fields).cookies
        #expect(cookies.map(\.name) == ["a", "b", "a", "c"])
        #expect(cookies.map(\.value) == ["1", "quoted", "2", "3"])
        #expect(request(fields).cookie("a") == "1")

        let good = HTTPCookie(name: "id", value: "abc", maxAge: .seconds(60), path: "/", secure: true, httpOnly: true, sameSite: .lax)
        #expect(try good.setCookieValue() == "id=abc; Path=/; Max-Age=60; Secure; HttpOnly; SameSite=Lax")
        for bad in [HTTPCookie(name: "a b", value: "x"), HTTPCookie(name: "a", value: "x;Domain=evil.com"),
                    HTTPCookie(name: "a", value: "x", path: "/; Domain=evil.com"), HTTPCookie(name: "", value: "x"),
                    HTTPCookie(name: "a", value: "line\r\nbreak")] {
            #expect(throws: HTTPCookieError.self) { try bad.setCookieValue() }
        }
        var response = HTTPServerResponse()
        try response.deleteCookie("id")
        #expect(response.head.headerFields[.setCookie] == "id=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Max-Age=0")
    }

    @Test func basicCredentialsRoundTripAndRejectGarbage() {
        let credentials = HTTPBasicCredentials(user: "Aladdin", password: "open sesame")
        #expect(credentials.authorizationValue == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")  // RFC 7617 §2
        #expect(HTTPBasicCredentials(authorization: "basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==") == credentials)
        #expect(HTTPBasicCredentials(authorization: "Basic dTpwOng=") == HTTPBasicCredentials(user: "u", password: "p:x"))
        for garbage in ["Bearer QWxh", "Basic !!!!", "Basic QWxhZGRpbg==", "Basic QQ=", "Basic =QWx", "Basic"] {
            #expect(HTTPBasicCredentials(authorization: garbage) == nil, "\(garbage)")
        }
    }

    @Test func byteRangesResolveAsRFC9110Says() {
        #expect(HTTPByteRange("bytes=0-9", length: 100) == .satisfiable(0...9))
        #expect(HTTPByteRange("bytes=90-200", length: 100) == .satisfiable(90...99))
        #expect(HTTPByteRange("bytes=95-", length: 100) == .satisfiable(95...99))
        #expect(HTTPByteRange("bytes=-5", length: 100) == .satisfiable(95...99))
        #expect(HTTPByteRange("bytes=-500", length: 100) == .satisfiable(0...99))
        #expect(HTTPByteRange("bytes=100-", length: 100) == .unsatisfiable)
        #expect(HTTPByteRange("bytes=-0", length: 100) == .unsatisfiable)
        for ignored in ["bytes=5-1", "bytes=0-1,3-4", "items=0-1", "bytes=a-b", "bytes=-", "bytes=+1-2"] {
            #expect(HTTPByteRange(ignored, length: 100) == .ignored, "\(ignored)")
        }
    }

    @Test func formsParseAndMalformedMultipartIsAClearError() throws {
        let urlencoded = HTTPForm.urlencoded(Array("a=1&b=x+y%26z&a=2&empty".utf8))
        #expect(urlencoded.fields.map(\.name) == ["a", "b", "a", "empty"])
        #expect(urlencoded.fields.map(\.value) == ["1", "x y&z", "2", ""])

        let body = "--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a;b.txt\"\r\nContent-Type: text/plain\r\n\r\n"
            + "bytes\r\n--B\r\nContent-Disposition: form-data; name=\"n\"\r\n\r\nv\r\n--B--\r\n"
        let form = try HTTPForm.multipart(Array(body.utf8), boundary: "B")
        #expect(form.value("n") == "v")
        #expect(form.files.first?.filename == "a;b.txt")
        #expect(form.files.first?.contentType == "text/plain")
        #expect(form.files.first?.content == Array("bytes".utf8))
        let malformed = [
            "no boundary at all",
            "--B\r\nContent-Disposition: form-data; name=\"n\"\r\n\r\nnever closed",
            "--B\r\nContent-Disposition: form-data; name=\"n\"",
            "--B\r\nContent-Type: text/plain\r\n\r\nno name\r\n--B--",
            "--Bgarbage",
        ]
        for text in malformed {
            #expect(throws: HTTPFormError.self, "\(text)") { try HTTPForm.multipart(Array(text.utf8), boundary: "B") }
        }
    }
}

/// JSON through Codable on both sides, and text in the response's charset (issue 14).
@Suite(.timeLimit(.minutes(1)))
struct HTTPJSONTests {
    struct Order: Codable, Equatable, Sendable {
        var item: String
        var quantity: Int
        var notes: [String]?
    }

    struct Receipt: Codable, Equatable, Sendable {
        var order: Order
        var total: Double
    }

    @Test func jsonRoundTripsThroughServerAndClient() async throws {
        var router = HTTPRouter()
        router.post("/orders") { request in
            let order = try await request.json(as: Order.self)
            return try .json(Receipt(order: order, total: Double(order.quantity) * 2.5), status: .created)
        }
        router.get("/latin1") { _ in
            HTTPServerResponse(headerFields: [.contentType: "text/plain; charset=ISO-8859-1"], body: HTTPBody(bytes: [0x63, 0x61, 0x66, 0xE9]))
        }
        router.get("/utf8") { _ in .text("café") }
        try await withServer(router) { server, _ in
            try await withHTTPClient { client in
                let base = "http://127.0.0.1:\(server.localAddress.port!)"
                let order = Order(item: "tea", quantity: 4, notes: ["green", "no sugar"])
                let response = try await client.post("\(base)/orders", json: order)
                #expect(response.status == .created)
                #expect(response.headerFields[.contentType] == "application/json")
                let receipt = try await response.json(as: Receipt.self)
                #expect(receipt == Receipt(order: order, total: 10))
                // A body that is not the JSON asked for is a DecodingError, not a crash.
                let wrong = try await client.post("\(base)/orders", json: ["item": "tea"])
                #expect(wrong.status == .internalServerError)
                _ = try await wrong.body.collect()
                #expect(try await client.get("\(base)/latin1").text() == "café")
                #expect(try await client.get("\(base)/utf8").text() == "café")
            }
        }
    }
}

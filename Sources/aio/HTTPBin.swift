import AsyncIO
import AsyncIOHTTP
import AsyncIOSystem
import HTTPTypes

/// The routes of `aio serve`: a local httpbin (CONTRACT.md), the service HTTP client tutorials fetch from.
enum HTTPBin {
    /// Every endpoint, for the router and the landing page.
    static let endpoints: [(path: String, description: String)] = [
        ("/get", "the request's query, headers and URL as JSON"),
        ("/anything", "the request echoed back, any method"),
        ("/post", "POST: the request and its body echoed back"),
        ("/put", "PUT: the request and its body echoed back"),
        ("/patch", "PATCH: the request and its body echoed back"),
        ("/delete", "DELETE: the request echoed back"),
        ("/status/418", "any status code"),
        ("/delay/1", "the /get document after n seconds (n ≤ 10)"),
        ("/bytes/1024?seed=1", "n bytes, the same ones for the same seed"),
        ("/stream/5", "n JSON lines, chunked"),
        ("/drip?numbytes=10&duration=2", "n bytes spread over s seconds"),
        ("/redirect/3", "a 302 chain of n hops ending at /get"),
        ("/headers", "the request's headers"),
        ("/ip", "the client's address"),
        ("/user-agent", "the client's User-Agent"),
        ("/gzip", "a JSON document, gzip-compressed"),
        ("/deflate", "a JSON document, deflate-compressed (zlib format)"),
        ("/html", "an HTML page"),
    ] + applicationEndpoints + [
        ("/json", "a JSON document"),
        ("/plaintext", "Hello, World! (the benchmark route)"),
        ("/ws/echo", "WebSocket: every message sent back (permessage-deflate when offered)"),
    ]

    static func router(staticDirectory: String? = nil) -> HTTPRouter {
        var router = HTTPRouter()
        // CONTRACT.md: "anything else" gets 404, a known path with another method included.
        router.answersMethodNotAllowed = false
        router.get("/") { _ in .html(landingPage) }
        let plaintext = plaintext  // captured: the closure reads no static (a `swift_once` check a call)
        router.get("/plaintext") { _ in plaintext }
        router.get("/html") { _ in .html(htmlPage) }
        router.get("/json") { _ in json(slideshow) }
        router.get("/get") { request in json(.object(requestFields(request, ["args", "headers", "origin", "url"]))) }
        router.get("/headers") { request in json(.object([("headers", headers(request))])) }
        router.get("/ip") { request in json(.object([("origin", .string(origin(request)))])) }
        router.get("/user-agent") { request in
            json(.object([("user-agent", request.head.headerFields[.userAgent].map(JSON.string) ?? .null)]))
        }
        let echo: HTTPServer.Handler = { request in try await echoDocument(request) }
        router.add(nil, "/anything", echo)
        router.add(nil, "/anything/*rest", echo)
        router.post("/post", echo)
        router.put("/put", echo)
        router.patch("/patch", echo)
        router.delete("/delete", echo)
        router.get("/status/:code", status)
        router.get("/delay/:seconds", delay)
        router.get("/bytes/:count", bytes)
        router.get("/stream/:count", stream)
        router.get("/drip", drip)
        router.get("/redirect/:count", redirect)
        router.get("/gzip") { request in try compressed(request, .gzip, flag: "gzipped") }
        router.get("/deflate") { request in try compressed(request, .deflate, flag: "deflated") }
        addApplicationRoutes(to: &router)
        // CONTRACT.md: every message back as one of the same type; 16 MiB messages (the default).
        router.webSocket("/ws/echo") { ws, _ in
            for try await message in ws.messages { try await ws.send(message) }
        }
        if let staticDirectory { router.serveFiles(at: "/static", from: staticDirectory) }
        return router
    }

    /// Built once: every answer shares its storage, so the benchmark route allocates nothing.
    static let plaintext = HTTPServerResponse(headerFields: [.contentType: "text/plain"], body: HTTPBody("Hello, World!"))

    // MARK: - Documents

    static func json(_ value: JSON, status: HTTPResponse.Status = .ok) -> HTTPServerResponse {
        var bytes = value.encodedBytes()
        bytes.append(UInt8(ascii: "\n"))
        return HTTPServerResponse(status: status, headerFields: [.contentType: "application/json"], body: HTTPBody(bytes: bytes))
    }

    /// httpbin's `/gzip` and `/deflate`: `{flag: true, "headers", "method"}` in `coding`.
    static func compressed(_ request: HTTPServerRequest, _ coding: HTTPContentCoding, flag: String) throws -> HTTPServerResponse {
        let document = JSON.object([(flag, .bool(true))] + requestFields(request, ["headers", "method", "origin"]))
        let body = try coding.compress(Array((document.encoded() + "\n").utf8))
        return HTTPServerResponse(
            headerFields: [.contentType: "application/json", .contentEncoding: coding.rawValue],
            body: HTTPBody(bytes: body))
    }

    static func badRequest(_ message: String) -> HTTPServerResponse {
        json(.object([("error", .string(message))]), status: .badRequest)
    }

    /// The request's fields as httpbin names them.
    static func requestFields(_ request: HTTPServerRequest, _ names: [String]) -> [(String, JSON)] {
        names.map { name in
            switch name {
            case "args": (name, args(request))
            case "headers": (name, headers(request))
            case "origin": (name, .string(origin(request)))
            case "url": (name, .string(url(request)))
            case "method": (name, .string(request.method.rawValue))
            default: (name, .null)
            }
        }
    }

    /// The query: one string per name, or an array when a name repeats.
    static func args(_ request: HTTPServerRequest) -> JSON { groupedPairs(request.queryItems) }

    /// Headers with httpbin's Title-Case names, `Host` first; repeated fields joined with commas.
    static func headers(_ request: HTTPServerRequest) -> JSON {
        var order: [String] = []
        var values: [String: [String]] = [:]
        if let host = request.head.authority {
            order.append("Host")
            values["Host"] = [host]
        }
        for field in request.head.headerFields {
            let name = titleCase(field.name.canonicalName)
            if values[name] == nil { order.append(name) }
            values[name, default: []].append(field.value)
        }
        return .object(order.map { ($0, .string(values[$0]!.joined(separator: ","))) })
    }

    static func titleCase(_ name: String) -> String {
        name.split(separator: "-", omittingEmptySubsequences: false)
            .map { $0.prefix(1).uppercased() + $0.dropFirst() }
            .joined(separator: "-")
    }

    static func origin(_ request: HTTPServerRequest) -> String {
        request.remoteAddress?.host ?? "unknown"
    }

    static func url(_ request: HTTPServerRequest) -> String {
        "\(request.isSecure ? "https" : "http")://\(request.head.authority ?? "localhost")\(request.head.path ?? "/")"
    }

    /// `/anything` and the method endpoints: the request and its body.
    /// A form body (urlencoded or multipart) gives `form` and `files` and an empty `data`, as httpbin.
    static func echoDocument(_ request: HTTPServerRequest) async throws -> HTTPServerResponse {
        let body = try await request.body.collect(upTo: .max)
        let mediaType = request.head.headerFields[.contentType]?.split(separator: ";").first?.lowercased() ?? ""
        var form = HTTPForm(fields: [], files: [])
        var isForm = true
        switch mediaType.filter({ $0 != " " }) {
        case "application/x-www-form-urlencoded":
            form = HTTPForm.urlencoded(body)
        case "multipart/form-data":
            switch multipartForm(body, request) {
            case .success(let parsed): form = parsed
            case .failure(let error): return badRequest(error.message)
            }
        default:
            isForm = false
        }
        let text = isForm ? "" : String(decoding: body, as: UTF8.self)
        let files = form.files.map { (name: $0.name, value: String(decoding: $0.content, as: UTF8.self)) }
        var fields = requestFields(request, ["args", "headers", "origin", "url", "method"])
        fields.insert(("data", .string(text)), at: 1)
        fields.insert(("files", groupedPairs(files)), at: 2)
        fields.insert(("form", groupedPairs(form.fields)), at: 3)
        fields.insert(("json", isForm || body.isEmpty ? .null : JSON.parse(body) ?? .null), at: 5)
        return json(.object(fields))
    }

    /// The multipart form of `body`, or why it is malformed.
    static func multipartForm(_ body: [UInt8], _ request: HTTPServerRequest) -> Result<HTTPForm, HTTPFormError> {
        do {
            return .success(try HTTPForm.multipart(body, boundary: HTTPServerRequest.multipartBoundary(request)))
        } catch {
            return .failure(error)
        }
    }

    // MARK: - Endpoints with parameters

    static let status: HTTPServer.Handler = { request in
        guard let code = Int(request.parameter("code") ?? ""), (200...999).contains(code) else {
            return badRequest("status code must be between 200 and 999")
        }
        var response = HTTPServerResponse(status: HTTPResponse.Status(code: code))
        if [301, 302, 303, 305, 307].contains(code) { response.headerFields[.location] = "/redirect/1" }
        return response
    }

    static let delay: HTTPServer.Handler = { request in
        guard let seconds = Double(request.parameter("seconds") ?? ""), seconds >= 0, seconds.isFinite else {
            return badRequest("the delay must be a number of seconds between 0 and 10")
        }
        try await EventLoop.requireCurrent().sleep(for: .milliseconds(Int64(min(seconds, 10) * 1000)))
        return json(.object(requestFields(request, ["args", "headers", "origin", "url"])))
    }

    static let bytes: HTTPServer.Handler = { request in
        guard let count = Int(request.parameter("count") ?? ""), count >= 0 else {
            return badRequest("the byte count must be a non-negative integer")
        }
        let seed = request.queryItem("seed").flatMap { UInt64($0) } ?? UInt64.random(in: 0...UInt64.max)
        let body = HTTPBody.stream(length: count) { writer in
            var generator = SplitMix64(seed: seed)
            var left = count
            var chunk = [UInt8](repeating: 0, count: min(count, 64 * 1024))
            while left > 0 {
                let size = min(left, chunk.count)
                generator.fill(&chunk, count: size)
                try await writer.write(size == chunk.count ? chunk : Array(chunk[..<size]))
                left -= size
            }
        }
        return HTTPServerResponse(headerFields: [.contentType: "application/octet-stream"], body: body)
    }

    static let stream: HTTPServer.Handler = { request in
        guard let count = Int(request.parameter("count") ?? ""), count >= 0 else {
            return badRequest("the line count must be a non-negative integer")
        }
        let fields = requestFields(request, ["url", "args", "headers", "origin"])
        let body = HTTPBody.stream { writer in
            for id in 0..<count {
                try await writer.write(JSON.object(fields + [("id", .int(id))]).encoded(pretty: false) + "\n")
            }
        }
        return HTTPServerResponse(headerFields: [.contentType: "application/json"], body: body)
    }

    static let drip: HTTPServer.Handler = { request in
        let count = request.queryItem("numbytes").map { Int($0) } ?? 10
        let duration = request.queryItem("duration").map { Double($0) } ?? 2
        guard let count, (0...10 * 1024 * 1024).contains(count) else {
            return badRequest("numbytes must be an integer between 0 and 10485760")
        }
        guard let duration, duration >= 0, duration <= 600 else {
            return badRequest("duration must be a number of seconds between 0 and 600")
        }
        let loop = try EventLoop.requireCurrent()
        let body = HTTPBody.stream(length: count) { writer in
            // Evenly spaced writes, at most 100 a second: step k goes out at (k + 1) × duration / steps,
            // so the last byte arrives when the duration is over.
            let steps = max(1, min(count, Int(duration * 100)))
            let start = loop.now
            let total = Duration.milliseconds(Int64(duration * 1000))
            var sent = 0
            for step in 0..<steps where count > 0 {
                try await loop.sleep(until: start.advanced(by: total * (step + 1) / steps))
                let size = count * (step + 1) / steps - sent
                if size > 0 { try await writer.write([UInt8](repeating: UInt8(ascii: "*"), count: size)) }
                sent += size
            }
            if count == 0 { try await loop.sleep(until: start.advanced(by: total)) }
        }
        return HTTPServerResponse(headerFields: [.contentType: "application/octet-stream"], body: body)
    }

    static let redirect: HTTPServer.Handler = { request in
        guard let count = Int(request.parameter("count") ?? ""), count >= 1 else {
            return badRequest("the redirect count must be a positive integer")
        }
        var response = HTTPServerResponse(status: .found)
        response.headerFields[.location] = count == 1 ? "/get" : "/redirect/\(count - 1)"
        return response
    }

    // MARK: - Pages

    static let landingPage: String = {
        let items = endpoints.map { path, description in
            "      <li><a href=\"\(path)\"><code>\(path.replacingAmpersands())</code></a> <span>\(description)</span></li>"
        }.joined(separator: "\n")
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
              <meta charset="utf-8">
              <meta name="viewport" content="width=device-width, initial-scale=1">
              <title>aio serve: a local httpbin</title>
              <style>
                body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 3rem auto; padding: 0 1rem; color: #1d2330; }
                h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
                p.lead { color: #5b6475; margin-top: 0; }
                ul { list-style: none; padding: 0; }
                li { padding: 0.45rem 0; border-bottom: 1px solid #e6e9ef; display: flex; gap: 1rem; }
                code { background: #f2f4f8; padding: 0.1rem 0.4rem; border-radius: 4px; }
                a { color: #2457c5; text-decoration: none; min-width: 18rem; }
                span { color: #5b6475; }
              </style>
            </head>
            <body>
              <h1>aio serve</h1>
              <p class="lead">A local httpbin on the AsyncIO event loop: the endpoints HTTP client tutorials fetch from.</p>
              <ul>
            \(items)
              </ul>
            </body>
            </html>

            """
    }()

    static let htmlPage = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
          <meta charset="utf-8">
          <title>Herman Melville - Moby-Dick</title>
        </head>
        <body>
          <h1>Herman Melville - Moby-Dick</h1>
          <p>Call me Ishmael. Some years ago—never mind how long precisely—having little or no money in my \
        purse, and nothing particular to interest me on shore, I thought I would sail about a little and see \
        the watery part of the world.</p>
        </body>
        </html>

        """

    static let slideshow = JSON.object([
        ("slideshow", .object([
            ("author", .string("Yours Truly")),
            ("date", .string("date of publication")),
            ("slides", .array([
                .object([("title", .string("Wake up to WonderWidgets!")), ("type", .string("all"))]),
                .object([
                    ("items", .array([.string("Why <em>WonderWidgets</em> are great"), .string("Who <em>buys</em> WonderWidgets")])),
                    ("title", .string("Overview")), ("type", .string("all")),
                ]),
            ])),
            ("title", .string("Sample Slide Show")),
        ])),
    ])
}

/// A small, fast, seedable generator (SplitMix64): `/bytes/n?seed=K` is the same for the same K.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Fills the first `count` bytes of `buffer`, a word at a time (little-endian, as byte by byte).
    mutating func fill(_ buffer: inout [UInt8], count: Int) {
        precondition(count <= buffer.count)
        buffer.withUnsafeMutableBytes { raw in
            var index = 0
            while index + 8 <= count {
                raw.storeBytes(of: next().littleEndian, toByteOffset: index, as: UInt64.self)
                index += 8
            }
            if index < count {
                var word = next()
                while index < count {
                    raw[index] = UInt8(truncatingIfNeeded: word)
                    word >>= 8
                    index += 1
                }
            }
        }
    }
}

extension String {
    fileprivate func replacingAmpersands() -> String {
        var out = ""
        for character in self { out += character == "&" ? "&amp;" : String(character) }
        return out
    }
}

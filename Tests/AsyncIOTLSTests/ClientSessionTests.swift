import AsyncIO
import AsyncIOHTTP
import AsyncIOSystem
import AsyncIOTesting
import Testing

/// A small aiohttp app that reports what it received, for ``ClientSessionTests``.
private let aiohttpApp = #"""
import asyncio, hashlib, sys
from aiohttp import web

async def form(request):
    data = await request.post()
    fields, files = {}, {}
    for name, value in data.items():
        if isinstance(value, web.FileField):
            content = value.file.read()
            files[name] = {"filename": value.filename, "type": value.content_type, "size": len(content),
                           "sha256": hashlib.sha256(content).hexdigest()}
        else:
            fields.setdefault(name, []).append(value)
    return web.json_response({"fields": fields, "files": files, "type": request.content_type})

async def echo(request):
    return web.json_response({"query": {k: request.query.getall(k) for k in request.query},
                              "authorization": request.headers.get("Authorization"),
                              "x_default": request.headers.get("X-Default"), "path": request.path})

async def redirect(request):
    raise web.HTTPFound(request.query["to"])

async def missing(request):
    raise web.HTTPNotFound()

async def main():
    app = web.Application()
    app.add_routes([web.post("/form", form), web.get("/api/echo", echo), web.get("/redirect", redirect),
                    web.get("/missing", missing)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""#

/// aiohttp-style client sessions (issue 14): forms and streamed multipart uploads parsed by aiohttp,
/// query encoding, a base URL and default headers, Basic auth from the URL that never crosses hosts,
/// the redirect history and raiseForStatus.
@Suite(.timeLimit(.minutes(2)))
struct ClientSessionTests {
    private struct Echo: Decodable {
        var query: [String: [String]]
        var authorization: String?
        var x_default: String?
        var path: String
    }

    @Test func formsAndStreamedMultipartArriveAsAiohttpParsesThem() async throws {
        try await withTestLoop(virtualTime: false) { _ in
            let (peer, port) = try await Peer.python(aiohttpApp)
            let path = "/tmp/aio-upload-\(UInt32.random(in: 0...UInt32.max)).bin"
            let content = pattern(300_000)
            let file = try await File.open(path, mode: .write)
            try await file.write(content)
            try await file.close()
            try await withHTTPClient { client in
                let base = "http://127.0.0.1:\(port)"
                struct Form: Decodable {
                    struct Upload: Decodable { var filename: String; var type: String; var size: Int; var sha256: String }
                    var fields: [String: [String]]
                    var files: [String: Upload]
                    var type: String
                }
                let urlencoded = try await client.post("\(base)/form", form: [("name", "Ada L."), ("tag", "a&b=c"), ("tag", "é")])
                let parsed = try await urlencoded.json(as: Form.self)
                #expect(parsed.type == "application/x-www-form-urlencoded")
                #expect(parsed.fields == ["name": ["Ada L."], "tag": ["a&b=c", "é"]])

                let multipart = try await client.post("\(base)/form", multipart: [
                    .field(name: "title", value: "two files"),
                    .data(name: "small", filename: "note \"1\".txt", contentType: "text/plain", content: Array("hello".utf8)),
                    .file(name: "big", path: path, contentType: "application/octet-stream"),
                ])
                let form = try await multipart.json(as: Form.self)
                #expect(form.type == "multipart/form-data")
                #expect(form.fields == ["title": ["two files"]])
                #expect(form.files["small"]?.size == 5 && form.files["small"]?.type == "text/plain")
                #expect(form.files["big"]?.size == 300_000)
                #expect(form.files["big"]?.filename == path.split(separator: "/").last.map(String.init))
                let digest = try await ChildProcess.spawn("sha256sum", arguments: [path], stdout: .pipe).communicate().stdout
                #expect(String(decoding: digest, as: UTF8.self).hasPrefix(form.files["big"]?.sha256 ?? "missing"))

                // A file that cannot be opened fails the request with its own error.
                await #expect(throws: (any Error).self) {
                    _ = try await client.post("\(base)/form", multipart: [.file(name: "f", path: "/no/such/file")]).body.collect()
                }
            }
            try? await File.remove(path)
            await peer.stop()
        }
    }

    @Test func queryBaseURLDefaultsAuthHistoryAndStatus() async throws {
        try await withTestLoop(virtualTime: false) { _ in
            let (peer, port) = try await Peer.python(aiohttpApp)
            var configuration = HTTPClient.Configuration()
            configuration.baseURL = "http://u%40x:p%3Ass@127.0.0.1:\(port)/api/"
            configuration.headerFields = [HTTPField.Name("X-Default")!: "from the session"]
            try await withHTTPClient(configuration: configuration) { client in
                // A relative URL, query items percent-encoded, the session's header and the URL's credentials.
                let echo = try await client.get("echo", query: [("q", "a b&c/é"), ("q", "+"), ("empty", "")]).json(as: Echo.self)
                #expect(echo.path == "/api/echo")
                #expect(echo.query == ["q": ["a b&c/é", "+"], "empty": [""]])
                #expect(echo.x_default == "from the session")
                #expect(echo.authorization == HTTPBasicCredentials(user: "u@x", password: "p:ss").authorizationValue)
                let replaced = try await client.get("echo", headerFields: [HTTPField.Name("X-Default")!: "mine"]).json(as: Echo.self)
                #expect(replaced.x_default == "mine")

                // Redirects: credentials stay on the same host, are dropped on another; the history says where we went.
                let same = try await client.get("/redirect", query: [("to", "/api/echo")])
                #expect(same.history.map(\.status.code) == [302])
                #expect(same.history.first?.location == "/api/echo")
                #expect(try await same.json(as: Echo.self).authorization != nil)
                let other = try await client.get("/redirect", query: [("to", "http://localhost:\(port)/api/echo")])
                #expect(other.url.host == "localhost")
                #expect(try await other.json(as: Echo.self).authorization == nil)

                // raiseForStatus.
                let missing = try await client.get("/missing")
                let error = #expect(throws: HTTPStatusError.self) { try missing.raiseForStatus() }
                #expect(error?.status.code == 404)
                #expect(error?.description.contains("/missing") == true)
                _ = try await missing.body.collect()
                try await client.get("echo").raiseForStatus()
            }
            await peer.stop()
        }
    }
}

// Hummingbird's side of the JSON round trip (Benchmarks/json-roundtrip.py): POST /post decodes the JSON
// body with Codable and answers httpbin's document, as `aio serve`'s /post and the aiohttp peer do (the
// same fields, pretty-printed). Written as a Hummingbird user would: Codable types for the benchmark's
// document, JSONDecoder and JSONEncoder (aio serve and aiohttp parse any JSON). Prints its port.
// Usage: hb-json [PORT] (0 or none: a free port).
import Foundation
import Hummingbird
import Logging

/// The benchmark's document, typed as a Hummingbird user would type it (Codable structs are the fast
/// and usual way; a generic JSON enum decoded with `try?` per kind costs about ten times as much).
struct Item: Codable, Sendable {
    var id: Int
    var name: String
    var tags: [String]
    var price: Double
}

struct Payload: Codable, Sendable {
    var items: [Item]
}

struct PostDocument: Encodable {
    var args: [String: String]
    var data: String
    var files: [String: String] = [:]
    var form: [String: String] = [:]
    var headers: [String: String]
    var json: Payload
    var method: String
    var origin: String
    var url: String
}

let port = Int(CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "0") ?? 0
var logger = Logger(label: "hb-json")
logger.logLevel = .error
let encoder = JSONEncoder()
encoder.outputFormatting = [.prettyPrinted]

let router = Router()
router.post("/post") { request, _ -> Response in
    let body = try await request.body.collect(upTo: 1 << 20)
    let data = Data(buffer: body)
    let json = try JSONDecoder().decode(Payload.self, from: data)
    var headers: [String: String] = [:]
    for field in request.headers { headers[field.name.canonicalName] = field.value }
    var args: [String: String] = [:]
    for (name, value) in request.uri.queryParameters { args[String(name)] = String(value) }
    let document = PostDocument(
        args: args, data: String(decoding: data, as: UTF8.self), headers: headers, json: json,
        // BasicRequestContext has no peer address; the server listens on loopback only.
        method: request.method.rawValue, origin: "127.0.0.1",
        url: "http://\(request.head.authority ?? "")\(request.uri)")
    var encoded = try encoder.encode(document)
    encoded.append(0x0A)
    return Response(
        status: .ok, headers: [.contentType: "application/json"],
        body: ResponseBody(byteBuffer: ByteBuffer(bytes: encoded)))
}
let app = Application(
    router: router,
    configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: nil),
    onServerRunning: { channel in
        print("listening on 127.0.0.1:\(channel.localAddress?.port ?? 0)")
        fflush(nil)  // the port line reaches a pipe at once
    },
    logger: logger
)
try await app.runService()

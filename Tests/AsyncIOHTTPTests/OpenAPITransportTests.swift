@testable import AsyncIOOpenAPI
import AsyncIO
import AsyncIOHTTP
import AsyncIOTesting
import Foundation
import HTTPTypes
import OpenAPIRuntime
import Testing

/// Issue 16: the OpenAPI transports, driven as generated code drives them: operations registered on
/// the server transport, called through the client transport.
@Suite("OpenAPI transports", .timeLimit(.minutes(1)))
struct OpenAPITransportTests {
    @Test func operationsRoundTripThroughBothTransports() async throws {
        let transport = AsyncIOServerTransport()
        try transport.register({ request, _, metadata in
            let id = metadata.pathParameters["petId"].map(String.init) ?? "?"
            var head = HTTPResponse(status: .ok)
            head.headerFields[.contentType] = "application/json"
            return (head, OpenAPIRuntime.HTTPBody("{\"id\":\(id),\"method\":\"\(request.method.rawValue)\"}"))
        }, method: .get, path: "/pets/{petId}")
        try transport.register({ _, body, _ in
            var received = 0
            if let body { for try await chunk in body { received += chunk.count } }
            return (HTTPResponse(status: .created), OpenAPIRuntime.HTTPBody("received \(received)"))
        }, method: .post, path: "/pets")
        try await withTestLoop { _ in
            let server = try await HTTPServer.start(host: "127.0.0.1", port: 0, handler: transport.router.handler)
            try await withHTTPClient { http in
                let client = AsyncIOClientTransport(client: http)
                let base = URL(string: "http://127.0.0.1:\(server.localAddress.port!)/")!
                let (head, body) = try await client.send(
                    HTTPRequest(method: .get, scheme: nil, authority: nil, path: "/pets/7"), body: nil, baseURL: base, operationID: "getPet")
                #expect(head.status == .ok)
                #expect(try await String(collecting: body!, upTo: 1000) == "{\"id\":7,\"method\":\"GET\"}")

                let upload = OpenAPIRuntime.HTTPBody(
                    AsyncStream<ArraySlice<UInt8>> { continuation in
                        for _ in 0..<10 { continuation.yield(ArraySlice(repeating: 1, count: 100_000)) }
                        continuation.finish()
                    }, length: .unknown)
                let (created, reply) = try await client.send(
                    HTTPRequest(method: .post, scheme: nil, authority: nil, path: "/pets"), body: upload, baseURL: base, operationID: "addPet")
                #expect(created.status == .created)
                #expect(try await String(collecting: reply!, upTo: 1000) == "received 1000000")
            }
            await server.shutdown()
        }
    }

    @Test func templatesBecomeRouterPatternsOrAClearError() throws {
        #expect(try AsyncIOServerTransport.routerPattern("/pets/{petId}/toys/{toyId}") == "/pets/:petId/toys/:toyId")
        #expect(throws: AsyncIOServerTransportError.self) { _ = try AsyncIOServerTransport.routerPattern("/file/{name}.zip") }
    }
}

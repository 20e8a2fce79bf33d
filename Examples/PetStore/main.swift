// An OpenAPI service on AsyncIO: the code in Generated/ was made once from openapi.yaml by
// swift-openapi-generator 1.14.3 (`swift-openapi-generator generate openapi.yaml --config
// openapi-generator-config.yaml --output-directory Generated`; the build never runs the generator).
// The server side registers the generated handlers on AsyncIOServerTransport; the generated client
// calls them through AsyncIOClientTransport.
import AsyncIO
import AsyncIOHTTP
import AsyncIOOpenAPI
import struct Foundation.URL
import OpenAPIRuntime
import Synchronization

/// The API's implementation: pets kept in memory.
final class PetStore: APIProtocol {
    let pets = Mutex<[Components.Schemas.Pet]>([])

    func listPets(_ input: Operations.listPets.Input) async throws -> Operations.listPets.Output {
        .ok(.init(body: .json(pets.withLock { $0 })))
    }

    func addPet(_ input: Operations.addPet.Input) async throws -> Operations.addPet.Output {
        let new = switch input.body { case .json(let new): new }
        let pet = pets.withLock { pets in
            let pet = Components.Schemas.Pet(id: Int64(pets.count + 1), name: new.name, tag: new.tag)
            pets.append(pet)
            return pet
        }
        return .created(.init(body: .json(pet)))
    }

    func getPet(_ input: Operations.getPet.Input) async throws -> Operations.getPet.Output {
        let id = input.path.petId
        guard let pet = pets.withLock({ $0.first { $0.id == id } }) else { return .notFound(.init()) }
        return .ok(.init(body: .json(pet)))
    }
}

try EventLoop.run { _ in
    let transport = AsyncIOServerTransport()
    try PetStore().registerHandlers(on: transport, serverURL: URL(string: "/api")!)
    let server = try await HTTPServer.start(host: "127.0.0.1", port: 0, handler: transport.router.handler)
    let client = Client(
        serverURL: URL(string: "http://127.0.0.1:\(server.localAddress.port!)/api")!,
        transport: AsyncIOClientTransport(client: try HTTPClient.shared))
    for (name, tag) in [("Tea", "cat"), ("Biscuit", "dog")] {
        let added = try await client.addPet(body: .json(.init(name: name, tag: tag))).created.body.json
        StandardStreams.printLine("added \(added.id) \(added.name)")
    }
    let all = try await client.listPets().ok.body.json
    StandardStreams.printLine("pets: " + all.map(\.name).joined(separator: ", "))
    let second = try await client.getPet(path: .init(petId: 2)).ok.body.json
    StandardStreams.printLine("pet 2: \(second.name) (\(second.tag ?? "-"))")
    switch try await client.getPet(path: .init(petId: 99)) {
    case .notFound: StandardStreams.printLine("pet 99: not found")
    default: StandardStreams.printLine("pet 99: unexpected answer")
    }
    await server.shutdown()
}

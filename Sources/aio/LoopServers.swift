import AsyncIO

/// The servers of a command with `--loops N`: one on `loop` itself for one loop, else one per loop of a
/// new group, all on the same port (`SO_REUSEPORT`; the kernel spreads the connections), the later ones
/// on the port the first was given.
struct LoopServers<Server: Sendable> {
    let servers: [Server]
    /// The group the servers run on, when there is one: shut it down after the servers.
    let group: EventLoopGroup?

    /// Starts them; `start(loop, port, reusePort)` starts one, on its loop's thread.
    ///
    /// - Throws: What `start` throws; the group, if any, is shut down first.
    static func start(
        loops: Int, on loop: EventLoop, name: String, port: UInt16, backend: EventLoop.Backend = .automatic,
        portOf: @escaping @Sendable (Server) -> UInt16?,
        _ start: @escaping @Sendable (EventLoop, UInt16, Bool) async throws -> Server
    ) async throws -> LoopServers {
        if loops == 1 { return LoopServers(servers: [try await start(loop, port, false)], group: nil) }
        let group = try EventLoopGroup(loops: loops, name: name, backend: backend)
        var servers: [Server] = []
        var chosenPort = port
        do {
            for serverLoop in group.loops {
                let p = chosenPort
                let server = try await serverLoop.spawn { try await start(serverLoop, p, true) }.value
                chosenPort = portOf(server) ?? p
                servers.append(server)
            }
        } catch {
            group.shutdown()
            throw error
        }
        return LoopServers(servers: servers, group: group)
    }
}

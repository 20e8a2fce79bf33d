import AsyncIO
import AsyncIOSystem
import Testing

/// What the io_uring completion-I/O tests share.
enum RingTesting {
    /// A connected pair on `loop`: the accepted end and the connecting end.
    static func connectedPair(on loop: EventLoop) async throws -> (server: Socket, client: Socket) {
        let listener = try loop.listen(on: .ipv4(address: (127, 0, 0, 1), port: 0))
        defer { listener.close() }
        async let accepted = loop.accept(listener)
        let client = try await loop.connect(to: listener.localAddress!)
        return (try await accepted, client)
    }

    /// The pattern byte at `offset` of stream `index`: a lost, repeated or reordered byte shows.
    static func patternByte(_ index: Int, _ offset: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: offset &* 31 &+ offset >> 8 &+ index &* 7)
    }

    static func pattern(_ index: Int, count: Int) -> [UInt8] {
        (0..<count).map { patternByte(index, $0) }
    }

    /// Moves `socket` onto the ring the way a reader does: a receive that finds nothing (it must find
    /// nothing).
    static func startReceivingOnRing(_ socket: Socket) throws {
        var scratch = [UInt8](repeating: 0, count: 16)
        let result = try scratch.withUnsafeMutableBytes { try socket.tryReceive(into: $0) }
        guard case .wouldBlock = result else { Issue.record("the socket was not empty: \(result)"); return }
        #expect(socket.receivesOnRing)
    }

    /// Lets the loop turn until `condition` holds (each turn polls the ring without blocking).
    static func turn(until condition: () -> Bool) async {
        while !condition() { await Task.yield() }
    }

    /// As ``turn(until:)``, for at most `turns` turns (so that what never happens fails the test
    /// instead of hanging it); returns whether `condition` held.
    static func turn(atMost turns: Int, until condition: () -> Bool) async -> Bool {
        for _ in 0..<turns where !condition() { await Task.yield() }
        return condition()
    }
}

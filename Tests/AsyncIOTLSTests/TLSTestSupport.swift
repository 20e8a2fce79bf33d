import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import AsyncIOTLS
import Testing

/// Contexts made from the test PKI.
enum Contexts {
    /// A client that trusts only the test root CA (not the system's roots).
    static func client(
        _ pki: TestPKI, versions: ClosedRange<TLSConfiguration.Version> = .tls12...(.tls13),
        alpn: [String] = [], verification: TLSConfiguration.Verification = .full,
        certificate: String? = nil, handshakeTimeout: Duration = .seconds(10), resumption: Bool = true
    ) throws -> TLSContext {
        var configuration = TLSConfiguration.client()
        configuration.trustRoots = .none
        configuration.additionalTrustRoots = [.file(pki.path("ca.pem"))]
        configuration.minimumVersion = versions.lowerBound
        configuration.maximumVersion = versions.upperBound
        configuration.applicationProtocols = alpn
        configuration.verification = verification
        configuration.handshakeTimeout = handshakeTimeout
        configuration.sessionResumption = resumption
        if let certificate {
            configuration.certificateChain = .file(pki.path("\(certificate).pem"))
            configuration.privateKey = .file(pki.path("\(certificate).key"))
        }
        return try TLSContext(configuration)
    }

    /// A server with `certificate` (`chain` is the localhost leaf with its intermediate).
    static func server(
        _ pki: TestPKI, certificate: String = "chain", key: String? = nil, alpn: [String] = [],
        versions: ClosedRange<TLSConfiguration.Version> = .tls12...(.tls13),
        clientCertificates: TLSConfiguration.Verification = .none, handshakeTimeout: Duration = .seconds(10)
    ) throws -> TLSContext {
        let keyName = key ?? (certificate == "chain" ? "leaf" : certificate)
        var configuration = TLSConfiguration.server(
            certificateChain: .file(pki.path("\(certificate).pem")), privateKey: .file(pki.path("\(keyName).key"))
        )
        configuration.applicationProtocols = alpn
        configuration.minimumVersion = versions.lowerBound
        configuration.maximumVersion = versions.upperBound
        configuration.verification = clientCertificates
        configuration.handshakeTimeout = handshakeTimeout
        if clientCertificates != .none {
            configuration.trustRoots = .none
            configuration.additionalTrustRoots = [.file(pki.path("ca.pem"))]
        }
        return try TLSContext(configuration)
    }
}

/// A peer program (openssl, python3) started by a test, with its stdout piped.
struct Peer {
    let process: ChildProcess
    let stdout: StreamReader

    /// Starts `executable` and reads stdout lines until one passes `ready`, returning that line.
    static func start(_ executable: String, _ arguments: [String], stdin: ChildProcess.IO = .null,
                      ready: (String) -> Bool) async throws -> (Peer, String) {
        let process = try ChildProcess.spawn(executable, arguments: arguments, stdin: stdin, stdout: .pipe, stderr: .null)
        let peer = Peer(process: process, stdout: process.stdout!)
        while true {
            let line = try await peer.readLine()
            if line.isEmpty && peer.stdout.isAtEOF {
                await peer.stop()
                throw PeerError(message: "\(executable) exited before it was ready")
            }
            if ready(line) { return (peer, line) }
        }
    }

    /// `openssl s_server` with `arguments`, on a free port; returns the peer and the port.
    static func opensslServer(_ arguments: [String]) async throws -> (Peer, UInt16) {
        let (peer, line) = try await start("openssl", ["s_server", "-accept", "127.0.0.1:0"] + arguments) { $0.hasPrefix("ACCEPT") }
        return (peer, port(in: line))
    }

    /// `python3 -c script args...`; the script prints its port as its first line.
    static func python(_ script: String, _ arguments: [String] = [], stdin: ChildProcess.IO = .null) async throws -> (Peer, UInt16) {
        let (peer, line) = try await start("python3", ["-c", script] + arguments, stdin: stdin) { _ in true }
        return (peer, port(in: line))
    }

    /// The number after the last colon of `line` ("ACCEPT 127.0.0.1:4433", "port: 4433").
    private static func port(in line: String) -> UInt16 {
        UInt16(line.split(whereSeparator: { $0 == ":" || $0 == " " }).last ?? "") ?? 0
    }

    /// The next stdout line without its newline ("" at the end).
    func readLine() async throws -> String {
        var line = try await stdout.readLine()
        if line.last == UInt8(ascii: "\n") { line.removeLast() }
        return String(decoding: line, as: UTF8.self)
    }

    /// Kills the peer, reaps it and closes its pipe.
    func stop() async {
        process.kill()
        _ = try? await process.wait()
        stdout.stream?.close()
        process.stdin?.abort()
    }
}

/// An HTTPS CONNECT proxy on the current loop: TLS to its clients (with `tls`), plain TCP to the
/// `127.0.0.1` port named in the request, bytes piped both ways until each side ends.
func startConnectProxy(tls: TLSContext, on loop: EventLoop) async throws -> StreamServer {
    try await startServer(host: "127.0.0.1", port: 0, tls: tls) { reader, writer in
        let head = String(decoding: try await reader.read(until: Array("\r\n\r\n".utf8)), as: UTF8.self)
        let requestLine = head.split(separator: " ")
        guard requestLine.count > 1, requestLine[0] == "CONNECT",
              let port = requestLine[1].split(separator: ":").last.flatMap({ UInt16($0) }) else { return }
        let (upReader, upWriter) = try await openConnection(host: "127.0.0.1", port: port)
        try await writer.write("HTTP/1.1 200 Connection Established\r\n\r\n")
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask(executorPreference: loop) {
                for try await chunk in reader.chunks { try await upWriter.write(chunk) }
                upWriter.writeEOF()
            }
            group.addTask(executorPreference: loop) {
                for try await chunk in upReader.chunks { try await writer.write(chunk) }
            }
            try await group.waitForAll()
        }
        await upWriter.close()
    }
}

/// A TLS server on the current loop that echoes every byte; `onAccept` sees each handshake's stream.
func startEchoServer(tls: TLSContext, onAccept: @escaping @Sendable (TLSStream) -> Void = { _ in }) async throws -> StreamServer {
    try await startServer(host: "127.0.0.1", port: 0, tls: tls) { reader, writer in
        if let stream = writer.stream as? TLSStream { onAccept(stream) }
        while true {
            let chunk = try await reader.read(upTo: 64 * 1024)
            if chunk.isEmpty { return }
            try await writer.write(chunk)
        }
    }
}

/// Expects `body` to throw a ``TLSError`` with `code`, and returns it.
@discardableResult
func expectTLSError<T>(_ code: TLSError.Code, sourceLocation: SourceLocation = #_sourceLocation,
                       _ body: () async throws -> T) async -> TLSError? {
    do {
        _ = try await body()
        Issue.record("expected TLSError \(code), got success", sourceLocation: sourceLocation)
    } catch let error as TLSError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected TLSError \(code), got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// Bytes that differ at every offset, so a reordering or loss shows.
func pattern(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) } }

/// A small Python TLS echo server: `python3 -c ... CERT KEY [VERSION]`; prints its port.
let pythonEchoServer = #"""
import socket, ssl, sys, threading
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
if len(sys.argv) > 3: ctx.maximum_version = ctx.minimum_version = getattr(ssl.TLSVersion, sys.argv[3])
listener = socket.create_server(("127.0.0.1", 0))
print("port:", listener.getsockname()[1], flush=True)
def serve(raw):
    with ctx.wrap_socket(raw, server_side=True) as conn:
        while True:
            data = conn.recv(65536)
            if not data: break
            conn.sendall(data)
        conn.unwrap()
while True:
    raw, _ = listener.accept()
    threading.Thread(target=serve, args=(raw,), daemon=True).start()
"""#

/// A peer program that did not start as expected.
struct PeerError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

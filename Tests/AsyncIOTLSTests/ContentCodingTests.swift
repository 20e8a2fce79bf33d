import AsyncIO
import AsyncIOHTTP
import AsyncIOTesting
import Testing

/// A Python http.server that answers in content codings, for ``ContentCodingTests``: the body of each
/// path is ("AsyncIO decodes <coding>. " × 200), compressed as the path says.
private let codingServer = #"""
import gzip, http.server, sys, zlib

BROTLI = bytes.fromhex(sys.argv[1])

def body(name):
    return (("AsyncIO decodes %s. " % name) * 200).encode()

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def do_GET(self):
        coding, payload = "identity", self.headers.get("Accept-Encoding", "").encode()
        if self.path == "/gzip":
            coding, payload = "gzip", gzip.compress(body("gzip"))
        elif self.path == "/deflate":
            coding, payload = "deflate", zlib.compress(body("deflate"))
        elif self.path == "/raw-deflate":
            c = zlib.compressobj(wbits=-15)
            coding, payload = "deflate", c.compress(body("raw deflate")) + c.flush()
        elif self.path == "/br":
            coding, payload = "br", BROTLI
        elif self.path == "/bomb":
            # 16 MiB of zeros in about 16 KiB of gzip.
            c = zlib.compressobj(9, zlib.DEFLATED, 31)
            payload = c.compress(bytes(16 * 1024 * 1024)) + c.flush()
            coding = "gzip"
        elif self.path == "/corrupt":
            coding, payload = "gzip", gzip.compress(body("x"))[:10] + b"this is not deflate data" * 4
        elif self.path == "/truncated":
            whole = gzip.compress(body("truncated"))
            coding, payload = "gzip", whole[: len(whole) // 2]
        elif self.path == "/unknown":
            coding, payload = "compress", b"whatever"
        self.send_response(200)
        if coding != "identity":
            self.send_header("Content-Encoding", coding)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""#

/// "AsyncIO decodes brotli. " × 200, compressed by Python's `brotli` module (a fixed test vector: the
/// test machines have libbrotli but not the Python module).
private let brotliVector = "1bbf12f88dd44ef5d316d293a5fa90842e2a1582cdd8504f7971619c60310500be6d021e361e07ddf94a02"

/// The client asks for gzip, deflate and br and decodes them as they arrive (issue 14), against a real
/// server's encoders; the decoded size is bounded like every body.
@Suite(.timeLimit(.minutes(2)))
struct ContentCodingTests {
    private func text(_ coding: String) -> String { String(repeating: "AsyncIO decodes \(coding). ", count: 200) }

    @Test func decodesGzipDeflateRawDeflateAndBrotliFromARealServer() async throws {
        try await withTestLoop(virtualTime: false) { _ in
            let (peer, port) = try await Peer.python(codingServer, [brotliVector])
            try await withHTTPClient { client in
                for (path, coding) in [("gzip", "gzip"), ("deflate", "deflate"), ("raw-deflate", "raw deflate"), ("br", "brotli")] {
                    let response = try await client.get("http://127.0.0.1:\(port)/\(path)")
                    let body = try await response.body.collect()
                    #expect(String(decoding: body, as: UTF8.self) == text(coding), "\(path)")
                }
                // What the client asked for.
                let asked = try await client.get("http://127.0.0.1:\(port)/echo").body.collect()
                #expect(String(decoding: asked, as: UTF8.self) == "gzip, deflate, br")
            }
            await peer.stop()
        }
    }

    @Test func aCompressionBombStopsAtTheLimit() async throws {
        try await withTestLoop(virtualTime: false) { _ in
            let (peer, port) = try await Peer.python(codingServer, [brotliVector])
            try await withHTTPClient { client in
                let response = try await client.get("http://127.0.0.1:\(port)/bomb")
                let error = await #expect(throws: HTTPClientError.self) {
                    _ = try await response.body.collect(upTo: 4 * 1024 * 1024)
                }
                #expect(error?.code == .bodyTooLarge)
                // Streamed, no piece is larger than 64 KiB however far the data inflates.
                var largest = 0, total = 0
                for try await piece in try await client.get("http://127.0.0.1:\(port)/bomb").body {
                    largest = max(largest, piece.count)
                    total += piece.count
                }
                #expect(largest <= 64 * 1024)
                #expect(total == 16 * 1024 * 1024)
            }
            await peer.stop()
        }
    }

    @Test func corruptTruncatedAndUnknownCodingsAreClearErrors() async throws {
        try await withTestLoop(virtualTime: false) { _ in
            let (peer, port) = try await Peer.python(codingServer, [brotliVector])
            try await withHTTPClient { client in
                for path in ["corrupt", "truncated", "unknown"] {
                    let error = await #expect(throws: HTTPClientError.self, "\(path)") {
                        _ = try await client.get("http://127.0.0.1:\(port)/\(path)").body.collect()
                    }
                    #expect(error?.code == .badContentEncoding, "\(path)")
                    if path == "truncated" { #expect(error?.detail.contains("cut short") == true) }
                    if path == "unknown" { #expect(error?.detail.contains("compress") == true) }
                }
                // Without decompression the bytes come as they are, and nothing is asked for.
                var configuration = HTTPClient.Configuration()
                configuration.decompressesResponses = false
                let raw = try HTTPClient(configuration: configuration)
                let asked = try await raw.get("http://127.0.0.1:\(port)/echo").body.collect()
                #expect(asked.isEmpty)
                let gzipped = try await raw.get("http://127.0.0.1:\(port)/gzip").body.collect()
                #expect(Array(gzipped.prefix(2)) == [0x1F, 0x8B])
                raw.shutdown()
            }
            await peer.stop()
        }
    }

    @Test func compressRoundTripsThroughTheDecoder() async throws {
        let original = Array(text("round trip").utf8)
        for coding in [HTTPContentCoding.gzip, .deflate] {
            let compressed = try coding.compress(original)
            #expect(compressed.count < original.count / 4)
            // Python's zlib reads what we write.
            let script = coding == .gzip
                ? "import gzip,sys; sys.stdout.write(gzip.decompress(sys.stdin.buffer.read()).decode())"
                : "import zlib,sys; sys.stdout.write(zlib.decompress(sys.stdin.buffer.read()).decode())"
            let decoded = try await withTestLoop(virtualTime: false) { _ in
                let child = try ChildProcess.spawn("python3", arguments: ["-c", script], stdin: .pipe, stdout: .pipe)
                return try await child.communicate(input: compressed).stdout
            }
            #expect(decoded == original)
        }
        #expect(throws: HTTPContentCodingError.self) { try HTTPContentCoding.brotli.compress(original) }
    }
}

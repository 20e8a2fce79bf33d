import AsyncIO
import AsyncIOHTTP
import HTTPTypes

// The context doc fragments may use, besides `loop`, `reader` and `writer` (the parameters of each
// snippet's `body`): the placeholders the docs name for "your code here".

/// Stands for the shared state a lock protects in the `Lock` example.
func updateSharedState() async throws {}

/// Stands for a job's work in the `Queue` example.
func process<Job>(_ job: Job) {}

/// The shared queue of the `Condition` example, and what consumes its items.
nonisolated(unsafe) var queue: [Int] = [1]
func consume(_ item: Int) {}

/// The pages of the `asCompleted` example.
struct Page: Sendable { let title: String }
let urls: [String] = ["http://127.0.0.1/"]
func fetch(_ url: String) async throws -> Page { Page(title: url) }

/// The two fetches of the `gather` example.
func fetchUser() async throws -> String { "user" }
func fetchPosts() async throws -> [String] { [] }

/// The blocking work of the `ThreadPool` example.
let path = "/etc/hostname"
func readWholeFile(_ path: String) throws -> [UInt8] { [] }

/// The chunks a streamed body produces in the `HTTPBody` example.
let chunks: [[UInt8]] = [Array("hello".utf8)]

/// The bytes the `HTTPParser` example parses.
nonisolated(unsafe) let bytes = UnsafeRawBufferPointer(start: nil, count: 0)

/// The stream type of your own in the `ByteStreamConformance` example: here, the in-memory pair.
enum MyStream {
    static func pair(on loop: EventLoop) async throws -> (any ByteStream, any ByteStream) { MemoryStream.pair(on: loop) }
}

/// The running downloads of the `wait` example.
nonisolated(unsafe) let downloads: [Task<Page, any Error>] = []

/// The request a handler fragment reads (the `HTTPMultipartReader` example).
let request = HTTPServerRequest(head: HTTPRequest(method: .post, scheme: nil, authority: "example.com", path: "/upload"))

/// The router and client doc fragments add to and call (the WebSocket examples).
nonisolated(unsafe) var router = HTTPRouter()
var client: HTTPClient { get throws { try HTTPClient.shared } }

/// The connection the `WebSocket` fragments use (compiled, never run).
var ws: WebSocket { get throws { throw WebSocketError(.closed, "a placeholder for the docs") } }

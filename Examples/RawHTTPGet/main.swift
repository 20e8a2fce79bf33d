// Tutorial 5: a raw HTTP/1.0 GET over openConnection, the way the asyncio tutorial talks to
// `python -m http.server`.
//
//     swift run RawHTTPGet HOST PORT [PATH]
import AsyncIO
import AsyncIOSystem

let arguments = CommandLine.arguments
guard arguments.count >= 3, let port = UInt16(arguments[2]) else {
    StandardStreams.printError("usage: RawHTTPGet HOST PORT [PATH]")
    exitImmediately(2)
}
let host = arguments[1]
let path = arguments.count > 3 ? arguments[3] : "/"

try EventLoop.run {
    let (reader, writer) = try await openConnection(host: host, port: port)
    try await writer.write("GET \(path) HTTP/1.0\r\nHost: \(host)\r\n\r\n")
    // The status line and headers, up to the blank line.
    while true {
        let line = String(decoding: try await reader.readLine(), as: UTF8.self)
        if line == "\r\n" || line.isEmpty { break }
        print("header:", line.trimmingSuffix("\r\n"))
    }
    // HTTP/1.0: the body runs to the end of the connection.
    let body = try await reader.readToEnd(limit: 16 * 1024 * 1024)
    print("body: \(body.count) bytes")
    await writer.close()
}

extension String {
    /// The string without `suffix` at its end. ("\r\n" is one Character in Swift, so count in UTF-8.)
    func trimmingSuffix(_ suffix: String) -> Substring {
        guard hasSuffix(suffix) else { return self[...] }
        return self[..<utf8.index(endIndex, offsetBy: -suffix.utf8.count)]
    }
}

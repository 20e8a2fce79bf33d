// Tutorial 11: fetch 10 pages concurrently and print their title lengths (aiohttp + gather).
//
//     swift run FetchTitles BASE_URL      # e.g. http://127.0.0.1:8080 from `aio serve`
import AsyncIO
import AsyncIOHTTP
import AsyncIOSystem

let base = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "http://127.0.0.1:8080"
let paths = ["/", "/html", "/get", "/json", "/headers", "/ip", "/user-agent", "/anything", "/delay/0.2", "/redirect/2"]

/// The text of `<title>…</title>`, if the page has one.
func title(of page: String) -> String? {
    guard let open = page.firstRange(of: "<title>"), let close = page.firstRange(of: "</title>"),
        open.upperBound <= close.lowerBound else { return nil }
    return String(page[open.upperBound..<close.lowerBound])
}

try EventLoop.run { loop in
    let start = loop.now
    let results = try await withHTTPClient { client in
        try await withThrowingTaskGroup(of: (String, Int?, Int).self) { group in
            for path in paths {
                group.addTask(executorPreference: loop) {
                    let response = try await client.get(base + path)
                    let page = String(decoding: try await response.body.collect(), as: UTF8.self)
                    return (path, title(of: page)?.count, response.status.code)
                }
            }
            var all: [String: (Int?, Int)] = [:]
            for try await (path, length, status) in group { all[path] = (length, status) }
            return all
        }
    }
    for path in paths {
        let (length, status) = results[path]!
        print("\(path): status \(status), title length \(length.map(String.init) ?? "none")")
    }
    // The slowest page takes 0.2 s; one after the other, the ten would take longer than all together.
    print("fetched \(paths.count) pages concurrently in \(start.duration(to: loop.now) < .seconds(2) ? "under two seconds" : "over two seconds")")
}

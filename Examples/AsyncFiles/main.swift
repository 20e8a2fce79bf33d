// Tutorial 7: async file read and write (aiofiles), on the offload threads so the loop never blocks.
//
//     swift run AsyncFiles [path]
import AsyncIO

let path = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "/tmp/asyncio-example-\(UInt32.random(in: 0...UInt32.max)).txt"

try EventLoop.run {
    // Write three lines, then append a fourth.
    let file = try await File.open(path, mode: .write)
    for number in 1...3 { try await file.write("line \(number)\n") }
    try await file.close()
    let appender = try await File.open(path, mode: .append)
    try await appender.write("line 4 (appended)\n")
    try await appender.close()

    // Read it back, line by line and whole.
    let reader = try await File.open(path, mode: .read)
    for try await line in reader.lines() { print("read:", line, terminator: "") }
    try await reader.close()
    let whole = try await File.open(path, mode: .read)
    print("size:", try await whole.readAll(limit: 1 << 20).count, "bytes")
    try await whole.close()
    try await File.remove(path)
}

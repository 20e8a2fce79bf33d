import AsyncIO
nonisolated func go() throws -> Int {
    try EventLoop.run { 42 }
}
print("got", try go())

@testable import AsyncIO
import Testing

@Suite struct ByteBufferTests {
    @Test func allocatesNothingUntilTheFirstWrite() {
        var buffer = ByteBuffer()
        let empty = buffer.capacity
        #expect(empty == 0)
        let none = buffer.read(upTo: 10)
        #expect(none.isEmpty)
        let missing = buffer.firstIndex(of: [1])
        #expect(missing == nil)
        ([1, 2, 3] as [UInt8]).withUnsafeBytes { buffer.append($0) }
        let grown = buffer.capacity
        #expect(grown >= 3)
        let all = buffer.read(upTo: 10)
        #expect(all == [1, 2, 3])
    }

    @Test func appendsConsumesCompactsAndGrows() {
        var buffer = ByteBuffer(initialCapacity: 8)
        for round in 0..<100 {
            let bytes = (0..<UInt8(round % 13 + 1)).map { $0 &+ UInt8(round) }
            bytes.withUnsafeBytes { buffer.append($0) }
            let back = buffer.read(upTo: bytes.count)
            #expect(back == bytes)
        }
        let big = [UInt8](repeating: 9, count: 10_000)
        big.withUnsafeBytes { buffer.append($0) }
        let count = buffer.count
        #expect(count == 10_000)
        buffer.consume(9_999)
        let last = buffer.read(upTo: 5)
        #expect(last == [9])
        let isEmpty = buffer.isEmpty
        #expect(isEmpty)
        buffer.shrink(to: 1024)
        let shrunk = buffer.capacity
        #expect(shrunk == 0)
    }

    @Test func findsSeparatorsAcrossTheReadableRange() {
        var buffer = ByteBuffer(initialCapacity: 4)
        Array("ab\r\ncd\r\n".utf8).withUnsafeBytes { buffer.append($0) }
        let first = buffer.firstIndex(of: Array("\r\n".utf8))
        let second = buffer.firstIndex(of: Array("\r\n".utf8), from: 3)
        #expect(first == 2)
        #expect(second == 6)
        buffer.consume(4)
        let afterConsume = buffer.firstIndex(of: Array("\r\n".utf8))
        let absent = buffer.firstIndex(of: Array("xyz".utf8))
        #expect(afterConsume == 2)
        #expect(absent == nil)
    }
}

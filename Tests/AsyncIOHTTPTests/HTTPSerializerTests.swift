@testable import AsyncIOHTTP
import HTTPTypes
import Testing

@Suite("HTTP serializer")
struct HTTPSerializerTests {
    @Test func requestRoundTripsThroughTheParser() {
        var request = HTTPRequest(method: .post, scheme: nil, authority: "example.com:8080", path: "/upload?x=1")
        request.headerFields[.contentType] = "text/plain"
        request.headerFields[.transferEncoding] = "chunked"
        request.headerFields.append(HTTPField(name: HTTPField.Name("X-Repeated")!, value: "a"))
        request.headerFields.append(HTTPField(name: HTTPField.Name("X-Repeated")!, value: "b"))
        var bytes: [UInt8] = []
        HTTPSerializer.writeRequestHead(request, into: &bytes)
        for chunk in ["hello", " ", "world"] {
            HTTPSerializer.writeChunkHeader(count: chunk.utf8.count, into: &bytes)
            bytes += chunk.utf8
            HTTPSerializer.writeChunkEnd(into: &bytes)
        }
        var trailers = HTTPFields()
        trailers[HTTPField.Name("X-Sum")!] = "42"
        HTTPSerializer.writeLastChunk(trailers: trailers, into: &bytes)

        let outcome = parse(.request, bytes)
        #expect(outcome.error == nil)
        #expect(outcome.messages.count == 1)
        #expect(outcome.messages.first?.head
            == "POST - example.com:8080 /upload?x=1 HTTP/1.1 chunked ka=true continue=false "
            + "[content-type=text/plain,transfer-encoding=chunked,x-repeated=a,x-repeated=b]")
        #expect(outcome.messages.first?.body == Array("hello world".utf8))
        #expect(outcome.messages.first?.trailers == ["x-sum=42"])
    }

    @Test func responseRoundTripsThroughTheParser() {
        for (status, version) in [(HTTPResponse.Status.ok, HTTPVersion.http1_1), (.notFound, .http1_0), (.init(code: 599), .http1_1)] {
            var response = HTTPResponse(status: status)
            response.headerFields[.contentLength] = "3"
            var bytes: [UInt8] = []
            HTTPSerializer.writeResponseHead(response, version: version, into: &bytes)
            bytes += "abc".utf8
            let outcome = parse(.response, bytes)
            #expect(outcome.error == nil)
            #expect(outcome.messages.first?.head.hasPrefix("\(status.code) \(status.reasonPhrase) \(version) length(3)") == true)
            #expect(outcome.messages.first?.body == Array("abc".utf8))
        }
    }

    @Test func chunkSizeLinesAreLowercaseHex() {
        for (count, text) in [(1, "1"), (15, "f"), (16, "10"), (255, "ff"), (4096, "1000"), (65_535, "ffff"), (1 << 40, "10000000000")] {
            var bytes: [UInt8] = []
            HTTPSerializer.writeChunkHeader(count: count, into: &bytes)
            #expect(bytes == Array("\(text)\r\n".utf8), "\(count)")
        }
    }

    @Test func bodilessResponses() {
        #expect(!HTTPSerializer.responseHasBody(status: 200, requestMethod: .head))
        #expect(!HTTPSerializer.responseHasBody(status: 204, requestMethod: .get))
        #expect(!HTTPSerializer.responseHasBody(status: 304, requestMethod: .get))
        #expect(!HTTPSerializer.responseHasBody(status: 101, requestMethod: .get))
        #expect(HTTPSerializer.responseHasBody(status: 200, requestMethod: .get))
    }

    @Test func imfFixdate() {
        #expect(HTTPDate.string(secondsSinceEpoch: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.string(secondsSinceEpoch: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.string(secondsSinceEpoch: 951_782_400) == "Tue, 29 Feb 2000 00:00:00 GMT")
        #expect(HTTPDate.string(secondsSinceEpoch: 1_795_305_600) == "Sun, 22 Nov 2026 00:00:00 GMT")
    }

    @Test func theServersDateLineIsWrittenFromItsCache() {
        let dateLine = HTTPDateLine()
        var first: [UInt8] = Array("HTTP/1.1 200 OK\r\n".utf8)
        var second: [UInt8] = []
        dateLine.append(at: 0, into: &first)
        dateLine.append(at: 0, into: &second)  // the same monotonic time: the same line, not formatted again
        let line = String(decoding: first.dropFirst(17), as: UTF8.self)
        #expect(line.hasPrefix("Date: ") && line.hasSuffix(" GMT\r\n"))
        #expect(line.utf8.count == HTTPDateLine.capacity)
        #expect(Array(first.dropFirst(17)) == second)
    }

    @Test func theDateLineIsFormattedOnceASecondOfTheWallClock() {
        var cache = HTTPDateLineCache()
        var reads = 0
        // 08:49:37.9 on the wall clock at 5 s of the monotonic one: the line holds until 5.1 s.
        var wall: (seconds: Int64, nanoseconds: Int64, monotonic: Int64) = (784_111_777, 900_000_000, 5_000_000_000)
        func line(at monotonic: Int64) -> String {
            String(decoding: cache.line(at: monotonic) { reads += 1; return wall }, as: UTF8.self)
        }
        #expect(line(at: 5_000_000_000) == "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n")
        #expect(line(at: 5_099_999_999) == "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n")
        #expect(reads == 1)
        wall = (784_111_778, 0, 5_100_000_000)
        #expect(line(at: 5_100_000_000) == "Date: Sun, 06 Nov 1994 08:49:38 GMT\r\n")
        #expect(reads == 2)
        // The wall clock steps back 78 s at 5.5 s; the line shows it once its second is over.
        wall = (784_111_700, 600_000_000, 6_100_000_000)
        #expect(line(at: 6_000_000_000) == "Date: Sun, 06 Nov 1994 08:49:38 GMT\r\n")
        #expect(reads == 2)
        #expect(line(at: 6_100_000_000) == "Date: Sun, 06 Nov 1994 08:48:20 GMT\r\n")
        #expect(reads == 3)
        // From its own second's fraction: good until 6.5 s now.
        #expect(line(at: 6_499_999_999) == "Date: Sun, 06 Nov 1994 08:48:20 GMT\r\n")
        #expect(reads == 3)
        wall = (784_111_701, 0, 6_500_000_000)
        #expect(line(at: 6_500_000_000) == "Date: Sun, 06 Nov 1994 08:48:21 GMT\r\n")
        #expect(reads == 4)
    }

    /// Decimal lengths as `String(_:)` writes them: every value to past the four-digit fast path, and
    /// the powers of ten and their neighbours up to `Int.max`, into an array and into a head buffer.
    @Test func decimalsAreWrittenAsStringWritesThem() {
        var values = Array(0...10_100)
        var power = 10
        while power <= Int.max / 10 {
            values += [power - 1, power, power + 1, power * 7 + 3]
            power *= 10
        }
        values += [Int.max - 1, Int.max]
        for value in values {
            var array: [UInt8] = []
            array.appendDecimal(value)
            #expect(String(decoding: array, as: UTF8.self) == String(value), "\(value)")
            var context = value
            let viaHead = HTTPHeadBuffer.with(capacity: 32, &context) { buffer, value in
                buffer.appendDecimal(value)
                return Array(buffer.written)
            }
            #expect(viaHead == array, "\(value)")
        }
    }
}

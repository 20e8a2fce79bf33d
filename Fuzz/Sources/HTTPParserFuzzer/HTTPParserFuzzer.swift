import AsyncIOHTTP
import HTTPTypes

/// libFuzzer's driver, called from our own entry point: SwiftPM links an executable's `main` to
/// `<module>_main`, so libFuzzer's `main` is never pulled in.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

@_cdecl("HTTPParserFuzzer_main")
func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        fuzz(data ?? UnsafePointer(bitPattern: 1)!, size)
    }
}

/// libFuzzer entry point: parses the input as a request stream and as a response stream, whole and
/// cut in two at a point chosen by the input's first byte, and checks that both ways agree.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let cut = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
    let limits = HTTPParser.Limits(maxStartLineLength: 512, maxHeaderSectionSize: 1024, maxFieldCount: 32, maxBodySize: 4096)
    for kind in [HTTPParser.Kind.request, .response] {
        let whole = run(kind, bytes, cuts: [], limits: limits)
        let split = run(kind, bytes, cuts: [cut], limits: limits)
        precondition(whole == split, "cutting the input at \(cut) changed the outcome:\n\(whole)\n\(split)")
    }
    return 0
}

/// Feeds the bytes in pieces, the way a connection does, and summarises what the parser reported.
private func run(_ kind: HTTPParser.Kind, _ bytes: [UInt8], cuts: [Int], limits: HTTPParser.Limits) -> String {
    var parser = HTTPParser(kind, limits: limits)
    var pending: [UInt8] = []
    var summary = ""
    var body: [UInt8] = []
    var start = 0
    for end in cuts + [bytes.count] where end >= start {
        pending += bytes[start..<end]
        start = end
        do {
            while true {
                let event: HTTPParser.Event? = try pending.withUnsafeBytes { buffer in
                    let (consumed, event) = try parser.parse(buffer)
                    precondition(consumed <= buffer.count, "consumed more than it was given")
                    if let event {
                        switch event {
                        case .requestHead(let head): summary += "H\(head.request.method) \(head.request.path ?? "-") \(head.framing);"
                        case .responseHead(let head): summary += "R\(head.response.status.code) \(head.framing);"
                        case .body(let range):
                            precondition(range.upperBound <= consumed, "a body range outside the consumed bytes")
                            body += buffer[range]  // how a body is sliced depends on the cuts: compare it whole
                        case .end(let trailers):
                            summary += "B\(body.count):\(body.hashValue);E\(trailers.count);"
                            body = []
                        }
                    }
                    pending.removeFirst(consumed)
                    return event
                }
                if event == nil { break }
            }
        } catch {
            return summary + "B\(body.count);X\((error as! HTTPParseError).reason)"
        }
    }
    do { if try parser.finish() != nil { summary += "B\(body.count):\(body.hashValue);E0;" } } catch {
        summary += "B\(body.count);X\(error.reason)"
    }
    return summary
}

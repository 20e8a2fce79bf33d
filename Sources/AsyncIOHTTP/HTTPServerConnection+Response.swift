import AsyncIO
import HTTPTypes
import Logging

extension HTTPServerConnection {
    // MARK: - Responses

    /// Writes `response`; returns whether the connection stays open.
    ///
    /// The head is built by a synchronous function and a streamed body is written by another async
    /// one: their temporaries live on the thread's stack or in a frame that exists only meanwhile,
    /// not in this frame (the task allocator keeps the slabs of a connection's deepest frame chain
    /// for the connection's whole life).
    func write(_ response: HTTPServerResponse, to head: HTTPRequestHead, keepAlive: Bool) async throws -> Bool {
        let (message, chunked, hasBody, keepAlive) = serializeHead(response, to: head, keepAlive: keepAlive)
        bytesSent &+= message.count
        switch response.body.storage {
        case .bytes(let bytes):
            if hasBody && bytes.count > 64 * 1024 {
                try await writer.write(message)
                try await writer.write(bytes)
                bytesSent &+= bytes.count
            } else {
                try await writer.write(message)  // the body, if any, is in it: one send
            }
            return keepAlive
        case .stream(let declared, let produce):
            try await writer.write(message)
            if hasBody {
                return try await writeStreamedBody(produce, chunked: chunked, declaredLength: declared) && keepAlive
            }
            return keepAlive
        }
    }

    /// The head's bytes (with a body of up to 64 KiB in memory after it), whether the body is chunked,
    /// whether there is one, and whether the connection stays open.
    @inline(never)
    private func serializeHead(
        _ response: HTTPServerResponse, to head: HTTPRequestHead, keepAlive: Bool
    ) -> (message: [UInt8], chunked: Bool, hasBody: Bool, keepAlive: Bool) {
        var keepAlive = keepAlive
        if let connection = response.head.headerFields[.connection], connection.lowercased().contains("close") {
            keepAlive = false
        }
        let responseStatus = response.head.status  // parsed from its pseudo field on every read: once
        let status = responseStatus.code
        let hasBody = HTTPSerializer.responseHasBody(status: status, requestMethod: head.request.method)
        let mayDeclareLength = !(100..<200).contains(status) && status != 204 && status != 304
        var chunked = false
        var length = response.body.length
        if length == nil && hasBody {
            if head.version == .http1_1 { chunked = true } else { keepAlive = false }
        }
        if !mayDeclareLength { length = nil }

        // A fresh buffer per response, not one kept per connection: an idle connection holds none.
        var scratch: [UInt8] = []
        scratch.reserveCapacity(256)
        HTTPSerializer.writeResponseLine(responseStatus, version: .http1_1, into: &scratch)
        let fields = response.head.headerFields
        HTTPSerializer.appendFields(fields, skippingFraming: true, into: &scratch)
        let headDeclared = head.request.method == .head && length == 0 ? fields[.contentLength] : nil
        if let declared = headDeclared {
            // A HEAD answer may state the length the GET body would have.
            scratch.append(contentsOf: "Content-Length: ".utf8)
            scratch.append(contentsOf: declared.utf8)
            scratch.append(contentsOf: [CR, LF])
            HTTPSerializer.appendFraming(contentLength: nil, chunked: chunked && hasBody, into: &scratch)
        } else {
            HTTPSerializer.appendFraming(contentLength: length, chunked: chunked && hasBody, into: &scratch)
        }
        scratch.append(contentsOf: server.dateLine(loop: loop))
        if status == 101, let connection = fields[.connection] {
            scratch.append(contentsOf: "Connection: ".utf8)  // "Upgrade", from the protocol switched to
            scratch.append(contentsOf: connection.utf8)
            scratch.append(contentsOf: [CR, LF])
        } else if !keepAlive {
            scratch.append(contentsOf: "Connection: close\r\n".utf8)
        } else if head.version == .http1_0 {
            scratch.append(contentsOf: "Connection: keep-alive\r\n".utf8)
        }
        scratch.append(contentsOf: [CR, LF])
        if hasBody, case .bytes(let bytes) = response.body.storage, bytes.count <= 64 * 1024 {
            scratch.append(contentsOf: bytes)  // head and body in one send
        }
        return (scratch, chunked, hasBody, keepAlive)
    }

    /// Runs a streamed body's producer; false when the body was cut short (the connection must close).
    @inline(never)
    private func writeStreamedBody(
        _ produce: @Sendable (HTTPBodyWriter) async throws -> Void, chunked: Bool, declaredLength: Int?
    ) async throws -> Bool {
        let bodyWriter = HTTPBodyWriter(writer: writer, chunked: chunked, declaredLength: declaredLength)
        do {
            try await produce(bodyWriter)
            try await bodyWriter.finish()
            bytesSent &+= bodyWriter.bytesWritten
            return true
        } catch {
            // The head is out: the only way to tell the client the body is cut short.
            reportBodyFailure(error)
            writer.abort()
            return false
        }
    }

    private func reportBodyFailure(_ error: any Error) {
        if let stream = error as? StreamError, stream.code == .broken || stream.code == .closed {
            // The client went away mid-body: routine, not a server error.
            server.logger.debug("client left during the response body", metadata: ["error": "\(error)"])
        } else if !(error is CancellationError) {
            server.logger.error("response body failed", metadata: ["error": "\(error)"])
        }
    }

    func respondToParseError(_ error: HTTPParseError) async {
        guard !writer.isClosed else { return }
        server.logger.debug("bad request", metadata: ["error": "\(error)"])
        guard error.kind != .incomplete else { return }
        var head = HTTPResponse(status: .init(code: error.status))
        head.headerFields[.contentType] = "text/plain; charset=utf-8"
        let fake = HTTPRequestHead(
            request: HTTPRequest(method: .get, scheme: nil, authority: nil, path: "/"),
            version: .http1_1, framing: .none, keepAlive: false, expectsContinue: false)
        _ = try? await write(HTTPServerResponse(head, body: HTTPBody("\(error.reason)\n")), to: fake, keepAlive: false)
    }
}

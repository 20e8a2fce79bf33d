import AsyncIO
import HTTPTypes

/// One part of a `multipart/form-data` request body (RFC 7578).
public enum HTTPMultipartPart: Sendable {
    /// A text field.
    case field(name: String, value: String)
    /// A file's bytes, already in memory.
    case data(name: String, filename: String, contentType: String = "application/octet-stream", content: [UInt8])
    /// A file on disk, streamed as the body is sent (never read whole into memory).
    case file(name: String, path: String, filename: String? = nil, contentType: String = "application/octet-stream")
}

extension HTTPBody {
    /// An `application/x-www-form-urlencoded` body of `fields` (names and values percent-encoded, a
    /// space as `+`).
    public static func form(_ fields: [(name: String, value: String)]) -> HTTPBody {
        HTTPBody(fields.map { "\(formEncode($0.name))=\(formEncode($0.value))" }.joined(separator: "&"))
    }

    static func formEncode(_ text: String) -> String {
        PercentEncoding.encode(text).replacing("%20", with: "+")
    }

    /// A streamed `multipart/form-data` body of `parts` separated by `boundary` (files are read from
    /// disk as the body goes out, 64 KiB at a time).
    public static func multipart(_ parts: [HTTPMultipartPart], boundary: String) -> HTTPBody {
        .stream { writer in
            for part in parts {
                var head = "--\(boundary)\r\n"
                switch part {
                case .field(let name, let value):
                    head += "Content-Disposition: form-data; name=\"\(quoted(name))\"\r\n\r\n"
                    try await writer.write(head + value + "\r\n")
                case .data(let name, let filename, let contentType, let content):
                    head += "Content-Disposition: form-data; name=\"\(quoted(name))\"; filename=\"\(quoted(filename))\"\r\n"
                        + "Content-Type: \(contentType)\r\n\r\n"
                    try await writer.write(head)
                    try await writer.write(content)
                    try await writer.write("\r\n")
                case .file(let name, let path, let filename, let contentType):
                    let shown = filename ?? String(path.split(separator: "/").last ?? "file")
                    head += "Content-Disposition: form-data; name=\"\(quoted(name))\"; filename=\"\(quoted(shown))\"\r\n"
                        + "Content-Type: \(contentType)\r\n\r\n"
                    let file = try await File.open(path)
                    do {
                        try await writer.write(head)
                        while true {
                            let chunk = try await file.read(upTo: 64 * 1024)
                            if chunk.isEmpty { break }
                            try await writer.write(chunk)
                        }
                        try await writer.write("\r\n")
                    } catch {
                        try? await file.close()
                        throw error
                    }
                    try await file.close()
                }
            }
            try await writer.write("--\(boundary)--\r\n")
        }
    }

    /// A name or filename inside a quoted parameter: `"`, CR and LF percent-encoded (as browsers do).
    private static func quoted(_ text: String) -> String {
        text.replacing("\"", with: "%22").replacing("\r", with: "%0D").replacing("\n", with: "%0A")
    }
}

extension HTTPClient {
    /// `POST url` with `fields` as an urlencoded form (aiohttp's `data={...}`).
    ///
    /// ### Cancellation
    /// As ``request(_:_:query:headerFields:body:timeouts:)``.
    public func post(
        _ url: String, form fields: [(name: String, value: String)], headerFields: HTTPFields = [:], timeouts: Timeouts? = nil
    ) async throws -> HTTPClientResponse {
        var fieldsToSend = headerFields
        if fieldsToSend[.contentType] == nil { fieldsToSend[.contentType] = "application/x-www-form-urlencoded" }
        return try await request(.post, url, headerFields: fieldsToSend, body: .form(fields), timeouts: timeouts)
    }

    /// `POST url` with `parts` as a streamed `multipart/form-data` body (aiohttp's `FormData`); files
    /// are read from disk as the body goes out.
    ///
    /// - Throws: What ``request(_:_:query:headerFields:body:timeouts:)`` throws; the file's error if one
    ///   cannot be opened or read (the request is then cut short).
    ///
    /// ### Cancellation
    /// As ``request(_:_:query:headerFields:body:timeouts:)``.
    public func post(
        _ url: String, multipart parts: [HTTPMultipartPart], headerFields: HTTPFields = [:], timeouts: Timeouts? = nil
    ) async throws -> HTTPClientResponse {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        let boundary = "aio-" + String((0..<24).map { _ in alphabet.randomElement()! })
        var fieldsToSend = headerFields
        fieldsToSend[.contentType] = "multipart/form-data; boundary=\(boundary)"
        return try await request(.post, url, headerFields: fieldsToSend, body: .multipart(parts, boundary: boundary),
                                 timeouts: timeouts)
    }
}

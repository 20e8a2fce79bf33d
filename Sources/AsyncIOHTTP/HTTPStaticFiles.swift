import AsyncIO
import AsyncIOSystem
import HTTPTypes

/// Serves the regular files under a directory (aiohttp's `add_static`): `Content-Type` by extension,
/// `Last-Modified` and `ETag`, conditional requests (`304`), single byte ranges (`206`, `416`), and
/// files sent by the kernel (`sendfile(2)`) over plain TCP or read in pieces over TLS, never read whole into memory.
///
/// A path that is not a regular file inside the directory gets ``HTTPRouter/notFound``: any `..` or
/// `.` segment, raw or percent-encoded, even one that would stay inside; an encoded `/` or NUL; a
/// symbolic link that leads out of the directory (one that stays inside is followed); a directory.
///
/// ```swift
/// var router = HTTPRouter()
/// router.serveFiles(at: "/static", from: "/srv/www")
/// ```
extension HTTPRouter {
    /// Serves the files under `directory` at `prefix` (`/static/css/site.css` → `directory/css/site.css`).
    public mutating func serveFiles(at prefix: String, from directory: String) {
        precondition(prefix.hasPrefix("/") && !prefix.hasSuffix("/"), "a prefix starts with / and does not end with one")
        let notFound = self.notFound
        let serve: HTTPServer.Handler = { request in
            let rest = request.path.dropFirst(prefix.count)
            guard let response = try await HTTPStaticFiles.respond(to: request, relativePath: rest, root: directory) else {
                return try await notFound(request)
            }
            return response
        }
        add(.get, prefix + "/*path", serve)
    }
}

/// The static file responder behind ``HTTPRouter/serveFiles(at:from:)``.
enum HTTPStaticFiles {
    /// The response for `relativePath` (raw, still percent-encoded, starting with `/`) under `root`, or
    /// nil when it is not a regular file inside `root`.
    static func respond(to request: HTTPServerRequest, relativePath: Substring, root: String) async throws -> HTTPServerResponse? {
        var segments: [String] = []
        for raw in relativePath.split(separator: "/", omittingEmptySubsequences: true) {
            let segment = PercentDecoding.decode(raw)
            if segment == ".." || segment == "." || segment.contains("/") || segment.contains("\0") { return nil }
            segments.append(segment)
        }
        guard !segments.isEmpty else { return nil }
        let canonicalRoot: String, canonical: String
        do {
            canonicalRoot = try await File.realPath(root)
            canonical = try await File.realPath(canonicalRoot + "/" + segments.joined(separator: "/"))
        } catch is FileError {
            return nil
        }
        guard canonical.hasPrefix(canonicalRoot == "/" ? "/" : canonicalRoot + "/") else { return nil }
        let file: File
        do { file = try await File.open(canonical) } catch is FileError { return nil }
        let status = try await file.status()
        guard status.isRegularFile else {
            try? await file.close()
            return nil
        }
        let eTag = "\"\(String(status.inode, radix: 16))-\(String(status.size, radix: 16))-\(String(status.modifiedSeconds, radix: 16))\""
        var fields: HTTPFields = [
            .contentType: contentType(forPath: canonical), .lastModified: HTTPDate.string(secondsSinceEpoch: status.modifiedSeconds),
            .eTag: eTag, .acceptRanges: "bytes",
        ]
        if isNotModified(request, eTag: eTag, modified: status.modifiedSeconds) {
            try? await file.close()
            fields[.contentType] = nil
            return HTTPServerResponse(status: .notModified, headerFields: fields)
        }
        var slice = 0..<status.size
        var code = HTTPResponse.Status.ok
        if let range = request.head.headerFields[.range] {
            switch HTTPByteRange(range, length: status.size) {
            case .satisfiable(let bytes):
                slice = bytes.lowerBound..<(bytes.upperBound + 1)
                code = .partialContent
                fields[.contentRange] = "bytes \(bytes.lowerBound)-\(bytes.upperBound)/\(status.size)"
            case .unsatisfiable:
                try? await file.close()
                fields[.contentRange] = "bytes */\(status.size)"
                return HTTPServerResponse(status: .rangeNotSatisfiable, headerFields: fields)
            case .ignored:
                break
            }
        }
        let part = slice
        let body = HTTPBody.stream(length: part.count) { writer in
            do {
                // sendfile(2) over plain TCP; a file that shrank meanwhile fails the response.
                try await writer.writeFile(file, offset: part.lowerBound, count: part.count)
            } catch {
                try? await file.close()
                throw error
            }
            try await file.close()
        }
        return HTTPServerResponse(status: code, headerFields: fields, body: body)
    }

    /// RFC 9110 §13.2.2: `If-None-Match` decides when present; otherwise `If-Modified-Since`.
    static func isNotModified(_ request: HTTPServerRequest, eTag: String, modified: Int64) -> Bool {
        if let ifNoneMatch = request.head.headerFields[.ifNoneMatch] {
            return ifNoneMatch.split(separator: ",").contains { tag in
                let tag = tag.trimmingSpaces
                return tag == "*" || tag == eTag || tag == "W/" + eTag
            }
        }
        if let ifModifiedSince = request.head.headerFields[.ifModifiedSince], let since = HTTPDate.parse(ifModifiedSince) {
            return modified <= since
        }
        return false
    }

    static func contentType(forPath path: String) -> String {
        let name = path.split(separator: "/").last ?? ""
        guard let dot = name.lastIndex(of: ".") else { return "application/octet-stream" }
        return types[name[name.index(after: dot)...].lowercased()] ?? "application/octet-stream"
    }

    static let types: [String: String] = [
        "html": "text/html; charset=utf-8", "htm": "text/html; charset=utf-8", "css": "text/css; charset=utf-8",
        "js": "text/javascript; charset=utf-8", "mjs": "text/javascript; charset=utf-8", "json": "application/json",
        "txt": "text/plain; charset=utf-8", "md": "text/markdown; charset=utf-8", "csv": "text/csv; charset=utf-8",
        "xml": "application/xml", "svg": "image/svg+xml", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
        "gif": "image/gif", "webp": "image/webp", "ico": "image/vnd.microsoft.icon", "avif": "image/avif",
        "woff": "font/woff", "woff2": "font/woff2", "ttf": "font/ttf", "otf": "font/otf", "pdf": "application/pdf",
        "zip": "application/zip", "gz": "application/gzip", "tar": "application/x-tar", "wasm": "application/wasm",
        "mp4": "video/mp4", "webm": "video/webm", "mp3": "audio/mpeg", "ogg": "audio/ogg", "wav": "audio/wav",
    ]
}

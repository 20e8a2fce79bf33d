import AsyncIO
import AsyncIOHTTP
import HTTPTypes

/// `aio serve`'s application endpoints (issue 14): cookies, Basic auth, response headers, ranges,
/// conditional requests, and forms in the echo document, built on AsyncIOHTTP's own helpers.
extension HTTPBin {
    static let applicationEndpoints: [(path: String, description: String)] = [
        ("/cookies", "the request's cookies"),
        ("/cookies/set?name=value", "sets cookies, then redirects to /cookies"),
        ("/cookies/delete?name", "expires cookies, then redirects to /cookies"),
        ("/basic-auth/user/passwd", "200 for those Basic credentials, else 401"),
        ("/response-headers?X-Test=1", "the query as response headers"),
        ("/range/1024", "n bytes that honour Range"),
        ("/cache", "304 when the request is conditional"),
    ]

    static func addApplicationRoutes(to router: inout HTTPRouter) {
        router.get("/cookies") { request in json(.object([("cookies", groupedPairs(request.cookies))])) }
        router.get("/cookies/set") { request in
            var response = HTTPServerResponse(status: .found, headerFields: [.location: "/cookies"])
            for (name, value) in request.queryItems {
                do { try response.setCookie(HTTPCookie(name: name, value: value, path: "/")) } catch {
                    return badRequest("\(error)")
                }
            }
            return response
        }
        router.get("/cookies/delete") { request in
            var response = HTTPServerResponse(status: .found, headerFields: [.location: "/cookies"])
            for (name, _) in request.queryItems {
                do { try response.deleteCookie(name) } catch { return badRequest("\(error)") }
            }
            return response
        }
        router.get("/basic-auth/:user/:passwd") { request in
            let expected = HTTPBasicCredentials(user: request.parameter("user") ?? "", password: request.parameter("passwd") ?? "")
            guard request.basicCredentials == expected else {
                return HTTPServerResponse(status: .unauthorized, headerFields: [.wwwAuthenticate: #"Basic realm="aio""#])
            }
            return json(.object([("authenticated", .bool(true)), ("user", .string(expected.user))]))
        }
        router.get("/response-headers") { request in
            let items = request.queryItems
            var response = json(groupedPairs(items))
            for (name, value) in items {
                guard let fieldName = HTTPField.Name(name),
                      !value.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) else {
                    return badRequest("\"\(name)\" cannot be a response header")
                }
                response.headerFields.append(HTTPField(name: fieldName, value: value))
            }
            return response
        }
        router.get("/range/:count", range)
        router.get("/cache") { request in
            let fields: HTTPFields = [.lastModified: HTTPDate.now(), .eTag: cacheTag]
            if request.head.headerFields[.ifModifiedSince] != nil || request.head.headerFields[.ifNoneMatch] != nil {
                return HTTPServerResponse(status: .notModified, headerFields: fields)
            }
            var response = json(.object(requestFields(request, ["args", "headers", "origin", "url"])))
            response.headerFields.append(contentsOf: fields)
            return response
        }
    }

    static let cacheTag = #""aio-cache""#

    /// `/range/{n}`: `a`…`z` repeating, a single range honoured (CONTRACT.md).
    static let range: HTTPServer.Handler = { request in
        guard let count = Int(request.parameter("count") ?? ""), (0...100 * 1024 * 1024).contains(count) else {
            return badRequest("the byte count must be an integer between 0 and 104857600")
        }
        var fields: HTTPFields = [.contentType: "application/octet-stream", .acceptRanges: "bytes", .eTag: "\"range-\(count)\""]
        var slice = 0..<count
        var status = HTTPResponse.Status.ok
        if let value = request.head.headerFields[.range] {
            switch HTTPByteRange(value, length: count) {
            case .satisfiable(let range):
                slice = range.lowerBound..<(range.upperBound + 1)
                status = .partialContent
                fields[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(count)"
            case .unsatisfiable:
                fields[.contentRange] = "bytes */\(count)"
                return HTTPServerResponse(status: .rangeNotSatisfiable, headerFields: fields)
            case .ignored:
                break
            }
        }
        let part = slice
        let body = HTTPBody.stream(length: part.count) { writer in
            var offset = part.lowerBound
            while offset < part.upperBound {
                let end = min(part.upperBound, offset + 64 * 1024)
                try await writer.write((offset..<end).map { UInt8(ascii: "a") + UInt8($0 % 26) })
                offset = end
            }
        }
        return HTTPServerResponse(status: status, headerFields: fields, body: body)
    }

    /// Pairs as a JSON object; a name given several times maps to the list of its values, in order.
    static func groupedPairs(_ pairs: [(name: String, value: String)]) -> JSON {
        var order: [String] = []
        var values: [String: [String]] = [:]
        for (name, value) in pairs {
            if values[name] == nil { order.append(name) }
            values[name, default: []].append(value)
        }
        return .object(order.map { name in
            let all = values[name]!
            return (name, all.count == 1 ? .string(all[0]) : .array(all.map(JSON.string)))
        })
    }
}

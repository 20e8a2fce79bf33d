/// A router's literal routes (paths without parameters), found by the path's length and then its
/// bytes: no hash of the path, and no `String` made from it, on every request.
///
/// The dictionary it replaces hashed each request's path (SipHash: 0.4 % of `/plaintext`'s CPU), after
/// copying it into a `String` (an allocation for paths longer than 15 bytes). A server has few literal
/// paths of any one length, so the bytes of one or two are compared, eight at a time.
struct HTTPLiteralRoutes: Sendable {
    /// The paths, in the order their first route was added, and the routes of each.
    private var paths: [String] = []
    private var routes: [[HTTPRouter.Route]] = []
    /// Indices into `paths`, by the path's length in bytes.
    private var byLength: [[Int]] = []
    /// Indices into `paths` of those without a `?`, by length: a request target equal to one of these
    /// has no query, and is its path.
    private var wholeTargetsByLength: [[Int]] = []

    /// Every route, the paths in the order they were added.
    var all: [HTTPRouter.Route] { routes.flatMap { $0 } }

    /// Adds `route` to those of `path`.
    mutating func append(_ route: HTTPRouter.Route, at path: String) {
        if let index = index(of: path[...]) {
            routes[index].append(route)
            return
        }
        let length = path.utf8.count
        while byLength.count <= length { byLength.append([]) }
        byLength[length].append(paths.count)
        if !path.utf8.contains(QUESTION) {
            while wholeTargetsByLength.count <= length { wholeTargetsByLength.append([]) }
            wholeTargetsByLength[length].append(paths.count)
        }
        paths.append(path)
        routes.append([route])
    }

    /// The index of the path a request `target` (`HTTPRequest.path`) is, whole: no query to split
    /// off, and compared as strings, which for equal short ones is a comparison of their two words.
    /// Nil when it is not one (it may still be a path and a query: ``routes(at:)``).
    ///
    /// `String`'s `==` is canonical equivalence, not byte equality, but among strings of one UTF-8
    /// length it is the same here: a parsed target is ASCII, and a path that is not is equivalent to
    /// an ASCII string only through decompositions that shorten it (the Kelvin sign to `K`).
    func index(ofWholeTarget target: String) -> Int? {
        let length = target.utf8.count
        guard length < wholeTargetsByLength.count else { return nil }
        for index in wholeTargetsByLength[length] where paths[index] == target {
            return index
        }
        return nil
    }

    /// The routes of the path at `index` (from ``index(ofWholeTarget:)``), lent: a copy of the array
    /// returned would be a reference count, and its release.
    subscript(path index: Int) -> [HTTPRouter.Route] {
        _read { yield routes[index] }
    }

    /// The routes of exactly `path`, if it has any.
    func routes(at path: Substring) -> [HTTPRouter.Route]? {
        index(of: path).map { routes[$0] }
    }

    private func index(of path: Substring) -> Int? {
        let length = path.utf8.count
        guard length < byLength.count else { return nil }
        for index in byLength[length] where Self.same(paths[index], path) {
            return index
        }
        return nil
    }

    private static func same(_ path: String, _ candidate: Substring) -> Bool {
        let compared = path.utf8.withContiguousStorageIfAvailable { stored in
            candidate.utf8.withContiguousStorageIfAvailable { bytes in
                HTTPParser.equal(UnsafeRawBufferPointer(stored), UnsafeRawBufferPointer(bytes))
            }
        }
        return (compared ?? nil) ?? (path == candidate)
    }
}

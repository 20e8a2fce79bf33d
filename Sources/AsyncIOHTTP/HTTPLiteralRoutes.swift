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
        paths.append(path)
        routes.append([route])
    }

    /// The routes of exactly `path`, if it has any.
    func routes(at path: Substring) -> [HTTPRouter.Route]? {
        index(of: path).map { routes[$0] }
    }

    /// By the path's bytes: a `Substring`'s `utf8.count` walks its indices (0.3 % of `/plaintext`'s
    /// CPU), where its bytes' count is a subtraction.
    private func index(of path: Substring) -> Int? {
        if let found = path.utf8.withContiguousStorageIfAvailable({ index(of: UnsafeRawBufferPointer($0)) }) {
            return found
        }
        return Array(path.utf8).withUnsafeBytes { index(of: $0) }  // not contiguous: a bridged string
    }

    private func index(of path: UnsafeRawBufferPointer) -> Int? {
        guard path.count < byLength.count else { return nil }
        return byLength[path.count].first { HTTPParser.holds(paths[$0], path) }
    }
}

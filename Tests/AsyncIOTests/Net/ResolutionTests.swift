@testable import AsyncIO
import AsyncIOSystem
import AsyncIOTesting
import Testing

@Suite(.timeLimit(.minutes(1)))
struct ResolutionTests {
    /// Issue 12, bug 14: the resolver pool stopped the process when its threads could not start.
    @Test func resolverThreadsThatCannotStartFailTheLookupAndAreRetried() throws {
        let attempts = Locked(0)
        let lazy = LazyThreadPool {
            if attempts.mutate({ $0 += 1; return $0 }) == 1 { throw Errno(rawValue: 11) /* EAGAIN from clone */ }
            return try ThreadPool(threads: 1, name: "retry-dns")
        }
        #expect {
            _ = try lazy.pool(for: "resolve example.com")
        } throws: { error in
            let error = error as? StreamError
            return error?.code == .resolution
                && "\(error!)".contains("resolve example.com")
                && "\(error!)".contains("cannot start the resolver threads")
        }
        let pool = try lazy.pool(for: "resolve example.com")
        #expect(try lazy.pool(for: "again") === pool)
        #expect(attempts.value == 2)
        pool.shutdown()
    }

}

import AsyncIOSystem

/// A value shared between tasks and threads in tests.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: LockedState<Value>
    init(_ value: Value) { mutex = LockedState(value) }
    var value: Value { mutex.withLock { $0 } }
    func mutate<R: Sendable>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
}

struct Boom: Error, Equatable {}

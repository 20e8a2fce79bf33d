// Tutorial 10: Lock, Event, Semaphore and Condition in one small program.
import AsyncIO

/// A counter that several tasks update across suspension points.
final class Account: @unchecked Sendable {
    var balance = 0
}

try EventLoop.run { loop in

    // Lock: a read-modify-write that suspends in the middle stays whole.
    let lock = Lock()
    let account = Account()
    try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<10 {
            group.addTask(executorPreference: loop) {
                try await lock.withLock {
                    let balance = account.balance
                    try await loop.sleep(for: .milliseconds(1))  // another task runs here
                    account.balance = balance + 10
                }
            }
        }
        try await group.waitForAll()
    }
    print("lock: balance is \(account.balance) after 10 deposits of 10")

    // Event: many waiters, one signal.
    let ready = Event()
    let waiters = (1...3).map { index in
        loop.spawn { () async throws -> String in
            try await ready.wait()
            return "waiter \(index) woke"
        }
    }
    try await loop.sleep(for: .milliseconds(10))
    ready.set()
    for waiter in waiters { print("event:", try await waiter.value) }

    // Semaphore: at most two at a time.
    let semaphore = Semaphore(value: 2)
    let inside = Account()
    let most = Account()
    try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<6 {
            group.addTask(executorPreference: loop) {
                try await semaphore.withPermit {
                    inside.balance += 1
                    most.balance = max(most.balance, inside.balance)
                    try await loop.sleep(for: .milliseconds(5))
                    inside.balance -= 1
                }
            }
        }
        try await group.waitForAll()
    }
    print("semaphore: at most \(most.balance) tasks inside at once")

    // Condition: a consumer waits for a predicate that a producer makes true.
    let condition = Condition()
    let stock = Account()
    let consumer = loop.spawn { () async throws -> Int in
        try await condition.lock.withLock {
            _ = try await condition.wait(for: { stock.balance >= 3 })
            return stock.balance
        }
    }
    for _ in 0..<3 {
        try await loop.sleep(for: .milliseconds(5))
        try await condition.lock.withLock {
            stock.balance += 1
            try condition.notifyAll()
        }
    }
    print("condition: the consumer saw \(try await consumer.value) items")
}

import Glibc
import Synchronization

/// Descriptors opened on a thread and not closed yet, for a test loop's leak report.
///
/// While a thread has a ledger open (``begin()``), the descriptors the system layer creates on it
/// (sockets, accepted connections, pipes, files, signalfds, pidfds) are recorded with their device and
/// inode, and ``FileDescriptorOps/close(_:)`` strikes them out, whichever thread closes them. ``end()``
/// returns those still open and still the same file (a number closed elsewhere and reused by another
/// thread is a different file, not a leak). When no ledger is open the cost is one relaxed load.
package enum DescriptorLedger {
    private static let entries = LockedState<[Int32: [Int32: (device: UInt, inode: UInt)]]>([:])

    /// Opens a ledger for the calling thread.
    package static func begin() {
        let thread = SystemThread.currentID
        entries.withLock { entries in
            if entries[thread] == nil { descriptorLedgersOpen.add(1, ordering: .relaxed) }
            entries[thread] = [:]
        }
    }

    /// Closes the calling thread's ledger; returns the descriptors it recorded that are still open.
    package static func end() -> [Int32] {
        let thread = SystemThread.currentID
        let recorded = entries.withLock { entries -> [Int32: (device: UInt, inode: UInt)] in
            guard let ledger = entries.removeValue(forKey: thread) else { return [:] }
            descriptorLedgersOpen.subtract(1, ordering: .relaxed)
            return ledger
        }
        return recorded.compactMap { fd, identity in identify(fd).map { $0 == identity } == true ? fd : nil }.sorted()
    }

    static func record(_ fd: Int32) {
        guard descriptorLedgersOpen.load(ordering: .relaxed) > 0, let identity = identify(fd) else { return }
        let thread = SystemThread.currentID
        entries.withLock { entries in
            if entries[thread] != nil { entries[thread]![fd] = identity }
        }
    }

    static func strike(_ fd: Int32) {
        guard descriptorLedgersOpen.load(ordering: .relaxed) > 0 else { return }
        entries.withLock { entries in
            for thread in entries.keys { entries[thread]![fd] = nil }
        }
    }

    private static func identify(_ fd: Int32) -> (device: UInt, inode: UInt)? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return (UInt(info.st_dev), UInt(info.st_ino))
    }
}

/// How many threads have a ``DescriptorLedger`` open.
let descriptorLedgersOpen = Atomic<Int>(0)

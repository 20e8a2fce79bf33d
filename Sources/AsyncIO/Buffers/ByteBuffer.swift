/// A growable byte buffer with a read index and a write index (one contiguous allocation), for stream
/// buffering: bytes are appended at the write end and consumed from the read end, and the unread part is
/// moved to the front only when that makes room.
///
/// Memory is allocated on first write, not at creation: a connection whose reads go straight into the
/// caller's buffer and whose writes the kernel takes at once never allocates one (10,000 idle
/// connections cost no buffer memory).
///
/// Pure state, no I/O.
struct ByteBuffer: ~Copyable {
    private var base: UnsafeMutableRawPointer
    private(set) var capacity = 0
    private var readIndex = 0
    private var writeIndex = 0
    /// The first allocation's size.
    private let initialCapacity: Int
    /// Where storage of the cache's size comes from and goes back to, if anywhere (a stream reader's
    /// buffer: its loop's); the rest is the allocator's.
    private let cache: BufferCache?

    /// An empty buffer that allocates `initialCapacity` bytes (or more) on first write; storage of
    /// ``BufferCache/size`` bytes from and to `cache`, if given, which must be the caller's loop's (a
    /// buffer used on that loop's thread only).
    init(initialCapacity: Int = BufferCache.size, cache: BufferCache? = nil) {
        precondition(initialCapacity > 0)
        self.initialCapacity = initialCapacity
        self.cache = cache
        base = UnsafeMutableRawPointer(bitPattern: 16)!  // never dereferenced while capacity == 0
    }

    // Straight to the allocator, not the cache: the last release of a reader may come on another thread.
    // Its owner gives cached storage back first (``detachCachedStorage()``), so the cache's count of
    // buffers out stays true.
    deinit { if capacity > 0 { base.deallocate() } }

    /// Takes the storage out of the buffer, unread bytes and all, when it came from the cache; the buffer
    /// is left empty. For an owner about to go, to give the storage back on the cache's thread.
    mutating func detachCachedStorage() -> (storage: UnsafeMutableRawBufferPointer, cache: BufferCache)? {
        guard let cache, capacity == BufferCache.size else { return nil }
        let storage = UnsafeMutableRawBufferPointer(start: base, count: capacity)
        forgetStorage()
        return (storage, cache)
    }

    // The cache is called through `cache?.`, not bound by `if let`: the binding is a copy of the
    // reference, retained and released (two atomic operations for each storage a reader takes and
    // gives back, once a request for a keep-alive connection).

    private func allocateStorage(_ size: Int) -> UnsafeMutableRawPointer {
        if size == BufferCache.size, let storage = cache?.take(atLeast: size) { return storage.baseAddress! }
        return .allocate(byteCount: size, alignment: 1)  // malloc's own alignment (16): not posix_memalign
    }

    private func releaseStorage() {
        // SAFETY: `base` holds `capacity` bytes this buffer allocated (or took from `cache`) and no
        // longer uses; the caller replaces it.
        let storage = UnsafeMutableRawBufferPointer(start: base, count: capacity)
        if capacity == BufferCache.size, cache?.give(storage) != nil { return }
        base.deallocate()
    }

    /// Unread bytes.
    var count: Int { writeIndex - readIndex }
    var isEmpty: Bool { readIndex == writeIndex }

    /// The unread bytes.
    var readable: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base + readIndex, count: count) }

    /// Makes room for at least `minimum` more bytes and returns the free space after the unread ones.
    mutating func writableSpace(minimum: Int) -> UnsafeMutableRawBufferPointer {
        if capacity == 0 {
            let size = max(initialCapacity, minimum)
            base = allocateStorage(size)
            capacity = size
        } else if capacity - writeIndex < minimum {
            if readIndex > 0 && capacity - count >= minimum {
                compact()
            } else {
                grow(to: count + minimum)
            }
        }
        return UnsafeMutableRawBufferPointer(start: base + writeIndex, count: capacity - writeIndex)
    }

    /// Records that `n` bytes were written into the space from ``writableSpace(minimum:)``.
    mutating func commitWrite(_ n: Int) {
        precondition(n >= 0 && writeIndex + n <= capacity)
        writeIndex += n
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        let space = writableSpace(minimum: bytes.count)
        space.copyMemory(from: bytes)
        commitWrite(bytes.count)
    }

    /// Drops `n` unread bytes.
    mutating func consume(_ n: Int) {
        precondition(n >= 0 && n <= count)
        readIndex += n
        if readIndex == writeIndex {
            readIndex = 0
            writeIndex = 0
        }
    }

    /// Removes and returns up to `n` unread bytes.
    mutating func read(upTo n: Int) -> [UInt8] {
        let taken = min(n, count)
        let bytes = [UInt8](UnsafeRawBufferPointer(start: base + readIndex, count: taken))
        consume(taken)
        return bytes
    }

    /// Copies up to `destination.count` unread bytes out and consumes them.
    mutating func read(into destination: UnsafeMutableRawBufferPointer) -> Int {
        let taken = min(destination.count, count)
        destination.copyMemory(from: UnsafeRawBufferPointer(start: base + readIndex, count: taken))
        consume(taken)
        return taken
    }

    /// The offset, among the unread bytes, of the first occurrence of `separator` at or after `from`.
    func firstIndex(of separator: [UInt8], from start: Int = 0) -> Int? {
        guard let first = separator.first, count >= separator.count else { return nil }
        let bytes = readable
        var index = start
        let last = bytes.count - separator.count
        while index <= last {
            if bytes[index] == first {
                var match = true
                for k in 1..<separator.count where bytes[index + k] != separator[k] {
                    match = false
                    break
                }
                if match { return index }
            }
            index += 1
        }
        return nil
    }

    /// Releases the storage once the buffer is empty, if it is larger than `target` bytes (after a
    /// burst; 0 releases any).
    mutating func shrink(to target: Int) {
        guard isEmpty, capacity > target else { return }
        releaseStorage()
        forgetStorage()
    }

    /// Empty, with no storage (which the caller has released or taken).
    private mutating func forgetStorage() {
        base = UnsafeMutableRawPointer(bitPattern: 16)!  // never dereferenced while capacity == 0
        capacity = 0
        readIndex = 0
        writeIndex = 0
    }

    private mutating func compact() {
        let n = count
        if n > 0 { (base).copyMemory(from: base + readIndex, byteCount: n) }
        readIndex = 0
        writeIndex = n
    }

    private mutating func grow(to needed: Int) {
        var newCapacity = max(capacity, 1)
        while newCapacity < needed { newCapacity *= 2 }
        let newBase = allocateStorage(newCapacity)
        let n = count
        if n > 0 { newBase.copyMemory(from: base + readIndex, byteCount: n) }
        releaseStorage()
        base = newBase
        capacity = newCapacity
        readIndex = 0
        writeIndex = n
    }
}

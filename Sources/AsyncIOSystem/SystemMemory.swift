import Glibc

/// The C allocator's memory, process-wide.
public enum SystemMemory {
    /// `malloc_trim` from `<malloc.h>`, which the Glibc module does not import; nil on a C library
    /// without it.
    private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        // SAFETY: RTLD_DEFAULT is the null handle on glibc; the symbol, when found, has the
        // signature `int malloc_trim(size_t pad)`.
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
    }()

    /// Gives the allocator's free pages back to the system (`malloc_trim(0)`): glibc keeps freed heap
    /// memory for reuse, and after thousands of connections' buffers are freed, that is hundreds of
    /// megabytes that would stay resident. It walks every arena: call it rarely.
    public static func releaseFreePages() { _ = mallocTrim?(0) }
}

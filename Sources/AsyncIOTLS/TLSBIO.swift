import AsyncIO
import COpenSSL

/// The OpenSSL BIO that connects an `SSL` object to the ``ByteStream`` under a ``TLSStream``.
///
/// OpenSSL never does I/O of its own here: its reads and writes call the inner stream's non-blocking
/// ``ByteStream/tryReceive(into:)`` and ``ByteStream/trySend(_:)`` on the loop thread, and `.wouldBlock`
/// becomes OpenSSL's "retry" (`SSL_ERROR_WANT_READ`/`WANT_WRITE`), after which the ``TLSStream`` waits
/// on the inner stream. Ciphertext goes straight between the inner stream and OpenSSL's record buffers
/// (released when idle, `SSL_MODE_RELEASE_BUFFERS`), with no buffer of ours in between.
enum TLSBIO {
    /// The BIO method, made once per process.
    nonisolated(unsafe) static let method: OpaquePointer = {
        // SAFETY: OpenSSL copies nothing from these pointers beyond the calls; the method lives for the
        // whole process.
        guard let method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "AsyncIO ByteStream") else {
            fatalError("OpenSSL could not allocate a BIO method")
        }
        BIO_meth_set_write_ex(method, write)
        BIO_meth_set_read_ex(method, read)
        BIO_meth_set_ctrl(method, control)
        BIO_meth_set_create(method, { bio in
            BIO_set_init(bio, 1)
            return 1
        })
        BIO_meth_set_destroy(method, { _ in 1 })
        return method
    }()

    /// The stream a BIO belongs to.
    @inline(__always)
    private static func stream(of bio: OpaquePointer?) -> TLSStream {
        // SAFETY: the BIO's data is the unretained TLSStream that owns the SSL that owns the BIO, so the
        // stream outlives every call OpenSSL makes through it.
        Unmanaged<TLSStream>.fromOpaque(BIO_get_data(bio)).takeUnretainedValue()
    }

    private static let read: @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>?, Int, UnsafeMutablePointer<Int>?) -> Int32 = {
        bio, buffer, count, received in
        aio_BIO_clear_retry_flags(bio)
        guard let buffer, let received, count > 0 else { return 0 }
        let stream = stream(of: bio)
        do {
            // SAFETY: OpenSSL hands us `count` writable bytes at `buffer`.
            switch try stream.inner.tryReceive(into: UnsafeMutableRawBufferPointer(start: buffer, count: count)) {
            case .done(let n):
                if n == 0 {
                    stream.innerReachedEOF = true
                    return 0
                }
                received.pointee = n
                return 1
            case .wouldBlock:
                aio_BIO_set_retry_read(bio)
                return 0
            }
        } catch {
            stream.innerError = error
            return 0
        }
    }

    private static let write: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, Int, UnsafeMutablePointer<Int>?) -> Int32 = {
        bio, bytes, count, sent in
        aio_BIO_clear_retry_flags(bio)
        guard let bytes, let sent else { return 0 }
        let stream = stream(of: bio)
        do {
            // SAFETY: OpenSSL hands us `count` readable bytes at `bytes`.
            switch try stream.inner.trySend(UnsafeRawBufferPointer(start: bytes, count: count)) {
            case .done(let n):
                sent.pointee = n
                return 1
            case .wouldBlock:
                aio_BIO_set_retry_write(bio)
                return 0
            }
        } catch {
            stream.innerError = error
            return 0
        }
    }

    private static let control: @convention(c) (OpaquePointer?, Int32, Int, UnsafeMutableRawPointer?) -> Int = {
        _, command, _, _ in
        // Writes are never buffered here, so a flush has nothing to do; every other control is unsupported.
        command == BIO_CTRL_FLUSH ? 1 : 0
    }
}

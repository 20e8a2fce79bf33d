import AsyncIO
import AsyncIOSystem
import COpenSSL
import Synchronization

/// A TLS connection over any ``ByteStream``: a TCP socket, a Unix socket, an in-memory pair, or another
/// TLS stream (a tunnel through an HTTPS proxy). It is itself a ``ByteStream``, so ``StreamReader``,
/// ``StreamWriter`` and HTTP run over it unchanged (Trio's `SSLStream`, asyncio's `SSLProtocol`).
///
/// Make one with ``connect(over:context:serverName:port:)`` or ``accept(over:context:)``, which run the
/// handshake, or more simply with `openConnection(host:port:tls:)`, `startServer(host:port:tls:handler:)`
/// and `startTLS(reader:writer:tls:serverName:)`.
///
/// The engine is an OpenSSL `SSL` object driven by the loop: its record I/O calls the inner stream's
/// non-blocking operations (``TLSBIO``), so reads and writes keep the inner stream's backpressure and
/// never block the loop. ``shutdownWrite()`` sends `close_notify`; a peer that ends the connection
/// without one makes reads fail with ``TLSError/Code-swift.struct/truncated``: the data may have been cut
/// short, and only framing above TLS (a `Content-Length`, a chunked body's last chunk) can prove it was
/// not.
///
/// ### Thread safety
/// Loop-confined: use it from tasks running on its loop.
public final class TLSStream: ByteStream, @unchecked Sendable, CustomStringConvertible {
    /// The stream the TLS records travel over. The TLS stream owns closing it.
    public let inner: any ByteStream
    /// `inner` when it is a socket (TLS over TCP, the usual case), for waits called on it directly: a wait
    /// called through `any ByteStream` ends with an executor switch, which a call on the socket does not.
    private let innerSocket: Socket?
    /// The context the connection was made with.
    public let context: TLSContext
    /// The name the client asked for (SNI and host check), or the peer's address on a server.
    public let peerName: String
    // SAFETY: `SSL *`, owned: freed in deinit; used only on the loop thread.
    let ssl: OpaquePointer
    /// "host:port" under which a client's session is cached for resumption.
    let sessionKey: String?

    /// Set by the BIO when the inner stream threw; the SSL call then fails and this is what went wrong.
    var innerError: (any Error)?
    /// Set by the BIO when the inner stream ended.
    var innerReachedEOF = false
    private var handshakeDone = false
    private var receivedCloseNotify = false
    private var sentCloseNotify = false
    private var closeNotifyPending = false
    /// The last receive stopped because OpenSSL had to send first (and likewise for send).
    private var receiveWaitsToSend = false
    private var sendWaitsToReceive = false
    private var sendableHandler: (() -> Void)?
    /// Whether ``close()`` has run.
    public private(set) var isClosed = false

    private init(inner: any ByteStream, context: TLSContext, peerName: String, sessionKey: String?) throws {
        guard let ssl = SSL_new(context.context) else {
            throw TLSError(.handshakeFailed, "cannot create a TLS connection", reason: OpenSSLErrors.take().reason)
        }
        guard let bio = BIO_new(TLSBIO.method) else {
            SSL_free(ssl)
            throw TLSError(.handshakeFailed, "cannot create a TLS connection", reason: OpenSSLErrors.take().reason)
        }
        self.inner = inner
        innerSocket = inner as? Socket
        self.context = context
        self.peerName = peerName
        self.ssl = ssl
        self.sessionKey = sessionKey
        context.live.add(1, ordering: .relaxed)
        // SAFETY: the BIO and the SSL keep an unretained pointer to self; both are freed in deinit.
        let me = Unmanaged.passUnretained(self).toOpaque()
        BIO_set_data(bio, me)
        _ = aio_SSL_set_app_data(ssl, me)
        SSL_set_bio(ssl, bio, bio)
    }

    deinit {
        SSL_free(ssl)
        context.live.subtract(1, ordering: .relaxed)
    }

    /// The stream of an `SSL` (for OpenSSL callbacks).
    static func from(ssl: OpaquePointer) -> TLSStream? {
        // SAFETY: the app data is the unretained stream that owns the SSL (set in init).
        aio_SSL_get_app_data(ssl).map { Unmanaged<TLSStream>.fromOpaque($0).takeUnretainedValue() }
    }

    // MARK: - Handshakes

    /// Runs a client handshake over `inner`: sends SNI and checks the certificate against `serverName`
    /// (a DNS name or an IP address) unless the context's verification is `.none`.
    ///
    /// - Parameters:
    ///   - port: With `serverName`, the key under which the session is cached and resumed.
    /// - Throws: ``TLSError`` with a code saying why (unknown issuer, expired, host name mismatch,
    ///   protocol version, timed out); `inner` is closed on failure.
    ///
    /// ### Cancellation
    /// The handshake stops and `inner` is closed.
    public static func connect(over inner: any ByteStream, context: TLSContext, serverName: String?, port: UInt16? = nil) async throws -> TLSStream {
        precondition(context.configuration.role == .client, "TLSStream.connect needs a client context")
        let key = serverName.flatMap { name in port.map { "\(name):\($0)" } }
        let stream: TLSStream
        do { stream = try TLSStream(inner: inner, context: context, peerName: serverName ?? "the server", sessionKey: key) } catch {
            inner.close()
            throw error
        }
        stream.setUpClient(serverName: serverName)
        try await stream.runHandshake()
        return stream
    }

    /// Runs a server handshake over `inner` (a connection just accepted).
    ///
    /// - Throws: ``TLSError`` (`.handshakeFailed` for a client that speaks something else,
    ///   `.protocolVersion`, `.handshakeTimedOut`); `inner` is closed on failure.
    ///
    /// ### Cancellation
    /// The handshake stops and `inner` is closed.
    public static func accept(over inner: any ByteStream, context: TLSContext) async throws -> TLSStream {
        precondition(context.configuration.role == .server, "TLSStream.accept needs a server context")
        let name = inner.peerAddress.map { "\($0)" } ?? "the client"
        let stream: TLSStream
        do { stream = try TLSStream(inner: inner, context: context, peerName: name, sessionKey: nil) } catch {
            inner.close()
            throw error
        }
        SSL_set_accept_state(stream.ssl)
        try await stream.runHandshake()
        return stream
    }

    private func setUpClient(serverName: String?) {
        SSL_set_connect_state(ssl)
        if let serverName, !serverName.isEmpty {
            // An IP address is checked against the IP entries of subjectAltName and is never sent as SNI
            // (RFC 6066 §3); a name is sent as SNI and checked against the DNS entries.
            let isIPAddress = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), serverName) == 1
            if !isIPAddress {
                ERR_clear_error()
                _ = aio_SSL_set_tlsext_host_name(ssl, serverName)
                _ = SSL_set1_host(ssl, serverName)
            }
        }
        if let sessionKey, context.configuration.sessionResumption, let session = context.cachedSession(for: sessionKey) {
            SSL_set_session(ssl, session)
            SSL_SESSION_free(session)
        }
    }

    private func runHandshake() async throws {
        let timeout = context.configuration.handshakeTimeout
        do {
            try await withTimeout(timeout) { try await self.handshake() }
        } catch is TimeoutError {
            close()
            throw TLSError(.handshakeTimedOut, "the TLS handshake with \(peerName) did not finish within \(timeout)")
        } catch {
            close()
            throw error
        }
    }

    private func handshake() async throws {
        // SSL_get_error reads the thread's error queue: start from an empty one. Every failure path below
        // takes what it pushed, so the queue stays empty between calls.
        ERR_clear_error()
        while true {
            let result = SSL_do_handshake(ssl)
            if result == 1 {
                handshakeDone = true
                return
            }
            switch SSL_get_error(ssl, result) {
            case SSL_ERROR_WANT_READ: try await waitUntilInnerReceivable()
            case SSL_ERROR_WANT_WRITE: try await waitUntilInnerSendable()
            case let code: throw TLSFailure.handshake(self, sslError: code)
            }
        }
    }

    // MARK: - What was negotiated

    /// The protocol version: `"TLSv1.3"` or `"TLSv1.2"`.
    public var protocolVersion: String { String(cString: SSL_get_version(ssl)) }
    /// The cipher suite, in OpenSSL's naming (`"TLS_AES_128_GCM_SHA256"`).
    public var cipher: String? { SSL_get_current_cipher(ssl).flatMap { SSL_CIPHER_get_name($0) }.map { String(cString: $0) } }
    /// The ALPN protocol both sides chose (`"http/1.1"`), or nil.
    public var applicationProtocol: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }
    /// Whether the handshake resumed an earlier session (no certificate exchange).
    public var isSessionReused: Bool { SSL_session_reused(ssl) == 1 }
    /// The peer's certificate, or nil if it sent none.
    public var peerCertificate: TLSCertificate? {
        guard let x509 = SSL_get1_peer_certificate(ssl) else { return nil }
        defer { X509_free(x509) }
        return TLSCertificate(x509: x509)
    }
    /// The peer's address, from the inner stream.
    public var peerAddress: SocketAddress? { inner.peerAddress }
    /// The loop of the inner stream.
    public var loop: EventLoop { inner.loop }

    public var description: String {
        "TLSStream(\(peerName), \(handshakeDone ? "\(protocolVersion) \(cipher ?? "?")" : "handshaking"), over \(inner))"
    }

    // MARK: - ByteStream

    /// One non-blocking receive (see ``ByteStream/tryReceive(into:)``).
    public func tryReceive(into buffer: UnsafeMutableRawBufferPointer) throws -> IOResult<Int> {
        try loop.checkInLoop("TLSStream")
        if isClosed { throw StreamError(.closed, operation: "read") }
        if receivedCloseNotify || buffer.isEmpty { return .done(0) }
        var count = 0
        // SAFETY: OpenSSL writes at most `buffer.count` bytes into the caller's buffer during the call.
        let result = SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &count)
        if result == 1 { return .done(count) }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ:
            receiveWaitsToSend = false
            return .wouldBlock
        case SSL_ERROR_WANT_WRITE:
            receiveWaitsToSend = true
            return .wouldBlock
        case SSL_ERROR_ZERO_RETURN:
            receivedCloseNotify = true
            return .done(0)
        case let code:
            throw TLSFailure.io(self, sslError: code, operation: "read")
        }
    }

    /// One non-blocking send (see ``ByteStream/trySend(_:)``).
    public func trySend(_ bytes: UnsafeRawBufferPointer) throws -> IOResult<Int> {
        try loop.checkInLoop("TLSStream")
        if isClosed || sentCloseNotify { throw StreamError(.closed, operation: "write") }
        if bytes.isEmpty { return .done(0) }
        var count = 0
        // SAFETY: OpenSSL reads at most `bytes.count` bytes during the call; after WANT_WRITE it may
        // resume from a moved buffer (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER), and StreamWriter offers the
        // same bytes again from the front of its buffer.
        let result = SSL_write_ex(ssl, bytes.baseAddress, bytes.count, &count)
        if result == 1 { return .done(count) }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_WRITE:
            sendWaitsToReceive = false
            return .wouldBlock
        case SSL_ERROR_WANT_READ:
            sendWaitsToReceive = true
            return .wouldBlock
        case let code:
            throw TLSFailure.io(self, sslError: code, operation: "write")
        }
    }

    /// Waits until a receive is worth retrying (see ``ByteStream/waitUntilReceivable()``).
    ///
    /// ### Cancellation
    /// Safe: the wait is abandoned and nothing is consumed.
    public nonisolated(nonsending) func waitUntilReceivable() async throws {
        if receiveWaitsToSend { try await waitUntilInnerSendable() } else { try await waitUntilInnerReceivable() }
    }

    /// Waits until a send is worth retrying (see ``ByteStream/waitUntilSendable()``).
    ///
    /// ### Cancellation
    /// Safe: the wait is abandoned and nothing is sent.
    public nonisolated(nonsending) func waitUntilSendable() async throws {
        if sendWaitsToReceive { try await waitUntilInnerReceivable() } else { try await waitUntilInnerSendable() }
    }

    /// The inner stream's wait for input: on the socket itself when it is one (see ``innerSocket``).
    @inline(__always)
    private nonisolated(nonsending) func waitUntilInnerReceivable() async throws {
        if let innerSocket { try await innerSocket.waitUntilReceivable() } else { try await inner.waitUntilReceivable() }
    }

    /// The inner stream's wait for room to send: on the socket itself when it is one.
    @inline(__always)
    private nonisolated(nonsending) func waitUntilInnerSendable() async throws {
        if let innerSocket { try await innerSocket.waitUntilSendable() } else { try await inner.waitUntilSendable() }
    }

    /// Sets the closure called when a blocked send may succeed (see ``ByteStream/setSendableHandler(_:)``).
    public func setSendableHandler(_ handler: (() -> Void)?) {
        sendableHandler = handler
        updateInnerHandler()
    }

    private func updateInnerHandler() {
        if sendableHandler == nil && !closeNotifyPending {
            inner.setSendableHandler(nil)
        } else {
            inner.setSendableHandler { [weak self] in self?.innerBecameSendable() }
        }
    }

    private func innerBecameSendable() {
        if closeNotifyPending { sendCloseNotify() }
        sendableHandler?()
    }

    /// Sends `close_notify`, then half-closes the inner stream: the peer reads end of stream. Receiving
    /// goes on until the peer's own `close_notify`.
    public func shutdownWrite() throws {
        if isClosed { throw StreamError(.closed, operation: "shutdown") }
        guard !sentCloseNotify else { return }
        sentCloseNotify = true
        sendCloseNotify()
    }

    private func sendCloseNotify() {
        let result = SSL_shutdown(ssl)
        if result >= 0 {
            closeNotifyPending = false
            updateInnerHandler()
            try? inner.shutdownWrite()
            return
        }
        if SSL_get_error(ssl, result) == SSL_ERROR_WANT_WRITE {
            closeNotifyPending = true  // the rest of the record goes when the inner stream can take it
        } else {
            closeNotifyPending = false
            ERR_clear_error()
        }
        updateInnerHandler()
    }

    /// Sends `close_notify` if the inner stream takes it now (it never waits), then closes the inner
    /// stream. Closing twice is harmless.
    public func close() {
        guard loop.inEventLoop else { loop.callSoon { self.close() }; return }
        guard !isClosed else { return }
        if handshakeDone && !sentCloseNotify && innerError == nil && !innerReachedEOF {
            sentCloseNotify = true
            if SSL_shutdown(ssl) < 0 { ERR_clear_error() }
        }
        isClosed = true
        sendableHandler = nil
        closeNotifyPending = false
        inner.setSendableHandler(nil)
        inner.close()
    }
}

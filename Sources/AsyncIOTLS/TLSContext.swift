import AsyncIO
import AsyncIOSystem
import COpenSSL
import Synchronization

/// A ``TLSConfiguration`` made ready for connections: an OpenSSL `SSL_CTX` with the certificates,
/// trust roots and settings loaded (asyncio's `SSLContext`).
///
/// Make one per configuration and share it between connections and loops: it holds the loaded trust
/// store, the server's session-ticket keys and, for clients, the sessions to resume (one per host and
/// port).
///
/// ### Thread safety
/// Safe from any thread: OpenSSL contexts may be shared once set up, and the session cache is locked.
public final class TLSContext: @unchecked Sendable {
    /// The configuration it was made from.
    public let configuration: TLSConfiguration
    // SAFETY: `SSL_CTX *`, owned (freed in deinit); never changed after init.
    let context: OpaquePointer
    /// Client ALPN list in wire format (length-prefixed names).
    let alpnWire: [UInt8]
    /// Server ALPN list: a `UInt32` length, then the wire format (read by the C select callback).
    private let serverALPN: UnsafeMutableRawPointer?
    /// The key log file BIO, when logging secrets.
    private let keyLog: OpaquePointer?
    /// Client sessions to resume, by "host:port". Each entry holds one `SSL_SESSION` reference.
    private let sessions = LockedState<[String: OpaquePointer]>([:])
    private static let maxCachedSessions = 1024
    /// TLS streams of this context that are alive (each holds one OpenSSL `SSL` object).
    let live = Atomic<Int>(0)

    /// The TLS streams made with this context that are still alive: each holds one OpenSSL `SSL`
    /// object until it is deinitialized. For leak checks.
    public var liveStreamCount: Int { live.load(ordering: .relaxed) }

    /// Loads `configuration`.
    ///
    /// - Throws: ``TLSError`` `.configuration` naming the file (or both files) when a certificate, key or
    ///   CA bundle cannot be read or the certificate and key do not belong together.
    public init(_ configuration: TLSConfiguration) throws {
        guard let context = SSL_CTX_new(configuration.role == .client ? TLS_client_method() : TLS_server_method()) else {
            throw TLSError(.configuration, "cannot create a TLS context", reason: OpenSSLErrors.take().reason)
        }
        self.configuration = configuration
        self.context = context
        alpnWire = Self.wireFormat(configuration.applicationProtocols)
        var keyLogBIO: OpaquePointer?
        var serverALPN: UnsafeMutableRawPointer?
        do {
            try Self.apply(configuration, to: context)
            if configuration.role == .server && !alpnWire.isEmpty {
                // SAFETY: a fresh allocation of 4 + n bytes, written in bounds, freed in deinit after the
                // context (the only reader) is freed.
                let memory = UnsafeMutableRawPointer.allocate(byteCount: 4 + alpnWire.count, alignment: 4)
                memory.storeBytes(of: UInt32(alpnWire.count), as: UInt32.self)
                alpnWire.withUnsafeBytes { (memory + 4).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                aio_SSL_CTX_set_alpn_select(context, memory)
                serverALPN = memory
            } else if configuration.role == .client && !alpnWire.isEmpty {
                // SAFETY: OpenSSL copies the list during the call.
                let failed = alpnWire.withUnsafeBufferPointer { SSL_CTX_set_alpn_protos(context, $0.baseAddress, UInt32($0.count)) }
                if failed != 0 { throw TLSError(.configuration, "bad ALPN protocol list \(configuration.applicationProtocols)") }
            }
            if let path = configuration.keyLogFile ?? SystemEnvironment.value(of: "SSLKEYLOGFILE"), !path.isEmpty {
                guard let file = BIO_new_file(path, "a") else {
                    throw TLSError(.configuration, "cannot open the key log file \(path)", reason: OpenSSLErrors.take().reason)
                }
                aio_SSL_CTX_set_keylog_file(context, file)
                keyLogBIO = file
            }
            if configuration.role == .client && configuration.sessionResumption {
                _ = aio_SSL_CTX_set_session_cache_mode(context, Int(SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE))
                SSL_CTX_sess_set_new_cb(context, tlsNewSessionCallback)
            }
        } catch {
            SSL_CTX_free(context)
            if let keyLogBIO { BIO_free(keyLogBIO) }
            serverALPN?.deallocate()
            throw error
        }
        keyLog = keyLogBIO
        self.serverALPN = serverALPN
    }

    deinit {
        SSL_CTX_free(context)
        if let keyLog { BIO_free(keyLog) }
        serverALPN?.deallocate()
        sessions.withLock { cache in
            for session in cache.values { SSL_SESSION_free(session) }
            cache = [:]
        }
    }

    // MARK: - Client sessions

    /// A new reference to the session cached for `key`, to offer in the next handshake.
    func cachedSession(for key: String) -> OpaquePointer? {
        sessions.withLock { cache in
            guard let session = cache[key] else { return nil }
            SSL_SESSION_up_ref(session)
            return session
        }
    }

    /// Keeps `session` (whose reference the cache now owns) for `key`, replacing the previous one.
    func store(_ session: OpaquePointer, for key: String) {
        let replaced: OpaquePointer? = sessions.withLock { cache in
            if cache[key] == nil && cache.count >= Self.maxCachedSessions, let evicted = cache.keys.first {
                SSL_SESSION_free(cache.removeValue(forKey: evicted)!)
            }
            let old = cache[key]
            cache[key] = session
            return old
        }
        if let replaced { SSL_SESSION_free(replaced) }
    }

    /// The number of client sessions kept for resumption.
    public var cachedSessionCount: Int { sessions.withLock { $0.count } }

    // MARK: - Loading

    private static func apply(_ configuration: TLSConfiguration, to context: OpaquePointer) throws {
        let modes = SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS
        _ = aio_SSL_CTX_set_mode(context, Int(modes))
        aio_SSL_CTX_set_read_ahead(context, 1)
        aio_SSL_CTX_set_standard_options(context, configuration.sessionResumption ? 0 : 1)
        if configuration.role == .server && !configuration.sessionResumption {
            SSL_CTX_set_num_tickets(context, 0)
            _ = aio_SSL_CTX_set_session_cache_mode(context, Int(SSL_SESS_CACHE_OFF))
        }
        guard configuration.minimumVersion <= configuration.maximumVersion else {
            throw TLSError(.configuration, "the minimum TLS version is above the maximum")
        }
        _ = aio_SSL_CTX_set_min_proto_version(context, version(configuration.minimumVersion))
        _ = aio_SSL_CTX_set_max_proto_version(context, version(configuration.maximumVersion))
        if let list = configuration.cipherList, SSL_CTX_set_cipher_list(context, list) != 1 {
            throw TLSError(.configuration, "no usable cipher in \"\(list)\"", reason: OpenSSLErrors.take().reason)
        }
        if let suites = configuration.cipherSuites, SSL_CTX_set_ciphersuites(context, suites) != 1 {
            throw TLSError(.configuration, "no usable cipher suite in \"\(suites)\"", reason: OpenSSLErrors.take().reason)
        }

        try loadIdentity(configuration, into: context)

        // A server needs trust roots only to check client certificates (loading the system's store costs
        // about 200,000 allocations and tens of milliseconds).
        let needsRoots = configuration.role == .client || configuration.verification != .none
        if configuration.trustRoots == .system && needsRoots && SSL_CTX_set_default_verify_paths(context) != 1 {
            throw TLSError(.configuration, "cannot load the system's trusted certificates", reason: OpenSSLErrors.take().reason)
        }
        for source in configuration.additionalTrustRoots {
            try loadTrustRoots(source, into: context)
        }
        let mode: Int32 = switch (configuration.role, configuration.verification) {
        case (_, .none): SSL_VERIFY_NONE
        case (.client, _): SSL_VERIFY_PEER
        case (.server, .full): SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
        case (.server, .optional): SSL_VERIFY_PEER
        }
        SSL_CTX_set_verify(context, mode, nil)
        if configuration.role == .server {
            // Resumption with client certificates needs a session ID context (sessions of one context are
            // not resumed by another); without it OpenSSL refuses the resumed handshake with an alert.
            let id = Array("AsyncIO-\(configuration.verification)".utf8)
            // SAFETY: OpenSSL copies the ID during the call.
            _ = id.withUnsafeBufferPointer { SSL_CTX_set_session_id_context(context, $0.baseAddress, UInt32($0.count)) }
        }
    }

    private static func version(_ version: TLSConfiguration.Version) -> Int32 {
        switch version {
        case .tls12: TLS1_2_VERSION
        case .tls13: TLS1_3_VERSION
        }
    }

    private static func loadIdentity(_ configuration: TLSConfiguration, into context: OpaquePointer) throws {
        switch (configuration.certificateChain, configuration.privateKey) {
        case (nil, nil):
            if configuration.role == .server {
                throw TLSError(.configuration, "a TLS server needs a certificate chain and a private key")
            }
            return
        case (nil, .some), (.some, nil):
            throw TLSError(.configuration, "a certificate chain needs its private key, and a key its certificate")
        case (.some(let chain), .some(let key)):
            switch chain {
            case .file(let path):
                if SSL_CTX_use_certificate_chain_file(context, path) != 1 {
                    throw TLSError(.configuration, "cannot read a certificate chain from \(path)", reason: OpenSSLErrors.take().reason)
                }
            case .bytes(let pem):
                let certificates = try PEM.certificates(pem, what: "the certificate chain")
                guard SSL_CTX_use_certificate(context, certificates[0]) == 1 else {
                    certificates.forEach { X509_free($0) }
                    throw TLSError(.configuration, "the certificate was refused", reason: OpenSSLErrors.take().reason)
                }
                X509_free(certificates[0])
                for intermediate in certificates.dropFirst() where aio_SSL_CTX_add0_chain_cert(context, intermediate) != 1 {
                    X509_free(intermediate)
                }
            }
            switch key {
            case .file(let path):
                if SSL_CTX_use_PrivateKey_file(context, path, SSL_FILETYPE_PEM) != 1 {
                    let reason = OpenSSLErrors.take().reason
                    if reason == "key values mismatch" {
                        throw TLSError(.configuration, "the certificate (\(describe(chain))) and the private key (\(path)) do not belong together", reason: reason)
                    }
                    throw TLSError(.configuration, "cannot read a private key from \(path)", reason: reason)
                }
            case .bytes(let pem):
                let pkey = try PEM.privateKey(pem)
                defer { EVP_PKEY_free(pkey) }
                if SSL_CTX_use_PrivateKey(context, pkey) != 1 {
                    throw TLSError(.configuration, "the private key was refused", reason: OpenSSLErrors.take().reason)
                }
            }
            if SSL_CTX_check_private_key(context) != 1 {
                throw TLSError(
                    .configuration,
                    "the certificate (\(describe(chain))) and the private key (\(describe(key))) do not belong together",
                    reason: OpenSSLErrors.take().reason
                )
            }
        }
    }

    private static func loadTrustRoots(_ source: TLSConfiguration.PEMSource, into context: OpaquePointer) throws {
        switch source {
        case .file(let path):
            if SSL_CTX_load_verify_locations(context, path, nil) != 1 {
                throw TLSError(.configuration, "cannot read trusted certificates from \(path)", reason: OpenSSLErrors.take().reason)
            }
        case .bytes(let pem):
            let store = SSL_CTX_get_cert_store(context)
            for certificate in try PEM.certificates(pem, what: "the trusted certificates") {
                X509_STORE_add_cert(store, certificate)
                X509_free(certificate)
            }
            ERR_clear_error()  // a certificate already in the store is not an error
        }
    }

    private static func describe(_ source: TLSConfiguration.PEMSource) -> String {
        switch source {
        case .file(let path): path
        case .bytes: "PEM bytes"
        }
    }

    /// ALPN wire format: each name as one length byte and its bytes.
    private static func wireFormat(_ protocols: [String]) -> [UInt8] {
        var wire: [UInt8] = []
        for name in protocols {
            let bytes = Array(name.utf8)
            precondition(!bytes.isEmpty && bytes.count < 256, "an ALPN protocol name has 1 to 255 bytes")
            wire.append(UInt8(bytes.count))
            wire += bytes
        }
        return wire
    }
}

/// OpenSSL's callback for a new client session (after a full handshake, and for each TLS 1.3 ticket):
/// keep it in the context for the stream's host and port. Returning 1 keeps OpenSSL's reference.
private let tlsNewSessionCallback: @convention(c) (OpaquePointer?, OpaquePointer?) -> Int32 = { ssl, session in
    guard let ssl, let session, let stream = TLSStream.from(ssl: ssl), let key = stream.sessionKey else { return 0 }
    stream.context.store(session, for: key)
    return 1
}

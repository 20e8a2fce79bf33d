/// What a TLS client or server needs: its certificate and key, whom it trusts, what it checks and
/// negotiates (asyncio's `SSLContext` settings, as a value).
///
/// ```swift
/// // A client that trusts the system's roots plus one CA file, checking the host name:
/// var tls = TLSConfiguration.client()
/// tls.additionalTrustRoots = [.file("/etc/myca.pem")]
/// // A server:
/// let server = TLSConfiguration.server(certificateChain: .file("cert.pem"), privateKey: .file("key.pem"))
/// ```
///
/// Turn it into a ``TLSContext`` once and share that between connections: loading certificates and
/// trust stores is the expensive part.
public struct TLSConfiguration: Sendable {
    /// Client or server.
    public enum Role: Sendable { case client, server }

    /// PEM data: a file to read or bytes in memory.
    public enum PEMSource: Sendable, Equatable {
        /// A PEM file on disk.
        case file(String)
        /// PEM text in memory.
        case bytes([UInt8])
    }

    /// Whose certificates are trusted as roots.
    public enum TrustRoots: Sendable, Equatable {
        /// The system's store: OpenSSL's default paths, or `SSL_CERT_FILE`/`SSL_CERT_DIR` when set.
        case system
        /// None but ``TLSConfiguration/additionalTrustRoots``.
        case none
    }

    /// How the peer's certificate is checked.
    public enum Verification: Sendable, Equatable {
        /// Clients: chain and host name (the default). Servers: require a client certificate that chains
        /// to a trusted root (mutual TLS).
        case full
        /// Servers: ask for a client certificate and check it if one is sent, but do not require one.
        case optional
        /// Do not check (curl's `--insecure`). Servers: do not ask for client certificates (the server
        /// default).
        case none
    }

    /// A protocol version.
    public enum Version: Sendable, Comparable {
        case tls12, tls13
    }

    /// Client or server.
    public var role: Role
    /// The certificate, then its intermediates (a server's, or a client's for mutual TLS).
    public var certificateChain: PEMSource?
    /// The private key of the first certificate in ``certificateChain``.
    public var privateKey: PEMSource?
    /// The base set of trusted roots. Default: the system's.
    public var trustRoots: TrustRoots = .system
    /// More trusted roots (PEM bundles), added to ``trustRoots``.
    public var additionalTrustRoots: [PEMSource] = []
    /// How the peer is checked. Default: `.full` for clients, `.none` for servers.
    public var verification: Verification
    /// ALPN protocols in order of preference (`["h2", "http/1.1"]`); empty for none.
    public var applicationProtocols: [String] = []
    /// The oldest version accepted. Default TLS 1.2 (1.0 and 1.1 are never offered).
    public var minimumVersion: Version = .tls12
    /// The newest version offered. Default TLS 1.3.
    public var maximumVersion: Version = .tls13
    /// Session resumption: tickets issued by servers, and cached and offered by clients (per host and
    /// port, in the ``TLSContext``). Default on.
    public var sessionResumption = true
    /// The longest a handshake may take before the connection is closed with
    /// ``TLSError/Code-swift.struct/handshakeTimedOut``. Default 10 s.
    public var handshakeTimeout: Duration = .seconds(10)
    /// Where to append the session secrets (NSS key log format, for Wireshark). Default: the
    /// `SSLKEYLOGFILE` environment variable, read when the ``TLSContext`` is made.
    public var keyLogFile: String?
    /// OpenSSL cipher list for TLS 1.2 (nil: OpenSSL's defaults).
    public var cipherList: String?
    /// OpenSSL cipher suites for TLS 1.3 (nil: OpenSSL's defaults).
    public var cipherSuites: String?

    /// A configuration for `role` with the defaults.
    public init(role: Role) {
        self.role = role
        verification = role == .client ? .full : .none
    }

    /// A client configuration: system roots, full verification with host-name checks.
    public static func client() -> TLSConfiguration { TLSConfiguration(role: .client) }

    /// A server configuration with its certificate chain and private key.
    public static func server(certificateChain: PEMSource, privateKey: PEMSource) -> TLSConfiguration {
        var configuration = TLSConfiguration(role: .server)
        configuration.certificateChain = certificateChain
        configuration.privateKey = privateKey
        return configuration
    }
}

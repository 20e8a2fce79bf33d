import ArgumentParser
import AsyncIOTLS

/// The TLS flags of every server command (CONTRACT.md, "TLS").
struct TLSServerOptions: ParsableArguments {
    @Option(name: .customLong("tls-cert"), help: "PEM certificate (chain) file: serve TLS 1.2 and 1.3 on the same port.")
    var certificate: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key file of --tls-cert.")
    var key: String?

    @Option(name: .customLong("handshake-timeout"), help: "Seconds a client may take to finish the TLS handshake, from the accept.")
    var handshakeTimeout: Double = 10

    var isEnabled: Bool { certificate != nil }

    func validate() throws {
        if (certificate == nil) != (key == nil) {
            throw ValidationError("--tls-cert and --tls-key go together: give both or neither")
        }
        guard handshakeTimeout > 0 && handshakeTimeout <= 86_400 else {
            throw ValidationError("--handshake-timeout must be between 0 and 86400 seconds")
        }
    }

    /// The server context, or nil without TLS; a file that cannot be read, or a certificate and key that
    /// do not belong together, is exit 1 with a message naming the file(s).
    func makeContext(applicationProtocols: [String] = []) throws -> TLSContext? {
        guard let certificate, let key else { return nil }
        var configuration = TLSConfiguration.server(certificateChain: .file(certificate), privateKey: .file(key))
        configuration.applicationProtocols = applicationProtocols
        configuration.handshakeTimeout = .milliseconds(Int64(handshakeTimeout * 1000))
        do { return try TLSContext(configuration) } catch {
            throw CommandFailure(message: "\(error)", exitCode: 1)
        }
    }
}

/// The TLS flags of every client command (CONTRACT.md, "Clients").
struct TLSClientOptions: ParsableArguments {
    @Option(help: "A PEM bundle of extra trusted CA certificates (added to the system's, or to SSL_CERT_FILE's).")
    var cacert: String?

    @Flag(help: "Do not verify the server's certificate (as curl -k).")
    var insecure = false

    /// The client context: system roots (or SSL_CERT_FILE) plus --cacert, verification unless --insecure.
    func makeContext(applicationProtocols: [String] = []) throws -> TLSContext {
        var configuration = TLSConfiguration.client()
        if let cacert { configuration.additionalTrustRoots = [.file(cacert)] }
        if insecure { configuration.verification = .none }
        configuration.applicationProtocols = applicationProtocols
        do { return try TLSContext(configuration) } catch {
            throw CommandFailure(message: "\(error)", exitCode: 1)
        }
    }
}

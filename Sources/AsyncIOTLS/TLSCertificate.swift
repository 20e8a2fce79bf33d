import COpenSSL

/// A certificate as a program reads it: the peer's, after a handshake (asyncio's
/// `get_extra_info('peercert')`).
public struct TLSCertificate: Sendable, Equatable {
    /// The subject, as an RFC 2253 line (`CN=example.com,O=Example`).
    public let subject: String
    /// The issuer, as an RFC 2253 line.
    public let issuer: String
    /// The subjectAltName entries: `DNS:example.com`, `IP:127.0.0.1`, `IP:0:0:0:0:0:0:0:1`, `email:`, `URI:`.
    public let subjectAlternativeNames: [String]
    /// The start of the validity period, in seconds since 1970 (UTC).
    public let notValidBefore: Int64
    /// The end of the validity period, in seconds since 1970 (UTC).
    public let notValidAfter: Int64
    /// The certificate in DER.
    public let der: [UInt8]

    /// Reads `x509` (an `X509 *`; the caller keeps its reference).
    init(x509: OpaquePointer) {
        subject = Self.nameLine(X509_get_subject_name(x509))
        issuer = Self.nameLine(X509_get_issuer_name(x509))
        var names: [String] = []
        var text = [CChar](repeating: 0, count: 512)
        let count = aio_x509_subject_alt_name(x509, -1, &text, text.count)
        for index in 0..<count {
            _ = aio_x509_subject_alt_name(x509, index, &text, text.count)
            let entry = Self.string(text)
            if !entry.isEmpty { names.append(entry) }
        }
        subjectAlternativeNames = names
        var ok: Int32 = 0
        notValidBefore = Int64(aio_asn1_time_epoch(X509_get0_notBefore(x509), &ok))
        notValidAfter = Int64(aio_asn1_time_epoch(X509_get0_notAfter(x509), &ok))
        let length = i2d_X509(x509, nil)
        var der = [UInt8](repeating: 0, count: max(0, Int(length)))
        if length > 0 {
            // SAFETY: `der` has exactly the `length` bytes i2d_X509 said it writes; the pointer does not
            // outlive the closure.
            der.withUnsafeMutableBufferPointer { buffer in
                var cursor: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
                _ = i2d_X509(x509, &cursor)
            }
        }
        self.der = der
    }

    /// The NUL-terminated text in `buffer`.
    private static func string(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func nameLine(_ name: OpaquePointer?) -> String {
        guard let name else { return "" }
        var text = [CChar](repeating: 0, count: 1024)
        _ = aio_x509_name_line(name, &text, Int32(text.count))
        return Self.string(text)
    }
}

/// Reading PEM data held in memory.
enum PEM {
    /// Every certificate in `pem` (at least one), as owned `X509 *` references.
    static func certificates(_ pem: [UInt8], what: String) throws -> [OpaquePointer] {
        try withBIO(pem) { bio in
            var certificates: [OpaquePointer] = []
            while let certificate = PEM_read_bio_X509(bio, nil, nil, nil) { certificates.append(certificate) }
            ERR_clear_error()  // the read past the last certificate
            if certificates.isEmpty { throw TLSError(.configuration, "no PEM certificate in \(what)") }
            return certificates
        }
    }

    /// The private key in `pem`, as an owned `EVP_PKEY *`.
    static func privateKey(_ pem: [UInt8]) throws -> OpaquePointer {
        try withBIO(pem) { bio in
            guard let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else {
                throw TLSError(.configuration, "no PEM private key in the key bytes", reason: OpenSSLErrors.take().reason)
            }
            return key
        }
    }

    private static func withBIO<Result>(_ pem: [UInt8], _ body: (OpaquePointer) throws -> Result) throws -> Result {
        try pem.withUnsafeBytes { raw in
            // SAFETY: a read-only memory BIO over `raw`, freed before `raw` goes out of scope.
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else {
                throw TLSError(.configuration, "out of memory reading PEM")
            }
            defer { BIO_free(bio) }
            return try body(bio)
        }
    }
}

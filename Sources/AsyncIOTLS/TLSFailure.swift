import AsyncIO
import COpenSSL

/// Turns a failed OpenSSL call into the error a program sees: a ``TLSError`` with a code and words, or
/// the inner stream's own error (a reset is a reset, whether or not TLS sits on top).
enum TLSFailure {
    /// The error for a failed `SSL_do_handshake`.
    static func handshake(_ stream: TLSStream, sslError: Int32) -> any Error {
        let (reason, packed) = OpenSSLErrors.take()
        let name = stream.peerName
        let verifyResult = SSL_get_verify_result(stream.ssl)
        if stream.context.configuration.role == .client && verifyResult != X509_V_OK {
            let text = String(cString: X509_verify_cert_error_string(verifyResult))
            return TLSError(verificationCode(verifyResult), "the certificate of \(name) was rejected: \(text)", reason: reason)
        }
        if let error = stream.innerError {
            if let error = error as? StreamError, error.code == .broken {
                return TLSError(.handshakeFailed, "\(name) reset the connection during the TLS handshake", reason: reason)
            }
            return error
        }
        let code = Int32(aio_ERR_GET_REASON(packed))
        switch code {
        case SSL_R_UNSUPPORTED_PROTOCOL, SSL_R_TLSV1_ALERT_PROTOCOL_VERSION, SSL_R_NO_PROTOCOLS_AVAILABLE:
            return TLSError(.protocolVersion, "\(name) offered no TLS version in the allowed range (TLS 1.2 and 1.3)", reason: reason)
        case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE, SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
            return TLSError(.peerCertificateRequired, "no client certificate in the TLS handshake with \(name)", reason: reason)
        case SSL_R_CERTIFICATE_VERIFY_FAILED:
            return TLSError(.certificateRejected, "the certificate of \(name) was rejected", reason: reason)
        default:
            break
        }
        if stream.innerReachedEOF || code == SSL_R_UNEXPECTED_EOF_WHILE_READING {
            return TLSError(.handshakeFailed, "\(name) closed the connection during the TLS handshake", reason: reason)
        }
        if code == SSL_R_HTTP_REQUEST || code == SSL_R_WRONG_VERSION_NUMBER {
            return TLSError(.handshakeFailed, "\(name) does not speak TLS", reason: reason)
        }
        return TLSError(.handshakeFailed, "the TLS handshake with \(name) failed", reason: reason ?? describe(sslError))
    }

    /// The error for a failed `SSL_read_ex`/`SSL_write_ex` after the handshake.
    static func io(_ stream: TLSStream, sslError: Int32, operation: String) -> any Error {
        let (reason, packed) = OpenSSLErrors.take()
        if let error = stream.innerError { return error }
        let code = Int32(aio_ERR_GET_REASON(packed))
        if stream.innerReachedEOF || code == SSL_R_UNEXPECTED_EOF_WHILE_READING {
            return TLSError(.truncated, "the TLS connection with \(stream.peerName) ended without close_notify: data may be missing", reason: reason)
        }
        return TLSError(.protocolError, "TLS \(operation) with \(stream.peerName) failed", reason: reason ?? describe(sslError))
    }

    /// The code for an X.509 verification result.
    static func verificationCode(_ result: Int) -> TLSError.Code {
        switch Int32(result) {
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
             X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
             X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
            .unknownIssuer
        case X509_V_ERR_CERT_HAS_EXPIRED:
            .certificateExpired
        case X509_V_ERR_CERT_NOT_YET_VALID:
            .certificateNotYetValid
        case X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH:
            .hostnameMismatch
        default:
            .certificateRejected
        }
    }

    private static func describe(_ sslError: Int32) -> String {
        switch sslError {
        case SSL_ERROR_SYSCALL: "I/O error"
        case SSL_ERROR_SSL: "protocol error"
        default: "SSL error \(sslError)"
        }
    }
}

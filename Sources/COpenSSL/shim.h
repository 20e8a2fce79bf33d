// OpenSSL 3 as Swift sees it. Only AsyncIOTLS imports this module.
// Swift cannot import C macros that take arguments, so the ones AsyncIOTLS needs are wrapped here as
// static inline functions, with a few helpers that read certificates into plain C values.
#ifndef ASYNCIO_COPENSSL_SHIM_H
#define ASYNCIO_COPENSSL_SHIM_H

#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/bio.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static inline long aio_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_mode(ctx, mode); }
static inline int aio_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) { return (int)SSL_CTX_set_min_proto_version(ctx, version); }
static inline int aio_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) { return (int)SSL_CTX_set_max_proto_version(ctx, version); }
static inline void aio_SSL_CTX_set_read_ahead(SSL_CTX *ctx, int on) { SSL_CTX_set_read_ahead(ctx, on); }
static inline long aio_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_session_cache_mode(ctx, mode); }
static inline int aio_SSL_set_tlsext_host_name(SSL *ssl, const char *name) { return (int)SSL_set_tlsext_host_name(ssl, name); }
static inline void *aio_SSL_get_app_data(const SSL *ssl) { return SSL_get_app_data(ssl); }
static inline int aio_SSL_set_app_data(SSL *ssl, void *data) { return SSL_set_app_data(ssl, data); }

static inline void aio_BIO_set_retry_read(BIO *bio) { BIO_set_retry_read(bio); }
static inline void aio_BIO_set_retry_write(BIO *bio) { BIO_set_retry_write(bio); }
static inline void aio_BIO_clear_retry_flags(BIO *bio) { BIO_clear_retry_flags(bio); }
static inline long aio_BIO_get_mem_data(BIO *bio, char **data) { return BIO_get_mem_data(bio, data); }

static inline int aio_ERR_GET_LIB(unsigned long error) { return ERR_GET_LIB(error); }
static inline int aio_ERR_GET_REASON(unsigned long error) { return ERR_GET_REASON(error); }


/// The number of subjectAltName entries of `cert` that are DNS names or IP addresses.
/// Writes entry `index` as text ("DNS:example.com", "IP:127.0.0.1", "IP:::1") into `out`.
/// Returns the entry count; `out` is written only when `index` is in range.
static inline int aio_x509_subject_alt_name(X509 *cert, int index, char *out, size_t outSize) {
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    if (names == NULL) return 0;
    int count = sk_GENERAL_NAME_num(names);
    if (index >= 0 && index < count && outSize > 0) {
        const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, index);
        out[0] = 0;
        if (name->type == GEN_DNS) {
            const unsigned char *data = ASN1_STRING_get0_data(name->d.dNSName);
            int length = ASN1_STRING_length(name->d.dNSName);
            snprintf(out, outSize, "DNS:%.*s", length, (const char *)data);
        } else if (name->type == GEN_IPADD) {
            const unsigned char *ip = ASN1_STRING_get0_data(name->d.iPAddress);
            int length = ASN1_STRING_length(name->d.iPAddress);
            if (length == 4) {
                snprintf(out, outSize, "IP:%d.%d.%d.%d", ip[0], ip[1], ip[2], ip[3]);
            } else if (length == 16) {
                snprintf(out, outSize, "IP:%x:%x:%x:%x:%x:%x:%x:%x",
                         ip[0] << 8 | ip[1], ip[2] << 8 | ip[3], ip[4] << 8 | ip[5], ip[6] << 8 | ip[7],
                         ip[8] << 8 | ip[9], ip[10] << 8 | ip[11], ip[12] << 8 | ip[13], ip[14] << 8 | ip[15]);
            }
        } else if (name->type == GEN_EMAIL) {
            const unsigned char *data = ASN1_STRING_get0_data(name->d.rfc822Name);
            snprintf(out, outSize, "email:%.*s", ASN1_STRING_length(name->d.rfc822Name), (const char *)data);
        } else if (name->type == GEN_URI) {
            const unsigned char *data = ASN1_STRING_get0_data(name->d.uniformResourceIdentifier);
            snprintf(out, outSize, "URI:%.*s", ASN1_STRING_length(name->d.uniformResourceIdentifier), (const char *)data);
        }
    }
    GENERAL_NAMES_free(names);
    return count;
}

/// Seconds since the epoch of an ASN1_TIME (notBefore/notAfter); 0 and *ok = 0 if it cannot be read.
static inline long long aio_asn1_time_epoch(const ASN1_TIME *time, int *ok) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (time == NULL || ASN1_TIME_to_tm(time, &tm) != 1) { *ok = 0; return 0; }
    *ok = 1;
    return (long long)timegm(&tm);
}

/// An X509_NAME as one RFC 2253 line, written into `out`; returns its length (0 if none).
static inline int aio_x509_name_line(const X509_NAME *name, char *out, int outSize) {
    if (name == NULL || outSize <= 0) return 0;
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL) return 0;
    X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    char *data = NULL;
    long length = BIO_get_mem_data(bio, &data);
    int copied = length < outSize - 1 ? (int)length : outSize - 1;
    if (copied > 0) memcpy(out, data, (size_t)copied);
    out[copied > 0 ? copied : 0] = 0;
    BIO_free(bio);
    return copied;
}

/// The options every AsyncIO context gets: no renegotiation, no compression; no tickets when asked.
static inline void aio_SSL_CTX_set_standard_options(SSL_CTX *ctx, int noTickets) {
    uint64_t options = SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION;
    if (noTickets) options |= SSL_OP_NO_TICKET;
    SSL_CTX_set_options(ctx, options);
}
static inline long aio_SSL_CTX_add0_chain_cert(SSL_CTX *ctx, X509 *cert) { return SSL_CTX_add0_chain_cert(ctx, cert); }
static inline void *aio_SSL_CTX_get_app_data(const SSL_CTX *ctx) { return SSL_CTX_get_app_data(ctx); }

/// ALPN for servers: `arg` points to a uint32 length followed by the server's protocols in wire format
/// (owned by the caller for the context's lifetime). No overlap: go on without ALPN (RFC 7301 allows it).
static int aio_alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                              const unsigned char *in, unsigned int inlen, void *arg) {
    (void)ssl;
    const unsigned char *server = (const unsigned char *)arg + sizeof(unsigned int);
    unsigned int serverLength = *(const unsigned int *)arg;
    unsigned char *selected = NULL;
    if (SSL_select_next_proto(&selected, outlen, server, serverLength, in, inlen) != OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}
static inline void aio_SSL_CTX_set_alpn_select(SSL_CTX *ctx, void *arg) { SSL_CTX_set_alpn_select_cb(ctx, aio_alpn_select_cb, arg); }

/// SSLKEYLOGFILE: the context's app data is a file BIO opened for appending; one line per call, in one
/// write, so lines from several threads do not interleave.
static void aio_keylog_cb(const SSL *ssl, const char *line) {
    BIO *file = (BIO *)SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    if (file == NULL) return;
    BIO_printf(file, "%s\n", line);
    (void)BIO_flush(file);
}
static inline void aio_SSL_CTX_set_keylog_file(SSL_CTX *ctx, BIO *file) {
    SSL_CTX_set_app_data(ctx, file);
    SSL_CTX_set_keylog_callback(ctx, aio_keylog_cb);
}

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS 1.3 contexts from the swarm PEM material: roots, node chain and key,
 * the server's optional-but-verified client certificates and ALPN choice,
 * the client's verified or insecure modes, and in-place reloads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "base/mem.h"
#include "base/tls_ctx.h"
#include "base/tls_int.h"

/* The OpenSSL error at the top of the queue, in words, then a clean queue
 * (other users of OpenSSL on this thread must not see our leftovers). */
static const char *tls_ctx_ssl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();

    if (e == 0)
        snprintf(buf, len, "unknown OpenSSL error");
    else
        ERR_error_string_n(e, buf, len);
    ERR_clear_error();
    return buf;
}

/* Never prompt for a passphrase: an encrypted key is refused. */
static int tls_ctx_no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

int tls_ctx_load_store(X509_STORE *store, const char *root_pem,
                       struct err *err)
{
    X509 *x = NULL;
    BIO *bio;
    int n = 0;
    int rv = 0;

    if (root_pem == NULL || root_pem[0] == '\0')
        return err_set(err, ERR_INVALID, "no root CA certificate given");
    bio = BIO_new_mem_buf(root_pem, -1);
    if (bio == NULL)
        return err_set(err, ERR_INTERNAL, "out of memory in OpenSSL");
    for (;;) {
        x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (x == NULL)
            break;
        if (X509_STORE_add_cert(store, x) != 1) {
            X509_free(x);
            rv = err_set(err, ERR_INTERNAL, "cannot add root certificate");
            goto err_after_bio;
        }
        X509_free(x);
        n++;
    }
    ERR_clear_error(); /* the end of the PEM is reported as an error */
    if (n == 0)
        rv = err_set(err, ERR_INVALID,
                     "root CA bundle holds no PEM certificate");
err_after_bio:
    BIO_free(bio);
    return rv;
}

static int tls_ctx_load_chain(SSL_CTX *sc, const char *cert_pem,
                              const char *key_pem, struct err *err)
{
    char why[256];
    EVP_PKEY *key = NULL;
    X509 *x = NULL;
    BIO *bio;
    int rv = 0;

    bio = BIO_new_mem_buf(cert_pem, -1);
    if (bio == NULL)
        return err_set(err, ERR_INTERNAL, "out of memory in OpenSSL");
    x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (x == NULL) {
        ERR_clear_error();
        rv = err_set(err, ERR_INVALID,
                     "node certificate holds no PEM certificate");
        goto err_after_bio;
    }
    if (SSL_CTX_use_certificate(sc, x) != 1) {
        rv = err_set(err, ERR_INVALID, "node certificate refused: %s",
                     tls_ctx_ssl_reason(why, sizeof(why)));
        goto err_after_leaf;
    }
    /* the rest of the PEM: intermediates, sent along with the leaf */
    for (;;) {
        X509 *ic = PEM_read_bio_X509(bio, NULL, NULL, NULL);

        if (ic == NULL)
            break;
        if (SSL_CTX_add0_chain_cert(sc, ic) != 1) {
            X509_free(ic);
            rv = err_set(err, ERR_INVALID, "intermediate refused: %s",
                         tls_ctx_ssl_reason(why, sizeof(why)));
            goto err_after_leaf;
        }
    }
    ERR_clear_error();
    BIO_free(bio);
    bio = BIO_new_mem_buf(key_pem, -1);
    if (bio == NULL) {
        rv = err_set(err, ERR_INTERNAL, "out of memory in OpenSSL");
        goto err_after_leaf;
    }
    key = PEM_read_bio_PrivateKey(bio, NULL, tls_ctx_no_password, NULL);
    if (key == NULL) {
        ERR_clear_error();
        rv = err_set(err, ERR_INVALID,
                     "node key is not an unencrypted PEM private key");
        goto err_after_bio;
    }
    if (SSL_CTX_use_PrivateKey(sc, key) != 1 ||
        SSL_CTX_check_private_key(sc) != 1) {
        ERR_clear_error();
        rv = err_set(err, ERR_INVALID,
                     "node key does not match the node certificate");
    }
    EVP_PKEY_free(key);
err_after_leaf:
    X509_free(x);
err_after_bio:
    BIO_free(bio);
    return rv;
}

/* Server: pick the first of our protocols that the client offers; none is
 * a fatal no_application_protocol alert. */
static int tls_ctx_alpn_select(SSL *ssl, const unsigned char **out,
                               unsigned char *outlen,
                               const unsigned char *in, unsigned int inlen,
                               void *arg)
{
    struct tls_ctx *ctx = arg;
    unsigned char *sel = NULL;
    int rv;

    (void)ssl;
    rv = SSL_select_next_proto(&sel, outlen, ctx->alpn,
                               (unsigned)ctx->alpn_len, in, inlen);
    if (rv != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* A new SSL_CTX for ctx's role and settings with this material. */
static int tls_ctx_build(struct tls_ctx *ctx, const char *root_pem,
                         const char *cert_pem, const char *key_pem,
                         SSL_CTX **out, struct err *err)
{
    char why[256];
    SSL_CTX *sc;
    int rv;

    sc = SSL_CTX_new(ctx->is_server ? TLS_server_method()
                                    : TLS_client_method());
    if (sc == NULL)
        return err_set(err, ERR_INTERNAL, "SSL_CTX_new: %s",
                       tls_ctx_ssl_reason(why, sizeof(why)));
    if (SSL_CTX_set_min_proto_version(sc, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(sc, TLS1_3_VERSION) != 1) {
        rv = err_set(err, ERR_INTERNAL, "cannot select TLS 1.3: %s",
                     tls_ctx_ssl_reason(why, sizeof(why)));
        goto err_after_new;
    }
    SSL_CTX_set_mode(sc, SSL_MODE_RELEASE_BUFFERS);
    if (!(ctx->insecure && !ctx->is_server)) {
        rv = tls_ctx_load_store(SSL_CTX_get_cert_store(sc), root_pem,
                                err);
        if (rv != 0)
            goto err_after_new;
    }
    if (cert_pem != NULL || key_pem != NULL) {
        if (cert_pem == NULL || key_pem == NULL) {
            rv = err_set(err, ERR_INVALID,
                         "a node certificate needs its key and vice versa");
            goto err_after_new;
        }
        rv = tls_ctx_load_chain(sc, cert_pem, key_pem, err);
        if (rv != 0)
            goto err_after_new;
    } else if (ctx->is_server) {
        rv = err_set(err, ERR_INVALID,
                     "a TLS server needs a certificate and a key");
        goto err_after_new;
    }
    if (ctx->is_server) {
        /* VerifyClientCertIfGiven: no certificate is fine, a bad one is
         * not. */
        SSL_CTX_set_verify(sc, SSL_VERIFY_PEER, NULL);
        /* ctx outlives every handshake of its listeners (the only
         * time the callback runs: TLS 1.3 has no renegotiation) */
        SSL_CTX_set_alpn_select_cb(sc, tls_ctx_alpn_select, ctx);
        /* No resumption (every connection shows its certificate), but
         * one stateless ticket is always sent: it tells a client that we
         * accepted its certificate (see tls_stream_dial). */
        SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_num_tickets(sc, 1);
    } else {
        SSL_CTX_set_verify(sc, ctx->insecure ? SSL_VERIFY_NONE
                                             : SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_CLIENT |
                                           SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(sc, tls_stream_on_new_session);
    }
    *out = sc;
    return 0;

err_after_new:
    SSL_CTX_free(sc);
    return rv;
}

static int tls_ctx_set_alpn(struct tls_ctx *ctx, const char *const *alpn,
                            size_t n_alpn, struct err *err)
{
    size_t total = 0;
    size_t i;
    size_t off = 0;

    if (n_alpn == 0 || n_alpn > TLS_CTX_ALPN_MAX)
        return err_set(err, ERR_INVALID,
                       "a TLS server needs 1 to %d ALPN protocols",
                       TLS_CTX_ALPN_MAX);
    for (i = 0; i < n_alpn; i++) {
        size_t n = alpn[i] != NULL ? strlen(alpn[i]) : 0;

        if (n == 0 || n > TLS_CTX_NAME_MAX)
            return err_set(err, ERR_INVALID,
                           "ALPN protocol %zu is empty or too long", i);
        total += 1 + n;
    }
    ctx->alpn = xmalloc(total);
    for (i = 0; i < n_alpn; i++) {
        size_t n = strlen(alpn[i]);

        ctx->alpn[off] = (unsigned char)n;
        memcpy(ctx->alpn + off + 1, alpn[i], n);
        off += 1 + n;
    }
    ctx->alpn_len = total;
    return 0;
}

void tls_ctx_preload(void)
{
    SSL_CTX *sc;

    /* The configuration and default provider... */
    if (OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, NULL) != 1) {
        ERR_clear_error();
        return;
    }
    /* ...and the algorithms a context fetches (ciphers, groups, signature
     * schemes), which OpenSSL then keeps cached for every later one. */
    sc = SSL_CTX_new(TLS_client_method());
    SSL_CTX_free(sc);
    ERR_clear_error();
}

int tls_ctx_new(const struct tls_ctx_config *cfg, struct tls_ctx **out,
                struct err *err)
{
    struct tls_ctx *ctx;
    int rv;

    ctx = xcalloc(1, sizeof(*ctx));
    ctx->is_server = cfg->is_server;
    ctx->insecure = !cfg->is_server && cfg->insecure;
    if (cfg->is_server && cfg->insecure) {
        rv = err_set(err, ERR_INVALID, "a TLS server cannot be insecure");
        goto err_after_alloc;
    }
    if (cfg->is_server) {
        rv = tls_ctx_set_alpn(ctx, cfg->alpn, cfg->n_alpn, err);
        if (rv != 0)
            goto err_after_alloc;
    } else if (!ctx->insecure && cfg->verify_name != NULL) {
        if (cfg->verify_name[0] == '\0' ||
            strlen(cfg->verify_name) > TLS_CTX_NAME_MAX) {
            rv = err_set(err, ERR_INVALID,
                         "TLS server name is empty or too long");
            goto err_after_alloc;
        }
        ctx->verify_name = xstrdup(cfg->verify_name);
    }
    rv = tls_ctx_build(ctx, cfg->root_pem, cfg->cert_pem, cfg->key_pem,
                       &ctx->ssl_ctx, err);
    if (rv != 0)
        goto err_after_alloc;
    *out = ctx;
    return 0;

err_after_alloc:
    tls_ctx_free(ctx);
    return rv;
}

int tls_ctx_reload(struct tls_ctx *ctx, const char *root_pem,
                   const char *cert_pem, const char *key_pem,
                   struct err *err)
{
    SSL_CTX *sc = NULL;
    int rv;

    rv = tls_ctx_build(ctx, root_pem, cert_pem, key_pem, &sc, err);
    if (rv != 0)
        return rv;
    /* SSLs made from the old one keep it alive through their reference */
    SSL_CTX_free(ctx->ssl_ctx);
    ctx->ssl_ctx = sc;
    return 0;
}

void tls_ctx_free(struct tls_ctx *ctx)
{
    if (ctx == NULL)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx->verify_name);
    free(ctx->alpn);
    free(ctx);
}

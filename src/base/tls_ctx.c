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

/* The material of a context, parsed once: several contexts built from it
 * share it (OpenSSL 3 takes about 0.7 ms to decode a PEM key). */
struct tls_ctx_material
{
    X509_STORE *store;      /* roots; NULL for an insecure client */
    X509 *leaf;             /* node certificate, or NULL */
    STACK_OF(X509) *chain;  /* intermediates after the leaf */
    EVP_PKEY *key;          /* the leaf's key, or NULL */
};

static void tls_ctx_material_release(struct tls_ctx_material *m)
{
    X509_STORE_free(m->store);
    X509_free(m->leaf);
    sk_X509_pop_free(m->chain, X509_free);
    EVP_PKEY_free(m->key);
    memset(m, 0, sizeof(*m));
}

static int tls_ctx_material_load(struct tls_ctx_material *m, bool want_root,
                                 const char *root_pem, const char *cert_pem,
                                 const char *key_pem, struct err *err)
{
    BIO *bio;
    int rv = 0;

    memset(m, 0, sizeof(*m));
    if (want_root) {
        m->store = X509_STORE_new();
        if (m->store == NULL)
            return err_set(err, ERR_INTERNAL, "out of memory in OpenSSL");
        rv = tls_ctx_load_store(m->store, root_pem, err);
        if (rv != 0)
            goto err;
    }
    if (cert_pem == NULL && key_pem == NULL)
        return 0;
    if (cert_pem == NULL || key_pem == NULL) {
        rv = err_set(err, ERR_INVALID,
                     "a node certificate needs its key and vice versa");
        goto err;
    }
    bio = BIO_new_mem_buf(cert_pem, -1);
    if (bio == NULL) {
        rv = err_set(err, ERR_INTERNAL, "out of memory in OpenSSL");
        goto err;
    }
    m->leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (m->leaf == NULL) {
        ERR_clear_error();
        BIO_free(bio);
        rv = err_set(err, ERR_INVALID,
                     "node certificate holds no PEM certificate");
        goto err;
    }
    /* the rest of the PEM: intermediates, sent along with the leaf */
    m->chain = sk_X509_new_null();
    for (;;) {
        X509 *ic = PEM_read_bio_X509(bio, NULL, NULL, NULL);

        if (ic == NULL)
            break;
        if (m->chain == NULL || sk_X509_push(m->chain, ic) <= 0) {
            X509_free(ic);
            BIO_free(bio);
            rv = err_set(err, ERR_INTERNAL, "out of memory in OpenSSL");
            goto err;
        }
    }
    ERR_clear_error();
    BIO_free(bio);
    bio = BIO_new_mem_buf(key_pem, -1);
    if (bio == NULL) {
        rv = err_set(err, ERR_INTERNAL, "out of memory in OpenSSL");
        goto err;
    }
    m->key = PEM_read_bio_PrivateKey(bio, NULL, tls_ctx_no_password, NULL);
    BIO_free(bio);
    if (m->key == NULL) {
        ERR_clear_error();
        rv = err_set(err, ERR_INVALID,
                     "node key is not an unencrypted PEM private key");
        goto err;
    }
    return 0;

err:
    tls_ctx_material_release(m);
    return rv;
}

/* Put m's leaf, intermediates and key in sc. */
static int tls_ctx_material_use(SSL_CTX *sc, const struct tls_ctx_material *m,
                                struct err *err)
{
    char why[256];
    int i;

    if (SSL_CTX_use_certificate(sc, m->leaf) != 1)
        return err_set(err, ERR_INVALID, "node certificate refused: %s",
                       tls_ctx_ssl_reason(why, sizeof(why)));
    for (i = 0; i < sk_X509_num(m->chain); i++) {
        if (SSL_CTX_add1_chain_cert(sc, sk_X509_value(m->chain, i)) != 1)
            return err_set(err, ERR_INVALID, "intermediate refused: %s",
                           tls_ctx_ssl_reason(why, sizeof(why)));
    }
    if (SSL_CTX_use_PrivateKey(sc, m->key) != 1 ||
        SSL_CTX_check_private_key(sc) != 1) {
        ERR_clear_error();
        return err_set(err, ERR_INVALID,
                       "node key does not match the node certificate");
    }
    return 0;
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
static int tls_ctx_build(struct tls_ctx *ctx, const struct tls_ctx_material *m,
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
    if (m->store != NULL && !(ctx->insecure && !ctx->is_server))
        SSL_CTX_set1_cert_store(sc, m->store);
    if (m->leaf != NULL) {
        rv = tls_ctx_material_use(sc, m, err);
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

/* ctx without its SSL_CTX: role, verify name and ALPN from cfg. */
static int tls_ctx_setup(struct tls_ctx *ctx, const struct tls_ctx_config *cfg,
                         struct err *err)
{
    ctx->is_server = cfg->is_server;
    ctx->insecure = !cfg->is_server && cfg->insecure;
    if (cfg->is_server && cfg->insecure)
        return err_set(err, ERR_INVALID, "a TLS server cannot be insecure");
    if (cfg->is_server)
        return tls_ctx_set_alpn(ctx, cfg->alpn, cfg->n_alpn, err);
    if (!ctx->insecure && cfg->verify_name != NULL) {
        if (cfg->verify_name[0] == '\0' ||
            strlen(cfg->verify_name) > TLS_CTX_NAME_MAX)
            return err_set(err, ERR_INVALID,
                           "TLS server name is empty or too long");
        ctx->verify_name = xstrdup(cfg->verify_name);
    }
    return 0;
}

static bool tls_ctx_wants_root(const struct tls_ctx_config *cfg)
{
    return cfg->is_server || !cfg->insecure;
}

static bool tls_ctx_same_pem(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int tls_ctx_new_shared(const struct tls_ctx_config *cfgs, size_t n,
                       struct tls_ctx **out, struct err *err)
{
    struct tls_ctx_material m;
    bool want_root = false;
    size_t i;
    int rv;

    for (i = 0; i < n; i++) {
        out[i] = NULL;
        if (!tls_ctx_same_pem(cfgs[i].root_pem, cfgs[0].root_pem) ||
            !tls_ctx_same_pem(cfgs[i].cert_pem, cfgs[0].cert_pem) ||
            !tls_ctx_same_pem(cfgs[i].key_pem, cfgs[0].key_pem))
            return err_set(err, ERR_INVALID,
                           "shared TLS contexts need the same material");
        want_root = want_root || tls_ctx_wants_root(&cfgs[i]);
    }
    rv = tls_ctx_material_load(&m, want_root, cfgs[0].root_pem,
                               cfgs[0].cert_pem, cfgs[0].key_pem, err);
    if (rv != 0)
        return rv;
    for (i = 0; i < n && rv == 0; i++) {
        out[i] = xcalloc(1, sizeof(*out[i]));
        rv = tls_ctx_setup(out[i], &cfgs[i], err);
        if (rv == 0)
            rv = tls_ctx_build(out[i], &m, &out[i]->ssl_ctx, err);
    }
    tls_ctx_material_release(&m);
    if (rv == 0)
        return 0;
    for (i = 0; i < n; i++) {
        tls_ctx_free(out[i]);
        out[i] = NULL;
    }
    return rv;
}

int tls_ctx_new(const struct tls_ctx_config *cfg, struct tls_ctx **out,
                struct err *err)
{
    return tls_ctx_new_shared(cfg, 1, out, err);
}

int tls_ctx_reload(struct tls_ctx *ctx, const char *root_pem,
                   const char *cert_pem, const char *key_pem,
                   struct err *err)
{
    struct tls_ctx_material m;
    SSL_CTX *sc = NULL;
    int rv;

    rv = tls_ctx_material_load(&m, !(ctx->insecure && !ctx->is_server),
                               root_pem, cert_pem, key_pem, err);
    if (rv != 0)
        return rv;
    rv = tls_ctx_build(ctx, &m, &sc, err);
    tls_ctx_material_release(&m);
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

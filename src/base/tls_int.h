/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared between tls_ctx.c and tls_stream.c only: the context's insides,
 * so that a stream can make its SSL from the current SSL_CTX and apply the
 * per-connection verification settings.
 */
#ifndef SHOAL_BASE_TLS_INT_H
#define SHOAL_BASE_TLS_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "base/tls_ctx.h"

struct tls_ctx
{
    SSL_CTX *ssl_ctx;       /* owned (one reference); SSLs hold their own */
    bool is_server;
    bool insecure;
    char *verify_name;      /* owned, or NULL */
    unsigned char *alpn;    /* owned, ALPN wire format (server), or NULL */
    size_t alpn_len;
};

/* Add every certificate of the PEM bundle root_pem to store as a trust
 * anchor. 0, or -ERR_INVALID when it holds none (-ERR_INTERNAL if OpenSSL
 * fails). */
int tls_ctx_load_store(X509_STORE *store, const char *root_pem,
                       struct err *err);

/* Client SSL_CTX new-session callback (tls_stream.c): the server sent a
 * ticket, so it accepted our certificate. Keeps no reference; returns 0. */
int tls_stream_on_new_session(SSL *ssl, SSL_SESSION *sess);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mutual TLS for the cluster port. tls_ctx (tls_ctx.c) is a TLS 1.3 context
 * built from the swarm PEM material (root bundle, node chain, node key) with
 * the swarm's verification rules and ALPN; tls_stream (tls_stream.c) runs
 * it over a libuv TCP handle and hands out struct stream (base/stream.h)
 * whose peer identity comes from the verified certificate only.
 */
#ifndef SHOAL_BASE_TLS_CTX_H
#define SHOAL_BASE_TLS_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "base/err.h"
#include "base/stream.h"

#define TLS_CTX_ALPN_MAX 8        /* protocols a server may accept */
#define TLS_CTX_NAME_MAX 255      /* ALPN names and server names */
#define TLS_STREAM_HANDSHAKE_MS 10000 /* default handshake deadline */

/*
 * What a context is made of. All strings are borrowed for the call only
 * (tls_ctx_new copies what it keeps).
 *
 * Server (is_server): cert_pem and key_pem are required, root_pem is
 * required. A client certificate is optional; when one is presented it
 * must chain to root_pem or the handshake fails (Go's
 * VerifyClientCertIfGiven). alpn lists the accepted protocols in order of
 * preference; a client offering none of them (or no ALPN at all) is
 * refused with the no_application_protocol alert. n_alpn must be >= 1.
 *
 * Client: either insecure (no verification at all: for fetching the root
 * CA before anything can be verified; root_pem and verify_name are then
 * ignored), or root_pem is required and the server's chain must verify
 * against it; when verify_name is set (e.g. CA_ROLE_MANAGER "swarm-manager")
 * the server certificate must also carry that DNS name in its SANs, and it
 * is sent as SNI. cert_pem/key_pem are optional and go together (a client
 * certificate for mutual TLS). alpn is ignored (each dial names its own).
 */
struct tls_ctx_config
{
    bool is_server;
    bool insecure;           /* client only: skip all verification */
    const char *root_pem;    /* trusted roots (bundle) */
    const char *cert_pem;    /* leaf followed by intermediates, or NULL */
    const char *key_pem;     /* key of cert_pem's leaf, or NULL */
    const char *verify_name; /* client only: DNS SAN required, or NULL */
    const char *const *alpn; /* server only: accepted protocols */
    size_t n_alpn;
};

struct tls_ctx;

/*
 * Do OpenSSL's one-time work now (its configuration, providers and the
 * algorithms every context fetches: a few ms on first use), so that the
 * first handshake of a join does not pay it. Optional, idempotent, never
 * fails (a failure here shows again, with its reason, at tls_ctx_new).
 * The daemon calls it at start.
 */
void tls_ctx_preload(void);

/*
 * Build a context. Returns 0 with *out owned by the caller (release with
 * tls_ctx_free), or -ERR_INVALID naming what is wrong with the input (no
 * certificate in root_pem, a key that is not the certificate's, a missing
 * field, an ALPN name longer than TLS_CTX_NAME_MAX...) or -ERR_INTERNAL if
 * OpenSSL fails; *out is untouched on error.
 */
int tls_ctx_new(const struct tls_ctx_config *cfg, struct tls_ctx **out,
                struct err *err);

/*
 * tls_ctx_new for n configurations with the same root_pem, cert_pem and
 * key_pem, parsed once (a PEM key costs OpenSSL 3 about 0.7 ms): out[0..n)
 * all owned by the caller on 0, all NULL on failure.
 */
int tls_ctx_new_shared(const struct tls_ctx_config *cfgs, size_t n,
                       struct tls_ctx **out, struct err *err);

/*
 * Replace the root bundle, certificate chain and key in place (renewal,
 * root rotation); the role, ALPN list, verify name and insecure flag stay.
 * Connections accepted or dialled afterwards use the new material;
 * established ones and handshakes in progress keep the old. cert_pem and
 * key_pem may be NULL only on a client. Returns 0, or the errors of
 * tls_ctx_new, in which case ctx is unchanged.
 */
int tls_ctx_reload(struct tls_ctx *ctx, const char *root_pem,
                   const char *cert_pem, const char *key_pem,
                   struct err *err);

/* Release a context. Streams already established do not need it any more;
 * listeners made from it must be closed first (see tls_stream_listen).
 * NULL is a no-op. */
void tls_ctx_free(struct tls_ctx *ctx);

/* ---- TLS streams (tls_stream.c) ------------------------------------- */

/*
 * Streams follow base/stream.h. Specifics: a write is encrypted before
 * stream_write returns (any size; OpenSSL cuts records) and its callback
 * fires when the ciphertext is handed to the kernel. Both a close_notify
 * and a bare TCP EOF from the peer read as UV_EOF; a TLS error reads as
 * UV_EPROTO; read_start after that returns UV_EINVAL. stream_close sends
 * close_notify if the socket takes it at once, then cancels pending
 * writes (UV_ECANCELED).
 */

struct tls_stream_listener;

/*
 * A handshake completed on a listener. s is a new stream owned by the user
 * (close it with stream_close); s->peer is filled (verified=false and empty
 * names when the client showed no certificate). alpn is the protocol the
 * server chose, borrowed for the call. Reading starts only when the user
 * calls stream_read_start.
 */
typedef void (*tls_stream_accept_cb)(struct tls_stream_listener *l,
                                     struct stream *s, const char *alpn);
/* The listener and every pending handshake are closed; l's memory is
 * released right after this returns. */
typedef void (*tls_stream_listener_close_cb)(struct tls_stream_listener *l);

/*
 * Listen on addr ("ip:port", "[ipv6]:port"; port 0 picks a free one, see
 * tls_stream_listener_port) with a server ctx. Every accepted connection
 * handshakes within handshake_ms (0 means TLS_STREAM_HANDSHAKE_MS); a
 * handshake that fails or times out is logged at debug level and dropped
 * without the user hearing of it. ctx is borrowed and must outlive the
 * listener (tls_ctx_reload on it is fine). data is the user's, returned
 * by tls_stream_listener_data. Returns 0 with *out (closed with
 * tls_stream_listener_close), -ERR_INVALID for a bad address or a client
 * ctx, or -ERR_UNAVAILABLE if the address cannot be bound (message says
 * why, e.g. "address already in use"); *out untouched on error.
 */
int tls_stream_listen(uv_loop_t *loop, struct tls_ctx *ctx, const char *addr,
                      uint64_t handshake_ms, tls_stream_accept_cb cb,
                      void *data, struct tls_stream_listener **out,
                      struct err *err);

/* The bound port (useful after listening on port 0). */
int tls_stream_listener_port(const struct tls_stream_listener *l);

/* The data pointer given to tls_stream_listen. */
void *tls_stream_listener_data(const struct tls_stream_listener *l);

/*
 * Stop listening and abort the pending handshakes (their connections are
 * closed, no accept callback fires for them). Streams already handed to
 * the user are not affected. cb (may be NULL) fires exactly once, from
 * the loop, after every handle of the listener is closed. Calling it twice
 * is a bug.
 */
void tls_stream_listener_close(struct tls_stream_listener *l,
                               tls_stream_listener_close_cb cb);

struct tls_stream_dial_req;

/*
 * The dial finished. On success status is 0 and s is a new stream owned
 * by the user, with s->peer filled from the server's verified certificate
 * (all empty when ctx is insecure). On failure status is -code, s is NULL
 * and req->err says what happened, naming the address, e.g.
 * "connect to 10.0.0.2:2377: connection refused" (-ERR_UNAVAILABLE),
 * "TLS handshake with 10.0.0.2:2377: certificate signed by unknown
 * authority" (-ERR_UNAUTHORIZED), "...: remote certificate is not a
 * manager" (-ERR_UNAUTHORIZED), "...: timed out after 10000 ms"
 * (-ERR_UNAVAILABLE), "...: canceled" (-ERR_CANCELED).
 * Fires exactly once per successful tls_stream_dial, when no handle of the
 * dial is open any more; req may be reused or freed in the callback.
 */
typedef void (*tls_stream_dial_cb)(struct tls_stream_dial_req *req,
                                   int status, struct stream *s);

/* A dial in flight. Owned by the caller; must stay valid until cb. */
struct tls_stream_dial_req
{
    void *data;            /* user's */
    tls_stream_dial_cb cb; /* set by tls_stream_dial */
    struct err err;        /* filled before cb on failure */
    void *impl;            /* private */
};

/*
 * Connect to addr ("ip:port" or "[ipv6]:port", literals only), then
 * handshake offering the single protocol alpn, the whole within
 * timeout_ms (0 means TLS_STREAM_HANDSHAKE_MS). ctx must be a client
 * context; it is borrowed for the call only. The dial succeeds only once
 * the server has accepted our certificate too: with TLS 1.3 a client
 * finishes its handshake before the server has checked it, so the dial
 * waits for the server's first post-handshake record (shoal servers always
 * send a session ticket), and a refusal ("server refused our certificate:
 * ...") is reported here rather than on the first read.
 * Returns 0 and cb fires later exactly once, or (cb never fires, err set)
 * -ERR_INVALID for a bad address, a server ctx or an empty alpn, or
 * -ERR_INTERNAL if OpenSSL cannot make a session.
 */
int tls_stream_dial(uv_loop_t *loop, struct tls_ctx *ctx, const char *addr,
                    const char *alpn, uint64_t timeout_ms,
                    struct tls_stream_dial_req *req, tls_stream_dial_cb cb,
                    struct err *err);

/*
 * Verify, after the fact, the server of an open stream dialled with an
 * insecure context (its root was not known yet: see cluster_join.c). The
 * certificate chain it presented in the handshake, whose leaf key it
 * proved to hold, must chain to root_pem (the only trust anchor) as a
 * verified dial's would, the leaf must carry the DNS SAN verify_name and
 * the OU role (each when not NULL). s->peer is left as it is. Returns 0;
 * -ERR_UNAUTHORIZED with a verified dial's texts ("TLS handshake with
 * ADDR: certificate signed by unknown authority", "...: remote
 * certificate is not valid for swarm-ca", ...); -ERR_INVALID for a
 * stream that is not such a stream (or NULL), or a root_pem without
 * certificates; -ERR_INTERNAL if OpenSSL fails.
 */
int tls_stream_verify_peer(struct stream *s, const char *root_pem,
                           const char *verify_name, const char *role,
                           struct err *err);

/* Abort a dial in flight: cb fires (later, from the loop) with
 * -ERR_CANCELED, unless it already fired, in which case nothing happens.
 * A dial that already handed out its stream is not affected. */
void tls_stream_dial_cancel(struct tls_stream_dial_req *req);

#endif

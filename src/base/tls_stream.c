/* SPDX-License-Identifier: Apache-2.0 */
/*
 * struct stream over TLS: OpenSSL runs over two memory BIOs on a uv_tcp_t.
 * Ciphertext from uv_read goes into the in BIO, then SSL_read is drained
 * until it wants more; SSL_write fills the out BIO, which is flushed with
 * uv_write. Any SSL call may produce output (handshake, alerts, key
 * updates), so every one is followed by a flush. Plus the listener (accept
 * and handshake with a deadline) and the dialer (connect, handshake, wait
 * for the server to accept our certificate).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/tls_ctx.h"
#include "base/tls_int.h"

#define TLS_STREAM__READ_CHUNK 16384
#define TLS_STREAM__WRITE_CHUNK (1024 * 1024)
#define TLS_STREAM__ADDR_LEN (INET6_ADDRSTRLEN + 9)
#define TLS_STREAM__QUIET_MS 1000 /* between warnings for non-TLS peers */

enum tls_stream_state {
    TLS_STREAM_CONNECTING, /* dial: TCP connect in progress */
    TLS_STREAM_HANDSHAKE,  /* SSL handshake in progress */
    TLS_STREAM_CONFIRM,    /* dial: waiting for the server's first record */
    TLS_STREAM_OPEN,       /* handed to the user */
    TLS_STREAM_CLOSING,    /* handles closing; memory goes when both are */
};

struct tls_stream
{
    struct stream base;
    uv_tcp_t tcp;
    uv_timer_t timer;           /* handshake deadline, then deferred drain */
    uv_connect_t connect;
    SSL *ssl;                   /* owned */
    BIO *in;                    /* owned by ssl: ciphertext from the peer */
    BIO *out;                   /* owned by ssl: ciphertext to the peer */
    enum tls_stream_state state;
    bool insecure;              /* client ctx without verification */
    bool confirmed;             /* dial: the server sent a ticket */
    bool reading;               /* the user wants reads */
    bool tcp_reading;           /* uv_read_start is in effect */
    bool read_done;             /* EOF or an error was delivered */
    bool was_open;              /* reached TLS_STREAM_OPEN */
    int tcp_status;             /* UV_EOF or error seen on the socket */
    int n_handles;              /* handles not yet closed */
    char addr[TLS_STREAM__ADDR_LEN]; /* "ip:port" of the peer */
    struct tls_stream_listener *listener; /* borrowed, while pending */
    struct tls_stream *next;    /* listener's pending list */
    struct tls_stream *prev;
    struct tls_stream_dial_req *req; /* borrowed, while dialling */
    uint64_t timeout_ms;        /* for messages */
    stream_read_cb read_cb;
    stream_close_cb close_cb;
    void *close_data;
};

struct tls_stream_write
{
    uv_write_t req;
    struct tls_stream *s;
    stream_write_cb cb;         /* NULL for our own output */
    void *data;
    char bytes[];               /* ciphertext */
};

struct tls_stream_listener
{
    uv_tcp_t tcp;
    struct tls_ctx *ctx;        /* borrowed, outlives the listener */
    uint64_t handshake_ms;
    tls_stream_accept_cb cb;
    tls_stream_listener_close_cb close_cb;
    void *data;                 /* user's */
    struct tls_stream *pending; /* handshakes in progress, owned */
    int port;
    bool proto_warned;          /* a protocol refusal was logged as such */
    uint64_t proto_warned_at;   /* uv_now of that line */
    unsigned proto_quiet;       /* refusals logged at debug since */
};

static void tls_stream_flush_final(struct tls_stream *s);
static void tls_stream_advance(struct tls_stream *s);

/* ---- addresses ------------------------------------------------------- */

/* "ip:port" or "[ipv6]:port" -> sockaddr. 0 or -ERR_INVALID. */
static int tls_stream_parse_addr(const char *addr,
                                 struct sockaddr_storage *out,
                                 struct err *err)
{
    char host[INET6_ADDRSTRLEN + 16];
    const char *colon;
    const char *h = addr;
    size_t hlen;
    char *end;
    long port;

    if (addr == NULL)
        return err_set(err, ERR_INVALID, "no address given");
    colon = strrchr(addr, ':');
    if (colon == NULL || colon[1] == '\0')
        goto err_bad;
    hlen = (size_t)(colon - addr);
    if (addr[0] == '[') {
        if (hlen < 2 || addr[hlen - 1] != ']')
            goto err_bad;
        h = addr + 1;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof(host))
        goto err_bad;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535)
        goto err_bad;
    memset(out, 0, sizeof(*out));
    if (addr[0] == '[') {
        if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)out) != 0)
            goto err_bad;
    } else if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)out) !=
               0) {
        goto err_bad;
    }
    return 0;

err_bad:
    return err_set(err, ERR_INVALID,
                   "invalid address \"%s\": want ip:port or [ipv6]:port",
                   addr != NULL ? addr : "");
}

static void tls_stream_format_addr(const struct sockaddr_storage *ss,
                                   char *out, size_t len)
{
    char ip[INET6_ADDRSTRLEN];

    out[0] = '\0';
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

        uv_ip4_name(sin, ip, sizeof(ip));
        snprintf(out, len, "%s:%d", ip, ntohs(sin->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

        uv_ip6_name(sin6, ip, sizeof(ip));
        snprintf(out, len, "[%s]:%d", ip, ntohs(sin6->sin6_port));
    }
}

/* ---- life cycle ------------------------------------------------------- */

static void tls_stream_listener_unlink(struct tls_stream *s)
{
    struct tls_stream_listener *l = s->listener;

    if (l == NULL)
        return;
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        l->pending = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    s->next = NULL;
    s->prev = NULL;
    s->listener = NULL;
}

static void tls_stream_on_handle_closed(uv_handle_t *h)
{
    struct tls_stream *s = h->data;
    struct tls_stream_dial_req *req = s->req;

    if (--s->n_handles > 0)
        return;
    if (req != NULL) {
        req->impl = NULL;
        req->cb(req, -req->err.code, NULL);
    }
    if (s->close_cb != NULL)
        s->close_cb(&s->base, s->close_data);
    SSL_free(s->ssl);
    free(s);
}

/* Close both handles; memory goes (and the dial or close callback fires)
 * when both are closed. Pending uv_writes complete with UV_ECANCELED. */
static void tls_stream_close_handles(struct tls_stream *s)
{
    if (s->state == TLS_STREAM_CLOSING)
        return;
    s->state = TLS_STREAM_CLOSING;
    s->reading = false;
    tls_stream_listener_unlink(s);
    tls_stream_flush_final(s);
    uv_close((uv_handle_t *)&s->timer, tls_stream_on_handle_closed);
    uv_close((uv_handle_t *)&s->tcp, tls_stream_on_handle_closed);
}

/* A client that does not speak our TLS (plain TCP, TLS 1.2, no ALPN) is
 * worth a warning too, but anyone can open connections for free: at most
 * one such line per TLS_STREAM__QUIET_MS and listener, the others at debug
 * and counted in the next warning. */
static void tls_stream_warn_proto(struct tls_stream_listener *l,
                                  const char *msg)
{
    uint64_t now = uv_now(l->tcp.loop);

    if (l->proto_warned && now - l->proto_warned_at < TLS_STREAM__QUIET_MS) {
        l->proto_quiet++;
        log_debug(LOG_TLS, "connection refused: %s", msg);
        return;
    }
    if (l->proto_quiet > 0)
        log_warn(LOG_TLS, "connection refused: %s (and %u more such "
                 "connections since the last warning)", msg, l->proto_quiet);
    else
        log_warn(LOG_TLS, "connection refused: %s", msg);
    l->proto_warned = true;
    l->proto_warned_at = now;
    l->proto_quiet = 0;
}

/* Abort a connection that was never handed to the user. For a dial the
 * message goes to req->err and the dial callback fires once closed. */
static void tls_stream_fail(struct tls_stream *s, int code, const char *fmt,
                            ...) PRINTF_LIKE(3, 4);
static void tls_stream_fail(struct tls_stream *s, int code, const char *fmt,
                            ...)
{
    char msg[ERR_MSG_LEN];
    va_list ap;

    if (s->state == TLS_STREAM_CLOSING)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (s->req != NULL)
        err_set(&s->req->err, code, "%s", msg);
    else if (code == ERR_UNAUTHORIZED)
        /* A refused certificate (another swarm's, expired, forged) is
         * worth an operator's attention; plain drops are not. */
        log_warn(LOG_TLS, "connection refused: %s", msg);
    else if (code == ERR_PROTO && s->listener != NULL)
        tls_stream_warn_proto(s->listener, msg);
    else
        log_debug(LOG_TLS, "connection dropped: %s", msg);
    tls_stream_close_handles(s);
}

static struct tls_stream *tls_stream_alloc(uv_loop_t *loop,
                                           struct tls_ctx *ctx,
                                           struct err *err)
{
    struct tls_stream *s;
    BIO *in = NULL;
    BIO *out = NULL;

    s = xcalloc(1, sizeof(*s));
    ERR_clear_error();
    s->ssl = SSL_new(ctx->ssl_ctx);
    in = BIO_new(BIO_s_mem());
    out = BIO_new(BIO_s_mem());
    if (s->ssl == NULL || in == NULL || out == NULL) {
        ERR_clear_error();
        BIO_free(in);
        BIO_free(out);
        SSL_free(s->ssl);
        free(s);
        err_set(err, ERR_INTERNAL, "cannot create a TLS session");
        return NULL;
    }
    /* an empty in BIO means "wait for more", never EOF */
    BIO_set_mem_eof_return(in, -1);
    SSL_set_bio(s->ssl, in, out);
    s->in = in;
    s->out = out;
    SSL_set_app_data(s->ssl, s);
    s->insecure = ctx->insecure;
    uv_tcp_init(loop, &s->tcp);
    uv_timer_init(loop, &s->timer);
    s->tcp.data = s;
    s->timer.data = s;
    s->n_handles = 2;
    return s;
}

/* ---- output ----------------------------------------------------------- */

static void tls_stream_on_write(uv_write_t *req, int status)
{
    struct tls_stream_write *w = (struct tls_stream_write *)req;

    if (status != 0 && status != UV_ECANCELED)
        log_debug(LOG_TLS, "write to %s: %s", w->s->addr,
                  uv_strerror(status));
    if (w->cb != NULL)
        w->cb(&w->s->base, status, w->data);
    free(w);
}

/* Send whatever OpenSSL has put in the out BIO. With cb, the write is the
 * user's and cb fires once the bytes are handed to the kernel (even if
 * there are none). 0 or a libuv error code (cb then does not fire). */
static int tls_stream_flush(struct tls_stream *s, stream_write_cb cb,
                            void *data)
{
    struct tls_stream_write *w;
    size_t pending = BIO_ctrl_pending(s->out);
    uv_buf_t b;
    int rv;

    if (pending == 0 && cb == NULL)
        return 0;
    w = xmalloc(sizeof(*w) + pending);
    w->s = s;
    w->cb = cb;
    w->data = data;
    if (pending > 0 &&
        BIO_read(s->out, w->bytes, (int)pending) != (int)pending)
        abort(); /* a memory BIO gives what it says it holds */
    b = uv_buf_init(w->bytes, (unsigned)pending);
    rv = uv_write(&w->req, (uv_stream_t *)&s->tcp, &b, 1,
                  tls_stream_on_write);
    if (rv != 0) {
        log_debug(LOG_TLS, "write to %s: %s", s->addr, uv_strerror(rv));
        free(w);
    }
    return rv;
}

/* Last words (an alert, close_notify) before closing: best effort, without
 * queueing (a queued write would be cancelled by the close anyway). */
static void tls_stream_flush_final(struct tls_stream *s)
{
    char buf[512];
    uv_buf_t b;
    int n;

    while (BIO_ctrl_pending(s->out) > 0) {
        n = BIO_read(s->out, buf, sizeof(buf));
        if (n <= 0)
            break;
        b = uv_buf_init(buf, (unsigned)n);
        if (uv_try_write((uv_stream_t *)&s->tcp, &b, 1) != n)
            break;
    }
    (void)BIO_reset(s->out);
}

/* ---- peer identity and errors ----------------------------------------- */

/* Copy one subject field; false if absent, malformed or too long. */
static bool tls_stream_name_field(X509_NAME *name, int nid, char *out,
                                  size_t len)
{
    unsigned char *utf8 = NULL;
    X509_NAME_ENTRY *e;
    int i;
    int n;
    bool ok = false;

    i = X509_NAME_get_index_by_NID(name, nid, -1);
    if (i < 0)
        return false;
    e = X509_NAME_get_entry(name, i);
    n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
    if (n > 0 && (size_t)n < len && strlen((char *)utf8) == (size_t)n) {
        memcpy(out, utf8, (size_t)n + 1);
        ok = true;
    }
    OPENSSL_free(utf8);
    return ok;
}

static void tls_stream_fill_peer(struct tls_stream *s)
{
    struct stream_peer *p = &s->base.peer;
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    X509 *x;
    X509_NAME *name;

    memset(p, 0, sizeof(*p));
    if (uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&ss, &len) == 0)
        tls_stream_format_addr(&ss, p->addr, sizeof(p->addr));
    x = SSL_get0_peer_certificate(s->ssl);
    if (x == NULL || s->insecure ||
        SSL_get_verify_result(s->ssl) != X509_V_OK)
        return;
    name = X509_get_subject_name(x);
    if (!tls_stream_name_field(name, NID_commonName, p->node_id,
                               sizeof(p->node_id)) ||
        !tls_stream_name_field(name, NID_organizationalUnitName, p->role,
                               sizeof(p->role)) ||
        !tls_stream_name_field(name, NID_organizationName, p->org,
                               sizeof(p->org))) {
        log_debug(LOG_TLS, "certificate of %s lacks a usable CN, OU or O",
                  s->addr);
        p->node_id[0] = '\0';
        p->role[0] = '\0';
        p->org[0] = '\0';
        return;
    }
    p->verified = true;
}

static bool tls_stream_is_unknown_authority(long vr)
{
    return vr == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
           vr == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
           vr == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
           vr == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
           vr == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE ||
           vr == X509_V_ERR_CERT_SIGNATURE_FAILURE;
}

/* A failed chain verification (vr) in words; host is the DNS name that
 * was required (or NULL), who "remote" or "client". */
static void tls_stream_verify_why(long vr, const char *host, const char *who,
                                  char *buf, size_t len)
{
    if (tls_stream_is_unknown_authority(vr)) {
        snprintf(buf, len, "certificate signed by unknown authority");
    } else if (vr == X509_V_ERR_CERT_HAS_EXPIRED ||
               vr == X509_V_ERR_CERT_NOT_YET_VALID) {
        snprintf(buf, len, "%s certificate has expired or is not yet valid",
                 who);
    } else if (vr == X509_V_ERR_HOSTNAME_MISMATCH) {
        if (host != NULL && strcmp(host, "swarm-manager") == 0)
            snprintf(buf, len, "remote certificate is not a manager");
        else
            snprintf(buf, len, "remote certificate is not valid for %s",
                     host != NULL ? host : "?");
    } else {
        snprintf(buf, len, "%s certificate refused: %s", who,
                 X509_verify_cert_error_string(vr));
    }
}

/* Why the handshake failed, in words; *code gets the err class. Reads and
 * clears the OpenSSL error queue. The peer's certificate as we judged it
 * comes first, then an alert the peer sent us. */
static void tls_stream_why(struct tls_stream *s, int ssl_err, char *buf,
                           size_t len, int *code)
{
    unsigned long e = ERR_peek_last_error();
    int reason = ERR_GET_REASON(e);
    long vr = SSL_get_verify_result(s->ssl);
    const char *who = s->req != NULL ? "remote" : "client";

    *code = ERR_UNAUTHORIZED;
    if (e != 0 && reason == SSL_R_CERTIFICATE_VERIFY_FAILED &&
        vr != X509_V_OK) {
        tls_stream_verify_why(vr, X509_VERIFY_PARAM_get0_host(
                                      SSL_get0_param(s->ssl), 0),
                              who, buf, len);
    } else if (reason == SSL_R_TLSV1_ALERT_UNKNOWN_CA) {
        snprintf(buf, len, "server refused our certificate: certificate "
                 "signed by unknown authority");
    } else if (reason == SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL) {
        *code = ERR_PROTO;
        snprintf(buf, len, "%s does not accept the requested protocol "
                 "(ALPN)", s->req != NULL ? "server" : "client");
    } else if (reason == SSL_R_NO_APPLICATION_PROTOCOL) {
        *code = ERR_PROTO;
        snprintf(buf, len, "no common application protocol (ALPN)");
    } else if (reason == SSL_R_WRONG_VERSION_NUMBER ||
               reason == SSL_R_UNSUPPORTED_PROTOCOL ||
               reason == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION) {
        *code = ERR_PROTO;
        snprintf(buf, len, "peer does not speak TLS 1.3");
    } else if (reason > SSL_AD_REASON_OFFSET &&
               reason < SSL_AD_REASON_OFFSET + 256) {
        snprintf(buf, len, "peer refused the handshake: %s",
                 SSL_alert_desc_string_long(reason - SSL_AD_REASON_OFFSET));
    } else if (e != 0 && ERR_reason_error_string(e) != NULL) {
        *code = ERR_PROTO;
        snprintf(buf, len, "%s", ERR_reason_error_string(e));
    } else {
        *code = ERR_PROTO;
        snprintf(buf, len, "protocol error (SSL error %d)", ssl_err);
    }
    ERR_clear_error();
}

static void tls_stream_fail_handshake(struct tls_stream *s, int ssl_err)
{
    char why[256];
    int code;

    tls_stream_why(s, ssl_err, why, sizeof(why), &code);
    tls_stream_fail(s, code, "TLS handshake with %s: %s", s->addr, why);
}

/* ---- reading ---------------------------------------------------------- */

static void tls_stream_alloc_cb(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    (void)h;
    b->base = xmalloc(n);
    b->len = n;
}

/* Tell the user the read side is over (UV_EOF or an error). */
static void tls_stream_read_end(struct tls_stream *s, int status)
{
    s->read_done = true;
    s->reading = false;
    if (s->tcp_reading) {
        uv_read_stop((uv_stream_t *)&s->tcp);
        s->tcp_reading = false;
    }
    s->read_cb(&s->base, status, NULL);
}

/* Hand out all the plaintext OpenSSL can give, until it wants more
 * ciphertext or the user stops reading (redis's trap: plaintext buffered
 * inside SSL is never signalled by the socket). */
static void tls_stream_drain(struct tls_stream *s)
{
    char buf[TLS_STREAM__READ_CHUNK];
    const char *why;
    int n;
    int e;

    while (s->state == TLS_STREAM_OPEN && s->reading && !s->read_done) {
        ERR_clear_error();
        n = SSL_read(s->ssl, buf, sizeof(buf));
        if (n > 0) {
            s->read_cb(&s->base, n, buf);
            continue;
        }
        e = SSL_get_error(s->ssl, n);
        /* a read can make output (key update, alerts) */
        tls_stream_flush(s, NULL, NULL);
        if (e == SSL_ERROR_WANT_READ) {
            if (s->tcp_status != 0)
                tls_stream_read_end(s, s->tcp_status);
            break;
        }
        if (e == SSL_ERROR_ZERO_RETURN) {
            tls_stream_read_end(s, UV_EOF);
            break;
        }
        why = ERR_reason_error_string(ERR_peek_last_error());
        log_debug(LOG_TLS, "read from %s: %s", s->addr,
                  why != NULL ? why : "TLS error");
        ERR_clear_error();
        tls_stream_read_end(s, UV_EPROTO);
        break;
    }
}

static void tls_stream_on_read(uv_stream_t *h, ssize_t n, const uv_buf_t *b)
{
    struct tls_stream *s = h->data;

    if (n > 0 && s->state != TLS_STREAM_CLOSING) {
        if (BIO_write(s->in, b->base, (int)n) != (int)n)
            abort(); /* a memory BIO takes everything or OOMs */
    }
    free(b->base);
    if (n == 0 || s->state == TLS_STREAM_CLOSING)
        return;
    if (n < 0) {
        s->tcp_status = (int)n;
        uv_read_stop(h);
        s->tcp_reading = false;
        if (s->state != TLS_STREAM_OPEN) {
            /* whatever arrived before the EOF may hold an alert */
            tls_stream_advance(s);
            if (s->state != TLS_STREAM_CLOSING && s->state !=
                                                      TLS_STREAM_OPEN)
                tls_stream_fail(s, ERR_UNAVAILABLE,
                                "TLS handshake with %s: %s", s->addr,
                                n == UV_EOF ? "connection closed by peer"
                                            : uv_strerror((int)n));
            return;
        }
    }
    tls_stream_advance(s);
}

/* ---- handshake -------------------------------------------------------- */

static void tls_stream_on_deadline(uv_timer_t *t)
{
    struct tls_stream *s = t->data;

    if (s->state == TLS_STREAM_CONNECTING)
        tls_stream_fail(s, ERR_UNAVAILABLE,
                        "connect to %s: timed out after %llu ms", s->addr,
                        (unsigned long long)s->timeout_ms);
    else
        tls_stream_fail(s, ERR_UNAVAILABLE,
                        "TLS handshake with %s: timed out after %llu ms",
                        s->addr, (unsigned long long)s->timeout_ms);
}

/* The handshake is done and accepted by both sides: give the stream to
 * its user. Reads wait for stream_read_start. */
static void tls_stream_open(struct tls_stream *s)
{
    struct tls_stream_listener *l = s->listener;
    struct tls_stream_dial_req *req = s->req;
    const unsigned char *alpn = NULL;
    unsigned alpn_len = 0;
    char proto[TLS_CTX_NAME_MAX + 1];

    uv_timer_stop(&s->timer);
    if (s->tcp_reading) {
        uv_read_stop((uv_stream_t *)&s->tcp);
        s->tcp_reading = false;
    }
    tls_stream_fill_peer(s);
    SSL_get0_alpn_selected(s->ssl, &alpn, &alpn_len);
    memcpy(proto, alpn, alpn_len);
    proto[alpn_len] = '\0';
    s->state = TLS_STREAM_OPEN;
    s->was_open = true;
    if (req != NULL) {
        s->req = NULL;
        req->impl = NULL;
        log_debug(LOG_TLS, "connected to %s (%s)", s->addr, proto);
        req->cb(req, 0, &s->base);
    } else {
        tls_stream_listener_unlink(s);
        log_debug(LOG_TLS, "accepted %s (%s, node %s)", s->addr, proto,
                  s->base.peer.verified ? s->base.peer.node_id : "-");
        l->cb(l, &s->base, proto);
    }
}

/* Run the handshake, confirmation or reads as far as the ciphertext we
 * hold allows. */
static void tls_stream_advance(struct tls_stream *s)
{
    const unsigned char *alpn = NULL;
    unsigned alpn_len = 0;
    char c;
    int rv;
    int e;

    if (s->state == TLS_STREAM_HANDSHAKE) {
        ERR_clear_error();
        rv = SSL_do_handshake(s->ssl);
        e = SSL_get_error(s->ssl, rv);
        if (rv != 1 && e != SSL_ERROR_WANT_READ) {
            tls_stream_fail_handshake(s, e); /* sends our alert too */
            return;
        }
        tls_stream_flush(s, NULL, NULL);
        if (rv != 1)
            return;
        SSL_get0_alpn_selected(s->ssl, &alpn, &alpn_len);
        if (alpn_len == 0) {
            tls_stream_fail(s, ERR_PROTO,
                            "TLS handshake with %s: no application "
                            "protocol agreed (ALPN)", s->addr);
            return;
        }
        if (s->req == NULL) {
            tls_stream_open(s);
            return;
        }
        s->state = TLS_STREAM_CONFIRM;
    }
    if (s->state == TLS_STREAM_CONFIRM) {
        /* peek processes the records (the ticket) but keeps any
         * plaintext for the user's first read */
        ERR_clear_error();
        rv = SSL_peek(s->ssl, &c, 1);
        e = SSL_get_error(s->ssl, rv);
        if (rv <= 0 && e != SSL_ERROR_WANT_READ) {
            if (e == SSL_ERROR_ZERO_RETURN) {
                ERR_clear_error();
                tls_stream_fail(s, ERR_UNAVAILABLE,
                                "TLS handshake with %s: connection closed "
                                "by peer", s->addr);
            } else {
                tls_stream_fail_handshake(s, e);
            }
            return;
        }
        tls_stream_flush(s, NULL, NULL);
        if (rv > 0 || s->confirmed)
            tls_stream_open(s);
        return;
    }
    if (s->state == TLS_STREAM_OPEN)
        tls_stream_drain(s);
}

int tls_stream_on_new_session(SSL *ssl, SSL_SESSION *sess)
{
    struct tls_stream *s = SSL_get_app_data(ssl);

    (void)sess;
    if (s != NULL)
        s->confirmed = true;
    return 0;
}

/* ---- stream ops --------------------------------------------------------- */

static void tls_stream_on_deferred_drain(uv_timer_t *t)
{
    tls_stream_drain(t->data);
}

static int tls_stream_read_start(struct stream *base, stream_read_cb cb)
{
    struct tls_stream *s = (struct tls_stream *)base;
    int rv;

    if (s->state != TLS_STREAM_OPEN || s->read_done)
        return UV_EINVAL;
    s->read_cb = cb;
    s->reading = true;
    if (!s->tcp_reading && s->tcp_status == 0) {
        rv = uv_read_start((uv_stream_t *)&s->tcp, tls_stream_alloc_cb,
                           tls_stream_on_read);
        if (rv != 0)
            return rv;
        s->tcp_reading = true;
    }
    /* OpenSSL may already hold plaintext or the EOF may be known: deliver
     * from the loop, never from inside this call */
    uv_timer_start(&s->timer, tls_stream_on_deferred_drain, 0, 0);
    return 0;
}

static int tls_stream_read_stop(struct stream *base)
{
    struct tls_stream *s = (struct tls_stream *)base;

    s->reading = false;
    if (s->state != TLS_STREAM_OPEN)
        return 0;
    uv_timer_stop(&s->timer);
    if (s->tcp_reading) {
        s->tcp_reading = false;
        return uv_read_stop((uv_stream_t *)&s->tcp);
    }
    return 0;
}

static int tls_stream_write(struct stream *base, const void *buf, size_t len,
                            stream_write_cb cb, void *data)
{
    struct tls_stream *s = (struct tls_stream *)base;
    const char *p = buf;
    size_t off = 0;
    int chunk;
    int n;

    if (s->state == TLS_STREAM_CLOSING)
        return UV_ECANCELED;
    if (s->state != TLS_STREAM_OPEN)
        return UV_ENOTCONN;
    while (off < len) {
        chunk = len - off > TLS_STREAM__WRITE_CHUNK
                    ? TLS_STREAM__WRITE_CHUNK
                    : (int)(len - off);
        ERR_clear_error();
        /* into the memory BIO: never WANT_WRITE; OpenSSL cuts records */
        n = SSL_write(s->ssl, p + off, chunk);
        if (n <= 0) {
            log_debug(LOG_TLS, "write to %s: SSL error %d", s->addr,
                      SSL_get_error(s->ssl, n));
            ERR_clear_error();
            tls_stream_flush(s, NULL, NULL);
            return UV_EPIPE;
        }
        off += (size_t)n;
    }
    return tls_stream_flush(s, cb, data);
}

static void tls_stream_close(struct stream *base, stream_close_cb cb,
                             void *data)
{
    struct tls_stream *s = (struct tls_stream *)base;

    if (s->state == TLS_STREAM_CLOSING)
        return;
    s->close_cb = cb;
    s->close_data = data;
    if (s->was_open && !s->read_done) {
        ERR_clear_error();
        (void)SSL_shutdown(s->ssl); /* close_notify, sent if it fits */
        ERR_clear_error();
    }
    tls_stream_close_handles(s);
}

static const struct stream_ops tls_stream_ops = {
    .read_start = tls_stream_read_start,
    .read_stop = tls_stream_read_stop,
    .write = tls_stream_write,
    .close = tls_stream_close,
};

/* ---- listener ----------------------------------------------------------- */

static void tls_stream_on_connection(uv_stream_t *server, int status)
{
    struct tls_stream_listener *l = server->data;
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    struct tls_stream *s;
    struct err err;
    int rv;

    if (status != 0) {
        log_debug(LOG_TLS, "accept on port %d: %s", l->port,
                  uv_strerror(status));
        return;
    }
    s = tls_stream_alloc(server->loop, l->ctx, &err);
    if (s == NULL) {
        log_warn(LOG_TLS, "accept on port %d: %s", l->port, err.msg);
        return;
    }
    s->base.ops = &tls_stream_ops;
    s->timeout_ms = l->handshake_ms;
    s->state = TLS_STREAM_HANDSHAKE;
    SSL_set_accept_state(s->ssl);
    s->listener = l;
    s->next = l->pending;
    if (l->pending != NULL)
        l->pending->prev = s;
    l->pending = s;
    rv = uv_accept(server, (uv_stream_t *)&s->tcp);
    if (rv == 0 && uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&ss,
                                      &len) == 0)
        tls_stream_format_addr(&ss, s->addr, sizeof(s->addr));
    if (rv == 0)
        uv_tcp_nodelay(&s->tcp, 1); /* see tls_stream_on_connect */
    if (rv == 0)
        rv = uv_read_start((uv_stream_t *)&s->tcp, tls_stream_alloc_cb,
                           tls_stream_on_read);
    if (rv != 0) {
        tls_stream_fail(s, ERR_IO, "accept: %s", uv_strerror(rv));
        return;
    }
    s->tcp_reading = true;
    uv_timer_start(&s->timer, tls_stream_on_deadline, l->handshake_ms, 0);
}

static void tls_stream_on_listener_closed(uv_handle_t *h)
{
    struct tls_stream_listener *l = h->data;

    if (l->close_cb != NULL)
        l->close_cb(l);
    free(l);
}

int tls_stream_listen(uv_loop_t *loop, struct tls_ctx *ctx, const char *addr,
                      uint64_t handshake_ms, tls_stream_accept_cb cb,
                      void *data, struct tls_stream_listener **out,
                      struct err *err)
{
    struct tls_stream_listener *l;
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    int rv;

    if (!ctx->is_server)
        return err_set(err, ERR_INVALID,
                       "listen on %s: not a server TLS context", addr);
    rv = tls_stream_parse_addr(addr, &ss, err);
    if (rv != 0)
        return rv;
    l = xcalloc(1, sizeof(*l));
    l->ctx = ctx;
    l->handshake_ms = handshake_ms != 0 ? handshake_ms
                                        : TLS_STREAM_HANDSHAKE_MS;
    l->cb = cb;
    l->data = data;
    uv_tcp_init(loop, &l->tcp);
    l->tcp.data = l;
    rv = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
    if (rv == 0)
        rv = uv_listen((uv_stream_t *)&l->tcp, 511,
                       tls_stream_on_connection);
    if (rv != 0) {
        err_set(err, ERR_UNAVAILABLE, "listen on %s: %s", addr,
                uv_strerror(rv));
        goto err_after_init;
    }
    if (uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &len) == 0)
        l->port = ntohs(ss.ss_family == AF_INET6
                            ? ((struct sockaddr_in6 *)&ss)->sin6_port
                            : ((struct sockaddr_in *)&ss)->sin_port);
    log_debug(LOG_TLS, "listening on %s (port %d)", addr, l->port);
    *out = l;
    return 0;

err_after_init:
    /* memory goes once the handle is closed */
    uv_close((uv_handle_t *)&l->tcp, tls_stream_on_listener_closed);
    return -ERR_UNAVAILABLE;
}

int tls_stream_listener_port(const struct tls_stream_listener *l)
{
    return l->port;
}

void *tls_stream_listener_data(const struct tls_stream_listener *l)
{
    return l->data;
}

void tls_stream_listener_close(struct tls_stream_listener *l,
                               tls_stream_listener_close_cb cb)
{
    l->close_cb = cb;
    while (l->pending != NULL) {
        struct tls_stream *s = l->pending;

        tls_stream_listener_unlink(s);
        log_debug(LOG_TLS, "listener closing: dropping handshake with %s",
                  s->addr);
        tls_stream_close_handles(s);
    }
    uv_close((uv_handle_t *)&l->tcp, tls_stream_on_listener_closed);
}

/* ---- dialer --------------------------------------------------------------- */

static const char *tls_stream_connect_why(int status)
{
    switch (status) {
    case UV_ECONNREFUSED:
        return "connection refused";
    case UV_ETIMEDOUT:
        return "timed out";
    case UV_EHOSTUNREACH:
        return "no route to host";
    case UV_ENETUNREACH:
        return "network is unreachable";
    case UV_ECONNRESET:
        return "connection reset by peer";
    default:
        return uv_strerror(status);
    }
}

static void tls_stream_on_connect(uv_connect_t *c, int status)
{
    struct tls_stream *s = c->data;

    if (status == UV_ECANCELED || s->state != TLS_STREAM_CONNECTING)
        return;
    if (status != 0) {
        tls_stream_fail(s, ERR_UNAVAILABLE, "connect to %s: %s", s->addr,
                        tls_stream_connect_why(status));
        return;
    }
    /* Raft appends and RPC frames are small and latency-bound: Nagle's
     * wait for the peer's (delayed) ACK would add up to 40 ms to each. */
    uv_tcp_nodelay(&s->tcp, 1);
    status = uv_read_start((uv_stream_t *)&s->tcp, tls_stream_alloc_cb,
                           tls_stream_on_read);
    if (status != 0) {
        tls_stream_fail(s, ERR_UNAVAILABLE, "connect to %s: %s", s->addr,
                        uv_strerror(status));
        return;
    }
    s->tcp_reading = true;
    s->state = TLS_STREAM_HANDSHAKE;
    tls_stream_advance(s); /* ClientHello */
}

int tls_stream_dial(uv_loop_t *loop, struct tls_ctx *ctx, const char *addr,
                    const char *alpn, uint64_t timeout_ms,
                    struct tls_stream_dial_req *req, tls_stream_dial_cb cb,
                    struct err *err)
{
    unsigned char wire[TLS_CTX_NAME_MAX + 1];
    struct sockaddr_storage ss;
    struct tls_stream *s;
    size_t n;
    int rv;

    if (ctx->is_server)
        return err_set(err, ERR_INVALID,
                       "dial %s: not a client TLS context", addr);
    n = alpn != NULL ? strlen(alpn) : 0;
    if (n == 0 || n > TLS_CTX_NAME_MAX)
        return err_set(err, ERR_INVALID,
                       "dial %s: ALPN protocol empty or too long", addr);
    rv = tls_stream_parse_addr(addr, &ss, err);
    if (rv != 0)
        return rv;
    s = tls_stream_alloc(loop, ctx, err);
    if (s == NULL)
        return -ERR_INTERNAL;
    s->base.ops = &tls_stream_ops;
    s->state = TLS_STREAM_CONNECTING;
    s->timeout_ms = timeout_ms != 0 ? timeout_ms : TLS_STREAM_HANDSHAKE_MS;
    snprintf(s->addr, sizeof(s->addr), "%s", addr);
    wire[0] = (unsigned char)n;
    memcpy(wire + 1, alpn, n);
    ERR_clear_error();
    SSL_set_connect_state(s->ssl);
    if (SSL_set_alpn_protos(s->ssl, wire, (unsigned)n + 1) != 0 ||
        (ctx->verify_name != NULL &&
         (SSL_set1_host(s->ssl, ctx->verify_name) != 1 ||
          SSL_set_tlsext_host_name(s->ssl, ctx->verify_name) != 1))) {
        ERR_clear_error();
        rv = err_set(err, ERR_INTERNAL, "dial %s: cannot set up TLS", addr);
        goto err_after_alloc;
    }
    if (ctx->verify_name != NULL)
        SSL_set_hostflags(s->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    req->cb = cb;
    req->impl = s;
    err_clear(&req->err);
    s->req = req;
    s->connect.data = s;
    uv_timer_start(&s->timer, tls_stream_on_deadline, s->timeout_ms, 0);
    rv = uv_tcp_connect(&s->connect, &s->tcp, (struct sockaddr *)&ss,
                        tls_stream_on_connect);
    if (rv != 0)
        tls_stream_fail(s, ERR_UNAVAILABLE, "connect to %s: %s", addr,
                        tls_stream_connect_why(rv));
    return 0;

err_after_alloc:
    s->state = TLS_STREAM_CLOSING;
    uv_close((uv_handle_t *)&s->timer, tls_stream_on_handle_closed);
    uv_close((uv_handle_t *)&s->tcp, tls_stream_on_handle_closed);
    return rv;
}

int tls_stream_verify_peer(struct stream *base, const char *root_pem,
                           const char *verify_name, const char *role,
                           struct err *err)
{
    struct tls_stream *s = (struct tls_stream *)base;
    X509_STORE_CTX *xctx = NULL;
    X509_VERIFY_PARAM *vp;
    X509_STORE *store = NULL;
    X509 *leaf;
    char why[256];
    char ou[32];
    long vr;
    int rv;

    if (base == NULL || base->ops != &tls_stream_ops || !s->insecure ||
        s->state != TLS_STREAM_OPEN)
        return err_set(err, ERR_INVALID,
                       "verify peer: not an open insecure TLS client "
                       "stream");
    leaf = SSL_get0_peer_certificate(s->ssl);
    if (leaf == NULL)
        return err_set(err, ERR_UNAUTHORIZED,
                       "TLS handshake with %s: remote sent no certificate",
                       s->addr);
    ERR_clear_error();
    store = X509_STORE_new();
    xctx = X509_STORE_CTX_new();
    if (store == NULL || xctx == NULL) {
        rv = err_set(err, ERR_INTERNAL, "out of memory in OpenSSL");
        goto out;
    }
    rv = tls_ctx_load_store(store, root_pem, err);
    if (rv != 0)
        goto out;
    /* The chain as the server sent it (on a client: leaf first); the
     * handshake proved it holds the leaf's key. */
    if (X509_STORE_CTX_init(xctx, store, leaf,
                            SSL_get_peer_cert_chain(s->ssl)) != 1 ||
        X509_STORE_CTX_set_default(xctx, "ssl_server") != 1) {
        rv = err_set(err, ERR_INTERNAL, "cannot set up the verification");
        goto out;
    }
    vp = X509_STORE_CTX_get0_param(xctx);
    X509_VERIFY_PARAM_set_hostflags(vp,
                                    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (verify_name != NULL &&
        X509_VERIFY_PARAM_set1_host(vp, verify_name, 0) != 1) {
        rv = err_set(err, ERR_INTERNAL, "cannot set up the verification");
        goto out;
    }
    if (X509_verify_cert(xctx) != 1) {
        vr = X509_STORE_CTX_get_error(xctx);
        if (vr == X509_V_OK)
            vr = X509_V_ERR_UNSPECIFIED;
        tls_stream_verify_why(vr, verify_name, "remote", why, sizeof(why));
        rv = err_set(err, ERR_UNAUTHORIZED, "TLS handshake with %s: %s",
                     s->addr, why);
        goto out;
    }
    if (role != NULL &&
        (!tls_stream_name_field(X509_get_subject_name(leaf),
                                NID_organizationalUnitName, ou,
                                sizeof(ou)) ||
         strcmp(ou, role) != 0)) {
        rv = err_set(err, ERR_UNAUTHORIZED,
                     "TLS handshake with %s: remote certificate is not "
                     "a %s certificate", s->addr, role);
        goto out;
    }
    rv = 0;
out:
    ERR_clear_error();
    X509_STORE_CTX_free(xctx);
    X509_STORE_free(store);
    return rv;
}

void tls_stream_dial_cancel(struct tls_stream_dial_req *req)
{
    struct tls_stream *s = req->impl;

    if (s == NULL)
        return;
    tls_stream_fail(s, ERR_CANCELED, "dial %s: canceled", s->addr);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * raft's uv transport: incoming streams are handed in by the TLS side
 * (consensus_transport_accept, consensus_transport_accept_stream); outgoing
 * connects go through the user's dialer (consensus_set_dialer) and fail
 * with RAFT_NOCONNECTION without one. No socket of its own, so no
 * unauthenticated raft port.
 *
 * raft_uv wants a uv_stream_t it reads and writes itself, so each struct
 * stream is bridged: a socketpair(AF_UNIX), raft gets one end as a
 * uv_pipe_t, and a pump copies bytes between the other end and the stream,
 * pausing reads on one side while more than CONSENSUS__BRIDGE_CAP bytes
 * wait to be written to the other. EOF or an error on either side closes
 * both (raft then sees EOF on reads, EPIPE on writes, and reconnects).
 * raft's own TCP transport sends an (id, address) handshake first; ours
 * does not: the peer id comes from the caller (certificate and store).
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/stream.h"
#include "manager/consensus/consensus.h"
#include "manager/consensus/consensus_int.h"

static int consensus_transport_raft_init(struct raft_uv_transport *t,
                                         raft_id id, const char *address)
{
    struct consensus *c = t->impl;

    (void)address;
    assert(id == c->id);
    return 0;
}

static int consensus_transport_listen(struct raft_uv_transport *t,
                                      raft_uv_accept_cb cb)
{
    struct consensus *c = t->impl;
    int rv;

    assert(c->accept_cb == NULL);
    rv = uv_timer_init(c->loop, &c->conn_timer);
    assert(rv == 0);
    c->conn_timer.data = c;
    c->conn_timer_init = true;
    c->accept_cb = cb;
    return 0;
}

/* ---- peers ------------------------------------------------------------ */

const struct consensus_peer *consensus_peer_find(const struct consensus *c,
                                                 uint64_t id)
{
    size_t i;

    for (i = 0; i < c->n_peers; i++)
        if (c->peers[i].id == id)
            return &c->peers[i];
    return NULL;
}

struct consensus_peer *consensus_peer_get(struct consensus *c, uint64_t id)
{
    struct consensus_peer *p = (struct consensus_peer *)consensus_peer_find(c, id);

    if (p != NULL)
        return p;
    c->peers = xrealloc(c->peers, (c->n_peers + 1) * sizeof(*c->peers));
    p = &c->peers[c->n_peers++];
    memset(p, 0, sizeof(*p));
    p->id = id;
    return p;
}

/* ---- the bridge ------------------------------------------------------- */

/* Pause reading one side while this much waits to be written to the other. */
#define CONSENSUS__BRIDGE_CAP (1024 * 1024)

struct consensus_bridge_write
{
    uv_write_t req;
    struct consensus_bridge *b;
    size_t len;
    char bytes[];
};

static void consensus_bridge_close(struct consensus_bridge *b);
static void consensus_bridge_s_read(struct stream *s, ssize_t nread,
                                    const char *data);

static void consensus_bridge_maybe_free(struct consensus_bridge *b)
{
    struct consensus *c = b->c;

    if (!b->pipe_closed || !b->s_closed)
        return;
    if (b->prev != NULL)
        b->prev->next = b->next;
    else
        c->bridges = b->next;
    if (b->next != NULL)
        b->next->prev = b->prev;
    free(b);
    if (c->bridges == NULL && c->transport_closing &&
        c->transport_close_cb != NULL && !c->conn_timer_init) {
        raft_uv_transport_close_cb cb = c->transport_close_cb;

        c->transport_close_cb = NULL;
        cb(&c->transport);
    }
}

static void consensus_bridge_pipe_closed(uv_handle_t *h)
{
    struct consensus_bridge *b = h->data;

    b->pipe_closed = true;
    consensus_bridge_maybe_free(b);
}

static void consensus_bridge_s_closed(struct stream *s, void *data)
{
    struct consensus_bridge *b = data;

    (void)s;
    b->s_closed = true;
    consensus_bridge_maybe_free(b);
}

static void consensus_bridge_close(struct consensus_bridge *b)
{
    struct consensus_peer *p;

    if (b->closing)
        return;
    b->closing = true;
    p = consensus_peer_get(b->c, b->peer_id);
    if (b->outgoing)
        p->n_out--;
    else
        p->n_in--;
    log_debug(LOG_RAFT, "raft stream %s member %llx closed",
              b->outgoing ? "to" : "from", (unsigned long long)b->peer_id);
    uv_close((uv_handle_t *)&b->pipe, consensus_bridge_pipe_closed);
    stream_close(b->s, consensus_bridge_s_closed, b);
}

static void consensus_bridge_alloc(uv_handle_t *h, size_t n, uv_buf_t *buf)
{
    (void)h;
    if (n > 65536)
        n = 65536;
    buf->base = xmalloc(n);
    buf->len = n;
}

/* stream -> pipe: write completed */
static void consensus_bridge_pipe_write_cb(uv_write_t *req, int status)
{
    struct consensus_bridge_write *w = (struct consensus_bridge_write *)req;
    struct consensus_bridge *b = w->b;

    b->p_pending -= w->len;
    free(w);
    if (b->closing)
        return;
    if (status != 0) {
        consensus_bridge_close(b);
        return;
    }
    if (b->s_paused && b->p_pending <= CONSENSUS__BRIDGE_CAP / 2) {
        b->s_paused = false;
        if (stream_read_start(b->s, consensus_bridge_s_read) != 0)
            consensus_bridge_close(b);
    }
}

static void consensus_bridge_s_read(struct stream *s, ssize_t nread,
                                    const char *data)
{
    struct consensus_bridge *b = s->data;
    struct consensus_bridge_write *w;
    uv_buf_t buf;

    if (b->closing)
        return;
    if (nread < 0) {
        consensus_bridge_close(b);
        return;
    }
    if (nread == 0)
        return;
    w = xmalloc(sizeof(*w) + (size_t)nread);
    w->b = b;
    w->len = (size_t)nread;
    memcpy(w->bytes, data, (size_t)nread);
    buf = uv_buf_init(w->bytes, (unsigned)nread);
    if (uv_write(&w->req, (uv_stream_t *)&b->pipe, &buf, 1,
                 consensus_bridge_pipe_write_cb) != 0) {
        free(w);
        consensus_bridge_close(b);
        return;
    }
    b->p_pending += (size_t)nread;
    if (b->p_pending > CONSENSUS__BRIDGE_CAP && !b->s_paused) {
        b->s_paused = true;
        stream_read_stop(b->s);
    }
}

static void consensus_bridge_pipe_read(uv_stream_t *h, ssize_t nread,
                                       const uv_buf_t *buf);

/* pipe -> stream: write completed */
static void consensus_bridge_s_write_cb(struct stream *s, int status,
                                        void *data)
{
    struct consensus_bridge *b = s->data;
    size_t len = (size_t)(uintptr_t)data;

    b->s_pending -= len;
    if (b->closing)
        return;
    if (status != 0) {
        consensus_bridge_close(b);
        return;
    }
    if (b->pipe_paused && b->s_pending <= CONSENSUS__BRIDGE_CAP / 2) {
        b->pipe_paused = false;
        if (uv_read_start((uv_stream_t *)&b->pipe, consensus_bridge_alloc,
                          consensus_bridge_pipe_read) != 0)
            consensus_bridge_close(b);
    }
}

static void consensus_bridge_pipe_read(uv_stream_t *h, ssize_t nread,
                                       const uv_buf_t *buf)
{
    struct consensus_bridge *b = h->data;

    if (nread > 0 && !b->closing) {
        if (stream_write(b->s, buf->base, (size_t)nread,
                         consensus_bridge_s_write_cb,
                         (void *)(uintptr_t)nread) != 0) {
            consensus_bridge_close(b);
        } else {
            b->s_pending += (size_t)nread;
            if (b->s_pending > CONSENSUS__BRIDGE_CAP && !b->pipe_paused) {
                b->pipe_paused = true;
                uv_read_stop(h);
            }
        }
    } else if (nread < 0 && !b->closing) {
        consensus_bridge_close(b);
    }
    free(buf->base);
}

/* Undo a bridge whose stream goes back to the caller: only the pipe is
 * closed. */
static void consensus_bridge_abort(struct consensus_bridge *b)
{
    struct consensus_peer *p = consensus_peer_get(b->c, b->peer_id);

    assert(!b->closing);
    b->closing = true;
    if (b->outgoing)
        p->n_out--;
    else
        p->n_in--;
    stream_read_stop(b->s);
    b->s->data = NULL;
    b->s = NULL;
    b->s_closed = true;
    uv_close((uv_handle_t *)&b->pipe, consensus_bridge_pipe_closed);
}

/*
 * Bridge s to a new socketpair; *raft_fd is the end for raft (a plain fd,
 * for consensus_transport_accept or a uv_pipe_t). On 0 s belongs to the
 * bridge; on error it stays the caller's.
 */
static int consensus_bridge_new(struct consensus *c, uint64_t peer_id,
                                bool outgoing, struct stream *s,
                                int *raft_fd, struct consensus_bridge **out,
                                struct err *err)
{
    struct consensus_bridge *b;
    struct consensus_peer *p;
    int fds[2];
    int rv;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
                   fds) == -1)
        return err_sys(err, ERR_IO, errno, "raft: socketpair");
    b = xcalloc(1, sizeof(*b));
    b->c = c;
    b->peer_id = peer_id;
    b->outgoing = outgoing;
    b->s = s;
    rv = uv_pipe_init(c->loop, &b->pipe, 0);
    assert(rv == 0);
    b->pipe.data = b;
    rv = uv_pipe_open(&b->pipe, fds[1]);
    if (rv != 0) {
        /* The handle is initialised: close it; the bridge is freed with
         * its close callback, before which nothing else touches it. */
        close(fds[0]);
        close(fds[1]);
        b->s_closed = true;
        b->closing = true;
        b->next = c->bridges;
        if (c->bridges != NULL)
            c->bridges->prev = b;
        c->bridges = b;
        uv_close((uv_handle_t *)&b->pipe, consensus_bridge_pipe_closed);
        return err_set(err, ERR_IO, "raft: bridge: %s", uv_strerror(rv));
    }
    b->next = c->bridges;
    if (c->bridges != NULL)
        c->bridges->prev = b;
    c->bridges = b;
    p = consensus_peer_get(c, peer_id);
    if (outgoing)
        p->n_out++;
    else
        p->n_in++;
    s->data = b;
    if (uv_read_start((uv_stream_t *)&b->pipe, consensus_bridge_alloc,
                      consensus_bridge_pipe_read) != 0 ||
        stream_read_start(s, consensus_bridge_s_read) != 0) {
        close(fds[0]);
        consensus_bridge_abort(b);
        return err_set(err, ERR_IO, "raft: bridge: cannot read");
    }
    *raft_fd = fds[0];
    *out = b;
    return 0;
}

void consensus_transport_disconnect(struct consensus *c, uint64_t peer_id)
{
    struct consensus_bridge *b;
    struct consensus_bridge *next;

    for (b = c->bridges; b != NULL; b = next) {
        next = b->next;
        if (peer_id == 0 || b->peer_id == peer_id)
            consensus_bridge_close(b);
    }
}

/* ---- outgoing --------------------------------------------------------- */

/* Deliver the answered connects, in order; runs one loop turn after the
 * answer (never from inside raft's connect()). */
static void consensus_transport_timer_cb(uv_timer_t *timer)
{
    struct consensus *c = timer->data;
    struct consensus_transport_conn **pp = &c->conns;
    struct consensus_transport_conn *conn;

    while (*pp != NULL) {
        conn = *pp;
        if (!conn->ready) {
            pp = &conn->next;
            continue;
        }
        *pp = conn->next;
        conn->cb(conn->req, conn->stream, conn->status);
        free(conn);
        /* raft may have queued more connects; restart from the head. */
        pp = &c->conns;
    }
}

static void consensus_transport_kick(struct consensus *c)
{
    if (c->conn_timer_init && !uv_is_active((uv_handle_t *)&c->conn_timer))
        uv_timer_start(&c->conn_timer, consensus_transport_timer_cb, 0, 0);
}

static void consensus_transport_pipe_close_cb(uv_handle_t *handle);

static void consensus_dial_done(struct consensus_dial *dial, struct stream *s,
                                const struct err *derr)
{
    struct consensus_transport_conn *conn = dial->conn;
    struct consensus *c = dial->c;
    struct consensus_bridge *b;
    struct err err;
    uv_pipe_t *pipe;
    int fd;
    int rv;

    if (conn == NULL) {
        /* Orphaned: raft no longer waits (transport closed). */
        if (s != NULL)
            stream_close(s, NULL, NULL);
        free(dial->address);
        free(dial);
        return;
    }
    assert(c != NULL && conn->dial == dial);
    conn->dial = NULL;
    conn->ready = true;
    conn->status = RAFT_NOCONNECTION;
    conn->stream = NULL;
    if (s != NULL && c->transport_closing) {
        stream_close(s, NULL, NULL);
        s = NULL;
    }
    if (s == NULL) {
        log_debug(LOG_RAFT, "dial raft member %llx at %s failed: %s",
                  (unsigned long long)dial->peer_id, dial->address,
                  derr != NULL ? derr->msg : "no reason given");
        goto out;
    }
    err_clear(&err);
    if (consensus_bridge_new(c, dial->peer_id, true, s, &fd, &b, &err) != 0) {
        log_warn(LOG_RAFT, "%s", err.msg);
        stream_close(s, NULL, NULL);
        goto out;
    }
    pipe = raft_malloc(sizeof(*pipe));
    if (pipe == NULL) {
        close(fd);
        goto out;
    }
    rv = uv_pipe_init(c->loop, pipe, 0);
    assert(rv == 0);
    rv = uv_pipe_open(pipe, fd);
    if (rv != 0) {
        close(fd);
        uv_close((uv_handle_t *)pipe, consensus_transport_pipe_close_cb);
        goto out;
    }
    log_debug(LOG_RAFT, "raft stream to member %llx (%s)",
              (unsigned long long)dial->peer_id, dial->address);
    conn->status = 0;
    conn->stream = (uv_stream_t *)pipe;
out:
    free(dial->address);
    free(dial);
    consensus_transport_kick(c);
}

/*
 * raft_uv's client queues its messages and retries after its connect retry
 * delay; a callback fired from inside connect() would run before raft has
 * finished its own bookkeeping for the attempt, so it is always deferred.
 */
static int consensus_transport_connect(struct raft_uv_transport *t,
                                       struct raft_uv_connect *req,
                                       raft_id id, const char *address,
                                       raft_uv_connect_cb cb)
{
    struct consensus *c = t->impl;
    struct consensus_transport_conn *conn;
    struct consensus_transport_conn **tail;
    struct consensus_dial *dial;

    if (c->transport_closing || !c->conn_timer_init)
        goto err_no_connection;
    conn = xcalloc(1, sizeof(*conn));
    conn->req = req;
    conn->cb = cb;
    conn->next = NULL;
    for (tail = &c->conns; *tail != NULL; tail = &(*tail)->next)
        ;
    *tail = conn;
    if (c->dial_fn == NULL) {
        log_debug(LOG_RAFT, "no transport to raft member %llx at %s yet", id,
                  address);
        conn->ready = true;
        conn->status = RAFT_NOCONNECTION;
        consensus_transport_kick(c);
        return 0;
    }
    dial = xcalloc(1, sizeof(*dial));
    dial->c = c;
    dial->conn = conn;
    dial->peer_id = id;
    dial->address = xstrdup(address);
    conn->dial = dial;
    c->dial_fn(c->dial_data, id, address, consensus_dial_done, dial);
    return 0;

err_no_connection:
    snprintf(t->errmsg, sizeof(t->errmsg), "no route to raft member %llx", id);
    return RAFT_NOCONNECTION;
}

void consensus_set_dialer(struct consensus *c, consensus_dial_fn dial_fn,
                          void *data)
{
    c->dial_fn = dial_fn;
    c->dial_data = data;
}

/* Fail every connect raft still waits for (transport close). */
static void consensus_transport_conn_cancel(struct consensus *c)
{
    struct consensus_transport_conn *conn;

    while (c->conns != NULL) {
        conn = c->conns;
        c->conns = conn->next;
        if (conn->dial != NULL) {
            conn->dial->conn = NULL;
            conn->dial->c = NULL;
        }
        if (conn->stream != NULL)
            uv_close((uv_handle_t *)conn->stream,
                     consensus_transport_pipe_close_cb);
        conn->cb(conn->req, NULL, RAFT_CANCELED);
        free(conn);
    }
}

static void consensus_transport_timer_close_cb(uv_handle_t *handle)
{
    struct consensus *c = handle->data;
    raft_uv_transport_close_cb cb = c->transport_close_cb;

    /* Cancel, as the transport contract asks, before saying we are done. */
    consensus_transport_conn_cancel(c);
    c->conn_timer_init = false;
    if (c->bridges != NULL)
        return; /* the last bridge to go calls back */
    c->transport_close_cb = NULL;
    cb(&c->transport);
}

static void consensus_transport_close(struct raft_uv_transport *t,
                                      raft_uv_transport_close_cb cb)
{
    struct consensus *c = t->impl;

    assert(!c->transport_closing);
    c->transport_closing = true;
    c->accept_cb = NULL;
    if (!c->conn_timer_init) {
        /* Never listened: nothing to wait for. raft_uv still has its own
         * timer open at this point, so calling back now is safe. */
        assert(c->conns == NULL);
        cb(t);
        return;
    }
    c->transport_close_cb = cb;
    consensus_transport_disconnect(c, 0);
    uv_close((uv_handle_t *)&c->conn_timer, consensus_transport_timer_close_cb);
}

static void consensus_transport_pipe_close_cb(uv_handle_t *handle)
{
    raft_free(handle);
}

int consensus_transport_accept(struct consensus *c, uint64_t peer_id,
                               const char *peer_address, int fd,
                               struct err *err)
{
    struct stat st;
    uv_pipe_t *pipe;
    int rv;

    if (peer_id == 0 || peer_id == c->id)
        return err_set(err, ERR_INVALID, "raft: bad peer id %llx",
                       (unsigned long long)peer_id);
    if (peer_address == NULL)
        return err_set(err, ERR_INVALID, "raft: no peer address");
    if (fd < 0 || fstat(fd, &st) == -1 || !S_ISSOCK(st.st_mode))
        return err_set(err, ERR_INVALID, "raft: peer fd %d is not a socket",
                       fd);
    if (c->accept_cb == NULL || c->closing)
        return err_set(err, ERR_UNAVAILABLE, "raft: not accepting peers");

    /* raft frees the handle with raft_free once it has closed it. */
    pipe = raft_malloc(sizeof(*pipe));
    if (pipe == NULL)
        return err_set(err, ERR_INTERNAL, "raft: out of memory");
    rv = uv_pipe_init(c->loop, pipe, 0);
    if (rv != 0) {
        raft_free(pipe);
        return err_set(err, ERR_IO, "raft: pipe: %s", uv_strerror(rv));
    }
    rv = uv_pipe_open(pipe, fd);
    if (rv != 0) {
        uv_close((uv_handle_t *)pipe, consensus_transport_pipe_close_cb);
        return err_set(err, ERR_IO, "raft: adopt peer fd: %s",
                       uv_strerror(rv));
    }
    log_debug(LOG_RAFT, "raft stream from member %llx (%s)",
              (unsigned long long)peer_id, peer_address);
    c->accept_cb(&c->transport, peer_id, peer_address, (uv_stream_t *)pipe);
    return 0;
}

int consensus_transport_accept_stream(struct consensus *c, uint64_t peer_id,
                                      const char *peer_address,
                                      struct stream *s, struct err *err)
{
    struct consensus_bridge *b;
    int fd;
    int rv;

    if (peer_id == 0 || peer_id == c->id)
        return err_set(err, ERR_INVALID, "raft: bad peer id %llx",
                       (unsigned long long)peer_id);
    if (peer_address == NULL || s == NULL)
        return err_set(err, ERR_INVALID, "raft: no peer address or stream");
    if (c->accept_cb == NULL || c->closing)
        return err_set(err, ERR_UNAVAILABLE, "raft: not accepting peers");
    rv = consensus_bridge_new(c, peer_id, false, s, &fd, &b, err);
    if (rv != 0)
        return rv;
    rv = consensus_transport_accept(c, peer_id, peer_address, fd, err);
    if (rv != 0) {
        /* s is the caller's again. */
        close(fd);
        consensus_bridge_abort(b);
        return rv;
    }
    return 0;
}

void consensus_transport_init(struct consensus *c)
{
    c->transport.data = NULL; /* raft_uv's */
    c->transport.impl = c;
    c->transport.errmsg[0] = '\0';
    c->transport.init = consensus_transport_raft_init;
    c->transport.listen = consensus_transport_listen;
    c->transport.connect = consensus_transport_connect;
    c->transport.close = consensus_transport_close;
}

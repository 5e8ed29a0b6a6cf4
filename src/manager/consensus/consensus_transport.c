/* SPDX-License-Identifier: Apache-2.0 */
/*
 * raft's uv transport: incoming streams are handed in by the TLS side
 * (consensus_transport_accept); outgoing connects fail with
 * RAFT_NOCONNECTION until the TLS dialer exists. No socket of its own, so no
 * unauthenticated raft port.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
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

/* Fire the queued connect failures; runs one loop turn after connect(). */
static void consensus_transport_conn_fail(struct consensus *c, int status)
{
    struct consensus_transport_conn *conn;

    while (c->conns != NULL) {
        conn = c->conns;
        c->conns = conn->next;
        conn->cb(conn->req, NULL, status);
        free(conn);
    }
}

static void consensus_transport_timer_cb(uv_timer_t *timer)
{
    consensus_transport_conn_fail(timer->data, RAFT_NOCONNECTION);
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
    int rv;

    if (c->transport_closing || !c->conn_timer_init)
        goto err_no_connection;
    log_debug(LOG_RAFT, "no transport to raft member %llx at %s yet", id,
              address);
    conn = xmalloc(sizeof(*conn));
    conn->req = req;
    conn->cb = cb;
    conn->next = NULL;
    for (tail = &c->conns; *tail != NULL; tail = &(*tail)->next)
        ;
    *tail = conn;
    if (!uv_is_active((uv_handle_t *)&c->conn_timer)) {
        rv = uv_timer_start(&c->conn_timer, consensus_transport_timer_cb, 0, 0);
        if (rv != 0)
            goto err_after_queue;
    }
    return 0;

err_after_queue:
    *tail = NULL;
    free(conn);
err_no_connection:
    snprintf(t->errmsg, sizeof(t->errmsg), "no route to raft member %llx", id);
    return RAFT_NOCONNECTION;
}

static void consensus_transport_timer_close_cb(uv_handle_t *handle)
{
    struct consensus *c = handle->data;
    raft_uv_transport_close_cb cb = c->transport_close_cb;

    /* Cancel, as the transport contract asks, before saying we are done. */
    consensus_transport_conn_fail(c, RAFT_CANCELED);
    c->conn_timer_init = false;
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

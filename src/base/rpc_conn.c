/* SPDX-License-Identifier: Apache-2.0 */
/* One RPC peer connection: calls in flight with deadlines, server-stream
 * messages, cancellation, and failing everything once when the link dies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/rpc.h"
#include "base/rpc_int.h"

static void rpc_conn_maybe_free(struct rpc_conn *conn);


/* ---- call bookkeeping ---- */

static const char *rpc_conn_call_method(const struct rpc_call *call)
{
    const char *m = json_string_value(json_object_get(call->req, "method"));

    return m != NULL ? m : "?";
}

static void rpc_conn_link_call(struct rpc_conn *conn, struct rpc_call *call)
{
    struct rpc_call **b = &conn->buckets[call->id & (RPC_CONN__N_BUCKETS - 1)];

    call->hnext = *b;
    *b = call;
    call->next = NULL;
    call->prev = conn->calls_tail;
    if (conn->calls_tail != NULL)
        conn->calls_tail->next = call;
    else
        conn->calls = call;
    conn->calls_tail = call;
    conn->n_calls++;
    call->conn = conn;
}

static void rpc_conn_unlink_call(struct rpc_conn *conn, struct rpc_call *call)
{
    struct rpc_call **p = &conn->buckets[call->id & (RPC_CONN__N_BUCKETS - 1)];

    while (*p != call)
        p = &(*p)->hnext;
    *p = call->hnext;
    if (call->prev != NULL)
        call->prev->next = call->next;
    else
        conn->calls = call->next;
    if (call->next != NULL)
        call->next->prev = call->prev;
    else
        conn->calls_tail = call->prev;
    conn->n_calls--;
    call->conn = NULL;
    call->id = 0;
    call->prev = call->next = call->hnext = NULL;
}

static struct rpc_call *rpc_conn_find_call(struct rpc_conn *conn, uint32_t id)
{
    struct rpc_call *c = conn->buckets[id & (RPC_CONN__N_BUCKETS - 1)];

    while (c != NULL && c->id != id)
        c = c->hnext;
    return c;
}

/* Complete an unlinked call: free its request, then hand it back. */
static void rpc_conn_complete(struct rpc_call *call, int status, json_t *body)
{
    json_decref(call->req);
    call->req = NULL;
    call->cb(call, status, status == 0 ? body : NULL);
}

static void rpc_conn_finish(struct rpc_conn *conn, struct rpc_call *call,
                            int status, json_t *body)
{
    rpc_conn_unlink_call(conn, call);
    rpc_conn_complete(call, status, body);
}

/* ---- closing ---- */

static void rpc_conn_maybe_free(struct rpc_conn *conn)
{
    if (conn->n_handles > 0 || conn->refs > 0 || !conn->closed_fired)
        return;
    rpc_frame_dec_release(&conn->dec);
    free(conn);
}

static void rpc_conn_handle_closed(struct rpc_conn *conn)
{
    if (--conn->n_handles > 0)
        return;
    conn->closed_fired = true;
    conn->refs++;
    if (conn->closed_cb != NULL)
        conn->closed_cb(conn, &conn->why, conn->data);
    conn->refs--;
    rpc_conn_maybe_free(conn);
}

static void rpc_conn_on_stream_closed(struct stream *s, void *data)
{
    struct rpc_conn *conn = data;

    (void)s;
    conn->stream = NULL;
    rpc_conn_handle_closed(conn);
}

static void rpc_conn_on_timer_closed(uv_handle_t *h)
{
    rpc_conn_handle_closed(h->data);
}

static void rpc_conn_close_stream(struct rpc_conn *conn)
{
    if (conn->stream_closing || conn->in_read > 0)
        return;
    conn->stream_closing = true;
    stream_close(conn->stream, rpc_conn_on_stream_closed, conn);
}

void rpc_conn_abort(struct rpc_conn *conn, const struct err *why)
{
    struct rpc_req *r;
    struct err e;

    if (conn->failed)
        return;
    conn->failed = true;
    conn->why = *why;
    if (why->code != ERR_CANCELED)
        log_info(LOG_RPC, "rpc connection %s closed: %s", conn->name,
                 why->msg);
    stream_read_stop(conn->stream);
    uv_timer_stop(&conn->timer);
    conn->timer_at = 0;
    conn->refs++;
    while (conn->calls != NULL) {
        e = *why;
        conn->calls->err = e;
        rpc_conn_finish(conn, conn->calls, -why->code, NULL);
    }
    /* Handlers may answer (and so unlink) requests from their cancel
     * callback: restart from the head after each one. */
    for (;;) {
        for (r = conn->reqs; r != NULL && r->canceled; r = r->next)
            ;
        if (r == NULL)
            break;
        rpc_server_cancel(r);
    }
    uv_close((uv_handle_t *)&conn->timer, rpc_conn_on_timer_closed);
    rpc_conn_close_stream(conn);
    conn->refs--;
    rpc_conn_maybe_free(conn);
}

void rpc_conn_close(struct rpc_conn *conn)
{
    struct err why;

    err_set(&why, ERR_CANCELED, "rpc canceled: connection to %s closed",
            conn->name);
    rpc_conn_abort(conn, &why);
}

/* ---- sending ---- */

static void rpc_conn_on_write(struct stream *s, int status, void *data)
{
    struct rpc_conn *conn = data;
    struct err why;

    (void)s;
    if (status < 0 && !conn->failed) {
        err_set(&why, ERR_UNAVAILABLE, "connection to %s lost: %s",
                conn->name, uv_strerror(status));
        rpc_conn_abort(conn, &why);
    }
}

int rpc_conn_send(struct rpc_conn *conn, uint8_t type, uint8_t flags,
                  uint32_t call_id, const json_t *payload, struct err *err)
{
    struct err why;
    char *buf;
    size_t len;
    int rv;

    if (conn->failed)
        return err_set(err, ERR_UNAVAILABLE, "connection to %s is closed",
                       conn->name);
    rv = rpc_frame_encode(type, flags, call_id, payload, &buf, &len, err);
    if (rv != 0)
        return rv;
    rv = stream_write(conn->stream, buf, len, rpc_conn_on_write, conn);
    free(buf);
    if (rv != 0) {
        err_set(&why, ERR_UNAVAILABLE, "connection to %s lost: %s",
                conn->name, uv_strerror(rv));
        if (err != NULL)
            *err = why;
        rpc_conn_abort(conn, &why);
        return -ERR_UNAVAILABLE;
    }
    return 0;
}

json_t *rpc_conn_status_payload(int status, const char *msg, json_t *body)
{
    json_t *p = json_object();

    json_object_set_new(p, "status", json_integer(status));
    json_object_set_new(p, "message", json_string(msg != NULL ? msg : ""));
    if (body != NULL)
        json_object_set(p, "body", body);
    return p;
}

/* ---- deadlines ---- */

static void rpc_conn_on_timer(uv_timer_t *t);

static void rpc_conn_arm(struct rpc_conn *conn, uint64_t deadline)
{
    uint64_t now = uv_now(conn->loop);

    if (deadline == 0 || conn->failed)
        return;
    if (conn->timer_at != 0 && conn->timer_at <= deadline)
        return;
    conn->timer_at = deadline;
    uv_timer_start(&conn->timer, rpc_conn_on_timer,
                   deadline > now ? deadline - now : 0, 0);
}

static void rpc_conn_on_timer(uv_timer_t *t)
{
    struct rpc_conn *conn = t->data;
    struct rpc_call *expired = NULL;
    struct rpc_call *c;
    struct rpc_call *next;
    uint64_t now = uv_now(conn->loop);
    uint64_t earliest = 0;

    conn->timer_at = 0;
    for (c = conn->calls; c != NULL; c = next) {
        next = c->next;
        if (c->deadline == 0)
            continue;
        if (c->deadline > now) {
            if (earliest == 0 || c->deadline < earliest)
                earliest = c->deadline;
            continue;
        }
        /* The server may still be working: tell it to stop. A late
         * response finds no call and is dropped. A failed send fails the
         * conn, which completes the calls still linked. */
        rpc_conn_send(conn, RPC_FRAME_CANCEL, 0, c->id, NULL, NULL);
        if (conn->failed)
            break;
        rpc_conn_unlink_call(conn, c);
        c->hnext = expired;
        expired = c;
    }
    rpc_conn_arm(conn, earliest);
    conn->refs++;
    while (expired != NULL) {
        c = expired;
        expired = c->hnext;
        c->hnext = NULL;
        err_set(&c->err, ERR_UNAVAILABLE,
                "rpc %s to %s: deadline exceeded",
                rpc_conn_call_method(c), conn->name);
        rpc_conn_complete(c, -ERR_UNAVAILABLE, NULL);
    }
    conn->refs--;
    rpc_conn_maybe_free(conn);
}

/* ---- calls ---- */

int rpc_conn_start(struct rpc_conn *conn, struct rpc_call *call,
                   uint64_t deadline, struct err *err)
{
    int rv;

    if (conn->failed)
        return err_set(err, ERR_UNAVAILABLE, "connection to %s is closed",
                       conn->name);
    do {
        conn->next_id++;
    } while (conn->next_id == 0 || rpc_conn_find_call(conn, conn->next_id));
    call->id = conn->next_id;
    call->deadline = deadline;
    call->client = NULL;
    err_clear(&call->err);
    rv = rpc_conn_send(conn, RPC_FRAME_REQUEST,
                       call->on_msg != NULL ? RPC_FRAME_F_STREAM : 0,
                       call->id, call->req, err);
    if (rv != 0) {
        call->id = 0;
        return rv;
    }
    /* Only the method is needed from here on (for messages). */
    json_object_del(call->req, "body");
    rpc_conn_link_call(conn, call);
    rpc_conn_arm(conn, deadline);
    return 0;
}

int rpc_conn_call(struct rpc_conn *conn, struct rpc_call *call,
                  const char *method, json_t *body, uint64_t timeout_ms,
                  struct err *err)
{
    int rv;

    call->req = json_pack("{s:s, s:O}", "method", method, "body",
                          body != NULL ? body : json_null());
    if (call->req == NULL)
        return err_set(err, ERR_INVALID, "rpc method name is not UTF-8");
    rv = rpc_conn_start(conn, call,
                        timeout_ms != 0 ? uv_now(conn->loop) + timeout_ms : 0,
                        err);
    if (rv != 0) {
        json_decref(call->req);
        call->req = NULL;
    }
    return rv;
}

void rpc_conn_cancel(struct rpc_call *call)
{
    struct rpc_conn *conn = call->conn;

    if (call->client != NULL) {
        rpc_client_cancel_queued(call);
        return;
    }
    if (conn == NULL)
        return;
    rpc_conn_send(conn, RPC_FRAME_CANCEL, 0, call->id, NULL, NULL);
    if (call->conn == NULL)
        return; /* the send failed the conn, which completed the call */
    err_set(&call->err, ERR_CANCELED, "rpc %s canceled",
            rpc_conn_call_method(call));
    rpc_conn_finish(conn, call, -ERR_CANCELED, NULL);
}

/* ---- receiving ---- */

static void rpc_conn_proto_error(struct rpc_conn *conn, const char *what)
{
    struct err why;

    err_set(&why, ERR_PROTO, "connection to %s: protocol error: %s",
            conn->name, what);
    rpc_conn_abort(conn, &why);
}

static void rpc_conn_on_answer(struct rpc_conn *conn, struct rpc_frame *f)
{
    struct rpc_call *call = rpc_conn_find_call(conn, f->call_id);
    json_t *body;
    const char *msg;
    json_int_t status;

    if (call == NULL)
        return; /* after a deadline or a cancel: dropped */
    body = json_object_get(f->payload, "body");
    if (body == NULL)
        body = json_null();
    if (f->type == RPC_FRAME_STREAM) {
        if (call->on_msg == NULL) {
            rpc_conn_proto_error(conn, "stream message for a unary call");
            return;
        }
        call->on_msg(call, body);
        return;
    }
    status = json_integer_value(json_object_get(f->payload, "status"));
    msg = json_string_value(json_object_get(f->payload, "message"));
    if (status != 0)
        err_set(&call->err, (int)-status, "%s",
                msg != NULL && msg[0] != '\0' ? msg
                                             : err_code_name((int)-status));
    rpc_conn_finish(conn, call, (int)status, body);
}

static void rpc_conn_on_cancel_frame(struct rpc_conn *conn, uint32_t id)
{
    struct rpc_req *r;

    for (r = conn->reqs; r != NULL; r = r->next) {
        if (r->id == id && !r->canceled) {
            rpc_server_cancel(r);
            return;
        }
    }
}

static void rpc_conn_dispatch(struct rpc_conn *conn, struct rpc_frame *f)
{
    switch (f->type) {
    case RPC_FRAME_REQUEST:
        rpc_server_dispatch(conn, f->call_id, f->flags, f->payload);
        f->payload = NULL;
        break;
    case RPC_FRAME_RESPONSE:
    case RPC_FRAME_STREAM:
    case RPC_FRAME_END:
        rpc_conn_on_answer(conn, f);
        break;
    case RPC_FRAME_CANCEL:
        rpc_conn_on_cancel_frame(conn, f->call_id);
        break;
    default:
        break;
    }
    json_decref(f->payload);
    f->payload = NULL;
}

static void rpc_conn_on_read(struct stream *s, ssize_t nread, const char *data)
{
    struct rpc_conn *conn = s->data;
    struct rpc_frame f;
    struct err why;
    size_t off = 0;
    size_t used;
    int rv;

    if (conn->failed)
        return;
    conn->refs++;
    conn->in_read++;
    if (nread < 0) {
        err_set(&why, ERR_UNAVAILABLE, "connection to %s lost: %s",
                conn->name,
                nread == UV_EOF ? "closed by peer" : uv_strerror((int)nread));
        rpc_conn_abort(conn, &why);
    }
    while (nread > 0 && !conn->failed && off < (size_t)nread) {
        rv = rpc_frame_feed(&conn->dec, data + off, (size_t)nread - off,
                            &used, &f, &why);
        off += used;
        if (rv == RPC_FRAME_AGAIN)
            break;
        if (rv < 0) {
            err_wrap(&why, "connection to %s", conn->name);
            rpc_conn_abort(conn, &why);
            break;
        }
        rpc_conn_dispatch(conn, &f);
    }
    conn->in_read--;
    if (conn->failed)
        rpc_conn_close_stream(conn);
    conn->refs--;
    rpc_conn_maybe_free(conn);
}

/* ---- lifecycle ---- */

int rpc_conn_new(uv_loop_t *loop, struct stream **stream,
                 const struct rpc_server *server, const char *name,
                 rpc_conn_closed_cb closed_cb, void *data,
                 struct rpc_conn **out, struct err *err)
{
    struct rpc_conn *conn = xcalloc(1, sizeof(*conn));
    struct stream *s = *stream;
    int rv;

    conn->loop = loop;
    conn->stream = s;
    conn->server = server;
    conn->peer = s->peer;
    conn->closed_cb = closed_cb;
    conn->data = data;
    if (name != NULL && name[0] != '\0')
        snprintf(conn->name, sizeof(conn->name), "%s", name);
    else if (s->peer.node_id[0] != '\0')
        snprintf(conn->name, sizeof(conn->name), "%s", s->peer.node_id);
    else if (s->peer.addr[0] != '\0')
        snprintf(conn->name, sizeof(conn->name), "%s", s->peer.addr);
    else
        snprintf(conn->name, sizeof(conn->name), "local peer");
    rpc_frame_dec_init(&conn->dec, RPC_FRAME_MAX);
    s->data = conn;
    rv = stream_read_start(s, rpc_conn_on_read);
    if (rv != 0) {
        free(conn);
        return err_set(err, ERR_UNAVAILABLE, "rpc connection to %s: %s",
                       name != NULL ? name : s->peer.addr, uv_strerror(rv));
    }
    uv_timer_init(loop, &conn->timer);
    conn->timer.data = conn;
    conn->n_handles = 2;
    *stream = NULL;
    *out = conn;
    return 0;
}

bool rpc_conn_is_open(const struct rpc_conn *conn)
{
    return !conn->failed;
}

const struct stream_peer *rpc_conn_peer(const struct rpc_conn *conn)
{
    return &conn->peer;
}

struct stream *rpc_conn_stream(const struct rpc_conn *conn)
{
    return conn->failed ? NULL : conn->stream;
}

size_t rpc_conn_n_calls(const struct rpc_conn *conn)
{
    return conn->n_calls;
}

void rpc_conn_req_done(struct rpc_conn *conn, struct rpc_req *req)
{
    if (req->prev != NULL)
        req->prev->next = req->next;
    else
        conn->reqs = req->next;
    if (req->next != NULL)
        req->next->prev = req->prev;
    conn->n_reqs--;
    json_decref(req->payload);
    free(req);
    conn->refs--;
    rpc_conn_maybe_free(conn);
}

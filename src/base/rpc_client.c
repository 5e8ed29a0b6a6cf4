/* SPDX-License-Identifier: Apache-2.0 */
/* A reconnecting RPC client for one remote address: dial through the
 * caller's dialer, back off exponentially, queue calls while down. */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/rpc.h"
#include "base/rpc_int.h"

static void rpc_client_dial(struct rpc_client *c);

uint64_t rpc_client_backoff_next(uint64_t prev_ms)
{
    uint64_t next;

    /* Docker's agent (swarmkit agent/agent.go): initial 100 ms, then
     * initial + 2 x previous, capped at 8 s. */
    if (prev_ms == 0)
        return RPC_CLIENT_BACKOFF_INITIAL_MS;
    if (prev_ms >= RPC_CLIENT_BACKOFF_MAX_MS)
        return RPC_CLIENT_BACKOFF_MAX_MS;
    next = RPC_CLIENT_BACKOFF_INITIAL_MS + 2 * prev_ms;
    return next > RPC_CLIENT_BACKOFF_MAX_MS ? RPC_CLIENT_BACKOFF_MAX_MS : next;
}

/* ---- the queue ---- */

static void rpc_client_unlink(struct rpc_client *c, struct rpc_call *call)
{
    if (call->prev != NULL)
        call->prev->next = call->next;
    else
        c->queue = call->next;
    if (call->next != NULL)
        call->next->prev = call->prev;
    else
        c->queue_tail = call->prev;
    call->prev = call->next = NULL;
    call->client = NULL;
    c->n_queued--;
}

static void rpc_client_complete(struct rpc_call *call, int status)
{
    json_decref(call->req);
    call->req = NULL;
    call->cb(call, status, NULL);
}

void rpc_client_cancel_queued(struct rpc_call *call)
{
    rpc_client_unlink(call->client, call);
    err_set(&call->err, ERR_CANCELED, "rpc %s canceled",
            json_string_value(json_object_get(call->req, "method")));
    rpc_client_complete(call, -ERR_CANCELED);
}

static uint64_t rpc_client_call_limit(const struct rpc_call *call)
{
    if (call->deadline != 0 && call->deadline < call->wait_until)
        return call->deadline;
    return call->wait_until;
}

static void rpc_client_on_deadline(uv_timer_t *t);

static void rpc_client_arm(struct rpc_client *c)
{
    struct rpc_call *call;
    uint64_t now = uv_now(c->loop);
    uint64_t earliest = 0;
    uint64_t limit;

    for (call = c->queue; call != NULL; call = call->next) {
        limit = rpc_client_call_limit(call);
        if (earliest == 0 || limit < earliest)
            earliest = limit;
    }
    if (earliest == 0 || c->closing) {
        uv_timer_stop(&c->deadline_timer);
        return;
    }
    uv_timer_start(&c->deadline_timer, rpc_client_on_deadline,
                   earliest > now ? earliest - now : 0, 0);
}

static void rpc_client_expire(struct rpc_client *c, struct rpc_call *call)
{
    const char *method = json_string_value(json_object_get(call->req,
                                                           "method"));

    rpc_client_unlink(c, call);
    if (c->last_err.code != ERR_OK)
        err_set(&call->err, ERR_UNAVAILABLE,
                "rpc %s to %s: deadline exceeded while not connected: %s",
                method, c->address, c->last_err.msg);
    else
        err_set(&call->err, ERR_UNAVAILABLE,
                "rpc %s to %s: deadline exceeded while connecting", method,
                c->address);
    rpc_client_complete(call, -ERR_UNAVAILABLE);
}

static void rpc_client_on_deadline(uv_timer_t *t)
{
    struct rpc_client *c = container_of(t, struct rpc_client,
                                        deadline_timer);
    uint64_t now = uv_now(c->loop);
    struct rpc_call *call;

    /* Callbacks may queue or cancel calls: rescan after each expiry. */
    for (;;) {
        for (call = c->queue; call != NULL; call = call->next)
            if (rpc_client_call_limit(call) <= now)
                break;
        if (call == NULL)
            break;
        rpc_client_expire(c, call);
    }
    rpc_client_arm(c);
}

/* Move queued calls onto the fresh connection, in order. */
static void rpc_client_flush(struct rpc_client *c)
{
    struct rpc_call *call;
    uint64_t now = uv_now(c->loop);
    int rv;

    while (c->queue != NULL && c->conn != NULL && rpc_conn_is_open(c->conn)) {
        call = c->queue;
        if (call->deadline != 0 && call->deadline <= now) {
            rpc_client_expire(c, call);
            continue;
        }
        rpc_client_unlink(c, call);
        rv = rpc_conn_start(c->conn, call, call->deadline, &call->err);
        if (rv != 0)
            rpc_client_complete(call, rv);
    }
    rpc_client_arm(c);
}

/* ---- connection ---- */

static void rpc_client_maybe_closed(struct rpc_client *c)
{
    if (!c->closing || c->n_open_handles > 0 || c->dialing ||
        c->conn != NULL)
        return;
    free(c->address);
    c->address = NULL;
    if (c->close_cb != NULL)
        c->close_cb(c);
}

static void rpc_client_on_retry(uv_timer_t *t)
{
    struct rpc_client *c = container_of(t, struct rpc_client, retry_timer);

    rpc_client_dial(c);
}

static void rpc_client_retry_later(struct rpc_client *c)
{
    c->backoff_ms = rpc_client_backoff_next(c->backoff_ms);
    log_debug(LOG_RPC, "rpc client %s: redial in %llu ms", c->address,
              (unsigned long long)c->backoff_ms);
    uv_timer_start(&c->retry_timer, rpc_client_on_retry, c->backoff_ms, 0);
}

static void rpc_client_on_conn_closed(struct rpc_conn *conn,
                                      const struct err *why, void *data)
{
    struct rpc_client *c = data;

    (void)conn;
    c->conn = NULL;
    if (c->closing) {
        rpc_client_maybe_closed(c);
        return;
    }
    c->last_err = *why;
    log_info(LOG_RPC, "rpc client %s: %s", c->address, why->msg);
    rpc_client_retry_later(c);
}

static void rpc_client_dial(struct rpc_client *c)
{
    if (c->closing || c->dialing || c->conn != NULL)
        return;
    c->dialing = true;
    c->n_dials++;
    c->dial(c, c->address, c->dial_data);
}

void rpc_client_dialed(struct rpc_client *c, struct stream **stream,
                       const struct err *err)
{
    struct err e;
    int rv;

    c->dialing = false;
    if (c->closing) {
        if (stream != NULL && *stream != NULL) {
            stream_close(*stream, NULL, NULL);
            *stream = NULL;
        }
        rpc_client_maybe_closed(c);
        return;
    }
    if (stream == NULL || *stream == NULL) {
        if (err != NULL)
            c->last_err = *err;
        else
            err_set(&c->last_err, ERR_UNAVAILABLE, "dial %s failed",
                    c->address);
        log_debug(LOG_RPC, "rpc client %s: %s", c->address,
                  c->last_err.msg);
        rpc_client_retry_later(c);
        return;
    }
    rv = rpc_conn_new(c->loop, stream, c->server, c->address,
                      rpc_client_on_conn_closed, c, &c->conn, &e);
    if (rv != 0) {
        stream_close(*stream, NULL, NULL);
        *stream = NULL;
        c->last_err = e;
        rpc_client_retry_later(c);
        return;
    }
    c->backoff_ms = 0;
    err_clear(&c->last_err);
    log_debug(LOG_RPC, "rpc client %s: connected", c->address);
    rpc_client_flush(c);
}

/* ---- public ---- */

int rpc_client_init(struct rpc_client *c, uv_loop_t *loop,
                    const char *address, rpc_client_dial_cb dial,
                    void *dial_data, const struct rpc_server *server,
                    struct err *err)
{
    void *data = c->data;

    (void)err;
    memset(c, 0, sizeof(*c));
    c->data = data;
    c->loop = loop;
    c->address = xstrdup(address);
    c->dial = dial;
    c->dial_data = dial_data;
    c->server = server;
    uv_timer_init(loop, &c->retry_timer);
    uv_timer_init(loop, &c->deadline_timer);
    rpc_client_dial(c);
    return 0;
}

bool rpc_client_is_connected(const struct rpc_client *c)
{
    return c->conn != NULL && rpc_conn_is_open(c->conn);
}

int rpc_client_call(struct rpc_client *c, struct rpc_call *call,
                    const char *method, json_t *body, uint64_t timeout_ms,
                    struct err *err)
{
    uint64_t now = uv_now(c->loop);

    if (c->closing)
        return err_set(err, ERR_UNAVAILABLE, "rpc client %s is closed",
                       c->address);
    if (rpc_client_is_connected(c))
        return rpc_conn_call(c->conn, call, method, body, timeout_ms, err);
    if (c->n_queued >= RPC_CLIENT_MAX_QUEUED)
        return err_set(err, ERR_UNAVAILABLE,
                       "rpc %s to %s: not connected and %u calls waiting",
                       method, c->address, RPC_CLIENT_MAX_QUEUED);
    call->req = json_pack("{s:s, s:O}", "method", method, "body",
                          body != NULL ? body : json_null());
    if (call->req == NULL)
        return err_set(err, ERR_INVALID, "rpc method name is not UTF-8");
    err_clear(&call->err);
    call->conn = NULL;
    call->id = 0;
    call->deadline = timeout_ms != 0 ? now + timeout_ms : 0;
    call->wait_until = now + RPC_CLIENT_QUEUE_WAIT_MS;
    call->client = c;
    call->next = NULL;
    call->hnext = NULL;
    call->prev = c->queue_tail;
    if (c->queue_tail != NULL)
        c->queue_tail->next = call;
    else
        c->queue = call;
    c->queue_tail = call;
    c->n_queued++;
    rpc_client_arm(c);
    return 0;
}

static void rpc_client_on_timer_closed(uv_handle_t *h)
{
    struct rpc_client *c = h->data;

    c->n_open_handles--;
    rpc_client_maybe_closed(c);
}

void rpc_client_close(struct rpc_client *c, rpc_client_close_cb cb)
{
    struct rpc_call *call;

    c->closing = true;
    c->close_cb = cb;
    while (c->queue != NULL) {
        call = c->queue;
        rpc_client_unlink(c, call);
        err_set(&call->err, ERR_CANCELED, "rpc %s canceled: client for %s "
                "closed",
                json_string_value(json_object_get(call->req, "method")),
                c->address);
        rpc_client_complete(call, -ERR_CANCELED);
    }
    c->n_open_handles = 2;
    c->retry_timer.data = c;
    c->deadline_timer.data = c;
    uv_close((uv_handle_t *)&c->retry_timer, rpc_client_on_timer_closed);
    uv_close((uv_handle_t *)&c->deadline_timer, rpc_client_on_timer_closed);
    if (c->conn != NULL)
        rpc_conn_close(c->conn);
}

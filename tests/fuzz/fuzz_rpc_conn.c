/* SPDX-License-Identifier: Apache-2.0 */
/* The RPC connection behind the frame decoder (base/rpc_conn.c and
 * rpc_server.c): the input is what an unauthenticated peer sends on a real
 * connection (a socketpair) in fuzzer-chosen pieces, to a conn that serves
 * a small method table and has two calls of its own in flight (ids 1 and
 * 2, unary and server stream) for the peer's answers to land on. Every
 * call and request must complete exactly once and every handle close. */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <uv.h>

#include "base/err.h"
#include "base/rpc.h"
#include "base/stream.h"
#include "fuzz_util.h"

static uv_loop_t loop;

struct run
{
    int calls_done[2];
    bool conn_closed;
    bool peer_closed;
    int held;
};

static void h_echo(struct rpc_req *req, void *data)
{
    (void)data;
    rpc_server_reply(req, req->body);
}

static void h_stream(struct rpc_req *req, void *data)
{
    struct err err;

    (void)data;
    err_clear(&err);
    if (rpc_server_send(req, req->body, &err) == 0)
        (void)rpc_server_send(req, req->body, &err);
    rpc_server_reply(req, NULL);
}

static void h_fail(struct rpc_req *req, void *data)
{
    struct err err;

    (void)data;
    err_set(&err, ERR_INVALID, "refused: %s",
            json_string_value(json_object_get(req->body, "why")) ?: "no");
    rpc_server_fail(req, &err);
}

static void h_hold_cancel(struct rpc_req *req, void *data)
{
    struct run *r = data;
    struct err err;

    r->held--;
    err_set(&err, ERR_CANCELED, "canceled");
    rpc_server_fail(req, &err);
}

/* Answered only when canceled or when the connection goes. */
static void h_hold(struct rpc_req *req, void *data)
{
    struct run *r = *(struct run **)data;

    if (!rpc_server_on_cancel(req, h_hold_cancel, r)) {
        rpc_server_reply(req, NULL);
        return;
    }
    r->held++;
}

static struct run *cur;
static const struct rpc_method methods[] = {
    {"echo", RPC_ROLE_ANY, h_echo},
    {"stream", RPC_ROLE_ANY, h_stream},
    {"fail", RPC_ROLE_ANY, h_fail},
    {"hold", RPC_ROLE_ANY, h_hold},
    {"admin", RPC_ROLE_MANAGER, h_echo},
    {"node", RPC_ROLE_NODE, h_echo},
};
static struct rpc_server server;

static void on_call(struct rpc_call *call, int status, json_t *body)
{
    int *done = call->data;

    (void)body;
    if (status != 0 && call->err.msg[0] == '\0')
        abort();
    (*done)++;
}

static void on_msg(struct rpc_call *call, json_t *body)
{
    (void)call;
    if (body == NULL)
        abort();
}

static void on_closed(struct rpc_conn *conn, const struct err *why,
                      void *data)
{
    struct run *r = data;

    (void)conn;
    if (r->conn_closed || why->msg[0] == '\0')
        abort();
    r->conn_closed = true;
}

static void on_peer_read(struct stream *s, ssize_t nread, const char *data)
{
    (void)s;
    (void)nread;
    (void)data;
}

static void on_peer_closed(struct stream *s, void *data)
{
    struct run *r = data;

    (void)s;
    r->peer_closed = true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet();
    signal(SIGPIPE, SIG_IGN); /* as the daemon does */
    uv_loop_init(&loop);
    rpc_server_init(&server, methods, sizeof(methods) / sizeof(methods[0]),
                    &cur);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct run r;
    struct rpc_call calls[2];
    struct stream *a = NULL;
    struct stream *b = NULL;
    struct rpc_conn *conn = NULL;
    struct fuzz_split split;
    struct err err;
    size_t off = 0;
    int i;

    if (size < 1)
        return 0;
    memset(&r, 0, sizeof(r));
    cur = &r;
    fuzz_split_init(&split, data[0]);
    data++;
    size--;
    err_clear(&err);
    if (stream_uv_pair(&loop, &a, &b, &err) != 0 ||
        rpc_conn_new(&loop, &a, &server, "fuzz-peer", on_closed, &r, &conn,
                     &err) != 0)
        abort();
    memset(calls, 0, sizeof(calls));
    for (i = 0; i < 2; i++) {
        calls[i].data = &r.calls_done[i];
        calls[i].cb = on_call;
        calls[i].on_msg = i == 1 ? on_msg : NULL;
        if (rpc_conn_call(conn, &calls[i], i == 0 ? "unary" : "watch", NULL,
                          0, &err) != 0)
            abort();
    }
    stream_read_start(b, on_peer_read);
    while (off < size) {
        size_t n = fuzz_split_next(&split, size - off);

        if (stream_write(b, data + off, n, NULL, NULL) != 0)
            break;
        off += n;
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    stream_close(b, on_peer_closed, &r);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (!r.conn_closed || !r.peer_closed || r.held != 0 ||
        r.calls_done[0] != 1 || r.calls_done[1] != 1)
        abort();
    return 0;
}

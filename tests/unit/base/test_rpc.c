/* SPDX-License-Identifier: Apache-2.0 */
/* RPC: frame codec under any split, calls, deadlines, server streams,
 * cancel, role checks, connection loss and the reconnecting client, on a
 * real uv loop over socketpairs and TCP on 127.0.0.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/log.h"
#include "base/rpc.h"

/* ---- fixture ---- */

#define N_CALLS 1000
#define MAX_CONNS 16

struct tcall
{
    struct rpc_call call;
    int n_done;              /* completions seen */
    int status;
    json_t *body;            /* increfed copy of the answer */
    int n_msgs;
    int last_msg;
    bool cancel_on_msg;
    char msg[ERR_MSG_LEN];
};

struct fix
{
    uv_loop_t loop;
    uv_timer_t tick;         /* keeps UV_RUN_ONCE from blocking forever */
    struct rpc_server srv;
    struct rpc_conn *a;      /* caller side */
    struct rpc_conn *b;      /* serving side */
    struct stream *b_stream; /* borrowed: b's stream, for raw bytes */
    int a_closed;
    int b_closed;
    int a_why;
    int b_why;
    /* parked requests of the slow and watch handlers */
    struct rpc_req *parked[8];
    int n_parked;
    int n_canceled;          /* handler cancel callbacks */
    int n_lost;              /* ... of which saw rpc_server_peer_lost */
    bool reply_in_cancel;
    /* tcp */
    uv_tcp_t *listener;
    int port;
    struct rpc_conn *srv_conns[MAX_CONNS];
    int n_srv_conns_closed;
    struct rpc_client client;
    int client_closed;
    uint64_t dial_at[64];
    int n_dial_at;
};

static struct fix *F;

/* ---- handlers ---- */

static void h_echo(struct rpc_req *req, void *data)
{
    (void)data;
    rpc_server_reply(req, req->body);
}

static void h_whoami(struct rpc_req *req, void *data)
{
    json_t *b = json_pack("{s:s, s:s}", "node", req->peer->node_id, "role",
                          req->peer->role);

    (void)data;
    rpc_server_reply(req, b);
    json_decref(b);
}

static void h_fail(struct rpc_req *req, void *data)
{
    struct err err;

    (void)data;
    err_set(&err, ERR_CONFLICT, "name conflicts with an existing object");
    rpc_server_fail(req, &err);
}

static void h_deny(struct rpc_req *req, void *data)
{
    struct err err;

    (void)data;
    err_set(&err, ERR_FORBIDDEN, "permission denied: not yours");
    rpc_server_fail(req, &err);
}

static void h_on_cancel(struct rpc_req *req, void *data)
{
    int i;

    (void)data;
    F->n_canceled++;
    if (rpc_server_peer_lost(req))
        F->n_lost++;
    if (!F->reply_in_cancel)
        return;
    for (i = 0; i < F->n_parked; i++)
        if (F->parked[i] == req)
            F->parked[i] = NULL;
    rpc_server_reply(req, NULL); /* dropped: the call is gone */
}

static void h_slow(struct rpc_req *req, void *data)
{
    (void)data;
    assert_true(F->n_parked < 8);
    F->parked[F->n_parked++] = req;
    assert_true(rpc_server_on_cancel(req, h_on_cancel, NULL));
}

static void h_count(struct rpc_req *req, void *data)
{
    json_t *m;
    int i;

    (void)data;
    assert_true(req->stream);
    for (i = 0; i < 100; i++) {
        m = json_pack("{s:i}", "i", i);
        assert_int_equal(rpc_server_send(req, m, NULL), 0);
        json_decref(m);
    }
    rpc_server_reply(req, NULL);
}

static void h_watch(struct rpc_req *req, void *data)
{
    json_t *m = json_pack("{s:i}", "i", 0);

    (void)data;
    assert_int_equal(rpc_server_send(req, m, NULL), 0);
    json_decref(m);
    h_slow(req, data);
}

static const struct rpc_method methods[] = {
    {"echo", RPC_ROLE_ANY, h_echo},
    {"whoami", RPC_ROLE_ANY, h_whoami},
    {"fail", RPC_ROLE_ANY, h_fail},
    {"deny", RPC_ROLE_ANY, h_deny},
    {"slow", RPC_ROLE_ANY, h_slow},
    {"count", RPC_ROLE_ANY, h_count},
    {"watch", RPC_ROLE_ANY, h_watch},
    {"node.only", RPC_ROLE_NODE, h_whoami},
    {"manager.only", RPC_ROLE_MANAGER, h_whoami},
};

/* ---- helpers ---- */

static void tick_cb(uv_timer_t *t)
{
    (void)t;
}

static void close_free(uv_handle_t *h)
{
    free(h);
}

static int setup(void **state)
{
    F = calloc(1, sizeof(*F));
    assert_int_equal(uv_loop_init(&F->loop), 0);
    uv_timer_init(&F->loop, &F->tick);
    uv_timer_start(&F->tick, tick_cb, 5, 5);
    uv_unref((uv_handle_t *)&F->tick);
    rpc_server_init(&F->srv, methods, sizeof(methods) / sizeof(methods[0]),
                    NULL);
    *state = F;
    return 0;
}

static bool run_until(bool (*done)(void), uint64_t ms)
{
    uint64_t end;

    uv_update_time(&F->loop);
    end = uv_now(&F->loop) + ms;
    while (!done()) {
        if (uv_now(&F->loop) > end)
            return false;
        uv_ref((uv_handle_t *)&F->tick);
        uv_run(&F->loop, UV_RUN_ONCE);
        uv_unref((uv_handle_t *)&F->tick);
    }
    return true;
}

static void walk_cb(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        fprintf(stderr, "leftover handle type %d\n", h->type);
}

static int teardown(void **state)
{
    int i;

    (void)state;
    for (i = 0; i < F->n_parked; i++)
        if (F->parked[i] != NULL)
            rpc_server_reply(F->parked[i], NULL);
    uv_close((uv_handle_t *)&F->tick, NULL);
    uv_run(&F->loop, UV_RUN_DEFAULT);
    uv_walk(&F->loop, walk_cb, NULL);
    assert_int_equal(uv_loop_close(&F->loop), 0);
    free(F);
    F = NULL;
    return 0;
}

static void a_closed_cb(struct rpc_conn *c, const struct err *why, void *d)
{
    (void)c;
    (void)d;
    F->a_closed++;
    F->a_why = why->code;
    F->a = NULL;
}

static void b_closed_cb(struct rpc_conn *c, const struct err *why, void *d)
{
    (void)c;
    (void)d;
    F->b_closed++;
    F->b_why = why->code;
    F->b = NULL;
}

/* a calls b; a serves too when a_srv (for the two-way failure test). */
static void make_pair(const struct stream_peer *b_sees, bool a_srv)
{
    struct stream *sa;
    struct stream *sb;

    assert_int_equal(stream_uv_pair(&F->loop, &sa, &sb, NULL), 0);
    if (b_sees != NULL)
        sb->peer = *b_sees;
    F->b_stream = sb;
    assert_int_equal(rpc_conn_new(&F->loop, &sa, a_srv ? &F->srv : NULL,
                                  "server", a_closed_cb, NULL, &F->a, NULL),
                     0);
    assert_null(sa);
    assert_int_equal(rpc_conn_new(&F->loop, &sb, &F->srv, "client",
                                  b_closed_cb, NULL, &F->b, NULL),
                     0);
}

static bool both_closed(void)
{
    return F->a_closed == 1 && F->b_closed == 1;
}

static void close_pair(void)
{
    if (F->a != NULL)
        rpc_conn_close(F->a);
    if (F->b != NULL)
        rpc_conn_close(F->b);
    assert_true(run_until(both_closed, 2000));
}

static void tcall_cb(struct rpc_call *call, int status, json_t *body)
{
    struct tcall *t = (struct tcall *)call;

    t->n_done++;
    t->status = status;
    snprintf(t->msg, sizeof(t->msg), "%s", status != 0 ? call->err.msg : "");
    json_decref(t->body);
    t->body = body != NULL ? json_incref(body) : NULL;
    if (status == 0)
        assert_non_null(body);
}

static void tcall_msg(struct rpc_call *call, json_t *body)
{
    struct tcall *t = (struct tcall *)call;

    assert_int_equal(t->n_done, 0);
    t->last_msg = (int)json_integer_value(json_object_get(body, "i"));
    assert_int_equal(t->last_msg, t->n_msgs);
    t->n_msgs++;
    if (t->cancel_on_msg)
        rpc_conn_cancel(call);
}

static void tcall_init(struct tcall *t, bool stream)
{
    memset(t, 0, sizeof(*t));
    t->call.cb = tcall_cb;
    t->call.on_msg = stream ? tcall_msg : NULL;
}

static void tcall_release(struct tcall *t)
{
    json_decref(t->body);
    t->body = NULL;
}

static struct tcall *WAIT1;
static bool one_done(void)
{
    return WAIT1->n_done > 0;
}

static int PARK_N;
static bool parked_enough(void)
{
    return F->n_parked >= PARK_N;
}

static void wait_parked(int n)
{
    PARK_N = n;
    assert_true(run_until(parked_enough, 2000));
}

static void call_sync(struct rpc_conn *c, struct tcall *t, const char *m,
                      json_t *body)
{
    assert_int_equal(rpc_conn_call(c, &t->call, m, body, 2000, NULL), 0);
    assert_int_equal(t->n_done, 0);
    WAIT1 = t;
    assert_true(run_until(one_done, 3000));
    assert_int_equal(t->n_done, 1);
}

/* ---- frame codec ---- */

struct frames
{
    char *buf;
    size_t len;
    struct rpc_frame f[8];
    size_t n;
};

static void frames_add(struct frames *fs, uint8_t type, uint8_t flags,
                       uint32_t id, const char *json)
{
    json_t *p = json != NULL ? json_loads(json, 0, NULL) : NULL;
    char *b;
    size_t n;

    assert_int_equal(rpc_frame_encode(type, flags, id, p, &b, &n, NULL), 0);
    fs->buf = realloc(fs->buf, fs->len + n);
    memcpy(fs->buf + fs->len, b, n);
    fs->len += n;
    free(b);
    fs->f[fs->n].type = type;
    fs->f[fs->n].flags = flags;
    fs->f[fs->n].call_id = id;
    fs->f[fs->n].payload = p;
    fs->n++;
}

/* Decode fs->buf cut at the given split sizes (cycled) and compare. */
static void frames_check_split(const struct frames *fs, const size_t *cuts,
                               size_t n_cuts)
{
    struct rpc_frame_dec dec;
    struct rpc_frame f;
    size_t off = 0;
    size_t got = 0;
    size_t chunk;
    size_t pos;
    size_t used;
    size_t ci = 0;
    int rv;

    rpc_frame_dec_init(&dec, 0);
    while (off < fs->len) {
        chunk = cuts[ci++ % n_cuts];
        if (chunk > fs->len - off)
            chunk = fs->len - off;
        pos = 0;
        do {
            rv = rpc_frame_feed(&dec, fs->buf + off + pos, chunk - pos,
                                &used, &f, NULL);
            assert_true(rv == RPC_FRAME_OK || rv == RPC_FRAME_AGAIN);
            pos += used;
            if (rv == RPC_FRAME_OK) {
                assert_true(got < fs->n);
                assert_int_equal(f.type, fs->f[got].type);
                assert_int_equal(f.flags, fs->f[got].flags);
                assert_int_equal(f.call_id, fs->f[got].call_id);
                if (fs->f[got].payload == NULL)
                    assert_null(f.payload);
                else
                    assert_true(json_equal(f.payload, fs->f[got].payload));
                json_decref(f.payload);
                got++;
            } else {
                assert_int_equal(pos, chunk);
            }
        } while (pos < chunk);
        off += chunk;
    }
    assert_int_equal(got, fs->n);
    assert_int_equal(dec.hdr_len, 0);
    rpc_frame_dec_release(&dec);
}

static void test_frame_roundtrip_splits(void **state)
{
    struct frames fs = {0};
    size_t whole = 0;
    size_t one = 1;
    size_t cuts[16];
    size_t i;
    int round;

    (void)state;
    frames_add(&fs, RPC_FRAME_REQUEST, RPC_FRAME_F_STREAM, 7,
               "{\"method\":\"dispatcher.Assignments\",\"body\":"
               "{\"node\":\"n1\",\"list\":[1,2,3,\"\\u00e9\"]}}");
    frames_add(&fs, RPC_FRAME_STREAM, 0, 7, "{\"body\":{\"x\":true}}");
    frames_add(&fs, RPC_FRAME_END, 0, 7,
               "{\"status\":-4,\"message\":\"gone\"}");
    frames_add(&fs, RPC_FRAME_CANCEL, 0, 9, NULL);
    frames_add(&fs, RPC_FRAME_RESPONSE, 0, 0xffffffffu,
               "{\"status\":0,\"message\":\"\",\"body\":null}");
    whole = fs.len;
    frames_check_split(&fs, &whole, 1);
    frames_check_split(&fs, &one, 1);
    srand(42);
    for (round = 0; round < 300; round++) {
        for (i = 0; i < 16; i++)
            cuts[i] = 1 + (size_t)rand() % 40;
        frames_check_split(&fs, cuts, 16);
    }
    for (i = 0; i < fs.n; i++)
        json_decref(fs.f[i].payload);
    free(fs.buf);
}

/* Feed raw bytes one at a time; expect -ERR_PROTO by the end. */
static void expect_proto(const void *bytes, size_t len)
{
    struct rpc_frame_dec dec;
    struct rpc_frame f;
    struct err err;
    size_t used;
    size_t i;
    int rv = RPC_FRAME_AGAIN;

    err_clear(&err);
    rpc_frame_dec_init(&dec, 0);
    for (i = 0; i < len && rv == RPC_FRAME_AGAIN; i++)
        rv = rpc_frame_feed(&dec, (const char *)bytes + i, 1, &used, &f,
                            &err);
    assert_int_equal(rv, -ERR_PROTO);
    assert_int_equal(err.code, ERR_PROTO);
    /* and stays failed */
    assert_int_equal(rpc_frame_feed(&dec, "x", 1, &used, &f, NULL),
                     -ERR_PROTO);
    rpc_frame_dec_release(&dec);
}

static void hdr(unsigned char *h, uint32_t len, uint8_t type, uint8_t flags,
                uint32_t id)
{
    h[0] = (unsigned char)(len >> 24);
    h[1] = (unsigned char)(len >> 16);
    h[2] = (unsigned char)(len >> 8);
    h[3] = (unsigned char)len;
    h[4] = type;
    h[5] = flags;
    h[6] = h[7] = 0;
    h[8] = (unsigned char)(id >> 24);
    h[9] = (unsigned char)(id >> 16);
    h[10] = (unsigned char)(id >> 8);
    h[11] = (unsigned char)id;
}

static void test_frame_rejects(void **state)
{
    unsigned char b[64];
    json_t *big;
    char *enc;
    char *s;
    size_t n;

    (void)state;
    hdr(b, RPC_FRAME_MAX + 1, RPC_FRAME_REQUEST, 0, 1);
    expect_proto(b, 12); /* refused at the header, nothing allocated */
    expect_proto("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
    hdr(b, 2, 9, 0, 1);
    expect_proto(b, 12); /* unknown type */
    hdr(b, 2, RPC_FRAME_STREAM, RPC_FRAME_F_STREAM, 1);
    expect_proto(b, 12); /* flag on a non-request */
    hdr(b, 2, RPC_FRAME_STREAM, 0, 0);
    expect_proto(b, 12); /* call id 0 */
    hdr(b, 2, RPC_FRAME_CANCEL, 0, 1);
    expect_proto(b, 12); /* cancel with payload */
    hdr(b, 3, RPC_FRAME_STREAM, 0, 1);
    memcpy(b + 12, "[1]", 3);
    expect_proto(b, 15); /* not an object */
    hdr(b, 4, RPC_FRAME_STREAM, 0, 1);
    memcpy(b + 12, "{\"a\"", 4);
    expect_proto(b, 16); /* truncated JSON */
    hdr(b, 14, RPC_FRAME_REQUEST, 0, 1);
    memcpy(b + 12, "{\"method\":12}", 14);
    expect_proto(b, 26); /* method not a string */
    hdr(b, 12, RPC_FRAME_RESPONSE, 0, 1);
    memcpy(b + 12, "{\"status\":1}", 12);
    expect_proto(b, 24); /* positive status */
    b[6] = 1;
    expect_proto(b, 12);  /* reserved bits */

    /* the encoder refuses what the decoder would */
    s = malloc(RPC_FRAME_MAX + 1);
    memset(s, 'a', RPC_FRAME_MAX);
    s[RPC_FRAME_MAX] = '\0';
    big = json_pack("{s:s}", "body", s);
    assert_int_equal(rpc_frame_encode(RPC_FRAME_STREAM, 0, 1, big, &enc, &n,
                                      NULL),
                     -ERR_TOOBIG);
    json_decref(big);
    free(s);
}

/* ---- calls over a socketpair ---- */

static void test_echo(void **state)
{
    struct tcall t;
    json_t *body = json_pack("{s:i, s:[s]}", "x", 1, "l", "y");

    (void)state;
    make_pair(NULL, false);
    tcall_init(&t, false);
    call_sync(F->a, &t, "echo", body);
    assert_int_equal(t.status, 0);
    assert_true(json_equal(t.body, body));
    tcall_release(&t);

    tcall_init(&t, false);
    call_sync(F->a, &t, "fail", NULL);
    assert_int_equal(t.status, -ERR_CONFLICT);
    assert_string_equal(t.msg, "name conflicts with an existing object");
    tcall_release(&t);

    tcall_init(&t, false);
    call_sync(F->a, &t, "no.such.Method", NULL);
    assert_int_equal(t.status, -ERR_NOTFOUND);
    assert_non_null(strstr(t.msg, "no.such.Method"));
    tcall_release(&t);

    json_decref(body);
    close_pair();
    assert_int_equal(F->a_why, ERR_CANCELED);
}

static struct tcall *MANY;
static bool many_done(void)
{
    int i;

    for (i = 0; i < N_CALLS; i++)
        if (MANY[i].n_done == 0)
            return false;
    return true;
}

static void test_concurrent(void **state)
{
    json_t *body;
    int i;

    (void)state;
    make_pair(NULL, false);
    MANY = calloc(N_CALLS, sizeof(*MANY));
    for (i = 0; i < N_CALLS; i++) {
        tcall_init(&MANY[i], false);
        body = json_pack("{s:i}", "i", i);
        assert_int_equal(rpc_conn_call(F->a, &MANY[i].call, "echo", body,
                                       10000, NULL),
                         0);
        json_decref(body);
    }
    assert_int_equal(rpc_conn_n_calls(F->a), N_CALLS);
    assert_true(run_until(many_done, 10000));
    for (i = 0; i < N_CALLS; i++) {
        assert_int_equal(MANY[i].n_done, 1);
        assert_int_equal(MANY[i].status, 0);
        assert_int_equal(json_integer_value(json_object_get(MANY[i].body,
                                                            "i")),
                         i);
        tcall_release(&MANY[i]);
    }
    assert_int_equal(rpc_conn_n_calls(F->a), 0);
    close_pair();
    for (i = 0; i < N_CALLS; i++)
        assert_int_equal(MANY[i].n_done, 1);
    free(MANY);
}

static bool one_canceled(void)
{
    return F->n_canceled == 1;
}

static void test_deadline(void **state)
{
    struct tcall t;
    struct tcall ok;

    (void)state;
    make_pair(NULL, false);
    tcall_init(&t, false);
    assert_int_equal(rpc_conn_call(F->a, &t.call, "slow", NULL, 50, NULL),
                     0);
    WAIT1 = &t;
    assert_true(run_until(one_done, 2000));
    assert_int_equal(t.status, -ERR_UNAVAILABLE);
    assert_non_null(strstr(t.msg, "deadline exceeded"));
    assert_non_null(strstr(t.msg, "slow"));
    /* the server is told and stops */
    assert_true(run_until(one_canceled, 2000));
    assert_int_equal(F->n_lost, 0); /* a CANCEL frame, the conn is up */
    /* the late answer is dropped */
    rpc_server_reply(F->parked[0], NULL);
    F->parked[0] = NULL;
    tcall_init(&ok, false);
    call_sync(F->a, &ok, "echo", NULL);
    assert_int_equal(ok.status, 0);
    assert_int_equal(t.n_done, 1);
    tcall_release(&ok);
    close_pair();
    assert_int_equal(t.n_done, 1);
    assert_int_equal(F->n_canceled, 1);
}

static void test_stream_100(void **state)
{
    struct tcall t;

    (void)state;
    make_pair(NULL, false);
    tcall_init(&t, true);
    call_sync(F->a, &t, "count", NULL);
    assert_int_equal(t.status, 0);
    assert_int_equal(t.n_msgs, 100);
    assert_int_equal(t.last_msg, 99);
    tcall_release(&t);
    close_pair();
}

static void test_stream_cancel(void **state)
{
    struct tcall t;
    struct err err;

    (void)state;
    make_pair(NULL, false);
    tcall_init(&t, true);
    t.cancel_on_msg = true;
    call_sync(F->a, &t, "watch", NULL);
    assert_int_equal(t.status, -ERR_CANCELED);
    assert_int_equal(t.n_msgs, 1);
    assert_true(run_until(one_canceled, 2000));
    /* the client gave up the call, not the connection */
    assert_int_equal(F->n_lost, 0);
    /* sending after the cancel tells the handler to stop */
    assert_int_equal(rpc_server_send(F->parked[0], NULL, &err),
                     -ERR_CANCELED);
    assert_false(rpc_server_on_cancel(F->parked[0], h_on_cancel, NULL));
    rpc_server_reply(F->parked[0], NULL);
    F->parked[0] = NULL;
    /* cancel after completion is a no-op */
    rpc_conn_cancel(&t.call);
    close_pair();
    assert_int_equal(t.n_done, 1);
    assert_int_equal(F->n_canceled, 1);
}

static void check_role(const struct stream_peer *peer, const char *method,
                       int status, const char *msg)
{
    struct tcall t;

    F->a_closed = F->b_closed = 0;
    make_pair(peer, false);
    tcall_init(&t, false);
    call_sync(F->a, &t, method, NULL);
    assert_int_equal(t.status, status);
    if (msg != NULL)
        assert_string_equal(t.msg, msg);
    if (status == 0)
        assert_string_equal(
            json_string_value(json_object_get(t.body, "node")),
            peer->node_id);
    tcall_release(&t);
    close_pair();
}

static void test_roles(void **state)
{
    struct stream_peer anon = {0};
    struct stream_peer worker = {.verified = true, .node_id = "w1",
                                 .role = "swarm-worker", .org = "c1"};
    struct stream_peer manager = {.verified = true, .node_id = "m1",
                                  .role = "swarm-manager", .org = "c1"};
    struct stream_peer unverified = {.verified = false, .node_id = "m2",
                                     .role = "swarm-manager"};
    struct stream_peer odd = {.verified = true, .node_id = "x1",
                              .role = "swarm-visitor"};

    (void)state;
    check_role(&anon, "whoami", 0, NULL);
    check_role(&anon, "node.only", -ERR_FORBIDDEN,
               "permission denied: node.only needs a worker or manager "
               "certificate");
    check_role(&anon, "manager.only", -ERR_FORBIDDEN,
               "permission denied: manager.only needs a manager "
               "certificate");
    check_role(&worker, "whoami", 0, NULL);
    check_role(&worker, "node.only", 0, NULL);
    check_role(&worker, "manager.only", -ERR_FORBIDDEN,
               "permission denied: manager.only needs a manager "
               "certificate");
    check_role(&manager, "node.only", 0, NULL);
    check_role(&manager, "manager.only", 0, NULL);
    check_role(&unverified, "node.only", -ERR_FORBIDDEN, NULL);
    check_role(&unverified, "manager.only", -ERR_FORBIDDEN, NULL);
    check_role(&odd, "node.only", -ERR_FORBIDDEN, NULL);
}

static void call_status(const char *method, int status)
{
    struct tcall t;

    tcall_init(&t, false);
    call_sync(F->a, &t, method, NULL);
    assert_int_equal(t.status, status);
    tcall_release(&t);
}

static size_t count_str(const char *hay, const char *needle)
{
    size_t n = 0;

    while ((hay = strstr(hay, needle)) != NULL) {
        n++;
        hay += strlen(needle);
    }
    return n;
}

/* A refused call is a warning naming the peer's address, certificate,
 * method and reason, once per connection; other failures are not. */
static void test_refusal_log(void **state)
{
    struct stream_peer worker = {.verified = true, .node_id = "w1",
                                 .role = "swarm-worker", .org = "c1",
                                 .addr = "127.0.0.1:4242"};
    struct stream_peer anon = {.addr = "127.0.0.1:4343"};
    FILE *f = tmpfile();
    char text[8192];
    size_t n;
    int i;

    (void)state;
    assert_non_null(f);
    log_set_fd(fileno(f));
    F->a_closed = F->b_closed = 0;
    make_pair(&worker, false);
    for (i = 0; i < 3; i++)
        call_status("manager.only", -ERR_FORBIDDEN);
    call_status("deny", -ERR_FORBIDDEN);
    call_status("nosuch", -ERR_NOTFOUND);
    close_pair();
    F->a_closed = F->b_closed = 0;
    make_pair(&anon, false);
    call_status("fail", -ERR_CONFLICT);
    call_status("deny", -ERR_FORBIDDEN);
    call_status("manager.only", -ERR_FORBIDDEN);
    close_pair();
    log_set_fd(STDERR_FILENO);
    rewind(f);
    n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    assert_int_equal(count_str(text, "level=warning"), 2);
    assert_non_null(strstr(text, "level=warning module=rpc msg=\"rpc "
                                 "manager.only from 127.0.0.1:4242 (node w1, "
                                 "swarm-worker) refused: permission denied: "
                                 "manager.only needs a manager "
                                 "certificate\""));
    assert_non_null(strstr(text, "level=warning module=rpc msg=\"rpc deny "
                                 "from 127.0.0.1:4343 (no certificate) "
                                 "refused: permission denied: not yours\""));
    assert_null(strstr(text, "conflicts"));
}

static bool b_closed_once(void)
{
    return F->b_closed == 1;
}

static void test_async_reply_after_disconnect(void **state)
{
    struct tcall t;
    struct tcall s;
    struct err err;

    (void)state;
    make_pair(NULL, false);
    tcall_init(&t, false);
    tcall_init(&s, true);
    assert_int_equal(rpc_conn_call(F->a, &t.call, "slow", NULL, 0, NULL), 0);
    assert_int_equal(rpc_conn_call(F->a, &s.call, "watch", NULL, 0, NULL),
                     0);
    wait_parked(2);
    rpc_conn_close(F->a);
    /* completes at once, exactly once */
    assert_int_equal(t.n_done, 1);
    assert_int_equal(t.status, -ERR_CANCELED);
    assert_int_equal(s.n_done, 1);
    assert_int_equal(s.status, -ERR_CANCELED);
    assert_true(run_until(b_closed_once, 2000));
    assert_int_equal(F->b_why, ERR_UNAVAILABLE);
    assert_int_equal(F->n_canceled, 2); /* each handler told once */
    assert_int_equal(F->n_lost, 2);     /* the peer hung up */
    /* the conn is gone for its owner; the handlers still answer */
    assert_int_equal(rpc_server_send(F->parked[1], NULL, &err),
                     -ERR_CANCELED);
    rpc_server_reply(F->parked[0], NULL);
    rpc_server_fail(F->parked[1], &err);
    F->parked[0] = F->parked[1] = NULL;
    assert_true(run_until(both_closed, 2000));
    assert_int_equal(t.n_done, 1);
    assert_int_equal(s.n_done, 1);
}

/* Raw bytes into a's reader: a fails with ERR_PROTO, b sees the loss. */
static void proto_case(const void *bytes, size_t len)
{
    struct tcall ta;
    struct tcall tb;

    F->a_closed = F->b_closed = 0;
    F->n_parked = 0;
    F->n_canceled = 0;
    make_pair(NULL, true);
    tcall_init(&ta, false);
    tcall_init(&tb, false);
    assert_int_equal(rpc_conn_call(F->a, &ta.call, "slow", NULL, 0, NULL),
                     0);
    assert_int_equal(rpc_conn_call(F->b, &tb.call, "slow", NULL, 0, NULL),
                     0);
    wait_parked(2);
    /* b's stream is owned by b: this is the peer misbehaving */
    assert_int_equal(stream_write(F->b_stream, bytes, len, NULL, NULL), 0);
    assert_true(run_until(both_closed, 2000));
    assert_int_equal(F->a_why, ERR_PROTO);
    assert_int_equal(F->b_why, ERR_UNAVAILABLE);
    assert_int_equal(ta.n_done, 1);
    assert_int_equal(ta.status, -ERR_PROTO);
    assert_int_equal(tb.n_done, 1);
    assert_int_equal(tb.status, -ERR_UNAVAILABLE);
    assert_non_null(strstr(tb.msg, "client")); /* names the peer */
    assert_non_null(strstr(ta.msg, "server"));
    assert_int_equal(F->n_canceled, 2);
    rpc_server_reply(F->parked[0], NULL);
    rpc_server_reply(F->parked[1], NULL);
    F->parked[0] = F->parked[1] = NULL;
}

static void test_proto_errors(void **state)
{
    unsigned char h[12];

    (void)state;
    proto_case("\x00\x00\x00\x02garbage!garbage!", 18);
    hdr(h, 5u * 1024 * 1024, RPC_FRAME_RESPONSE, 0, 1);
    proto_case(h, sizeof(h));
}

/* ---- TCP and the reconnecting client ---- */

struct tdial
{
    uv_connect_t req;
    struct rpc_client *c;
};

static void on_dial_connect(uv_connect_t *req, int status)
{
    struct tdial *d = (struct tdial *)req;
    struct stream *s = NULL;
    struct err err;

    if (status < 0) {
        err_set(&err, ERR_UNAVAILABLE, "dial: %s", uv_strerror(status));
        uv_close((uv_handle_t *)req->handle, close_free);
        rpc_client_dialed(d->c, NULL, &err);
    } else {
        assert_int_equal(stream_uv_adopt(req->handle, &s, NULL), 0);
        rpc_client_dialed(d->c, &s, NULL);
    }
    free(d);
}

static void tdial_cb(struct rpc_client *c, const char *address, void *data)
{
    struct tdial *d = calloc(1, sizeof(*d));
    uv_tcp_t *h = malloc(sizeof(*h));
    struct sockaddr_in sin;

    (void)data;
    assert_true(F->n_dial_at < 64);
    F->dial_at[F->n_dial_at++] = uv_now(&F->loop);
    d->c = c;
    uv_tcp_init(&F->loop, h);
    assert_int_equal(uv_ip4_addr("127.0.0.1", atoi(strchr(address, ':') + 1),
                                 &sin),
                     0);
    assert_int_equal(uv_tcp_connect(&d->req, h, (struct sockaddr *)&sin,
                                    on_dial_connect),
                     0);
}

static void srv_conn_closed(struct rpc_conn *c, const struct err *why,
                            void *data)
{
    int i;

    (void)why;
    (void)data;
    for (i = 0; i < MAX_CONNS; i++)
        if (F->srv_conns[i] == c)
            F->srv_conns[i] = NULL;
    F->n_srv_conns_closed++;
}

static void on_accept(uv_stream_t *l, int status)
{
    uv_tcp_t *h = malloc(sizeof(*h));
    struct stream *s;
    int i;

    assert_int_equal(status, 0);
    uv_tcp_init(&F->loop, h);
    assert_int_equal(uv_accept(l, (uv_stream_t *)h), 0);
    assert_int_equal(stream_uv_adopt((uv_stream_t *)h, &s, NULL), 0);
    for (i = 0; i < MAX_CONNS && F->srv_conns[i] != NULL; i++)
        ;
    assert_true(i < MAX_CONNS);
    assert_int_equal(rpc_conn_new(&F->loop, &s, &F->srv, NULL,
                                  srv_conn_closed, NULL, &F->srv_conns[i],
                                  NULL),
                     0);
}

static void listen_tcp(int port)
{
    struct sockaddr_in sin;
    struct sockaddr_storage ss;
    int len = sizeof(ss);

    F->listener = malloc(sizeof(*F->listener));
    uv_tcp_init(&F->loop, F->listener);
    uv_ip4_addr("127.0.0.1", port, &sin);
    assert_int_equal(uv_tcp_bind(F->listener, (struct sockaddr *)&sin, 0),
                     0);
    assert_int_equal(uv_listen((uv_stream_t *)F->listener, 64, on_accept),
                     0);
    uv_tcp_getsockname(F->listener, (struct sockaddr *)&ss, &len);
    F->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static bool srv_conns_gone(void)
{
    int i;

    for (i = 0; i < MAX_CONNS; i++)
        if (F->srv_conns[i] != NULL)
            return false;
    return true;
}

static void stop_tcp(void)
{
    int i;

    uv_close((uv_handle_t *)F->listener, close_free);
    F->listener = NULL;
    for (i = 0; i < MAX_CONNS; i++)
        if (F->srv_conns[i] != NULL)
            rpc_conn_close(F->srv_conns[i]);
    assert_true(run_until(srv_conns_gone, 2000));
}

static void client_closed_cb(struct rpc_client *c)
{
    (void)c;
    F->client_closed++;
}

static bool client_connected(void)
{
    return rpc_client_is_connected(&F->client);
}

static bool client_gone(void)
{
    return F->client_closed == 1;
}

static bool four_dials(void)
{
    return F->n_dial_at >= 4;
}

static void start_client(void)
{
    char addr[64];

    snprintf(addr, sizeof(addr), "127.0.0.1:%d", F->port);
    assert_int_equal(rpc_client_init(&F->client, &F->loop, addr, tdial_cb,
                                     NULL, NULL, NULL),
                     0);
}

static void client_call_sync(struct tcall *t, const char *m, uint64_t ms)
{
    assert_int_equal(rpc_client_call(&F->client, &t->call, m, NULL, ms,
                                     NULL),
                     0);
    WAIT1 = t;
    assert_true(run_until(one_done, ms + 3000));
    assert_int_equal(t->n_done, 1);
}

static void test_backoff_values(void **state)
{
    uint64_t want[] = {100, 300, 700, 1500, 3100, 6300, 8000, 8000};
    uint64_t prev = 0;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        prev = rpc_client_backoff_next(prev);
        assert_int_equal(prev, want[i]);
    }
}

static void test_client_reconnect(void **state)
{
    struct tcall t;
    struct tcall queued;
    struct tcall late;
    int port;
    int i;

    (void)state;
    listen_tcp(0);
    port = F->port;
    start_client();
    /* queued before the first connection, sent once it is up */
    tcall_init(&t, false);
    client_call_sync(&t, "echo", 2000);
    assert_int_equal(t.status, 0);
    tcall_release(&t);
    assert_true(client_connected());
    assert_int_equal(F->n_dial_at, 1);

    /* the server goes away: an in-flight call fails once, naming it */
    tcall_init(&t, false);
    assert_int_equal(rpc_client_call(&F->client, &t.call, "slow", NULL, 0,
                                     NULL),
                     0);
    wait_parked(1);
    stop_tcp();
    WAIT1 = &t;
    assert_true(run_until(one_done, 2000));
    assert_int_equal(t.status, -ERR_UNAVAILABLE);
    assert_non_null(strstr(t.msg, "127.0.0.1"));
    rpc_server_reply(F->parked[0], NULL);
    F->parked[0] = NULL;

    /* while down, a short deadline still fires */
    tcall_init(&late, false);
    client_call_sync(&late, "echo", 150);
    assert_int_equal(late.status, -ERR_UNAVAILABLE);
    assert_non_null(strstr(late.msg, "deadline exceeded"));

    /* dials back off 100, 300, 700 ms */
    assert_true(run_until(four_dials, 5000));
    for (i = 2; i < 4; i++) {
        uint64_t gap = F->dial_at[i] - F->dial_at[i - 1];
        uint64_t want = i == 2 ? 300 : 700;

        assert_true(gap + 5 >= want);
        assert_true(gap < want + 500);
    }
    assert_int_equal(F->n_dial_at, 4);
    assert_false(client_connected());

    /* a call queued while down succeeds after the restart */
    tcall_init(&queued, false);
    assert_int_equal(rpc_client_call(&F->client, &queued.call, "echo", NULL,
                                     5000, NULL),
                     0);
    listen_tcp(port);
    WAIT1 = &queued;
    assert_true(run_until(one_done, 5000));
    assert_int_equal(queued.status, 0);
    assert_true(client_connected());
    tcall_release(&queued);
    tcall_init(&t, false);
    client_call_sync(&t, "echo", 2000);
    assert_int_equal(t.status, 0);
    tcall_release(&t);

    rpc_client_close(&F->client, client_closed_cb);
    assert_true(run_until(client_gone, 2000));
    stop_tcp();
}

static bool got_msg(void)
{
    return WAIT1->n_msgs > 0;
}

static bool four_canceled(void)
{
    return F->n_canceled == 4;
}

static void test_client_close_pending(void **state)
{
    struct tcall t[3];
    struct tcall s;
    struct tcall q;
    int i;

    (void)state;
    listen_tcp(0);
    start_client();
    assert_true(run_until(client_connected, 2000));
    for (i = 0; i < 3; i++) {
        tcall_init(&t[i], false);
        assert_int_equal(rpc_client_call(&F->client, &t[i].call, "slow",
                                         NULL, 0, NULL),
                         0);
    }
    tcall_init(&s, true);
    assert_int_equal(rpc_client_call(&F->client, &s.call, "watch", NULL, 0,
                                     NULL),
                     0);
    wait_parked(4);
    WAIT1 = &s;
    assert_true(run_until(got_msg, 2000));
    rpc_client_close(&F->client, client_closed_cb);
    for (i = 0; i < 3; i++) {
        assert_int_equal(t[i].n_done, 1);
        assert_int_equal(t[i].status, -ERR_CANCELED);
    }
    assert_int_equal(s.n_done, 1);
    assert_int_equal(s.status, -ERR_CANCELED);
    tcall_init(&q, false);
    assert_int_equal(rpc_client_call(&F->client, &q.call, "echo", NULL, 0,
                                     NULL),
                     -ERR_UNAVAILABLE);
    assert_true(run_until(client_gone, 2000));
    assert_true(run_until(four_canceled, 2000));
    stop_tcp();
    assert_int_equal(F->n_canceled, 4);
    for (i = 0; i < 3; i++)
        assert_int_equal(t[i].n_done, 1);
    assert_int_equal(F->client_closed, 1);
}

static void test_client_close_queued(void **state)
{
    struct tcall t[3];
    int i;

    (void)state;
    /* a port nobody listens on: dials fail, calls queue */
    listen_tcp(0);
    uv_close((uv_handle_t *)F->listener, close_free);
    F->listener = NULL;
    uv_run(&F->loop, UV_RUN_NOWAIT);
    start_client();
    for (i = 0; i < 3; i++) {
        tcall_init(&t[i], false);
        assert_int_equal(rpc_client_call(&F->client, &t[i].call, "echo",
                                         NULL, i == 0 ? 0 : 60000, NULL),
                         0);
    }
    rpc_conn_cancel(&t[1].call);
    assert_int_equal(t[1].n_done, 1);
    assert_int_equal(t[1].status, -ERR_CANCELED);
    rpc_client_close(&F->client, client_closed_cb);
    for (i = 0; i < 3; i++) {
        assert_int_equal(t[i].n_done, 1);
        assert_int_equal(t[i].status, -ERR_CANCELED);
    }
    assert_true(run_until(client_gone, 2000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_roundtrip_splits),
        cmocka_unit_test(test_frame_rejects),
        cmocka_unit_test(test_backoff_values),
        cmocka_unit_test_setup_teardown(test_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_100, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusal_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_reply_after_disconnect,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_proto_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_reconnect, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client_close_pending, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client_close_queued, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* consensus/: real raft_uv on a temp dir and a real loop, one member. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "manager/consensus/consensus.h"
/* The transport tests drive raft's side of the transport vtable directly. */
#include "manager/consensus/consensus_int.h"

/* ---- fixture ---------------------------------------------------------- */

#define T_MAX_VALS 4096
#define T_REJECT 0x80000000u /* values with this bit are rejected by the FSM */
#define T_WAIT_NS (10ull * 1000 * 1000 * 1000)

/* The FSM: the ordered list of accepted 32-bit payloads. */
struct tfsm
{
    uint32_t vals[T_MAX_VALS];
    size_t n_vals;
    uint64_t last_index;  /* index of the last apply call */
    size_t n_var;         /* entries of another length than 4 */
    size_t var_bytes;     /* their total length */
    unsigned n_apply;
    unsigned n_reject;
    unsigned n_snapshot;
    unsigned n_restore;
    bool fail_restore;
};

struct fixture
{
    uv_loop_t loop;
    char dir[64];
    struct tfsm fsm;
    struct consensus *c;
    unsigned n_leader_cb;
    bool closed;
};

struct tprop
{
    struct consensus_propose_req req;
    unsigned n_cb;
    int status;
    struct err err;
    struct fixture *fx;
    bool close_in_cb;
};

/* ---- parameters ------------------------------------------------------- */

#define T_ID 0x1234abcdull
#define T_ADDR "127.0.0.1:2377"

/* ---- helpers ---------------------------------------------------------- */

#define RUN_UNTIL(fx, cond)                                              \
    do {                                                                 \
        uint64_t dl_ = uv_hrtime() + T_WAIT_NS;                          \
        while (!(cond)) {                                                \
            if (uv_hrtime() > dl_)                                       \
                fail_msg("timed out waiting for %s", #cond);             \
            uv_run(&(fx)->loop, UV_RUN_ONCE);                            \
        }                                                                \
    } while (0)

static int tfsm_apply(void *data, uint64_t index, const void *buf, size_t len,
                      struct err *err)
{
    struct tfsm *f = data;
    uint32_t v;

    size_t i;

    assert_true(index > f->last_index);
    f->last_index = index;
    f->n_apply++;
    if (len != sizeof(v)) {
        /* Variable-length entries: byte i is (len + i) & 0xff. */
        for (i = 0; i < len; i++)
            assert_int_equal(((const uint8_t *)buf)[i], (len + i) & 0xff);
        f->n_var++;
        f->var_bytes += len;
        return 0;
    }
    memcpy(&v, buf, sizeof(v));
    if (v & T_REJECT) {
        f->n_reject++;
        return err_set(err, ERR_CONFLICT, "value %u rejected",
                       (unsigned)(v & ~T_REJECT));
    }
    assert_true(f->n_vals < T_MAX_VALS);
    f->vals[f->n_vals++] = v;
    return 0;
}

static int tfsm_snapshot(void *data, void **out_buf, size_t *out_len,
                         struct err *err)
{
    struct tfsm *f = data;
    size_t len = f->n_vals * sizeof(uint32_t);
    void *buf;

    (void)err;
    buf = malloc(len + 1);
    assert_non_null(buf);
    memcpy(buf, f->vals, len);
    *out_buf = buf;
    *out_len = len;
    f->n_snapshot++;
    return 0;
}

static int tfsm_restore(void *data, const void *buf, size_t len,
                        struct err *err)
{
    struct tfsm *f = data;

    if (f->fail_restore)
        return err_set(err, ERR_IO, "test restore failure");
    assert_int_equal(len % sizeof(uint32_t), 0);
    assert_true(len / sizeof(uint32_t) <= T_MAX_VALS);
    memcpy(f->vals, buf, len);
    f->n_vals = len / sizeof(uint32_t);
    f->n_restore++;
    return 0;
}

static const struct consensus_fsm tfsm_vtable = {
    .apply = tfsm_apply,
    .snapshot = tfsm_snapshot,
    .restore = tfsm_restore,
};

static void leader_cb(struct consensus *c, void *data)
{
    struct fixture *fx = data;

    assert_ptr_equal(c, fx->c);
    fx->n_leader_cb++;
}

static void close_cb(void *data)
{
    struct fixture *fx = data;

    assert_false(fx->closed);
    fx->closed = true;
}

static void prop_cb(struct consensus_propose_req *req, int status)
{
    struct tprop *p = req->data;

    p->n_cb++;
    p->status = status;
    p->err = req->err;
    assert_null(req->impl);
    if (p->close_in_cb && !p->fx->closed) {
        p->close_in_cb = false;
        consensus_close(p->fx->c, close_cb, p->fx);
    }
}

static struct consensus *open_member(struct fixture *fx, unsigned threshold,
                                     unsigned trailing)
{
    struct consensus_config cfg = {
        .dir = fx->dir,
        .id = T_ID,
        .address = T_ADDR,
        .snapshot_threshold = threshold,
        .snapshot_trailing = trailing,
    };
    struct consensus_fsm vt = tfsm_vtable;
    struct err err;
    struct consensus *c;

    err_clear(&err);
    vt.data = &fx->fsm;
    c = consensus_new(&fx->loop, &cfg, &vt, &err);
    if (c == NULL)
        fail_msg("consensus_new: %s", err.msg);
    fx->c = c;
    fx->closed = false;
    consensus_set_leader_cb(c, leader_cb, fx);
    assert_int_equal(consensus_bootstrap(c, &err), 0);
    if (consensus_start(c, &err) != 0)
        fail_msg("consensus_start: %s", err.msg);
    return c;
}

static void close_member(struct fixture *fx)
{
    consensus_close(fx->c, close_cb, fx);
    RUN_UNTIL(fx, fx->closed);
    fx->c = NULL;
}

static void propose_u32(struct fixture *fx, struct tprop *p, uint32_t v)
{
    struct err err;
    int rv;

    memset(p, 0, sizeof(*p));
    p->fx = fx;
    p->req.data = p;
    err_clear(&err);
    rv = consensus_propose(fx->c, &p->req, &v, sizeof(v), prop_cb, &err);
    if (rv != 0)
        fail_msg("consensus_propose: %s", err.msg);
    assert_int_equal(p->n_cb, 0); /* never from inside the call */
}

static unsigned count_done(const struct tprop *p, unsigned n)
{
    unsigned i;
    unsigned done = 0;

    for (i = 0; i < n; i++)
        done += p[i].n_cb > 0;
    return done;
}

static unsigned count_snapshot_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    unsigned n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "snapshot-", 9) == 0 &&
            strstr(e->d_name, ".meta") == NULL)
            n++;
    closedir(d);
    return n;
}

static double ms_since(uint64_t t0)
{
    return (double)(uv_hrtime() - t0) / 1e6;
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/shoal-consensus-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    struct err err;
    int rv;

    if (fx->c != NULL)
        close_member(fx);
    /* Drain close callbacks, then every handle must be gone. The dir goes
     * first so that a failing check does not leave it behind. */
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    rv = fsutil_empty_dir(fx->dir, &err);
    if (rv == 0)
        rv = rmdir(fx->dir);
    assert_int_equal(rv, 0);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    free(fx);
    return 0;
}

/* ---- tests ------------------------------------------------------------ */

static void test_config_rejected(void **state)
{
    struct fixture *fx = *state;
    struct consensus_config cfg = {.dir = fx->dir, .id = 0, .address = T_ADDR};
    struct err err;

    err_clear(&err);
    assert_null(consensus_new(&fx->loop, &cfg, &tfsm_vtable, &err));
    assert_int_equal(err.code, ERR_INVALID);
    cfg.id = T_ID;
    cfg.heartbeat_ms = 500;
    cfg.election_timeout_ms = 500;
    assert_null(consensus_new(&fx->loop, &cfg, &tfsm_vtable, &err));
    assert_int_equal(err.code, ERR_INVALID);
    cfg.heartbeat_ms = 0;
    cfg.address = NULL;
    assert_null(consensus_new(&fx->loop, &cfg, &tfsm_vtable, &err));
    assert_int_equal(err.code, ERR_INVALID);
}

static void test_bootstrap_becomes_leader(void **state)
{
    struct fixture *fx = *state;
    struct consensus_config cfg = {
        .dir = fx->dir, .id = T_ID, .address = T_ADDR};
    struct consensus_fsm vt = tfsm_vtable;
    struct tprop p;
    struct err err;
    uint64_t t0;
    double t_new, t_boot, t_start, t_commit;
    int rv;

    vt.data = &fx->fsm;
    err_clear(&err);
    t0 = uv_hrtime();
    fx->c = consensus_new(&fx->loop, &cfg, &vt, &err);
    assert_non_null(fx->c);
    t_new = ms_since(t0);
    consensus_set_leader_cb(fx->c, leader_cb, fx);

    /* Not a leader before start: proposals are refused without a cb. */
    memset(&p, 0, sizeof(p));
    p.req.data = &p;
    rv = consensus_propose(fx->c, &p.req, "x", 1, prop_cb, &err);
    assert_int_equal(rv, -ERR_NOTLEADER);
    assert_string_equal(
        err.msg, "raft: failed to process the request: node is not the leader");
    assert_false(consensus_is_leader(fx->c));
    assert_int_equal(consensus_leader_id(fx->c), 0);

    assert_int_equal(consensus_bootstrap(fx->c, &err), 0);
    t_boot = ms_since(t0);
    assert_int_equal(consensus_start(fx->c, &err), 0);
    t_start = ms_since(t0);

    /* A single voter elects itself inside raft_start. */
    assert_true(consensus_is_leader(fx->c));
    assert_int_equal(consensus_leader_id(fx->c), T_ID);
    assert_int_equal(consensus_id(fx->c), T_ID);
    assert_int_equal(consensus_start(fx->c, &err), -ERR_INVALID);
    assert_int_equal(consensus_bootstrap(fx->c, &err), -ERR_INVALID);
    assert_int_equal(consensus_propose(fx->c, &p.req, "x", 0, prop_cb, &err),
                     -ERR_INVALID);

    propose_u32(fx, &p, 7);
    RUN_UNTIL(fx, p.n_cb == 1);
    t_commit = ms_since(t0);
    assert_int_equal(p.status, 0);
    assert_int_equal(p.req.index, 2); /* entry 1 is the configuration */
    assert_int_equal(consensus_applied_index(fx->c), 2);
    assert_int_equal(fx->fsm.n_vals, 1);
    assert_int_equal(fx->fsm.vals[0], 7);

    /* The watch reported the self-election once. */
    assert_int_equal(fx->n_leader_cb, 1);
    t0 = uv_hrtime();
    close_member(fx);
    print_message("bootstrap-to-first-commit: %.2f ms (new %.2f, bootstrap "
                  "+%.2f, start +%.2f, commit +%.2f); close %.2f ms\n",
                  t_commit, t_new, t_boot - t_new, t_start - t_boot,
                  t_commit - t_start, ms_since(t0));
}

static void test_propose_100_in_order(void **state)
{
    struct fixture *fx = *state;
    static struct tprop p[100];
    uint64_t last = 0;
    unsigned i;

    open_member(fx, 0, 0);
    for (i = 0; i < 100; i++)
        propose_u32(fx, &p[i], 1000 + i);
    RUN_UNTIL(fx, count_done(p, 100) == 100);
    for (i = 0; i < 100; i++) {
        assert_int_equal(p[i].n_cb, 1);
        assert_int_equal(p[i].status, 0);
        assert_true(p[i].req.index > last);
        last = p[i].req.index;
        assert_int_equal(fx->fsm.vals[i], 1000 + i);
    }
    assert_int_equal(fx->fsm.n_vals, 100);
    assert_int_equal(consensus_applied_index(fx->c), last);
    assert_int_equal(fx->fsm.last_index, last);

    /* Callbacks never fire twice, even after more loop turns. */
    uv_run(&fx->loop, UV_RUN_NOWAIT);
    for (i = 0; i < 100; i++)
        assert_int_equal(p[i].n_cb, 1);
}

static void test_fsm_rejection_reaches_proposer(void **state)
{
    struct fixture *fx = *state;
    struct tprop p[3];

    open_member(fx, 0, 0);
    propose_u32(fx, &p[0], 1);
    propose_u32(fx, &p[1], 2 | T_REJECT);
    propose_u32(fx, &p[2], 3);
    RUN_UNTIL(fx, count_done(p, 3) == 3);
    assert_int_equal(p[0].status, 0);
    assert_int_equal(p[1].status, -ERR_CONFLICT);
    assert_int_equal(p[1].err.code, ERR_CONFLICT);
    assert_string_equal(p[1].err.msg, "value 2 rejected");
    assert_int_equal(p[2].status, 0);
    assert_int_equal(p[2].err.code, ERR_OK);
    assert_int_equal(fx->fsm.n_vals, 2);
    assert_int_equal(fx->fsm.vals[0], 1);
    assert_int_equal(fx->fsm.vals[1], 3);
    /* The rejected entry still took its index; the log moved past it. */
    assert_int_equal(p[1].req.index + 1, p[2].req.index);
    assert_int_equal(consensus_applied_index(fx->c), p[2].req.index);
}

static void test_close_with_proposals_in_flight(void **state)
{
    struct fixture *fx = *state;
    struct tprop p[20];
    struct tprop late;
    struct err err;
    unsigned i;

    open_member(fx, 0, 0);
    for (i = 0; i < 20; i++)
        propose_u32(fx, &p[i], i);
    consensus_close(fx->c, close_cb, fx);
    /* Still allocated until the close cb; refuses new work. */
    memset(&late, 0, sizeof(late));
    late.req.data = &late;
    assert_int_equal(consensus_propose(fx->c, &late.req, "abcd", 4, prop_cb,
                                       &err),
                     -ERR_CANCELED);
    RUN_UNTIL(fx, fx->closed);
    fx->c = NULL;
    for (i = 0; i < 20; i++) {
        assert_int_equal(p[i].n_cb, 1);
        assert_int_equal(p[i].status, -ERR_CANCELED);
        assert_string_equal(p[i].err.msg,
                            "raft: failed to process the request: node is "
                            "stopped");
    }
    assert_int_equal(late.n_cb, 0);
}

/* Close while some entries are committed and others are still being
 * written: every callback fires exactly once, success or canceled, all of
 * them before consensus_close returns. Canceled entries that were already
 * handed to raft may still commit: the FSM and a restart agree on that. */
static void test_close_midway(void **state)
{
    struct fixture *fx = *state;
    static struct tprop p[200];
    struct tfsm before;
    unsigned i;
    unsigned ok = 0;

    open_member(fx, 0, 0);
    for (i = 0; i < 100; i++)
        propose_u32(fx, &p[i], i);
    RUN_UNTIL(fx, count_done(p, 100) == 100);
    for (i = 100; i < 200; i++)
        propose_u32(fx, &p[i], i);
    uv_run(&fx->loop, UV_RUN_NOWAIT);
    consensus_close(fx->c, close_cb, fx);
    for (i = 0; i < 200; i++) {
        assert_int_equal(p[i].n_cb, 1);
        assert_true(p[i].status == 0 || p[i].status == -ERR_CANCELED);
        ok += p[i].status == 0;
    }
    RUN_UNTIL(fx, fx->closed);
    fx->c = NULL;
    for (i = 0; i < 200; i++)
        assert_int_equal(p[i].n_cb, 1);
    assert_true(fx->fsm.n_vals >= ok);
    for (i = 0; i < fx->fsm.n_vals; i++)
        assert_int_equal(fx->fsm.vals[i], i);

    before = fx->fsm;
    memset(&fx->fsm, 0, sizeof(fx->fsm));
    open_member(fx, 0, 0);
    assert_int_equal(fx->fsm.n_vals, before.n_vals);
}

static void test_close_from_callback(void **state)
{
    struct fixture *fx = *state;
    struct tprop p[10];
    unsigned i;

    open_member(fx, 0, 0);
    for (i = 0; i < 10; i++)
        propose_u32(fx, &p[i], i);
    p[0].close_in_cb = true;
    RUN_UNTIL(fx, fx->closed);
    fx->c = NULL;
    assert_int_equal(p[0].status, 0);
    for (i = 0; i < 10; i++) {
        assert_int_equal(p[i].n_cb, 1);
        assert_true(p[i].status == 0 || p[i].status == -ERR_CANCELED);
    }
}

static void test_restart_replays(void **state)
{
    struct fixture *fx = *state;
    static struct tprop p[40];
    struct tfsm before;
    uint64_t applied;
    unsigned i;

    open_member(fx, 0, 0);
    for (i = 0; i < 40; i++)
        propose_u32(fx, &p[i], i % 7 == 3 ? (i | T_REJECT) : i * 3);
    RUN_UNTIL(fx, count_done(p, 40) == 40);
    applied = consensus_applied_index(fx->c);
    before = fx->fsm;
    close_member(fx);

    memset(&fx->fsm, 0, sizeof(fx->fsm));
    fx->n_leader_cb = 0;
    open_member(fx, 0, 0); /* bootstrap says 0 on existing state */
    assert_true(consensus_is_leader(fx->c));
    assert_int_equal(consensus_applied_index(fx->c), applied);
    assert_int_equal(fx->fsm.n_restore, 0);
    assert_int_equal(fx->fsm.n_vals, before.n_vals);
    assert_memory_equal(fx->fsm.vals, before.vals,
                        before.n_vals * sizeof(uint32_t));
    /* Rejections replay the same way. */
    assert_int_equal(fx->fsm.n_reject, before.n_reject);

    /* And it keeps going from there. */
    propose_u32(fx, &p[0], 99);
    RUN_UNTIL(fx, p[0].n_cb == 1);
    assert_int_equal(p[0].status, 0);
    assert_true(p[0].req.index > applied);
    RUN_UNTIL(fx, fx->n_leader_cb == 1);
}

/* Lengths that are not multiples of 8, batched into one disk write, must
 * reload intact (raft_uv needs padded entries; consensus pads them). */
static void test_odd_lengths_survive_restart(void **state)
{
    struct fixture *fx = *state;
    static struct tprop p[64];
    static uint8_t buf[64][80];
    struct err err;
    size_t len;
    unsigned i;
    size_t j;

    open_member(fx, 0, 0);
    for (i = 0; i < 64; i++) {
        len = 1 + (i * 7) % 77;
        if (len == 4)
            len = 5;
        for (j = 0; j < len; j++)
            buf[i][j] = (uint8_t)((len + j) & 0xff);
        memset(&p[i], 0, sizeof(p[i]));
        p[i].req.data = &p[i];
        assert_int_equal(consensus_propose(fx->c, &p[i].req, buf[i], len,
                                           prop_cb, &err),
                         0);
    }
    RUN_UNTIL(fx, count_done(p, 64) == 64);
    for (i = 0; i < 64; i++)
        assert_int_equal(p[i].status, 0);
    assert_int_equal(fx->fsm.n_var, 64);
    len = fx->fsm.var_bytes;
    close_member(fx);

    memset(&fx->fsm, 0, sizeof(fx->fsm));
    open_member(fx, 0, 0);
    assert_int_equal(fx->fsm.n_var, 64);
    assert_int_equal(fx->fsm.var_bytes, len);
}

static void test_snapshot_restore(void **state)
{
    struct fixture *fx = *state;
    static struct tprop p[50];
    struct tfsm before;
    uint64_t applied;
    unsigned i;

    open_member(fx, 8, 2);
    for (i = 0; i < 50; i++) {
        propose_u32(fx, &p[i], 5000 + i);
        /* One at a time so that snapshots interleave with appends. */
        RUN_UNTIL(fx, p[i].n_cb == 1);
        assert_int_equal(p[i].status, 0);
    }
    /* At least one; fewer when writes are slow (valgrind), since raft
     * takes no new snapshot while one is being written. */
    assert_true(fx->fsm.n_snapshot >= 1);
    applied = consensus_applied_index(fx->c);
    before = fx->fsm;
    close_member(fx);
    assert_true(count_snapshot_files(fx->dir) >= 1);

    memset(&fx->fsm, 0, sizeof(fx->fsm));
    open_member(fx, 8, 2);
    assert_int_equal(fx->fsm.n_restore, 1);
    assert_true(fx->fsm.n_apply < 50); /* only the tail after the snapshot */
    assert_int_equal(consensus_applied_index(fx->c), applied);
    assert_int_equal(fx->fsm.n_vals, 50);
    assert_memory_equal(fx->fsm.vals, before.vals, 50 * sizeof(uint32_t));
    close_member(fx);

    /* A failing restore fails start with the FSM's message. */
    {
        struct consensus_config cfg = {
            .dir = fx->dir, .id = T_ID, .address = T_ADDR,
            .snapshot_threshold = 8, .snapshot_trailing = 2};
        struct consensus_fsm vt = tfsm_vtable;
        struct err err;

        memset(&fx->fsm, 0, sizeof(fx->fsm));
        fx->fsm.fail_restore = true;
        fx->closed = false;
        vt.data = &fx->fsm;
        fx->c = consensus_new(&fx->loop, &cfg, &vt, &err);
        assert_non_null(fx->c);
        assert_int_equal(consensus_bootstrap(fx->c, &err), 0);
        assert_int_equal(consensus_start(fx->c, &err), -ERR_IO);
        assert_non_null(strstr(err.msg, "test restore failure"));
        assert_false(consensus_is_leader(fx->c));
        close_member(fx);
    }
}

static void test_transport_accept(void **state)
{
    struct fixture *fx = *state;
    struct consensus_config cfg = {
        .dir = fx->dir, .id = T_ID, .address = T_ADDR};
    struct consensus_fsm vt = tfsm_vtable;
    struct err err;
    char byte;
    int sv[2];
    int rv;

    vt.data = &fx->fsm;
    fx->c = consensus_new(&fx->loop, &cfg, &vt, &err);
    assert_non_null(fx->c);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    /* Not listening before start: the fd stays ours. */
    assert_int_equal(consensus_transport_accept(fx->c, 99, "10.0.0.2:2377",
                                                sv[1], &err),
                     -ERR_UNAVAILABLE);
    assert_int_equal(consensus_bootstrap(fx->c, &err), 0);
    assert_int_equal(consensus_start(fx->c, &err), 0);
    assert_int_equal(consensus_transport_accept(fx->c, 0, "x", sv[1], &err),
                     -ERR_INVALID);
    assert_int_equal(consensus_transport_accept(fx->c, T_ID, "x", sv[1], &err),
                     -ERR_INVALID);
    assert_int_equal(consensus_transport_accept(fx->c, 99, "x", 0, &err),
                     -ERR_INVALID);
    assert_int_equal(consensus_transport_accept(fx->c, 99, "10.0.0.2:2377",
                                                sv[1], &err),
                     0);
    /* raft owns sv[1] now and closes it when we close. */
    uv_run(&fx->loop, UV_RUN_NOWAIT);
    close_member(fx);
    do {
        rv = (int)read(sv[0], &byte, 1);
    } while (rv == -1 && errno == EINTR);
    assert_int_equal(rv, 0);
    close(sv[0]);
}

struct tconn
{
    struct raft_uv_connect req;
    unsigned n_cb;
    int status;
};

static void conn_cb(struct raft_uv_connect *req, struct uv_stream_s *stream,
                    int status)
{
    struct tconn *t = req->data;

    assert_null(stream);
    t->n_cb++;
    t->status = status;
}

static void test_transport_connect_fails_async(void **state)
{
    struct fixture *fx = *state;
    struct raft_uv_transport *tr;
    struct tconn a = {0};
    struct tconn b = {0};

    open_member(fx, 0, 0);
    tr = &fx->c->transport;
    a.req.data = &a;
    b.req.data = &b;
    assert_int_equal(tr->connect(tr, &a.req, 99, "10.0.0.2:2377", conn_cb), 0);
    assert_int_equal(a.n_cb, 0);
    RUN_UNTIL(fx, a.n_cb == 1);
    assert_int_equal(a.status, RAFT_NOCONNECTION);

    /* One still queued at close is canceled before the close completes. */
    assert_int_equal(tr->connect(tr, &b.req, 99, "10.0.0.2:2377", conn_cb), 0);
    consensus_close(fx->c, close_cb, fx);
    RUN_UNTIL(fx, fx->closed);
    fx->c = NULL;
    assert_int_equal(b.n_cb, 1);
    assert_int_equal(b.status, RAFT_CANCELED);
    assert_int_equal(a.n_cb, 1);
}

static void test_close_before_start(void **state)
{
    struct fixture *fx = *state;
    struct consensus_config cfg = {
        .dir = fx->dir, .id = T_ID, .address = T_ADDR};
    struct consensus_fsm vt = tfsm_vtable;
    struct err err;

    vt.data = &fx->fsm;
    fx->c = consensus_new(&fx->loop, &cfg, &vt, &err);
    assert_non_null(fx->c);
    close_member(fx);
    assert_int_equal(fx->n_leader_cb, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bootstrap_becomes_leader, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_propose_100_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fsm_rejection_reaches_proposer,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_proposals_in_flight,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_midway, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_from_callback, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restart_replays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_odd_lengths_survive_restart, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_restore, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_transport_accept, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_transport_connect_fails_async,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_before_start, setup,
                                        teardown),
    };

    return cmocka_run_group_tests_name("manager/consensus", tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The dispatcher against a real store with fake leadership and a fake
 * Raft (proposals are committed when the test says so), on a real uv loop
 * with short periods and bounded polls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "manager/dispatcher/dispatcher.h"
#include "manager/store/store.h"

#define A "aaaaaaaaaaaaaaaaaaaaaaaaa"
#define B "bbbbbbbbbbbbbbbbbbbbbbbbb"
#define C "ccccccccccccccccccccccccc"

struct proposal
{
    json_t *actions;
    cluster_done_cb cb;
    void *data;
};

struct fake
{
    uv_loop_t loop;
    struct store *s;
    uint64_t index;
    bool leader;
    bool ready;
    bool auto_commit;
    double r;
    struct proposal props[64];
    size_t n_props;
    size_t n_proposed;      /* total */
    size_t last_n_actions;
    int n_failed;           /* proposals the store refused */
};

static bool fake_is_leader(void *data)
{
    return ((struct fake *)data)->leader;
}

static const struct store *fake_store(void *data)
{
    struct fake *f = data;

    return f->leader && f->ready ? f->s : NULL;
}

static int fake_propose(void *data, json_t *actions, cluster_done_cb cb,
                        void *cb_data, struct err *err)
{
    struct fake *f = data;

    (void)err;
    assert_true(f->n_props < 64);
    f->last_n_actions = json_array_size(actions);
    f->props[f->n_props].actions = actions;
    f->props[f->n_props].cb = cb;
    f->props[f->n_props].data = cb_data;
    f->n_props++;
    f->n_proposed++;
    return 0;
}

static double fake_rand(void *data)
{
    return ((struct fake *)data)->r;
}

static int apply(struct fake *f, json_t *actions, struct err *err)
{
    size_t len;
    char *payload = store_entry_encode(actions, &len);
    int rv = store_apply(f->s, ++f->index, payload, len, err);

    free(payload);
    return rv;
}

static void commit_all(struct fake *f)
{
    while (f->n_props > 0) {
        struct proposal p = f->props[0];
        struct err err;
        int rv;

        memmove(f->props, f->props + 1, (f->n_props - 1) * sizeof(p));
        f->n_props--;
        err_clear(&err);
        rv = apply(f, p.actions, &err);
        if (rv != 0)
            f->n_failed++;
        p.cb(p.data, rv, &err, NULL);
    }
}

static void sleep_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};

    nanosleep(&ts, NULL);
}

/* Run the loop until cond(f) or ms pass. */
static bool run_until(struct fake *f, bool (*cond)(struct fake *, void *),
                      void *arg, long ms)
{
    long waited = 0;

    for (;;) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        if (f->auto_commit)
            commit_all(f);
        if (cond(f, arg))
            return true;
        if (waited >= ms)
            return false;
        sleep_ms(2);
        waited += 2;
    }
}

static bool never(struct fake *f, void *arg)
{
    (void)f;
    (void)arg;
    return false;
}

static const char *state_of(struct fake *f, const char *id)
{
    const char *v = json_string_value(json_object_get(
        json_object_get(store_get(f->s, STORE_NODE, id), "Status"), "State"));

    return v ? v : "";
}

static const char *message_of(struct fake *f, const char *id)
{
    const char *v = json_string_value(json_object_get(
        json_object_get(store_get(f->s, STORE_NODE, id), "Status"),
        "Message"));

    return v ? v : "";
}

struct want
{
    const char *id;
    const char *state;
};

static bool is_state(struct fake *f, void *arg)
{
    struct want *w = arg;

    return strcmp(state_of(f, w->id), w->state) == 0;
}

static bool has_proposals(struct fake *f, void *arg)
{
    (void)arg;
    return f->n_props > 0;
}

/* A store with a cluster (HeartbeatPeriod period_ms) and nodes. */
static void fake_init(struct fake *f, int64_t period_ms)
{
    struct err err;
    json_t *a = json_array();

    memset(f, 0, sizeof(*f));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->s = store_new();
    f->r = 0.5;
    json_array_append_new(
        a, store_action_create(
               STORE_CLUSTER,
               json_pack("{s:s, s:{s:{s:I}}}", "ID", "cluster", "Spec",
                         "Dispatcher", "HeartbeatPeriod",
                         (json_int_t)(period_ms * 1000000LL))));
    json_array_append_new(
        a, store_action_create(
               STORE_NODE,
               json_pack("{s:s, s:{s:s}, s:{s:s, s:s}, s:{s:s, s:i}}", "ID",
                         A, "Spec", "Role", "manager", "Status", "State",
                         "ready", "Addr", "10.0.0.1", "_Raft", "Addr",
                         "10.0.0.1:2377", "ID", 7)));
    json_array_append_new(
        a, store_action_create(
               STORE_NODE, json_pack("{s:s, s:{s:s}, s:{s:s, s:s, s:s}}",
                                     "ID", B, "Spec", "Role", "worker",
                                     "Status", "State", "down", "Message",
                                     "heartbeat failure", "Addr",
                                     "10.0.0.2")));
    json_array_append_new(
        a, store_action_create(
               STORE_NODE,
               json_pack("{s:s, s:{s:s}, s:{s:s, s:s}}", "ID", C, "Spec",
                         "Role", "worker", "Status", "State", "ready",
                         "Addr", "10.0.0.3")));
    err_clear(&err);
    assert_int_equal(apply(f, a, &err), 0);
}

static struct dispatcher *fake_dispatcher(struct fake *f)
{
    static const struct dispatcher_ops ops = {
        .is_leader = fake_is_leader,
        .store = fake_store,
        .propose = fake_propose,
        .rand01 = fake_rand,
    };

    return dispatcher_new(&f->loop, &ops, f);
}

static void on_closed(void *data)
{
    *(bool *)data = true;
}

static void fake_finish(struct fake *f, struct dispatcher *d)
{
    bool closed = false;

    dispatcher_close(d, on_closed, &closed);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_true(closed);
    commit_all(f); /* detached proposals complete after the close */
    assert_int_equal(uv_loop_close(&f->loop), 0);
    store_free(f->s);
}

static int64_t heartbeat(struct dispatcher *d, const char *id,
                         const char *ip)
{
    struct err err;
    json_t *out = NULL;
    int64_t period;

    err_clear(&err);
    assert_int_equal(dispatcher_heartbeat(d, id, ip, &out, &err), 0);
    period = json_integer_value(json_object_get(out, "Period"));
    assert_int_equal(json_array_size(json_object_get(out, "Managers")), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(out, "Managers"),
                                           0),
                            "Addr")),
                        "10.0.0.1:2377");
    json_decref(out);
    return period;
}

/* --- tests -------------------------------------------------------------- */

static void test_refusals(void **state)
{
    struct fake f;
    struct dispatcher *d;
    struct err err;
    json_t *out = NULL;

    (void)state;
    fake_init(&f, 50);
    d = fake_dispatcher(&f);
    err_clear(&err);
    assert_int_equal(dispatcher_heartbeat(d, A, "10.0.0.1", &out, &err),
                     -ERR_UNAVAILABLE);
    assert_string_equal(err.msg, "rpc error: code = Unavailable desc = "
                                 "dispatcher is stopped");
    f.leader = true;
    dispatcher_leader_changed(d);
    /* Leading, but the barrier is not applied: still stopped. */
    assert_int_equal(dispatcher_heartbeat(d, A, "10.0.0.1", &out, &err),
                     -ERR_UNAVAILABLE);
    f.ready = true;
    assert_int_equal(dispatcher_heartbeat(d, "zzzzzzzzzzzzzzzzzzzzzzzzz",
                                          "10.0.0.9", &out, &err),
                     -ERR_NOTFOUND);
    assert_string_equal(err.msg, "rpc error: code = NotFound desc = node "
                                 "not registered");
    assert_null(out);
    fake_finish(&f, d);
}

static void test_period_jitter(void **state)
{
    struct fake f;
    struct dispatcher *d;

    (void)state;
    fake_init(&f, 5000);
    d = fake_dispatcher(&f);
    f.leader = f.ready = true;
    dispatcher_leader_changed(d);
    f.r = 0.0;
    assert_int_equal(heartbeat(d, A, "10.0.0.1"), 4500000000LL);
    f.r = 0.5;
    assert_int_equal(heartbeat(d, A, "10.0.0.1"), 5000000000LL);
    f.r = 0.999999;
    assert_true(heartbeat(d, A, "10.0.0.1") < 5500000000LL);
    assert_true(heartbeat(d, A, "10.0.0.1") > 5499000000LL);
    fake_finish(&f, d);
}

static void test_short_period_jitter_is_bounded(void **state)
{
    struct fake f;
    struct dispatcher *d;

    (void)state;
    fake_init(&f, 200);
    d = fake_dispatcher(&f);
    f.leader = f.ready = true;
    dispatcher_leader_changed(d);
    f.r = 0.0;
    assert_int_equal(heartbeat(d, A, "10.0.0.1"), 100000000LL);
    fake_finish(&f, d);
}

/* A new leader: nodes not down become unknown in one entry; down ones
 * stay; a node heartbeating is ready; one that never does is down after
 * period x 6 with Docker's message. */
static void test_leader_sweep(void **state)
{
    struct fake f;
    struct dispatcher *d;
    struct want w;

    (void)state;
    fake_init(&f, 60);
    d = fake_dispatcher(&f);
    f.leader = f.ready = true;
    dispatcher_leader_changed(d);
    assert_true(run_until(&f, has_proposals, NULL, 2000));
    assert_int_equal(f.last_n_actions, 2); /* A and C, batched */
    commit_all(&f);
    assert_string_equal(state_of(&f, A), "unknown");
    assert_string_equal(message_of(&f, A), DISPATCHER_MSG_UNKNOWN);
    assert_string_equal(state_of(&f, C), "unknown");
    assert_string_equal(state_of(&f, B), "down");
    assert_int_equal(dispatcher_n_tracked(d), 2);
    /* Address kept while unknown. */
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(store_get(f.s, STORE_NODE, C),
                                            "Status"),
                            "Addr")),
                        "10.0.0.3");

    f.auto_commit = true;
    heartbeat(d, A, "10.0.0.11");
    w.id = A;
    w.state = "ready";
    assert_true(run_until(&f, is_state, &w, 2000));
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(store_get(f.s, STORE_NODE, A),
                                            "Status"),
                            "Addr")),
                        "10.0.0.11");
    assert_null(json_object_get(
        json_object_get(store_get(f.s, STORE_NODE, A), "Status"),
        "Message"));
    /* C never heartbeats: down after 60 ms x 6 (+ flush). */
    w.id = C;
    w.state = "down";
    assert_true(run_until(&f, is_state, &w, 3000));
    assert_string_equal(message_of(&f, C), DISPATCHER_MSG_DOWN_UNKNOWN);
    assert_string_equal(state_of(&f, B), "down");
    fake_finish(&f, d);
}

/* Heartbeats keep a node ready; when they stop it is down ("heartbeat
 * failure"), and the next one makes it ready again. */
static void test_expiry_and_return(void **state)
{
    struct fake f;
    struct dispatcher *d;
    struct want w = {B, "ready"};
    int i;

    (void)state;
    fake_init(&f, 100);
    d = fake_dispatcher(&f);
    f.leader = f.ready = f.auto_commit = true;
    dispatcher_leader_changed(d);
    heartbeat(d, B, "10.0.0.2");
    assert_true(run_until(&f, is_state, &w, 2000));
    /* Keep it alive for a while: 10 heartbeats one period apart. */
    for (i = 0; i < 10; i++) {
        run_until(&f, never, NULL, 40);
        heartbeat(d, B, "10.0.0.2");
        assert_string_equal(state_of(&f, B), "ready");
    }
    w.state = "down";
    assert_true(run_until(&f, is_state, &w, 3000));
    assert_string_equal(message_of(&f, B), DISPATCHER_MSG_DOWN);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(store_get(f.s, STORE_NODE, B),
                                            "Status"),
                            "Addr")),
                        "10.0.0.2");
    heartbeat(d, B, "10.0.0.2");
    w.state = "ready";
    assert_true(run_until(&f, is_state, &w, 2000));
    assert_int_equal(f.n_failed, 0);
    fake_finish(&f, d);
}

/* A user's write lands between the dispatcher's read and its commit: the
 * stale status entry is refused and rebuilt, and the user's change stays. */
static void test_no_clobber(void **state)
{
    struct fake f;
    struct dispatcher *d;
    struct err err;
    struct want w = {B, "ready"};
    json_t *node;
    json_t *a;

    (void)state;
    fake_init(&f, 1000);
    d = fake_dispatcher(&f);
    f.leader = f.ready = true;
    dispatcher_leader_changed(d);
    assert_true(run_until(&f, has_proposals, NULL, 2000)); /* sweep */
    commit_all(&f);
    heartbeat(d, B, "10.0.0.2");
    assert_true(run_until(&f, has_proposals, NULL, 2000));
    /* The user's update, committed first. */
    node = json_deep_copy(store_get(f.s, STORE_NODE, B));
    json_object_set_new(json_object_get(node, "Spec"), "Labels",
                        json_pack("{s:s}", "k", "v"));
    a = json_array();
    json_array_append_new(a, store_action_update(STORE_NODE, node,
                                                 store_obj_version(node)));
    err_clear(&err);
    assert_int_equal(apply(&f, a, &err), 0);
    commit_all(&f);
    assert_int_equal(f.n_failed, 1);
    assert_string_equal(state_of(&f, B), "down");
    f.auto_commit = true;
    assert_true(run_until(&f, is_state, &w, 2000));
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(store_get(f.s, STORE_NODE, B),
                                            "Spec"),
                            "Labels"),
            "k")),
        "v");
    fake_finish(&f, d);
}

/* Many nodes expiring together go down in one entry. */
static void test_batching(void **state)
{
    struct fake f;
    struct dispatcher *d;
    struct want w = {C, "down"};
    size_t before;

    (void)state;
    fake_init(&f, 80);
    d = fake_dispatcher(&f);
    f.leader = f.ready = f.auto_commit = true;
    dispatcher_leader_changed(d);
    run_until(&f, never, NULL, 20);
    heartbeat(d, A, "10.0.0.1");
    heartbeat(d, B, "10.0.0.2");
    heartbeat(d, C, "10.0.0.3");
    w.id = B; /* was down */
    w.state = "ready";
    assert_true(run_until(&f, is_state, &w, 2000));
    w.id = C;
    before = f.n_proposed;
    w.state = "down";
    assert_true(run_until(&f, is_state, &w, 3000));
    assert_string_equal(state_of(&f, A), "down");
    assert_string_equal(state_of(&f, B), "down");
    assert_int_equal(f.n_proposed - before, 1);
    assert_int_equal(f.last_n_actions, 3);
    fake_finish(&f, d);
}

/* Losing leadership drops every timer and pending write; a proposal in
 * flight when the dispatcher closes completes later without harm. */
static void test_stop_and_close_with_proposal_in_flight(void **state)
{
    struct fake f;
    struct dispatcher *d;
    size_t n;

    (void)state;
    fake_init(&f, 30);
    d = fake_dispatcher(&f);
    f.leader = f.ready = true;
    dispatcher_leader_changed(d);
    assert_true(run_until(&f, has_proposals, NULL, 2000));
    assert_int_equal(dispatcher_n_tracked(d), 2);
    f.leader = false;
    dispatcher_leader_changed(d);
    assert_int_equal(dispatcher_n_tracked(d), 0);
    n = f.n_proposed;
    run_until(&f, never, NULL, 300); /* timers would have fired by now */
    assert_int_equal(f.n_proposed, n);
    /* Leading again, then closed with the new sweep in flight. */
    f.leader = true;
    dispatcher_leader_changed(d);
    commit_all(&f);
    assert_true(run_until(&f, has_proposals, NULL, 2000));
    fake_finish(&f, d);
}

/* --- tasks ------------------------------------------------------------- */

struct sess_log
{
    json_t *msgs;           /* every message sent */
    int ended;              /* end calls */
    struct err why;
    int fail_sends;         /* > 0: refuse that many sends */
};

static int sess_send(void *data, json_t *msg)
{
    struct sess_log *l = data;

    if (l->fail_sends > 0) {
        l->fail_sends--;
        return -ERR_CANCELED;
    }
    json_array_append(l->msgs, msg);
    return 0;
}

static void sess_end(void *data, const struct err *why)
{
    struct sess_log *l = data;

    l->ended++;
    l->why = *why;
}

static const struct dispatcher_session_ops sess_ops = {sess_send, sess_end};

static json_t *mk_task(const char *id, const char *node, const char *state,
                       const char *want)
{
    return json_pack("{s:s, s:s, s:s, s:{s:s}, s:{s:{s:s}}}", "ID", id,
                     "NodeID", node, "DesiredState", want, "Status", "State",
                     state, "Spec", "ContainerSpec", "Image", "busybox");
}

static void put(struct fake *f, json_t *action)
{
    struct err err;
    json_t *a = json_array();

    json_array_append_new(a, action);
    err_clear(&err);
    assert_int_equal(apply(f, a, &err), 0);
}

static json_t *last_msg(struct sess_log *l)
{
    return json_array_get(l->msgs, json_array_size(l->msgs) - 1);
}

static const char *msg_str(json_t *msg, const char *k)
{
    return json_string_value(json_object_get(msg, k));
}

static const char *change_of(json_t *msg, size_t i, const char **out_id)
{
    json_t *c = json_array_get(json_object_get(msg, "Changes"), i);

    *out_id = json_string_value(
        json_object_get(json_object_get(c, "Task"), "ID"));
    return json_string_value(json_object_get(c, "Action"));
}

static void test_assignments_complete_then_incremental(void **state)
{
    struct fake f;
    struct dispatcher *d;
    struct dispatcher_session *sess;
    struct sess_log l = {json_array(), 0, {0}, 0};
    struct err err;
    const char *id;
    json_t *m;
    int h;

    (void)state;
    fake_init(&f, 1000);
    f.leader = true;
    f.ready = true;
    d = fake_dispatcher(&f);
    h = store_watch(f.s, dispatcher_store_changed, d);
    put(&f, store_action_create(STORE_TASK, mk_task("t1", C, "assigned", "running")));
    put(&f, store_action_create(STORE_TASK, mk_task("t2", C, "pending", "running")));
    put(&f, store_action_create(STORE_TASK, mk_task("t3", A, "assigned", "running")));
    err_clear(&err);
    /* no session for a node not in the store */
    assert_null(dispatcher_session_open(d, "nope", &sess_ops, &l, &err));
    assert_int_equal(err.code, ERR_NOTFOUND);
    sess = dispatcher_session_open(d, C, &sess_ops, &l, &err);
    assert_non_null(sess);
    assert_int_equal(dispatcher_n_sessions(d), 1);
    /* COMPLETE: only C's task that is assigned */
    m = last_msg(&l);
    assert_string_equal(msg_str(m, "Type"), "COMPLETE");
    assert_string_equal(msg_str(m, "ResultsIn"), "1");
    assert_int_equal(json_array_size(json_object_get(m, "Changes")), 1);
    assert_string_equal(change_of(m, 0, &id), "update");
    assert_string_equal(id, "t1");
    /* the scheduler assigns t2: INCREMENTAL update */
    put(&f, store_action_update(STORE_TASK, mk_task("t2", C, "assigned", "running"), 0));
    m = last_msg(&l);
    assert_int_equal(json_array_size(l.msgs), 2);
    assert_string_equal(msg_str(m, "Type"), "INCREMENTAL");
    assert_string_equal(msg_str(m, "AppliesTo"), "1");
    assert_string_equal(msg_str(m, "ResultsIn"), "2");
    assert_string_equal(change_of(m, 0, &id), "update");
    assert_string_equal(id, "t2");
    /* a status the agent reported is not echoed back */
    put(&f, store_action_update_status(STORE_TASK, mk_task("t2", C, "running", "running"), 0));
    assert_int_equal(json_array_size(l.msgs), 2);
    /* other nodes' tasks are not sent */
    put(&f, store_action_update(STORE_TASK, mk_task("t3", A, "assigned", "shutdown"), 0));
    assert_int_equal(json_array_size(l.msgs), 2);
    /* desired state shutdown is */
    put(&f, store_action_update(STORE_TASK, mk_task("t2", C, "running", "shutdown"), 0));
    assert_int_equal(json_array_size(l.msgs), 3);
    /* moved to another node, then deleted: removes */
    put(&f, store_action_update(STORE_TASK, mk_task("t1", A, "assigned", "running"), 0));
    assert_string_equal(change_of(last_msg(&l), 0, &id), "remove");
    assert_string_equal(id, "t1");
    put(&f, store_action_delete(STORE_TASK, "t2"));
    assert_string_equal(change_of(last_msg(&l), 0, &id), "remove");
    assert_string_equal(id, "t2");
    assert_string_equal(msg_str(last_msg(&l), "ResultsIn"), "5");
    /* a second session of the node replaces the first */
    {
        struct sess_log l2 = {json_array(), 0, {0}, 0};
        struct dispatcher_session *s2 =
            dispatcher_session_open(d, C, &sess_ops, &l2, &err);

        assert_non_null(s2);
        assert_int_equal(l.ended, 1);
        assert_non_null(strstr(l.why.msg, "session invalid"));
        assert_int_equal(dispatcher_n_sessions(d), 1);
        /* a send that fails ends the session */
        l2.fail_sends = 1;
        put(&f, store_action_create(STORE_TASK, mk_task("t4", C, "assigned", "running")));
        assert_int_equal(l2.ended, 1);
        assert_int_equal(dispatcher_n_sessions(d), 0);
        json_decref(l2.msgs);
    }
    /* leadership lost: sessions end with "node must disconnect" */
    l.ended = 0;
    json_array_clear(l.msgs);
    sess = dispatcher_session_open(d, C, &sess_ops, &l, &err);
    assert_non_null(sess);
    assert_int_equal(json_array_size(json_object_get(last_msg(&l), "Changes")), 1);
    f.leader = false;
    dispatcher_leader_changed(d);
    assert_int_equal(l.ended, 1);
    assert_string_equal(l.why.msg, DISPATCHER_MSG_DISCONNECT);
    assert_null(dispatcher_session_open(d, C, &sess_ops, &l, &err));
    assert_int_equal(err.code, ERR_UNAVAILABLE);
    store_unwatch(f.s, h);
    json_decref(l.msgs);
    fake_finish(&f, d);
}

static json_t *updates1(const char *id, const char *state)
{
    return json_pack("{s:[{s:s, s:{s:s, s:s}}]}", "Updates", "TaskID", id,
                     "Status", "State", state, "Message", state);
}

static bool no_task_updates(struct fake *f, void *arg)
{
    (void)f;
    return dispatcher_n_task_updates(arg) == 0;
}

/* Task actions among the proposals not yet committed. */
static size_t n_task_actions(struct fake *f)
{
    size_t n = 0;
    size_t i;
    size_t j;
    json_t *a;

    for (i = 0; i < f->n_props; i++) {
        json_array_foreach(f->props[i].actions, j, a) {
            if (strcmp(json_string_value(json_object_get(a, "kind")), "task") == 0)
                n++;
        }
    }
    return n;
}

static bool has_task_proposal(struct fake *f, void *arg)
{
    (void)arg;
    return n_task_actions(f) > 0;
}

static void test_task_status_batching_and_permissions(void **state)
{
    struct fake f;
    struct dispatcher *d;
    struct err err;
    json_t *body;
    json_t *t;
    uint64_t version;

    (void)state;
    fake_init(&f, 1000);
    f.leader = true;
    f.ready = true;
    d = fake_dispatcher(&f);
    put(&f, store_action_create(STORE_TASK, mk_task("t1", C, "assigned", "running")));
    put(&f, store_action_create(STORE_TASK, mk_task("t2", A, "assigned", "running")));
    version = store_obj_version(store_get(f.s, STORE_TASK, "t1"));
    err_clear(&err);
    /* another node's task: the whole batch is refused */
    body = json_pack("{s:[{s:s, s:{s:s}}, {s:s, s:{s:s}}]}", "Updates",
                     "TaskID", "t1", "Status", "State", "accepted", "TaskID",
                     "t2", "Status", "State", "accepted");
    assert_int_equal(dispatcher_update_task_status(d, C, body, &err), -ERR_FORBIDDEN);
    assert_string_equal(err.msg, DISPATCHER_MSG_NOT_YOURS);
    json_decref(body);
    assert_int_equal(dispatcher_n_task_updates(d), 0);
    /* malformed */
    body = json_pack("{s:s}", "Updates", "x");
    assert_int_equal(dispatcher_update_task_status(d, C, body, &err), -ERR_INVALID);
    json_decref(body);
    body = updates1("t1", "dancing");
    assert_int_equal(dispatcher_update_task_status(d, C, body, &err), -ERR_INVALID);
    json_decref(body);
    body = json_pack("{s:[i]}", "Updates", 3);
    assert_int_equal(dispatcher_update_task_status(d, C, body, &err), -ERR_INVALID);
    json_decref(body);
    /* three updates of one task within a flush: one write, the last */
    body = updates1("t1", "accepted");
    assert_int_equal(dispatcher_update_task_status(d, C, body, &err), 0);
    json_decref(body);
    body = updates1("t1", "preparing");
    assert_int_equal(dispatcher_update_task_status(d, C, body, &err), 0);
    json_decref(body);
    /* an older one queued after a newer one does not win */
    body = updates1("t1", "accepted");
    assert_int_equal(dispatcher_update_task_status(d, C, body, &err), 0);
    json_decref(body);
    /* a task gone from the store is skipped */
    body = updates1("gone", "running");
    assert_int_equal(dispatcher_update_task_status(d, C, body, &err), 0);
    json_decref(body);
    assert_true(run_until(&f, has_task_proposal, NULL, 2000));
    assert_int_equal(n_task_actions(&f), 1);
    commit_all(&f);
    t = store_get(f.s, STORE_TASK, "t1");
    assert_int_equal(store_task_state(t), STORE_TASK_PREPARING);
    assert_int_equal(store_obj_version(t), version); /* status write */
    assert_int_equal(f.n_failed, 0);
    /* a stale status (backwards) is dropped, not written */
    body = updates1("t1", "accepted");
    assert_int_equal(dispatcher_update_task_status(d, C, body, &err), 0);
    json_decref(body);
    f.auto_commit = true;
    assert_true(run_until(&f, no_task_updates, d, 2000));
    assert_int_equal(store_task_state(store_get(f.s, STORE_TASK, "t1")), STORE_TASK_PREPARING);
    assert_int_equal(f.n_failed, 0);
    /* not leading */
    f.leader = false;
    body = updates1("t1", "running");
    assert_int_equal(dispatcher_update_task_status(d, C, body, &err), -ERR_UNAVAILABLE);
    json_decref(body);
    fake_finish(&f, d);
}

/* Connection loss: a session that ends with its connection, without a
 * goodbye, puts the node down after DISPATCHER_CONNLOSS_GRACE_MS (the
 * period is 10 s here, so expiry alone would take 30 s); a goodbye, a
 * heartbeat or a new session within the grace, or a stream the node
 * canceled itself, keep it up. Each phase waits for a witness node that
 * lost its connection at the same moment to go down: the others had the
 * same grace and did not. */
static void test_connection_loss(void **state)
{
    struct fake f;
    struct dispatcher *d;
    struct dispatcher_session *sa;
    struct dispatcher_session *sb;
    struct dispatcher_session *sc;
    struct sess_log la = {json_array(), 0, {0}, 0};
    struct sess_log lb = {json_array(), 0, {0}, 0};
    struct sess_log lc = {json_array(), 0, {0}, 0};
    struct want w = {C, "down"};
    struct want wb = {B, "ready"};
    struct err err;

    (void)state;
    fake_init(&f, 10000);
    d = fake_dispatcher(&f);
    f.leader = f.ready = f.auto_commit = true;
    dispatcher_leader_changed(d);
    heartbeat(d, A, "10.0.0.1");
    heartbeat(d, B, "10.0.0.2");
    heartbeat(d, C, "10.0.0.3");
    assert_true(run_until(&f, is_state, &wb, 2000));
    err_clear(&err);
    assert_int_equal(dispatcher_leaving(d, "nope", &err), -ERR_NOTFOUND);
    sa = dispatcher_session_open(d, A, &sess_ops, &la, &err);
    sb = dispatcher_session_open(d, B, &sess_ops, &lb, &err);
    sc = dispatcher_session_open(d, C, &sess_ops, &lc, &err);
    assert_non_null(sa);
    assert_non_null(sb);
    assert_non_null(sc);
    /* A says goodbye then goes; B's connection drops and it heartbeats
     * at once; C just goes. */
    assert_int_equal(dispatcher_leaving(d, A, &err), 0);
    dispatcher_session_lost(sa);
    dispatcher_session_lost(sb);
    heartbeat(d, B, "10.0.0.2");
    dispatcher_session_lost(sc);
    assert_int_equal(dispatcher_n_sessions(d), 0);
    assert_true(run_until(&f, is_state, &w, 3000));
    assert_string_equal(message_of(&f, C), DISPATCHER_MSG_DOWN);
    assert_string_equal(state_of(&f, A), "ready");
    assert_string_equal(state_of(&f, B), "ready");
    assert_int_equal(dispatcher_n_tracked(d), 2);
    assert_int_equal(la.ended + lb.ended + lc.ended, 0);

    /* C comes back. A opens a session (no longer leaving) and loses it
     * without a goodbye: the witness. B cancels its stream (connection
     * up); C loses its connection and opens a new session at once. */
    heartbeat(d, C, "10.0.0.3");
    w.state = "ready";
    assert_true(run_until(&f, is_state, &w, 2000));
    sa = dispatcher_session_open(d, A, &sess_ops, &la, &err);
    sb = dispatcher_session_open(d, B, &sess_ops, &lb, &err);
    sc = dispatcher_session_open(d, C, &sess_ops, &lc, &err);
    assert_non_null(sa);
    assert_non_null(sb);
    assert_non_null(sc);
    dispatcher_session_close(sb);
    dispatcher_session_lost(sc);
    sc = dispatcher_session_open(d, C, &sess_ops, &lc, &err);
    assert_non_null(sc);
    dispatcher_session_lost(sa);
    w.id = A;
    w.state = "down";
    assert_true(run_until(&f, is_state, &w, 3000));
    assert_string_equal(state_of(&f, B), "ready");
    assert_string_equal(state_of(&f, C), "ready");
    assert_int_equal(dispatcher_n_sessions(d), 1);
    assert_int_equal(f.n_failed, 0);
    fake_finish(&f, d);
    assert_int_equal(lc.ended, 1); /* the close ended C's session */
    json_decref(la.msgs);
    json_decref(lb.msgs);
    json_decref(lc.msgs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_period_jitter),
        cmocka_unit_test(test_short_period_jitter_is_bounded),
        cmocka_unit_test(test_leader_sweep),
        cmocka_unit_test(test_expiry_and_return),
        cmocka_unit_test(test_no_clobber),
        cmocka_unit_test(test_batching),
        cmocka_unit_test(test_stop_and_close_with_proposal_in_flight),
        cmocka_unit_test(test_assignments_complete_then_incremental),
        cmocka_unit_test(test_task_status_batching_and_permissions),
        cmocka_unit_test(test_connection_loss),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

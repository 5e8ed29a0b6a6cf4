/* SPDX-License-Identifier: Apache-2.0 */
/* Rolling updates, rollbacks and jobs on synthetic services, tasks and
 * nodes: decisions applied to the objects by a tiny store, tasks moved
 * by a tiny agent, time passed in as now. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "manager/orchestrator/orch.h"
#include "manager/scheduler/sched.h"
#include "manager/store/store.h"

#define SEC 1000000000LL
#define T0 (1714557600LL * SEC)

/* Fixture. */
struct fix
{
    json_t *svc;   /* the service */
    json_t *tasks; /* {ID: task} */
    json_t *nodes; /* {ID: node} */
    uint64_t index; /* the tiny store's last index */
    unsigned next;  /* task ID counter */
    unsigned n_creates; /* task creates applied */
    int64_t last_create_at[64]; /* times of task creates, in order */
};

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);

    if (v == NULL)
        fail_msg("bad JSON in test: %s", je.text);
    return v;
}

static json_t *tmpl(struct fix *f)
{
    return json_object_get(json_object_get(f->svc, "Spec"), "TaskTemplate");
}

static int fix_setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));

    f->svc = parse(
        "{\"ID\":\"svc1\",\"Version\":{\"Index\":10},"
        "\"Spec\":{\"Name\":\"web\",\"Labels\":{},"
        "\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox:1\"},"
        "\"RestartPolicy\":{\"Condition\":\"any\",\"Delay\":5000000000}},"
        "\"Mode\":{\"Replicated\":{\"Replicas\":10}},"
        "\"UpdateConfig\":{\"Parallelism\":2,\"Delay\":10000000000,"
        "\"FailureAction\":\"pause\",\"Monitor\":5000000000,"
        "\"MaxFailureRatio\":0,\"Order\":\"stop-first\"},"
        "\"RollbackConfig\":{\"Parallelism\":0,\"Delay\":0,"
        "\"FailureAction\":\"pause\",\"Monitor\":5000000000,"
        "\"MaxFailureRatio\":0,\"Order\":\"stop-first\"}}}");
    f->tasks = json_object();
    f->nodes = json_object();
    f->index = 100;
    *state = f;
    return 0;
}

static int fix_teardown(void **state)
{
    struct fix *f = *state;

    json_decref(f->svc);
    json_decref(f->tasks);
    json_decref(f->nodes);
    free(f);
    return 0;
}

/* Helpers: objects. */
static void add_node(struct fix *f, const char *id)
{
    json_object_set_new(
        f->nodes, id,
        json_pack("{s:s, s:{s:s, s:s, s:{}}, s:{s:s}, s:{s:s}}", "ID", id,
                  "Spec", "Role", "worker", "Availability", "active",
                  "Labels", "Description", "Hostname", id, "Status",
                  "State", "ready"));
}

static json_t *add_task(struct fix *f, int slot, const char *node,
                        const char *state, const char *desired)
{
    char id[32];
    json_t *t;

    snprintf(id, sizeof(id), "old%03u", f->next++);
    t = json_pack("{s:s, s:s, s:o, s:{s:s}, s:s, s:{s:I}}", "ID", id,
                  "ServiceID", "svc1", "Spec", json_deep_copy(tmpl(f)),
                  "Status", "State", state, "DesiredState", desired,
                  "Version", "Index", (json_int_t)++f->index);
    if (slot > 0)
        json_object_set_new(t, "Slot", json_integer(slot));
    if (node != NULL)
        json_object_set_new(t, "NodeID", json_string(node));
    json_object_set_new(f->tasks, id, t);
    return t;
}

/* What ctl_service_update does to the service on a spec change. */
static void change_image(struct fix *f, const char *image)
{
    json_object_set_new(f->svc, "PreviousSpec",
                        json_deep_copy(json_object_get(f->svc, "Spec")));
    json_object_set_new(json_object_get(tmpl(f), "ContainerSpec"), "Image",
                        json_string(image));
    json_object_del(f->svc, "UpdateStatus");
    json_object_set_new(f->svc, "Version",
                        json_pack("{s:I}", "Index", (json_int_t)++f->index));
}

static void set_update_config(struct fix *f, const char *json)
{
    json_t *v = parse(json);

    json_object_update(json_object_get(json_object_get(f->svc, "Spec"),
                                       "UpdateConfig"),
                       v);
    json_decref(v);
}

static const char *status_state(struct fix *f)
{
    const char *v = json_string_value(json_object_get(
        json_object_get(f->svc, "UpdateStatus"), "State"));

    return v != NULL ? v : "";
}

static const char *status_msg(struct fix *f)
{
    return json_string_value(json_object_get(
        json_object_get(f->svc, "UpdateStatus"), "Message"));
}

static const char *s_of(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));

    return v != NULL ? v : "";
}

static void set_state(struct fix *f, const char *id, const char *state)
{
    json_t *t = json_object_get(f->tasks, id);

    assert_non_null(t);
    json_object_set_new(json_object_get(t, "Status"), "State",
                        json_string(state));
    json_object_set_new(t, "Version",
                        json_pack("{s:I}", "Index", (json_int_t)++f->index));
}

/* Helpers: the tiny store. Applies actions with version checks. */
static void apply(struct fix *f, json_t *actions, int64_t now)
{
    const json_t *a;
    size_t i;

    json_array_foreach(actions, i, a) {
        const char *op = s_of(a, "op");
        const char *kind = s_of(a, "kind");
        json_t *o = json_deep_copy(json_object_get(a, "obj"));
        const json_t *want = json_object_get(a, "version");
        const json_t *cur;

        if (strcmp(kind, "service") == 0) {
            assert_string_equal(op, "update");
            assert_int_equal(json_integer_value(want),
                             json_integer_value(json_object_get(
                                 json_object_get(f->svc, "Version"),
                                 "Index")));
            if (!json_is_true(json_object_get(a, "keep_version")))
                json_object_set_new(
                    o, "Version",
                    json_pack("{s:I}", "Index", (json_int_t)++f->index));
            json_decref(f->svc);
            f->svc = o;
            continue;
        }
        assert_string_equal(kind, "task");
        if (strcmp(op, "delete") == 0) {
            assert_int_equal(json_object_del(f->tasks, s_of(a, "id")), 0);
            json_decref(o);
            continue;
        }
        cur = json_object_get(f->tasks, s_of(o, "ID"));
        if (strcmp(op, "create") == 0) {
            assert_null(cur);
            if (f->n_creates < 64)
                f->last_create_at[f->n_creates] = now;
            f->n_creates++;
        } else {
            assert_non_null(cur);
            if (want != NULL)
                assert_int_equal(
                    json_integer_value(want),
                    json_integer_value(json_object_get(
                        json_object_get(cur, "Version"), "Index")));
        }
        json_object_set_new(o, "Version",
                            json_pack("{s:I}", "Index",
                                      (json_int_t)++f->index));
        json_object_set_new(f->tasks, s_of(o, "ID"), o);
    }
    json_decref(actions);
}

/* One orchestrator pass: the updater, then delayed starts, then restart
 * supervision for jobs. */
static int64_t tick(struct fix *f, int64_t now)
{
    int64_t next = 0;
    int64_t next2 = 0;

    apply(f, orch_update(f->svc, f->tasks, now, &next), now);
    apply(f, orch_start_delayed(f->svc, f->tasks, f->nodes, now, &next2),
          now);
    return next < next2 ? next : next2;
}

/* Helpers: the tiny agent. Tasks reach their desired state at once,
 * except those in the keep list; new tasks get a node. */
static void agent(struct fix *f)
{
    const char *id;
    json_t *t;

    json_object_foreach(f->tasks, id, t) {
        int st = store_task_state(t);
        int ds = store_task_desired(t);
        const char *to = NULL;

        if (st > STORE_TASK_RUNNING)
            continue;
        if (ds == STORE_TASK_RUNNING && st < STORE_TASK_RUNNING)
            to = "running";
        else if (ds == STORE_TASK_COMPLETE)
            to = "complete";
        else if (ds >= STORE_TASK_SHUTDOWN)
            to = "shutdown";
        if (to != NULL)
            set_state(f, id, to);
    }
}

/* Counting. */
static unsigned n_tasks(struct fix *f, bool dirty, const char *state)
{
    const char *id;
    json_t *t;
    unsigned n = 0;

    json_object_foreach(f->tasks, id, t) {
        if (orch_task_is_dirty(f->svc, t) == dirty &&
            strcmp(s_of(json_object_get(t, "Status"), "State"), state) == 0)
            n++;
    }
    return n;
}

/* Runnable tasks of the current spec not yet running, plus running ones
 * of an old spec whose slot also has a new task: slots in flight. */
static unsigned n_pending_new(struct fix *f)
{
    const char *id;
    json_t *t;
    unsigned n = 0;

    json_object_foreach(f->tasks, id, t) {
        int ds = store_task_desired(t);

        if (!orch_task_is_dirty(f->svc, t) && ds <= STORE_TASK_RUNNING &&
            store_task_state(t) < STORE_TASK_RUNNING)
            n++;
    }
    return n;
}

static void fill_running(struct fix *f, int n)
{
    int i;

    add_node(f, "n1");
    for (i = 1; i <= n; i++)
        add_task(f, i, "n1", "running", "running");
}

/* Restart the fixture's objects from their serialized form: what a new
 * leader sees (nothing but the stored objects). */
static void new_leader(struct fix *f)
{
    char *a = json_dumps(f->svc, JSON_COMPACT);
    char *b = json_dumps(f->tasks, JSON_COMPACT);

    json_decref(f->svc);
    json_decref(f->tasks);
    f->svc = parse(a);
    f->tasks = parse(b);
    free(a);
    free(b);
}

/* Run passes and the agent once a second until the update leaves
 * "updating"/"rollback_started" or limit seconds pass; returns the time
 * reached. */
static int64_t run_until_done(struct fix *f, int64_t now, int limit,
                              bool leader_changes)
{
    int i;

    for (i = 0; i < limit; i++, now += SEC) {
        tick(f, now);
        agent(f);
        tick(f, now);
        if (leader_changes)
            new_leader(f);
        if (strcmp(status_state(f), "updating") != 0 &&
            strcmp(status_state(f), "rollback_started") != 0)
            break;
    }
    return now;
}

/* Tests: rolling update. */
static void test_update_stop_first_parallel(void **state)
{
    struct fix *f = *state;
    json_t *acts;
    const json_t *a;
    size_t i;
    unsigned shut = 0;
    unsigned made = 0;
    int64_t now = T0;
    unsigned k;

    fill_running(f, 10);
    change_image(f, "busybox:2");
    acts = orch_update(f->svc, f->tasks, now, NULL);
    json_array_foreach(acts, i, a) {
        const json_t *o = json_object_get(a, "obj");

        if (strcmp(s_of(a, "kind"), "service") == 0)
            continue;
        if (strcmp(s_of(a, "op"), "create") == 0) {
            made++;
            assert_string_equal(s_of(o, "DesiredState"), "ready");
            assert_int_equal(json_integer_value(json_object_get(o, "Slot")),
                             made);
            assert_string_equal(
                json_string_value(json_object_get(
                    json_object_get(json_object_get(o, "Spec"),
                                    "ContainerSpec"),
                    "Image")),
                "busybox:2");
            assert_non_null(json_object_get(o, "_Replaces"));
        } else {
            shut++;
            assert_string_equal(s_of(o, "DesiredState"), "shutdown");
        }
    }
    assert_int_equal(made, 2);
    assert_int_equal(shut, 2);
    apply(f, acts, now);
    assert_string_equal(status_state(f), "updating");
    assert_string_equal(status_msg(f), "update in progress");
    assert_non_null(json_object_get(
        json_object_get(f->svc, "UpdateStatus"), "StartedAt"));

    /* The new tasks start only after the old ones stopped. */
    tick(f, now);
    assert_int_equal(n_tasks(f, false, "running"), 0);
    agent(f); /* old ones shut down */
    tick(f, now);
    agent(f); /* new ones run */
    assert_int_equal(n_tasks(f, false, "running"), 2);
    tick(f, now); /* seen running: Delay starts */
    assert_int_equal(f->n_creates, 2);
    /* Nothing more before Delay (10 s) passed. */
    assert_int_equal(tick(f, now + 9 * SEC), now + 10 * SEC);
    assert_int_equal(f->n_creates, 2);
    tick(f, now + 10 * SEC);
    assert_int_equal(f->n_creates, 4);
    assert_int_equal(n_pending_new(f), 2);

    now = run_until_done(f, now + 10 * SEC, 200, false);
    assert_string_equal(status_state(f), "completed");
    assert_string_equal(status_msg(f), "update completed");
    assert_non_null(json_object_get(
        json_object_get(f->svc, "UpdateStatus"), "CompletedAt"));
    assert_null(json_object_get(f->svc, "_Update"));
    assert_int_equal(f->n_creates, 10);
    assert_int_equal(n_tasks(f, false, "running"), 10);
    assert_int_equal(n_tasks(f, true, "running"), 0);
    /* Two at a time, each pair Delay after the previous one ran. */
    for (k = 2; k < 10; k += 2) {
        assert_int_equal(f->last_create_at[k], f->last_create_at[k + 1]);
        assert_true(f->last_create_at[k] - f->last_create_at[k - 2] >=
                    10 * SEC);
    }
    /* Completion waited for Monitor after the last pair ran. */
    assert_true(now - f->last_create_at[9] >= 5 * SEC);
    /* Completed: no more work. */
    acts = orch_update(f->svc, f->tasks, now + 60 * SEC, NULL);
    assert_int_equal(json_array_size(acts), 0);
    json_decref(acts);
}

static void test_update_start_first(void **state)
{
    struct fix *f = *state;
    json_t *acts;
    int64_t now = T0;

    fill_running(f, 3);
    set_update_config(f, "{\"Parallelism\":1,\"Delay\":0,"
                         "\"Order\":\"start-first\"}");
    change_image(f, "busybox:2");
    acts = orch_update(f->svc, f->tasks, now, NULL);
    /* The new task first, running at once; the old one stays. */
    assert_int_equal(json_array_size(acts), 2); /* create + service */
    assert_string_equal(s_of(json_array_get(acts, 0), "op"), "create");
    assert_string_equal(
        s_of(json_object_get(json_array_get(acts, 0), "obj"), "DesiredState"),
        "running");
    apply(f, acts, now);
    assert_int_equal(n_tasks(f, true, "running"), 3);
    tick(f, now);
    assert_int_equal(f->n_creates, 1);
    agent(f);
    assert_int_equal(n_tasks(f, true, "running"), 3);
    assert_int_equal(n_tasks(f, false, "running"), 1);
    /* Once it runs, the old one in its slot is shut down, and the next
     * slot starts (Delay 0). */
    tick(f, now + SEC);
    assert_int_equal(f->n_creates, 2);
    assert_int_equal(
        store_task_desired(json_object_get(f->tasks, "old000")),
        STORE_TASK_SHUTDOWN);
    assert_int_equal(
        store_task_desired(json_object_get(f->tasks, "old001")),
        STORE_TASK_RUNNING);
    now = run_until_done(f, now + SEC, 100, false);
    assert_string_equal(status_state(f), "completed");
    assert_int_equal(f->n_creates, 3);
    assert_int_equal(n_tasks(f, false, "running"), 3);
    assert_int_equal(n_tasks(f, true, "shutdown"), 3);
}

/* Start an update of 4 slots one at a time, run it until the first new
 * task runs; returns that task's ID (static buffer). */
static const char *first_new_running(struct fix *f, const char *action,
                                     int64_t now)
{
    static char id[64];
    const char *tid;
    json_t *t;
    char cfg[160];

    fill_running(f, 4);
    snprintf(cfg, sizeof(cfg),
             "{\"Parallelism\":1,\"Delay\":0,\"FailureAction\":\"%s\"}",
             action);
    set_update_config(f, cfg);
    change_image(f, "busybox:2");
    tick(f, now);
    agent(f);
    tick(f, now);
    agent(f);
    tick(f, now);
    json_object_foreach(f->tasks, tid, t) {
        if (!orch_task_is_dirty(f->svc, t) &&
            store_task_state(t) == STORE_TASK_RUNNING)
            snprintf(id, sizeof(id), "%s", tid);
    }
    assert_int_not_equal(id[0], '\0');
    return id;
}

static void test_update_failure_pause(void **state)
{
    struct fix *f = *state;
    int64_t now = T0;
    const char *id = first_new_running(f, "pause", now);
    char msg[128];
    unsigned made;
    json_t *acts;

    made = f->n_creates;
    set_state(f, id, "failed"); /* 2 s into its 5 s Monitor */
    tick(f, now + 2 * SEC);
    snprintf(msg, sizeof(msg),
             "update paused due to failure or early termination of task %s",
             id);
    assert_string_equal(status_state(f), "paused");
    assert_string_equal(status_msg(f), msg);
    /* Paused: nothing happens, whatever the time. */
    acts = orch_update(f->svc, f->tasks, now + 100 * SEC, NULL);
    assert_int_equal(json_array_size(acts), 0);
    json_decref(acts);
    run_until_done(f, now + 3 * SEC, 20, false);
    assert_int_equal(f->n_creates, made);
    assert_string_equal(status_state(f), "paused");
    /* Until the spec changes again. */
    change_image(f, "busybox:3");
    tick(f, now + 30 * SEC);
    assert_string_equal(status_state(f), "updating");
    assert_true(f->n_creates > made);
}

static void test_update_failure_after_monitor(void **state)
{
    struct fix *f = *state;
    int64_t now = T0;
    const char *id = first_new_running(f, "pause", now);

    /* Its Monitor (5 s) has passed: not a failure of the update. */
    tick(f, now + 6 * SEC);
    set_state(f, id, "failed");
    tick(f, now + 7 * SEC);
    assert_string_equal(status_state(f), "updating");
}

static void test_update_failure_continue(void **state)
{
    struct fix *f = *state;
    int64_t now = T0;
    const char *id = first_new_running(f, "continue", now);

    set_state(f, id, "failed");
    tick(f, now + SEC);
    assert_string_equal(status_state(f), "updating");
    now = run_until_done(f, now + SEC, 100, false);
    assert_string_equal(status_state(f), "completed");
    assert_int_equal(n_tasks(f, true, "running"), 0);
    assert_int_equal(n_tasks(f, false, "running"), 3);
    assert_int_equal(json_array_size(json_object_get(
                         json_object_get(f->svc, "_Update"), "Failed")),
                     0); /* _Update removed on completion */
}

static void test_update_failure_rollback(void **state)
{
    struct fix *f = *state;
    int64_t now = T0;
    const char *id = first_new_running(f, "rollback", now);
    char msg[128];
    json_t *acts;
    const json_t *a;
    size_t i;
    unsigned made = 0;

    set_state(f, id, "failed");
    tick(f, now + SEC);
    snprintf(msg, sizeof(msg),
             "update rolled back due to failure or early termination of "
             "task %s",
             id);
    assert_string_equal(status_state(f), "rollback_started");
    assert_string_equal(status_msg(f), msg);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(tmpl(f), "ContainerSpec"), "Image")),
        "busybox:1");
    assert_null(json_object_get(f->svc, "PreviousSpec"));
    /* RollbackConfig: Parallelism 0, all dirty slots at once (the two
     * that got busybox:2: the failed one and the one under way). */
    acts = orch_update(f->svc, f->tasks, now + 2 * SEC, NULL);
    json_array_foreach(acts, i, a) {
        if (strcmp(s_of(a, "op"), "create") == 0)
            made++;
    }
    assert_int_equal(made, 2);
    apply(f, acts, now + 2 * SEC);
    run_until_done(f, now + 2 * SEC, 100, false);
    assert_string_equal(status_state(f), "rollback_completed");
    assert_string_equal(status_msg(f), "rollback completed");
    assert_int_equal(n_tasks(f, false, "running"), 4);
    assert_int_equal(n_tasks(f, true, "running"), 0);
}

static void test_update_failure_ratio(void **state)
{
    struct fix *f = *state;
    int64_t now = T0;
    int failures = 0;
    int i;

    fill_running(f, 4);
    set_update_config(f, "{\"Parallelism\":1,\"Delay\":0,"
                         "\"MaxFailureRatio\":0.5}");
    change_image(f, "busybox:2");
    /* Each new task fails as soon as it runs: 1/4 and 2/4 are within
     * 0.5, the third failure (3/4) pauses. */
    for (i = 0; i < 40 && strcmp(status_state(f), "paused") != 0;
         i++, now += SEC) {
        const char *id;
        json_t *t;

        tick(f, now);
        agent(f);
        json_object_foreach(f->tasks, id, t) {
            if (!orch_task_is_dirty(f->svc, t) &&
                store_task_state(t) == STORE_TASK_RUNNING) {
                set_state(f, id, "failed");
                failures++;
                assert_string_equal(status_state(f), "updating");
            }
        }
        tick(f, now);
    }
    assert_int_equal(failures, 3);
    assert_string_equal(status_state(f), "paused");
    assert_int_equal(json_array_size(json_object_get(
                         json_object_get(f->svc, "_Update"), "Failed")),
                     3);
}

static void test_update_manual_rollback(void **state)
{
    struct fix *f = *state;
    json_t *spec;
    json_t *prev;
    int64_t now = T0;

    fill_running(f, 4);
    change_image(f, "busybox:2");
    now = run_until_done(f, now, 200, false);
    assert_string_equal(status_state(f), "completed");
    /* What ctl_service_update does for rollback=previous. */
    spec = json_deep_copy(json_object_get(f->svc, "Spec"));
    prev = json_deep_copy(json_object_get(f->svc, "PreviousSpec"));
    json_object_set_new(f->svc, "Spec", prev);
    json_object_set_new(f->svc, "PreviousSpec", spec);
    json_object_set_new(f->svc, "UpdateStatus",
                        json_pack("{s:s, s:s, s:s}", "State",
                                  "rollback_started", "StartedAt",
                                  "2024-05-01T10:10:00Z", "Message",
                                  "manually requested rollback"));
    /* RollbackConfig has Parallelism 0: every slot at once. */
    tick(f, now);
    assert_int_equal(n_pending_new(f), 4);
    assert_string_equal(status_msg(f), "manually requested rollback");
    run_until_done(f, now, 100, false);
    assert_string_equal(status_state(f), "rollback_completed");
    assert_int_equal(n_tasks(f, false, "running"), 4);
}

static void test_update_leader_change(void **state)
{
    struct fix *f = *state;
    int64_t now = T0;
    int i;

    fill_running(f, 10);
    change_image(f, "busybox:2");
    /* A few seconds with one leader, then a new leader every pass. */
    for (i = 0; i < 3; i++, now += SEC) {
        tick(f, now);
        agent(f);
        tick(f, now);
    }
    assert_int_equal(f->n_creates, 2);
    new_leader(f);
    now = run_until_done(f, now, 200, true);
    assert_string_equal(status_state(f), "completed");
    assert_int_equal(f->n_creates, 10);
    assert_int_equal(n_tasks(f, false, "running"), 10);
    for (i = 2; i < 10; i += 2)
        assert_true(f->last_create_at[i] - f->last_create_at[i - 2] >=
                    10 * SEC);
}

static void test_update_global(void **state)
{
    struct fix *f = *state;
    int64_t now = T0;

    json_object_set_new(json_object_get(f->svc, "Spec"), "Mode",
                        parse("{\"Global\":{}}"));
    add_node(f, "n1");
    add_node(f, "n2");
    add_task(f, 0, "n1", "running", "running");
    add_task(f, 0, "n2", "running", "running");
    set_update_config(f, "{\"Parallelism\":1,\"Delay\":0}");
    change_image(f, "busybox:2");
    tick(f, now);
    assert_int_equal(f->n_creates, 1);
    run_until_done(f, now, 100, false);
    assert_string_equal(status_state(f), "completed");
    assert_int_equal(n_tasks(f, false, "running"), 2);
}

/* Tests: jobs. */
static void make_job(struct fix *f, const char *mode)
{
    json_t *spec = json_object_get(f->svc, "Spec");

    json_object_set_new(spec, "Mode", parse(mode));
    json_object_del(spec, "UpdateConfig");
    json_object_del(spec, "RollbackConfig");
    json_object_set_new(json_object_get(tmpl(f), "RestartPolicy"),
                        "Condition", json_string("on-failure"));
    json_object_set_new(f->svc, "JobStatus",
                        parse("{\"JobIteration\":{\"Index\":0}}"));
}

static void job_pass(struct fix *f, int64_t now)
{
    int64_t next;

    apply(f, orch_jobs(f->svc, f->tasks, f->nodes, now), now);
    apply(f, orch_start_delayed(f->svc, f->tasks, f->nodes, now, &next),
          now);
}

static unsigned n_live(struct fix *f)
{
    const char *id;
    json_t *t;
    unsigned n = 0;

    json_object_foreach(f->tasks, id, t) {
        if (store_task_desired(t) <= STORE_TASK_COMPLETE &&
            store_task_state(t) <= STORE_TASK_RUNNING)
            n++;
    }
    return n;
}

static void test_job_replicated(void **state)
{
    struct fix *f = *state;
    json_t *acts;
    const json_t *o;
    int64_t now = T0;
    const char *id;
    json_t *t;
    const char *victim = NULL;

    add_node(f, "n1");
    make_job(f, "{\"ReplicatedJob\":{\"MaxConcurrent\":2,"
                "\"TotalCompletions\":5}}");
    acts = orch_jobs(f->svc, f->tasks, f->nodes, now);
    assert_int_equal(json_array_size(acts), 2);
    o = json_object_get(json_array_get(acts, 1), "obj");
    assert_string_equal(s_of(o, "DesiredState"), "complete");
    /* slots from 0, as swarmkit's (the second task is slot 1) */
    assert_int_equal(json_integer_value(json_object_get(o, "Slot")), 1);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(o, "JobIteration"), "Index")),
                     0);
    apply(f, acts, now);
    /* At most two at once, while they run. */
    job_pass(f, now);
    assert_int_equal(f->n_creates, 2);
    /* One fails: restarted (on-failure) after the restart delay. */
    json_object_foreach(f->tasks, id, t) {
        victim = id;
        break;
    }
    set_state(f, victim, "failed");
    job_pass(f, now);
    assert_int_equal(f->n_creates, 3);
    assert_int_equal(n_live(f), 2);
    job_pass(f, now + 5 * SEC); /* raised to complete */
    assert_int_equal(f->n_creates, 3);
    /* Run everything to completion. */
    for (; now < T0 + 60 * SEC; now += SEC) {
        agent(f);
        job_pass(f, now);
        assert_true(n_live(f) <= 2);
    }
    assert_int_equal(f->n_creates, 6);
    assert_int_equal(n_tasks(f, false, "complete"), 5);
    assert_int_equal(n_tasks(f, false, "failed"), 1);
    json_object_foreach(f->tasks, id, t) {
        if (store_task_state(t) == STORE_TASK_COMPLETE)
            assert_int_equal(store_task_desired(t), STORE_TASK_COMPLETE);
    }
    acts = orch_jobs(f->svc, f->tasks, f->nodes, now);
    assert_int_equal(json_array_size(acts), 0);
    json_decref(acts);
}

static void test_job_global(void **state)
{
    struct fix *f = *state;
    int64_t now = T0;

    add_node(f, "n1");
    add_node(f, "n2");
    make_job(f, "{\"GlobalJob\":{}}");
    job_pass(f, now);
    assert_int_equal(f->n_creates, 2);
    agent(f);
    job_pass(f, now + SEC);
    assert_int_equal(f->n_creates, 2);
    assert_int_equal(n_tasks(f, false, "complete"), 2);
    /* A node joins: it runs the job once. */
    add_node(f, "n3");
    job_pass(f, now + 2 * SEC);
    assert_int_equal(f->n_creates, 3);
    agent(f);
    job_pass(f, now + 3 * SEC);
    assert_int_equal(f->n_creates, 3);
    assert_int_equal(n_tasks(f, false, "complete"), 3);
}

static void test_job_new_iteration(void **state)
{
    struct fix *f = *state;
    int64_t now = T0;
    const char *id;
    json_t *t;
    unsigned old_live = 0;

    add_node(f, "n1");
    make_job(f, "{\"ReplicatedJob\":{\"MaxConcurrent\":2,"
                "\"TotalCompletions\":3}}");
    job_pass(f, now);
    agent(f);
    job_pass(f, now); /* 2 complete, slot 3 created */
    assert_int_equal(f->n_creates, 3);
    /* The spec is updated (ctl bumps JobIteration): start over; the
     * running task of iteration 0 is shut down, completed ones stay. */
    json_object_set_new(json_object_get(f->svc, "JobStatus"),
                        "JobIteration", parse("{\"Index\":1}"));
    job_pass(f, now + SEC);
    assert_int_equal(f->n_creates, 5);
    json_object_foreach(f->tasks, id, t) {
        json_int_t it = json_integer_value(
            json_object_get(json_object_get(t, "JobIteration"), "Index"));

        if (it == 0 && store_task_desired(t) <= STORE_TASK_COMPLETE &&
            store_task_state(t) <= STORE_TASK_RUNNING)
            old_live++;
    }
    assert_int_equal(old_live, 0);
    assert_int_equal(n_tasks(f, false, "complete"), 2);
    for (now += 2 * SEC; now < T0 + 30 * SEC; now += SEC) {
        agent(f);
        job_pass(f, now);
    }
    assert_int_equal(f->n_creates, 6);
    assert_int_equal(n_tasks(f, false, "complete"), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fix_setup, fix_teardown)
        T(test_update_stop_first_parallel),
        T(test_update_start_first),
        T(test_update_failure_pause),
        T(test_update_failure_after_monitor),
        T(test_update_failure_continue),
        T(test_update_failure_rollback),
        T(test_update_failure_ratio),
        T(test_update_manual_rollback),
        T(test_update_leader_change),
        T(test_update_global),
        T(test_job_replicated),
        T(test_job_global),
        T(test_job_new_iteration),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

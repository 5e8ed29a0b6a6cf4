/* SPDX-License-Identifier: Apache-2.0 */
/* The orchestrators' reconciliation on synthetic services, tasks and
 * nodes: replicated slots and scale down, global services, restarts and
 * their delays, task history. */
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

#define SEC 1000000000LL
#define NOW (1714557600LL * SEC)

/* Fixture. */
struct fix
{
    json_t *svc;
    json_t *nodes;
    json_t *tasks;
    unsigned next;
};

static json_t *make_service(const char *mode_json)
{
    json_error_t je;
    json_t *mode = json_loads(mode_json, 0, &je);
    json_t *s = json_pack(
        "{s:s, s:{s:I}, s:{s:s, s:{s:s}, s:{s:{s:s}, s:{s:s, s:I}}, s:o}}",
        "ID", "svc1", "Version", "Index", (json_int_t)11, "Spec", "Name",
        "web", "Labels", "l", "v", "TaskTemplate", "ContainerSpec", "Image",
        "busybox", "RestartPolicy", "Condition", "any", "Delay",
        (json_int_t)(5 * SEC), "Mode", mode);

    assert_non_null(s);
    return s;
}

static int fix_setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));

    f->svc = make_service("{\"Replicated\":{\"Replicas\":3}}");
    f->nodes = json_object();
    f->tasks = json_object();
    *state = f;
    return 0;
}

static int fix_teardown(void **state)
{
    struct fix *f = *state;

    json_decref(f->svc);
    json_decref(f->nodes);
    json_decref(f->tasks);
    free(f);
    return 0;
}

/* Helpers. */
static json_t *add_node(struct fix *f, const char *id, const char *state,
                        const char *avail)
{
    json_t *n = json_pack("{s:s, s:{s:s, s:s, s:{}}, s:{s:s}, s:{s:s}}",
                          "ID", id, "Spec", "Role", "worker", "Availability",
                          avail, "Labels", "Description", "Hostname", id,
                          "Status", "State", state);

    json_object_set_new(f->nodes, id, n);
    return n;
}

static json_t *tmpl(struct fix *f)
{
    return json_object_get(json_object_get(f->svc, "Spec"), "TaskTemplate");
}

/* A task of the fixture's service with the current template. */
static json_t *add_task(struct fix *f, int slot, const char *node,
                        const char *state, const char *desired)
{
    char id[32];
    char created[48];
    json_t *t;

    snprintf(id, sizeof(id), "t%03u", f->next);
    snprintf(created, sizeof(created), "2024-05-01T09:%02u:00Z", f->next++);
    t = json_pack("{s:s, s:s, s:o, s:{s:s}, s:s, s:s, s:{s:I}}", "ID", id,
                  "ServiceID", "svc1", "Spec", json_deep_copy(tmpl(f)),
                  "Status", "State", state, "DesiredState", desired,
                  "CreatedAt", created, "Version", "Index", (json_int_t)3);
    if (slot > 0)
        json_object_set_new(t, "Slot", json_integer(slot));
    if (node != NULL)
        json_object_set_new(t, "NodeID", json_string(node));
    json_object_set_new(f->tasks, id, t);
    return t;
}

static const char *op(const json_t *a)
{
    return json_string_value(json_object_get(a, "op"));
}

static const json_t *obj(const json_t *a)
{
    return json_object_get(a, "obj");
}

static const char *s_of(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Count actions: creates, and updates to a desired state. */
static unsigned count(const json_t *actions, const char *what,
                      const char *desired)
{
    const json_t *a;
    size_t i;
    unsigned n = 0;

    json_array_foreach(actions, i, a) {
        if (strcmp(op(a), what) != 0)
            continue;
        if (desired == NULL ||
            strcmp(s_of(obj(a), "DesiredState"), desired) == 0)
            n++;
    }
    return n;
}

/* The action on task id, or NULL. */
static const json_t *on_task(const json_t *actions, const char *id)
{
    const json_t *a;
    size_t i;

    json_array_foreach(actions, i, a) {
        const char *aid = obj(a) ? s_of(obj(a), "ID")
                                 : s_of(a, "id");

        if (strcmp(aid, id) == 0)
            return a;
    }
    return NULL;
}

/* Tests: replicated. */
static void test_replicated_create(void **state)
{
    struct fix *f = *state;
    json_t *acts = orch_replicated(f->svc, f->tasks, f->nodes, NOW, 0);
    const json_t *t;
    size_t i;

    assert_int_equal(json_array_size(acts), 3);
    json_array_foreach(acts, i, t) {
        const json_t *o = obj(t);

        assert_string_equal(op(t), "create");
        assert_string_equal(json_string_value(json_object_get(t, "kind")),
                            "task");
        assert_int_equal(json_integer_value(json_object_get(o, "Slot")),
                         i + 1);
        assert_string_equal(s_of(o, "ServiceID"), "svc1");
        assert_string_equal(s_of(o, "DesiredState"), "running");
        assert_int_equal(strlen(s_of(o, "ID")), 25);
        assert_true(json_equal(json_object_get(o, "Spec"), tmpl(f)));
        assert_string_equal(
            s_of(json_object_get(o, "Status"), "State"), "new");
        assert_string_equal(
            s_of(json_object_get(o, "Status"), "Message"), "created");
        assert_string_equal(
            s_of(json_object_get(o, "ServiceAnnotations"), "Name"), "web");
        assert_int_equal(json_integer_value(json_object_get(
                             json_object_get(o, "SpecVersion"), "Index")),
                         11);
        assert_false(orch_task_is_dirty(f->svc, o));
        assert_null(json_object_get(o, "NodeID"));
    }
    json_decref(acts);
}

static void test_replicated_fill_gap(void **state)
{
    struct fix *f = *state;
    json_t *acts;

    add_node(f, "n1", "ready", "active");
    add_task(f, 1, "n1", "running", "running");
    add_task(f, 2, "n1", "failed", "shutdown"); /* dead slot */
    add_task(f, 3, "n1", "running", "running");
    acts = orch_replicated(f->svc, f->tasks, f->nodes, NOW, 0);
    assert_int_equal(json_array_size(acts), 1);
    assert_int_equal(
        json_integer_value(json_object_get(obj(json_array_get(acts, 0)),
                                           "Slot")),
        2);
    json_decref(acts);
}

static void test_replicated_steady(void **state)
{
    struct fix *f = *state;
    json_t *acts;

    add_node(f, "n1", "ready", "active");
    add_task(f, 1, "n1", "running", "running");
    add_task(f, 2, NULL, "pending", "running");
    add_task(f, 3, "n1", "failed", "running"); /* restart's business */
    acts = orch_replicated(f->svc, f->tasks, f->nodes, NOW, 0);
    assert_int_equal(json_array_size(acts), 0);
    json_decref(acts);
}

static void test_replicated_scale_down(void **state)
{
    struct fix *f = *state;
    json_t *acts;

    json_object_set_new(
        json_object_get(json_object_get(json_object_get(f->svc, "Spec"),
                                        "Mode"),
                        "Replicated"),
        "Replicas", json_integer(2));
    add_node(f, "a", "ready", "active");
    add_node(f, "b", "ready", "active");
    add_task(f, 1, "a", "running", "running"); /* t000 */
    add_task(f, 2, "a", "running", "running"); /* t001 */
    add_task(f, 3, "a", "running", "running"); /* t002 */
    add_task(f, 4, "b", "running", "running"); /* t003 */
    add_task(f, 5, "b", "pending", "running"); /* t004: not running */
    acts = orch_replicated(f->svc, f->tasks, f->nodes, NOW, 0);
    /* Keep one on each node: slot 1 on a (first copy) and slot 4 on b. */
    assert_int_equal(json_array_size(acts), 3);
    assert_int_equal(count(acts, "update", "remove"), 3);
    assert_null(on_task(acts, "t000"));
    assert_null(on_task(acts, "t003"));
    assert_non_null(on_task(acts, "t001"));
    assert_non_null(on_task(acts, "t002"));
    assert_non_null(on_task(acts, "t004"));
    assert_int_equal(json_integer_value(
                         json_object_get(on_task(acts, "t001"), "version")),
                     3);
    json_decref(acts);
}

static void test_replicated_invalid_nodes(void **state)
{
    struct fix *f = *state;
    json_t *acts;
    const json_t *a;
    size_t i;

    add_node(f, "down", "down", "active");
    add_node(f, "drained", "ready", "drain");
    add_node(f, "zone", "ready", "active");
    json_object_set_new(tmpl(f), "Placement",
                        json_pack("{s:[s]}", "Constraints",
                                  "node.labels.zone==a"));
    add_task(f, 1, "down", "running", "running");
    add_task(f, 2, "drained", "running", "running");
    add_task(f, 3, "zone", "running", "running"); /* label gone */
    add_task(f, 4, "gone", "running", "running"); /* node removed */
    json_object_set_new(
        json_object_get(json_object_get(f->svc, "Spec"), "Mode"),
        "Replicated", json_pack("{s:i}", "Replicas", 4));
    acts = orch_replicated(f->svc, f->tasks, f->nodes, NOW, 0);
    assert_int_equal(count(acts, "update", "shutdown"), 4);
    assert_int_equal(count(acts, "create", "ready"), 4);
    assert_int_equal(count(acts, "create", "running"), 0);
    json_array_foreach(acts, i, a) {
        const char *old;

        if (strcmp(op(a), "create") != 0)
            continue;
        /* Lost with their node (down, removed): at once; moved off a
         * node that is alive (drained, constraint): after the Delay. */
        old = s_of(obj(a), "_Replaces");
        assert_int_equal(
            json_integer_value(json_object_get(obj(a), "_StartAt")),
            strcmp(old, "t000") == 0 || strcmp(old, "t003") == 0
                ? NOW
                : NOW + 5 * SEC);
        assert_null(json_object_get(obj(a), "NodeID"));
    }
    json_decref(acts);
}

/* Tests: global. */
static void test_global(void **state)
{
    struct fix *f = *state;
    json_t *acts;

    json_decref(f->svc);
    f->svc = make_service("{\"Global\":{}}");
    add_node(f, "n1", "ready", "active");
    add_node(f, "n2", "unknown", "active");
    add_node(f, "n3", "down", "active");
    add_node(f, "n4", "ready", "drain");
    add_node(f, "n5", "ready", "active");
    add_node(f, "n6", "ready", "pause");
    add_task(f, 0, "n5", "running", "running");  /* t000 kept */
    add_task(f, 0, "n5", "pending", "running");  /* t001 extra */
    add_task(f, 0, "n4", "running", "running");  /* t002 drained */
    add_task(f, 0, "gone", "running", "running"); /* t003 node removed */
    acts = orch_global(f->svc, f->tasks, f->nodes, NOW);
    assert_int_equal(count(acts, "update", "shutdown"), 3);
    assert_non_null(on_task(acts, "t001"));
    assert_non_null(on_task(acts, "t002"));
    assert_non_null(on_task(acts, "t003"));
    /* n1, n2 (unknown) and n6 (paused: the scheduler holds it) get one. */
    assert_int_equal(count(acts, "create", "running"), 3);
    json_decref(acts);
}

static void test_global_constraints_and_done(void **state)
{
    struct fix *f = *state;
    json_t *acts;
    const json_t *a;
    size_t i;

    json_decref(f->svc);
    f->svc = make_service("{\"Global\":{}}");
    json_object_set_new(
        json_object_get(tmpl(f), "RestartPolicy"), "Condition",
        json_string("on-failure"));
    json_object_set_new(tmpl(f), "Placement",
                        json_pack("{s:[s]}", "Constraints",
                                  "node.role!=manager"));
    add_node(f, "w1", "ready", "active");
    add_node(f, "w2", "ready", "active");
    json_object_set_new(json_object_get(add_node(f, "m1", "ready", "active"),
                                        "Spec"),
                        "Role", json_string("manager"));
    /* w1's task completed: on-failure does not bring it back. */
    add_task(f, 0, "w1", "complete", "shutdown");
    acts = orch_global(f->svc, f->tasks, f->nodes, NOW);
    assert_int_equal(json_array_size(acts), 1);
    a = json_array_get(acts, 0);
    assert_string_equal(s_of(obj(a), "NodeID"), "w2");
    json_decref(acts);
    /* A new spec: w1 gets a task again. */
    json_object_set_new(tmpl(f), "ForceUpdate", json_integer(1));
    acts = orch_global(f->svc, f->tasks, f->nodes, NOW);
    assert_int_equal(count(acts, "create", "running"), 2);
    json_array_foreach(acts, i, a)
        assert_string_not_equal(s_of(obj(a), "NodeID"), "m1");
    json_decref(acts);
}

/* Tests: restart. */
static void test_restart_conditions(void **state)
{
    struct fix *f = *state;
    json_t *acts;
    const json_t *c;

    add_node(f, "n1", "ready", "active");
    add_task(f, 1, "n1", "failed", "running");    /* t000 */
    add_task(f, 2, "n1", "complete", "running");  /* t001 */
    add_task(f, 3, "n1", "running", "running");   /* t002 untouched */
    acts = orch_restart(f->svc, f->tasks, f->nodes, NOW);
    assert_int_equal(count(acts, "update", "shutdown"), 2);
    assert_int_equal(count(acts, "create", "ready"), 2);
    assert_null(on_task(acts, "t002"));
    c = json_array_get(acts, 1);
    assert_string_equal(op(c), "create");
    assert_int_equal(json_integer_value(json_object_get(obj(c), "Slot")), 1);
    assert_string_equal(s_of(obj(c), "_Replaces"), "t000");
    json_decref(acts);

    json_object_set_new(json_object_get(tmpl(f), "RestartPolicy"),
                        "Condition", json_string("on-failure"));
    acts = orch_restart(f->svc, f->tasks, f->nodes, NOW);
    assert_int_equal(count(acts, "update", "shutdown"), 2);
    assert_int_equal(count(acts, "create", NULL), 1);
    json_decref(acts);

    json_object_set_new(json_object_get(tmpl(f), "RestartPolicy"),
                        "Condition", json_string("none"));
    acts = orch_restart(f->svc, f->tasks, f->nodes, NOW);
    assert_int_equal(count(acts, "update", "shutdown"), 2);
    assert_int_equal(count(acts, "create", NULL), 0);
    json_decref(acts);
}

static void test_restart_max_attempts(void **state)
{
    struct fix *f = *state;
    json_t *rp = json_object_get(tmpl(f), "RestartPolicy");
    json_t *acts;
    json_t *t;

    json_object_set_new(rp, "MaxAttempts", json_integer(2));
    json_object_set_new(rp, "Window", json_integer(60 * SEC));
    add_node(f, "n1", "ready", "active");
    /* Slot 1: the first task and two restarts; the last one failed. */
    add_task(f, 1, "n1", "failed", "shutdown");
    t = add_task(f, 1, "n1", "failed", "shutdown");
    json_object_set_new(t, "_RestartedAt", json_integer(NOW - 50 * SEC));
    t = add_task(f, 1, "n1", "failed", "running");
    json_object_set_new(t, "_RestartedAt", json_integer(NOW - 10 * SEC));
    acts = orch_restart(f->svc, f->tasks, f->nodes, NOW);
    assert_int_equal(count(acts, "create", NULL), 0);
    json_decref(acts);
    /* 20 s later the first restart is out of the window. */
    acts = orch_restart(f->svc, f->tasks, f->nodes, NOW + 20 * SEC);
    assert_int_equal(count(acts, "create", NULL), 1);
    json_decref(acts);
    /* Window 0: every restart counts. */
    json_object_set_new(rp, "Window", json_integer(0));
    acts = orch_restart(f->svc, f->tasks, f->nodes, NOW + 3600 * SEC);
    assert_int_equal(count(acts, "create", NULL), 0);
    json_decref(acts);
}

/* The restart Delay (10 s here) paces tasks that failed or exited; a task
 * lost with its node is replaced at once, and still counts as a restart. */
static void test_restart_node_lost(void **state)
{
    struct fix *f = *state;
    json_t *rp = json_object_get(tmpl(f), "RestartPolicy");
    json_t *acts;
    const json_t *a;
    json_t *t;
    size_t i;

    json_object_set_new(rp, "Delay", json_integer(10 * SEC));
    add_node(f, "n1", "ready", "active");
    add_node(f, "n2", "down", "active");
    add_task(f, 1, "n1", "failed", "running");    /* t000: failed */
    add_task(f, 2, "n2", "running", "running");   /* t001: node down */
    add_task(f, 3, "n2", "failed", "running");    /* t002: failed, then
                                                     its node went down */
    add_task(f, 4, "n9", "starting", "running");  /* t003: node removed */
    acts = orch_restart(f->svc, f->tasks, f->nodes, NOW);
    assert_int_equal(count(acts, "update", "shutdown"), 4);
    assert_int_equal(count(acts, "create", "ready"), 4);
    json_array_foreach(acts, i, a) {
        const char *old;
        int64_t at;

        if (strcmp(op(a), "create") != 0)
            continue;
        old = s_of(obj(a), "_Replaces");
        at = json_integer_value(json_object_get(obj(a), "_StartAt"));
        if (strcmp(old, "t001") == 0 || strcmp(old, "t003") == 0)
            assert_int_equal(at, NOW);
        else
            assert_int_equal(at, NOW + 10 * SEC);
        assert_int_equal(
            json_integer_value(json_object_get(obj(a), "_RestartedAt")),
            NOW);
    }
    json_decref(acts);
    /* orch_replicated takes the same path for the down node's task. */
    acts = orch_replicated(f->svc, f->tasks, f->nodes, NOW, 0);
    assert_non_null(on_task(acts, "t001"));
    json_array_foreach(acts, i, a) {
        if (strcmp(op(a), "create") == 0 &&
            strcmp(s_of(obj(a), "_Replaces"), "t001") == 0)
            assert_int_equal(
                json_integer_value(json_object_get(obj(a), "_StartAt")),
                NOW);
    }
    json_decref(acts);
    /* MaxAttempts still counts restarts after a node loss: one restart
     * already in slot 2, at most one allowed. */
    json_object_set_new(rp, "MaxAttempts", json_integer(1));
    t = add_task(f, 2, "n2", "running", "running");
    json_object_set_new(t, "_RestartedAt", json_integer(NOW - SEC));
    acts = orch_restart(f->svc, f->tasks, f->nodes, NOW);
    a = on_task(acts, json_string_value(json_object_get(t, "ID")));
    assert_non_null(a);
    assert_string_equal(s_of(obj(a), "DesiredState"), "shutdown");
    json_array_foreach(acts, i, a) {
        if (strcmp(op(a), "create") == 0)
            assert_string_not_equal(s_of(obj(a), "_Replaces"),
                                    json_string_value(
                                        json_object_get(t, "ID")));
    }
    json_decref(acts);
}

static void test_start_delayed(void **state)
{
    struct fix *f = *state;
    json_t *acts;
    json_t *old;
    json_t *t;
    int64_t next;

    add_node(f, "n1", "ready", "active");
    old = add_task(f, 1, "n1", "running", "shutdown");
    t = add_task(f, 1, NULL, "new", "ready");
    json_object_set_new(t, "_StartAt", json_integer(NOW + 5 * SEC));
    json_object_set_new(t, "_RestartedAt", json_integer(NOW));
    json_object_set_new(t, "_Replaces", json_string("t000"));
    acts = orch_start_delayed(f->svc, f->tasks, f->nodes, NOW, &next);
    assert_int_equal(json_array_size(acts), 0);
    assert_int_equal(next, NOW + 5 * SEC);
    json_decref(acts);
    /* Delay over, the old one still running: wait for it, up to 1 min. */
    acts = orch_start_delayed(f->svc, f->tasks, f->nodes, NOW + 6 * SEC,
                              &next);
    assert_int_equal(json_array_size(acts), 0);
    assert_int_equal(next, NOW + 60 * SEC);
    json_decref(acts);
    acts = orch_start_delayed(f->svc, f->tasks, f->nodes, NOW + 60 * SEC,
                              &next);
    assert_int_equal(count(acts, "update", "running"), 1);
    json_decref(acts);
    /* The old one stopped: start now. */
    json_object_set_new(json_object_get(old, "Status"), "State",
                        json_string("shutdown"));
    acts = orch_start_delayed(f->svc, f->tasks, f->nodes, NOW + 6 * SEC,
                              &next);
    assert_int_equal(count(acts, "update", "running"), 1);
    assert_int_equal(next, INT64_MAX);
    json_decref(acts);
}

/* Tests: history and dirtiness. */
static void test_history(void **state)
{
    struct fix *f = *state;
    json_t *acts;
    unsigned i;

    for (i = 0; i < 7; i++)
        add_task(f, 1, "n1", "failed", "shutdown"); /* t000..t006 */
    add_task(f, 1, "n1", "running", "running");     /* t007 */
    add_task(f, 2, "n1", "shutdown", "remove");     /* t008: scaled down */
    add_task(f, 3, "n1", "running", "remove");      /* t009: still up */
    add_task(f, 4, NULL, "pending", "remove");      /* t010: never ran */
    acts = orch_history(f->svc, f->tasks, ORCH_DEFAULT_HISTORY_LIMIT);
    /* Slot 1 keeps 5 of 8: the 3 oldest go. */
    assert_int_equal(count(acts, "delete", NULL), 5);
    assert_non_null(on_task(acts, "t000"));
    assert_non_null(on_task(acts, "t001"));
    assert_non_null(on_task(acts, "t002"));
    assert_null(on_task(acts, "t003"));
    assert_null(on_task(acts, "t007"));
    assert_non_null(on_task(acts, "t008"));
    assert_null(on_task(acts, "t009"));
    assert_non_null(on_task(acts, "t010"));
    json_decref(acts);
    /* MaxAttempts 6 keeps 7. */
    json_object_set_new(json_object_get(tmpl(f), "RestartPolicy"),
                        "MaxAttempts", json_integer(6));
    acts = orch_history(f->svc, f->tasks, 5);
    assert_int_equal(count(acts, "delete", NULL), 3);
    assert_non_null(on_task(acts, "t000"));
    json_decref(acts);
    acts = orch_history(f->svc, f->tasks, -1);
    assert_int_equal(count(acts, "delete", NULL), 2);
    json_decref(acts);
}

static void test_dirty(void **state)
{
    struct fix *f = *state;
    json_t *t = add_task(f, 1, "n1", "running", "running");

    assert_false(orch_task_is_dirty(f->svc, t));
    json_object_set_new(tmpl(f), "ForceUpdate", json_integer(1));
    assert_true(orch_task_is_dirty(f->svc, t));
    assert_string_equal(orch_service_mode(f->svc), "replicated");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fix_setup, fix_teardown)
        T(test_replicated_create),
        T(test_replicated_fill_gap),
        T(test_replicated_steady),
        T(test_replicated_scale_down),
        T(test_replicated_invalid_nodes),
        T(test_global),
        T(test_global_constraints_and_done),
        T(test_restart_conditions),
        T(test_restart_max_attempts),
        T(test_restart_node_lost),
        T(test_start_delayed),
        T(test_history),
        T(test_dirty),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

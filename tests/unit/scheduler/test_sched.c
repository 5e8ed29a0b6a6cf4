/* SPDX-License-Identifier: Apache-2.0 */
/* The scheduler's decisions on synthetic nodes and tasks: filters, their
 * explanations, spread, batch placement and a 10,000-task benchmark. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "manager/scheduler/sched.h"
#include "manager/store/store.h"

#define NOW 1714557600000000000LL /* 2024-05-01T10:00:00Z */

/* Fixture: maps of nodes and tasks. */
struct fix
{
    json_t *nodes;
    json_t *tasks;
    unsigned next_task;
};

static int fix_setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));

    f->nodes = json_object();
    f->tasks = json_object();
    *state = f;
    return 0;
}

static int fix_teardown(void **state)
{
    struct fix *f = *state;

    json_decref(f->nodes);
    json_decref(f->tasks);
    free(f);
    return 0;
}

/* Helpers. */
static json_t *add_node(struct fix *f, const char *id, const char *state,
                        const char *avail)
{
    json_t *n = json_pack(
        "{s:s, s:{s:s, s:s, s:{}}, s:{s:s, s:{s:s, s:s}, s:{s:I, s:I},"
        " s:{s:{}}}, s:{s:s, s:s}}",
        "ID", id, "Spec", "Role", "worker", "Availability", avail, "Labels",
        "Description", "Hostname", id, "Platform", "OS", "linux",
        "Architecture", "x86_64", "Resources", "NanoCPUs",
        (json_int_t)4000000000LL, "MemoryBytes", (json_int_t)8LL << 30,
        "Engine", "Labels", "Status", "State", state, "Addr", "10.0.0.1");

    json_object_set_new(f->nodes, id, n);
    return n;
}

static void node_label(json_t *n, const char *k, const char *v)
{
    json_object_set_new(json_object_get(json_object_get(n, "Spec"), "Labels"),
                        k, json_string(v));
}

static json_t *add_task(struct fix *f, const char *svc, const char *node,
                        const char *state)
{
    char id[32];
    json_t *t;

    snprintf(id, sizeof(id), "task%05u", f->next_task++);
    t = json_pack("{s:s, s:s, s:{s:{s:s}}, s:{s:s}, s:s, s:{s:I}}", "ID", id,
                  "ServiceID", svc, "Spec", "ContainerSpec", "Image",
                  "busybox", "Status", "State", state, "DesiredState",
                  "running", "Version", "Index", (json_int_t)7);
    if (node != NULL)
        json_object_set_new(t, "NodeID", json_string(node));
    json_object_set_new(f->tasks, id, t);
    return t;
}

static json_t *add_pending(struct fix *f, const char *svc, unsigned n)
{
    json_t *t = NULL;

    while (n-- > 0)
        t = add_task(f, svc, NULL, "pending");
    return t;
}

static void spec_set(json_t *task, const char *key, json_t *v)
{
    json_object_set_new(json_object_get(task, "Spec"), key, v);
}

/* Apply a pass's actions to the task map (so a second pass sees them)
 * and count placements per node into a {node: n} object. */
static json_t *run_apply(struct fix *f, json_t **out_actions)
{
    json_t *actions = sched_run(f->nodes, f->tasks, NOW, 0);
    json_t *per_node = json_object();
    json_t *a;
    size_t i;

    json_array_foreach(actions, i, a) {
        json_t *obj = json_object_get(a, "obj");
        const char *node = json_string_value(json_object_get(obj, "NodeID"));

        assert_string_equal(json_string_value(json_object_get(a, "op")),
                            "update");
        assert_string_equal(json_string_value(json_object_get(a, "kind")),
                            "task");
        if (node != NULL) {
            json_t *c = json_object_get(per_node, node);

            json_object_set_new(per_node, node,
                                json_integer(c ? json_integer_value(c) + 1
                                               : 1));
        }
        json_object_set(f->tasks,
                        json_string_value(json_object_get(obj, "ID")), obj);
    }
    if (out_actions != NULL)
        *out_actions = actions;
    else
        json_decref(actions);
    return per_node;
}

static const char *status_of(const json_t *task, const char *k)
{
    return json_string_value(
        json_object_get(json_object_get(task, "Status"), k));
}

/* Assertions. */
static void assert_count(const json_t *per_node, const char *node,
                         json_int_t n)
{
    assert_int_equal(json_integer_value(json_object_get(per_node, node)), n);
}

static void assert_err(const json_t *task, const char *text)
{
    assert_string_equal(status_of(task, "State"), "pending");
    assert_string_equal(status_of(task, "Message"), "pending task scheduling");
    assert_string_equal(status_of(task, "Err"), text);
}

/* Tests. */
static void test_ten_on_three(void **state)
{
    struct fix *f = *state;
    json_t *actions;
    json_t *per;
    json_t *obj;

    add_node(f, "n1", "ready", "active");
    add_node(f, "n2", "ready", "active");
    add_node(f, "n3", "ready", "active");
    add_pending(f, "svc", 10);
    per = run_apply(f, &actions);
    assert_int_equal(json_array_size(actions), 10);
    /* Ties go to the smallest ID: n1 gets the fourth. */
    assert_count(per, "n1", 4);
    assert_count(per, "n2", 3);
    assert_count(per, "n3", 3);
    obj = json_object_get(json_array_get(actions, 0), "obj");
    assert_string_equal(status_of(obj, "State"), "assigned");
    assert_string_equal(status_of(obj, "Message"),
                        "scheduler assigned task to node");
    assert_string_equal(status_of(obj, "Timestamp"),
                        "2024-05-01T10:00:00.000000000Z");
    assert_int_equal(json_integer_value(
                         json_object_get(json_array_get(actions, 0),
                                         "version")),
                     7);
    json_decref(actions);
    json_decref(per);
    /* Nothing pending: a second pass decides nothing. */
    per = run_apply(f, &actions);
    assert_int_equal(json_array_size(actions), 0);
    json_decref(actions);
    json_decref(per);
}

static void test_existing_tasks_count(void **state)
{
    struct fix *f = *state;
    json_t *per;

    add_node(f, "n1", "ready", "active");
    add_node(f, "n2", "ready", "active");
    add_node(f, "n3", "ready", "active");
    add_task(f, "svc", "n1", "running");
    add_task(f, "svc", "n1", "running");
    add_task(f, "other", "n2", "running");
    add_task(f, "other", "n2", "running");
    /* Terminal tasks do not count. */
    add_task(f, "svc", "n3", "failed");
    add_task(f, "svc", "n3", "shutdown");
    add_pending(f, "svc", 4);
    per = run_apply(f, NULL);
    /* n1 has 2 of svc; n2 and n3 none, n3 fewer tasks in all first. */
    assert_count(per, "n1", 0);
    assert_count(per, "n2", 2);
    assert_count(per, "n3", 2);
    json_decref(per);
}

static void test_not_ready(void **state)
{
    struct fix *f = *state;
    json_t *per;

    add_node(f, "n1", "down", "active");
    add_node(f, "n2", "ready", "drain");
    add_node(f, "n3", "ready", "pause");
    add_node(f, "n4", "unknown", "active");
    add_pending(f, "svc", 1);
    per = run_apply(f, NULL);
    assert_int_equal(json_object_size(per), 0);
    assert_err(json_object_get(f->tasks, "task00000"),
               "no suitable node (4 nodes not available for new tasks)");
    json_decref(per);
}

static void test_no_nodes(void **state)
{
    struct fix *f = *state;
    json_t *per;

    add_pending(f, "svc", 1);
    per = run_apply(f, NULL);
    assert_err(json_object_get(f->tasks, "task00000"), "no suitable node");
    json_decref(per);
}

static void test_resources(void **state)
{
    struct fix *f = *state;
    json_t *per;
    json_t *t;
    json_t *actions;
    unsigned i;

    add_node(f, "n1", "ready", "active");
    add_node(f, "n2", "ready", "active");
    add_node(f, "n3", "down", "active");
    /* 3 CPUs reserved on n1 by a running task; each new one wants 2. */
    t = add_task(f, "big", "n1", "running");
    spec_set(t, "Resources",
             json_pack("{s:{s:I}}", "Reservations", "NanoCPUs",
                       (json_int_t)3000000000LL));
    for (i = 0; i < 4; i++) {
        t = add_task(f, "svc", NULL, "pending");
        spec_set(t, "Resources",
                 json_pack("{s:{s:I, s:I}}", "Reservations", "NanoCPUs",
                           (json_int_t)2000000000LL, "MemoryBytes",
                           (json_int_t)1LL << 30));
    }
    per = run_apply(f, &actions);
    /* n2 takes two, n1 none (1 CPU left), the last two fit nowhere. */
    assert_count(per, "n2", 2);
    assert_count(per, "n1", 0);
    assert_err(json_object_get(f->tasks, "task00004"),
               "no suitable node (insufficient resources on 2 nodes; "
               "1 node not available for new tasks)");
    assert_err(json_object_get(f->tasks, "task00003"),
               "no suitable node (insufficient resources on 2 nodes; "
               "1 node not available for new tasks)");
    json_decref(actions);
    json_decref(per);
    /* The same reason again: no new action. */
    per = run_apply(f, &actions);
    assert_int_equal(json_array_size(actions), 0);
    json_decref(actions);
    json_decref(per);
}

static void test_constraints(void **state)
{
    struct fix *f = *state;
    json_t *per;
    json_t *t;

    node_label(add_node(f, "n1", "ready", "active"), "zone", "a");
    node_label(add_node(f, "n2", "ready", "active"), "zone", "b");
    add_node(f, "n3", "ready", "active");
    json_object_set_new(json_object_get(json_object_get(f->nodes, "n3"),
                                        "Spec"),
                        "Role", json_string("manager"));
    t = add_pending(f, "a", 2);
    spec_set(t, "Placement", json_pack("{s:[s]}", "Constraints",
                                       "node.labels.zone == A"));
    t = add_pending(f, "b", 2);
    spec_set(t, "Placement", json_pack("{s:[s, s]}", "Constraints",
                                       "node.labels.zone!=a",
                                       "node.role==worker"));
    t = add_pending(f, "c", 1);
    spec_set(t, "Placement", json_pack("{s:[s]}", "Constraints",
                                       "node.hostname==n3"));
    t = add_pending(f, "d", 1);
    spec_set(t, "Placement",
             json_pack("{s:[s]}", "Constraints", "node.labels.zone==c"));
    t = add_pending(f, "e", 1);
    spec_set(t, "Placement",
             json_pack("{s:[s]}", "Constraints", "engine.labels.x==y"));
    per = run_apply(f, NULL);
    /* "a": the first pending task of "a" has no constraint (only the
     * last one was given one), so they form two batches. */
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(f->tasks, "task00001"), "NodeID")),
        "n1");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(f->tasks, "task00003"), "NodeID")),
        "n2");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(f->tasks, "task00004"), "NodeID")),
        "n3");
    assert_err(json_object_get(f->tasks, "task00005"),
               "no suitable node (scheduling constraints not satisfied on "
               "3 nodes)");
    assert_err(json_object_get(f->tasks, "task00006"),
               "no suitable node (scheduling constraints not satisfied on "
               "3 nodes)");
    json_decref(per);
}

static void test_constraint_parse(void **state)
{
    static const struct
    {
        const char *expr;
        const char *err;
    } cases[] = {
        {"node.labels.x", "constraint expected one operator from ==, !="},
        {"node.labels.x=y", "constraint expected one operator from ==, !="},
        {"=={}", "key '' is invalid"},
        {"n%de==x", "key 'n%de' is invalid"},
        {"node.id==", "value '' is invalid"},
        {"node.id==a,b", "value 'a,b' is invalid"},
    };
    struct sched_constraints c;
    struct err err;
    json_t *list;
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        list = json_pack("[s]", cases[i].expr);
        err_clear(&err);
        assert_int_equal(sched_constraints_parse(list, &c, &err),
                         -ERR_INVALID);
        assert_string_equal(err.msg, cases[i].err);
        assert_int_equal(c.n, 0);
        json_decref(list);
    }
    list = json_pack("[s, s, s]", " node.role == manager ",
                     "node.labels.a.b!=x y", "node.platform.os==linux");
    assert_int_equal(sched_constraints_parse(list, &c, &err), 0);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.v[0].key, "node.role");
    assert_string_equal(c.v[0].value, "manager");
    assert_true(c.v[0].eq);
    assert_string_equal(c.v[1].key, "node.labels.a.b");
    assert_string_equal(c.v[1].value, "x y");
    assert_false(c.v[1].eq);
    sched_constraints_clear(&c);
    json_decref(list);
    assert_int_equal(sched_constraints_parse(NULL, &c, &err), 0);
    assert_int_equal(c.n, 0);
}

static void test_constraint_match(void **state)
{
    struct fix *f = *state;
    json_t *n = add_node(f, "abc", "ready", "active");
    static const struct
    {
        const char *expr;
        bool match;
    } cases[] = {
        {"node.id==abc", true},        {"node.id==ABC", true},
        {"node.id!=abc", false},       {"node.hostname==abc", true},
        {"node.role==worker", true},   {"node.role==manager", false},
        {"node.platform.os==linux", true},
        {"node.platform.arch==x86_64", true},
        {"node.labels.zone==a", true}, {"node.labels.Zone==a", false},
        {"node.labels.none!=a", true}, {"node.labels.none==a", false},
        {"engine.labels.e==1", true},  {"node.ip==10.0.0.1", true},
        {"node.ip==10.0.0.0/24", true}, {"node.ip==10.0.1.0/24", false},
        {"node.unknown==x", false},    {"NODE.ID==abc", true},
    };
    struct sched_constraints c;
    struct err err;
    size_t i;

    node_label(n, "zone", "a");
    json_object_set_new(
        json_object_get(json_object_get(json_object_get(n, "Description"),
                                        "Engine"),
                        "Labels"),
        "e", json_string("1"));
    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        json_t *list = json_pack("[s]", cases[i].expr);

        assert_int_equal(sched_constraints_parse(list, &c, &err), 0);
        if (sched_constraints_match(&c, n) != cases[i].match)
            fail_msg("%s: expected %d", cases[i].expr, cases[i].match);
        sched_constraints_clear(&c);
        json_decref(list);
    }
}

static void test_platform(void **state)
{
    struct fix *f = *state;
    json_t *per;
    json_t *t;

    add_node(f, "n1", "ready", "active");
    t = add_pending(f, "arm", 1);
    spec_set(t, "Placement",
             json_pack("{s:[{s:s, s:s}]}", "Platforms", "Architecture",
                       "arm64", "OS", "linux"));
    t = add_pending(f, "amd", 1);
    spec_set(t, "Placement",
             json_pack("{s:[{s:s, s:s}, {s:s, s:s}]}", "Platforms",
                       "Architecture", "arm64", "OS", "linux",
                       "Architecture", "amd64", "OS", "linux"));
    per = run_apply(f, NULL);
    assert_err(json_object_get(f->tasks, "task00000"),
               "no suitable node (unsupported platform on 1 node)");
    assert_count(per, "n1", 1);
    json_decref(per);
}

static void test_host_ports(void **state)
{
    struct fix *f = *state;
    json_t *per;
    json_t *t;
    json_t *ep = json_pack("{s:[{s:s, s:i, s:i, s:s}]}", "Ports", "Protocol",
                           "tcp", "TargetPort", 80, "PublishedPort", 8080,
                           "PublishMode", "host");
    unsigned i;

    add_node(f, "n1", "ready", "active");
    add_node(f, "n2", "ready", "active");
    t = add_task(f, "other", "n1", "running");
    json_object_set(t, "_Endpoint", ep);
    for (i = 0; i < 2; i++) {
        t = add_task(f, "web", NULL, "pending");
        json_object_set(t, "_Endpoint", ep);
    }
    per = run_apply(f, NULL);
    assert_count(per, "n2", 1);
    assert_err(json_object_get(f->tasks, "task00002"),
               "no suitable node (host-mode port already in use on 2 "
               "nodes)");
    json_decref(per);
    json_decref(ep);
}

static void test_max_replicas(void **state)
{
    struct fix *f = *state;
    json_t *per;
    json_t *place = json_pack("{s:i}", "MaxReplicas", 1);
    unsigned i;

    add_node(f, "n1", "ready", "active");
    add_node(f, "n2", "ready", "active");
    add_node(f, "n3", "down", "active");
    for (i = 0; i < 3; i++)
        spec_set(add_task(f, "svc", NULL, "pending"), "Placement",
                 json_deep_copy(place));
    per = run_apply(f, NULL);
    assert_count(per, "n1", 1);
    assert_count(per, "n2", 1);
    assert_err(json_object_get(f->tasks, "task00002"),
               "no suitable node (max replicas per node limit exceed; "
               "1 node not available for new tasks)");
    json_decref(per);
    json_decref(place);
}

static void test_spread(void **state)
{
    struct fix *f = *state;
    json_t *per;
    json_t *pref = json_pack("{s:[{s:{s:s}}]}", "Preferences", "Spread",
                             "SpreadDescriptor", "node.labels.zone");
    unsigned i;

    node_label(add_node(f, "a1", "ready", "active"), "zone", "a");
    node_label(add_node(f, "a2", "ready", "active"), "zone", "a");
    node_label(add_node(f, "a3", "ready", "active"), "zone", "a");
    node_label(add_node(f, "b1", "ready", "active"), "zone", "b");
    add_node(f, "x1", "ready", "active"); /* no label: its own group */
    for (i = 0; i < 6; i++)
        spec_set(add_task(f, "svc", NULL, "pending"), "Placement",
                 json_deep_copy(pref));
    per = run_apply(f, NULL);
    /* 2 per zone value (a, b, none); inside a, one node each. */
    assert_count(per, "b1", 2);
    assert_count(per, "x1", 2);
    assert_count(per, "a1", 1);
    assert_count(per, "a2", 1);
    assert_count(per, "a3", 0);
    json_decref(per);
    json_decref(pref);
}

static void test_preassigned(void **state)
{
    struct fix *f = *state;
    json_t *per;
    json_t *t;

    add_node(f, "n1", "ready", "active");
    add_node(f, "n2", "ready", "drain");
    add_task(f, "g", "n1", "pending");
    add_task(f, "g", "n2", "pending");
    t = add_task(f, "g", "gone", "pending");
    (void)t;
    per = run_apply(f, NULL);
    assert_count(per, "n1", 1);
    assert_string_equal(status_of(json_object_get(f->tasks, "task00000"),
                                  "Message"),
                        "scheduler confirmed task can run on preassigned "
                        "node");
    assert_err(json_object_get(f->tasks, "task00001"),
               "no suitable node (1 node not available for new tasks)");
    assert_err(json_object_get(f->tasks, "task00002"), "no suitable node");
    json_decref(per);
}

static void test_states(void **state)
{
    char ts[48];

    (void)state;
    assert_int_equal(store_task_state_parse("Running"), STORE_TASK_RUNNING);
    assert_int_equal(store_task_state_parse("bogus"), -1);
    assert_string_equal(store_task_state_name(STORE_TASK_ORPHANED), "orphaned");
    sched_timestamp(NOW + 5, ts, sizeof(ts));
    assert_string_equal(ts, "2024-05-01T10:00:00.000000005Z");
}

static void test_bench(void **state)
{
    struct fix *f = *state;
    struct timespec a;
    struct timespec b;
    json_t *actions;
    char id[32];
    unsigned i;
    json_t *per;
    double ms;

    for (i = 0; i < 1000; i++) {
        snprintf(id, sizeof(id), "node%04u", i);
        add_node(f, id, "ready", "active");
    }
    for (i = 0; i < 10000; i++) {
        snprintf(id, sizeof(id), "svc%02u", i % 20);
        add_task(f, id, NULL, "pending");
    }
    clock_gettime(CLOCK_MONOTONIC, &a);
    actions = sched_run(f->nodes, f->tasks, NOW, 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    ms = (double)(b.tv_sec - a.tv_sec) * 1e3 +
         (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    printf("bench: 10000 tasks on 1000 nodes placed in %.1f ms\n", ms);
    assert_int_equal(json_array_size(actions), 10000);
    json_decref(actions);
    per = run_apply(f, NULL);
    json_decref(per);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ten_on_three, fix_setup,
                                        fix_teardown),
        cmocka_unit_test_setup_teardown(test_existing_tasks_count, fix_setup,
                                        fix_teardown),
        cmocka_unit_test_setup_teardown(test_not_ready, fix_setup,
                                        fix_teardown),
        cmocka_unit_test_setup_teardown(test_no_nodes, fix_setup,
                                        fix_teardown),
        cmocka_unit_test_setup_teardown(test_resources, fix_setup,
                                        fix_teardown),
        cmocka_unit_test_setup_teardown(test_constraints, fix_setup,
                                        fix_teardown),
        cmocka_unit_test(test_constraint_parse),
        cmocka_unit_test_setup_teardown(test_constraint_match, fix_setup,
                                        fix_teardown),
        cmocka_unit_test_setup_teardown(test_platform, fix_setup,
                                        fix_teardown),
        cmocka_unit_test_setup_teardown(test_host_ports, fix_setup,
                                        fix_teardown),
        cmocka_unit_test_setup_teardown(test_max_replicas, fix_setup,
                                        fix_teardown),
        cmocka_unit_test_setup_teardown(test_spread, fix_setup,
                                        fix_teardown),
        cmocka_unit_test_setup_teardown(test_preassigned, fix_setup,
                                        fix_teardown),
        cmocka_unit_test(test_states),
        cmocka_unit_test_setup_teardown(test_bench, fix_setup, fix_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

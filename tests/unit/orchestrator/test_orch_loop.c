/* SPDX-License-Identifier: Apache-2.0 */
/* One pass of the leader's orchestration loop over synthetic objects:
 * tasks created pending then placed, one write per task per entry, the
 * entry cap, reconciliation only after a service or node change, and the
 * tasks of a removed service. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "manager/orchestrator/orch.h"
#include "manager/orchestrator/orch_loop.h"
#include "manager/store/store.h"

#define SEC 1000000000LL
#define NOW (1714557600LL * SEC)

struct fix
{
    json_t *services;
    json_t *tasks;
    json_t *nodes;
    json_int_t index;
};

static json_t *make_service(const char *id, json_int_t replicas,
                            const char *cond)
{
    json_t *s = json_pack(
        "{s:s, s:{s:I}, s:{s:s, s:{s:{s:s}, s:{s:s}}, s:{s:{s:I}}}}", "ID",
        id, "Version", "Index", (json_int_t)5, "Spec", "Name", id,
        "TaskTemplate", "ContainerSpec", "Image", "busybox",
        "RestartPolicy", "Condition", cond, "Mode", "Replicated",
        "Replicas", replicas);

    assert_non_null(s);
    return s;
}

static void add_node(struct fix *f, const char *id)
{
    json_object_set_new(
        f->nodes, id,
        json_pack("{s:s, s:{s:s, s:s, s:{}}, s:{s:s, s:{s:s, s:s}}, "
                  "s:{s:s}}",
                  "ID", id, "Spec", "Role", "worker", "Availability",
                  "active", "Labels", "Description", "Hostname", id,
                  "Platform", "OS", "linux", "Architecture", "x86_64",
                  "Status", "State", "ready"));
}

static int fix_setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));

    f->services = json_object();
    f->tasks = json_object();
    f->nodes = json_object();
    f->index = 10;
    add_node(f, "n1");
    add_node(f, "n2");
    *state = f;
    return 0;
}

static int fix_teardown(void **state)
{
    struct fix *f = *state;

    json_decref(f->services);
    json_decref(f->tasks);
    json_decref(f->nodes);
    free(f);
    return 0;
}

/* Apply an entry as the store would (version-checked, one write per
 * object), then free it. */
static void apply(struct fix *f, json_t *actions)
{
    json_t *seen = json_object();
    json_t *a;
    size_t i;

    f->index++;
    json_array_foreach(actions, i, a) {
        const char *op = json_string_value(json_object_get(a, "op"));
        const char *kind = json_string_value(json_object_get(a, "kind"));
        json_t *map = strcmp(kind, "task") == 0 ? f->tasks : f->services;
        json_t *obj = json_deep_copy(json_object_get(a, "obj"));
        const char *id = obj != NULL
                             ? json_string_value(json_object_get(obj, "ID"))
                             : json_string_value(json_object_get(a, "id"));

        assert_non_null(id);
        assert_null(json_object_get(seen, id));
        json_object_set_new(seen, id, json_true());
        if (strcmp(op, "delete") == 0) {
            assert_int_equal(json_object_del(map, id), 0);
            continue;
        }
        json_object_set_new(obj, "Version",
                            json_pack("{s:I}", "Index", f->index));
        json_object_set_new(map, id, obj);
    }
    json_decref(seen);
    json_decref(actions);
}

static json_t *pass(struct fix *f, json_t *seen, size_t max, bool *more)
{
    int64_t next;
    bool m;

    return orch_loop_pass(f->services, f->tasks, f->nodes, NOW, 5, seen,
                          max, &next, more != NULL ? more : &m);
}

static size_t count_state(struct fix *f, const char *state)
{
    const char *id;
    json_t *t;
    size_t n = 0;

    json_object_foreach(f->tasks, id, t) {
        if (strcmp(json_string_value(json_object_get(
                       json_object_get(t, "Status"), "State")),
                   state) == 0)
            n++;
    }
    return n;
}

static void test_create_then_place(void **state)
{
    struct fix *f = *state;
    json_t *actions;
    const char *id;
    json_t *t;

    json_object_set_new(f->services, "s1", make_service("s1", 3, "any"));
    actions = pass(f, NULL, ORCH_LOOP_MAX_ACTIONS, NULL);
    assert_int_equal(json_array_size(actions), 3);
    apply(f, actions);
    assert_int_equal(count_state(f, "pending"), 3);
    json_object_foreach(f->tasks, id, t) {
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(t, "Status"),
                                              "Message")),
            "pending task scheduling");
    }
    apply(f, pass(f, NULL, ORCH_LOOP_MAX_ACTIONS, NULL));
    assert_int_equal(count_state(f, "assigned"), 3);
    json_object_foreach(f->tasks, id, t) {
        assert_non_null(json_string_value(json_object_get(t, "NodeID")));
    }
    /* steady: nothing more to do */
    actions = pass(f, NULL, ORCH_LOOP_MAX_ACTIONS, NULL);
    assert_int_equal(json_array_size(actions), 0);
    json_decref(actions);
}

static void test_entry_cap(void **state)
{
    struct fix *f = *state;
    json_t *actions;
    bool more = false;

    json_object_set_new(f->services, "a", make_service("a", 150, "any"));
    json_object_set_new(f->services, "b", make_service("b", 150, "any"));
    /* a's 150 creations and the first 50 of b's: a service is filled a
     * pass's room at a time */
    actions = pass(f, NULL, 200, &more);
    assert_int_equal(json_array_size(actions), 200);
    assert_true(more);
    apply(f, actions);
    assert_int_equal(json_object_size(f->tasks), 200);
    /* b's other 100, and placements up to the cap */
    actions = pass(f, NULL, 200, &more);
    assert_int_equal(json_array_size(actions), 200);
    assert_true(more);
    apply(f, actions);
    assert_int_equal(json_object_size(f->tasks), 300);
}

/* A slot the restart policy gave up on stays empty until the service or
 * a node changes. */
static void test_reconcile_on_change_only(void **state)
{
    struct fix *f = *state;
    json_t *seen = json_object();
    json_t *actions;
    const char *id;
    json_t *t;

    json_object_set_new(f->services, "s1", make_service("s1", 1, "none"));
    apply(f, pass(f, seen, ORCH_LOOP_MAX_ACTIONS, NULL));
    apply(f, pass(f, seen, ORCH_LOOP_MAX_ACTIONS, NULL));
    json_object_foreach(f->tasks, id, t) {
        json_t *st = json_object_get(t, "Status");

        json_object_set_new(st, "State", json_string("failed"));
    }
    /* the restart supervisor shuts it down and does not replace it */
    apply(f, pass(f, seen, ORCH_LOOP_MAX_ACTIONS, NULL));
    assert_int_equal(json_object_size(f->tasks), 1);
    actions = pass(f, seen, ORCH_LOOP_MAX_ACTIONS, NULL);
    assert_int_equal(json_array_size(actions), 0);
    json_decref(actions);
    /* a node change (the loop clears seen) reconciles again */
    json_object_clear(seen);
    actions = pass(f, seen, ORCH_LOOP_MAX_ACTIONS, NULL);
    assert_int_equal(json_array_size(actions), 1);
    apply(f, actions);
    assert_int_equal(json_object_size(f->tasks), 2);
    json_decref(seen);
}

/* A task on a node that went down: reconciled once, never two writes. */
static void test_down_node(void **state)
{
    struct fix *f = *state;

    json_object_set_new(f->services, "s1", make_service("s1", 4, "any"));
    apply(f, pass(f, NULL, ORCH_LOOP_MAX_ACTIONS, NULL));
    apply(f, pass(f, NULL, ORCH_LOOP_MAX_ACTIONS, NULL));
    json_object_set_new(json_object_get(json_object_get(f->nodes, "n2"),
                                        "Status"),
                        "State", json_string("down"));
    /* apply() asserts one write per object */
    apply(f, pass(f, NULL, ORCH_LOOP_MAX_ACTIONS, NULL));
    apply(f, pass(f, NULL, ORCH_LOOP_MAX_ACTIONS, NULL));
    apply(f, pass(f, NULL, ORCH_LOOP_MAX_ACTIONS, NULL));
    {
        const char *id;
        json_t *t;
        size_t on_n1 = 0;

        json_object_foreach(f->tasks, id, t) {
            if (store_task_desired(t) <= STORE_TASK_RUNNING) {
                assert_string_equal(
                    json_string_value(json_object_get(t, "NodeID")), "n1");
                on_n1++;
            }
        }
        assert_int_equal(on_n1, 4);
    }
}

static void test_removed_service(void **state)
{
    struct fix *f = *state;
    json_t *actions;
    const char *id;
    json_t *t;

    json_object_set_new(f->services, "s1", make_service("s1", 2, "any"));
    apply(f, pass(f, NULL, ORCH_LOOP_MAX_ACTIONS, NULL));
    apply(f, pass(f, NULL, ORCH_LOOP_MAX_ACTIONS, NULL));
    json_object_foreach(f->tasks, id, t) {
        json_object_set_new(json_object_get(t, "Status"), "State",
                            json_string("running"));
    }
    json_object_del(f->services, "s1");
    apply(f, pass(f, NULL, ORCH_LOOP_MAX_ACTIONS, NULL));
    json_object_foreach(f->tasks, id, t) {
        assert_string_equal(
            json_string_value(json_object_get(t, "DesiredState")), "remove");
    }
    /* still running: kept */
    actions = pass(f, NULL, ORCH_LOOP_MAX_ACTIONS, NULL);
    assert_int_equal(json_array_size(actions), 0);
    json_decref(actions);
    json_object_foreach(f->tasks, id, t) {
        json_object_set_new(json_object_get(t, "Status"), "State",
                            json_string("shutdown"));
    }
    apply(f, pass(f, NULL, ORCH_LOOP_MAX_ACTIONS, NULL));
    assert_int_equal(json_object_size(f->tasks), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fix_setup, fix_teardown)
        T(test_create_then_place),
        T(test_entry_cap),
        T(test_reconcile_on_change_only),
        T(test_down_node),
        T(test_removed_service),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The object store: apply all-or-nothing, versions, snapshots. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "manager/store/store.h"

/* Encode actions and apply them at index. */
static int apply(struct store *s, uint64_t index, json_t *actions,
                 struct err *err)
{
    size_t len;
    char *payload = store_entry_encode(actions, &len);
    int rv = store_apply(s, index, payload, len, err);

    free(payload);
    return rv;
}

static json_t *node(const char *id, const char *avail)
{
    return json_pack("{s:s, s:{s:s}}", "ID", id, "Spec", "Availability",
                     avail);
}

static void test_create_stamps_version_and_times(void **state)
{
    struct store *s = store_new();
    struct err err;
    json_t *a = json_array();
    json_t *n;

    (void)state;
    json_array_append_new(a, store_action_create(STORE_NODE, node("n1", "active")));
    assert_int_equal(apply(s, 5, a, &err), 0);
    n = store_get(s, STORE_NODE, "n1");
    assert_non_null(n);
    assert_int_equal(store_obj_version(n), 5);
    assert_non_null(json_string_value(json_object_get(n, "CreatedAt")));
    assert_string_equal(json_string_value(json_object_get(n, "CreatedAt")),
                        json_string_value(json_object_get(n, "UpdatedAt")));
    assert_int_equal(store_index(s), 5);
    store_free(s);
}

static void test_update_checks_version(void **state)
{
    struct store *s = store_new();
    struct err err;
    json_t *a = json_array();
    json_t *created;

    (void)state;
    json_array_append_new(a, store_action_create(STORE_NODE, node("n1", "active")));
    assert_int_equal(apply(s, 3, a, &err), 0);
    created = json_deep_copy(json_object_get(store_get(s, STORE_NODE, "n1"), "CreatedAt"));
    a = json_array();
    json_array_append_new(a, store_action_update(STORE_NODE, node("n1", "drain"), 2));
    assert_int_equal(apply(s, 4, a, &err), -ERR_INTERNAL);
    assert_non_null(strstr(err.msg, "update out of sequence"));
    a = json_array();
    json_array_append_new(a, store_action_update(STORE_NODE, node("n1", "drain"), 3));
    assert_int_equal(apply(s, 5, a, &err), 0);
    assert_int_equal(store_obj_version(store_get(s, STORE_NODE, "n1")), 5);
    /* CreatedAt survives updates */
    assert_true(json_equal(created, json_object_get(store_get(s, STORE_NODE, "n1"), "CreatedAt")));
    json_decref(created);
    store_free(s);
}

static void test_status_update_keeps_version(void **state)
{
    struct store *s = store_new();
    struct err err;
    json_t *a = json_array();
    json_t *n;

    (void)state;
    json_array_append_new(a, store_action_create(STORE_NODE, node("n1", "active")));
    assert_int_equal(apply(s, 3, a, &err), 0);
    a = json_array();
    n = node("n1", "active");
    json_object_set_new(n, "Status", json_pack("{s:s}", "State", "down"));
    json_array_append_new(a, store_action_update_status(STORE_NODE, n, 3));
    assert_int_equal(apply(s, 4, a, &err), 0);
    n = store_get(s, STORE_NODE, "n1");
    assert_int_equal(store_obj_version(n), 3); /* the spec's guard kept */
    assert_string_equal(json_string_value(json_object_get(json_object_get(n, "Status"), "State")), "down");
    /* a client holding version 3 still updates the spec */
    a = json_array();
    json_array_append_new(a, store_action_update(STORE_NODE, node("n1", "drain"), 3));
    assert_int_equal(apply(s, 5, a, &err), 0);
    assert_int_equal(store_obj_version(store_get(s, STORE_NODE, "n1")), 5);
    /* and a stale status write is refused */
    a = json_array();
    json_array_append_new(a, store_action_update_status(STORE_NODE, node("n1", "active"), 3));
    assert_int_equal(apply(s, 6, a, &err), -ERR_INTERNAL);
    store_free(s);
}

static void test_apply_is_all_or_nothing(void **state)
{
    struct store *s = store_new();
    struct err err;
    json_t *a = json_array();

    (void)state;
    json_array_append_new(a, store_action_create(STORE_NODE, node("n1", "active")));
    assert_int_equal(apply(s, 1, a, &err), 0);
    a = json_array();
    json_array_append_new(a, store_action_create(STORE_NODE, node("n2", "active")));
    json_array_append_new(a, store_action_create(STORE_NODE, node("n1", "active")));
    assert_int_equal(apply(s, 2, a, &err), -ERR_CONFLICT);
    assert_null(store_get(s, STORE_NODE, "n2"));
    a = json_array();
    json_array_append_new(a, store_action_delete(STORE_NODE, "n1"));
    json_array_append_new(a, store_action_delete(STORE_NODE, "nope"));
    assert_int_equal(apply(s, 3, a, &err), -ERR_NOTFOUND);
    assert_non_null(store_get(s, STORE_NODE, "n1"));
    /* an update, then a refused action: the update is taken back too */
    a = json_array();
    json_array_append_new(a, store_action_update(STORE_NODE,
                                                 node("n1", "drain"), 0));
    json_array_append_new(a, store_action_delete(STORE_NODE, "nope"));
    assert_int_equal(apply(s, 4, a, &err), -ERR_NOTFOUND);
    assert_string_equal(json_string_value(json_object_get(json_object_get(
                            store_get(s, STORE_NODE, "n1"), "Spec"),
                                                          "Availability")),
                        "active");
    assert_int_equal(store_obj_version(store_get(s, STORE_NODE, "n1")), 1);
    assert_int_equal(store_index(s), 4);
    store_free(s);
}

static void test_malformed_entries_rejected(void **state)
{
    static const char *const bad[] = {
        "", "not json", "[]", "{\"ts\":\"x\"}", "{\"actions\":[]}",
        "{\"ts\":\"x\",\"actions\":[{\"op\":\"create\",\"kind\":\"node\"}]}",
        "{\"ts\":\"x\",\"actions\":[{\"op\":\"zap\",\"kind\":\"node\",\"obj\":{\"ID\":\"a\"}}]}",
        "{\"ts\":\"x\",\"actions\":[{\"op\":\"create\",\"kind\":\"ghost\",\"obj\":{\"ID\":\"a\"}}]}",
        "{\"ts\":\"x\",\"actions\":[{\"op\":\"delete\",\"kind\":\"node\"}]}",
        "{\"ts\":\"x\",\"actions\":[7]}",
    };
    struct store *s = store_new();
    struct err err;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_true(store_apply(s, i + 1, bad[i], strlen(bad[i]), &err) < 0);
        assert_int_equal(json_object_size(store_all(s, STORE_NODE)), 0);
    }
    store_free(s);
}

static void test_snapshot_restore_roundtrip(void **state)
{
    struct store *s = store_new();
    struct store *t = store_new();
    struct err err;
    json_t *a = json_array();
    char *snap;
    char *snap2;
    size_t len;
    size_t len2;

    (void)state;
    json_array_append_new(a, store_action_create(STORE_NODE, node("n1", "active")));
    json_array_append_new(a, store_action_create(STORE_CLUSTER, json_pack("{s:s}", "ID", "c1")));
    json_array_append_new(a, store_action_create(STORE_NETWORK, json_pack("{s:s, s:s}", "Id", "w1", "Name", "ingress")));
    assert_int_equal(apply(s, 7, a, &err), 0);
    snap = store_snapshot(s, &len);
    assert_int_equal(store_restore(t, snap, len, &err), 0);
    assert_int_equal(store_index(t), 7);
    assert_non_null(store_get(t, STORE_NETWORK, "w1"));
    assert_string_equal(store_obj_id(store_cluster(t)), "c1");
    snap2 = store_snapshot(t, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(snap, snap2, len);
    /* A bad snapshot leaves the store as it was. */
    assert_true(store_restore(t, "{\"objects\":1}", 13, &err) < 0);
    assert_non_null(store_get(t, STORE_NODE, "n1"));
    free(snap);
    free(snap2);
    store_free(s);
    store_free(t);
}

static json_t *task(const char *id, const char *state, const char *want)
{
    return json_pack("{s:s, s:s, s:s, s:{s:s}}", "ID", id, "NodeID", "n1",
                     "DesiredState", want, "Status", "State", state);
}

static void test_task_states_never_move_back(void **state)
{
    struct store *s = store_new();
    struct err err;
    json_t *a = json_array();

    (void)state;
    assert_int_equal(store_task_state_parse("RUNNING"), STORE_TASK_RUNNING);
    assert_int_equal(store_task_state_parse("bogus"), -1);
    assert_string_equal(store_task_state_name(640), "shutdown");
    json_array_append_new(a, store_action_create(STORE_TASK, task("t1", "assigned", "running")));
    assert_int_equal(apply(s, 2, a, &err), 0);
    a = json_array();
    json_array_append_new(a, store_action_update_status(STORE_TASK, task("t1", "running", "running"), 2));
    assert_int_equal(apply(s, 3, a, &err), 0);
    assert_int_equal(store_task_state(store_get(s, STORE_TASK, "t1")), STORE_TASK_RUNNING);
    assert_int_equal(store_obj_version(store_get(s, STORE_TASK, "t1")), 2);
    /* a status write backwards: refused, the store keeps the running task */
    a = json_array();
    json_array_append_new(a, store_action_update_status(STORE_TASK, task("t1", "preparing", "running"), 2));
    assert_int_equal(apply(s, 4, a, &err), -ERR_INVALID);
    assert_non_null(strstr(err.msg, "cannot move from running back to preparing"));
    /* a spec write carrying the Status its writer read before the node
     * moved the task on: its DesiredState is taken, the newer Status
     * stays */
    a = json_array();
    json_array_append_new(a, store_action_update(STORE_TASK, task("t1", "assigned", "shutdown"), 2));
    assert_int_equal(apply(s, 5, a, &err), 0);
    assert_int_equal(store_task_state(store_get(s, STORE_TASK, "t1")), STORE_TASK_RUNNING);
    assert_int_equal(store_task_desired(store_get(s, STORE_TASK, "t1")), STORE_TASK_SHUTDOWN);
    /* unknown state names are refused at create and update */
    a = json_array();
    json_array_append_new(a, store_action_create(STORE_TASK, task("t2", "sleeping", "running")));
    assert_int_equal(apply(s, 6, a, &err), -ERR_INVALID);
    a = json_array();
    json_array_append_new(a, store_action_update(STORE_TASK, task("t1", "complete", "later"), 0));
    assert_int_equal(apply(s, 7, a, &err), -ERR_INVALID);
    assert_null(store_get(s, STORE_TASK, "t2"));
    /* same state again, and forward: fine */
    a = json_array();
    json_array_append_new(a, store_action_update(STORE_TASK, task("t1", "running", "shutdown"), 0));
    json_array_append_new(a, store_action_update(STORE_TASK, task("t1", "shutdown", "shutdown"), 0));
    assert_int_equal(apply(s, 8, a, &err), 0);
    assert_int_equal(store_task_state(store_get(s, STORE_TASK, "t1")), STORE_TASK_SHUTDOWN);
    store_free(s);
}

struct watched
{
    json_t *log;
};

static void on_change(void *data, enum store_kind k, const char *id,
                      const json_t *old, const json_t *cur)
{
    struct watched *w = data;

    json_array_append_new(w->log, json_pack("[s, s?, b, b]", store_kind_name(k), id, old != NULL, cur != NULL));
}

static void test_watch_sees_applied_changes(void **state)
{
    struct store *s = store_new();
    struct watched w = {json_array()};
    struct err err;
    json_t *a = json_array();
    json_t *want;
    char *snap;
    size_t len;
    int h;

    (void)state;
    h = store_watch(s, on_change, &w);
    json_array_append_new(a, store_action_create(STORE_TASK, task("t1", "assigned", "running")));
    json_array_append_new(a, store_action_update(STORE_TASK, task("t1", "accepted", "running"), 0));
    json_array_append_new(a, store_action_create(STORE_NODE, node("n1", "active")));
    assert_int_equal(apply(s, 2, a, &err), 0);
    /* a refused entry tells nothing */
    a = json_array();
    json_array_append_new(a, store_action_delete(STORE_TASK, "t1"));
    json_array_append_new(a, store_action_delete(STORE_TASK, "nope"));
    assert_int_equal(apply(s, 3, a, &err), -ERR_NOTFOUND);
    a = json_array();
    json_array_append_new(a, store_action_delete(STORE_TASK, "t1"));
    assert_int_equal(apply(s, 4, a, &err), 0);
    want = json_pack("[[s,s,b,b],[s,s,b,b],[s,s,b,b],[s,s,b,b]]",
                     "task", "t1", 0, 1, "task", "t1", 1, 1, "node", "n1", 0, 1,
                     "task", "t1", 1, 0);
    assert_true(json_equal(w.log, want));
    json_decref(want);
    json_array_clear(w.log);
    snap = store_snapshot(s, &len);
    assert_int_equal(store_restore(s, snap, len, &err), 0);
    free(snap);
    assert_int_equal(json_array_size(w.log), STORE__KINDS);
    store_unwatch(s, h);
    a = json_array();
    json_array_append_new(a, store_action_create(STORE_NODE, node("n2", "active")));
    assert_int_equal(apply(s, 5, a, &err), 0);
    assert_int_equal(json_array_size(w.log), STORE__KINDS);
    json_decref(w.log);
    store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_stamps_version_and_times),
        cmocka_unit_test(test_update_checks_version),
        cmocka_unit_test(test_status_update_keeps_version),
        cmocka_unit_test(test_apply_is_all_or_nothing),
        cmocka_unit_test(test_malformed_entries_rejected),
        cmocka_unit_test(test_snapshot_restore_roundtrip),
        cmocka_unit_test(test_task_states_never_move_back),
        cmocka_unit_test(test_watch_sees_applied_changes),
    };

    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}

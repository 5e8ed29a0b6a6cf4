/* SPDX-License-Identifier: Apache-2.0 */
/* Control API: spec validation and defaults, init objects, node rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "manager/controlapi/ctl.h"

static void apply_actions(struct store *s, uint64_t index, json_t *actions)
{
    struct err err;
    size_t len;
    char *payload = store_entry_encode(actions, &len);

    assert_int_equal(store_apply(s, index, payload, len, &err), 0);
    free(payload);
}

/* A store holding what ctl_swarm_init makes. */
static struct store *init_store(void)
{
    struct store *s = store_new();
    json_t *spec = ctl_spec_default();
    json_t *desc = json_pack("{s:s, s:{s:s}}", "Hostname", "h1", "TLSInfo",
                             "TrustRoot", "PEM");
    struct ctl_init in;
    struct err err;
    json_t *actions;

    memset(&in, 0, sizeof(in));
    in.cluster_id = "c1";
    in.node_id = "node1aaaaaaaaaaaaaaaaaaaa";
    in.raft_id = 42;
    in.advertise_addr = "127.0.0.1:2377";
    in.spec = spec;
    in.root_cert_pem = "PEM";
    in.root_key_pem = "KEY";
    in.worker_token = "W";
    in.manager_token = "M";
    in.unlock_key = "";
    in.ingress_id = "ingress1";
    in.node_description = desc;
    actions = ctl_swarm_init(&in, &err);
    assert_non_null(actions);
    apply_actions(s, 1, actions);
    json_decref(spec);
    json_decref(desc);
    return s;
}

static void test_spec_defaults(void **state)
{
    json_t *spec = ctl_spec_default();
    struct err err;

    (void)state;
    assert_int_equal(ctl_spec_validate(spec, &err), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(spec, "Raft"), "SnapshotInterval")), 10000);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(spec, "Dispatcher"), "HeartbeatPeriod")), 5000000000LL);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(spec, "CAConfig"), "NodeCertExpiry")), CTL_DEFAULT_CERT_EXPIRY);
    json_decref(spec);
}

static void test_spec_validation_errors(void **state)
{
    static const char *const bad[] = {
        "[]",
        "{\"Name\":7}",
        "{\"Labels\":{\"a\":1}}",
        "{\"Raft\":{\"SnapshotInterval\":-1}}",
        "{\"Raft\":{\"ElectionTick\":\"10\"}}",
        "{\"CAConfig\":{\"NodeCertExpiry\":1000}}",
        "{\"Dispatcher\":{\"HeartbeatPeriod\":-5}}",
        "{\"EncryptionConfig\":{\"AutoLockManagers\":\"yes\"}}",
        "{\"Orchestration\":[]}",
    };
    struct err err;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *v = json_loads(bad[i], JSON_DECODE_ANY, NULL);

        assert_non_null(v);
        assert_int_equal(ctl_spec_validate(v, &err), -ERR_INVALID);
        assert_true(strlen(err.msg) > 0);
        json_decref(v);
    }
}

static void test_spec_merge_keeps_defaults(void **state)
{
    json_t *spec = ctl_spec_default();
    json_t *given = json_loads("{\"Raft\":{\"ElectionTick\":0,\"SnapshotInterval\":5},\"Labels\":{\"a\":\"b\"}}", 0, NULL);

    (void)state;
    ctl_spec_merge(spec, given);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(spec, "Raft"), "SnapshotInterval")), 5);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(spec, "Raft"), "ElectionTick")), 10);
    assert_string_equal(json_string_value(json_object_get(json_object_get(spec, "Labels"), "a")), "b");
    json_decref(spec);
    json_decref(given);
}

static void test_addr_pools(void **state)
{
    json_t *ok = json_loads("[\"198.19.0.0/17\"]", 0, NULL);
    json_t *small = json_loads("[\"198.19.0.0/25\"]", 0, NULL);
    json_t *bad = json_loads("[\"198.19.0.0\"]", 0, NULL);
    struct err err;

    (void)state;
    assert_int_equal(ctl_addr_pool_validate(ok, 24, &err), 0);
    assert_int_equal(ctl_addr_pool_validate(small, 24, &err), -ERR_INVALID);
    assert_string_equal(err.msg, "invalid CIDR: \"198.19.0.0/25\". Subnet size is too small for pool: 24");
    assert_int_equal(ctl_addr_pool_validate(bad, 24, &err), -ERR_INVALID);
    assert_int_equal(ctl_addr_pool_validate(ok, 30, &err), -ERR_INVALID);
    assert_string_equal(err.msg, "subnet size is out of range: 30");
    json_decref(ok);
    json_decref(small);
    json_decref(bad);
}

static void test_init_objects(void **state)
{
    struct store *s = init_store();
    json_t *cluster = store_cluster(s);
    json_t *net = store_get(s, STORE_NETWORK, "ingress1");
    json_t *n = store_get(s, STORE_NODE, "node1aaaaaaaaaaaaaaaaaaaa");

    (void)state;
    assert_string_equal(json_string_value(json_object_get(json_object_get(cluster, "JoinTokens"), "Worker")), "W");
    assert_string_equal(json_string_value(json_object_get(json_object_get(cluster, "TLSInfo"), "TrustRoot")), "PEM");
    assert_true(json_is_true(json_object_get(net, "Ingress")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(json_object_get(net, "IPAM"), "Config"), 0), "Subnet")), "10.0.0.0/24");
    assert_string_equal(json_string_value(json_object_get(json_object_get(n, "Status"), "Addr")), "127.0.0.1");
    assert_int_equal(ctl_node_count_managers(s), 1);
    store_free(s);
}

static void test_node_lookup(void **state)
{
    struct store *s = init_store();
    struct err err;

    (void)state;
    assert_non_null(ctl_node_lookup(s, "node1aaaaaaaaaaaaaaaaaaaa", &err));
    assert_non_null(ctl_node_lookup(s, "h1", &err));
    assert_non_null(ctl_node_lookup(s, "node1", &err));
    assert_null(ctl_node_lookup(s, "zzz", &err));
    assert_int_equal(err.code, ERR_NOTFOUND);
    assert_string_equal(err.msg, "node zzz not found");
    assert_null(ctl_node_lookup(s, "", &err));
    store_free(s);
}

static void test_node_update_rules(void **state)
{
    struct store *s = init_store();
    const char *id = "node1aaaaaaaaaaaaaaaaaaaa";
    struct err err;
    json_t *spec;
    json_t *a;

    (void)state;
    spec = json_loads("{\"Role\":\"manager\",\"Availability\":\"sleep\"}", 0, NULL);
    assert_null(ctl_node_update(s, id, 1, spec, &err));
    assert_string_equal(err.msg, "invalid Availability: \"sleep\"");
    json_decref(spec);
    spec = json_loads("{\"Role\":\"boss\",\"Availability\":\"active\"}", 0, NULL);
    assert_null(ctl_node_update(s, id, 1, spec, &err));
    assert_string_equal(err.msg, "invalid Role: \"boss\"");
    json_decref(spec);
    spec = json_loads("{\"Role\":\"worker\",\"Availability\":\"active\"}", 0, NULL);
    assert_null(ctl_node_update(s, id, 1, spec, &err));
    assert_non_null(strstr(err.msg, "attempting to demote the last manager of the swarm"));
    json_decref(spec);
    spec = json_loads("{\"Role\":\"manager\",\"Availability\":\"drain\",\"Labels\":{\"a\":\"b\"}}", 0, NULL);
    assert_null(ctl_node_update(s, id, 9, spec, &err));
    assert_non_null(strstr(err.msg, "update out of sequence"));
    a = ctl_node_update(s, id, 1, spec, &err);
    assert_non_null(a);
    json_decref(spec);
    apply_actions(s, 2, json_pack("[o]", a));
    assert_string_equal(json_string_value(json_object_get(json_object_get(store_get(s, STORE_NODE, id), "Spec"), "Availability")), "drain");
    assert_null(ctl_node_remove(s, id, true, &err));
    assert_non_null(strstr(err.msg, "must be demoted to worker before removal"));
    store_free(s);
}

/* Promotion sets the desired role only (the node's Raft identity comes
 * with its certificate renewal); demotion drops the Raft identity. */
static void test_node_promote_demote(void **state)
{
    struct store *s = init_store();
    const char *w = "node2bbbbbbbbbbbbbbbbbbbb";
    const char *m = "node1aaaaaaaaaaaaaaaaaaaa";
    json_t *spec = json_loads("{\"Role\":\"manager\",\"Availability\":\"active\"}", 0, NULL);
    struct err err;
    json_t *a;

    (void)state;
    apply_actions(s, 2, json_pack("[o]", store_action_create(STORE_NODE,
        json_pack("{s:s, s:{s:{}, s:s, s:s}}", "ID", w, "Spec", "Labels",
                  "Role", "worker", "Availability", "active"))));
    a = ctl_node_update(s, w, store_obj_version(store_get(s, STORE_NODE, w)), spec, &err);
    assert_non_null(a);
    assert_null(json_object_get(json_object_get(a, "obj"), "_Raft"));
    apply_actions(s, 3, json_pack("[o]", a));
    assert_int_equal(ctl_node_count_managers(s), 2);
    json_decref(spec);
    spec = json_loads("{\"Role\":\"worker\",\"Availability\":\"active\"}", 0, NULL);
    assert_non_null(json_object_get(store_get(s, STORE_NODE, m), "_Raft"));
    a = ctl_node_update(s, m, store_obj_version(store_get(s, STORE_NODE, m)), spec, &err);
    assert_non_null(a);
    assert_null(json_object_get(json_object_get(a, "obj"), "_Raft"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(a, "obj"), "Spec"), "Role")), "worker");
    json_decref(a);
    json_decref(spec);
    store_free(s);
}

static void test_swarm_update(void **state)
{
    struct store *s = init_store();
    json_t *spec = ctl_spec_default();
    struct err err;
    json_t *a;

    (void)state;
    json_object_set_new(spec, "Name", json_string("other"));
    assert_null(ctl_swarm_update(s, 1, spec, NULL, NULL, NULL, &err));
    assert_string_equal(err.msg, "swarm spec must be named \"default\"");
    json_object_set_new(spec, "Name", json_string(""));
    assert_null(ctl_swarm_update(s, 5, spec, NULL, NULL, NULL, &err));
    a = ctl_swarm_update(s, 1, spec, "W2", NULL, NULL, &err);
    assert_non_null(a);
    apply_actions(s, 2, json_pack("[o]", a));
    assert_string_equal(json_string_value(json_object_get(json_object_get(store_cluster(s), "JoinTokens"), "Worker")), "W2");
    assert_string_equal(json_string_value(json_object_get(json_object_get(store_cluster(s), "JoinTokens"), "Manager")), "M");
    assert_string_equal(json_string_value(json_object_get(json_object_get(store_cluster(s), "Spec"), "Name")), "default");
    json_decref(spec);
    store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_defaults),
        cmocka_unit_test(test_spec_validation_errors),
        cmocka_unit_test(test_spec_merge_keeps_defaults),
        cmocka_unit_test(test_addr_pools),
        cmocka_unit_test(test_init_objects),
        cmocka_unit_test(test_node_lookup),
        cmocka_unit_test(test_node_update_rules),
        cmocka_unit_test(test_node_promote_demote),
        cmocka_unit_test(test_swarm_update),
    };

    return cmocka_run_group_tests_name("controlapi", tests, NULL, NULL);
}

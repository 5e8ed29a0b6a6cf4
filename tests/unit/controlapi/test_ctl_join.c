/* SPDX-License-Identifier: Apache-2.0 */
/* Joining: token checks, node objects, certificates signed by the root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "manager/ca/ca.h"
#include "manager/controlapi/ctl.h"

struct fixture
{
    struct store *s;
    char *root_cert;
    char *root_key;
    char worker[CA_TOKEN_LEN + 1];
    char manager[CA_TOKEN_LEN + 1];
    json_t *desc;
};

static void apply_actions(struct store *s, uint64_t index, json_t *actions)
{
    struct err err;
    size_t len;
    char *payload = store_entry_encode(actions, &len);

    assert_int_equal(store_apply(s, index, payload, len, &err), 0);
    free(payload);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    json_t *spec = ctl_spec_default();
    struct ctl_init in;
    struct err err;
    json_t *actions;

    assert_int_equal(ca_root_create(&f->root_cert, &f->root_key, &err), 0);
    ca_token_new(f->root_cert, f->worker);
    ca_token_new(f->root_cert, f->manager);
    f->desc = json_pack("{s:s}", "Hostname", "h");
    memset(&in, 0, sizeof(in));
    in.cluster_id = "clusteraaaaaaaaaaaaaaaaaa";
    in.node_id = "node1aaaaaaaaaaaaaaaaaaaa";
    in.raft_id = 1;
    in.advertise_addr = "127.0.0.1:2377";
    in.spec = spec;
    in.root_cert_pem = f->root_cert;
    in.root_key_pem = f->root_key;
    in.worker_token = f->worker;
    in.manager_token = f->manager;
    in.unlock_key = "";
    in.ingress_id = "ingress1";
    in.node_description = f->desc;
    f->s = store_new();
    actions = ctl_swarm_init(&in, &err);
    assert_non_null(actions);
    apply_actions(f->s, 1, actions);
    json_decref(spec);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    store_free(f->s);
    free(f->root_cert);
    free(f->root_key);
    json_decref(f->desc);
    free(f);
    return 0;
}

static void join_one(struct fixture *f, const char *token, uint64_t raft_id,
                     const char *want_role, const char *want_ou)
{
    struct ctl_join_req req;
    struct ctl_join_out out;
    struct ca_cert_info info;
    struct err err;
    char *key;
    char *csr;
    json_t *a;
    json_t *node;

    assert_int_equal(ca_node_key_create(&key, &csr, &err), 0);
    memset(&req, 0, sizeof(req));
    req.token = token;
    req.csr_pem = csr;
    req.raft_id = raft_id;
    req.advertise_addr = "127.0.0.2:2377";
    req.remote_ip = "127.0.0.2";
    req.description = f->desc;
    a = ctl_join(f->s, &req, &out, &err);
    assert_non_null(a);
    assert_string_equal(out.role, want_role);
    assert_int_equal(ca_cert_info(out.cert_pem, &info, &err), 0);
    assert_string_equal(info.ou, want_ou);
    assert_string_equal(info.cn, out.node_id);
    assert_string_equal(info.o, "clusteraaaaaaaaaaaaaaaaaa");
    assert_int_equal(ca_verify(f->root_cert, out.cert_pem, &err), 0);
    assert_true(ca_key_matches(out.cert_pem, key));
    apply_actions(f->s, 2, json_pack("[o]", a));
    node = store_get(f->s, STORE_NODE, out.node_id);
    assert_non_null(node);
    assert_string_equal(json_string_value(json_object_get(json_object_get(node, "Spec"), "Role")), want_role);
    assert_string_equal(json_string_value(json_object_get(json_object_get(node, "Status"), "Addr")), "127.0.0.2");
    assert_int_equal(json_object_get(node, "_Raft") != NULL,
                     strcmp(want_role, "manager") == 0);
    free(out.cert_pem);
    free(key);
    free(csr);
}

static void test_join_roles(void **state)
{
    struct fixture *f = *state;

    join_one(f, f->manager, 77, "manager", "swarm-manager");
    join_one(f, f->worker, 0, "worker", "swarm-worker");
    assert_int_equal(ctl_node_count_managers(f->s), 2);
}

static void test_join_refusals(void **state)
{
    struct fixture *f = *state;
    struct ctl_join_req req;
    struct ctl_join_out out;
    struct err err;
    char bad[CA_TOKEN_LEN + 1];

    memset(&req, 0, sizeof(req));
    req.csr_pem = "garbage";
    req.description = f->desc;
    ca_token_new(f->root_cert, bad);
    req.token = bad;
    assert_null(ctl_join(f->s, &req, &out, &err));
    assert_string_equal(err.msg, "rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster");
    req.token = NULL;
    assert_null(ctl_join(f->s, &req, &out, &err));
    req.token = f->worker;
    assert_null(ctl_join(f->s, &req, &out, &err)); /* garbage CSR */
    assert_int_equal(err.code, ERR_INVALID);
    req.token = f->manager;
    assert_null(ctl_join(f->s, &req, &out, &err)); /* no raft id */
    assert_non_null(strstr(err.msg, "raft ID"));
    req.token = f->worker;
    req.availability = "sleepy";
    assert_null(ctl_join(f->s, &req, &out, &err));
    assert_string_equal(err.msg, "invalid Availability: \"sleepy\"");
    assert_int_equal(json_object_size(store_all(f->s, STORE_NODE)), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_join_roles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_join_refusals, setup, teardown),
    };

    return cmocka_run_group_tests_name("controlapi/join", tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Joining: check a join token, make the new node's object and certificate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/ids.h"
#include "base/mem.h"
#include "manager/ca/ca.h"
#include "manager/controlapi/ctl.h"

static const char ctl_msg_bad_token[] =
    "rpc error: code = InvalidArgument desc = A valid join token is "
    "necessary to join this cluster";

const char *ctl_join_role(const struct store *s, const char *token)
{
    json_t *tokens = json_object_get(store_cluster(s), "JoinTokens");
    const char *manager = json_string_value(json_object_get(tokens, "Manager"));
    const char *worker = json_string_value(json_object_get(tokens, "Worker"));

    /* swarmkit compares against the manager token first. */
    if (token == NULL)
        return NULL;
    if (manager != NULL && ca_token_equal(token, manager))
        return "manager";
    if (worker != NULL && ca_token_equal(token, worker))
        return "worker";
    return NULL;
}

json_t *ctl_join(const struct store *s, const struct ctl_join_req *in,
                 struct ctl_join_out *out, struct err *err)
{
    json_t *cluster = store_cluster(s);
    json_t *root = json_object_get(cluster, "_RootCA");
    const char *root_cert = json_string_value(json_object_get(root, "CACert"));
    const char *root_key = json_string_value(json_object_get(root, "CAKey"));
    const char *role = ctl_join_role(s, in->token);
    const char *avail = in->availability;
    json_t *node;
    char *cert = NULL;

    memset(out, 0, sizeof(*out));
    if (cluster == NULL || root_cert == NULL || root_key == NULL) {
        err_set(err, ERR_UNAVAILABLE, "the swarm has no root CA yet");
        return NULL;
    }
    if (role == NULL) {
        err_set(err, ERR_INVALID, "%s", ctl_msg_bad_token);
        return NULL;
    }
    if (avail == NULL || avail[0] == '\0')
        avail = "active";
    if (strcmp(avail, "active") != 0 && strcmp(avail, "pause") != 0 &&
        strcmp(avail, "drain") != 0) {
        err_set(err, ERR_INVALID, "invalid Availability: \"%s\"", avail);
        return NULL;
    }
    if (strcmp(role, "manager") == 0 &&
        (in->raft_id == 0 || in->advertise_addr == NULL ||
         in->advertise_addr[0] == '\0')) {
        err_set(err, ERR_INVALID,
                "a joining manager must send its raft ID and advertise "
                "address");
        return NULL;
    }
    if (!json_is_object(in->description)) {
        err_set(err, ERR_INVALID, "a joining node must describe itself");
        return NULL;
    }
    /* A fresh ID that no node has (swarmkit retries on collision). */
    do {
        ids_new(out->node_id);
    } while (store_get(s, STORE_NODE, out->node_id) != NULL);
    if (ctl_rotation_issue(cluster, in->csr_pem, out->node_id,
                           strcmp(role, "manager") == 0 ? CA_ROLE_MANAGER
                                                        : CA_ROLE_WORKER,
                           &cert, err) != 0)
        return NULL;
    node = json_pack("{s:s, s:{s:{}, s:s, s:s}, s:O, s:{s:s, s:s}}", "ID",
                     out->node_id, "Spec", "Labels", "Role", role,
                     "Availability", avail, "Description", in->description,
                     "Status", "State", "ready", "Addr",
                     in->remote_ip ? in->remote_ip : "");
    /* Its cluster port, where managers reach it (agent.logs). */
    if (in->advertise_addr != NULL)
        json_object_set_new(node, "_Addr", json_string(in->advertise_addr));
    if (strcmp(role, "manager") == 0)
        json_object_set_new(node, "_Raft",
                            json_pack("{s:s, s:I}", "Addr", in->advertise_addr,
                                      "ID", (json_int_t)in->raft_id));
    out->role = role;
    out->cert_pem = cert;
    return store_action_create(STORE_NODE, node);
}

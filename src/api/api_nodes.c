/* SPDX-License-Identifier: Apache-2.0 */
/* /nodes: list with filters, inspect, update, remove. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api_int.h"
#include "cluster/cluster.h"
#include "manager/controlapi/ctl.h"
#include "manager/store/store.h"

json_t *api_node_view(const struct api_req *req, const json_t *node)
{
    json_t *out = api_public_copy(node);
    json_t *raft = json_object_get(node, "_Raft");
    uint64_t leader = cluster_leader_raft_id(req->cluster);
    uint64_t id;
    bool self;

    if (raft == NULL)
        return out;
    id = (uint64_t)json_integer_value(json_object_get(raft, "ID"));
    self = id == cluster_raft_id(req->cluster);
    json_object_set_new(
        out, "ManagerStatus",
        json_pack("{s:b, s:s, s:O}", "Leader", leader != 0 && leader == id,
                  "Reachability",
                  self ? "reachable"
                       : cluster_member_reachability(req->cluster, id),
                  "Addr", json_object_get(raft, "Addr")));
    if (leader == 0 || leader != id)
        json_object_del(json_object_get(out, "ManagerStatus"), "Leader");
    return out;
}

void api_nodes_list(struct api_req *req)
{
    static const char *const keys[] = {"id", "label", "membership", "name",
                                       "node.label", "role", NULL};
    struct err err;
    const struct store *s = cluster_manager_store(req->cluster, &err);
    json_t *filters;
    json_t *out;
    json_t *v;
    const char *id;
    json_t *node;
    size_t i;

    if (s == NULL) {
        api_reply_err(req, &err);
        return;
    }
    filters = api_filters_parse(req, keys, &err);
    if (filters == NULL) {
        api_reply_err(req, &err);
        return;
    }
    json_array_foreach(json_object_get(filters, "role"), i, v) {
        const char *r = json_string_value(v);

        if (strcmp(r, "manager") != 0 && strcmp(r, "worker") != 0) {
            json_decref(filters);
            api_reply_error(req, ERR_INVALID, "Invalid role filter: '%s'", r);
            return;
        }
    }
    json_array_foreach(json_object_get(filters, "membership"), i, v) {
        const char *m = json_string_value(v);

        if (strcmp(m, "accepted") != 0 && strcmp(m, "pending") != 0) {
            json_decref(filters);
            api_reply_error(req, ERR_INVALID,
                            "Invalid membership filter: '%s'", m);
            return;
        }
    }
    out = json_array();
    json_object_foreach(store_all(s, STORE_NODE), id, node) {
        json_t *spec = json_object_get(node, "Spec");
        json_t *desc = json_object_get(node, "Description");

        if (!api_filters_match_prefix(filters, "id", id) ||
            !api_filters_match(filters, "name",
                               json_string_value(
                                   json_object_get(desc, "Hostname"))) ||
            !api_filters_match(filters, "role",
                               json_string_value(
                                   json_object_get(spec, "Role"))) ||
            !api_filters_match(filters, "membership", "accepted") ||
            !api_filters_match_labels(
                filters, "label",
                json_object_get(json_object_get(desc, "Engine"), "Labels")) ||
            !api_filters_match_labels(filters, "node.label",
                                      json_object_get(spec, "Labels")))
            continue;
        json_array_append_new(out, api_node_view(req, node));
    }
    json_decref(filters);
    api_reply_json(req, 200, out);
}

void api_nodes_inspect(struct api_req *req)
{
    struct err err;
    const struct store *s = cluster_manager_store(req->cluster, &err);
    json_t *node;

    if (s == NULL || (node = ctl_node_lookup(s, req->params[0], &err)) ==
                         NULL) {
        api_reply_err(req, &err);
        return;
    }
    api_reply_json(req, 200, api_node_view(req, node));
}

static void api_nodes_done(void *data, int status, const struct err *err,
                           json_t *result)
{
    struct api_req *req = data;

    (void)result;
    if (status != 0)
        api_reply_err(req, err);
    else
        api_reply_empty(req, 200);
}

/* The update action turns a node into a worker. */
static bool api_nodes_is_demotion(const json_t *action)
{
    const char *role = json_string_value(json_object_get(
        json_object_get(json_object_get(action, "obj"), "Spec"), "Role"));

    return role != NULL && strcmp(role, "worker") == 0;
}

/* Another manager leads now: the demotion is its to serve. */
static void api_nodes_on_stepped_down(void *data, int status,
                                      const struct err *err, json_t *result)
{
    struct api_req *req = data;

    (void)result;
    if (status != 0)
        api_reply_err(req, err);
    else
        api_router_forward(req);
}

void api_nodes_update(struct api_req *req)
{
    struct err err;
    const struct store *s = cluster_manager_store(req->cluster, &err);
    json_t *spec = NULL;
    json_t *action;
    json_t *actions;
    json_t *raft;
    uint64_t raft_id;
    uint64_t version;

    if (s == NULL || api_version_param(req, "node", &version, &err) != 0 ||
        api_body_json(req, &spec, &err) != 0) {
        api_reply_err(req, &err);
        return;
    }
    action = ctl_node_update(s, req->params[0], version, spec, &err);
    json_decref(spec);
    if (action == NULL) {
        api_reply_err(req, &err);
        return;
    }
    raft = json_object_get(ctl_node_lookup(s, req->params[0], &err),
                           "_Raft");
    raft_id = (uint64_t)json_integer_value(json_object_get(raft, "ID"));
    /* A leader demoting itself hands leadership over first; the new
     * leader then serves the demotion like any other. */
    if (raft != NULL && raft_id == cluster_raft_id(req->cluster) &&
        api_nodes_is_demotion(action)) {
        json_decref(action);
        if (cluster_node_step_down(req->cluster, api_nodes_on_stepped_down,
                                   req, &err) != 0)
            api_reply_err(req, &err);
        return;
    }
    actions = json_array();
    json_array_append_new(actions, action);
    /* A demoted manager leaves Raft first (quorum permitting). */
    if (raft != NULL && api_nodes_is_demotion(action)) {
        if (cluster_node_demote(req->cluster, raft_id, actions,
                                api_nodes_done, req, &err) != 0)
            api_reply_err(req, &err);
        return;
    }
    if (cluster_propose(req->cluster, actions, api_nodes_done, req, &err) != 0)
        api_reply_err(req, &err);
}

void api_nodes_delete(struct api_req *req)
{
    struct err err;
    const struct store *s = cluster_manager_store(req->cluster, &err);
    json_t *action;
    json_t *actions;

    if (s == NULL) {
        api_reply_err(req, &err);
        return;
    }
    action = ctl_node_remove(s, req->params[0], api_query_bool(req, "force"),
                             &err);
    if (action == NULL) {
        api_reply_err(req, &err);
        return;
    }
    actions = json_array();
    json_array_append_new(actions, action);
    /* Its certificate is refused from now on, like Docker's blacklist. */
    action = ctl_blacklist_add(
        s, json_string_value(json_object_get(json_array_get(actions, 0), "id")),
        (int64_t)time(NULL));
    if (action != NULL)
        json_array_append_new(actions, action);
    if (cluster_propose(req->cluster, actions, api_nodes_done, req, &err) != 0)
        api_reply_err(req, &err);
}

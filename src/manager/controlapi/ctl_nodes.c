/* SPDX-License-Identifier: Apache-2.0 */
/* Nodes: lookup by ID/hostname/prefix, spec update, removal. */
#include <string.h>

#include "manager/controlapi/ctl.h"

static const char *ctl_node_hostname(const json_t *node)
{
    return json_string_value(
        json_object_get(json_object_get(node, "Description"), "Hostname"));
}

static const char *ctl_node_role(const json_t *node)
{
    return json_string_value(
        json_object_get(json_object_get(node, "Spec"), "Role"));
}

json_t *ctl_node_lookup(const struct store *s, const char *ref,
                        struct err *err)
{
    json_t *all = store_all(s, STORE_NODE);
    json_t *node;
    json_t *found = NULL;
    const char *id;
    size_t n = 0;
    size_t len = strlen(ref);

    if (len > 0 && (node = json_object_get(all, ref)) != NULL)
        return node;
    json_object_foreach(all, id, node) {
        const char *h = ctl_node_hostname(node);

        if (h != NULL && strcmp(h, ref) == 0) {
            found = node;
            n++;
        }
    }
    if (n == 0 && len > 0) {
        json_object_foreach(all, id, node) {
            if (strncmp(id, ref, len) == 0) {
                found = node;
                n++;
            }
        }
    }
    if (n == 1)
        return found;
    if (n == 0)
        err_set(err, ERR_NOTFOUND, "node %s not found", ref);
    else
        err_set(err, ERR_INVALID, "node %s is ambiguous (%zu matches found)",
                ref, n);
    return NULL;
}

unsigned ctl_node_count_managers(const struct store *s)
{
    const char *id;
    json_t *node;
    unsigned n = 0;

    json_object_foreach(store_all(s, STORE_NODE), id, node) {
        const char *role = ctl_node_role(node);

        if (role != NULL && strcmp(role, "manager") == 0)
            n++;
    }
    return n;
}

static bool ctl_one_of(const char *v, const char *const *allowed)
{
    for (; *allowed != NULL; allowed++) {
        if (strcmp(v, *allowed) == 0)
            return true;
    }
    return false;
}

json_t *ctl_node_update(const struct store *s, const char *ref,
                        uint64_t version, const json_t *spec,
                        struct err *err)
{
    static const char *const roles[] = {"worker", "manager", NULL};
    static const char *const avail[] = {"active", "pause", "drain", NULL};
    json_t *node = ctl_node_lookup(s, ref, err);
    json_t *labels;
    json_t *next;
    const char *role;
    const char *av;
    const char *key;
    json_t *v;

    if (node == NULL)
        return NULL;
    if (!json_is_object(spec)) {
        err_set(err, ERR_INVALID,
                "json: cannot unmarshal value into Go value of type "
                "swarm.NodeSpec");
        return NULL;
    }
    role = json_string_value(json_object_get(spec, "Role"));
    av = json_string_value(json_object_get(spec, "Availability"));
    labels = json_object_get(spec, "Labels");
    if ((json_object_get(spec, "Role") && role == NULL) ||
        (json_object_get(spec, "Availability") && av == NULL) ||
        (labels != NULL && !json_is_object(labels) && !json_is_null(labels))) {
        err_set(err, ERR_INVALID,
                "json: cannot unmarshal value into Go struct field "
                "NodeSpec of wrong type");
        return NULL;
    }
    json_object_foreach(labels, key, v) {
        if (!json_is_string(v)) {
            err_set(err, ERR_INVALID,
                    "json: cannot unmarshal value into Go struct field "
                    "NodeSpec.Labels of type string");
            return NULL;
        }
    }
    /* Docker's converter: an empty role or availability is invalid too. */
    if (role == NULL || !ctl_one_of(role, roles)) {
        err_set(err, ERR_INVALID, "invalid Role: \"%s\"", role ? role : "");
        return NULL;
    }
    if (av == NULL || !ctl_one_of(av, avail)) {
        err_set(err, ERR_INVALID, "invalid Availability: \"%s\"",
                av ? av : "");
        return NULL;
    }
    if (version != store_obj_version(node)) {
        err_set(err, ERR_INTERNAL,
                "rpc error: code = Unknown desc = update out of sequence");
        return NULL;
    }
    if (strcmp(ctl_node_role(node), "manager") == 0 &&
        strcmp(role, "worker") == 0 && ctl_node_count_managers(s) <= 1) {
        err_set(err, ERR_INVALID,
                "rpc error: code = FailedPrecondition desc = attempting to "
                "demote the last manager of the swarm");
        return NULL;
    }
    next = json_deep_copy(node);
    /* A promoted worker gets its Raft identity when it renews its
     * certificate (ca.renew); a demoted manager loses it here, committed
     * once its member left Raft (cluster_node_demote). */
    if (strcmp(role, "worker") == 0)
        json_object_del(next, "_Raft");
    json_object_set_new(next, "Spec",
                        json_pack("{s:o, s:s, s:s}", "Labels",
                                  labels && json_is_object(labels)
                                      ? json_deep_copy(labels)
                                      : json_object(),
                                  "Role", role, "Availability", av));
    v = json_object_get(spec, "Name");
    if (json_is_string(v) && json_string_length(v) > 0)
        json_object_set(json_object_get(next, "Spec"), "Name", v);
    return store_action_update(STORE_NODE, next, version);
}

json_t *ctl_node_remove(const struct store *s, const char *ref, bool force,
                        struct err *err)
{
    json_t *node = ctl_node_lookup(s, ref, err);
    const char *id;
    const char *state;

    if (node == NULL)
        return NULL;
    id = store_obj_id(node);
    /* A manager that left the raft (leave --force) can be removed. */
    if (json_object_get(node, "_Raft") != NULL) {
        err_set(err, ERR_INVALID,
                "rpc error: code = FailedPrecondition desc = node %s is a "
                "cluster manager and is a member of the raft cluster. It "
                "must be demoted to worker before removal",
                id);
        return NULL;
    }
    state = json_string_value(
        json_object_get(json_object_get(node, "Status"), "State"));
    if (!force && state != NULL && strcmp(state, "ready") == 0) {
        err_set(err, ERR_INVALID,
                "rpc error: code = FailedPrecondition desc = node %s is not "
                "down and can't be removed",
                id);
        return NULL;
    }
    return store_action_delete(STORE_NODE, id);
}

json_t *ctl_blacklist_add(const struct store *s, const char *node_id,
                          int64_t now)
{
    json_t *cluster = store_cluster(s);
    json_t *expiry = json_object_get(
        json_object_get(json_object_get(cluster, "Spec"), "CAConfig"),
        "NodeCertExpiry");
    int64_t keep = json_is_integer(expiry) && json_integer_value(expiry) > 0
                       ? json_integer_value(expiry) / CTL_NS_PER_SEC
                       : CTL_DEFAULT_CERT_EXPIRY / CTL_NS_PER_SEC;
    json_t *next;
    json_t *list;

    if (cluster == NULL)
        return NULL;
    next = json_deep_copy(cluster);
    list = json_object_get(next, "_Blacklist");
    if (!json_is_object(list)) {
        list = json_object();
        json_object_set_new(next, "_Blacklist", list);
    }
    /* swarmkit: until the certificate's expiry plus expiredCertGrace. */
    json_object_set_new(list, node_id,
                        json_integer(now + keep + 7 * 24 * 3600));
    return store_action_update_status(STORE_CLUSTER, next,
                                      store_obj_version(cluster));
}

bool ctl_is_blacklisted(const struct store *s, const char *node_id,
                        int64_t now)
{
    json_t *until = json_object_get(
        json_object_get(store_cluster(s), "_Blacklist"), node_id);

    return json_is_integer(until) && json_integer_value(until) > now;
}

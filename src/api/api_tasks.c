/* SPDX-License-Identifier: Apache-2.0 */
/* /tasks: list with filters, inspect (SWARM-FACTS 8.6). */
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "cluster/cluster.h"
#include "manager/controlapi/ctl.h"
#include "manager/orchestrator/orch.h"
#include "manager/store/store.h"

/* A task by exact ID, else by unique ID prefix (moby's getTask). */
static json_t *api_task_lookup(const struct store *s, const char *ref,
                               struct err *err)
{
    json_t *all = store_all(s, STORE_TASK);
    json_t *task = ref[0] ? json_object_get(all, ref) : NULL;
    json_t *found = NULL;
    const char *id;
    size_t n = 0;

    if (task != NULL)
        return task;
    json_object_foreach(all, id, task) {
        if (ref[0] != '\0' && strncmp(id, ref, strlen(ref)) == 0) {
            found = task;
            n++;
        }
    }
    if (n == 1)
        return found;
    if (n == 0)
        err_set(err, ERR_NOTFOUND, "task %s not found", ref);
    else
        err_set(err, ERR_INVALID, "task %s is ambiguous (%zu matches found)",
                ref, n);
    return NULL;
}

/* The service IDs a service filter names: ID, name or ID prefix. */
static bool api_task_service_match(const struct store *s,
                                   const json_t *filters, const char *sid)
{
    json_t *vals = json_object_get(filters, "service");
    json_t *v;
    size_t i;

    if (json_array_size(vals) == 0)
        return true;
    json_array_foreach(vals, i, v) {
        const char *want = json_string_value(v);
        json_t *svc = store_get(s, STORE_SERVICE, sid);
        const char *name = json_string_value(
            json_object_get(json_object_get(svc, "Spec"), "Name"));

        if (strncmp(sid, want, strlen(want)) == 0 ||
            (name != NULL && strcmp(name, want) == 0))
            return true;
    }
    return false;
}

void api_tasks_list(struct api_req *req)
{
    static const char *const keys[] = {"id", "name", "label", "service",
                                       "node", "desired-state", "runtime",
                                       "_up-to-date", NULL};
    struct err err;
    const struct store *s = cluster_manager_store(req->cluster, &err);
    json_t *filters;
    json_t *nodes;
    json_t *out;
    json_t *v;
    const char *id;
    json_t *task;
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
    json_array_foreach(json_object_get(filters, "desired-state"), i, v) {
        if (store_task_state_parse(json_string_value(v)) < 0) {
            api_reply_error(req, ERR_INVALID,
                            "Invalid desired-state filter: '%s'",
                            json_string_value(v));
            json_decref(filters);
            return;
        }
    }
    /* node: ID, hostname or prefix, resolved like Docker */
    nodes = json_array();
    json_array_foreach(json_object_get(filters, "node"), i, v) {
        json_t *node = ctl_node_lookup(s, json_string_value(v), &err);

        if (node == NULL) {
            api_reply_err(req, &err);
            json_decref(nodes);
            json_decref(filters);
            return;
        }
        json_array_append_new(nodes, json_string(store_obj_id(node)));
    }
    out = json_array();
    json_object_foreach(store_all(s, STORE_TASK), id, task) {
        const char *node_id = json_string_value(json_object_get(task,
                                                                "NodeID"));
        const char *sid = json_string_value(json_object_get(task,
                                                            "ServiceID"));
        const char *name = json_string_value(json_object_get(task, "Name"));
        const char *want = json_string_value(json_object_get(
            task, "DesiredState"));
        const json_t *svc = sid != NULL ? store_get(s, STORE_SERVICE, sid)
                                        : NULL;
        bool node_ok = json_array_size(nodes) == 0;
        bool state_ok = json_array_size(
                            json_object_get(filters, "desired-state")) == 0;

        json_array_foreach(nodes, i, v) {
            if (node_id != NULL && strcmp(node_id, json_string_value(v)) == 0)
                node_ok = true;
        }
        json_array_foreach(json_object_get(filters, "desired-state"), i, v) {
            if (want != NULL &&
                store_task_state_parse(json_string_value(v)) ==
                    store_task_state_parse(want))
                state_ok = true;
        }
        if (!node_ok || !state_ok ||
            !api_filters_match_prefix(filters, "id", id) ||
            !api_filters_match_prefix(filters, "name", name ? name : "") ||
            !api_filters_match_labels(filters, "label",
                                      json_object_get(task, "Labels")) ||
            !api_task_service_match(s, filters, sid ? sid : ""))
            continue;
        /* _up-to-date (the CLI's progress display): tasks of the
         * service's current spec only */
        if (json_object_get(filters, "_up-to-date") != NULL &&
            (svc == NULL || orch_task_is_dirty(svc, task)))
            continue;
        json_array_append_new(out, api_public_view(task));
    }
    json_decref(nodes);
    json_decref(filters);
    api_reply_json(req, 200, out);
}

void api_tasks_inspect(struct api_req *req)
{
    struct err err;
    const struct store *s = cluster_manager_store(req->cluster, &err);
    json_t *task;

    if (s == NULL ||
        (task = api_task_lookup(s, req->params[0], &err)) == NULL) {
        api_reply_err(req, &err);
        return;
    }
    api_reply_json(req, 200, api_public_view(task));
}

/* SPDX-License-Identifier: Apache-2.0 */
/* /secrets and /configs: list with filters, create, inspect (a secret
 * without its data), label updates, removal. Writes go to the leader. */
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "base/mem.h"
#include "cluster/cluster.h"
#include "manager/controlapi/ctl.h"
#include "manager/store/store.h"

/* A create in flight: the new object's ID answers it. */
struct api_secrets_create
{
    struct api_req *req;
    char *id;                     /* owned */
};

static void api_secrets_list(struct api_req *req, enum store_kind k)
{
    static const char *const secret_keys[] = {"id", "label", "name",
                                              "names", NULL};
    static const char *const config_keys[] = {"id", "label", "name", NULL};
    struct err err;
    const struct store *s = cluster_manager_store(req->cluster, &err);
    json_t *filters;
    json_t *out;
    const char *id;
    json_t *obj;

    if (s == NULL) {
        api_reply_err(req, &err);
        return;
    }
    filters = api_filters_parse(
        req, k == STORE_CONFIG ? config_keys : secret_keys, &err);
    if (filters == NULL) {
        api_reply_err(req, &err);
        return;
    }
    out = json_array();
    json_object_foreach(store_all(s, k), id, obj) {
        json_t *spec = json_object_get(obj, "Spec");
        const char *name = json_string_value(json_object_get(spec, "Name"));

        /* swarmkit: name is a prefix filter, names an exact one. */
        if (!api_filters_match_prefix(filters, "id", id) ||
            !api_filters_match_prefix(filters, "name", name) ||
            !api_filters_match(filters, "names", name) ||
            !api_filters_match_labels(filters, "label",
                                      json_object_get(spec, "Labels")))
            continue;
        json_array_append_new(out, ctl_secret_view(k, obj));
    }
    json_decref(filters);
    api_reply_json(req, 200, out);
}

static void api_secrets_inspect(struct api_req *req, enum store_kind k)
{
    struct err err;
    const struct store *s = cluster_manager_store(req->cluster, &err);
    json_t *obj;

    if (s == NULL ||
        (obj = ctl_secret_lookup(s, k, req->params[0], &err)) == NULL) {
        api_reply_err(req, &err);
        return;
    }
    api_reply_json(req, 200, ctl_secret_view(k, obj));
}

static void api_secrets_created(void *data, int status,
                                const struct err *err, json_t *result)
{
    struct api_secrets_create *c = data;

    (void)result;
    if (status != 0)
        api_reply_err(c->req, err);
    else
        api_reply_json(c->req, 201, json_pack("{s:s}", "ID", c->id));
    free(c->id);
    free(c);
}

static void api_secrets_create(struct api_req *req, enum store_kind k)
{
    struct err err;
    const struct store *s = cluster_manager_store(req->cluster, &err);
    struct api_secrets_create *c;
    json_t *spec = NULL;
    json_t *action;
    json_t *actions;

    if (s == NULL || api_body_json(req, &spec, &err) != 0) {
        api_reply_err(req, &err);
        return;
    }
    action = ctl_secret_create(s, k, spec, &err);
    json_decref(spec);
    if (action == NULL) {
        api_reply_err(req, &err);
        return;
    }
    c = xcalloc(1, sizeof(*c));
    c->req = req;
    c->id = xstrdup(store_obj_id(json_object_get(action, "obj")));
    actions = json_array();
    json_array_append_new(actions, action);
    if (cluster_propose(req->cluster, actions, api_secrets_created, c,
                        &err) != 0) {
        free(c->id);
        free(c);
        api_reply_err(req, &err);
    }
}

static void api_secrets_done(void *data, int status, const struct err *err,
                             json_t *result)
{
    struct api_req *req = data;

    (void)result;
    if (status != 0)
        api_reply_err(req, err);
    else if (req->method == API_DELETE)
        api_reply_empty(req, 204);
    else
        api_reply_empty(req, 200);
}

/* Propose action (stolen; NULL: err says why) and answer when applied. */
static void api_secrets_propose(struct api_req *req, json_t *action,
                                struct err *err)
{
    json_t *actions;

    if (action == NULL) {
        api_reply_err(req, err);
        return;
    }
    actions = json_array();
    json_array_append_new(actions, action);
    if (cluster_propose(req->cluster, actions, api_secrets_done, req,
                        err) != 0)
        api_reply_err(req, err);
}

static void api_secrets_update(struct api_req *req, enum store_kind k)
{
    struct err err;
    const struct store *s = cluster_manager_store(req->cluster, &err);
    json_t *spec = NULL;
    json_t *action;
    uint64_t version;
    char *v;

    if (s == NULL) {
        api_reply_err(req, &err);
        return;
    }
    /* Docker: exactly "invalid secret version" / "invalid config
     * version". */
    v = api_query_get(req, "version");
    if (v == NULL || v[0] == '\0' || strspn(v, "0123456789") != strlen(v) ||
        strlen(v) > 19) {
        free(v);
        api_reply_error(req, ERR_INVALID, "invalid %s version",
                        k == STORE_CONFIG ? "config" : "secret");
        return;
    }
    version = strtoull(v, NULL, 10);
    free(v);
    if (api_body_json(req, &spec, &err) != 0) {
        api_reply_err(req, &err);
        return;
    }
    action = ctl_secret_update(s, k, req->params[0], version, spec, &err);
    json_decref(spec);
    api_secrets_propose(req, action, &err);
}

static void api_secrets_delete(struct api_req *req, enum store_kind k)
{
    struct err err;
    const struct store *s = cluster_manager_store(req->cluster, &err);

    if (s == NULL) {
        api_reply_err(req, &err);
        return;
    }
    api_secrets_propose(req, ctl_secret_remove(s, k, req->params[0], &err),
                        &err);
}

void api_secrets_list_secrets(struct api_req *req)
{
    api_secrets_list(req, STORE_SECRET);
}

void api_secrets_list_configs(struct api_req *req)
{
    api_secrets_list(req, STORE_CONFIG);
}

void api_secrets_inspect_secret(struct api_req *req)
{
    api_secrets_inspect(req, STORE_SECRET);
}

void api_secrets_inspect_config(struct api_req *req)
{
    api_secrets_inspect(req, STORE_CONFIG);
}

void api_secrets_create_secret(struct api_req *req)
{
    api_secrets_create(req, STORE_SECRET);
}

void api_secrets_create_config(struct api_req *req)
{
    api_secrets_create(req, STORE_CONFIG);
}

void api_secrets_update_secret(struct api_req *req)
{
    api_secrets_update(req, STORE_SECRET);
}

void api_secrets_update_config(struct api_req *req)
{
    api_secrets_update(req, STORE_CONFIG);
}

void api_secrets_delete_secret(struct api_req *req)
{
    api_secrets_delete(req, STORE_SECRET);
}

void api_secrets_delete_config(struct api_req *req)
{
    api_secrets_delete(req, STORE_CONFIG);
}

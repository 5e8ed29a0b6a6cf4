/* SPDX-License-Identifier: Apache-2.0 */
/* /swarm: inspect, init, join, leave, update, unlock key, unlock. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "base/mem.h"
#include "cluster/cluster.h"
#include "manager/store/store.h"

int api_version_param(const struct api_req *req, const char *kind,
                      uint64_t *out, struct err *err)
{
    char *v = api_query_get(req, "version");
    char *end = NULL;
    unsigned long long n;
    int rv = 0;

    errno = 0;
    n = v ? strtoull(v, &end, 10) : 0;
    if (v == NULL || v[0] == '\0' || *end != '\0' || errno != 0 ||
        v[0] == '-') {
        if (strcmp(kind, "secret") == 0 || strcmp(kind, "config") == 0)
            rv = err_set(err, ERR_INVALID, "invalid %s version", kind);
        else
            rv = err_set(err, ERR_INVALID,
                         "invalid %s version '%s': strconv.ParseUint: "
                         "parsing \"%s\": invalid syntax",
                         kind, v ? v : "", v ? v : "");
    }
    *out = n;
    free(v);
    return rv;
}

void api_swarm_inspect(struct api_req *req)
{
    struct err err;
    const struct store *s = cluster_manager_store(req->cluster, &err);

    if (s == NULL || store_cluster(s) == NULL) {
        if (s != NULL)
            err_set(&err, ERR_UNAVAILABLE, "swarm is not initialized yet");
        api_reply_err(req, &err);
        return;
    }
    api_reply_json(req, 200, api_public_copy(store_cluster(s)));
}

/* Completion shared by the writes below: a JSON result or an empty 200. */
static void api_swarm_done(void *data, int status, const struct err *err,
                           json_t *result)
{
    struct api_req *req = data;

    if (status != 0) {
        api_reply_err(req, err);
        return;
    }
    if (result != NULL)
        api_reply_json(req, 200, json_incref(result));
    else
        api_reply_empty(req, 200);
}

void api_swarm_init(struct api_req *req)
{
    struct err err;
    json_t *body = NULL;

    err_clear(&err);
    if (api_body_json(req, &body, &err) != 0 ||
        cluster_init(req->cluster, body, api_swarm_done, req, &err) != 0)
        api_reply_err(req, &err);
    json_decref(body);
}

void api_swarm_join(struct api_req *req)
{
    struct err err;
    json_t *body = NULL;

    err_clear(&err);
    if (api_body_json(req, &body, &err) != 0 ||
        cluster_join(req->cluster, body, api_swarm_done, req, &err) != 0)
        api_reply_err(req, &err);
    json_decref(body);
}

void api_swarm_leave(struct api_req *req)
{
    struct err err;

    err_clear(&err);
    if (cluster_leave(req->cluster, api_query_bool(req, "force"),
                      api_swarm_done, req, &err) != 0)
        api_reply_err(req, &err);
}

void api_swarm_update(struct api_req *req)
{
    struct err err;
    json_t *spec = NULL;
    uint64_t version;

    err_clear(&err);
    if (api_version_param(req, "swarm", &version, &err) != 0 ||
        api_body_json(req, &spec, &err) != 0) {
        api_reply_err(req, &err);
        return;
    }
    if (spec == NULL)
        spec = json_object();
    if (cluster_update(req->cluster, version, spec,
                       api_query_bool(req, "rotateWorkerToken"),
                       api_query_bool(req, "rotateManagerToken"),
                       api_query_bool(req, "rotateManagerUnlockKey"),
                       api_swarm_done, req, &err) != 0)
        api_reply_err(req, &err);
    json_decref(spec);
}

void api_swarm_unlockkey(struct api_req *req)
{
    struct err err;
    const struct store *s = cluster_manager_store(req->cluster, &err);
    const char *key;

    if (s == NULL) {
        api_reply_err(req, &err);
        return;
    }
    key = json_string_value(json_object_get(store_cluster(s), "_UnlockKey"));
    api_reply_json(req, 200,
                   json_pack("{s:s}", "UnlockKey", key ? key : ""));
}

void api_swarm_unlock(struct api_req *req)
{
    struct err err;
    json_t *body = NULL;
    json_t *key;

    err_clear(&err);
    if (api_body_json(req, &body, &err) != 0) {
        api_reply_err(req, &err);
        return;
    }
    key = json_object_get(body, "UnlockKey");
    if (body != NULL && !json_is_object(body)) {
        err_set(&err, ERR_INVALID, "json: cannot unmarshal value into Go "
                                   "value of type swarm.UnlockRequest");
    } else if (key != NULL && !json_is_string(key) && !json_is_null(key)) {
        err_set(&err, ERR_INVALID, "json: cannot unmarshal value into Go "
                                   "struct field UnlockRequest.UnlockKey of "
                                   "type string");
    } else if (cluster_unlock(req->cluster,
                              json_is_string(key) ? json_string_value(key)
                                                  : "",
                              &err) == 0) {
        json_decref(body);
        api_reply_empty(req, 200);
        return;
    }
    json_decref(body);
    api_reply_err(req, &err);
}

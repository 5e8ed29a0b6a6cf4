/* SPDX-License-Identifier: Apache-2.0 */
/* /networks: list and inspect (swarm-scoped networks from the store). */
#include <string.h>

#include "api/api_int.h"
#include "cluster/cluster.h"
#include "manager/store/store.h"

/* Swarm networks are visible on managers; an inactive node has none yet
 * (local networks belong to the engine). */
static const struct store *api_networks_store(const struct api_req *req)
{
    return cluster_is_manager(req->cluster)
               ? cluster_manager_store(req->cluster, NULL)
               : NULL;
}

void api_networks_list(struct api_req *req)
{
    static const char *const keys[] = {"dangling", "driver", "id", "label",
                                       "name", "scope", "type", NULL};
    const struct store *s = api_networks_store(req);
    struct err err;
    json_t *filters = api_filters_parse(req, keys, &err);
    json_t *out;
    const char *id;
    json_t *net;

    if (filters == NULL) {
        api_reply_err(req, &err);
        return;
    }
    out = json_array();
    if (s != NULL) {
        json_object_foreach(store_all(s, STORE_NETWORK), id, net) {
            const char *name = json_string_value(json_object_get(net, "Name"));
            json_t *nv = json_object_get(filters, "name");
            bool name_ok = json_array_size(nv) == 0;
            size_t i;
            json_t *w;

            /* Docker matches network names by substring. */
            json_array_foreach(nv, i, w) {
                if (strstr(name, json_string_value(w)) != NULL)
                    name_ok = true;
            }
            if (!name_ok || !api_filters_match_prefix(filters, "id", id) ||
                !api_filters_match(
                    filters, "driver",
                    json_string_value(json_object_get(net, "Driver"))) ||
                !api_filters_match(filters, "scope", "swarm") ||
                !api_filters_match(filters, "type", "custom") ||
                !api_filters_match_labels(filters, "label",
                                          json_object_get(net, "Labels")))
                continue;
            json_array_append_new(out, api_public_copy(net));
        }
    }
    json_decref(filters);
    api_reply_json(req, 200, out);
}

void api_networks_inspect(struct api_req *req)
{
    const struct store *s = api_networks_store(req);
    const char *ref = req->params[0];
    json_t *found = NULL;
    const char *id;
    json_t *net;
    size_t n = 0;

    if (s != NULL) {
        found = store_get(s, STORE_NETWORK, ref);
        if (found == NULL) {
            json_object_foreach(store_all(s, STORE_NETWORK), id, net) {
                const char *name =
                    json_string_value(json_object_get(net, "Name"));

                if (name != NULL && strcmp(name, ref) == 0) {
                    found = net;
                    n = 1;
                    break;
                }
            }
        } else {
            n = 1;
        }
        if (found == NULL) {
            json_object_foreach(store_all(s, STORE_NETWORK), id, net) {
                if (strncmp(id, ref, strlen(ref)) == 0) {
                    found = net;
                    n++;
                }
            }
        }
    }
    if (n == 0) {
        api_reply_error(req, ERR_NOTFOUND, "network %s not found", ref);
        return;
    }
    if (n > 1) {
        api_reply_error(req, ERR_INVALID,
                        "network %s is ambiguous (%zu matches found on ID)",
                        ref, n);
        return;
    }
    api_reply_json(req, 200, api_public_copy(found));
}

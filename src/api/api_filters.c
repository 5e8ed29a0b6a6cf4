/* SPDX-License-Identifier: Apache-2.0 */
/* Docker's `filters=` query parameter: parsing and matching. */
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "base/jfilter.h"

json_t *api_filters_parse(const struct api_req *req,
                          const char *const *allowed, struct err *err)
{
    char *raw = api_query_get(req, "filters");
    json_error_t jerr;
    json_t *in;
    json_t *out;
    const char *key;
    json_t *v;

    out = json_object();
    if (raw == NULL || raw[0] == '\0') {
        free(raw);
        return out;
    }
    in = json_loads(raw, 0, &jerr);
    free(raw);
    if (!json_is_object(in)) {
        json_decref(in);
        json_decref(out);
        err_set(err, ERR_INVALID, "invalid filter");
        return NULL;
    }
    json_object_foreach(in, key, v) {
        const char *const *a;
        json_t *vals = json_array();

        for (a = allowed; *a != NULL && strcmp(*a, key) != 0; a++)
            ;
        if (*a == NULL) {
            err_set(err, ERR_INVALID, "invalid filter '%s'", key);
            goto bad;
        }
        /* {"key": {"v": true}} (current) or {"key": ["v"]} (legacy) */
        if (json_is_object(v)) {
            const char *k2;
            json_t *b;

            json_object_foreach(v, k2, b) {
                if (!json_is_true(b))
                    continue;
                json_array_append_new(vals, json_string(k2));
            }
        } else if (json_is_array(v)) {
            size_t i;
            json_t *s;

            json_array_foreach(v, i, s) {
                if (!json_is_string(s)) {
                    err_set(err, ERR_INVALID, "invalid filter");
                    goto bad;
                }
                json_array_append(vals, s);
            }
        } else {
            err_set(err, ERR_INVALID, "invalid filter");
            goto bad;
        }
        json_object_set_new(out, key, vals);
        continue;
bad:
        json_decref(vals);
        json_decref(in);
        json_decref(out);
        return NULL;
    }
    json_decref(in);
    return out;
}

bool api_filters_match(const json_t *filters, const char *key, const char *v)
{
    return jfilter_any(filters, key, v, false);
}

bool api_filters_match_prefix(const json_t *filters, const char *key,
                              const char *v)
{
    return jfilter_any(filters, key, v, true);
}

bool api_filters_match_labels(const json_t *filters, const char *key,
                              const json_t *labels)
{
    return jfilter_labels(filters, key, labels);
}

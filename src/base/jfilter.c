/* SPDX-License-Identifier: Apache-2.0 */
/* Matching of parsed `filters=` values (see jfilter.h). */
#include <string.h>

#include "base/jfilter.h"

bool jfilter_any(const json_t *filters, const char *key, const char *v,
                 bool prefix)
{
    json_t *vals = json_object_get(filters, key);
    json_t *want;
    size_t i;

    if (json_array_size(vals) == 0)
        return true;
    if (v == NULL)
        return false;
    json_array_foreach(vals, i, want) {
        const char *w = json_string_value(want);

        if (w == NULL)
            continue;
        if (prefix ? strncmp(v, w, strlen(w)) == 0 : strcmp(v, w) == 0)
            return true;
    }
    return false;
}

bool jfilter_labels(const json_t *filters, const char *key,
                    const json_t *labels)
{
    json_t *want;
    size_t i;

    json_array_foreach(json_object_get(filters, key), i, want) {
        const char *w = json_string_value(want);
        const char *eq = w != NULL ? strchr(w, '=') : NULL;
        size_t n;
        const char *have;
        const char *k;
        json_t *lv;

        if (w == NULL)
            return false;
        if (eq == NULL) {
            if (json_object_get(labels, w) == NULL)
                return false;
            continue;
        }
        /* the label named by the text before '=' (no copy: compare the
         * keys of labels with it) */
        n = (size_t)(eq - w);
        have = NULL;
        json_object_foreach((json_t *)labels, k, lv) {
            if (strlen(k) == n && memcmp(k, w, n) == 0) {
                have = json_string_value(lv);
                break;
            }
        }
        if (have == NULL || strcmp(have, eq + 1) != 0)
            return false;
    }
    return true;
}

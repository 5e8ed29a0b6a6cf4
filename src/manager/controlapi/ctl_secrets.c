/* SPDX-License-Identifier: Apache-2.0 */
/* Secrets and configs: spec checks with swarmkit's texts, lookup, create,
 * label-only update, removal refused while a service uses them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/b64.h"
#include "base/ids.h"
#include "manager/controlapi/ctl.h"

#define CTL__RPC_INVALID "rpc error: code = InvalidArgument desc = "

/* "secret" or "config". */
static const char *ctl_secret_noun(enum store_kind k)
{
    return k == STORE_CONFIG ? "config" : "secret";
}

/* Largest payload + 1 (swarmkit's MaxSecretSize, MaxConfigSize). */
static size_t ctl_secret_max(enum store_kind k)
{
    return k == STORE_CONFIG ? CTL_CONFIG_MAX_SIZE : CTL_SECRET_MAX_SIZE;
}

static const char *ctl_secret_name(const json_t *obj)
{
    return json_string_value(
        json_object_get(json_object_get(obj, "Spec"), "Name"));
}

bool ctl_secret_name_is_valid(const char *name)
{
    size_t len = strlen(name);
    size_t i;

    if (len == 0 || len > 64)
        return false;
    for (i = 0; i < len; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     (c >= '0' && c <= '9');

        if (!alnum && ((c != '-' && c != '_' && c != '.') || i == 0 ||
                       i == len - 1))
            return false;
    }
    return true;
}

json_t *ctl_secret_lookup(const struct store *s, enum store_kind k,
                          const char *ref, struct err *err)
{
    json_t *all = store_all(s, k);
    json_t *obj;
    json_t *found = NULL;
    const char *id;
    size_t n = 0;
    size_t len = strlen(ref);

    if (len > 0 && (obj = json_object_get(all, ref)) != NULL)
        return obj;
    json_object_foreach(all, id, obj) {
        const char *name = ctl_secret_name(obj);

        if (name != NULL && strcmp(name, ref) == 0) {
            found = obj;
            n++;
        }
    }
    if (n == 0 && len > 0) {
        json_object_foreach(all, id, obj) {
            if (strncmp(id, ref, len) == 0) {
                found = obj;
                n++;
            }
        }
    }
    if (n == 1)
        return found;
    if (n == 0)
        err_set(err, ERR_NOTFOUND, "%s %s not found", ctl_secret_noun(k),
                ref);
    else
        err_set(err, ERR_INVALID, "%s %s is ambiguous (%zu matches found)",
                ctl_secret_noun(k), ref, n);
    return NULL;
}

/* Types of the spec's members as Go's decoder checks them. */
static int ctl_secret_check_types(enum store_kind k, const json_t *spec,
                                  struct err *err)
{
    const char *type = k == STORE_CONFIG ? "swarm.ConfigSpec"
                                         : "swarm.SecretSpec";
    static const char *const strs[] = {"Name", "Data", NULL};
    json_t *labels;
    const char *key;
    json_t *v;
    size_t i;

    if (!json_is_object(spec))
        return err_set(err, ERR_INVALID,
                       "json: cannot unmarshal value into Go value of type "
                       "%s", type);
    for (i = 0; strs[i] != NULL; i++) {
        v = json_object_get(spec, strs[i]);
        if (v != NULL && !json_is_null(v) && !json_is_string(v))
            return err_set(err, ERR_INVALID,
                           "json: cannot unmarshal value into Go struct "
                           "field %s.%s of type %s", type + 6, strs[i],
                           strcmp(strs[i], "Data") == 0 ? "[]uint8"
                                                        : "string");
    }
    labels = json_object_get(spec, "Labels");
    if (labels != NULL && !json_is_null(labels) && !json_is_object(labels))
        return err_set(err, ERR_INVALID,
                       "json: cannot unmarshal value into Go struct field "
                       "%s.Labels of type map[string]string", type + 6);
    json_object_foreach(labels, key, v) {
        if (!json_is_string(v))
            return err_set(err, ERR_INVALID,
                           "json: cannot unmarshal value into Go struct "
                           "field %s.Labels of type string", type + 6);
    }
    return 0;
}

/* Decoded size of Spec.Data (0 when absent), or -1 with err (bad
 * base64, Go's text). */
static long ctl_secret_data_size(const json_t *spec, size_t max,
                                 struct err *err)
{
    const char *text = json_string_value(json_object_get(spec, "Data"));
    unsigned char *data;
    size_t len;
    size_t n;
    size_t bad;

    if (text == NULL)
        return 0;
    len = strlen(text);
    /* Far too long: no need to decode it to know. */
    if (len / 4 * 3 > max + 8)
        return (long)max;
    if (b64_decode(text, len, &data, &n, &bad) != 0) {
        err_set(err, ERR_INVALID, "illegal base64 data at input byte %zu",
                bad);
        return -1;
    }
    free(data);
    return (long)n;
}

/* A driver or templating driver: shoal has no plugins to run them. */
static int ctl_secret_check_drivers(enum store_kind k, const json_t *spec,
                                    struct err *err)
{
    json_t *driver = json_object_get(spec, "Driver");
    json_t *tmpl = json_object_get(spec, "Templating");
    const char *name;

    if (driver != NULL && !json_is_null(driver)) {
        name = json_string_value(json_object_get(driver, "Name"));
        if (name == NULL || name[0] == '\0')
            return err_set(err, ERR_INVALID,
                           CTL__RPC_INVALID "%s driver must have a name",
                           ctl_secret_noun(k));
        return err_set(err, ERR_INVALID,
                       CTL__RPC_INVALID "%s drivers are not supported by "
                       "shoal (driver \"%s\")", ctl_secret_noun(k), name);
    }
    if (tmpl != NULL && !json_is_null(tmpl)) {
        name = json_string_value(json_object_get(tmpl, "Name"));
        return err_set(err, ERR_INVALID,
                       CTL__RPC_INVALID "templating is not supported by "
                       "shoal (templating driver \"%s\")",
                       name ? name : "");
    }
    return 0;
}

int ctl_secret_spec_check(enum store_kind k, const json_t *spec,
                          struct err *err)
{
    const char *name;
    size_t max = ctl_secret_max(k);
    long size;

    if (ctl_secret_check_types(k, spec, err) != 0)
        return -err->code;
    name = json_string_value(json_object_get(spec, "Name"));
    if (name == NULL || name[0] == '\0')
        return err_set(err, ERR_INVALID, CTL__RPC_INVALID
                       "name must be provided");
    if (!ctl_secret_name_is_valid(name))
        return err_set(err, ERR_INVALID, CTL__RPC_INVALID
                       "invalid name, only 64 [a-zA-Z0-9-_.] characters "
                       "allowed, and the start and end character must be "
                       "[a-zA-Z0-9]");
    if (ctl_secret_check_drivers(k, spec, err) != 0)
        return -err->code;
    size = ctl_secret_data_size(spec, max, err);
    if (size < 0)
        return -err->code;
    if (size == 0 || (size_t)size >= max)
        return err_set(err, ERR_INVALID, CTL__RPC_INVALID
                       "%s data must be larger than 0 and less than %zu "
                       "bytes", ctl_secret_noun(k), max);
    return 0;
}

json_t *ctl_secret_create(const struct store *s, enum store_kind k,
                          const json_t *spec, struct err *err)
{
    const char *name;
    const char *id;
    json_t *obj;
    json_t *labels;
    char new_id[IDS_LEN + 1];

    if (ctl_secret_spec_check(k, spec, err) != 0)
        return NULL;
    name = json_string_value(json_object_get(spec, "Name"));
    json_object_foreach(store_all(s, k), id, obj) {
        const char *other = ctl_secret_name(obj);

        if (other != NULL && strcmp(other, name) == 0) {
            err_set(err, ERR_CONFLICT,
                    "rpc error: code = AlreadyExists desc = %s %s already "
                    "exists", ctl_secret_noun(k), name);
            return NULL;
        }
    }
    ids_new(new_id);
    labels = json_object_get(spec, "Labels");
    obj = json_pack("{s:s, s:{s:s, s:o, s:O}}", "ID", new_id, "Spec",
                    "Name", name, "Labels",
                    json_is_object(labels) ? json_deep_copy(labels)
                                           : json_object(),
                    "Data", json_object_get(spec, "Data"));
    return store_action_create(k, obj);
}

json_t *ctl_secret_update(const struct store *s, enum store_kind k,
                          const char *ref, uint64_t version,
                          const json_t *spec, struct err *err)
{
    json_t *cur = ctl_secret_lookup(s, k, ref, err);
    json_t *next;
    json_t *labels;
    json_t *data;
    const char *name;

    if (cur == NULL)
        return NULL;
    if (ctl_secret_check_types(k, spec, err) != 0)
        return NULL;
    name = json_string_value(json_object_get(spec, "Name"));
    data = json_object_get(spec, "Data");
    /* swarmkit: the name must stay, and data, when given, be the same. */
    if (name == NULL || strcmp(name, ctl_secret_name(cur)) != 0 ||
        (json_is_string(data) && json_string_length(data) > 0 &&
         !json_equal(data, json_object_get(json_object_get(cur, "Spec"),
                                           "Data")))) {
        err_set(err, ERR_INVALID,
                CTL__RPC_INVALID "only updates to Labels are allowed");
        return NULL;
    }
    if (version != store_obj_version(cur)) {
        err_set(err, ERR_INTERNAL,
                "rpc error: code = Unknown desc = update out of sequence");
        return NULL;
    }
    next = json_deep_copy(cur);
    labels = json_object_get(spec, "Labels");
    json_object_set_new(json_object_get(next, "Spec"), "Labels",
                        json_is_object(labels) ? json_deep_copy(labels)
                                               : json_object());
    return store_action_update(k, next, version);
}

/* Does service reference the secret (config) id? */
static bool ctl_secret_service_uses(const json_t *service, enum store_kind k,
                                    const char *id)
{
    json_t *cs = json_object_get(
        json_object_get(json_object_get(service, "Spec"), "TaskTemplate"),
        "ContainerSpec");
    json_t *refs = json_object_get(cs, k == STORE_CONFIG ? "Configs"
                                                         : "Secrets");
    const char *key = k == STORE_CONFIG ? "ConfigID" : "SecretID";
    json_t *r;
    size_t i;

    json_array_foreach(refs, i, r) {
        const char *rid = json_string_value(json_object_get(r, key));

        if (rid != NULL && strcmp(rid, id) == 0)
            return true;
    }
    return false;
}

json_t *ctl_secret_remove(const struct store *s, enum store_kind k,
                          const char *ref, struct err *err)
{
    json_t *cur = ctl_secret_lookup(s, k, ref, err);
    const char *id;
    const char *sid;
    json_t *svc;
    char names[200];
    size_t n = 0;
    size_t used = 0;

    if (cur == NULL)
        return NULL;
    id = store_obj_id(cur);
    names[0] = '\0';
    json_object_foreach(store_all(s, STORE_SERVICE), sid, svc) {
        const char *sname = json_string_value(
            json_object_get(json_object_get(svc, "Spec"), "Name"));
        int w;

        if (!ctl_secret_service_uses(svc, k, id))
            continue;
        w = snprintf(names + used, sizeof(names) - used, "%s%s",
                     n > 0 ? ", " : "", sname ? sname : sid);
        if (w > 0 && (size_t)w < sizeof(names) - used)
            used += (size_t)w;
        n++;
    }
    if (n > 0) {
        err_set(err, ERR_INVALID,
                CTL__RPC_INVALID "%s '%s' is in use by the following "
                "%s: %s", ctl_secret_noun(k), ctl_secret_name(cur),
                n == 1 ? "service" : "services", names);
        return NULL;
    }
    return store_action_delete(k, id);
}

/* swarmkit's form of the references of one kind (k) of the ContainerSpec
 * cs: an ID and a name each, a target (a config's may be Runtime), file
 * names given and not shared. */
static int ctl_secret_refs_form(enum store_kind k, const json_t *cs,
                                struct err *err)
{
    const bool cfg = k == STORE_CONFIG;
    const char *noun = ctl_secret_noun(k);
    json_t *refs = json_object_get(cs, cfg ? "Configs" : "Secrets");
    json_t *r;
    size_t i;
    size_t j;

    json_array_foreach(refs, i, r) {
        const char *id = json_string_value(
            json_object_get(r, cfg ? "ConfigID" : "SecretID"));
        const char *name = json_string_value(
            json_object_get(r, cfg ? "ConfigName" : "SecretName"));
        const json_t *file = json_object_get(r, "File");
        const char *fname = json_string_value(json_object_get(file, "Name"));

        if (id == NULL || id[0] == '\0' || name == NULL || name[0] == '\0')
            return err_set(err, ERR_INVALID,
                           CTL__RPC_INVALID "malformed %s reference", noun);
        if (!json_is_object(file)) {
            if (cfg && json_is_object(json_object_get(r, "Runtime")))
                continue;
            return err_set(err, ERR_INVALID, CTL__RPC_INVALID "malformed %s "
                           "reference, no target provided", noun);
        }
        if (fname == NULL || fname[0] == '\0')
            return err_set(err, ERR_INVALID, CTL__RPC_INVALID "malformed "
                           "file %s reference, invalid target file name "
                           "provided", noun);
        for (j = 0; j < i; j++) {
            const json_t *p = json_array_get(refs, j);
            const char *pf = json_string_value(
                json_object_get(json_object_get(p, "File"), "Name"));

            if (pf != NULL && strcmp(pf, fname) == 0)
                return err_set(err, ERR_INVALID, CTL__RPC_INVALID "%s "
                               "references '%s' and '%s' have a "
                               "conflicting target: '%s'", noun,
                               json_string_value(json_object_get(
                                   p, cfg ? "ConfigName" : "SecretName")),
                               name, fname);
        }
    }
    return 0;
}

/* The references of one kind (k) of the ContainerSpec cs. */
static int ctl_secret_refs_kind(const struct store *s, enum store_kind k,
                                const json_t *cs, struct err *err)
{
    const bool cfg = k == STORE_CONFIG;
    json_t *refs = json_object_get(cs, cfg ? "Configs" : "Secrets");
    json_t *all = store_all(s, k);
    char names[256];
    size_t used = 0;
    size_t n = 0;
    json_t *r;
    size_t i;

    names[0] = '\0';
    json_array_foreach(refs, i, r) {
        const char *id = json_string_value(
            json_object_get(r, cfg ? "ConfigID" : "SecretID"));
        const char *name = json_string_value(
            json_object_get(r, cfg ? "ConfigName" : "SecretName"));
        const json_t *obj = id != NULL ? json_object_get(all, id) : NULL;
        const char *have = obj != NULL ? ctl_secret_name(obj) : NULL;
        int w;

        if (have != NULL && name != NULL && strcmp(have, name) == 0)
            continue;
        w = snprintf(names + used, sizeof(names) - used, "%s%s",
                     n > 0 ? ", " : "", name != NULL ? name : "");
        if (w > 0 && (size_t)w < sizeof(names) - used)
            used += (size_t)w;
        n++;
    }
    if (n == 0)
        return 0;
    return err_set(err, ERR_INVALID, CTL__RPC_INVALID "%s%s not found: %s",
                   ctl_secret_noun(k), n == 1 ? "" : "s", names);
}

int ctl_secret_refs_check(const struct store *s, const json_t *service,
                          struct err *err)
{
    const json_t *cs = json_object_get(
        json_object_get(json_object_get(service, "Spec"), "TaskTemplate"),
        "ContainerSpec");

    if (ctl_secret_refs_form(STORE_SECRET, cs, err) != 0 ||
        ctl_secret_refs_form(STORE_CONFIG, cs, err) != 0 ||
        ctl_secret_refs_kind(s, STORE_SECRET, cs, err) != 0)
        return -err->code;
    return ctl_secret_refs_kind(s, STORE_CONFIG, cs, err);
}

json_t *ctl_secret_view(enum store_kind k, const json_t *obj)
{
    json_t *out = json_deep_copy(obj);
    const char *key;
    json_t *v;
    void *tmp;

    json_object_foreach_safe(out, tmp, key, v) {
        if (key[0] == '_')
            json_object_del(out, key);
    }
    if (k == STORE_SECRET)
        json_object_del(json_object_get(out, "Spec"), "Data");
    return out;
}

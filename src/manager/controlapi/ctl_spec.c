/* SPDX-License-Identifier: Apache-2.0 */
/* Swarm spec: defaults, validation and init-time merge. */
#include <string.h>

#include "manager/ca/ca.h"
#include "manager/controlapi/ctl.h"

json_t *ctl_spec_default(void)
{
    return json_pack(
        "{s:s, s:{}, s:{s:I}, s:{s:I, s:I, s:I, s:i, s:i}, s:{s:I},"
        " s:{s:I}, s:{}, s:{s:b}}",
        "Name", "default", "Labels",
        "Orchestration", "TaskHistoryRetentionLimit", (json_int_t)5,
        "Raft", "SnapshotInterval", (json_int_t)10000, "KeepOldSnapshots",
        (json_int_t)0, "LogEntriesForSlowFollowers", (json_int_t)500,
        "ElectionTick", 10, "HeartbeatTick", 1,
        "Dispatcher", "HeartbeatPeriod", (json_int_t)(5 * CTL_NS_PER_SEC),
        "CAConfig", "NodeCertExpiry", (json_int_t)CTL_DEFAULT_CERT_EXPIRY,
        "TaskDefaults", "EncryptionConfig", "AutoLockManagers", 0);
}

enum ctl_type { CTL_INT, CTL_UINT, CTL_BOOL, CTL_STR, CTL_OBJ, CTL_ARR };

static const struct
{
    const char *section; /* NULL for top level */
    const char *field;
    enum ctl_type type;
} ctl_spec_fields[] = {
    {NULL, "Name", CTL_STR},
    {NULL, "Labels", CTL_OBJ},
    {NULL, "Orchestration", CTL_OBJ},
    {NULL, "Raft", CTL_OBJ},
    {NULL, "Dispatcher", CTL_OBJ},
    {NULL, "CAConfig", CTL_OBJ},
    {NULL, "TaskDefaults", CTL_OBJ},
    {NULL, "EncryptionConfig", CTL_OBJ},
    {"Orchestration", "TaskHistoryRetentionLimit", CTL_INT},
    {"Raft", "SnapshotInterval", CTL_UINT},
    {"Raft", "KeepOldSnapshots", CTL_UINT},
    {"Raft", "LogEntriesForSlowFollowers", CTL_UINT},
    {"Raft", "ElectionTick", CTL_INT},
    {"Raft", "HeartbeatTick", CTL_INT},
    {"Dispatcher", "HeartbeatPeriod", CTL_INT},
    {"CAConfig", "NodeCertExpiry", CTL_INT},
    {"CAConfig", "ExternalCAs", CTL_ARR},
    {"CAConfig", "SigningCACert", CTL_STR},
    {"CAConfig", "SigningCAKey", CTL_STR},
    {"CAConfig", "ForceRotate", CTL_UINT},
    {"TaskDefaults", "LogDriver", CTL_OBJ},
    {"EncryptionConfig", "AutoLockManagers", CTL_BOOL},
};

static const char *const ctl_type_names[] = {
    "int64", "uint64", "bool", "string", "object", "array",
};

static bool ctl_type_ok(const json_t *v, enum ctl_type t)
{
    if (json_is_null(v))
        return true; /* Go decodes null as the zero value */
    switch (t) {
    case CTL_INT:
        return json_is_integer(v);
    case CTL_UINT:
        return json_is_integer(v) && json_integer_value(v) >= 0;
    case CTL_BOOL:
        return json_is_boolean(v);
    case CTL_STR:
        return json_is_string(v);
    case CTL_OBJ:
        return json_is_object(v);
    case CTL_ARR:
        return json_is_array(v);
    }
    return false;
}

int ctl_spec_validate(const json_t *spec, struct err *err)
{
    const char *key;
    json_t *v;
    size_t i;

    if (!json_is_object(spec))
        return err_set(err, ERR_INVALID,
                       "json: cannot unmarshal %s into Go value of type "
                       "swarm.Spec",
                       json_is_array(spec) ? "array" : "non-object");
    for (i = 0; i < sizeof(ctl_spec_fields) / sizeof(ctl_spec_fields[0]);
         i++) {
        const json_t *parent = spec;

        if (ctl_spec_fields[i].section != NULL)
            parent = json_object_get(spec, ctl_spec_fields[i].section);
        if (!json_is_object(parent))
            continue;
        v = json_object_get(parent, ctl_spec_fields[i].field);
        if (v != NULL && !ctl_type_ok(v, ctl_spec_fields[i].type))
            return err_set(err, ERR_INVALID,
                           "json: cannot unmarshal value into Go struct "
                           "field %s%s%s of type %s",
                           ctl_spec_fields[i].section
                               ? ctl_spec_fields[i].section
                               : "Spec",
                           ".", ctl_spec_fields[i].field,
                           ctl_type_names[ctl_spec_fields[i].type]);
    }
    json_object_foreach((json_t *)json_object_get(spec, "Labels"), key, v) {
        if (!json_is_string(v))
            return err_set(err, ERR_INVALID,
                           "json: cannot unmarshal value into Go struct "
                           "field Spec.Labels of type string");
    }
    v = json_object_get(json_object_get(spec, "CAConfig"), "NodeCertExpiry");
    if (json_is_integer(v) && json_integer_value(v) != 0 &&
        json_integer_value(v) <
            ca_node_cert_expiry_min() * CTL_NS_PER_SEC)
        return err_set(err, ERR_INVALID,
                       "rpc error: code = InvalidArgument desc = minimum "
                       "certificate expiry time is: 1h0m0s");
    /* shoal signs every certificate itself: an external CA would never
     * be asked (SWARM-FACTS 3.7), so it is refused rather than ignored. */
    if (json_array_size(json_object_get(json_object_get(spec, "CAConfig"),
                                        "ExternalCAs")) > 0)
        return err_set(err, ERR_INVALID,
                       "rpc error: code = InvalidArgument desc = external "
                       "CAs are not supported: shoal signs node "
                       "certificates with the swarm's own root CA (bring "
                       "your own root with --ca-cert and --ca-key)");
    v = json_object_get(json_object_get(spec, "Dispatcher"),
                        "HeartbeatPeriod");
    if (json_is_integer(v) && json_integer_value(v) < 0)
        return err_set(err, ERR_INVALID,
                       "rpc error: code = InvalidArgument desc = heartbeat "
                       "period must be positive");
    return 0;
}

static bool ctl_is_zero(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_NULL:
    case JSON_FALSE:
        return true;
    case JSON_INTEGER:
        return json_integer_value(v) == 0;
    case JSON_STRING:
        return json_string_length(v) == 0;
    case JSON_OBJECT:
        return json_object_size(v) == 0;
    case JSON_ARRAY:
        return json_array_size(v) == 0;
    default:
        return false;
    }
}

void ctl_spec_merge(json_t *spec, const json_t *given)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)given, key, v) {
        json_t *cur = json_object_get(spec, key);

        if (ctl_is_zero(v))
            continue;
        if (json_is_object(v) && json_is_object(cur) &&
            strcmp(key, "Labels") != 0) {
            ctl_spec_merge(cur, v);
            continue;
        }
        json_object_set_new(spec, key, json_deep_copy(v));
    }
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Capabilities: Docker's default set, CapAdd/CapDrop ("ALL" too, names
 * with or without CAP_, any case), everything for privileged. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/mem.h"
#include "engine/oci_spec_int.h"

/* Indexed by capability number (linux/capability.h). */
static const char *const oci_spec_caps_names[] = {
    "CAP_CHOWN",           "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",          "CAP_FSETID",         "CAP_KILL",
    "CAP_SETGID",          "CAP_SETUID",         "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",       "CAP_NET_RAW",        "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",       "CAP_SYS_MODULE",     "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",     "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",       "CAP_SYS_BOOT",       "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",       "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",           "CAP_LEASE",          "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",        "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",       "CAP_SYSLOG",         "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",     "CAP_PERFMON",
    "CAP_BPF",             "CAP_CHECKPOINT_RESTORE",
};
#define OCI_SPEC_CAPS__N \
    (sizeof(oci_spec_caps_names) / sizeof(oci_spec_caps_names[0]))

/* The 14 capabilities Docker grants (oci/caps/defaults.go's order). */
static const char *const oci_spec_caps_default[] = {
    "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",
    "CAP_FOWNER", "CAP_MKNOD",        "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID",       "CAP_SETFCAP",
    "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",   "CAP_AUDIT_WRITE",  NULL,
};

/* The number of capabilities this kernel knows. */
static size_t oci_spec_caps_count(void)
{
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
    long last = -1;

    if (f == NULL)
        return OCI_SPEC_CAPS__N;
    if (fscanf(f, "%ld", &last) != 1)
        last = -1;
    fclose(f);
    if (last < 0 || (size_t)last + 1 > OCI_SPEC_CAPS__N)
        return OCI_SPEC_CAPS__N;
    return (size_t)last + 1;
}

static bool oci_spec_caps_has(const json_t *list, const char *cap)
{
    const json_t *v;
    size_t i;

    json_array_foreach(list, i, v) {
        if (strcmp(json_string_value(v), cap) == 0)
            return true;
    }
    return false;
}

/* CapAdd or CapDrop: "CAP_X" names (upper case, prefixed) or "ALL", each
 * known to this kernel. New reference in *out. */
static int oci_spec_caps_normalize(const json_t *hc, const char *key,
                                   size_t n_known, json_t **out,
                                   struct err *err)
{
    const json_t *in;
    const json_t *v;
    json_t *list;
    size_t i;
    size_t k;

    *out = NULL;
    if (oci_spec_get_strv(hc, key, &in, err) < 0)
        return -ERR_INVALID;
    list = json_array();
    json_array_foreach(in, i, v) {
        const char *s = json_string_value(v);
        char name[64];
        size_t n = 0;
        bool known = false;

        if (strncasecmp(s, "CAP_", 4) != 0 && strcasecmp(s, "ALL") != 0)
            n = (size_t)snprintf(name, sizeof(name), "CAP_");
        snprintf(name + n, sizeof(name) - n, "%s", s);
        for (k = 0; name[k] != '\0'; k++)
            name[k] = (char)toupper((unsigned char)name[k]);
        if (strcmp(name, "ALL") == 0)
            known = true;
        for (k = 0; !known && k < n_known; k++)
            known = strcmp(name, oci_spec_caps_names[k]) == 0;
        if (!known || strlen(s) + n >= sizeof(name)) {
            json_decref(list);
            return err_set(err, ERR_INVALID, "unknown capability: \"%s\"",
                           name);
        }
        if (!oci_spec_caps_has(list, name))
            json_array_append_new(list, json_string(name));
    }
    *out = list;
    return 0;
}

json_t *oci_spec_caps_build(const json_t *hc, bool privileged,
                            struct err *err)
{
    size_t n_known = oci_spec_caps_count();
    json_t *add = NULL;
    json_t *drop = NULL;
    json_t *caps;
    json_t *out;
    const json_t *v;
    size_t i;

    if (oci_spec_caps_normalize(hc, "CapAdd", n_known, &add, err) < 0 ||
        oci_spec_caps_normalize(hc, "CapDrop", n_known, &drop, err) < 0) {
        json_decref(add);
        return NULL;
    }
    caps = json_array();
    if (privileged || oci_spec_caps_has(add, "ALL")) {
        for (i = 0; i < n_known; i++) {
            if (privileged || !oci_spec_caps_has(drop, oci_spec_caps_names[i]))
                json_array_append_new(caps,
                                      json_string(oci_spec_caps_names[i]));
        }
    } else {
        if (!oci_spec_caps_has(drop, "ALL")) {
            for (i = 0; oci_spec_caps_default[i] != NULL; i++) {
                if (!oci_spec_caps_has(drop, oci_spec_caps_default[i]))
                    json_array_append_new(
                        caps, json_string(oci_spec_caps_default[i]));
            }
        }
        json_array_foreach(add, i, v) {
            if (!oci_spec_caps_has(caps, json_string_value(v)))
                json_array_append(caps, (json_t *)v);
        }
    }
    json_decref(add);
    json_decref(drop);
    out = json_object();
    json_object_set_new(out, "bounding", json_deep_copy(caps));
    json_object_set_new(out, "effective", json_deep_copy(caps));
    json_object_set_new(out, "permitted", caps);
    return out;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside the OCI spec builder: field access over the Engine API JSON,
 * users (oci_spec_user.c), capabilities (oci_spec_caps.c), mounts and the
 * /etc files (oci_spec_mounts.c), the linux section and the validation of
 * HostConfig (oci_spec_linux.c).
 */
#ifndef SHOAL_ENGINE_OCI_SPEC_INT_H
#define SHOAL_ENGINE_OCI_SPEC_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "base/err.h"

/* Docker's PATH when the image sets none. */
#define OCI_SPEC_DEFAULT_PATH \
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* Where Debian's tini-static is, bound at /sbin/docker-init for Init. */
#define OCI_SPEC_INIT_SOURCE "/usr/bin/tini-static"
#define OCI_SPEC_INIT_PATH "/sbin/docker-init"

/* Field access (oci_spec.c). obj may be NULL; a missing or null field
 * reads as NULL / 0 / false. A field of the wrong type is an error. */
int oci_spec_get_str(const json_t *obj, const char *key, const char **out,
                     struct err *err);
int oci_spec_get_int(const json_t *obj, const char *key, int64_t *out,
                     struct err *err);
bool oci_spec_get_bool(const json_t *obj, const char *key);
/* An array of strings, or NULL when missing/null (borrowed). */
int oci_spec_get_strv(const json_t *obj, const char *key,
                      const json_t **out, struct err *err);
/* A JSON array of strings from a NULL-terminated list (new reference). */
json_t *oci_spec_strv(const char *const *v);

/* The process "user" object (new reference) for user ("", "uid",
 * "uid:gid", "name", "name:group") looked up in rootfs's /etc/passwd and
 * /etc/group (rootfs may be NULL: numeric ids only), with group_add
 * (HostConfig.GroupAdd, may be NULL) among additionalGids. */
json_t *oci_spec_user_resolve(const char *rootfs, const char *user,
                              const json_t *group_add, struct err *err);

/* The process "capabilities" object (new reference): Docker's default
 * set adjusted by HostConfig CapAdd and CapDrop, or every capability of
 * this kernel when privileged. */
json_t *oci_spec_caps_build(const json_t *hc, bool privileged,
                            struct err *err);

/* Append the mounts to spec["mounts"] and write cdir/{resolv.conf,
 * hostname,hosts}. host_net: the container shares the host's network. */
int oci_spec_mounts_build(json_t *spec, const json_t *ctr, const char *cdir,
                          const char *hostname, bool host_net,
                          struct err *err);

/* Docker's checks of HostConfig (resources, modes) before anything else. */
int oci_spec_linux_validate(const json_t *hc, struct err *err);
/* The "linux" object (new reference) for container id. */
json_t *oci_spec_linux_build(const json_t *hc, const char *id,
                             struct err *err);
/* The process rlimits (new reference): Docker's RLIMIT_NOFILE, then
 * HostConfig.Ulimits. */
json_t *oci_spec_linux_rlimits(const json_t *hc, struct err *err);
/* Whether a namespace mode ("host", "", "private", "container:<id>")
 * shares the host's namespace; container:<id> is refused. */
int oci_spec_linux_ns_mode(const char *what, const char *mode,
                           bool *out_host, struct err *err);

#endif

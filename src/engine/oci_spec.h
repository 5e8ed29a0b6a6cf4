/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OCI bundle of a container: config.json made from the container as
 * the Engine API shows it (Config, HostConfig, Name, Id) merged with its
 * image config, and its root filesystem (overlayfs of the image layers
 * plus the container's own upper directory).
 */
#ifndef SHOAL_ENGINE_OCI_SPEC_H
#define SHOAL_ENGINE_OCI_SPEC_H

#include <jansson.h>

#include "base/err.h"

/* The OCI runtime spec (new reference) for container ctr (an object with
 * "Id", "Name", "Config", "HostConfig" as in GET /containers/{id}/json),
 * running on rootfs. Docker's defaults: namespaces, capabilities,
 * masked/readonly paths, /dev, /proc, /sys, /dev/shm, mqueue, cgroup
 * mounts, hostname, resolv.conf/hosts/hostname files under cdir.
 * Refuses invalid specs (ERR_INVALID, Docker's texts). */
json_t *oci_spec_build(const json_t *ctr, const json_t *image_config,
                       const char *rootfs, const char *cdir, struct err *err);

/* The OCI "process" object for an exec (ExecConfig body of
 * POST /containers/{id}/exec), with the container's env and user. */
json_t *oci_spec_exec_process(const json_t *ctr, const json_t *exec_config,
                              struct err *err);

/* Mount the overlay (lower dirs lowest first) at <cdir>/rootfs with
 * upper/work dirs under upper_root (created). */
int rootfs_mount(const char *cdir, char *const *lower_dirs,
                 const char *upper_root, struct err *err);
int rootfs_unmount(const char *cdir, struct err *err);

#endif

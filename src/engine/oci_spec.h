/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OCI bundle's config.json of a container, made from the container as
 * the Engine API shows it (Config, HostConfig, Name, Id) merged with its
 * image config, with Docker's defaults. The root filesystem itself is
 * engine/rootfs.h. No seccomp profile is set (Docker sets its default
 * one) and no AppArmor profile.
 */
#ifndef SHOAL_ENGINE_OCI_SPEC_H
#define SHOAL_ENGINE_OCI_SPEC_H

#include <jansson.h>

#include "base/err.h"

/* The Config of a new container (new reference) as Docker stores it at
 * create: the request's Config (borrowed) merged with the image config
 * (the image store's document {"config": {...}}, borrowed, may be NULL):
 * Env merged (the container's value wins for a key), Cmd and Entrypoint
 * by Docker's rules (a container Entrypoint drops the image's Cmd),
 * WorkingDir, User, Labels, StopSignal... from the image when unset.
 * oci_spec_build merges again; merging twice changes nothing. */
json_t *oci_spec_merge_config(const json_t *config, const json_t *image_config);

/* The OCI runtime spec (new reference) for container ctr (an object with
 * "Id", "Name", "Config", "HostConfig" as in GET /containers/{id}/json;
 * "NetworkSettings.IPAddress", when set, is the address of the hostname
 * in /etc/hosts), running on rootfs (the mounted overlay: user names are
 * looked up in its /etc/passwd and /etc/group). Docker's defaults:
 * namespaces, capabilities, masked/readonly paths, /dev, /proc, /sys,
 * /dev/shm, mqueue, cgroup mounts, hostname, and the files resolv.conf,
 * hostname and hosts, written into cdir and bind-mounted. Missing
 * source directories of HostConfig.Binds are created, as Docker does.
 * Refuses invalid settings with ERR_INVALID and Docker's texts (volumes
 * and container:<id> namespaces: ERR_NOTIMPLEMENTED). */
json_t *oci_spec_build(const json_t *ctr, const json_t *image_config,
                       const char *rootfs, const char *cdir, struct err *err);

/* The OCI "process" object (new reference) for an exec (ExecConfig body
 * of POST /containers/{id}/exec: Cmd, Env, User, WorkingDir, Tty,
 * Privileged) in container ctr (as for oci_spec_build, its Config already
 * merged with the image's): the container's env plus the exec's, its
 * user and capabilities. A user name is looked up in the container's
 * root, ctr's "GraphDriver.Data.MergedDir" as Docker's inspect shows it.
 * No Cmd: ERR_INVALID "No exec command specified". */
json_t *oci_spec_exec_process(const json_t *ctr, const json_t *exec_config,
                              struct err *err);

/* Docker's check of a mount's Target (type only names it in the texts):
 * set and absolute, else ERR_INVALID "invalid mount config for type ...".
 * Shared by the checks at create and the spec build. */
int oci_spec_mounts_check_target(const char *type, const char *t,
                                 struct err *err);

#endif

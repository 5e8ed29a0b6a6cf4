/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The root filesystem of a container: overlayfs of the image layers (read
 * only) with the container's own upper directory, mounted at
 * <cdir>/rootfs. Any number of layers up to Docker's 128, however long
 * their paths.
 */
#ifndef SHOAL_ENGINE_ROOTFS_H
#define SHOAL_ENGINE_ROOTFS_H

#include "base/err.h"

/* Mount the overlay at <cdir>/rootfs (created): lower_dirs is a
 * NULL-terminated list of layer directories, lowest first (an empty list
 * gives an empty root); upper_root/diff and upper_root/work are created.
 * Already mounted there: 0, nothing done. */
int rootfs_mount(const char *cdir, char *const *lower_dirs,
                 const char *upper_root, struct err *err);

/* Unmount <cdir>/rootfs (lazily when busy). Not mounted, or no such
 * directory: 0. */
int rootfs_unmount(const char *cdir, struct err *err);

#endif

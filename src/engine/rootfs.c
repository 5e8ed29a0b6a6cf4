/* SPDX-License-Identifier: Apache-2.0 */
/* The container's overlay root. The mount option string is limited to a
 * page: when the layers' absolute paths do not fit, each layer is opened
 * and named by its short /proc/self/fd/<n> path instead (overlayfs
 * resolves the names at mount time; the descriptors are closed after). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fsutil.h"
#include "base/mem.h"
#include "engine/rootfs.h"

/* Docker's limit on layers; the kernel's on the option string. */
#define ROOTFS__MAX_LAYERS 128
#define ROOTFS__OPT_MAX 4000
#define ROOTFS__UNMOUNT_TRIES 16

/* Whether path is a mount point (its device differs from its parent's,
 * or it is the same directory as its parent). */
static bool rootfs_is_mounted(const char *path)
{
    struct stat st;
    struct stat parent;
    char *up = xasprintf("%s/..", path);
    bool mounted = false;

    if (stat(path, &st) == 0 && stat(up, &parent) == 0)
        mounted = st.st_dev != parent.st_dev || st.st_ino == parent.st_ino;
    free(up);
    return mounted;
}

/* "lowerdir=<top>:...:<bottom>,upperdir=..,workdir=.." with each lower
 * named by name(i). */
static int rootfs_options(struct buf *b, char *const *names, size_t n,
                          const char *upper, const char *work)
{
    size_t i;
    int rv;

    rv = buf_puts(b, "lowerdir=");
    for (i = n; rv == 0 && i > 0; i--)
        rv = buf_printf(b, "%s%s", names[i - 1], i > 1 ? ":" : "");
    if (rv == 0)
        rv = buf_printf(b, ",upperdir=%s,workdir=%s", upper, work);
    return rv;
}

static int rootfs_check_dir(const char *dir, struct err *err)
{
    struct stat st;

    if (dir[0] != '/' || strpbrk(dir, ":,") != NULL)
        return err_set(err, ERR_INVALID, "invalid layer directory %s", dir);
    if (stat(dir, &st) == -1)
        return err_sys(err, ERR_IO, errno, "layer %s", dir);
    if (!S_ISDIR(st.st_mode))
        return err_set(err, ERR_IO, "layer %s: not a directory", dir);
    return 0;
}

int rootfs_mount(const char *cdir, char *const *lower_dirs,
                 const char *upper_root, struct err *err)
{
    char *target = xasprintf("%s/rootfs", cdir);
    char *upper = xasprintf("%s/diff", upper_root);
    char *work = xasprintf("%s/work", upper_root);
    char *empty = xasprintf("%s/empty", upper_root);
    char *one[2] = {empty, NULL};
    char *const *lowers = one;
    char *fd_names[ROOTFS__MAX_LAYERS];
    int fds[ROOTFS__MAX_LAYERS];
    size_t n = 0;
    size_t n_fds = 0;
    size_t i;
    struct buf opts;
    int rv;

    buf_init(&opts, ROOTFS__OPT_MAX);
    if (rootfs_is_mounted(target)) {
        rv = 0;
        goto out;
    }
    rv = fsutil_mkdir_p(target, 0755, err);
    if (rv == 0)
        rv = fsutil_mkdir_p(upper, 0755, err);
    if (rv == 0)
        rv = fsutil_mkdir_p(work, 0700, err);
    if (rv < 0)
        goto out;
    /* No layer at all: an empty directory stands in for the image. */
    if (lower_dirs != NULL && lower_dirs[0] != NULL) {
        lowers = lower_dirs;
    } else {
        rv = fsutil_mkdir_p(empty, 0755, err);
        if (rv < 0)
            goto out;
    }
    while (lowers[n] != NULL)
        n++;
    if (n > ROOTFS__MAX_LAYERS) {
        rv = err_set(err, ERR_INVALID,
                     "max depth exceeded: %zu layers (at most %d)", n,
                     ROOTFS__MAX_LAYERS);
        goto out;
    }
    for (i = 0; i < n; i++) {
        rv = rootfs_check_dir(lowers[i], err);
        if (rv < 0)
            goto out;
    }
    if (rootfs_options(&opts, lowers, n, upper, work) < 0) {
        buf_reset(&opts);
        for (i = 0; i < n; i++) {
            fds[i] = open(lowers[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (fds[i] == -1) {
                rv = err_sys(err, ERR_IO, errno, "open layer %s", lowers[i]);
                goto out;
            }
            fd_names[i] = xasprintf("/proc/self/fd/%d", fds[i]);
            n_fds++;
        }
        if (rootfs_options(&opts, fd_names, n, upper, work) < 0) {
            rv = err_set(err, ERR_INVALID,
                         "overlay mount options for %zu layers are too "
                         "long",
                         n);
            goto out;
        }
    }
    if (mount("overlay", target, "overlay", 0, opts.data) == -1) {
        rv = err_sys(err, ERR_IO, errno, "mount overlay on %s", target);
        goto out;
    }
    rv = 0;

out:
    for (i = 0; i < n_fds; i++) {
        close(fds[i]);
        free(fd_names[i]);
    }
    buf_release(&opts);
    free(empty);
    free(work);
    free(upper);
    free(target);
    return rv;
}

int rootfs_unmount(const char *cdir, struct err *err)
{
    char *target = xasprintf("%s/rootfs", cdir);
    int tries;
    int rv = 0;

    /* Stacked mounts come off one at a time. */
    for (tries = 0; tries < ROOTFS__UNMOUNT_TRIES; tries++) {
        if (umount2(target, UMOUNT_NOFOLLOW) == 0)
            continue;
        if (errno == EBUSY && umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) ==
                                  0)
            continue;
        if (errno != EINVAL && errno != ENOENT)
            rv = err_sys(err, ERR_IO, errno, "unmount %s", target);
        break;
    }
    if (rv == 0 && tries == ROOTFS__UNMOUNT_TRIES)
        rv = err_set(err, ERR_IO, "unmount %s: still mounted", target);
    free(target);
    return rv;
}

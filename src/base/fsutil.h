/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Files: atomic replace (write tmp, fsync, rename, fsync dir; or without
 * the fsyncs), capped whole file reads, mkdir -p, emptying a directory
 * tree, openat2.
 */
#ifndef SHOAL_BASE_FSUTIL_H
#define SHOAL_BASE_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"

/* fsutil_write_atomic_ex flags. */
enum
{
    /* The file is synced, its directory not: the caller groups several
     * replaces in one directory under one fsutil_fsync_dir. */
    FSUTIL_NO_DIR_SYNC = 1u << 0,
    /* Atomic, not durable: no fsync at all (files regenerated from
     * durable state, or whose loss in a machine crash loses nothing). */
    FSUTIL_NO_SYNC = 1u << 1,
    /* With FSUTIL_NO_SYNC: start writing the data out now (Linux's
     * sync_file_range), so that the caller's later fsyncs of several
     * such files are served by one journal commit, not one each. */
    FSUTIL_WRITEBACK = 1u << 2,
};

/* Write data to path atomically with the given mode, durably (the file,
 * then its directory, fsynced). 0 or -ERR_IO. */
int fsutil_write_atomic(const char *path, const void *data, size_t len,
                        mode_t mode, struct err *err);

/* fsutil_write_atomic with FSUTIL_* flags. */
int fsutil_write_atomic_ex(const char *path, const void *data, size_t len,
                           mode_t mode, unsigned flags, struct err *err);

/* fsync the directory dir (a rename in it made durable). 0 or -ERR_IO. */
int fsutil_fsync_dir(const char *dir, struct err *err);

/* fsync the file at path (written with FSUTIL_NO_SYNC: several files
 * written first, then made durable together). 0 or -ERR_IO. */
int fsutil_fsync_file(const char *path, struct err *err);

/* rename(from, to), then fsync to's directory: a file made durable under
 * a temporary name appears durably under its own. 0 or -ERR_IO. */
int fsutil_rename_durable(const char *from, const char *to, struct err *err);

/* Read the whole file (at most max bytes, else -ERR_TOOBIG). On 0, *out is
 * a NUL-terminated malloc'd buffer owned by the caller. ENOENT gives
 * -ERR_NOTFOUND. */
int fsutil_read_all(const char *path, size_t max, char **out, size_t *out_len,
                    struct err *err);

/* mkdir -p with mode for each created component. */
int fsutil_mkdir_p(const char *path, mode_t mode, struct err *err);

/* Remove everything inside dir (not dir itself). Missing dir is fine. */
int fsutil_empty_dir(const char *dir, struct err *err);

bool fsutil_exists(const char *path);

/* openat2(dirfd, path, {flags | O_CLOEXEC, mode, resolve}): fd or -1 with
 * errno. Where the kernel (before 5.6) or valgrind (before 3.20) lacks the
 * call, two uses are done in user space, no looser: RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS on a single component, and RESOLVE_IN_ROOT (with
 * RESOLVE_NO_MAGICLINKS, RESOLVE_NO_XDEV; no O_CREAT) by resolving the
 * path lexically under dirfd, then opening it with O_NOFOLLOW at each
 * component (no mount check). Anything else fails with ENOSYS. */
int fsutil_openat2(int dirfd, const char *path, int flags, mode_t mode,
                   uint64_t resolve);

#ifdef SHOAL_TESTING
/* Test builds: behave as if openat2 were missing (on) or present. */
void fsutil_testing_no_openat2(bool on);
#endif

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* File helpers with durable atomic replace. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/mem.h"

#define FSUTIL__PATH 4096

/* Set once openat2 answered ENOSYS: every later call goes straight to the
 * user space walk (the pool threads call fsutil_openat2 too). */
static atomic_bool fsutil__no_openat2;

static int fsutil_fsync_open(const char *path, int flags, struct err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | flags);

    if (fd == -1)
        return err_sys(err, ERR_IO, errno, "open %s", path);
    if (fsync(fd) == -1) {
        int e = errno;

        close(fd);
        return err_sys(err, ERR_IO, e, "fsync %s", path);
    }
    close(fd);
    return 0;
}

int fsutil_fsync_dir(const char *dir, struct err *err)
{
    return fsutil_fsync_open(dir, O_DIRECTORY, err);
}

int fsutil_fsync_file(const char *path, struct err *err)
{
    return fsutil_fsync_open(path, O_NOFOLLOW, err);
}

static int fsutil_fsync_parent(const char *path, struct err *err)
{
    char dir[PATH_MAX];
    char *slash;

    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    return fsutil_fsync_dir(dir, err);
}

int fsutil_write_atomic(const char *path, const void *data, size_t len,
                        mode_t mode, struct err *err)
{
    return fsutil_write_atomic_ex(path, data, len, mode, 0, err);
}

int fsutil_rename_durable(const char *from, const char *to, struct err *err)
{
    if (rename(from, to) == -1)
        return err_sys(err, ERR_IO, errno, "rename %s", to);
    return fsutil_fsync_parent(to, err);
}

int fsutil_write_atomic_ex(const char *path, const void *data, size_t len,
                           mode_t mode, unsigned flags, struct err *err)
{
    char tmp[PATH_MAX];
    const char *p = data;
    int fd;
    int e;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return err_set(err, ERR_IO, "path too long: %s", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd == -1)
        return err_sys(err, ERR_IO, errno, "create %s", tmp);
    if (fchmod(fd, mode) == -1)
        goto err_after_open;
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n == -1) {
            if (errno == EINTR)
                continue;
            goto err_after_open;
        }
        p += n;
        len -= (size_t)n;
    }
    if (!(flags & FSUTIL_NO_SYNC) && fsync(fd) == -1)
        goto err_after_open;
    /* Only a hint: the caller's fsync is what makes the data durable. */
    if ((flags & FSUTIL_NO_SYNC) && (flags & FSUTIL_WRITEBACK))
        (void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    if (close(fd) == -1) {
        e = errno;
        unlink(tmp);
        return err_sys(err, ERR_IO, e, "close %s", tmp);
    }
    if (rename(tmp, path) == -1) {
        e = errno;
        unlink(tmp);
        return err_sys(err, ERR_IO, e, "rename %s", path);
    }
    if (flags & (FSUTIL_NO_SYNC | FSUTIL_NO_DIR_SYNC))
        return 0;
    return fsutil_fsync_parent(path, err);

err_after_open:
    e = errno;
    close(fd);
    unlink(tmp);
    return err_sys(err, ERR_IO, e, "write %s", tmp);
}

int fsutil_read_all(const char *path, size_t max, char **out, size_t *out_len,
                    struct err *err)
{
    struct stat st;
    char *data;
    size_t len = 0;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        if (errno == ENOENT)
            return err_set(err, ERR_NOTFOUND, "%s: no such file", path);
        return err_sys(err, ERR_IO, errno, "open %s", path);
    }
    if (fstat(fd, &st) == -1) {
        int e = errno;

        close(fd);
        return err_sys(err, ERR_IO, e, "stat %s", path);
    }
    if ((size_t)st.st_size > max) {
        close(fd);
        return err_set(err, ERR_TOOBIG, "%s: larger than %zu bytes", path,
                       max);
    }
    data = xmalloc((size_t)st.st_size + 1);
    for (;;) {
        ssize_t n = read(fd, data + len, (size_t)st.st_size - len);

        if (n == -1) {
            int e = errno;

            if (e == EINTR)
                continue;
            free(data);
            close(fd);
            return err_sys(err, ERR_IO, e, "read %s", path);
        }
        if (n == 0 || len + (size_t)n == (size_t)st.st_size) {
            len += (size_t)n;
            break;
        }
        len += (size_t)n;
    }
    close(fd);
    data[len] = '\0';
    *out = data;
    if (out_len != NULL)
        *out_len = len;
    return 0;
}

int fsutil_mkdir_p(const char *path, mode_t mode, struct err *err)
{
    char tmp[PATH_MAX];
    char *p;

    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
        return err_set(err, ERR_IO, "path too long: %s", path);
    for (p = tmp + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) == -1 && errno != EEXIST)
            return err_sys(err, ERR_IO, errno, "mkdir %s", tmp);
        *p = '/';
    }
    if (mkdir(tmp, mode) == -1 && errno != EEXIST)
        return err_sys(err, ERR_IO, errno, "mkdir %s", tmp);
    return 0;
}

static int fsutil_rm_tree_at(int dfd, struct err *err)
{
    DIR *d;
    struct dirent *de;
    int rv = 0;

    d = fdopendir(dfd);
    if (d == NULL) {
        int e = errno;

        close(dfd);
        return err_sys(err, ERR_IO, e, "opendir");
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (de->d_type == DT_DIR) {
            int sub = openat(dirfd(d), de->d_name,
                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

            if (sub == -1) {
                rv = err_sys(err, ERR_IO, errno, "open %s", de->d_name);
                break;
            }
            rv = fsutil_rm_tree_at(sub, err);
            if (rv != 0)
                break;
            if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) == -1) {
                rv = err_sys(err, ERR_IO, errno, "rmdir %s", de->d_name);
                break;
            }
        } else if (unlinkat(dirfd(d), de->d_name, 0) == -1) {
            rv = err_sys(err, ERR_IO, errno, "unlink %s", de->d_name);
            break;
        }
    }
    closedir(d);
    return rv;
}

int fsutil_empty_dir(const char *dir, struct err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd == -1) {
        if (errno == ENOENT)
            return 0;
        return err_sys(err, ERR_IO, errno, "open %s", dir);
    }
    return fsutil_rm_tree_at(fd, err);
}

bool fsutil_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/* One component, never a symlink, never "..": all that RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS lets a single component be. */
static int fsutil__open_one(int dirfd, const char *comp, int flags,
                            mode_t mode)
{
    if (comp[0] == '\0' || strchr(comp, '/') != NULL ||
        strcmp(comp, "..") == 0) {
        errno = EXDEV;
        return -1;
    }
    return openat(dirfd, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
}

/* Take the first component of *rest into comp (at most size bytes);
 * advances *rest past it and its slashes. -1 when it is too long. */
static int fsutil__next_comp(const char **rest, char *comp, size_t size)
{
    const char *p = *rest;
    size_t seg;

    while (*p == '/')
        p++;
    seg = strcspn(p, "/");
    if (seg >= size)
        return -1;
    memcpy(comp, p, seg);
    comp[seg] = '\0';
    p += seg;
    while (*p == '/')
        p++;
    *rest = p;
    return 0;
}

/* RESOLVE_IN_ROOT in user space: resolve path lexically under rootfd
 * (".." stops at the root, a symlink's target is read and resolved under
 * the root too, 40 at most), then open the result one component at a time
 * refusing symlinks, so a tree changed in between fails, never escapes. */
static int fsutil__open_in_root(int rootfd, const char *path, int flags)
{
    char cur[FSUTIL__PATH] = "";
    char todo[FSUTIL__PATH];
    char link[FSUTIL__PATH];
    char comp[FSUTIL__PATH];
    char cand[FSUTIL__PATH];
    const char *rest;
    struct stat st;
    bool want_dir;
    int links = 0;
    int fd;
    int next;

    if (path[0] == '\0') {
        errno = ENOENT;
        return -1;
    }
    if (snprintf(todo, sizeof(todo), "%s", path) >= (int)sizeof(todo))
        goto too_long;
    /* A trailing slash: the result must be a directory. */
    want_dir = path[strlen(path) - 1] == '/';
    rest = todo;
    while (*rest != '\0') {
        if (fsutil__next_comp(&rest, comp, sizeof(comp)) != 0)
            goto too_long;
        if (comp[0] == '\0' || strcmp(comp, ".") == 0)
            continue;
        if (strcmp(comp, "..") == 0) {
            char *slash = strrchr(cur, '/');

            if (slash != NULL)
                *slash = '\0';
            else
                cur[0] = '\0';
            continue;
        }
        if (snprintf(cand, sizeof(cand), "%s%s%s", cur,
                     cur[0] != '\0' ? "/" : "", comp) >= (int)sizeof(cand))
            goto too_long;
        if (fstatat(rootfd, cand, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISLNK(st.st_mode)) {
            ssize_t n;

            if (++links > 40) {
                errno = ELOOP;
                return -1;
            }
            n = readlinkat(rootfd, cand, link, sizeof(link) - 1);
            if (n == -1)
                return -1;
            link[n] = '\0';
            if (link[0] == '/')
                cur[0] = '\0';
            /* The target, then what was left after the link. */
            if (*rest == '\0' && n > 0 && link[n - 1] == '/')
                want_dir = true;
            if (snprintf(cand, sizeof(cand), "%s%s%s", link,
                         *rest != '\0' ? "/" : "", rest) >= (int)sizeof(cand))
                goto too_long;
            memcpy(todo, cand, sizeof(todo));
            rest = todo;
            continue;
        }
        memcpy(cur, cand, sizeof(cur));
    }
    fd = dup(rootfd);
    if (fd == -1)
        return -1;
    rest = cur;
    while (*rest != '\0') {
        int e;

        if (fsutil__next_comp(&rest, comp, sizeof(comp)) != 0)
            goto too_long_fd;
        if (*rest != '\0')
            next = fsutil__open_one(fd, comp, O_RDONLY | O_DIRECTORY, 0);
        else
            next = fsutil__open_one(fd, comp,
                                    flags | (want_dir ? O_DIRECTORY : 0), 0);
        e = errno;
        close(fd);
        errno = e;
        if (next == -1)
            return -1;
        fd = next;
    }
    if (cur[0] == '\0') {
        /* The root itself. */
        next = openat(fd, ".", flags | O_CLOEXEC);
        close(fd);
        return next;
    }
    return fd;

too_long_fd:
    close(fd);
too_long:
    errno = ENAMETOOLONG;
    return -1;
}

int fsutil_openat2(int dirfd, const char *path, int flags, mode_t mode,
                   uint64_t resolve)
{
    const uint64_t in_root = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS |
                             RESOLVE_NO_XDEV;
    struct open_how how;
    int fd;

    memset(&how, 0, sizeof(how));
    how.flags = (uint64_t)flags | O_CLOEXEC;
    how.mode = mode;
    how.resolve = resolve;
    if (!atomic_load(&fsutil__no_openat2)) {
        fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
        if (fd != -1 || errno != ENOSYS)
            return fd;
        atomic_store(&fsutil__no_openat2, true);
    }
    if (resolve == (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS))
        return fsutil__open_one(dirfd, path, flags, mode);
    if ((resolve & RESOLVE_IN_ROOT) != 0 && (resolve & ~in_root) == 0 &&
        (flags & O_CREAT) == 0)
        return fsutil__open_in_root(dirfd, path, flags);
    errno = ENOSYS;
    return -1;
}

#ifdef SHOAL_TESTING
void fsutil_testing_no_openat2(bool on)
{
    atomic_store(&fsutil__no_openat2, on);
}
#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* File helpers with durable atomic replace. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/mem.h"

int fsutil_fsync_dir(const char *dir, struct err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd == -1)
        return err_sys(err, ERR_IO, errno, "open %s", dir);
    if (fsync(fd) == -1) {
        int e = errno;

        close(fd);
        return err_sys(err, ERR_IO, e, "fsync %s", dir);
    }
    close(fd);
    return 0;
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

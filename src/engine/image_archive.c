/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tarballs in, trees out (thread pool only): decompression with the diff
 * ID, and extraction that refuses hostile entries. Every path is resolved
 * one component at a time under a directory fd with openat2's
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, so no entry can reach outside the
 * tree or write through a symlink an earlier entry planted (where openat2
 * is missing, fsutil_openat2 does the same in user space).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base/fsutil.h"
#include "base/mem.h"
#include "engine/image_int.h"

#define IMAGE_ARCHIVE_BLOCK (1 << 16)
#define IMAGE_ARCHIVE_PATH 4096

/* How an archive is unpacked: a layer (owners, modes, whiteouts, fifos)
 * or an outer save/OCI archive (files, dirs and inside symlinks only). */
enum image_archive_kind { IMAGE_ARCHIVE_LAYER, IMAGE_ARCHIVE_OUTER };

static int image_openat2(int dirfd, const char *path, int flags,
                         mode_t mode, unsigned long long resolve)
{
    return fsutil_openat2(dirfd, path, flags, mode, resolve);
}

int image_archive_open_in(const char *root, const char *path, int flags)
{
    int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int fd;
    int e;

    if (rootfd == -1)
        return -1;
    fd = image_openat2(rootfd, path, flags, 0,
                       RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS |
                           RESOLVE_NO_XDEV);
    e = errno;
    close(rootfd);
    errno = e;
    return fd;
}

void image_archive_thread_done(void)
{
    OPENSSL_thread_stop();
}

/* A reader over fd (>= 0) or path. */
static struct archive *image_archive_reader(int fd, const char *path,
                                            bool raw, struct err *err)
{
    int rv;

    struct archive *a = archive_read_new();

    archive_read_support_filter_all(a);
    if (raw) {
        archive_read_support_format_raw(a);
    } else {
        archive_read_support_format_tar(a);
        archive_read_support_format_gnutar(a);
    }
    rv = fd >= 0 ? archive_read_open_fd(a, fd, IMAGE_ARCHIVE_BLOCK)
                 : archive_read_open_filename(a, path, IMAGE_ARCHIVE_BLOCK);
    if (rv != ARCHIVE_OK) {
        err_set(err, ERR_INVALID, "invalid archive: %s",
                archive_error_string(a) ? archive_error_string(a)
                                        : "cannot open");
        archive_read_free(a);
        return NULL;
    }
    return a;
}

int image_archive_decompress(int src, const char *dst,
                             char diff[IMAGE_DIGEST_LEN], struct err *err)
{
    struct archive *a;
    struct archive_entry *ent;
    EVP_MD_CTX *ctx = NULL;
    unsigned char md[32];
    char *chunk = NULL;
    int fd = -1;
    int rv;

    a = image_archive_reader(src, NULL, true, err);
    if (a == NULL)
        return -err->code;
    rv = archive_read_next_header(a, &ent);
    if (rv == ARCHIVE_EOF) {
        /* An empty input is an empty layer. */
        rv = ARCHIVE_OK;
        ent = NULL;
    } else if (rv != ARCHIVE_OK && rv != ARCHIVE_WARN) {
        rv = err_set(err, ERR_INVALID, "invalid archive: %s",
                     archive_error_string(a));
        goto out;
    }
    fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd == -1) {
        rv = err_sys(err, ERR_IO, errno, "create %s", dst);
        goto out;
    }
    ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    chunk = xmalloc(IMAGE_ARCHIVE_BLOCK);
    rv = 0;
    while (ent != NULL) {
        la_ssize_t n = archive_read_data(a, chunk, IMAGE_ARCHIVE_BLOCK);
        la_ssize_t off = 0;

        if (n == 0)
            break;
        if (n < 0) {
            rv = err_set(err, ERR_INVALID, "invalid archive: %s",
                         archive_error_string(a));
            break;
        }
        EVP_DigestUpdate(ctx, chunk, (size_t)n);
        while (off < n) {
            ssize_t w = write(fd, chunk + off, (size_t)(n - off));

            if (w == -1 && errno == EINTR)
                continue;
            if (w == -1) {
                rv = err_sys(err, ERR_IO, errno, "write %s", dst);
                break;
            }
            off += w;
        }
        if (rv != 0)
            break;
    }
    if (rv == 0) {
        static const char hex[] = "0123456789abcdef";
        int i;

        EVP_DigestFinal_ex(ctx, md, NULL);
        memcpy(diff, "sha256:", 7);
        for (i = 0; i < 32; i++) {
            diff[7 + 2 * i] = hex[md[i] >> 4];
            diff[8 + 2 * i] = hex[md[i] & 15];
        }
        diff[71] = '\0';
    }
out:
    free(chunk);
    EVP_MD_CTX_free(ctx);
    if (fd != -1)
        close(fd);
    if (rv != 0 && fd != -1)
        unlink(dst);
    archive_read_free(a);
    return rv;
}

/* Entry name -> clean relative path ("" for the root). Refuses absolute
 * paths and any ".." component. */
static int image_archive_clean(const char *name, char *out, size_t cap,
                               const char *what, struct err *err)
{
    const char *p = name;
    size_t o = 0;

    if (name[0] == '/')
        return err_set(err, ERR_INVALID,
                       "refusing archive entry \"%s\": %s is an absolute "
                       "path", name, what);
    while (*p != '\0') {
        size_t seg = strcspn(p, "/");

        if (seg == 2 && p[0] == '.' && p[1] == '.')
            return err_set(err, ERR_INVALID,
                           "refusing archive entry \"%s\": %s leaves the "
                           "root (\"..\")", name, what);
        if (seg > 0 && !(seg == 1 && p[0] == '.')) {
            if (o + seg + 2 > cap)
                return err_set(err, ERR_INVALID,
                               "refusing archive entry: path too long");
            if (o > 0)
                out[o++] = '/';
            memcpy(out + o, p, seg);
            o += seg;
        }
        p += seg;
        if (*p == '/')
            p++;
    }
    out[o] = '\0';
    return 0;
}

/* A symlink at clean path `at` pointing to target stays inside the tree:
 * relative targets may not climb above the root (absolute ones are read
 * inside the container's root, except in outer archives). */
static bool image_archive_link_inside(const char *at, const char *target,
                                      bool allow_abs)
{
    const char *p = target;
    int depth = 0;

    if (target[0] == '\0')
        return false;
    if (target[0] == '/') {
        if (!allow_abs)
            return false;
        /* Lexically from the root: ".." at the root stays at the root,
         * as in the container. */
        return true;
    }
    for (; *at != '\0'; at++) {
        if (*at == '/')
            depth++;
    }
    while (*p != '\0') {
        size_t seg = strcspn(p, "/");

        if (seg == 2 && p[0] == '.' && p[1] == '.') {
            if (--depth < 0)
                return false;
        } else if (seg > 0 && !(seg == 1 && p[0] == '.')) {
            depth++;
        }
        p += seg;
        if (*p == '/')
            p++;
    }
    return true;
}

/* Open (creating when create is set) the directory rel under rootfd, one
 * component at a time, refusing symlinks. Returns an fd or -code. */
static int image_archive_dir(int rootfd, const char *rel, bool create,
                             const char *entry, struct err *err)
{
    char comp[IMAGE_ARCHIVE_PATH];
    const char *p = rel;
    int fd = dup(rootfd);

    if (fd == -1)
        return err_sys(err, ERR_IO, errno, "dup");
    while (*p != '\0') {
        size_t seg = strcspn(p, "/");
        int next;

        memcpy(comp, p, seg);
        comp[seg] = '\0';
        next = image_openat2(fd, comp, O_RDONLY | O_DIRECTORY, 0,
                             RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
        if (next == -1 && errno == ENOENT && create) {
            if (mkdirat(fd, comp, 0755) == -1 && errno != EEXIST) {
                close(fd);
                return err_sys(err, ERR_IO, errno, "mkdir %s", rel);
            }
            next = image_openat2(fd, comp, O_RDONLY | O_DIRECTORY, 0,
                                 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
        }
        if (next == -1) {
            int e = errno;

            close(fd);
            if (e == ELOOP)
                return err_set(err, ERR_INVALID,
                               "refusing archive entry \"%s\": it goes "
                               "through the symbolic link \"%.*s\"",
                               entry, (int)(p + seg - rel), rel);
            if (e == ENOTDIR)
                return err_set(err, ERR_INVALID,
                               "refusing archive entry \"%s\": \"%.*s\" is "
                               "not a directory", entry,
                               (int)(p + seg - rel), rel);
            return err_sys(err, e == ENOENT ? ERR_INVALID : ERR_IO, e,
                           "archive entry \"%s\"", entry);
        }
        close(fd);
        fd = next;
        p += seg;
        if (*p == '/')
            p++;
    }
    return fd;
}

/* Make room for a new entry name in dirfd (a later entry replaces an
 * earlier one, as tar does); an existing directory stays when keep_dir. */
static int image_archive_clear(int dirfd, const char *name, bool keep_dir,
                               const char *entry, struct err *err)
{
    struct stat st;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
        return errno == ENOENT ? 0
                               : err_sys(err, ERR_IO, errno, "%s", entry);
    if (S_ISDIR(st.st_mode)) {
        if (keep_dir)
            return 1;
        if (unlinkat(dirfd, name, AT_REMOVEDIR) == -1)
            return err_sys(err, ERR_INVALID, errno,
                           "archive entry \"%s\" replaces a directory",
                           entry);
        return 0;
    }
    if (unlinkat(dirfd, name, 0) == -1)
        return err_sys(err, ERR_IO, errno, "replace %s", entry);
    return 0;
}

static int image_archive_copy(struct archive *a, int fd, const char *entry,
                              struct err *err)
{
    char *chunk = xmalloc(IMAGE_ARCHIVE_BLOCK);
    int rv = 0;

    for (;;) {
        la_ssize_t n = archive_read_data(a, chunk, IMAGE_ARCHIVE_BLOCK);
        la_ssize_t off = 0;

        if (n == 0)
            break;
        if (n < 0) {
            rv = err_set(err, ERR_INVALID, "invalid archive: %s",
                         archive_error_string(a));
            break;
        }
        while (off < n) {
            ssize_t w = write(fd, chunk + off, (size_t)(n - off));

            if (w == -1 && errno == EINTR)
                continue;
            if (w == -1) {
                rv = err_sys(err, ERR_IO, errno, "write %s", entry);
                break;
            }
            off += w;
        }
        if (rv != 0)
            break;
    }
    free(chunk);
    return rv;
}

/* Owner, mode and times of what was created at dirfd/name. */
static int image_archive_meta(int dirfd, const char *name,
                              struct archive_entry *ent, bool is_link,
                              const char *entry, struct err *err)
{
    struct timespec ts[2];
    int flags = is_link ? AT_SYMLINK_NOFOLLOW : 0;

    if (fchownat(dirfd, name, (uid_t)archive_entry_uid(ent),
                 (gid_t)archive_entry_gid(ent), AT_SYMLINK_NOFOLLOW) == -1)
        return err_sys(err, ERR_IO, errno, "chown %s", entry);
    /* After chown, which clears setuid bits. */
    if (!is_link && fchmodat(dirfd, name, archive_entry_perm(ent) & 07777,
                             0) == -1)
        return err_sys(err, ERR_IO, errno, "chmod %s", entry);
    ts[0].tv_sec = archive_entry_atime_is_set(ent) ? archive_entry_atime(ent)
                                                   : archive_entry_mtime(ent);
    ts[0].tv_nsec = 0;
    ts[1].tv_sec = archive_entry_mtime(ent);
    ts[1].tv_nsec = archive_entry_mtime_nsec(ent);
    if (utimensat(dirfd, name, ts, flags) == -1 && !is_link)
        return err_sys(err, ERR_IO, errno, "set times of %s", entry);
    return 0;
}

/* Split clean path into parent (in place, "" for the root) and base. */
static const char *image_archive_split(char *path)
{
    char *slash = strrchr(path, '/');

    if (slash == NULL) {
        memmove(path + 1, path, strlen(path) + 1);
        path[0] = '\0';
        return path + 1;
    }
    *slash = '\0';
    return slash + 1;
}

static int image_archive_entry(struct archive *a, struct archive_entry *ent,
                               int rootfd, enum image_archive_kind kind,
                               int64_t *size, struct err *err)
{
    const char *name = archive_entry_pathname(ent);
    const char *hard = archive_entry_hardlink(ent);
    mode_t type = archive_entry_filetype(ent);
    char path[IMAGE_ARCHIVE_PATH + 1];
    bool layer = kind == IMAGE_ARCHIVE_LAYER;
    const char *base;
    int dirfd = -1;
    int fd;
    int rv;

    if (name == NULL)
        return err_set(err, ERR_INVALID, "invalid archive: entry without "
                                         "a name");
    rv = image_archive_clean(name, path, sizeof(path) - 1, "its path", err);
    if (rv != 0)
        return rv;
    if (path[0] == '\0') {
        /* The root itself ("./"): only its owner and mode count. */
        if (type != AE_IFDIR)
            return err_set(err, ERR_INVALID, "refusing archive entry "
                                             "\"%s\": the root is not a "
                                             "directory", name);
        if (layer)
            return image_archive_meta(rootfd, ".", ent, false, name, err);
        return 0;
    }
    base = image_archive_split(path);
    dirfd = image_archive_dir(rootfd, path, true, name, err);
    if (dirfd < 0)
        return dirfd;
    if (layer && strncmp(base, ".wh.", 4) == 0) {
        /* AUFS whiteouts -> overlay: an opaque directory, or a 0:0
         * character device in place of the deleted name. */
        if (strcmp(base, ".wh..wh..opq") == 0) {
            if (fsetxattr(dirfd, "trusted.overlay.opaque", "y", 1, 0) == -1)
                rv = err_sys(err, ERR_IO, errno, "mark %s opaque", name);
        } else if (strncmp(base, ".wh..wh.", 8) == 0) {
            rv = 0;
        } else if (strcmp(base + 4, "") == 0 || strcmp(base + 4, ".") == 0 ||
                   strcmp(base + 4, "..") == 0) {
            rv = err_set(err, ERR_INVALID,
                         "refusing archive entry \"%s\": bad whiteout",
                         name);
        } else {
            rv = image_archive_clear(dirfd, base + 4, false, name, err);
            if (rv == 0 && mknodat(dirfd, base + 4, S_IFCHR, makedev(0, 0))
                               == -1)
                rv = err_sys(err, ERR_IO, errno, "whiteout %s", name);
        }
        goto out;
    }
    if (hard != NULL) {
        char tpath[IMAGE_ARCHIVE_PATH + 1];
        const char *tbase;
        struct stat st;
        int tdir;

        if (!layer) {
            rv = err_set(err, ERR_INVALID, "refusing archive entry \"%s\": "
                                           "hard link", name);
            goto out;
        }
        rv = image_archive_clean(hard, tpath, sizeof(tpath) - 1,
                                 "its hard link target", err);
        if (rv != 0)
            goto out;
        if (tpath[0] == '\0') {
            rv = err_set(err, ERR_INVALID, "refusing archive entry \"%s\": "
                                           "hard link to the root", name);
            goto out;
        }
        tbase = image_archive_split(tpath);
        tdir = image_archive_dir(rootfd, tpath, false, name, err);
        if (tdir < 0) {
            rv = tdir;
            goto out;
        }
        if (fstatat(tdir, tbase, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
            S_ISDIR(st.st_mode)) {
            close(tdir);
            rv = err_set(err, ERR_INVALID, "refusing archive entry \"%s\": "
                                           "hard link target \"%s\" is "
                                           "missing or a directory",
                         name, hard);
            goto out;
        }
        rv = image_archive_clear(dirfd, base, false, name, err);
        if (rv == 0 && linkat(tdir, tbase, dirfd, base, 0) == -1)
            rv = err_sys(err, ERR_IO, errno, "link %s", name);
        close(tdir);
        goto out;
    }
    switch (type) {
    case AE_IFDIR:
        rv = image_archive_clear(dirfd, base, true, name, err);
        if (rv == 0 && mkdirat(dirfd, base, 0700) == -1)
            rv = err_sys(err, ERR_IO, errno, "mkdir %s", name);
        if (rv >= 0 && layer) {
            /* Through openat2 again: base may not be a symlink now. */
            fd = image_openat2(dirfd, base, O_RDONLY | O_DIRECTORY, 0,
                               RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
            if (fd == -1) {
                rv = err_sys(err, ERR_IO, errno, "open %s", name);
                break;
            }
            close(fd);
            rv = image_archive_meta(dirfd, base, ent, false, name, err);
        } else if (rv > 0) {
            rv = 0;
        }
        break;
    case AE_IFREG:
        rv = image_archive_clear(dirfd, base, false, name, err);
        if (rv != 0)
            break;
        fd = openat(dirfd, base,
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    0600);
        if (fd == -1) {
            rv = err_sys(err, ERR_IO, errno, "create %s", name);
            break;
        }
        rv = image_archive_copy(a, fd, name, err);
        close(fd);
        if (rv == 0 && layer)
            rv = image_archive_meta(dirfd, base, ent, false, name, err);
        if (rv == 0 && archive_entry_size(ent) > 0)
            *size += archive_entry_size(ent);
        break;
    case AE_IFLNK: {
        const char *target = archive_entry_symlink(ent);
        char full[IMAGE_ARCHIVE_PATH * 2 + 2];

        snprintf(full, sizeof(full), "%s%s%s", path, path[0] ? "/" : "",
                 base);
        if (target == NULL ||
            !image_archive_link_inside(full, target, layer)) {
            rv = err_set(err, ERR_INVALID,
                         "refusing archive entry \"%s\": symbolic link to "
                         "\"%s\" leaves the root", name,
                         target ? target : "");
            break;
        }
        rv = image_archive_clear(dirfd, base, false, name, err);
        if (rv == 0 && symlinkat(target, dirfd, base) == -1)
            rv = err_sys(err, ERR_IO, errno, "symlink %s", name);
        if (rv == 0 && layer)
            rv = image_archive_meta(dirfd, base, ent, true, name, err);
        break;
    }
    case AE_IFIFO:
        if (!layer) {
            rv = err_set(err, ERR_INVALID, "refusing archive entry \"%s\": "
                                           "not a file or directory", name);
            break;
        }
        rv = image_archive_clear(dirfd, base, false, name, err);
        if (rv == 0 && mknodat(dirfd, base, S_IFIFO | 0600, 0) == -1)
            rv = err_sys(err, ERR_IO, errno, "mkfifo %s", name);
        if (rv == 0)
            rv = image_archive_meta(dirfd, base, ent, false, name, err);
        break;
    case AE_IFCHR:
        /* A 0:0 character device is an overlay whiteout already. */
        if (layer && archive_entry_rdev(ent) == 0) {
            rv = image_archive_clear(dirfd, base, false, name, err);
            if (rv == 0 && mknodat(dirfd, base, S_IFCHR, makedev(0, 0)) ==
                               -1)
                rv = err_sys(err, ERR_IO, errno, "whiteout %s", name);
            break;
        }
        rv = err_set(err, ERR_INVALID, "refusing archive entry \"%s\": "
                                       "device nodes are not allowed", name);
        break;
    case AE_IFBLK:
        rv = err_set(err, ERR_INVALID, "refusing archive entry \"%s\": "
                                       "device nodes are not allowed", name);
        break;
    default:
        rv = err_set(err, ERR_INVALID, "refusing archive entry \"%s\": "
                                       "unsupported file type", name);
        break;
    }
out:
    close(dirfd);
    return rv;
}

static int image_archive_extract(const char *tar_path, const char *dir,
                                 enum image_archive_kind kind, int64_t *size,
                                 struct err *err)
{
    struct archive *a;
    struct archive_entry *ent;
    int64_t total = 0;
    int rootfd;
    int rv = 0;

    rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd == -1)
        return err_sys(err, ERR_IO, errno, "open %s", dir);
    a = image_archive_reader(-1, tar_path, false, err);
    if (a == NULL) {
        close(rootfd);
        return -err->code;
    }
    for (;;) {
        int r = archive_read_next_header(a, &ent);

        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            rv = err_set(err, ERR_INVALID, "invalid archive: %s",
                         archive_error_string(a));
            break;
        }
        rv = image_archive_entry(a, ent, rootfd, kind, &total, err);
        if (rv != 0)
            break;
    }
    archive_read_free(a);
    close(rootfd);
    if (size != NULL)
        *size = total;
    return rv;
}

int image_archive_unpack(const char *tar_path, const char *dir,
                         int64_t *size, struct err *err)
{
    return image_archive_extract(tar_path, dir, IMAGE_ARCHIVE_LAYER, size,
                                 err);
}

int image_archive_unpack_outer(const char *tar_path, const char *stage,
                               struct err *err)
{
    return image_archive_extract(tar_path, stage, IMAGE_ARCHIVE_OUTER, NULL,
                                 err);
}

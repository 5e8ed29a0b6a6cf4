/* SPDX-License-Identifier: Apache-2.0 */
/* The process user: "uid", "uid:gid", "name", "name:group" looked up in
 * the container's /etc/passwd and /etc/group, read inside the root (a
 * symlink in the image cannot point the lookup at the host's files). */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base/fsutil.h"
#include "base/mem.h"
#include "engine/oci_spec_int.h"

#define OCI_SPEC_USER__FILE_MAX (4u << 20)
#define OCI_SPEC_USER__ID_MAX 2147483647LL
#define OCI_SPEC_USER__GIDS_MAX 64

/* Read <rootfs>/<rel> resolved inside rootfs. *out NULL when missing. */
static int oci_spec_user_read(const char *rootfs, const char *rel,
                              char **out, struct err *err)
{
    char *data = NULL;
    size_t len = 0;
    int dfd;
    int fd;

    *out = NULL;
    if (rootfs == NULL)
        return 0;
    dfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd == -1)
        return err_sys(err, ERR_INTERNAL, errno, "open %s", rootfs);
    fd = fsutil_openat2(dfd, rel, O_RDONLY, 0,
                        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    close(dfd);
    if (fd == -1) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        return err_sys(err, ERR_INTERNAL, errno, "open %s/%s", rootfs, rel);
    }
    data = xmalloc(4096);
    for (;;) {
        ssize_t n;

        if (len + 4096 > OCI_SPEC_USER__FILE_MAX) {
            close(fd);
            free(data);
            return err_set(err, ERR_INVALID, "%s in the image is too large",
                           rel);
        }
        data = xrealloc(data, len + 4096 + 1);
        n = read(fd, data + len, 4096);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1) {
            int e = errno;

            close(fd);
            free(data);
            return err_sys(err, ERR_INTERNAL, e, "read %s/%s", rootfs, rel);
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    data[len] = '\0';
    *out = data;
    return 0;
}

/* A decimal id in Docker's range, or -1. */
static long long oci_spec_user_parse_id(const char *s)
{
    long long v = 0;

    if (*s == '\0')
        return -1;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
        if (v > OCI_SPEC_USER__ID_MAX)
            return -2;
    }
    return v;
}

/* Split line into at most n ':'-separated fields (in place); the count. */
static int oci_spec_user_fields(char *line, char **f, int n)
{
    int k = 0;

    f[k++] = line;
    while (k < n) {
        char *c = strchr(f[k - 1], ':');

        if (c == NULL)
            break;
        *c = '\0';
        f[k++] = c + 1;
    }
    return k;
}

/* Look name (a name or a decimal id) up in a passwd or group text: fills
 * fields (pointers into a copy, *copy to free). The number of fields
 * found (at least 3), or -1. */
static int oci_spec_user_lookup(const char *text, const char *name,
                                int n_fields, char **fields, char **copy)
{
    char *dup;
    char *save = NULL;
    char *line;

    *copy = NULL;
    if (text == NULL)
        return -1;
    dup = xstrdup(text);
    for (line = strtok_r(dup, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        int n;

        if (line[0] == '#' || line[0] == '\0')
            continue;
        n = oci_spec_user_fields(line, fields, n_fields);
        if (n < 3)
            continue;
        if (strcmp(fields[0], name) == 0 || strcmp(fields[2], name) == 0) {
            *copy = dup;
            return n;
        }
    }
    free(dup);
    return -1;
}

/* Groups of group_text that list user among their members. */
static void oci_spec_user_member_of(const char *group_text, const char *user,
                                    json_t *gids)
{
    char *dup;
    char *save = NULL;
    char *line;
    char *f[4];

    if (group_text == NULL || user == NULL)
        return;
    dup = xstrdup(group_text);
    for (line = strtok_r(dup, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char *msave = NULL;
        char *m;
        long long gid;

        if (line[0] == '#' || oci_spec_user_fields(line, f, 4) < 4)
            continue;
        gid = oci_spec_user_parse_id(f[2]);
        if (gid < 0)
            continue;
        for (m = strtok_r(f[3], ",", &msave); m != NULL;
             m = strtok_r(NULL, ",", &msave)) {
            if (strcmp(m, user) == 0 &&
                json_array_size(gids) < OCI_SPEC_USER__GIDS_MAX) {
                json_array_append_new(gids, json_integer(gid));
                break;
            }
        }
    }
    free(dup);
}

/* A group name or id to a gid. */
static int oci_spec_user_group(const char *group_text, const char *g,
                               long long *out, struct err *err)
{
    char *f[4];
    char *copy;
    long long id;

    if (oci_spec_user_lookup(group_text, g, 4, f, &copy) >= 3) {
        id = oci_spec_user_parse_id(f[2]);
        free(copy);
        if (id >= 0) {
            *out = id;
            return 0;
        }
    }
    id = oci_spec_user_parse_id(g);
    if (id == -2)
        return err_set(err, ERR_INVALID,
                       "uids and gids must be in range 0-2147483647");
    if (id < 0)
        return err_set(err, ERR_INVALID,
                       "unable to find group %s: no matching entries in "
                       "group file",
                       g);
    *out = id;
    return 0;
}

static bool oci_spec_user_has_gid(const json_t *gids, long long gid)
{
    const json_t *v;
    size_t i;

    json_array_foreach(gids, i, v) {
        if (json_integer_value(v) == gid)
            return true;
    }
    return false;
}

json_t *oci_spec_user_resolve(const char *rootfs, const char *user,
                              const json_t *group_add, struct err *err)
{
    char *passwd = NULL;
    char *group = NULL;
    char *copy = NULL;
    char *u = NULL;
    char *name = NULL;
    const char *g = NULL;
    char *colon;
    char *f[7];
    long long uid;
    long long gid = 0;
    json_t *gids = NULL;
    json_t *out = NULL;
    const json_t *v;
    size_t i;

    colon = strchr(user, ':');
    if (colon != NULL) {
        u = xstrndup(user, (size_t)(colon - user));
        g = colon + 1;
    } else {
        u = xstrdup(user);
    }
    if (u[0] == '\0') {
        free(u);
        u = xstrdup("0");
    }
    if (oci_spec_user_read(rootfs, "etc/passwd", &passwd, err) < 0 ||
        oci_spec_user_read(rootfs, "etc/group", &group, err) < 0)
        goto out;
    if (oci_spec_user_lookup(passwd, u, 7, f, &copy) >= 4 &&
        oci_spec_user_parse_id(f[2]) >= 0) {
        uid = oci_spec_user_parse_id(f[2]);
        gid = oci_spec_user_parse_id(f[3]) >= 0 ? oci_spec_user_parse_id(f[3])
                                                 : 0;
        name = xstrdup(f[0]);
    } else {
        uid = oci_spec_user_parse_id(u);
        if (uid == -2) {
            err_set(err, ERR_INVALID,
                    "uids and gids must be in range 0-2147483647");
            goto out;
        }
        if (uid < 0) {
            err_set(err, ERR_INVALID,
                    "unable to find user %s: no matching entries in passwd "
                    "file",
                    u);
            goto out;
        }
    }
    gids = json_array();
    if (g != NULL && g[0] != '\0') {
        if (oci_spec_user_group(group, g, &gid, err) < 0)
            goto out;
    } else {
        oci_spec_user_member_of(group, name, gids);
    }
    json_array_foreach(group_add, i, v) {
        long long extra;

        if (!json_is_string(v)) {
            err_set(err, ERR_INVALID, "invalid GroupAdd: expected strings");
            goto out;
        }
        if (oci_spec_user_group(group, json_string_value(v), &extra, err) <
            0)
            goto out;
        if (!oci_spec_user_has_gid(gids, extra))
            json_array_append_new(gids, json_integer(extra));
    }
    out = json_object();
    json_object_set_new(out, "uid", json_integer(uid));
    json_object_set_new(out, "gid", json_integer(gid));
    if (json_array_size(gids) > 0) {
        json_object_set_new(out, "additionalGids", gids);
        gids = NULL;
    }

out:
    json_decref(gids);
    free(name);
    free(copy);
    free(group);
    free(passwd);
    free(u);
    return out;
}

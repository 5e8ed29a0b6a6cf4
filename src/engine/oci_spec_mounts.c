/* SPDX-License-Identifier: Apache-2.0 */
/* Mounts: Docker's defaults (/proc, /dev, /dev/pts, /sys, cgroup, mqueue,
 * /dev/shm), the container's /etc/{resolv.conf,hostname,hosts} written
 * into its directory, the user's Binds, Mounts and Tmpfs, docker-init. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/fsutil.h"
#include "base/mem.h"
#include "engine/oci_spec.h"
#include "engine/oci_spec_int.h"

#define OCI_SPEC_MOUNTS__SHM_DEFAULT (64LL << 20)
#define OCI_SPEC_MOUNTS__FILE_MAX (1u << 20)

static json_t *oci_spec_mounts_new(const char *dst, const char *type,
                                   const char *src, const char *const *opts)
{
    json_t *m = json_object();

    json_object_set_new(m, "destination", json_string(dst));
    json_object_set_new(m, "type", json_string(type));
    json_object_set_new(m, "source", json_string(src));
    json_object_set_new(m, "options", oci_spec_strv(opts));
    return m;
}

/* filepath.Clean for an absolute path, into out. */
static void oci_spec_mounts_clean(const char *in, char *out, size_t out_len)
{
    size_t o = 0;
    const char *p = in;

    while (*p != '\0' && o + 2 < out_len) {
        const char *e;
        size_t n;

        while (*p == '/')
            p++;
        e = strchrnul(p, '/');
        n = (size_t)(e - p);
        if (n == 0 || (n == 1 && p[0] == '.')) {
            p = e;
            continue;
        }
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
            p = e;
            continue;
        }
        if (o + 1 + n + 1 > out_len)
            break;
        out[o++] = '/';
        memcpy(out + o, p, n);
        o += n;
        p = e;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
}

static const char *oci_spec_mounts_dst(const json_t *m)
{
    return json_string_value(json_object_get(m, "destination"));
}

static bool oci_spec_mounts_has(const json_t *list, const char *dst)
{
    const json_t *m;
    size_t i;

    json_array_foreach(list, i, m) {
        if (strcmp(oci_spec_mounts_dst(m), dst) == 0)
            return true;
    }
    return false;
}

/* Add a user mount, refusing a second one at the same place. */
static int oci_spec_mounts_add_user(json_t *user, json_t *m, struct err *err)
{
    const char *dst = oci_spec_mounts_dst(m);

    if (oci_spec_mounts_has(user, dst)) {
        err_set(err, ERR_INVALID, "Duplicate mount point: %s", dst);
        json_decref(m);
        return -ERR_INVALID;
    }
    json_array_append_new(user, m);
    return 0;
}

static bool oci_spec_mounts_is_propagation(const char *s)
{
    static const char *const modes[] = {"private", "rprivate", "shared",
                                        "rshared", "slave",    "rslave",
                                        NULL};
    size_t i;

    for (i = 0; modes[i] != NULL; i++) {
        if (strcmp(s, modes[i]) == 0)
            return true;
    }
    return false;
}

/* A Binds mode "ro,z,rshared": read only and propagation. */
static int oci_spec_mounts_bind_mode(const char *mode, bool *ro,
                                     const char **prop, struct err *err)
{
    char *dup = xstrdup(mode);
    char *save = NULL;
    char *o;
    int n_rw = 0;
    int n_prop = 0;
    int n_label = 0;
    int n_copy = 0;

    for (o = strtok_r(dup, ",", &save); o != NULL;
         o = strtok_r(NULL, ",", &save)) {
        if (strcmp(o, "ro") == 0 || strcmp(o, "rw") == 0) {
            *ro = strcmp(o, "ro") == 0;
            n_rw++;
        } else if (strcmp(o, "z") == 0 || strcmp(o, "Z") == 0) {
            n_label++; /* SELinux relabeling: no SELinux here */
        } else if (strcmp(o, "nocopy") == 0) {
            n_copy++;
        } else if (oci_spec_mounts_is_propagation(o)) {
            *prop = mode + (o - dup);
            n_prop++;
        } else {
            n_rw = 99;
        }
    }
    free(dup);
    if (mode[0] == '\0' || n_rw > 1 || n_prop > 1 || n_label > 1 ||
        n_copy > 1)
        return err_set(err, ERR_INVALID, "invalid mode: %s", mode);
    return 0;
}

static bool oci_spec_mounts_is_volume_name(const char *s)
{
    size_t i;

    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
          (s[0] >= '0' && s[0] <= '9')))
        return false;
    for (i = 1; s[i] != '\0'; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static json_t *oci_spec_mounts_bind(const char *src, const char *dst,
                                    bool ro, const char *prop,
                                    bool recursive)
{
    const char *opts[4];
    size_t n = 0;
    char p[16];

    opts[n++] = recursive ? "rbind" : "bind";
    if (ro)
        opts[n++] = "ro";
    snprintf(p, sizeof(p), "%.*s", (int)strcspn(prop, ","), prop);
    opts[n++] = p;
    opts[n] = NULL;
    return oci_spec_mounts_new(dst, "bind", src, opts);
}

/* One HostConfig.Binds entry "src:dst[:mode]". */
static int oci_spec_mounts_parse_bind(const char *spec, json_t *user,
                                      struct err *err)
{
    char *dup = xstrdup(spec);
    char *parts[4];
    int n = 0;
    char *save = NULL;
    char *p;
    char dst[PATH_MAX];
    const char *prop = "rprivate";
    bool ro = false;
    int rv;

    for (p = strtok_r(dup, ":", &save); p != NULL && n < 4;
         p = strtok_r(NULL, ":", &save))
        parts[n++] = p;
    if (spec[0] == ':' || strstr(spec, "::") != NULL ||
        spec[strlen(spec) - 1] == ':' || n < 1 || n > 3) {
        rv = err_set(err, ERR_INVALID, "invalid volume specification: '%s'",
                     spec);
        goto out;
    }
    if (n == 1) {
        rv = err_set(err, ERR_NOTIMPLEMENTED,
                     "invalid volume specification: '%s': anonymous volumes "
                     "are not supported yet",
                     spec);
        goto out;
    }
    if (parts[1][0] != '/') {
        rv = err_set(err, ERR_INVALID,
                     "invalid volume specification: '%s': invalid mount "
                     "config for type \"bind\": invalid mount path: '%s' "
                     "mount path must be absolute",
                     spec, parts[1]);
        goto out;
    }
    oci_spec_mounts_clean(parts[1], dst, sizeof(dst));
    if (strcmp(dst, "/") == 0) {
        rv = err_set(err, ERR_INVALID,
                     "invalid specification: destination can't be '/'");
        goto out;
    }
    if (n == 3 && oci_spec_mounts_bind_mode(parts[2], &ro, &prop, err) < 0) {
        rv = -ERR_INVALID;
        goto out;
    }
    if (parts[0][0] != '/') {
        if (oci_spec_mounts_is_volume_name(parts[0]))
            rv = err_set(err, ERR_NOTIMPLEMENTED,
                         "invalid volume specification: '%s': named "
                         "volumes are not supported yet",
                         spec);
        else
            rv = err_set(err, ERR_INVALID,
                         "invalid volume specification: '%s': \"%s\" "
                         "includes invalid characters for a local volume "
                         "name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are "
                         "allowed. If you intended to pass a host "
                         "directory, use absolute path",
                         spec, parts[0]);
        goto out;
    }
    /* Docker creates a missing source of -v (not of --mount). */
    if (!fsutil_exists(parts[0])) {
        rv = fsutil_mkdir_p(parts[0], 0755, err);
        if (rv < 0)
            goto out;
    }
    rv = oci_spec_mounts_add_user(
        user, oci_spec_mounts_bind(parts[0], dst, ro, prop, true), err);

out:
    free(dup);
    return rv;
}

static int oci_spec_mounts_tmpfs_opts(const char *dst, const char *extra,
                                      int64_t size, int64_t mode,
                                      json_t *user, struct err *err)
{
    static const char *const base[] = {"noexec", "nosuid", "nodev", NULL};
    json_t *m;
    json_t *opts;
    char *dup;
    char *save = NULL;
    char *o;
    char buf[64];
    size_t i;

    m = oci_spec_mounts_new(dst, "tmpfs", "tmpfs", base);
    opts = json_object_get(m, "options");
    dup = xstrdup(extra != NULL ? extra : "");
    for (o = strtok_r(dup, ",", &save); o != NULL;
         o = strtok_r(NULL, ",", &save)) {
        bool done = false;

        /* "exec" undoes the default "noexec", and so on. */
        for (i = 0; !done && i < json_array_size(opts); i++) {
            const char *have = json_string_value(json_array_get(opts, i));

            if (strcmp(have, o) == 0) {
                done = true;
            } else if (strncmp(have, "no", 2) == 0 &&
                       strcmp(have + 2, o) == 0) {
                json_array_remove(opts, i);
                done = true;
            }
        }
        if (!done)
            json_array_append_new(opts, json_string(o));
    }
    free(dup);
    if (size > 0) {
        snprintf(buf, sizeof(buf), "size=%lld", (long long)size);
        json_array_append_new(opts, json_string(buf));
    }
    if (mode > 0) {
        snprintf(buf, sizeof(buf), "mode=%llo", (long long)mode);
        json_array_append_new(opts, json_string(buf));
    }
    return oci_spec_mounts_add_user(user, m, err);
}

int oci_spec_mounts_check_target(const char *type, const char *t,
                                 struct err *err)
{
    if (t == NULL || t[0] == '\0')
        return err_set(err, ERR_INVALID,
                       "invalid mount config for type \"%s\": field Target "
                       "must not be empty",
                       type);
    if (t[0] != '/')
        return err_set(err, ERR_INVALID,
                       "invalid mount config for type \"%s\": invalid mount "
                       "path: '%s' mount path must be absolute",
                       type, t);
    return 0;
}

/* One HostConfig.Mounts entry (types bind and tmpfs). */
static int oci_spec_mounts_parse_mount(const json_t *mnt, json_t *user,
                                       struct err *err)
{
    const json_t *bo = json_object_get(mnt, "BindOptions");
    const json_t *to = json_object_get(mnt, "TmpfsOptions");
    const char *type;
    const char *src;
    const char *target;
    const char *prop;
    char dst[PATH_MAX];
    int64_t size;
    int64_t mode;
    struct stat st;

    if (!json_is_object(mnt))
        return err_set(err, ERR_INVALID, "invalid Mounts: expected objects");
    if (oci_spec_get_str(mnt, "Type", &type, err) < 0 ||
        oci_spec_get_str(mnt, "Source", &src, err) < 0 ||
        oci_spec_get_str(mnt, "Target", &target, err) < 0 ||
        oci_spec_get_str(bo, "Propagation", &prop, err) < 0 ||
        oci_spec_get_int(to, "SizeBytes", &size, err) < 0 ||
        oci_spec_get_int(to, "Mode", &mode, err) < 0)
        return -ERR_INVALID;
    if (type == NULL)
        type = "";
    if (strcmp(type, "volume") == 0)
        return err_set(err, ERR_NOTIMPLEMENTED,
                       "invalid mount config for type \"volume\": volumes "
                       "are not supported yet");
    if (strcmp(type, "bind") != 0 && strcmp(type, "tmpfs") != 0)
        return err_set(err, ERR_INVALID,
                       "invalid mount config for type \"%s\": mount type "
                       "unknown",
                       type);
    if (oci_spec_mounts_check_target(type, target, err) < 0)
        return -ERR_INVALID;
    oci_spec_mounts_clean(target, dst, sizeof(dst));
    if (strcmp(type, "tmpfs") == 0) {
        if (src != NULL && src[0] != '\0')
            return err_set(err, ERR_INVALID,
                           "invalid mount config for type \"tmpfs\": field "
                           "Source must not be specified");
        if (bo != NULL && !json_is_null(bo))
            return err_set(err, ERR_INVALID,
                           "invalid mount config for type \"tmpfs\": field "
                           "BindOptions must not be specified");
        if (size < 0)
            return err_set(err, ERR_INVALID,
                           "invalid mount config for type \"tmpfs\": "
                           "invalid tmpfs size %lld",
                           (long long)size);
        if (mode < 0 || mode > 07777)
            return err_set(err, ERR_INVALID,
                           "invalid mount config for type \"tmpfs\": "
                           "invalid tmpfs mode %lld",
                           (long long)mode);
        return oci_spec_mounts_tmpfs_opts(
            dst, oci_spec_get_bool(mnt, "ReadOnly") ? "ro" : NULL, size, mode,
            user, err);
    }
    if (to != NULL && !json_is_null(to))
        return err_set(err, ERR_INVALID,
                       "invalid mount config for type \"bind\": field "
                       "TmpfsOptions must not be specified");
    if (src == NULL || src[0] == '\0')
        return err_set(err, ERR_INVALID,
                       "invalid mount config for type \"bind\": field "
                       "Source must not be empty");
    if (src[0] != '/')
        return err_set(err, ERR_INVALID,
                       "invalid mount config for type \"bind\": invalid "
                       "mount path: '%s' mount path must be absolute",
                       src);
    if (stat(src, &st) == -1)
        return err_set(err, ERR_INVALID,
                       "invalid mount config for type \"bind\": bind source "
                       "path does not exist: %s",
                       src);
    if (prop == NULL || prop[0] == '\0')
        prop = "rprivate";
    if (!oci_spec_mounts_is_propagation(prop))
        return err_set(err, ERR_INVALID,
                       "invalid mount config for type \"bind\": invalid "
                       "propagation mode: %s",
                       prop);
    return oci_spec_mounts_add_user(
        user,
        oci_spec_mounts_bind(src, dst, oci_spec_get_bool(mnt, "ReadOnly"),
                             prop, !oci_spec_get_bool(bo, "NonRecursive")),
        err);
}

/* Binds, Mounts, Tmpfs into user (destinations cleaned, no duplicate). */
static int oci_spec_mounts_user(const json_t *hc, json_t *user,
                                struct err *err)
{
    const json_t *binds;
    const json_t *mounts = json_object_get(hc, "Mounts");
    const json_t *tmpfs = json_object_get(hc, "Tmpfs");
    const json_t *v;
    const char *key;
    char dst[PATH_MAX];
    size_t i;

    if (oci_spec_get_strv(hc, "Binds", &binds, err) < 0)
        return -ERR_INVALID;
    json_array_foreach(binds, i, v) {
        if (oci_spec_mounts_parse_bind(json_string_value(v), user, err) < 0)
            return -err->code;
    }
    if (mounts != NULL && !json_is_null(mounts) && !json_is_array(mounts))
        return err_set(err, ERR_INVALID, "invalid Mounts: expected an array");
    json_array_foreach(mounts, i, v) {
        if (oci_spec_mounts_parse_mount(v, user, err) < 0)
            return -err->code;
    }
    if (tmpfs != NULL && !json_is_null(tmpfs) && !json_is_object(tmpfs))
        return err_set(err, ERR_INVALID, "invalid Tmpfs: expected an object");
    json_object_foreach((json_t *)tmpfs, key, v) {
        if (!json_is_string(v))
            return err_set(err, ERR_INVALID,
                           "invalid Tmpfs: expected string options");
        if (oci_spec_mounts_check_target("tmpfs", key, err) < 0)
            return -ERR_INVALID;
        oci_spec_mounts_clean(key, dst, sizeof(dst));
        if (oci_spec_mounts_tmpfs_opts(dst, json_string_value(v), 0, 0, user,
                                       err) < 0)
            return -ERR_INVALID;
    }
    return 0;
}

/* Docker's resolv.conf: the host's without loopback nameservers (they
 * cannot answer inside the container's network namespace), Google's
 * public resolvers when none is left; HostConfig.Dns/DnsSearch/DnsOptions
 * replace the host's lines. */
static int oci_spec_mounts_resolv(const json_t *hc, bool host_net,
                                  struct buf *out, struct err *err)
{
    const json_t *dns;
    const json_t *search;
    const json_t *opts;
    const json_t *v;
    char *host = NULL;
    char *save = NULL;
    char *line;
    size_t len;
    size_t i;
    int n_ns = 0;

    if (oci_spec_get_strv(hc, "Dns", &dns, err) < 0 ||
        oci_spec_get_strv(hc, "DnsSearch", &search, err) < 0 ||
        oci_spec_get_strv(hc, "DnsOptions", &opts, err) < 0)
        return -ERR_INVALID;
    if (fsutil_read_all("/etc/resolv.conf", OCI_SPEC_MOUNTS__FILE_MAX, &host,
                        &len, NULL) < 0)
        host = xstrdup("");
    for (line = strtok_r(host, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        const char *ns = line + strlen("nameserver");
        bool is_ns = strncmp(line, "nameserver", 10) == 0 &&
                     (*ns == ' ' || *ns == '\t');

        while (is_ns && (*ns == ' ' || *ns == '\t'))
            ns++;
        if (is_ns && (json_array_size(dns) > 0 ||
                      (!host_net && (strncmp(ns, "127.", 4) == 0 ||
                                     strncmp(ns, "::1", 3) == 0))))
            continue;
        if (strncmp(line, "search", 6) == 0 && json_array_size(search) > 0)
            continue;
        if (strncmp(line, "options", 7) == 0 && json_array_size(opts) > 0)
            continue;
        n_ns += is_ns;
        buf_printf(out, "%s\n", line);
    }
    free(host);
    json_array_foreach(dns, i, v) {
        buf_printf(out, "nameserver %s\n", json_string_value(v));
        n_ns++;
    }
    if (n_ns == 0)
        buf_printf(out, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    if (json_array_size(search) > 0) {
        buf_printf(out, "search");
        json_array_foreach(search, i, v) {
            buf_printf(out, " %s", json_string_value(v));
        }
        buf_printf(out, "\n");
    }
    if (json_array_size(opts) > 0) {
        buf_printf(out, "options");
        json_array_foreach(opts, i, v) {
            buf_printf(out, " %s", json_string_value(v));
        }
        buf_printf(out, "\n");
    }
    return 0;
}

/* Docker's /etc/hosts: localhost lines, ExtraHosts ("name:ip"), the
 * container's own name. With host networking, the host's file. */
static int oci_spec_mounts_hosts(const json_t *ctr, const char *hostname,
                                 bool host_net, struct buf *out,
                                 struct err *err)
{
    const json_t *hc = json_object_get(ctr, "HostConfig");
    const json_t *ns = json_object_get(ctr, "NetworkSettings");
    const json_t *extra;
    const json_t *v;
    const char *ip = NULL;
    const char *domain = NULL;
    char *host = NULL;
    size_t len;
    size_t i;

    if (oci_spec_get_strv(hc, "ExtraHosts", &extra, err) < 0 ||
        oci_spec_get_str(ns, "IPAddress", &ip, err) < 0 ||
        oci_spec_get_str(json_object_get(ctr, "Config"), "Domainname",
                         &domain, err) < 0)
        return -ERR_INVALID;
    if (host_net && fsutil_read_all("/etc/hosts", OCI_SPEC_MOUNTS__FILE_MAX,
                                    &host, &len, NULL) == 0) {
        buf_printf(out, "%s", host);
        free(host);
    } else {
        buf_printf(out, "127.0.0.1\tlocalhost\n"
                        "::1\tlocalhost ip6-localhost ip6-loopback\n"
                        "fe00::\tip6-localnet\n"
                        "ff00::\tip6-mcastprefix\n"
                        "ff02::1\tip6-allnodes\n"
                        "ff02::2\tip6-allrouters\n");
    }
    json_array_foreach(extra, i, v) {
        const char *s = json_string_value(v);
        const char *c = strchr(s, ':');

        if (c == NULL || c == s || c[1] == '\0' || strpbrk(s, " \t\n") != NULL)
            return err_set(err, ERR_INVALID, "invalid argument \"%s\" for "
                                             "\"--add-host\" flag",
                           s);
        buf_printf(out, "%s\t%.*s\n", c + 1, (int)(c - s), s);
    }
    if (host_net)
        return 0;
    if (ip == NULL || ip[0] == '\0')
        ip = "127.0.0.1";
    if (domain != NULL && domain[0] != '\0')
        buf_printf(out, "%s\t%s.%s %s\n", ip, hostname, domain, hostname);
    else
        buf_printf(out, "%s\t%s\n", ip, hostname);
    return 0;
}

static int oci_spec_mounts_write(const char *cdir, const char *name,
                                 const struct buf *b, char **out_path,
                                 struct err *err)
{
    char *path = xasprintf("%s/%s", cdir, name);
    int rv;

    /* Not synced: rewritten at every start. */
    rv = fsutil_write_atomic_ex(path, b->data, b->len, 0644, FSUTIL_NO_SYNC,
                                err);
    if (rv < 0) {
        free(path);
        return rv;
    }
    *out_path = path;
    return 0;
}

/* The three /etc files, written into cdir, bound unless the user mounts
 * something there. */
static int oci_spec_mounts_etc(json_t *list, const json_t *ctr,
                               const json_t *user, const char *cdir,
                               const char *hostname, bool host_net,
                               struct err *err)
{
    static const char *const opts[] = {"rbind", "rprivate", NULL};
    static const char *const names[] = {"resolv.conf", "hostname", "hosts"};
    const json_t *hc = json_object_get(ctr, "HostConfig");
    struct buf b;
    char *path = NULL;
    char dst[32];
    size_t i;
    int rv = 0;

    for (i = 0; i < 3 && rv == 0; i++) {
        buf_init(&b, OCI_SPEC_MOUNTS__FILE_MAX * 2);
        if (i == 0)
            rv = oci_spec_mounts_resolv(hc, host_net, &b, err);
        else if (i == 1)
            rv = buf_printf(&b, "%s\n", hostname) < 0 ? -ERR_INTERNAL : 0;
        else
            rv = oci_spec_mounts_hosts(ctr, hostname, host_net, &b, err);
        if (rv == 0)
            rv = oci_spec_mounts_write(cdir, names[i], &b, &path, err);
        buf_release(&b);
        if (rv < 0)
            break;
        snprintf(dst, sizeof(dst), "/etc/%s", names[i]);
        if (!oci_spec_mounts_has(user, dst))
            json_array_append_new(list,
                                  oci_spec_mounts_new(dst, "bind", path, opts));
        free(path);
        path = NULL;
    }
    return rv;
}

/* Docker's default mounts, less those a user mount replaces (a user /dev
 * replaces everything under /dev). */
static void oci_spec_mounts_defaults(json_t *list, const json_t *hc,
                                     const json_t *user, bool privileged)
{
    static const char *const proc[] = {"nosuid", "noexec", "nodev", NULL};
    static const char *const dev[] = {"nosuid", "strictatime", "mode=755",
                                      "size=65536k", NULL};
    static const char *const pts[] = {"nosuid", "noexec", "newinstance",
                                      "ptmxmode=0666", "mode=0620", "gid=5",
                                      NULL};
    static const char *const sys_ro[] = {"nosuid", "noexec", "nodev", "ro",
                                         NULL};
    static const char *const mq[] = {"nosuid", "noexec", "nodev", NULL};
    static const char *const shm_host[] = {"rbind", "rprivate", NULL};
    const char *const *sys = privileged ? proc : sys_ro;
    const char *ipc = NULL;
    bool host_ipc;
    const char *shm[6] = {"nosuid", "noexec", "nodev", "mode=1777", NULL,
                          NULL};
    char size[48];
    int64_t shm_size = 0;
    bool user_dev = oci_spec_mounts_has(user, "/dev");
    json_t *all = json_array();
    const json_t *m;
    size_t i;

    (void)oci_spec_get_int(hc, "ShmSize", &shm_size, NULL);
    snprintf(size, sizeof(size), "size=%lld",
             (long long)(shm_size > 0 ? shm_size
                                      : OCI_SPEC_MOUNTS__SHM_DEFAULT));
    shm[4] = size;
    json_array_append_new(all, oci_spec_mounts_new("/proc", "proc", "proc",
                                                   proc));
    json_array_append_new(all, oci_spec_mounts_new("/dev", "tmpfs", "tmpfs",
                                                   dev));
    json_array_append_new(all, oci_spec_mounts_new("/dev/pts", "devpts",
                                                   "devpts", pts));
    json_array_append_new(all, oci_spec_mounts_new("/sys", "sysfs", "sysfs",
                                                   sys));
    json_array_append_new(all, oci_spec_mounts_new("/sys/fs/cgroup", "cgroup",
                                                   "cgroup", sys));
    json_array_append_new(all, oci_spec_mounts_new("/dev/mqueue", "mqueue",
                                                   "mqueue", mq));
    json_array_append_new(all, oci_spec_mounts_new("/dev/shm", "tmpfs", "shm",
                                                   shm));
    (void)oci_spec_get_str(hc, "IpcMode", &ipc, NULL);
    host_ipc = ipc != NULL && strcmp(ipc, "host") == 0;
    json_array_foreach(all, i, m) {
        const char *dst = oci_spec_mounts_dst(m);

        if (oci_spec_mounts_has(user, dst))
            continue;
        /* The host's IPC namespace: its /dev/shm, no mqueue of our own. */
        if (host_ipc && strcmp(dst, "/dev/mqueue") == 0)
            continue;
        if (host_ipc && strcmp(dst, "/dev/shm") == 0) {
            json_array_append_new(list,
                                  oci_spec_mounts_new(dst, "bind", "/dev/shm",
                                                      shm_host));
            continue;
        }
        if (user_dev && strncmp(dst, "/dev/", 5) == 0)
            continue;
        json_array_append(list, (json_t *)m);
    }
    json_decref(all);
}

static size_t oci_spec_mounts_depth(const json_t *m)
{
    const char *s = oci_spec_mounts_dst(m);
    size_t n = 0;

    for (; *s != '\0'; s++)
        n += *s == '/';
    return n;
}

/* Stable sort by depth, so a parent is mounted before what is inside. */
static void oci_spec_mounts_sort(json_t *list)
{
    size_t n = json_array_size(list);
    size_t i;
    size_t j;

    for (i = 1; i < n; i++) {
        for (j = i; j > 0; j--) {
            json_t *a = json_array_get(list, j - 1);
            json_t *b = json_array_get(list, j);

            if (oci_spec_mounts_depth(a) <= oci_spec_mounts_depth(b))
                break;
            json_incref(a);
            json_array_set(list, j - 1, b);
            json_array_set_new(list, j, a);
        }
    }
}

/* ReadonlyRootfs: Docker makes the mounts that are not the user's, /proc
 * and /dev ones read only too. */
static void oci_spec_mounts_readonly(json_t *list, const json_t *user)
{
    static const char *const skip[] = {"/proc", "/dev", "/dev/pts",
                                       "/dev/shm", "/dev/mqueue", NULL};
    const json_t *m;
    size_t i;
    size_t k;

    json_array_foreach(list, i, m) {
        const char *dst = oci_spec_mounts_dst(m);
        json_t *opts = json_object_get(m, "options");
        bool keep = oci_spec_mounts_has(user, dst);
        bool has_ro = false;
        const json_t *o;
        size_t j;

        for (k = 0; !keep && skip[k] != NULL; k++)
            keep = strcmp(dst, skip[k]) == 0;
        if (keep)
            continue;
        json_array_foreach(opts, j, o) {
            has_ro = has_ro || strcmp(json_string_value(o), "ro") == 0;
        }
        if (!has_ro)
            json_array_append_new(opts, json_string("ro"));
    }
}

int oci_spec_mounts_build(json_t *spec, const json_t *ctr, const char *cdir,
                          const char *hostname, bool host_net,
                          struct err *err)
{
    static const char *const init_opts[] = {"bind", "ro", "rprivate", NULL};
    const json_t *hc = json_object_get(ctr, "HostConfig");
    json_t *list = json_object_get(spec, "mounts");
    json_t *user = json_array();
    json_t *own = json_array();
    const json_t *m;
    size_t i;
    int rv;

    rv = oci_spec_mounts_user(hc, user, err);
    if (rv < 0)
        goto out;
    oci_spec_mounts_defaults(list, hc, user,
                             oci_spec_get_bool(hc, "Privileged"));
    rv = oci_spec_mounts_etc(own, ctr, user, cdir, hostname, host_net, err);
    if (rv < 0)
        goto out;
    if (oci_spec_get_bool(hc, "Init") &&
        !oci_spec_mounts_has(user, OCI_SPEC_INIT_PATH))
        json_array_append_new(own,
                              oci_spec_mounts_new(OCI_SPEC_INIT_PATH, "bind",
                                                  OCI_SPEC_INIT_SOURCE,
                                                  init_opts));
    json_array_extend(own, user);
    oci_spec_mounts_sort(own);
    json_array_foreach(own, i, m) {
        json_array_append(list, (json_t *)m);
    }
    if (oci_spec_get_bool(hc, "ReadonlyRootfs"))
        oci_spec_mounts_readonly(list, user);

out:
    json_decref(own);
    json_decref(user);
    return rv;
}

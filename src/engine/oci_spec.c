/* SPDX-License-Identifier: Apache-2.0 */
/* The OCI spec of a container: Docker's merge of container and image
 * config, the process object, and the whole config.json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base/mem.h"
#include "engine/oci_spec.h"
#include "engine/oci_spec_int.h"

/* Docker's minimum runc understands: runc 1.1 speaks 1.0.2. */
#define OCI_SPEC__VERSION "1.0.2"
#define OCI_SPEC__HOSTNAME_MAX 64

int oci_spec_get_str(const json_t *obj, const char *key, const char **out,
                     struct err *err)
{
    const json_t *v = obj != NULL ? json_object_get(obj, key) : NULL;

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return err_set(err, ERR_INVALID, "invalid %s: expected a string",
                       key);
    *out = json_string_value(v);
    return 0;
}

int oci_spec_get_int(const json_t *obj, const char *key, int64_t *out,
                     struct err *err)
{
    const json_t *v = obj != NULL ? json_object_get(obj, key) : NULL;

    *out = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v))
        return err_set(err, ERR_INVALID, "invalid %s: expected an integer",
                       key);
    *out = json_integer_value(v);
    return 0;
}

bool oci_spec_get_bool(const json_t *obj, const char *key)
{
    const json_t *v = obj != NULL ? json_object_get(obj, key) : NULL;

    return json_is_true(v);
}

int oci_spec_get_strv(const json_t *obj, const char *key,
                      const json_t **out, struct err *err)
{
    const json_t *v = obj != NULL ? json_object_get(obj, key) : NULL;
    const json_t *e;
    size_t i;

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return err_set(err, ERR_INVALID,
                       "invalid %s: expected an array of strings", key);
    json_array_foreach(v, i, e) {
        if (!json_is_string(e))
            return err_set(err, ERR_INVALID,
                           "invalid %s: expected an array of strings", key);
    }
    *out = v;
    return 0;
}

json_t *oci_spec_strv(const char *const *v)
{
    json_t *a = json_array();

    while (*v != NULL) {
        json_array_append_new(a, json_string(*v));
        v++;
    }
    return a;
}

/* The key of "KEY=value" (or of "KEY"): its length. */
static size_t oci_spec_env_key_len(const char *e)
{
    const char *eq = strchr(e, '=');

    return eq != NULL ? (size_t)(eq - e) : strlen(e);
}

static ssize_t oci_spec_env_find(const json_t *env, const char *e,
                                 size_t key_len)
{
    const json_t *v;
    size_t i;

    json_array_foreach(env, i, v) {
        const char *s = json_string_value(v);

        if (oci_spec_env_key_len(s) == key_len &&
            strncmp(s, e, key_len) == 0)
            return (ssize_t)i;
    }
    return -1;
}

/* Docker's ReplaceOrAppendEnvValues: overrides replace the default with
 * the same key in place or are appended; a bare "KEY" unsets KEY. */
static void oci_spec_env_merge(json_t *env, const json_t *overrides)
{
    const json_t *v;
    size_t i;

    json_array_foreach(overrides, i, v) {
        const char *s = json_string_value(v);
        size_t key_len = oci_spec_env_key_len(s);
        ssize_t at = oci_spec_env_find(env, s, key_len);

        if (s[key_len] != '=') {
            if (at >= 0)
                json_array_remove(env, (size_t)at);
            continue;
        }
        if (at >= 0)
            json_array_set_new(env, (size_t)at, json_string(s));
        else
            json_array_append_new(env, json_string(s));
    }
}

static bool oci_spec_is_set(const json_t *v)
{
    return v != NULL && !json_is_null(v);
}

static bool oci_spec_is_empty_list(const json_t *v)
{
    return !json_is_array(v) || json_array_size(v) == 0;
}

json_t *oci_spec_merge_config(const json_t *config, const json_t *image_config)
{
    static const char *const inherit[] = {"WorkingDir", "User", "StopSignal",
                                          "Healthcheck", "Volumes",
                                          "ExposedPorts", "Shell", NULL};
    const json_t *img = json_object_get(image_config, "config");
    json_t *out;
    json_t *env;
    json_t *labels;
    json_t *own_labels;
    const json_t *v;
    const char *key;
    size_t i;

    out = json_is_object(config) ? json_deep_copy(config) : json_object();
    if (!json_is_object(img))
        return out;
    /* Env: the image's, then the container's over it. */
    env = json_array();
    json_array_foreach(json_object_get(img, "Env"), i, v) {
        const char *e = json_string_value(v);

        if (e != NULL &&
            oci_spec_env_find(env, e, oci_spec_env_key_len(e)) < 0)
            json_array_append(env, (json_t *)v);
    }
    if (json_is_array(json_object_get(out, "Env"))) {
        json_t *own = json_array();

        json_array_foreach(json_object_get(out, "Env"), i, v) {
            if (json_is_string(v))
                json_array_append(own, (json_t *)v);
        }
        oci_spec_env_merge(env, own);
        json_decref(own);
    }
    json_object_set_new(out, "Env", env);
    /* Cmd and Entrypoint: daemon/create's merge. */
    if (oci_spec_is_empty_list(json_object_get(out, "Entrypoint"))) {
        if (oci_spec_is_empty_list(json_object_get(out, "Cmd")) &&
            oci_spec_is_set(json_object_get(img, "Cmd")))
            json_object_set_new(out, "Cmd",
                                json_deep_copy(json_object_get(img, "Cmd")));
        if (!oci_spec_is_set(json_object_get(out, "Entrypoint")) &&
            oci_spec_is_set(json_object_get(img, "Entrypoint")))
            json_object_set_new(
                out, "Entrypoint",
                json_deep_copy(json_object_get(img, "Entrypoint")));
    }
    for (i = 0; inherit[i] != NULL; i++) {
        const json_t *mine = json_object_get(out, inherit[i]);

        v = json_object_get(img, inherit[i]);
        if (!oci_spec_is_set(v))
            continue;
        if (oci_spec_is_set(mine) &&
            !(json_is_string(mine) && json_string_length(mine) == 0))
            continue;
        json_object_set_new(out, inherit[i], json_deep_copy(v));
    }
    /* Labels: the image's, the container's over them. */
    if (json_is_object(json_object_get(img, "Labels"))) {
        labels = json_deep_copy(json_object_get(img, "Labels"));
        own_labels = json_object_get(out, "Labels");
        if (json_is_object(own_labels)) {
            json_object_foreach(own_labels, key, v) {
                json_object_set(labels, key, (json_t *)v);
            }
        }
        json_object_set_new(out, "Labels", labels);
    }
    return out;
}

/* Docker's container environment: PATH, HOSTNAME, TERM when tty, then
 * the container's env (and the exec's) over them. */
static json_t *oci_spec_env(const json_t *config_env, const json_t *extra,
                            const char *hostname, bool tty)
{
    json_t *env = json_array();
    char *h = xasprintf("HOSTNAME=%s", hostname);

    json_array_append_new(env, json_string("PATH=" OCI_SPEC_DEFAULT_PATH));
    json_array_append_new(env, json_string(h));
    free(h);
    if (tty)
        json_array_append_new(env, json_string("TERM=xterm"));
    if (config_env != NULL)
        oci_spec_env_merge(env, config_env);
    if (extra != NULL)
        oci_spec_env_merge(env, extra);
    return env;
}

/* Entrypoint + Cmd, with Init's /sbin/docker-init in front. An
 * Entrypoint of [""] (docker run --entrypoint "") counts as none. */
static json_t *oci_spec_args(const json_t *config, bool init,
                             struct err *err)
{
    const json_t *entry;
    const json_t *cmd;
    const json_t *v;
    json_t *args;
    size_t i;

    if (oci_spec_get_strv(config, "Entrypoint", &entry, err) < 0 ||
        oci_spec_get_strv(config, "Cmd", &cmd, err) < 0)
        return NULL;
    args = json_array();
    if (init) {
        json_array_append_new(args, json_string(OCI_SPEC_INIT_PATH));
        json_array_append_new(args, json_string("--"));
    }
    if (json_array_size(entry) == 1 &&
        json_string_length(json_array_get(entry, 0)) == 0)
        entry = NULL;
    json_array_foreach(entry, i, v) {
        json_array_append(args, (json_t *)v);
    }
    json_array_foreach(cmd, i, v) {
        json_array_append(args, (json_t *)v);
    }
    if (json_array_size(args) == (init ? 2u : 0u) ||
        json_string_length(json_array_get(args, init ? 2 : 0)) == 0) {
        json_decref(args);
        err_set(err, ERR_INVALID, "no command specified");
        return NULL;
    }
    return args;
}

static int oci_spec_check_cwd(const char *cwd, struct err *err)
{
    if (cwd[0] != '/')
        return err_set(err, ERR_INVALID,
                       "the working directory '%s' is invalid, it needs to "
                       "be an absolute path",
                       cwd);
    return 0;
}

static bool oci_spec_has_opt(const json_t *hc, const char *key,
                             const char *opt)
{
    const json_t *v;
    size_t i;
    size_t n = strlen(opt);

    json_array_foreach(json_object_get(hc, key), i, v) {
        const char *s = json_string_value(v);

        if (s == NULL || strncmp(s, opt, n) != 0)
            continue;
        if (s[n] == '\0' || strcmp(s + n, ":true") == 0 ||
            strcmp(s + n, "=true") == 0)
            return true;
    }
    return false;
}

/* The process object common to the container and its execs. */
static json_t *oci_spec_process(const json_t *config, const json_t *hc,
                                const char *rootfs, const char *user,
                                json_t **args, const json_t *env_extra,
                                const char *cwd, const char *hostname,
                                bool tty, bool privileged, struct err *err)
{
    json_t *proc = NULL;
    json_t *juser = NULL;
    json_t *caps = NULL;
    json_t *rlimits = NULL;
    const json_t *env;
    int64_t oom = 0;

    if (oci_spec_get_strv(config, "Env", &env, err) < 0)
        return NULL;
    if (cwd == NULL || cwd[0] == '\0')
        cwd = "/";
    if (oci_spec_check_cwd(cwd, err) < 0)
        return NULL;
    if (oci_spec_get_int(hc, "OomScoreAdj", &oom, err) < 0)
        return NULL;
    juser = oci_spec_user_resolve(rootfs, user != NULL ? user : "",
                                  json_object_get(hc, "GroupAdd"), err);
    if (juser == NULL)
        return NULL;
    caps = oci_spec_caps_build(hc, privileged, err);
    if (caps == NULL)
        goto err_after_user;
    rlimits = oci_spec_linux_rlimits(hc, err);
    if (rlimits == NULL)
        goto err_after_caps;
    proc = json_object();
    json_object_set_new(proc, "terminal", json_boolean(tty));
    json_object_set_new(proc, "user", juser);
    json_object_set_new(proc, "args", *args);
    *args = NULL;
    json_object_set_new(proc, "env",
                        oci_spec_env(env, env_extra, hostname, tty));
    json_object_set_new(proc, "cwd", json_string(cwd));
    json_object_set_new(proc, "capabilities", caps);
    json_object_set_new(proc, "rlimits", rlimits);
    json_object_set_new(
        proc, "noNewPrivileges",
        json_boolean(oci_spec_has_opt(hc, "SecurityOpt", "no-new-privileges")));
    json_object_set_new(proc, "oomScoreAdj", json_integer(oom));
    return proc;

err_after_caps:
    json_decref(caps);
err_after_user:
    json_decref(juser);
    return NULL;
}

static int oci_spec_check_hostname(const char *h, struct err *err)
{
    size_t i;
    size_t n = strlen(h);

    if (n == 0 || n > OCI_SPEC__HOSTNAME_MAX)
        return err_set(err, ERR_INVALID, "invalid hostname format: %s", h);
    for (i = 0; i < n; i++) {
        char c = h[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
            return err_set(err, ERR_INVALID, "invalid hostname format: %s",
                           h);
    }
    return 0;
}

/* Config.Hostname, the host's name for host networking, else the first
 * 12 characters of the ID. */
static int oci_spec_hostname(const json_t *config, const char *id,
                             bool host_net, char *out, size_t out_len,
                             struct err *err)
{
    const char *h;

    if (oci_spec_get_str(config, "Hostname", &h, err) < 0)
        return -ERR_INVALID;
    if (h != NULL && h[0] != '\0') {
        if (oci_spec_check_hostname(h, err) < 0)
            return -ERR_INVALID;
        snprintf(out, out_len, "%s", h);
    } else if (host_net) {
        if (gethostname(out, out_len) == -1)
            snprintf(out, out_len, "localhost");
        out[out_len - 1] = '\0';
    } else {
        snprintf(out, out_len, "%.12s", id);
    }
    return 0;
}

static int oci_spec_check_id(const char *id, struct err *err)
{
    size_t i;

    if (id == NULL || strlen(id) < 12 || strlen(id) > 64)
        return err_set(err, ERR_INVALID, "invalid container ID");
    for (i = 0; id[i] != '\0'; i++) {
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'z')))
            return err_set(err, ERR_INVALID, "invalid container ID: %s", id);
    }
    return 0;
}

json_t *oci_spec_build(const json_t *ctr, const json_t *image_config,
                       const char *rootfs, const char *cdir, struct err *err)
{
    const json_t *hc = json_object_get(ctr, "HostConfig");
    json_t *config = NULL;
    json_t *spec = NULL;
    json_t *args = NULL;
    json_t *proc;
    json_t *root;
    json_t *linux_;
    const char *id;
    const char *net;
    const char *user;
    const char *cwd;
    const char *uts;
    char hostname[OCI_SPEC__HOSTNAME_MAX + 2];
    bool host_net = false;
    bool init;
    bool privileged;

    if (oci_spec_get_str(ctr, "Id", &id, err) < 0 ||
        oci_spec_check_id(id, err) < 0)
        return NULL;
    if (hc != NULL && !json_is_object(hc)) {
        err_set(err, ERR_INVALID, "invalid HostConfig: expected an object");
        return NULL;
    }
    if (oci_spec_linux_validate(hc, err) < 0)
        return NULL;
    if (oci_spec_get_str(hc, "NetworkMode", &net, err) < 0 ||
        oci_spec_linux_ns_mode("network", net, &host_net, err) < 0)
        return NULL;
    config = oci_spec_merge_config(json_object_get(ctr, "Config"),
                                   image_config);
    if (oci_spec_hostname(config, id, host_net, hostname, sizeof(hostname),
                          err) < 0)
        goto err_after_config;
    init = oci_spec_get_bool(hc, "Init");
    privileged = oci_spec_get_bool(hc, "Privileged");
    if (init && access(OCI_SPEC_INIT_SOURCE, X_OK) == -1) {
        err_set(err, ERR_INTERNAL,
                "docker-init binary not found: %s (install tini)",
                OCI_SPEC_INIT_SOURCE);
        goto err_after_config;
    }
    args = oci_spec_args(config, init, err);
    if (args == NULL)
        goto err_after_config;
    if (oci_spec_get_str(config, "User", &user, err) < 0 ||
        oci_spec_get_str(config, "WorkingDir", &cwd, err) < 0)
        goto err_after_args;
    proc = oci_spec_process(config, hc, rootfs, user, &args, NULL, cwd,
                            hostname, oci_spec_get_bool(config, "Tty"),
                            privileged, err);
    if (proc == NULL)
        goto err_after_args;
    spec = json_object();
    json_object_set_new(spec, "ociVersion", json_string(OCI_SPEC__VERSION));
    json_object_set_new(spec, "process", proc);
    root = json_object();
    json_object_set_new(root, "path", json_string(rootfs));
    json_object_set_new(root, "readonly",
                        json_boolean(oci_spec_get_bool(hc, "ReadonlyRootfs")));
    json_object_set_new(spec, "root", root);
    /* runc sets no hostname without a UTS namespace of its own. */
    if (oci_spec_get_str(hc, "UTSMode", &uts, err) < 0)
        goto err_after_spec;
    if (uts == NULL || strcmp(uts, "host") != 0)
        json_object_set_new(spec, "hostname", json_string(hostname));
    json_object_set_new(spec, "mounts", json_array());
    if (oci_spec_mounts_build(spec, ctr, cdir, hostname, host_net, err) < 0)
        goto err_after_spec;
    linux_ = oci_spec_linux_build(hc, id, err);
    if (linux_ == NULL)
        goto err_after_spec;
    json_object_set_new(spec, "linux", linux_);
    json_decref(config);
    return spec;

err_after_spec:
    json_decref(spec);
err_after_args:
    json_decref(args);
err_after_config:
    json_decref(config);
    return NULL;
}

json_t *oci_spec_exec_process(const json_t *ctr, const json_t *exec_config,
                              struct err *err)
{
    const json_t *config = json_object_get(ctr, "Config");
    const json_t *hc = json_object_get(ctr, "HostConfig");
    const json_t *gd = json_object_get(ctr, "GraphDriver");
    const json_t *cmd;
    const json_t *env;
    const json_t *v;
    const char *user;
    const char *cwd;
    const char *rootfs;
    const char *net;
    const char *id;
    char hostname[OCI_SPEC__HOSTNAME_MAX + 2];
    json_t *args;
    json_t *proc;
    bool host_net = false;
    size_t i;

    if (oci_spec_get_strv(exec_config, "Cmd", &cmd, err) < 0 ||
        oci_spec_get_strv(exec_config, "Env", &env, err) < 0)
        return NULL;
    if (cmd == NULL || json_array_size(cmd) == 0 ||
        json_string_length(json_array_get(cmd, 0)) == 0) {
        err_set(err, ERR_INVALID, "No exec command specified");
        return NULL;
    }
    if (oci_spec_get_str(exec_config, "User", &user, err) < 0 ||
        oci_spec_get_str(exec_config, "WorkingDir", &cwd, err) < 0 ||
        oci_spec_get_str(ctr, "Id", &id, err) < 0 ||
        oci_spec_check_id(id, err) < 0 ||
        oci_spec_get_str(hc, "NetworkMode", &net, err) < 0 ||
        oci_spec_linux_ns_mode("network", net, &host_net, err) < 0 ||
        oci_spec_get_str(json_object_get(gd, "Data"), "MergedDir", &rootfs,
                         err) < 0)
        return NULL;
    if (user == NULL || user[0] == '\0') {
        if (oci_spec_get_str(config, "User", &user, err) < 0)
            return NULL;
    }
    if (cwd == NULL || cwd[0] == '\0') {
        if (oci_spec_get_str(config, "WorkingDir", &cwd, err) < 0)
            return NULL;
    }
    if (oci_spec_hostname(config, id, host_net, hostname, sizeof(hostname),
                          err) < 0)
        return NULL;
    args = json_array();
    json_array_foreach(cmd, i, v) {
        json_array_append(args, (json_t *)v);
    }
    proc = oci_spec_process(config, hc, rootfs, user, &args, env, cwd,
                            hostname, oci_spec_get_bool(exec_config, "Tty"),
                            oci_spec_get_bool(exec_config, "Privileged") ||
                                oci_spec_get_bool(hc, "Privileged"),
                            err);
    json_decref(args);
    return proc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Container lifecycle: create, start, stop, kill, restart, remove, wait,
 * rename, the runtime's exit reports and recovery after a restart. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/mem.h"
#include "engine/engine_int.h"
#include "engine/image_store.h"
#include "engine/oci_spec.h"
#include "engine/rootfs.h"
#include "engine/runtime.h"

#define ENGINE_CONTAINER__DEFAULT_STOP 10
/* Docker's restart back-off: 100 ms doubling up to 1 min, back to the
 * start once a run lasted 10 s. */
#define ENGINE_CONTAINER__BACKOFF_MIN 100
#define ENGINE_CONTAINER__BACKOFF_MAX 60000
#define ENGINE_CONTAINER__BACKOFF_RESET 10.0

/* --- helpers ------------------------------------------------------------ */

static void engine_container_save(struct engine_ctr *c)
{
    struct err err;

    err_clear(&err);
    if (engine_state_save(c, c->e->cdir_root, &err) != 0)
        log_error(LOG_MAIN, "container %s: saving state: %s", c->id,
                  err.msg);
}

static void engine_container_add_waiter(struct engine_ctr *c, int kind,
                                        engine_done_cb cb, void *data)
{
    struct engine_waiter *w = xcalloc(1, sizeof(*w));
    struct engine_waiter **pp = &c->waiters;

    w->kind = kind;
    w->cb = cb;
    w->data = data;
    while (*pp != NULL)
        pp = &(*pp)->next;
    *pp = w;
}

/* Complete the waiters of one kind (all kinds when kind < 0). */
static void engine_container_wake(struct engine_ctr *c, int kind, int status,
                                  const struct err *err)
{
    struct engine_waiter **pp = &c->waiters;

    while (*pp != NULL) {
        struct engine_waiter *w = *pp;

        if (kind >= 0 && w->kind != kind) {
            pp = &w->next;
            continue;
        }
        *pp = w->next;
        w->cb(w->data, w->kind == ENGINE_WAIT_STOP ? 0 : status, err);
        free(w);
    }
}

static void engine_container_on_timer_closed(uv_handle_t *h)
{
    free(h);
}

static char *engine_container_cdir(const struct engine_ctr *c)
{
    return engine_state_dir(c->e->cdir_root, c->id);
}

static void engine_container_unmount(struct engine_ctr *c)
{
    struct err err;
    char *cdir;

    if (!c->mounted)
        return;
    err_clear(&err);
    cdir = engine_container_cdir(c);
    if (rootfs_unmount(cdir, &err) != 0)
        log_error(LOG_MAIN, "container %s: %s", c->id, err.msg);
    else
        c->mounted = false;
    free(cdir);
}

static int engine_container_rmtree(const char *dir, struct err *err)
{
    if (fsutil_empty_dir(dir, err) != 0)
        return -err->code;
    if (rmdir(dir) != 0)
        return err_sys(err, ERR_IO, errno, "remove %s", dir);
    return 0;
}

static bool engine_container_tty_of(const struct engine_ctr *c)
{
    return json_is_true(json_object_get(c->config, "Tty"));
}

/* --- create ------------------------------------------------------------- */

/* The container's Config: the request's, completed from the image's
 * (oci_spec_merge_config: Docker's merge rules), with Docker's hostname
 * default. */
static json_t *engine_container_merge(const json_t *body,
                                      const json_t *image_config,
                                      const json_t *host, const char *id)
{
    static const char *const skip[] = {"HostConfig", "NetworkingConfig",
                                       NULL};
    const char *mode = json_string_value(json_object_get(host,
                                                         "NetworkMode"));
    json_t *req = json_object();
    json_t *cfg;
    const char *key;
    json_t *v;
    char hostname[256];

    json_object_foreach((json_t *)body, key, v) {
        const char *const *s;

        for (s = skip; *s != NULL && strcmp(*s, key) != 0; s++)
            ;
        if (*s == NULL)
            json_object_set(req, key, v);
    }
    cfg = oci_spec_merge_config(req, image_config);
    json_decref(req);
    if (json_string_length(json_object_get(cfg, "Hostname")) == 0) {
        if (mode != NULL && strcmp(mode, "host") == 0 &&
            gethostname(hostname, sizeof(hostname)) == 0) {
            hostname[sizeof(hostname) - 1] = '\0';
            json_object_set_new(cfg, "Hostname", json_string(hostname));
        } else {
            json_object_set_new(cfg, "Hostname", json_stringn(id, 12));
        }
    }
    if (json_object_get(cfg, "Domainname") == NULL)
        json_object_set_new(cfg, "Domainname", json_string(""));
    if (!json_is_object(json_object_get(cfg, "Labels")))
        json_object_set_new(cfg, "Labels", json_object());
    return cfg;
}

static json_t *engine_container_hostconfig(const json_t *body)
{
    json_t *h = json_object_get(body, "HostConfig");
    json_t *out = json_is_object(h) ? json_deep_copy(h) : json_object();
    const char *mode = json_string_value(json_object_get(out,
                                                         "NetworkMode"));

    if (mode == NULL || mode[0] == '\0' || strcmp(mode, "default") == 0)
        json_object_set_new(out, "NetworkMode", json_string("bridge"));
    /* Docker's only log driver here: json-file (what the monitor
     * writes). */
    if (json_string_length(json_object_get(json_object_get(out, "LogConfig"),
                                           "Type")) == 0)
        json_object_set_new(out, "LogConfig",
                            json_pack("{s:s, s:{}}", "Type", "json-file",
                                      "Config"));
    if (!json_is_object(json_object_get(out, "RestartPolicy")))
        json_object_set_new(out, "RestartPolicy",
                            json_pack("{s:s, s:i}", "Name", "no",
                                      "MaximumRetryCount", 0));
    return out;
}

static int engine_container_check_name(struct engine *e, const char *name,
                                       struct err *err)
{
    struct engine_ctr *o;

    if (!engine_names_valid(name))
        return err_set(err, ERR_INVALID,
                       "Invalid container name (%s), only "
                       "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                       name);
    o = engine_view_by_name(e, name);
    if (o != NULL)
        return err_set(err, ERR_CONFLICT,
                       "Conflict. The container name \"/%s\" is already in "
                       "use by container \"%s\". You have to remove (or "
                       "rename) that container to be able to reuse that "
                       "name.",
                       name[0] == '/' ? name + 1 : name, o->id);
    return 0;
}

static void engine_container_new_id(struct engine *e, char id[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[32];
    struct engine_ctr *c;
    int i;

    for (;;) {
        ids_random(raw, sizeof(raw));
        for (i = 0; i < 32; i++) {
            id[2 * i] = hex[raw[i] >> 4];
            id[2 * i + 1] = hex[raw[i] & 15];
        }
        id[64] = '\0';
        /* Docker avoids all-digit short IDs (they read as numbers). */
        if (strspn(id, "0123456789") >= 12)
            continue;
        for (c = e->ctrs; c != NULL; c = c->next) {
            if (strncmp(c->id, id, 12) == 0)
                break;
        }
        if (c == NULL)
            return;
    }
}

int engine_container_create(struct engine *e, const char *name,
                            const json_t *body, char **id_out,
                            struct err *err)
{
    struct engine_ctr *c = NULL;
    json_t *image_config = NULL;
    json_t *spec = NULL;
    json_t *input = NULL;
    json_t *line;
    char **layers = NULL;
    char *image_id = NULL;
    char *cdir = NULL;
    char *rootfs = NULL;
    char *upper = NULL;
    char gen[64];
    size_t i;
    int rv;

    *id_out = NULL;
    if (name != NULL && name[0] != '\0') {
        rv = engine_container_check_name(e, name, err);
        if (rv != 0)
            return rv;
    }
    rv = engine_validate_create(body, err);
    if (rv != 0)
        return rv;
    rv = image_store_resolve(e->images,
                             json_string_value(json_object_get(body, "Image")),
                             &image_id, &image_config, &layers, err);
    if (rv != 0)
        return rv;
    c = xcalloc(1, sizeof(*c));
    c->e = e;
    engine_container_new_id(e, c->id);
    if (name == NULL || name[0] == '\0') {
        do {
            engine_names_generate(gen, sizeof(gen));
        } while (engine_view_by_name(e, gen) != NULL);
        name = gen;
    }
    c->name = name[0] == '/' ? xstrdup(name) : xasprintf("/%s", name);
    c->image_id = image_id;
    image_id = NULL;
    c->host = engine_container_hostconfig(body);
    c->config = engine_container_merge(body, image_config, c->host, c->id);
    line = json_array();
    json_array_extend(line, json_object_get(c->config, "Entrypoint"));
    json_array_extend(line, json_object_get(c->config, "Cmd"));
    if (json_array_size(line) == 0) {
        json_decref(line);
        rv = err_set(err, ERR_INVALID, "no command specified");
        goto err_after_alloc;
    }
    c->path = xstrdup(json_string_value(json_array_get(line, 0)));
    c->args = json_array();
    for (i = 1; i < json_array_size(line); i++)
        json_array_append(c->args, json_array_get(line, i));
    json_decref(line);
    engine_view_now(c->created);
    snprintf(c->started_at, sizeof(c->started_at), ENGINE_ZERO_TIME);
    snprintf(c->finished_at, sizeof(c->finished_at), ENGINE_ZERO_TIME);
    c->error = xstrdup("");
    c->status = ENGINE_CREATED;
    cdir = engine_container_cdir(c);
    rv = fsutil_mkdir_p(cdir, 0710, err);
    if (rv != 0)
        goto err_after_alloc;
    /* The OCI spec's own checks now (on the mounted root: users are
     * looked up in it), so that create refuses what start would. The
     * root stays mounted for the start (remove, a failed start, the exit
     * and the daemon's stop or recovery unmount it). */
    rootfs = xasprintf("%s/rootfs", cdir);
    upper = xasprintf("%s/fs", cdir);
    rv = rootfs_mount(cdir, layers, upper, err);
    if (rv != 0)
        goto err_after_dir;
    c->mounted = true;
    input = engine_view_spec_input(c);
    spec = oci_spec_build(input, image_config, rootfs, cdir, err);
    if (spec == NULL) {
        rv = -err->code;
        goto err_after_mount;
    }
    rv = engine_state_save(c, e->cdir_root, err);
    if (rv != 0)
        goto err_after_mount;
    c->next = e->ctrs;
    e->ctrs = c;
    *id_out = xstrdup(c->id);
    engine_emit(e, "create", c, NULL, NULL);
    json_decref(spec);
    json_decref(input);
    json_decref(image_config);
    image_store_free_dirs(layers);
    free(rootfs);
    free(upper);
    free(cdir);
    return 0;

err_after_mount:
    engine_container_unmount(c);
err_after_dir:
    {
        struct err ignored;

        engine_container_rmtree(cdir, &ignored);
    }
err_after_alloc:
    json_decref(spec);
    json_decref(input);
    json_decref(image_config);
    image_store_free_dirs(layers);
    free(rootfs);
    free(upper);
    free(cdir);
    free(image_id);
    engine_state_free_ctr(c);
    return rv;
}

/* --- start -------------------------------------------------------------- */

struct engine_start_req
{
    struct engine_ctr *c;   /* borrowed: kept while starting */
    engine_done_cb cb;
    void *data;
};

static void engine_container_exited(struct engine_ctr *c, int code,
                                    bool oom, const char *finished,
                                    const char *error);
static void engine_container_do_remove(struct engine_ctr *c);

static void engine_container_on_started(void *data, int status,
                                        const struct err *err, pid_t pid)
{
    struct engine_start_req *r = data;
    struct engine_ctr *c = r->c;

    c->starting = false;
    if (status != 0) {
        const char *m = err ? err->msg : "start failed";
        struct err derr;

        err_clear(&derr);
        runtime_delete(c->e->rt, c->id, &derr);
        engine_container_unmount(c);
        free(c->error);
        c->error = xstrdup(m);
        /* Docker: 127 for a missing command, 126 if not executable. */
        if (strstr(m, "executable file not found") != NULL ||
            strstr(m, "no such file or directory") != NULL)
            c->exit_code = 127;
        else if (strstr(m, "permission denied") != NULL)
            c->exit_code = 126;
        else
            c->exit_code = 128;
        engine_container_save(c);
        r->cb(r->data, status, err);
        free(r);
        /* Docker removes an AutoRemove container whose start failed
         * (`run --rm` waits for its removal). */
        if (json_is_true(json_object_get(c->host, "AutoRemove")))
            engine_container_do_remove(c);
        return;
    }
    c->status = ENGINE_RUNNING;
    c->pid = pid;
    c->started_before = true;
    c->manual_stop = false;
    c->exit_code = 0;
    c->oom_killed = false;
    free(c->error);
    c->error = xstrdup("");
    engine_view_now(c->started_at);
    engine_health_start(c, false);
    {
        struct err serr;

        /* Not synced: the process it records dies in the crash that could
         * lose it; the monitor's own files find it after a daemon
         * restart. */
        err_clear(&serr);
        if (engine_state_save_started(c, c->e->cdir_root, &serr) != 0)
            log_error(LOG_MAIN, "container %s: saving state: %s", c->id,
                      serr.msg);
    }
    engine_container_flush_attaches(c->e, c->id);
    engine_emit(c->e, "start", c, NULL, NULL);
    r->cb(r->data, 0, NULL);
    free(r);
    if (c->exited_early) {
        c->exited_early = false;
        engine_container_exited(c, c->early_code, c->early_oom,
                                c->early_finished, "");
    }
}

static int engine_container_do_start(struct engine_ctr *c, engine_done_cb cb,
                                     void *data, struct err *err)
{
    struct engine *e = c->e;
    struct runtime_start_opts o;
    struct engine_start_req *r;
    json_t *image_config = NULL;
    json_t *input = NULL;
    json_t *spec = NULL;
    char **layers = NULL;
    char *cdir = engine_container_cdir(c);
    char *rootfs = xasprintf("%s/rootfs", cdir);
    char *upper = xasprintf("%s/fs", cdir);
    char *logp = engine_state_log_path(e->cdir_root, c->id);
    char *text = NULL;
    char *cfgp = NULL;
    int rv;

    rv = image_store_resolve(e->images, c->image_id, NULL, &image_config,
                             &layers, err);
    if (rv != 0)
        goto out;
    if (!c->mounted) {
        rv = rootfs_mount(cdir, layers, upper, err);
        if (rv != 0)
            goto out;
        c->mounted = true;
    }
    input = engine_view_spec_input(c);
    spec = oci_spec_build(input, image_config, rootfs, cdir, err);
    if (spec == NULL) {
        rv = -err->code;
        goto err_after_mount;
    }
    text = json_dumps(spec, JSON_COMPACT);
    cfgp = xasprintf("%s/config.json", cdir);
    /* Not synced: the bundle is regenerated at every start. */
    rv = fsutil_write_atomic_ex(cfgp, text, strlen(text), 0600,
                                FSUTIL_NO_SYNC, err);
    if (rv != 0)
        goto err_after_mount;
    memset(&o, 0, sizeof(o));
    o.id = c->id;
    o.bundle = cdir;
    o.log_path = logp;
    o.tty = engine_container_tty_of(c);
    o.open_stdin = json_is_true(json_object_get(c->config, "OpenStdin"));
    r = xcalloc(1, sizeof(*r));
    r->c = c;
    r->cb = cb;
    r->data = data;
    rv = runtime_start(e->rt, &o, engine_container_on_started, r, err);
    if (rv != 0) {
        free(r);
        goto err_after_mount;
    }
    c->starting = true;
    goto out;

err_after_mount:
    engine_container_unmount(c);
out:
    image_store_free_dirs(layers);
    json_decref(image_config);
    json_decref(input);
    json_decref(spec);
    free(text);
    free(cfgp);
    free(cdir);
    free(rootfs);
    free(upper);
    free(logp);
    return rv;
}

int engine_container_start(struct engine *e, const char *ref,
                           engine_done_cb cb, void *data, struct err *err)
{
    struct engine_ctr *c = engine_view_lookup(e, ref, err);

    if (c == NULL)
        return -err->code;
    if (c->status == ENGINE_RUNNING || c->starting || c->restarting)
        return err_set(err, ERR_NOTMODIFIED, "container already started");
    if (c->status == ENGINE_REMOVING || c->status == ENGINE_DEAD)
        return err_set(err, ERR_CONFLICT,
                       "cannot start a container that has been removed");
    /* Docker: a start by the user resets the restart policy's count */
    c->restart_count = 0;
    c->restart_delay = 0;
    return engine_container_do_start(c, cb, data, err);
}

/* --- restart policies --------------------------------------------------- */

/* HostConfig.RestartPolicy's name ("no" when unset) and *max its
 * MaximumRetryCount. */
static const char *engine_container_policy(const struct engine_ctr *c,
                                           int *max)
{
    json_t *rp = json_object_get(c->host, "RestartPolicy");
    const char *n = json_string_value(json_object_get(rp, "Name"));

    *max = (int)json_integer_value(json_object_get(rp,
                                                   "MaximumRetryCount"));
    return n != NULL && n[0] != '\0' ? n : "no";
}

/* Whether c, exited with code, starts again per its policy. at_boot: the
 * daemon starts (Docker starts `always` containers then even if the user
 * stopped them). */
static bool engine_container_should_restart(const struct engine_ctr *c,
                                            int code, bool at_boot)
{
    const char *n;
    int max;

    if (c->e->closing || c->status != ENGINE_EXITED || c->remove_on_exit ||
        json_is_true(json_object_get(c->host, "AutoRemove")))
        return false;
    n = engine_container_policy(c, &max);
    if (strcmp(n, "always") == 0)
        return at_boot || !c->manual_stop;
    if (c->manual_stop)
        return false;
    if (strcmp(n, "unless-stopped") == 0)
        return true;
    if (strcmp(n, "on-failure") == 0)
        return code != 0 && (max <= 0 || c->restart_count < max);
    return false;
}

void engine_container_cancel_restart(struct engine_ctr *c)
{
    c->restarting = false;
    if (c->restart_timer == NULL)
        return;
    uv_close((uv_handle_t *)c->restart_timer,
             engine_container_on_timer_closed);
    c->restart_timer = NULL;
}

static void engine_container_pending_stop(struct engine_ctr *c);

static void engine_container_on_restarted(void *data, int status,
                                          const struct err *err)
{
    struct engine_ctr *c = data;

    c->restarting = false;
    if (status < 0)
        log_warn(LOG_MAIN, "container %s: restart failed: %s", c->id,
                 err ? err->msg : "start failed");
    engine_container_save(c);
    engine_container_pending_stop(c);
}

static void engine_container_on_restart_timer(uv_timer_t *t)
{
    struct engine_ctr *c = t->data;
    struct err err;

    uv_close((uv_handle_t *)t, engine_container_on_timer_closed);
    c->restart_timer = NULL;
    err_clear(&err);
    if (engine_container_do_start(c, engine_container_on_restarted, c,
                                  &err) != 0) {
        log_warn(LOG_MAIN, "container %s: restart failed: %s", c->id,
                 err.msg);
        c->restarting = false;
        engine_container_save(c);
    }
}

/* Start c again after delay_ms (State.Restarting meanwhile). */
static void engine_container_schedule_restart(struct engine_ctr *c,
                                              uint64_t delay_ms)
{
    c->restarting = true;
    if (c->restart_timer == NULL) {
        c->restart_timer = xmalloc(sizeof(*c->restart_timer));
        uv_timer_init(c->e->loop, c->restart_timer);
        c->restart_timer->data = c;
    }
    log_info(LOG_MAIN, "container %s restarts in %llu ms (restart %d)",
             c->id, (unsigned long long)delay_ms, c->restart_count);
    uv_timer_start(c->restart_timer, engine_container_on_restart_timer,
                   delay_ms, 0);
}

/* After an exit: the policy's restart with Docker's back-off. */
static void engine_container_policy_exit(struct engine_ctr *c, int code)
{
    double ran = engine_view_parse_time(c->finished_at) -
                 engine_view_parse_time(c->started_at);

    if (!engine_container_should_restart(c, code, false))
        return;
    if (ran >= ENGINE_CONTAINER__BACKOFF_RESET)
        c->restart_delay = 0;
    c->restart_delay = c->restart_delay == 0
                           ? ENGINE_CONTAINER__BACKOFF_MIN
                           : c->restart_delay * 2;
    if (c->restart_delay > ENGINE_CONTAINER__BACKOFF_MAX)
        c->restart_delay = ENGINE_CONTAINER__BACKOFF_MAX;
    c->restart_count++;
    engine_container_schedule_restart(c, c->restart_delay);
}

void engine_container_boot(struct engine *e, struct engine_ctr *c)
{
    if (e->closing || c->restart_timer != NULL)
        return;
    if (c->status != ENGINE_EXITED) {
        c->restarting = false;
        return;
    }
    if (c->restarting ||
        engine_container_should_restart(c, c->exit_code, true))
        engine_container_schedule_restart(c, 0);
}

/* --- exit --------------------------------------------------------------- */

static void engine_container_do_remove(struct engine_ctr *c);

static void engine_container_stop_timer(struct engine_ctr *c)
{
    if (c->kill_timer == NULL)
        return;
    uv_close((uv_handle_t *)c->kill_timer, engine_container_on_timer_closed);
    c->kill_timer = NULL;
}

static void engine_container_exited(struct engine_ctr *c, int code,
                                    bool oom, const char *finished,
                                    const char *error)
{
    struct engine *e = c->e;
    struct err err;
    char codes[16];

    c->status = ENGINE_EXITED;
    c->exit_code = code;
    c->oom_killed = oom;
    c->pid = 0;
    snprintf(c->finished_at, sizeof(c->finished_at), "%s",
             finished && finished[0] ? finished : ENGINE_ZERO_TIME);
    if (error != NULL && error[0] != '\0') {
        free(c->error);
        c->error = xstrdup(error);
    }
    engine_container_stop_timer(c);
    engine_health_stop(c, true);
    err_clear(&err);
    if (runtime_delete(e->rt, c->id, &err) != 0)
        log_warn(LOG_MAIN, "container %s: %s", c->id, err.msg);
    engine_container_unmount(c);
    engine_container_save(c);
    snprintf(codes, sizeof(codes), "%d", code);
    engine_emit(e, "die", c, "exitCode", codes);
    engine_logs_container_exited(e, c->id);
    engine_container_wake(c, ENGINE_WAIT_EXIT, code, NULL);
    engine_container_wake(c, ENGINE_WAIT_STOP, 0, NULL);
    if (c->remove_on_exit ||
        json_is_true(json_object_get(c->host, "AutoRemove"))) {
        engine_container_do_remove(c);
        return;
    }
    engine_container_policy_exit(c, code);
    if (c->restarting)
        engine_container_save(c);
}

void engine_container_on_exit(void *data, const char *id,
                              const struct runtime_exit *ex)
{
    struct engine *e = data;
    struct engine_ctr *c;

    for (c = e->ctrs; c != NULL; c = c->next) {
        if (strcmp(c->id, id) == 0)
            break;
    }
    if (c == NULL) {
        log_warn(LOG_MAIN, "exit of unknown container %s", id);
        return;
    }
    if (c->starting) {
        c->exited_early = true;
        c->early_code = ex->exit_code;
        c->early_oom = ex->oom_killed;
        snprintf(c->early_finished, sizeof(c->early_finished), "%s",
                 ex->finished_at ? ex->finished_at : "");
        return;
    }
    engine_container_exited(c, ex->exit_code, ex->oom_killed,
                            ex->finished_at, ex->error);
}

void engine_container_recover(struct engine *e, struct engine_ctr *c)
{
    struct runtime_exit ex;
    struct err err;
    pid_t pid = 0;
    int rv;

    if (c->status != ENGINE_RUNNING) {
        /* A rootfs may still be mounted if the daemon died mid-way. */
        char *cdir = engine_container_cdir(c);
        char *rootfs = xasprintf("%s/rootfs", cdir);

        err_clear(&err);
        if (fsutil_exists(rootfs))
            rootfs_unmount(cdir, &err);
        free(rootfs);
        free(cdir);
        return;
    }
    c->mounted = true;
    err_clear(&err);
    memset(&ex, 0, sizeof(ex));
    rv = runtime_recover(e->rt, c->id, &pid, &ex, &err);
    if (rv == 1) {
        c->pid = pid;
        log_info(LOG_MAIN, "container %s still running (pid %d)", c->id,
                 (int)pid);
        engine_health_start(c, true);
        return;
    }
    if (rv < 0) {
        log_error(LOG_MAIN, "container %s: recovery: %s", c->id, err.msg);
        ex.exit_code = 255;
        ex.error = err.msg;
        ex.finished_at = NULL;
    }
    engine_container_exited(c, ex.exit_code, ex.oom_killed, ex.finished_at,
                            ex.error);
}

void engine_container_shutdown(struct engine_ctr *c)
{
    if (c->status != ENGINE_RUNNING && !c->starting)
        engine_container_unmount(c);
}

/* --- stop, kill, restart ------------------------------------------------ */

static int engine_container_stop_signal(const struct engine_ctr *c)
{
    const char *s = json_string_value(json_object_get(c->config,
                                                      "StopSignal"));
    int sig = s ? engine_validate_signal(s) : -1;

    return sig > 0 ? sig : SIGTERM;
}

static void engine_container_on_kill_timer(uv_timer_t *t)
{
    struct engine_ctr *c = t->data;
    struct err err;

    err_clear(&err);
    log_info(LOG_MAIN, "container %s did not stop in time: SIGKILL", c->id);
    if (runtime_signal(c->e->rt, c->id, SIGKILL, &err) != 0)
        log_warn(LOG_MAIN, "container %s: %s", c->id, err.msg);
}

/* A stop or kill by the user while c waits to restart: no restart. */
static void engine_container_stop_restarting(struct engine_ctr *c)
{
    engine_container_cancel_restart(c);
    c->manual_stop = true;
    engine_container_save(c);
}

/* Signal c to stop by the user (no restart), SIGKILL after timeout_s
 * (< 0: never). */
static int engine_container_signal_stop(struct engine_ctr *c, int sig,
                                        int timeout_s, struct err *err)
{
    int rv;

    c->manual_stop = true;
    engine_container_save(c);
    rv = runtime_signal(c->e->rt, c->id, sig, err);
    if (rv != 0)
        return rv;
    if (c->kill_timer == NULL && timeout_s >= 0) {
        c->kill_timer = xmalloc(sizeof(*c->kill_timer));
        uv_timer_init(c->e->loop, c->kill_timer);
        c->kill_timer->data = c;
        uv_timer_start(c->kill_timer, engine_container_on_kill_timer,
                       (uint64_t)timeout_s * 1000, 0);
    }
    return 0;
}

static void engine_container_on_remove_timer(uv_timer_t *t)
{
    struct engine_ctr *c = t->data;

    uv_close((uv_handle_t *)t, engine_container_on_timer_closed);
    c->restart_timer = NULL;
    engine_container_do_remove(c);
}

/* A policy restart's start completed: a stop, kill or rm -f asked
 * meanwhile. */
static void engine_container_pending_stop(struct engine_ctr *c)
{
    struct err err;

    if (!c->stop_pending)
        return;
    c->stop_pending = false;
    err_clear(&err);
    if (c->status != ENGINE_RUNNING && c->remove_on_exit) {
        /* the start failed: remove once its caller is done with c */
        c->restart_timer = xmalloc(sizeof(*c->restart_timer));
        uv_timer_init(c->e->loop, c->restart_timer);
        c->restart_timer->data = c;
        uv_timer_start(c->restart_timer, engine_container_on_remove_timer,
                       0, 0);
        return;
    }
    if (c->status != ENGINE_RUNNING) {
        engine_container_wake(c, ENGINE_WAIT_STOP, 0, NULL);
        return;
    }
    if (engine_container_signal_stop(c, c->pending_sig, c->pending_timeout,
                                     &err) != 0)
        log_warn(LOG_MAIN, "container %s: %s", c->id, err.msg);
}

int engine_container_stop(struct engine *e, const char *ref, int timeout_s,
                          engine_done_cb cb, void *data, struct err *err)
{
    return engine_container_stop_sig(e, ref, timeout_s, NULL, cb, data,
                                     err);
}

int engine_container_stop_sig(struct engine *e, const char *ref,
                              int timeout_s, const char *sig,
                              engine_done_cb cb, void *data,
                              struct err *err)
{
    struct engine_ctr *c = engine_view_lookup(e, ref, err);
    json_t *st;
    int n = -1;
    int rv;

    if (c == NULL)
        return -err->code;
    if (sig != NULL && sig[0] != '\0') {
        n = engine_validate_signal(sig);
        if (n < 0)
            return err_set(err, ERR_INVALID, "Invalid signal: %s", sig);
    }
    if (c->restarting && !c->starting) {
        engine_container_stop_restarting(c);
        cb(data, 0, NULL);
        return 0;
    }
    if (c->status != ENGINE_RUNNING && !(c->restarting && c->starting))
        return err_set(err, ERR_NOTMODIFIED, "container already stopped");
    if (timeout_s < 0) {
        st = json_object_get(c->config, "StopTimeout");
        timeout_s = json_is_integer(st) ? (int)json_integer_value(st)
                                        : ENGINE_CONTAINER__DEFAULT_STOP;
    }
    if (n < 0)
        n = engine_container_stop_signal(c);
    if (c->status != ENGINE_RUNNING) {
        /* a policy restart is starting: stop it once it runs */
        c->stop_pending = true;
        c->pending_sig = n;
        c->pending_timeout = timeout_s;
        engine_container_add_waiter(c, ENGINE_WAIT_STOP, cb, data);
        return 0;
    }
    rv = engine_container_signal_stop(c, n, timeout_s, err);
    if (rv != 0)
        return rv;
    engine_container_add_waiter(c, ENGINE_WAIT_STOP, cb, data);
    return 0;
}

int engine_container_kill(struct engine *e, const char *ref, const char *sig,
                          struct err *err)
{
    struct engine_ctr *c = engine_view_lookup(e, ref, err);
    int n = SIGKILL;

    if (c == NULL)
        return -err->code;
    if (sig != NULL && sig[0] != '\0') {
        n = engine_validate_signal(sig);
        if (n < 0)
            return err_set(err, ERR_INVALID, "Invalid signal: %s", sig);
    }
    if (c->restarting && !c->starting) {
        engine_container_stop_restarting(c);
        return 0;
    }
    if (c->restarting && c->starting && c->status != ENGINE_RUNNING) {
        if (!c->stop_pending) {
            c->stop_pending = true;
            c->pending_sig = n;
            c->pending_timeout = -1;
        }
        return 0;
    }
    if (c->status != ENGINE_RUNNING)
        return err_set(err, ERR_CONFLICT,
                       "cannot kill container: %s: container %s is not "
                       "running",
                       ref, c->id);
    /* Docker: SIGKILL, the stop signal, or any signal when the container
     * has no StopSignal, ends the restart policy until the next start. */
    if (n == SIGKILL || n == engine_container_stop_signal(c) ||
        json_string_length(json_object_get(c->config, "StopSignal")) == 0) {
        c->manual_stop = true;
        engine_container_save(c);
    }
    return runtime_signal(e->rt, c->id, n, err);
}

struct engine_restart_req
{
    struct engine *e;
    char id[ENGINE_ID_LEN + 1];
    engine_done_cb cb;
    void *data;
};

static void engine_container_on_restart_stopped(void *data, int status,
                                                const struct err *err)
{
    struct engine_restart_req *r = data;
    struct err err2;
    int rv;

    if (status < 0) {
        r->cb(r->data, status, err);
        free(r);
        return;
    }
    err_clear(&err2);
    rv = engine_container_start(r->e, r->id, r->cb, r->data, &err2);
    if (rv != 0)
        r->cb(r->data, rv, &err2);
    free(r);
}

int engine_container_restart(struct engine *e, const char *ref,
                             int timeout_s, engine_done_cb cb, void *data,
                             struct err *err)
{
    struct engine_ctr *c = engine_view_lookup(e, ref, err);
    struct engine_restart_req *r;
    int rv;

    if (c == NULL)
        return -err->code;
    if (c->restarting && !c->starting)
        engine_container_cancel_restart(c);
    if (c->status != ENGINE_RUNNING)
        return engine_container_start(e, c->id, cb, data, err);
    r = xcalloc(1, sizeof(*r));
    r->e = e;
    memcpy(r->id, c->id, sizeof(r->id));
    r->cb = cb;
    r->data = data;
    rv = engine_container_stop(e, c->id, timeout_s,
                               engine_container_on_restart_stopped, r, err);
    if (rv != 0)
        free(r);
    return rv;
}

/* --- remove ------------------------------------------------------------- */

static void engine_container_do_remove(struct engine_ctr *c)
{
    struct engine *e = c->e;
    struct engine_ctr **pp;
    struct err err;
    char *cdir = engine_container_cdir(c);

    c->status = ENGINE_REMOVING;
    engine_health_stop(c, false);
    engine_container_stop_timer(c);
    engine_container_cancel_restart(c);
    engine_container_unmount(c);
    err_clear(&err);
    runtime_delete(e->rt, c->id, &err);
    err_clear(&err);
    if (engine_container_rmtree(cdir, &err) != 0)
        log_error(LOG_MAIN, "container %s: %s", c->id, err.msg);
    free(cdir);
    for (pp = &e->ctrs; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    c->gone = true;
    engine_exec_container_gone(e, c->id);
    engine_emit(e, "destroy", c, NULL, NULL);
    engine_container_wake(c, ENGINE_WAIT_REMOVED, c->exit_code, NULL);
    engine_container_wake(c, -1, c->exit_code, NULL);
    engine_state_free_ctr(c);
}

int engine_container_remove(struct engine *e, const char *ref, bool force,
                            engine_done_cb cb, void *data, struct err *err)
{
    struct engine_ctr *c = engine_view_lookup(e, ref, err);
    int rv;

    if (c == NULL)
        return -err->code;
    if (c->status == ENGINE_REMOVING || c->remove_on_exit)
        return err_set(err, ERR_CONFLICT,
                       "removal of container %s is already in progress",
                       c->name + 1);
    if (c->restarting && !force)
        return err_set(err, ERR_CONFLICT,
                       "cannot remove container \"%s\": container is "
                       "restarting: stop the container before removing or "
                       "force remove",
                       c->name);
    if (c->starting && c->restarting) {
        /* a policy restart is starting: killed and removed once it runs */
        c->stop_pending = true;
        c->pending_sig = SIGKILL;
        c->pending_timeout = -1;
        c->remove_on_exit = true;
        engine_container_add_waiter(c, ENGINE_WAIT_REMOVED, cb, data);
        return 0;
    }
    if (c->starting)
        return err_set(err, ERR_CONFLICT,
                       "cannot remove container \"%s\": container is "
                       "starting",
                       c->name);
    if (c->status == ENGINE_RUNNING) {
        if (!force)
            return err_set(err, ERR_CONFLICT,
                           "cannot remove container \"%s\": container is "
                           "running: stop the container before removing or "
                           "force remove",
                           c->name);
        c->manual_stop = true;
        rv = runtime_signal(e->rt, c->id, SIGKILL, err);
        if (rv != 0)
            return rv;
        c->remove_on_exit = true;
        engine_container_add_waiter(c, ENGINE_WAIT_REMOVED, cb, data);
        return 0;
    }
    engine_container_add_waiter(c, ENGINE_WAIT_REMOVED, cb, data);
    engine_container_do_remove(c);
    return 0;
}

/* --- wait, rename, resize, attach --------------------------------------- */

int engine_container_wait(struct engine *e, const char *ref,
                          const char *condition, engine_done_cb cb,
                          void *data, int *out_code, struct err *err)
{
    struct engine_ctr *c = engine_view_lookup(e, ref, err);

    if (c == NULL)
        return -err->code;
    if (condition == NULL || condition[0] == '\0' ||
        strcmp(condition, "not-running") == 0) {
        if (c->status != ENGINE_RUNNING && !c->starting &&
            !c->restarting) {
            *out_code = c->exit_code;
            return 1;
        }
        engine_container_add_waiter(c, ENGINE_WAIT_EXIT, cb, data);
        return 0;
    }
    if (strcmp(condition, "next-exit") == 0) {
        engine_container_add_waiter(c, ENGINE_WAIT_EXIT, cb, data);
        return 0;
    }
    if (strcmp(condition, "removed") == 0) {
        engine_container_add_waiter(c, ENGINE_WAIT_REMOVED, cb, data);
        return 0;
    }
    return err_set(err, ERR_INVALID, "invalid condition: \"%s\"", condition);
}

int engine_container_rename(struct engine *e, const char *ref,
                            const char *name, struct err *err)
{
    struct engine_ctr *c = engine_view_lookup(e, ref, err);
    const char *n = name;
    char *old;
    int rv;

    if (c == NULL)
        return -err->code;
    if (n == NULL || n[0] == '\0' || strcmp(n, "/") == 0)
        return err_set(err, ERR_INVALID, "Neither old nor new names may be "
                                         "empty");
    if (n[0] == '/')
        n++;
    if (strcmp(c->name + 1, n) == 0)
        return err_set(err, ERR_INVALID,
                       "Renaming a container with the same name as its "
                       "current name");
    rv = engine_container_check_name(e, n, err);
    if (rv != 0)
        return rv;
    old = c->name;
    c->name = xasprintf("/%s", n);
    engine_container_save(c);
    engine_emit(e, "rename", c, "oldName", old);
    free(old);
    return 0;
}

int engine_container_resize(struct engine *e, const char *ref, unsigned rows,
                            unsigned cols, struct err *err)
{
    struct engine_ctr *c = engine_view_lookup(e, ref, err);

    if (c == NULL)
        return -err->code;
    if (c->status != ENGINE_RUNNING)
        return err_set(err, ERR_CONFLICT, "container %s is not running",
                       c->id);
    return runtime_resize(e->rt, c->id, rows, cols, err);
}

int engine_container_tty(struct engine *e, const char *ref, bool *tty,
                         struct err *err)
{
    struct engine_ctr *c = engine_view_lookup(e, ref, err);

    if (c == NULL)
        return -err->code;
    *tty = engine_container_tty_of(c);
    return 0;
}

#define ENGINE_CONTAINER__STDIN_MAX (1u << 20)

static void engine_container_on_attach_output(void *data, int stream,
                                              const char *buf, size_t len)
{
    struct engine_attach *ea = data;

    if (ea->fn != NULL)
        ea->fn(ea->data, stream, buf, len);
}

struct engine_attach *engine_container_attach(struct engine *e,
                                              const char *ref, bool in,
                                              bool out, bool errs,
                                              engine_output_fn fn,
                                              void *data, struct err *err)
{
    struct engine_ctr *c = engine_view_lookup(e, ref, err);
    struct runtime_attach_opts o;
    struct engine_attach *ea;

    if (c == NULL)
        return NULL;
    ea = xcalloc(1, sizeof(*ea));
    ea->e = e;
    memcpy(ea->id, c->id, sizeof(ea->id));
    ea->fn = fn;
    ea->data = data;
    /* The runtime has no stdin to write to before the start: hold it. */
    ea->holding = c->status != ENGINE_RUNNING;
    o.in = in;
    o.out = out;
    o.err = errs;
    ea->a = runtime_attach(e->rt, c->id, &o,
                           engine_container_on_attach_output, ea, err);
    if (ea->a == NULL) {
        free(ea);
        return NULL;
    }
    ea->next = e->attaches;
    e->attaches = ea;
    return ea;
}

int engine_attach_write(struct engine_attach *ea, const void *buf,
                        size_t len)
{
    if (ea->holding) {
        if (len == 0) {
            ea->pending_eof = true;
            return 0;
        }
        if (ea->n_pending + len > ENGINE_CONTAINER__STDIN_MAX)
            return -ERR_TOOBIG;
        ea->pending = xrealloc(ea->pending, ea->n_pending + len);
        memcpy(ea->pending + ea->n_pending, buf, len);
        ea->n_pending += len;
        return 0;
    }
    return runtime_attach_write(ea->a, buf, len);
}

void engine_container_flush_attaches(struct engine *e, const char *id)
{
    struct engine_attach *ea;

    for (ea = e->attaches; ea != NULL; ea = ea->next) {
        if (!ea->holding || strcmp(ea->id, id) != 0)
            continue;
        ea->holding = false;
        if (ea->n_pending > 0)
            runtime_attach_write(ea->a, ea->pending, ea->n_pending);
        if (ea->pending_eof)
            runtime_attach_write(ea->a, NULL, 0);
        free(ea->pending);
        ea->pending = NULL;
        ea->n_pending = 0;
    }
}

void engine_attach_close(struct engine_attach *ea)
{
    struct engine *e = ea->e;
    struct engine_attach **pp;

    for (pp = &e->attaches; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == ea) {
            *pp = ea->next;
            break;
        }
    }
    /* While the runtime closes it frees its attaches itself (and tells
     * their end from inside runtime_close). */
    if (!e->closing)
        runtime_attach_close(ea->a);
    free(ea->pending);
    free(ea);
}

void engine_container_free_attaches(struct engine *e)
{
    struct engine_attach *ea;

    while ((ea = e->attaches) != NULL) {
        e->attaches = ea->next;
        free(ea->pending);
        free(ea);
    }
}

/* --- inspect, list, prune ----------------------------------------------- */

json_t *engine_container_inspect(struct engine *e, const char *ref,
                                 struct err *err)
{
    struct engine_ctr *c = engine_view_lookup(e, ref, err);

    return c ? engine_view_inspect(c) : NULL;
}

static int engine_container_cmp_created(const void *a, const void *b)
{
    const struct engine_ctr *x = *(struct engine_ctr *const *)a;
    const struct engine_ctr *y = *(struct engine_ctr *const *)b;

    return strcmp(y->created, x->created);
}

static double engine_container_now(void)
{
    char now[ENGINE_TIME_LEN];

    engine_view_now(now);
    return engine_view_parse_time(now);
}

json_t *engine_container_list(struct engine *e, bool all,
                              const json_t *filters, struct err *err)
{
    struct engine_ctr **v;
    struct engine_ctr *c;
    json_t *out;
    size_t n = 0;
    size_t i;
    double now = engine_container_now();

    if (filters != NULL && engine_view_check_filters(filters, err) != 0)
        return NULL;
    /* Docker: a status or exited filter implies --all. */
    if (json_array_size(json_object_get(filters, "status")) > 0 ||
        json_array_size(json_object_get(filters, "exited")) > 0)
        all = true;
    for (c = e->ctrs; c != NULL; c = c->next)
        n++;
    v = xcalloc(n + 1, sizeof(*v));
    n = 0;
    for (c = e->ctrs; c != NULL; c = c->next) {
        if ((all || c->status == ENGINE_RUNNING || c->restarting) &&
            engine_view_matches(c, filters))
            v[n++] = c;
    }
    qsort(v, n, sizeof(*v), engine_container_cmp_created);
    out = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(out, engine_view_summary(v[i], now));
    free(v);
    return out;
}

static void engine_container_on_pruned(void *data, int status,
                                       const struct err *err)
{
    UNUSED(data);
    UNUSED(status);
    UNUSED(err);
}

json_t *engine_container_prune(struct engine *e, const json_t *filters,
                               struct err *err)
{
    json_t *deleted = json_array();
    struct engine_ctr *c;
    struct engine_ctr *next;
    json_t *labels = json_object_get(filters, "label");
    json_t *only = NULL;

    if (labels != NULL) {
        only = json_pack("{s:O}", "label", labels);
    }
    for (c = e->ctrs; c != NULL; c = next) {
        next = c->next;
        if (c->status == ENGINE_RUNNING || c->starting ||
            c->remove_on_exit || !engine_view_matches(c, only))
            continue;
        json_array_append_new(deleted, json_string(c->id));
        if (engine_container_remove(e, c->id, false,
                                    engine_container_on_pruned, NULL,
                                    err) != 0) {
            json_decref(only);
            json_decref(deleted);
            return NULL;
        }
    }
    json_decref(only);
    return json_pack("{s:o, s:i}", "ContainersDeleted", deleted,
                     "SpaceReclaimed", 0);
}

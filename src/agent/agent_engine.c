/* SPDX-License-Identifier: Apache-2.0 */
/* The executor's operations over the local engine (engine.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent_engine.h"
#include "base/b64.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/mem.h"
#include "engine/image_store.h"

/* Docker's HealthConfig defaults (ns). */
#define AGENT_ENGINE__NS_PER_MS 1000000LL
#define AGENT_ENGINE__INTERVAL (30000LL * AGENT_ENGINE__NS_PER_MS)
#define AGENT_ENGINE__RETRIES 3
/* <data-root>/secrets/<task id>: a tmpfs per task with secrets or
 * configs, mounted while the task lives on this node. */
static char *agent_engine_files_dir(void *data, const char *task_id)
{
    return xasprintf("%s/secrets/%s", engine_root(data), task_id);
}

static void agent_engine_files_unmount(void *data, const char *task_id)
{
    char *dir = agent_engine_files_dir(data, task_id);

    /* Detached: a container being torn down may still hold it. */
    if (umount2(dir, MNT_DETACH) == 0)
        log_info(LOG_CLUSTER, "agent: task %s: secrets tmpfs unmounted",
                 task_id);
    if (rmdir(dir) == -1 && errno != ENOENT)
        log_warn(LOG_CLUSTER, "agent: rmdir %s: %s", dir, strerror(errno));
    free(dir);
}

/* One file of the tmpfs: data decoded only in memory, then written with
 * its owner and mode. */
static int agent_engine_write_file(const char *dir, const json_t *f,
                                   struct err *err)
{
    const char *name = json_string_value(json_object_get(f, "Name"));
    const char *text = json_string_value(json_object_get(f, "Data"));
    unsigned char *buf = NULL;
    size_t n = 0;
    size_t bad;
    size_t off = 0;
    char *path;
    int fd;
    int rv = 0;

    if (name == NULL || strchr(name, '/') != NULL || name[0] == '.' ||
        text == NULL ||
        b64_decode(text, strlen(text), &buf, &n, &bad) != 0)
        return err_set(err, ERR_INVALID, "malformed secret file");
    path = xasprintf("%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
              0600);
    if (fd == -1) {
        rv = err_sys(err, ERR_IO, errno, "create %s", path);
        goto out;
    }
    while (off < n) {
        ssize_t w = write(fd, buf + off, n - off);

        if (w == -1 && errno == EINTR)
            continue;
        if (w == -1) {
            rv = err_sys(err, ERR_IO, errno, "write %s", path);
            goto out_fd;
        }
        off += (size_t)w;
    }
    if (fchown(fd, (uid_t)json_integer_value(json_object_get(f, "UID")),
               (gid_t)json_integer_value(json_object_get(f, "GID"))) == -1 ||
        fchmod(fd, (mode_t)(json_integer_value(json_object_get(f, "Mode")) &
                            07777)) == -1)
        rv = err_sys(err, ERR_IO, errno, "chown/chmod %s", path);
out_fd:
    close(fd);
out:
    if (buf != NULL) {
        memset(buf, 0, n);
        free(buf);
    }
    free(path);
    return rv;
}

static int agent_engine_files_mount(void *data, const char *task_id,
                                    const json_t *files, char **out_dir,
                                    struct err *err)
{
    char *dir = agent_engine_files_dir(data, task_id);
    char *parent = xasprintf("%s/secrets", engine_root(data));
    const json_t *f;
    size_t i;
    int rv;

    agent_engine_files_unmount(data, task_id);
    rv = fsutil_mkdir_p(parent, 0700, err);
    if (rv != 0)
        goto fail;
    if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
        rv = err_sys(err, ERR_IO, errno, "mkdir %s", dir);
        goto fail;
    }
    if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "mode=0700") == -1) {
        rv = err_sys(err, ERR_IO, errno, "mount tmpfs on %s", dir);
        goto fail;
    }
    json_array_foreach(files, i, f) {
        rv = agent_engine_write_file(dir, f, err);
        if (rv != 0) {
            agent_engine_files_unmount(data, task_id);
            goto fail;
        }
    }
    free(parent);
    *out_dir = dir;
    return 0;
fail:
    free(parent);
    free(dir);
    return rv;
}

static int agent_engine_image(void *data, const char *ref, struct err *err)
{
    return image_store_resolve(engine_images(data), ref, NULL, NULL, NULL,
                               err);
}

static int agent_engine_create(void *data, const char *name,
                               const json_t *body, char **id_out,
                               struct err *err)
{
    return engine_container_create(data, name, body, id_out, err);
}

static int agent_engine_start(void *data, const char *id, engine_done_cb cb,
                              void *cb_data, struct err *err)
{
    return engine_container_start(data, id, cb, cb_data, err);
}

static int agent_engine_stop(void *data, const char *id, int timeout_s,
                             engine_done_cb cb, void *cb_data,
                             struct err *err)
{
    return engine_container_stop(data, id, timeout_s, cb, cb_data, err);
}

static int agent_engine_remove(void *data, const char *id, engine_done_cb cb,
                               void *cb_data, struct err *err)
{
    return engine_container_remove(data, id, true, cb, cb_data, err);
}

static json_t *agent_engine_inspect(void *data, const char *id,
                                    struct err *err)
{
    return engine_container_inspect(data, id, err);
}

static json_t *agent_engine_list(void *data, const char *label,
                                 struct err *err)
{
    json_t *filters = json_pack("{s:[s]}", "label", label);
    json_t *out = engine_container_list(data, true, filters, err);

    json_decref(filters);
    return out;
}

static void *agent_engine_subscribe(void *data, engine_event_fn fn,
                                    void *fn_data)
{
    return engine_subscribe(data, fn, fn_data);
}

static void agent_engine_unsubscribe(void *data, void *sub)
{
    engine_unsubscribe(data, sub);
}

/* --- health probes ------------------------------------------------------ */

/* One container's health checks: an exec of the test every Interval;
 * Retries failures in a row (outside StartPeriod) make it unhealthy. */
struct agent_engine_health
{
    struct engine *e;
    char *cid;                    /* owned */
    json_t *cmd;                  /* owned: the probe's argv */
    int64_t interval_ms;
    int64_t start_period_ms;
    int retries;
    int failures;
    int status;                   /* -1 unknown, 0 unhealthy, 1 healthy */
    uint64_t started;             /* uv_now at the watch's start */
    uv_timer_t timer;
    struct engine_exec *exec;     /* the probe running, or NULL */
    void (*fn)(void *fn_data, bool healthy);
    void *fn_data;
};

static void agent_engine_health_probe(uv_timer_t *t);

static void agent_engine_health_set(struct agent_engine_health *h,
                                    bool healthy)
{
    if (h->status == (int)healthy)
        return;
    h->status = healthy;
    h->fn(h->fn_data, healthy);
}

static void agent_engine_health_on_exit(void *data, int code)
{
    struct agent_engine_health *h = data;
    bool starting = uv_now(h->timer.loop) - h->started <
                    (uint64_t)h->start_period_ms;

    h->exec = NULL;
    if (code == 0) {
        h->failures = 0;
        agent_engine_health_set(h, true);
    } else if (!starting && ++h->failures >= h->retries) {
        agent_engine_health_set(h, false);
    }
    /* fn may have stopped the watch: the timer is then closing */
    if (!uv_is_closing((uv_handle_t *)&h->timer))
        uv_timer_start(&h->timer, agent_engine_health_probe,
                       (uint64_t)h->interval_ms, 0);
}

static void agent_engine_health_probe(uv_timer_t *t)
{
    struct agent_engine_health *h = t->data;
    json_t *body = json_pack("{s:O, s:b, s:b}", "Cmd", h->cmd,
                             "AttachStdout", 1, "AttachStderr", 1);
    struct err err;
    char *id = NULL;
    bool tty;

    err_clear(&err);
    if (engine_exec_create(h->e, h->cid, body, &id, &err) == 0)
        h->exec = engine_exec_start(h->e, id, &tty, NULL,
                                    agent_engine_health_on_exit, h, &err);
    json_decref(body);
    free(id);
    if (h->exec == NULL)
        agent_engine_health_on_exit(h, -1);
}

static void *agent_engine_health_watch(void *data, const char *id,
                                       const json_t *hc,
                                       void (*fn)(void *fn_data,
                                                  bool healthy),
                                       void *fn_data)
{
    const json_t *test = json_object_get(hc, "Test");
    const char *kind = json_string_value(json_array_get(test, 0));
    struct agent_engine_health *h;
    json_t *cmd;
    json_t *iv = json_object_get(hc, "Interval");
    json_t *rt = json_object_get(hc, "Retries");
    json_t *sp = json_object_get(hc, "StartPeriod");
    size_t i;

    if (kind == NULL || strcmp(kind, "NONE") == 0 ||
        json_array_size(test) < 2)
        return NULL;
    if (strcmp(kind, "CMD-SHELL") == 0) {
        cmd = json_pack("[s, s, O]", "/bin/sh", "-c",
                        json_array_get(test, 1));
    } else if (strcmp(kind, "CMD") == 0) {
        cmd = json_array();
        for (i = 1; i < json_array_size(test); i++)
            json_array_append(cmd, json_array_get(test, i));
    } else {
        return NULL;
    }
    h = xcalloc(1, sizeof(*h));
    h->e = data;
    h->cid = xstrdup(id);
    h->cmd = cmd;
    h->interval_ms = (json_integer_value(iv) > 0 ? json_integer_value(iv)
                                                 : AGENT_ENGINE__INTERVAL) /
                     AGENT_ENGINE__NS_PER_MS;
    if (h->interval_ms < 1)
        h->interval_ms = 1;
    h->start_period_ms = json_integer_value(sp) / AGENT_ENGINE__NS_PER_MS;
    h->retries = json_integer_value(rt) > 0 ? (int)json_integer_value(rt)
                                            : AGENT_ENGINE__RETRIES;
    h->status = -1;
    h->fn = fn;
    h->fn_data = fn_data;
    uv_timer_init(engine_loop(h->e), &h->timer);
    h->timer.data = h;
    h->started = uv_now(h->timer.loop);
    uv_timer_start(&h->timer, agent_engine_health_probe,
                   (uint64_t)h->interval_ms, 0);
    return h;
}

static void agent_engine_health_on_closed(uv_handle_t *handle)
{
    struct agent_engine_health *h = handle->data;

    json_decref(h->cmd);
    free(h->cid);
    free(h);
}

static void agent_engine_health_stop(void *data, void *watch)
{
    struct agent_engine_health *h = watch;

    (void)data;
    if (h->exec != NULL)
        engine_exec_detach(h->exec);
    h->exec = NULL;
    uv_close((uv_handle_t *)&h->timer, agent_engine_health_on_closed);
}

const struct agent_exec_ops agent_engine_ops = {
    .image_exists = agent_engine_image,
    .create = agent_engine_create,
    .start = agent_engine_start,
    .stop = agent_engine_stop,
    .remove = agent_engine_remove,
    .inspect = agent_engine_inspect,
    .list = agent_engine_list,
    .subscribe = agent_engine_subscribe,
    .unsubscribe = agent_engine_unsubscribe,
    .health_watch = agent_engine_health_watch,
    .health_stop = agent_engine_health_stop,
    .files_mount = agent_engine_files_mount,
    .files_unmount = agent_engine_files_unmount,
};

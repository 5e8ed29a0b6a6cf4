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

/* --- health ------------------------------------------------------------- */

/* The engine checks a container's health (engine_health.c); the agent
 * follows its health_status events. */
struct agent_engine_health
{
    struct engine *e;
    char *cid;                    /* owned */
    void *sub;                    /* the engine subscription */
    void (*fn)(void *fn_data, bool healthy);
    void *fn_data;
};

static void agent_engine_health_event(void *data, const char *action,
                                      const char *id, const json_t *attrs)
{
    struct agent_engine_health *h = data;

    (void)attrs;
    if (strcmp(id, h->cid) != 0)
        return;
    if (strcmp(action, "health_status: healthy") == 0)
        h->fn(h->fn_data, true);
    else if (strcmp(action, "health_status: unhealthy") == 0)
        h->fn(h->fn_data, false);
}

static void *agent_engine_health_watch(void *data, const char *id,
                                       void (*fn)(void *fn_data,
                                                  bool healthy),
                                       void *fn_data)
{
    struct agent_engine_health *h;
    struct err err;
    json_t *info;
    bool has;

    err_clear(&err);
    info = engine_container_inspect(data, id, &err);
    has = json_object_get(json_object_get(info, "State"), "Health") != NULL;
    json_decref(info);
    if (!has)
        return NULL;
    h = xcalloc(1, sizeof(*h));
    h->e = data;
    h->cid = xstrdup(id);
    h->fn = fn;
    h->fn_data = fn_data;
    h->sub = engine_subscribe(h->e, agent_engine_health_event, h);
    return h;
}

static void agent_engine_health_stop(void *data, void *watch)
{
    struct agent_engine_health *h = watch;

    (void)data;
    engine_unsubscribe(h->e, h->sub);
    free(h->cid);
    free(h);
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

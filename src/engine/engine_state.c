/* SPDX-License-Identifier: Apache-2.0 */
/* Containers on disk, Docker's layout: <root>/containers/<id>/
 * config.v2.json (the container and its State) and hostconfig.json, each
 * replaced atomically. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fsutil.h"
#include "base/mem.h"
#include "engine/engine_int.h"

#define ENGINE_STATE__MAX (4u << 20)

char *engine_state_dir(const char *cdir_root, const char *id)
{
    return xasprintf("%s/%s", cdir_root, id);
}

char *engine_state_log_path(const char *cdir_root, const char *id)
{
    return xasprintf("%s/%s/%s-json.log", cdir_root, id, id);
}

json_t *engine_state_to_json(const struct engine_ctr *c)
{
    json_t *doc = json_pack(
        "{s:s, s:s, s:s, s:O, s:O, s:s, s:s, s:s, s:s, s:i, s:b, s:b, "
        "s:{s:b, s:b, s:b, s:b, s:b, s:b, s:i, s:i, s:s, s:s, s:s}}",
        "ID", c->id, "Created", c->created, "Path", c->path, "Args",
        c->args, "Config", c->config, "Image", c->image_id, "Name",
        c->name, "Driver", "overlay2", "OS", "linux", "RestartCount",
        c->restart_count, "HasBeenStartedBefore", c->started_before,
        "HasBeenManuallyStopped", c->manual_stop, "State", "Running",
        c->status == ENGINE_RUNNING, "Paused", 0, "Restarting",
        c->restarting,
        "OOMKilled", c->oom_killed, "RemovalInProgress",
        c->status == ENGINE_REMOVING, "Dead", c->status == ENGINE_DEAD,
        "Pid", (int)c->pid, "ExitCode", c->exit_code, "Error",
        c->error ? c->error : "", "StartedAt", c->started_at, "FinishedAt",
        c->finished_at);

    if (c->health != NULL)
        json_object_set(json_object_get(doc, "State"), "Health", c->health);
    return doc;
}

static const char *engine_state_str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void engine_state_copy_time(char *dst, const char *src)
{
    snprintf(dst, ENGINE_TIME_LEN, "%s", src ? src : ENGINE_ZERO_TIME);
}

struct engine_ctr *engine_state_from_json(const json_t *doc,
                                          const json_t *host,
                                          struct err *err)
{
    struct engine_ctr *c;
    const json_t *st = json_object_get(doc, "State");
    const char *id = engine_state_str(doc, "ID");
    const char *name = engine_state_str(doc, "Name");
    const char *path = engine_state_str(doc, "Path");
    const char *image = engine_state_str(doc, "Image");
    json_t *args = json_object_get(doc, "Args");
    json_t *config = json_object_get(doc, "Config");

    if (id == NULL || strlen(id) != ENGINE_ID_LEN || name == NULL ||
        name[0] != '/' || path == NULL || image == NULL ||
        !json_is_array(args) || !json_is_object(config) ||
        !json_is_object(st) || !json_is_object(host)) {
        err_set(err, ERR_INVALID, "malformed container state");
        return NULL;
    }
    c = xcalloc(1, sizeof(*c));
    memcpy(c->id, id, ENGINE_ID_LEN + 1);
    c->name = xstrdup(name);
    c->path = xstrdup(path);
    c->image_id = xstrdup(image);
    c->args = json_deep_copy(args);
    c->config = json_deep_copy(config);
    c->host = json_deep_copy(host);
    engine_state_copy_time(c->created, engine_state_str(doc, "Created"));
    c->restart_count =
        (int)json_integer_value(json_object_get(doc, "RestartCount"));
    c->started_before =
        json_is_true(json_object_get(doc, "HasBeenStartedBefore"));
    c->manual_stop =
        json_is_true(json_object_get(doc, "HasBeenManuallyStopped"));
    c->pid = (pid_t)json_integer_value(json_object_get(st, "Pid"));
    c->exit_code = (int)json_integer_value(json_object_get(st, "ExitCode"));
    c->oom_killed = json_is_true(json_object_get(st, "OOMKilled"));
    /* a restart was pending when the daemon stopped: engine_container_boot
     * does it */
    c->restarting = json_is_true(json_object_get(st, "Restarting"));
    c->error = xstrdup(engine_state_str(st, "Error") ?: "");
    if (json_is_object(json_object_get(st, "Health")))
        c->health = json_deep_copy(json_object_get(st, "Health"));
    engine_state_copy_time(c->started_at, engine_state_str(st, "StartedAt"));
    engine_state_copy_time(c->finished_at,
                           engine_state_str(st, "FinishedAt"));
    if (json_is_true(json_object_get(st, "Running")))
        c->status = ENGINE_RUNNING;
    else if (json_is_true(json_object_get(st, "Dead")))
        c->status = ENGINE_DEAD;
    else if (c->started_before)
        c->status = ENGINE_EXITED;
    else
        c->status = ENGINE_CREATED;
    return c;
}

static int engine_state_write(const char *path, json_t *doc,
                              unsigned flags, struct err *err)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    int rv;

    if (text == NULL)
        return err_set(err, ERR_INTERNAL, "cannot encode %s", path);
    rv = fsutil_write_atomic_ex(path, text, strlen(text), 0600, flags, err);
    free(text);
    return rv;
}

int engine_state_save(const struct engine_ctr *c, const char *cdir_root,
                      struct err *err)
{
    char *dir = engine_state_dir(cdir_root, c->id);
    char *path = xasprintf("%s/hostconfig.json", dir);
    json_t *doc;
    int rv;

    /* Both files synced, their directory once after both renames (ext4
     * commits renames in order: config.v2.json never without the
     * hostconfig.json before it). */
    rv = engine_state_write(path, c->host, FSUTIL_NO_DIR_SYNC, err);
    free(path);
    if (rv != 0)
        goto out;
    /* config.v2.json last: it is what marks the container as existing. */
    doc = engine_state_to_json(c);
    path = xasprintf("%s/config.v2.json", dir);
    rv = engine_state_write(path, doc, FSUTIL_NO_DIR_SYNC, err);
    free(path);
    json_decref(doc);
    if (rv == 0)
        rv = fsutil_fsync_dir(dir, err);
out:
    free(dir);
    return rv;
}

int engine_state_save_started(const struct engine_ctr *c,
                              const char *cdir_root, struct err *err)
{
    char *path = xasprintf("%s/%s/config.v2.json", cdir_root, c->id);
    json_t *doc = engine_state_to_json(c);
    int rv;

    rv = engine_state_write(path, doc, FSUTIL_NO_SYNC, err);
    free(path);
    json_decref(doc);
    return rv;
}

static json_t *engine_state_read(const char *path, struct err *err)
{
    json_error_t jerr;
    json_t *doc;
    char *text;
    size_t len;

    if (fsutil_read_all(path, ENGINE_STATE__MAX, &text, &len, err) != 0)
        return NULL;
    doc = json_loadb(text, len, 0, &jerr);
    free(text);
    if (doc == NULL)
        err_set(err, ERR_INVALID, "%s: %s", path, jerr.text);
    return doc;
}

struct engine_ctr *engine_state_load(const char *dir, struct err *err)
{
    char *p1 = xasprintf("%s/config.v2.json", dir);
    char *p2 = xasprintf("%s/hostconfig.json", dir);
    json_t *doc = engine_state_read(p1, err);
    json_t *host = doc ? engine_state_read(p2, err) : NULL;
    struct engine_ctr *c = NULL;

    if (doc != NULL && host != NULL)
        c = engine_state_from_json(doc, host, err);
    json_decref(doc);
    json_decref(host);
    free(p1);
    free(p2);
    return c;
}

void engine_state_free_ctr(struct engine_ctr *c)
{
    struct engine_waiter *w;

    if (c == NULL)
        return;
    while ((w = c->waiters) != NULL) {
        c->waiters = w->next;
        free(w);
    }
    free(c->name);
    free(c->image_id);
    free(c->path);
    free(c->error);
    json_decref(c->args);
    json_decref(c->config);
    json_decref(c->host);
    json_decref(c->health);
    free(c);
}

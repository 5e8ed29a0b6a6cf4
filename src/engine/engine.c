/* SPDX-License-Identifier: Apache-2.0 */
/* The engine object: opening (images, runtime, containers on disk),
 * closing, events. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "base/fsutil.h"
#include "base/log.h"
#include "base/mem.h"
#include "engine/engine_int.h"
#include "engine/image_store.h"
#include "engine/runtime.h"

static bool engine_image_in_use(void *data, const char *image_id,
                                char who[65])
{
    struct engine *e = data;
    struct engine_ctr *c;

    for (c = e->ctrs; c != NULL; c = c->next) {
        if (!c->gone && strcmp(c->image_id, image_id) == 0) {
            memcpy(who, c->id, ENGINE_ID_LEN + 1);
            return true;
        }
    }
    return false;
}

/* Load every container directory; a damaged one is logged and skipped. */
static void engine_load(struct engine *e)
{
    DIR *d = opendir(e->cdir_root);
    struct dirent *de;
    struct engine_ctr **tail = &e->ctrs;
    struct engine_ctr *c;
    struct engine_ctr *next;

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        struct err err;
        char *dir;

        if (strlen(de->d_name) != ENGINE_ID_LEN)
            continue;
        err_clear(&err);
        dir = engine_state_dir(e->cdir_root, de->d_name);
        c = engine_state_load(dir, &err);
        free(dir);
        if (c == NULL) {
            log_warn(LOG_MAIN, "container %s not loaded: %s", de->d_name,
                     err.msg);
            continue;
        }
        c->e = e;
        *tail = c;
        tail = &c->next;
    }
    closedir(d);
    for (c = e->ctrs; c != NULL; c = next) {
        next = c->next; /* recovery may remove c (AutoRemove) */
        engine_container_recover(e, c);
    }
    for (c = e->ctrs; c != NULL; c = c->next)
        engine_container_boot(e, c);
}

uv_loop_t *engine_loop(const struct engine *e)
{
    return e->loop;
}

struct engine *engine_new(uv_loop_t *loop, const char *data_root,
                          struct err *err)
{
    struct engine *e = xcalloc(1, sizeof(*e));

    e->loop = loop;
    e->root = xstrdup(data_root);
    e->cdir_root = xasprintf("%s/containers", data_root);
    if (fsutil_mkdir_p(e->cdir_root, 0710, err) != 0)
        goto err_after_alloc;
    e->images = image_store_open(loop, data_root, err);
    if (e->images == NULL)
        goto err_after_alloc;
    image_store_set_in_use(e->images, engine_image_in_use, e);
    e->rt = runtime_new(loop, data_root, err);
    if (e->rt == NULL)
        goto err_after_images;
    runtime_set_exit_cb(e->rt, engine_container_on_exit, e);
    engine_load(e);
    return e;

err_after_images:
    image_store_free(e->images);
err_after_alloc:
    free(e->cdir_root);
    free(e->root);
    free(e);
    return NULL;
}

const char *engine_root(const struct engine *e)
{
    return e->root;
}

struct image_store *engine_images(struct engine *e)
{
    return e->images;
}

static void engine_on_runtime_closed(void *data)
{
    struct engine *e = data;
    struct engine_sub *s;
    struct engine_ctr *c;
    void (*cb)(void *) = e->close_cb;
    void *cb_data = e->close_data;

    engine_container_free_attaches(e);
    while ((c = e->ctrs) != NULL) {
        e->ctrs = c->next;
        engine_state_free_ctr(c);
    }
    while ((s = e->subs) != NULL) {
        e->subs = s->next;
        free(s);
    }
    image_store_free(e->images);
    free(e->cdir_root);
    free(e->root);
    free(e);
    if (cb != NULL)
        cb(cb_data);
}

static void engine_on_timer_closed(uv_handle_t *h)
{
    free(h);
}

void engine_close(struct engine *e, void (*cb)(void *data), void *data)
{
    struct engine_ctr *c;

    e->closing = true;
    e->close_cb = cb;
    e->close_data = data;
    engine_logs_close_all(e);
    for (c = e->ctrs; c != NULL; c = c->next)
        engine_health_stop(c, false);
    engine_exec_free_all(e);
    for (c = e->ctrs; c != NULL; c = c->next) {
        struct engine_waiter *w;
        struct err err;

        engine_container_cancel_restart(c);
        if (c->kill_timer != NULL) {
            uv_close((uv_handle_t *)c->kill_timer, engine_on_timer_closed);
            c->kill_timer = NULL;
        }
        engine_container_shutdown(c);
        err_clear(&err);
        err_set(&err, ERR_CANCELED, "the daemon is shutting down");
        while ((w = c->waiters) != NULL) {
            c->waiters = w->next;
            w->cb(w->data, -ERR_CANCELED, &err);
            free(w);
        }
    }
    runtime_close(e->rt, engine_on_runtime_closed, e);
}

void *engine_subscribe(struct engine *e, engine_event_fn fn, void *data)
{
    struct engine_sub *s = xcalloc(1, sizeof(*s));

    s->fn = fn;
    s->data = data;
    s->next = e->subs;
    e->subs = s;
    return s;
}

void engine_unsubscribe(struct engine *e, void *sub)
{
    struct engine_sub **pp;

    /* a subscriber may drop itself or another one from an event: the
     * list being walked stays intact until the walk ends */
    if (e->emitting > 0) {
        ((struct engine_sub *)sub)->fn = NULL;
        return;
    }
    for (pp = &e->subs; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == sub) {
            *pp = ((struct engine_sub *)sub)->next;
            free(sub);
            return;
        }
    }
}

void engine_emit(struct engine *e, const char *action,
                 const struct engine_ctr *c, const char *extra_key,
                 const char *extra_val)
{
    json_t *attrs = json_object();
    json_t *labels = json_object_get(c->config, "Labels");
    struct engine_sub *s;
    struct engine_sub **pp;

    if (json_is_object(labels))
        json_object_update(attrs, labels);
    json_object_set_new(attrs, "name", json_string(c->name + 1));
    json_object_set_new(
        attrs, "image",
        json_string(json_string_value(json_object_get(c->config, "Image"))
                        ?: c->image_id));
    if (extra_key != NULL)
        json_object_set_new(attrs, extra_key, json_string(extra_val));
    log_info(LOG_MAIN, "container %s %s (%s)", action, c->id, c->name + 1);
    e->emitting++;
    for (s = e->subs; s != NULL; s = s->next) {
        if (s->fn != NULL)
            s->fn(s->data, action, c->id, attrs);
    }
    json_decref(attrs);
    if (--e->emitting > 0)
        return;
    for (pp = &e->subs; (s = *pp) != NULL;) {
        if (s->fn != NULL) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        free(s);
    }
}

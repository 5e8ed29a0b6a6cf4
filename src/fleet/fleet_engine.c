/* SPDX-License-Identifier: Apache-2.0 */
/* The simulated nodes' engine: containers without processes (fleet_int.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/compiler.h"
#include "base/ids.h"
#include "base/mem.h"
#include "fleet/fleet_int.h"

#define FLEET_ENGINE__ID_BYTES 32 /* a container ID: 64 hex digits */
#define FLEET_ENGINE__PID 4242    /* State.Pid of every running container */

/* A completion due on the next loop turn. */
struct fleet_engine_done
{
    struct fleet_engine_done *next;
    engine_done_cb cb;
    void *data;
};

static void fleet_engine_on_timer(uv_timer_t *t);

/* Run every completion queued so far (those they queue wait for the next
 * turn). */
static void fleet_engine_run(struct fleet_engine *e)
{
    struct fleet_engine_done *d = e->head;
    struct fleet_engine_done *next;

    e->head = NULL;
    e->tail = NULL;
    for (; d != NULL; d = next) {
        next = d->next;
        d->cb(d->data, 0, NULL);
        free(d);
    }
}

static void fleet_engine_on_timer(uv_timer_t *t)
{
    struct fleet_engine *e = t->data;

    fleet_engine_run(e);
    if (e->head != NULL && !e->closing)
        uv_timer_start(&e->timer, fleet_engine_on_timer, 0, 0);
}

static void fleet_engine_defer(struct fleet_engine *e, engine_done_cb cb,
                               void *data)
{
    struct fleet_engine_done *d = xcalloc(1, sizeof(*d));

    d->cb = cb;
    d->data = data;
    if (e->tail != NULL)
        e->tail->next = d;
    else
        e->head = d;
    e->tail = d;
    if (!e->closing && !uv_is_active((uv_handle_t *)&e->timer))
        uv_timer_start(&e->timer, fleet_engine_on_timer, 0, 0);
}

/* The container's entry, or NULL with err set to Docker's text. */
static json_t *fleet_engine_find(struct fleet_engine_node *n, const char *id,
                                 struct err *err)
{
    json_t *c = json_object_get(n->containers, id);

    if (c == NULL)
        err_set(err, ERR_NOTFOUND, "No such container: %s", id);
    return c;
}

static int fleet_engine_image(void *data, const char *ref, struct err *err)
{
    UNUSED(data);
    UNUSED(ref);
    UNUSED(err);
    return 0;
}

static int fleet_engine_create(void *data, const char *name,
                               const json_t *body, char **id_out,
                               struct err *err)
{
    struct fleet_engine_node *n = data;
    unsigned char raw[FLEET_ENGINE__ID_BYTES];
    char id[2 * FLEET_ENGINE__ID_BYTES + 1];
    size_t i;

    UNUSED(name);
    UNUSED(body);
    UNUSED(err);
    ids_random(raw, sizeof(raw));
    for (i = 0; i < sizeof(raw); i++)
        snprintf(id + 2 * i, 3, "%02x", raw[i]);
    json_object_set_new(n->containers, id, json_false());
    *id_out = xstrdup(id);
    return 0;
}

static int fleet_engine_start(void *data, const char *id, engine_done_cb cb,
                              void *cb_data, struct err *err)
{
    struct fleet_engine_node *n = data;
    json_t *c = fleet_engine_find(n, id, err);

    if (c == NULL)
        return -ERR_NOTFOUND;
    if (!json_is_true(c)) {
        json_object_set_new(n->containers, id, json_true());
        n->e->n_running++;
        n->e->n_started++;
    }
    fleet_engine_defer(n->e, cb, cb_data);
    return 0;
}

static int fleet_engine_stop(void *data, const char *id, int timeout_s,
                             engine_done_cb cb, void *cb_data,
                             struct err *err)
{
    struct fleet_engine_node *n = data;
    json_t *c = fleet_engine_find(n, id, err);

    UNUSED(timeout_s);
    if (c == NULL)
        return -ERR_NOTFOUND;
    if (json_is_true(c)) {
        json_object_set_new(n->containers, id, json_false());
        n->e->n_running--;
    }
    fleet_engine_defer(n->e, cb, cb_data);
    return 0;
}

static int fleet_engine_remove(void *data, const char *id, engine_done_cb cb,
                               void *cb_data, struct err *err)
{
    struct fleet_engine_node *n = data;
    json_t *c = fleet_engine_find(n, id, err);

    if (c == NULL)
        return -ERR_NOTFOUND;
    if (json_is_true(c))
        n->e->n_running--;
    json_object_del(n->containers, id);
    fleet_engine_defer(n->e, cb, cb_data);
    return 0;
}

static json_t *fleet_engine_inspect(void *data, const char *id,
                                    struct err *err)
{
    struct fleet_engine_node *n = data;
    json_t *c = fleet_engine_find(n, id, err);

    if (c == NULL)
        return NULL;
    return json_pack("{s:s, s:{s:b, s:i}}", "Id", id, "State", "Running",
                     json_is_true(c), "Pid",
                     json_is_true(c) ? FLEET_ENGINE__PID : 0);
}

/* The executor adopts labelled containers after a restart; a simulated
 * node starts with none. */
static json_t *fleet_engine_list(void *data, const char *label,
                                 struct err *err)
{
    UNUSED(data);
    UNUSED(label);
    UNUSED(err);
    return json_array();
}

const struct agent_exec_ops fleet_engine_ops = {
    .image_exists = fleet_engine_image,
    .create = fleet_engine_create,
    .start = fleet_engine_start,
    .stop = fleet_engine_stop,
    .remove = fleet_engine_remove,
    .inspect = fleet_engine_inspect,
    .list = fleet_engine_list,
    .subscribe = NULL,
    .unsubscribe = NULL,
};

void fleet_engine_init(struct fleet_engine *e, uv_loop_t *loop)
{
    memset(e, 0, sizeof(*e));
    uv_timer_init(loop, &e->timer);
    e->timer.data = e;
}

struct fleet_engine_closing
{
    void (*cb)(void *data);
    void *data;
};

static void fleet_engine_on_closed(uv_handle_t *h)
{
    struct fleet_engine_closing *cl = h->data;
    void (*cb)(void *) = cl->cb;
    void *data = cl->data;

    free(cl);
    if (cb != NULL)
        cb(data);
}

void fleet_engine_close(struct fleet_engine *e, void (*cb)(void *data),
                        void *data)
{
    struct fleet_engine_closing *cl = xcalloc(1, sizeof(*cl));

    e->closing = true;
    while (e->head != NULL)
        fleet_engine_run(e);
    cl->cb = cb;
    cl->data = data;
    e->timer.data = cl;
    uv_close((uv_handle_t *)&e->timer, fleet_engine_on_closed);
}

void fleet_engine_node_init(struct fleet_engine_node *n,
                            struct fleet_engine *e)
{
    n->e = e;
    n->containers = json_object();
}

void fleet_engine_node_release(struct fleet_engine_node *n)
{
    const char *id;
    json_t *c;

    json_object_foreach(n->containers, id, c) {
        if (json_is_true(c))
            n->e->n_running--;
    }
    json_decref(n->containers);
    n->containers = NULL;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The executor's operations over the local engine (engine.h). */
#include <stdlib.h>

#include "agent/agent_engine.h"
#include "engine/image_store.h"

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
};

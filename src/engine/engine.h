/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The local engine of a node: its images (image_store.h) and containers
 * (run by runtime.h), with their state under <data-root>/containers/<id>/
 * (config.v2.json, hostconfig.json, <id>-json.log). Serves the /containers,
 * /exec and /images routes of the Engine API, and the agent's executor,
 * which drives swarm tasks through the same operations.
 */
#ifndef SHOAL_ENGINE_H
#define SHOAL_ENGINE_H

#include <stdbool.h>

#include <jansson.h>
#include <uv.h>

#include "base/err.h"

struct engine;
struct image_store;

/* Open the engine under data_root: images, containers found on disk
 * (containers that were running are reattached or their exit recorded). */
struct engine *engine_new(uv_loop_t *loop, const char *data_root,
                          struct err *err);
/* Close handles (containers keep running); cb fires once freed. */
void engine_close(struct engine *e, void (*cb)(void *data), void *data);

struct image_store *engine_images(struct engine *e);

typedef void (*engine_done_cb)(void *data, int status, const struct err *err);

/* POST /containers/create: body is the ContainerCreate request (Config
 * fields plus HostConfig, NetworkingConfig), name may be NULL (Docker's
 * adjective_name). *id_out: 64-hex ID, malloc'd. */
int engine_container_create(struct engine *e, const char *name,
                            const json_t *body, char **id_out,
                            struct err *err);
/* ref: full ID, unique ID prefix or name. */
int engine_container_start(struct engine *e, const char *ref,
                           engine_done_cb cb, void *data, struct err *err);
/* Stop: StopSignal (default SIGTERM), then SIGKILL after timeout_s
 * (negative: the container's StopTimeout, default 10). */
int engine_container_stop(struct engine *e, const char *ref, int timeout_s,
                          engine_done_cb cb, void *data, struct err *err);
int engine_container_remove(struct engine *e, const char *ref, bool force,
                            engine_done_cb cb, void *data, struct err *err);
/* GET /containers/{id}/json shape; new reference. */
json_t *engine_container_inspect(struct engine *e, const char *ref,
                                 struct err *err);
/* GET /containers/json shape ([]ContainerSummary); filters as parsed by
 * api_filters_parse (may be NULL). New reference. */
json_t *engine_container_list(struct engine *e, bool all,
                              const json_t *filters, struct err *err);

/* Container events: action is "create", "start", "die" (attrs has
 * "exitCode" as a string, like Docker's events), "destroy". id is the full
 * ID; attrs lent for the call (the container's labels plus extras). */
typedef void (*engine_event_fn)(void *data, const char *action,
                                const char *id, const json_t *attrs);
/* Returns a subscription handle for engine_unsubscribe. */
void *engine_subscribe(struct engine *e, engine_event_fn fn, void *data);
void engine_unsubscribe(struct engine *e, void *sub);

#endif

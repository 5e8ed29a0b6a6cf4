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
#include <stddef.h>

#include <jansson.h>
#include <uv.h>

#include "base/err.h"

struct engine;
struct image_store;

/* Open the engine under data_root: images, containers found on disk
 * (containers that were running are reattached or their exit recorded). */
struct engine *engine_new(uv_loop_t *loop, const char *data_root,
                          struct err *err);
/* The loop the engine runs on. */
uv_loop_t *engine_loop(const struct engine *e);
/* Close handles (containers keep running); cb fires once freed. */
void engine_close(struct engine *e, void (*cb)(void *data), void *data);

struct image_store *engine_images(struct engine *e);
/* The data root (borrowed, valid while e lives). */
const char *engine_root(const struct engine *e);

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
/* Stop with sig (a name or number as for kill) instead of StopSignal
 * (NULL or "": StopSignal). */
int engine_container_stop_sig(struct engine *e, const char *ref,
                              int timeout_s, const char *sig,
                              engine_done_cb cb, void *data,
                              struct err *err);
/* Remove (force: kill a running one first); cb gets the container's last
 * exit code (>= 0) once it is gone, or -code. */
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

/* Docker's further container operations (api/api_containers.c). */
/* POST /containers/{id}/kill: sig is a name or number (NULL: SIGKILL). */
int engine_container_kill(struct engine *e, const char *ref, const char *sig,
                          struct err *err);
/* POST /containers/{id}/restart: stop (timeout as for stop), then start. */
int engine_container_restart(struct engine *e, const char *ref,
                             int timeout_s, engine_done_cb cb, void *data,
                             struct err *err);
/* POST /containers/{id}/wait: condition "not-running" (default),
 * "next-exit" or "removed". Returns 1 with *out_code when the condition
 * holds already (cb never fires), 0 when cb will get the exit code
 * (status >= 0) or -code (ERR_CANCELED when the engine closes), -code on
 * error. */
int engine_container_wait(struct engine *e, const char *ref,
                          const char *condition, engine_done_cb cb,
                          void *data, int *out_code, struct err *err);
int engine_container_rename(struct engine *e, const char *ref,
                            const char *name, struct err *err);
int engine_container_resize(struct engine *e, const char *ref, unsigned rows,
                            unsigned cols, struct err *err);
/* POST /containers/prune: {"ContainersDeleted": [...],
 * "SpaceReclaimed": 0}; new reference. */
json_t *engine_container_prune(struct engine *e, const json_t *filters,
                               struct err *err);
/* Whether the container has a TTY (raw streams) or not (multiplexed). */
int engine_container_tty(struct engine *e, const char *ref, bool *tty,
                         struct err *err);

/* Attach to a container's stdio (before its start or while it runs): fn
 * gets output (stream 1 or 2), then stream 0 once at the end, after which
 * the caller must call engine_attach_close. stdin written before the
 * container's process exists is kept (up to 1 MiB) and delivered at its
 * start; len 0 closes the container's stdin. */
struct engine_attach;
typedef void (*engine_output_fn)(void *data, int stream, const char *buf,
                                 size_t len);
struct engine_attach *engine_container_attach(struct engine *e,
                                              const char *ref, bool in,
                                              bool out, bool errs,
                                              engine_output_fn fn,
                                              void *data, struct err *err);
int engine_attach_write(struct engine_attach *a, const void *buf,
                        size_t len);
/* Detach and free; fn never fires after it. */
void engine_attach_close(struct engine_attach *a);

/* GET /containers/{id}/logs: fn gets each record (stream 1 or 2, with the
 * timestamp prefix when asked), then end fires once (stream 0, len 0).
 * since/until are Unix times (0: none), tail < 0 for all. With follow
 * the records keep coming until the container stops or engine_logs_cancel.
 * Returns a handle, NULL with err. */
struct engine_logs;
struct engine_logs_opts
{
    bool out, errs, follow, timestamps;
    long tail;
    double since, until;
};
struct engine_logs *engine_container_logs(struct engine *e, const char *ref,
                                          const struct engine_logs_opts *o,
                                          engine_output_fn fn, void *data,
                                          struct err *err);
/* Stop early; fn never fires after it. */
void engine_logs_cancel(struct engine_logs *l);

/* Exec instances (api/api_exec.c). */
/* POST /containers/{id}/exec: body is the ExecConfig; *id_out malloc'd. */
int engine_exec_create(struct engine *e, const char *ref, const json_t *body,
                       char **id_out, struct err *err);
/* POST /exec/{id}/start: out gets output (stream 1/2), exit_fn the exit
 * code once, then nothing more. *tty_out tells the framing. */
struct engine_exec;
typedef void (*engine_exec_exit_fn)(void *data, int exit_code);
struct engine_exec *engine_exec_start(struct engine *e, const char *exec_id,
                                      bool *tty_out, engine_output_fn out,
                                      engine_exec_exit_fn exit_fn,
                                      void *data, struct err *err);
int engine_exec_write(struct engine_exec *x, const void *buf, size_t len);
/* The client went away: no more callbacks (the process runs on). */
void engine_exec_detach(struct engine_exec *x);
json_t *engine_exec_inspect(struct engine *e, const char *exec_id,
                            struct err *err);
int engine_exec_resize(struct engine *e, const char *exec_id, unsigned rows,
                       unsigned cols, struct err *err);

#endif

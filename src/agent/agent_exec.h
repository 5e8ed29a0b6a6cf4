/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's executor: runs the tasks the dispatcher assigns to this node
 * as containers of the local engine, through Docker's task states
 * (SWARM-FACTS 6.3): ASSIGNED -> ACCEPTED "accepted" -> PREPARING
 * "preparing" (image present locally, else REJECTED "No such image: x")
 * -> READY "prepared" (container created) -> STARTING "starting" ->
 * RUNNING "started" -> COMPLETE "finished" (exit 0) or FAILED
 * "task: non-zero exit (N)". DesiredState SHUTDOWN or later stops the
 * container (StopGracePeriod, default 10 s) -> SHUTDOWN "shutdown". A task
 * no longer assigned is removed with its container.
 *
 * Containers are named <service>.<slot>.<task id> (global tasks:
 * <service>.<node id>.<task id>) when the task carries
 * ServiceAnnotations.Name, else <Name>.<task id>, else <task id>, and
 * labelled com.docker.swarm.{task.id,task.name,service.id,service.name,
 * node.id} as Docker does. Every COMPLETE assignment set reconciles: the
 * containers with a com.docker.swarm.task.id label are adopted by their
 * task (its state re-reported) or removed when the task is gone.
 *
 * The engine is reached only through struct agent_exec_ops (the daemon's
 * are agent_engine.c's, over engine.h; unit tests use fakes). Everything
 * runs on the loop; nothing blocks.
 */
#ifndef SHOAL_AGENT_EXEC_H
#define SHOAL_AGENT_EXEC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "base/err.h"
#include "engine/engine.h"

#define AGENT_EXEC_LABEL_TASK_ID "com.docker.swarm.task.id"
#define AGENT_EXEC_DEFAULT_GRACE_S 10

/* The engine operations the executor uses (engine.h's, minus the engine
 * argument). Contracts as in engine.h; data is the ops' own. */
struct agent_exec_ops
{
    /* 0 when ref resolves to a local image, else -code with err set. */
    int (*image_exists)(void *data, const char *ref, struct err *err);
    int (*create)(void *data, const char *name, const json_t *body,
                  char **id_out, struct err *err);
    int (*start)(void *data, const char *id, engine_done_cb cb, void *cb_data,
                 struct err *err);
    int (*stop)(void *data, const char *id, int timeout_s, engine_done_cb cb,
                void *cb_data, struct err *err);
    int (*remove)(void *data, const char *id, engine_done_cb cb,
                  void *cb_data, struct err *err);
    json_t *(*inspect)(void *data, const char *id, struct err *err);
    /* All containers carrying label (a label filter), summaries. */
    json_t *(*list)(void *data, const char *label, struct err *err);
    /* Container events to fn until unsubscribed (both may be NULL: the
     * owner then calls agent_exec_event itself). */
    void *(*subscribe)(void *data, engine_event_fn fn, void *fn_data);
    void (*unsubscribe)(void *data, void *sub);
    /* Optional (NULL: no health checks). Watch the health of a started
     * container as its engine checks it (its Config.Healthcheck: the
     * task's, else the image's): fn(fn_data, healthy) on each change to
     * healthy or unhealthy. A handle for health_stop (which must be
     * called once; fn never fires after it), or NULL when the container
     * has no healthcheck. */
    void *(*health_watch)(void *data, const char *id,
                          void (*fn)(void *fn_data, bool healthy),
                          void *fn_data);
    void (*health_stop)(void *data, void *watch);
    /* Secrets and configs of a task: put files (an array of {"Name" (a
     * plain file name), "Data" (base64), "UID", "GID", "Mode"}) on a
     * fresh tmpfs of task_id's own (replacing one left from before) and
     * give its directory (*out_dir malloc'd). Nothing touches a disk.
     * files_unmount drops it (no-op when there is none). */
    int (*files_mount)(void *data, const char *task_id, const json_t *files,
                       char **out_dir, struct err *err);
    void (*files_unmount)(void *data, const char *task_id);
};

struct agent_exec;

/* notify (may be NULL) runs when new statuses are waiting in
 * agent_exec_take_updates. node_id is copied (the .node.id label). */
struct agent_exec *agent_exec_new(const struct agent_exec_ops *ops,
                                  void *ops_data, const char *node_id,
                                  void (*notify)(void *data), void *data);
/* Forget every task (containers are left running) and free x; callbacks
 * of engine operations in flight are ignored afterwards. NULL: no-op. */
void agent_exec_free(struct agent_exec *x);

/* Pace the slow steps (creating, starting a container): at most
 * AGENT_EXEC_SLOW_PER_TURN run at once; then wake(data) is called once
 * and the owner calls agent_exec_resume(x) on a later loop turn (before
 * agent_exec_free, or not at all). Without a pacer every step runs at
 * once. */
#define AGENT_EXEC_SLOW_PER_TURN 2u
void agent_exec_set_pacer(struct agent_exec *x, void (*wake)(void *data),
                          void *data);
void agent_exec_resume(struct agent_exec *x);

/* One message of the assignments stream (dispatcher.h's format,
 * borrowed). 0, or -ERR_PROTO when msg is malformed (nothing changed). */
int agent_exec_assign(struct agent_exec *x, const json_t *msg,
                      struct err *err);

/* A container event from the engine (engine_event_fn). */
void agent_exec_event(struct agent_exec *x, const char *action,
                      const char *id, const json_t *attrs);

/* The statuses to send: {"Updates": [{"TaskID", "Status"}]}, or NULL when
 * none. New reference; they are no longer pending. */
json_t *agent_exec_take_updates(struct agent_exec *x);
/* Sending body (a take_updates result) failed: queue its statuses again
 * unless a newer one of the task is queued. */
void agent_exec_requeue(struct agent_exec *x, const json_t *body);
/* Queue the last status of every task (after reconnecting). */
void agent_exec_resend_all(struct agent_exec *x);

/* Tasks known, and the last state reported for one (-1 if unknown):
 * tests, diagnostics. */
size_t agent_exec_n_tasks(const struct agent_exec *x);
int agent_exec_task_state(const struct agent_exec *x, const char *task_id);

/* The container name of a task (new string). */
char *agent_exec_container_name(const json_t *task);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The orchestrators' decisions: which tasks a service should have
 * (replicated slots, one per node for global services, jobs), restarts
 * after a task ends, task history retention and rolling updates. Pure
 * functions over Engine-API-shaped JSON (a Service, its tasks, the nodes)
 * with time passed in as nanoseconds since the epoch; each returns a new
 * array of store actions (kind "task" or "service", the shape of
 * store_action_*: {"op","kind","obj"|"id"[,"version"]}) owned by the
 * caller, and never touches a store.
 *
 * Maps: tasks and nodes are {ID: object} maps as store_all returns; tasks
 * may hold other services' tasks (they are skipped by ServiceID).
 *
 * Internal task fields (stripped from API answers like every "_" field):
 *  _Endpoint     the service's Endpoint (published ports) when created
 *  _StartAt      ns: a replacement created with DesiredState "ready" may
 *                be raised to "running" from then on (restart delay)
 *  _Replaces     the ID of the task it replaces (wait for it to stop)
 *  _RestartedAt  ns: set on a task made by the restart supervisor
 *  _Update       ns: the _Update.Since of the rolling update that made it
 *  _RunningAt    ns: when that update first saw it running (the start of
 *                its Monitor and Delay periods)
 *
 * Rolling update state on the service (all of it stored, none in memory:
 * a new leader continues an update from the objects alone):
 *  UpdateStatus  {State, StartedAt, CompletedAt, Message} as Docker shows
 *                it; State "updating", "paused", "completed",
 *                "rollback_started", "rollback_paused",
 *                "rollback_completed". ctl_service_update removes it on a
 *                spec change and sets "rollback_started" on a manual
 *                rollback.
 *  _Update       {StartedAt, Since, Slots, Failed}: the bookkeeping of the
 *                update (or rollback) whose UpdateStatus.StartedAt is
 *                StartedAt (another StartedAt means a new one): Since
 *                (ns) marks its tasks, Slots is the number of slots that
 *                were dirty when it began (the failure ratio's
 *                denominator), Failed the IDs of its tasks counted as
 *                failures.
 * Jobs: JobStatus.JobIteration.Index (0 if absent) is the iteration; each
 * job task carries JobIteration {Index} of the iteration it belongs to.
 */
#ifndef SHOAL_ORCH_H
#define SHOAL_ORCH_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "base/err.h"

#define ORCH_NS_PER_SEC 1000000000LL
/* swarmkit's defaults (SWARM-FACTS 6.4, 6.5). */
#define ORCH_DEFAULT_RESTART_DELAY (5 * ORCH_NS_PER_SEC)
#define ORCH_OLD_TASK_TIMEOUT (60 * ORCH_NS_PER_SEC)
#define ORCH_DEFAULT_HISTORY_LIMIT 5
#define ORCH_DEFAULT_MONITOR (5 * ORCH_NS_PER_SEC)

/* Store actions on tasks; obj is stolen. version 0: unchecked. */
json_t *orch_action_create(json_t *obj);
json_t *orch_action_update(json_t *obj, uint64_t version);
json_t *orch_action_delete(const char *id);

/*
 * A new task of service (Status new "created", DesiredState desired,
 * Spec copied from Spec.TaskTemplate, ServiceAnnotations, SpecVersion,
 * _Endpoint) in slot (replicated; 0 for none) or on node_id (global;
 * NULL for none). A new random ID. Caller owns the result.
 */
json_t *orch_task_new(const json_t *service, uint64_t slot,
                      const char *node_id, const char *desired, int64_t now);

/* True if a task's node can keep running it: the node exists, is not
 * down, not drained, and still satisfies the task's constraints and
 * platforms. A task with no node is valid. */
bool orch_node_valid(const json_t *nodes, const json_t *task);

/* True if a task's Spec is not the service's current TaskTemplate (a
 * ForceUpdate change counts) or its ports differ from the service's. */
bool orch_task_is_dirty(const json_t *service, const json_t *task);

/* Tasks ({ID: task}) grouped by service in one pass: {ServiceID: {ID:
 * task}}, the tasks shared with the input. New reference. */
json_t *orch_tasks_by_service(const json_t *tasks);

/* "replicated", "global", "replicated-job", "global-job", or NULL. */
const char *orch_service_mode(const json_t *service);

/*
 * Replicated services: slots 1..Replicas. Creates a task (desired
 * running) in every slot below the count that has no runnable task
 * (desired state at most running); scales down by setting DesiredState
 * "remove" on whole slots, non-running ones first, then those on the
 * nodes with most copies, then the highest slots; restarts runnable tasks
 * whose node is gone, down, drained or no longer satisfies their
 * constraints (the old one shut down, a replacement in the same slot,
 * see orch_restart_task). At most max new tasks (0: no limit): a larger
 * service is filled by later passes.
 */
json_t *orch_replicated(const json_t *service, const json_t *tasks,
                        const json_t *nodes, int64_t now, size_t max);

/*
 * Global services: one task per eligible node (not down, not drained,
 * constraints and platforms satisfied), created with the NodeID set
 * (the scheduler confirms it). Runnable tasks on nodes that are no longer
 * eligible are shut down, and extra runnable tasks on a node (all but
 * the running or newest one). A node whose task ended and that the
 * restart policy will not restart keeps none.
 */
json_t *orch_global(const json_t *service, const json_t *tasks,
                    const json_t *nodes, int64_t now);

/*
 * Restart supervision for one ended task (Status.State past running, its
 * DesiredState still at most running), or one on an invalid node: the
 * actions that set its DesiredState to shutdown and, if the service's
 * RestartPolicy allows (Condition none: never; on-failure: not after
 * complete; any: always; MaxAttempts restarts within Window, counting
 * earlier restarts in the same slot or node with the same Spec), create a
 * replacement in the same slot or node with DesiredState "ready",
 * _StartAt now + Delay, _Replaces the old task. A task lost with its node
 * (orch_node_lost) did not fail: its replacement gets _StartAt now (a
 * departure from swarmkit, which waits the Delay there too). Appends to
 * actions.
 */
void orch_restart_task(const json_t *service, const json_t *tasks,
                       const json_t *task, const json_t *nodes, int64_t now,
                       json_t *actions);

/* True if task has not ended and its node (in the {ID: node} map nodes)
 * is down or gone: it is lost with its node rather than failed. */
bool orch_node_lost(const json_t *nodes, const json_t *task);

/* Restart supervision for every ended runnable task of the service
 * (orch_restart_task on each). */
json_t *orch_restart(const json_t *service, const json_t *tasks,
                     const json_t *nodes, int64_t now);

/*
 * Delayed starts: each task of the service with DesiredState "ready" and
 * a _StartAt is raised to "running" ("complete" for a job) once
 * now >= _StartAt and the task it replaces has stopped (ended, gone, its
 * node invalid, or ORCH_OLD_TASK_TIMEOUT passed since the replacement
 * was made). *out_next gets the earliest future time at which calling
 * again may change something, or INT64_MAX.
 */
json_t *orch_start_delayed(const json_t *service, const json_t *tasks,
                           const json_t *nodes, int64_t now,
                           int64_t *out_next);

/*
 * Task history retention: per slot (replicated) or node (global), keep at
 * most limit tasks (negative: keep all; at least MaxAttempts+1 when the
 * restart policy has MaxAttempts), deleting the oldest ended ones first
 * (by CreatedAt, then Version). Tasks whose DesiredState is "remove" and
 * that ended or never started are deleted regardless.
 */
json_t *orch_history(const json_t *service, const json_t *tasks,
                     int64_t limit);

/*
 * Rolling update of a replicated or global service (swarmkit's updater;
 * anything else: no actions). A slot (or a global service's node) is
 * dirty while it has a runnable task whose Spec is not the current
 * TaskTemplate (orch_task_is_dirty). The configuration is
 * Spec.UpdateConfig, or Spec.RollbackConfig while UpdateStatus.State is
 * "rollback_*" (absent fields: swarmkit's defaults, Parallelism 1,
 * Monitor 5 s, FailureAction pause, stop-first). One pass:
 *  - paused / rollback_paused: nothing new (slots under way still drop
 *    their old tasks once the new one runs), until the spec changes;
 *  - no update under way and dirty slots: UpdateStatus "updating",
 *    `update in progress`, StartedAt now;
 *  - records _RunningAt on this update's tasks first seen running;
 *  - a slot with old tasks and a running new one: the old ones shut down;
 *  - this update's tasks that ended before running or within Monitor of
 *    running are failures; when a new one makes failures / Slots exceed
 *    MaxFailureRatio, FailureAction: "pause" (State "paused", Message
 *    `update paused due to failure or early termination of task <id>`;
 *    while rolling back "rollback_paused", `rollback paused ...`),
 *    "continue", or "rollback" (Spec = PreviousSpec, PreviousSpec
 *    removed, Endpoint from it, State "rollback_started", `update rolled
 *    back due to failure or early termination of task <id>`; a rollback
 *    never rolls back, it pauses);
 *  - a slot is in flight while its new task has not run yet or ran less
 *    than Delay ago; while fewer than Parallelism (0: no limit) are, the
 *    next dirty slots (by slot number, or node ID) start: a new task of
 *    the current spec with _Update; stop-first shuts the old ones down
 *    and creates the new one with DesiredState "ready", _StartAt now and
 *    _Replaces (orch_start_delayed starts it once they stopped);
 *    start-first creates it "running";
 *  - no dirty slot left: once every running task of the update ran for
 *    Monitor, "completed" / `update completed` (or "rollback_completed"
 *    / `rollback completed`) with CompletedAt, _Update removed.
 * The service write is one action {"op":"update","kind":"service","obj",
 * "version"}, with "keep_version": true unless Spec changed (status-only
 * writes never make a user's update "out of sequence"). *out_next (if
 * not NULL) gets the earliest future time at which a pass may decide
 * something new without any store change (Delay or Monitor ending), or
 * INT64_MAX.
 */
json_t *orch_update(const json_t *service, const json_t *tasks, int64_t now,
                    int64_t *out_next);

/*
 * Jobs (anything else: no actions). Tasks are created with DesiredState
 * "complete" and JobIteration {Index} of the service's
 * JobStatus.JobIteration; runnable tasks of other iterations are shut
 * down; failed tasks of this iteration go through the restart policy
 * (orch_restart_task: the replacement starts with orch_start_delayed).
 *  - replicated-job: slots 0.. (as swarmkit's); a slot is live while one of its tasks is
 *    wanted and not ended, spent once its task completed or failed for
 *    good (not restarted); runs min(MaxConcurrent - live, TotalCompletions
 *    - spent - live) new tasks in the lowest free slots (MaxConcurrent 0
 *    counts as 1; TotalCompletions absent: MaxConcurrent);
 *  - global-job: one task on each eligible node (not down, not drained,
 *    constraints satisfied) that has none of this iteration, including
 *    nodes that join later; live tasks on nodes no longer eligible shut
 *    down.
 * Completed tasks keep DesiredState "complete" and count.
 */
json_t *orch_jobs(const json_t *service, const json_t *tasks,
                  const json_t *nodes, int64_t now);

#endif

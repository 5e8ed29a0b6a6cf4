/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The scheduler's decisions: which node each pending task goes to, as
 * swarmkit's pipeline decides (filters, then spread). Pure functions over
 * Engine-API-shaped JSON objects (nodes, tasks) with time passed in; they
 * return store actions to propose and never touch a store. Placement
 * constraints and platforms live here too: the control API validates them
 * and the orchestrators ask whether a node still satisfies a task.
 */
#ifndef SHOAL_SCHED_H
#define SHOAL_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/err.h"
#include "manager/store/store.h"

/* A task that holds its node's resources and counts as one of the
 * node's tasks: observed state at most RUNNING and desired state at
 * most COMPLETE (job tasks run with desired COMPLETE). */
bool sched_task_is_active(const json_t *task);

/* now (nanoseconds since the epoch, UTC) as RFC 3339 with nanoseconds,
 * "2024-05-01T10:00:00.000000001Z"; out has at least 40 bytes. */
void sched_timestamp(int64_t now, char *out, size_t out_cap);

/* One placement constraint, "key op value". */
struct sched_constraint
{
    char *key;   /* owned */
    char *value; /* owned */
    bool eq;     /* "==" (true) or "!=" */
};

struct sched_constraints
{
    struct sched_constraint *v; /* owned array */
    size_t n;
};

/*
 * Parse a Placement.Constraints array (NULL or JSON null: none) as
 * swarmkit does. On error ERR_INVALID with swarmkit's text, bare
 * (`constraint expected one operator from ==, !=`, `key 'k' is invalid`,
 * `value 'v' is invalid`); out is then empty. Release with _clear.
 */
int sched_constraints_parse(const json_t *list, struct sched_constraints *out,
                            struct err *err);
void sched_constraints_clear(struct sched_constraints *c);

/* True if node satisfies every constraint (node.id, node.hostname,
 * node.ip, node.role, node.platform.os, node.platform.arch,
 * node.labels.K, engine.labels.K; values compared case-insensitively;
 * an unknown key never matches). */
bool sched_constraints_match(const struct sched_constraints *c,
                             const json_t *node);

/* True if node's Description.Platform is one of the task spec's
 * Placement.Platforms (none listed: any; empty fields: any; amd64 is
 * x86_64, arm64 is aarch64). */
bool sched_platform_ok(const json_t *task_spec, const json_t *node);

/* True if node is one where a task with this spec may run at all: its
 * constraints (unparsable ones: false) and platforms. Readiness,
 * availability and resources are not looked at. */
bool sched_node_fits_spec(const json_t *task_spec, const json_t *node);

/*
 * One scheduling pass. nodes and tasks are {ID: object} maps (as
 * store_all returns); tasks holds every task (placed ones count against
 * their node). Each task whose Status.State is "pending" and
 * DesiredState at most running is decided:
 *  - no NodeID: the best node passing the filters (ready and active;
 *    resources; constraints; platform; host-mode published ports;
 *    MaxReplicas), chosen by the spread preferences, then the fewest
 *    tasks of its service, then the fewest tasks, then the smallest node
 *    ID. Tasks of one service are placed as a batch, each counting for
 *    the next.
 *  - a NodeID already set (a global service's task): confirmed if that
 *    node passes the filters.
 * Returns a new array of task update actions (store action shape, kind
 * "task", checked against each task's Version.Index), caller owns it:
 * placed tasks get NodeID and Status {assigned, "scheduler assigned task
 * to node"}; a task that fits nowhere keeps Status.State pending with
 * Status.Err "no suitable node (<reasons>)" (an action only if the text
 * changed). now stamps Status.Timestamp. At most max actions (0: no
 * limit); the tasks left are decided by a later pass.
 */
json_t *sched_run(const json_t *nodes, const json_t *tasks, int64_t now,
                  size_t max);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The leader's orchestration loop: runs the orchestrators (orch.h) and
 * the scheduler (sched.h) over the store and proposes their actions
 * through Raft.
 *
 * A pass runs when the store changed (orch_loop_store_changed marks the
 * loop dirty; changes are coalesced for ORCH_LOOP_COALESCE_MS), when a
 * deadline an orchestrator returned arrives (restart delays, update
 * Delay and Monitor), and at least every ORCH_LOOP_TICK_MS. One pass
 * proposes at most ORCH_LOOP_MAX_ACTIONS actions at once (as entries of
 * the store's cap, cluster_propose); no pass runs while they are in
 * flight, and one runs again when they complete. Per service the orchestrators run in order
 * (reconcile, restart, delayed starts, update, history) and only the
 * first that has something to do contributes to the pass, so their
 * decisions never contradict each other; a pass never carries two
 * writes to one task. New tasks are created PENDING ("pending task
 * scheduling": there is no allocator); the scheduler places PENDING ones.
 * Tasks of removed services get DesiredState "remove" and are deleted
 * once they stopped (or never started, or their node is gone or down).
 *
 * The loop holds no state of its own beyond timers: a new leader resumes
 * from the store. It is inert unless this manager leads.
 */
#ifndef SHOAL_ORCH_LOOP_H
#define SHOAL_ORCH_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "base/err.h"
#include "cluster/cluster.h"
#include "manager/store/store.h"

#define ORCH_LOOP_COALESCE_MS 10u
#define ORCH_LOOP_TICK_MS 1000u
#define ORCH_LOOP_RETRY_MS 100u   /* store not ready, or a failed entry */
#define ORCH_LOOP_MAX_ACTIONS 2000u /* per pass (10 entries) */

struct orch_loop;

/* What the loop needs from its manager (as dispatcher_ops). */
struct orch_loop_ops
{
    /* True while this manager is the Raft leader. */
    bool (*is_leader)(void *data);
    /* The store once this leader's reads are the leader's; else NULL. */
    const struct store *(*store)(void *data);
    /* Propose actions (stolen). 0: cb fires exactly once later; -code
     * with err set: cb never fires. */
    int (*propose)(void *data, json_t *actions, cluster_done_cb cb,
                   void *cb_data, struct err *err);
};

struct orch_loop *orch_loop_new(uv_loop_t *loop,
                                const struct orch_loop_ops *ops, void *data);
/* The daemon's loop: ops over the cluster's public API. */
struct orch_loop *orch_loop_new_cluster(uv_loop_t *loop, struct cluster *c);

/* Leadership may have changed: start when leading, stop otherwise.
 * NULL is a no-op. */
void orch_loop_leader_changed(struct orch_loop *o);

/* A store_watch_fn (data is the loop): schedules a pass. */
void orch_loop_store_changed(void *data, enum store_kind k, const char *id,
                             const json_t *old, const json_t *cur);

/*
 * The actions of one pass over a store's objects ({ID: object} maps) at
 * now (ns) with the cluster's task history limit, at most max of them;
 * seen (service ID -> Version.Index, updated; NULL: always) holds the
 * services reconciled (orch_replicated / orch_global) since the last node
 * change, which are not reconciled again until their version changes,
 * and ("u:" + ID) those the update orchestrator found settled with no
 * update under way; *out_next gets the earliest future deadline (or
 * INT64_MAX) and *out_more whether something was left out.
 * Pure; exposed for unit tests. Caller owns the array.
 */
json_t *orch_loop_pass(const json_t *services, const json_t *tasks,
                       const json_t *nodes, int64_t now, int64_t history,
                       json_t *seen, size_t max,
                       int64_t *out_next, bool *out_more);

/* Close: the timer is closed, a proposal in flight completes on its own.
 * cb fires once from the loop; o is freed then. NULL o: cb at once. */
void orch_loop_close(struct orch_loop *o, void (*cb)(void *data),
                     void *data);

#endif

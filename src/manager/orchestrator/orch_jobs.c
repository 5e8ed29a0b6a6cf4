/* SPDX-License-Identifier: Apache-2.0 */
/* Jobs: replicated-job (TotalCompletions tasks, MaxConcurrent at a time)
 * and global-job (one run per eligible node), per JobIteration. */
#include <stdio.h>
#include <string.h>

#include "manager/orchestrator/orch.h"
#include "manager/orchestrator/orch_int.h"
#include "manager/scheduler/sched.h"
#include "manager/store/store.h"

/* A task of the service's current iteration. */
static bool orch_jobs_is_current(const json_t *service, const json_t *t)
{
    return orch_is_service_task(service, t) &&
           orch_int(t, "JobIteration", "Index") ==
               orch_job_iteration(service);
}

/* Wanted to run (desired at most COMPLETE) and not ended. */
static bool orch_jobs_is_live(const json_t *t)
{
    int ds = store_task_desired(t);

    return ds >= 0 && ds <= STORE_TASK_COMPLETE && !orch_has_ended(t);
}

/* Ended without completing while still wanted: the restart policy's. */
static bool orch_jobs_has_failed(const json_t *t)
{
    int ds = store_task_desired(t);

    return ds >= 0 && ds <= STORE_TASK_COMPLETE &&
           store_task_state(t) > STORE_TASK_COMPLETE;
}

/* Shut down what is left of earlier iterations; restart failed tasks of
 * this one. A restart's replacement is added to tasks_now (a copy of
 * tasks the caller owns) so it counts as live. */
static void orch_jobs_common(const json_t *service, const json_t *tasks,
                             const json_t *nodes, int64_t now,
                             json_t *tasks_now, json_t *actions)
{
    const char *id;
    json_t *t;

    json_object_foreach((json_t *)tasks, id, t) {
        size_t before = json_array_size(actions);
        size_t i;

        if (!orch_is_service_task(service, t))
            continue;
        if (!orch_jobs_is_current(service, t)) {
            if (orch_jobs_is_live(t))
                orch_set_desired(actions, t, "shutdown");
            continue;
        }
        if (!orch_jobs_has_failed(t))
            continue;
        orch_restart_task(service, tasks, t, nodes, now, actions);
        for (i = before; i < json_array_size(actions); i++) {
            const json_t *o =
                json_object_get(json_array_get(actions, i), "obj");

            json_object_set(tasks_now, orch_str(o, "ID", NULL), (json_t *)o);
        }
    }
}

static void orch_jobs_replicated(const json_t *service, const json_t *tasks,
                                 int64_t now, json_t *actions)
{
    const json_t *mode = json_object_get(
        json_object_get(json_object_get(service, "Spec"), "Mode"),
        "ReplicatedJob");
    int64_t max = orch_int(mode, "MaxConcurrent", NULL);
    int64_t total = orch_int(mode, "TotalCompletions", NULL);
    json_t *used = json_object(); /* slot -> true */
    int64_t live = 0;
    int64_t done = 0;
    int64_t make;
    int64_t slot;
    const char *id;
    json_t *t;

    if (max <= 0)
        max = 1;
    if (json_object_get(mode, "TotalCompletions") == NULL)
        total = max;
    /* A slot is live while one of its tasks is; otherwise its run is
     * spent (completed, or failed and not restarted). */
    json_object_foreach((json_t *)tasks, id, t) {
        char key[32];

        if (!orch_jobs_is_current(service, t))
            continue;
        snprintf(key, sizeof(key), "%lld",
                 (long long)orch_int(t, "Slot", NULL));
        if (orch_jobs_is_live(t))
            json_object_set_new(used, key, json_true());
        else if (json_object_get(used, key) == NULL)
            json_object_set_new(used, key, json_false());
    }
    json_object_foreach(used, id, t) {
        if (json_is_true(t))
            live++;
        else
            done++;
    }
    make = max - live;
    if (make > total - done - live)
        make = total - done - live;
    /* swarmkit numbers a replicated job's slots from 0 (the CLI's job
     * progress counts them so) */
    for (slot = 0; make > 0; slot++) {
        char key[32];

        snprintf(key, sizeof(key), "%lld", (long long)slot);
        if (json_object_get(used, key) != NULL)
            continue;
        json_array_append_new(
            actions, orch_action_create(orch_task_new(
                         service, (uint64_t)slot, NULL, "complete", now)));
        make--;
    }
    json_decref(used);
}

static void orch_jobs_global(const json_t *service, const json_t *tasks,
                             const json_t *nodes, int64_t now,
                             json_t *actions)
{
    json_t *ran = json_object(); /* node ID -> true */
    const char *id;
    json_t *t;
    json_t *node;

    json_object_foreach((json_t *)tasks, id, t) {
        const char *nid = orch_str(t, "NodeID", NULL);

        if (!orch_jobs_is_current(service, t))
            continue;
        node = json_object_get(nodes, nid);
        if (orch_jobs_is_live(t) &&
            (node == NULL || !orch_node_eligible(service, node)))
            orch_set_desired(actions, t, "shutdown");
        json_object_set_new(ran, nid, json_true());
    }
    json_object_foreach((json_t *)nodes, id, node) {
        if (json_object_get(ran, id) != NULL ||
            !orch_node_eligible(service, node))
            continue;
        json_array_append_new(
            actions,
            orch_action_create(orch_task_new(service, 0, id, "complete", now)));
    }
    json_decref(ran);
}

json_t *orch_jobs(const json_t *service, const json_t *tasks,
                  const json_t *nodes, int64_t now)
{
    const char *mode = orch_service_mode(service);
    json_t *actions = json_array();
    json_t *tasks_now;

    if (mode == NULL || !orch_is_job(service))
        return actions;
    tasks_now = json_copy((json_t *)tasks);
    orch_jobs_common(service, tasks, nodes, now, tasks_now, actions);
    if (strcmp(mode, "replicated-job") == 0)
        orch_jobs_replicated(service, tasks_now, now, actions);
    else
        orch_jobs_global(service, tasks_now, nodes, now, actions);
    json_decref(tasks_now);
    return actions;
}

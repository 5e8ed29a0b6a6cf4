/* SPDX-License-Identifier: Apache-2.0 */
/* Global services: one task per eligible node. */
#include <string.h>

#include "manager/orchestrator/orch.h"
#include "manager/orchestrator/orch_int.h"
#include "manager/scheduler/sched.h"
#include "manager/store/store.h"

/* An ended task of the current spec that the restart policy leaves
 * ended: its node needs no new task (swarmkit's isTaskCompleted). */
static bool orch_done_on_node(const json_t *service, const json_t *tasks,
                              const json_t *task, int64_t now)
{
    return orch_has_ended(task) && !orch_task_is_dirty(service, task) &&
           !orch_should_restart(service, tasks, task, now);
}

/* Of two runnable tasks on one node, the one to keep: running, then the
 * newer (created later). */
static bool orch_keep_first(const json_t *a, const json_t *b)
{
    bool ra = store_task_state(a) == STORE_TASK_RUNNING;
    bool rb = store_task_state(b) == STORE_TASK_RUNNING;

    if (ra != rb)
        return ra;
    return strcmp(orch_str(a, "CreatedAt", NULL),
                  orch_str(b, "CreatedAt", NULL)) >= 0;
}

json_t *orch_global(const json_t *service, const json_t *tasks,
                    const json_t *nodes, int64_t now)
{
    json_t *actions = json_array();
    json_t *keep = json_object(); /* node ID -> the task kept there */
    json_t *done = json_object(); /* node ID -> true */
    const char *id;
    json_t *t;
    json_t *node;

    json_object_foreach((json_t *)tasks, id, t) {
        const char *nid = orch_str(t, "NodeID", NULL);
        const json_t *prev;

        if (!orch_is_service_task(service, t))
            continue;
        if (!orch_is_runnable(t)) {
            if (nid[0] != '\0' && orch_done_on_node(service, tasks, t, now))
                json_object_set_new(done, nid, json_true());
            continue;
        }
        node = json_object_get(nodes, nid);
        if (node == NULL || !orch_node_eligible(service, node) ||
            !orch_node_valid(nodes, t)) {
            orch_set_desired(actions, t, "shutdown");
            continue;
        }
        prev = json_object_get(keep, nid);
        if (prev != NULL && orch_task_is_dirty(service, prev) !=
                                orch_task_is_dirty(service, t)) {
            /* An old and a new task: a start-first update under way,
             * orch_update's to finish. */
            if (orch_task_is_dirty(service, prev))
                json_object_set(keep, nid, t);
        } else if (prev == NULL) {
            json_object_set(keep, nid, t);
        } else if (orch_keep_first(t, prev)) {
            orch_set_desired(actions, prev, "shutdown");
            json_object_set(keep, nid, t);
        } else {
            orch_set_desired(actions, t, "shutdown");
        }
    }
    json_object_foreach((json_t *)nodes, id, node) {
        if (json_object_get(keep, id) != NULL ||
            json_object_get(done, id) != NULL ||
            !orch_node_eligible(service, node))
            continue;
        json_array_append_new(
            actions,
            orch_action_create(orch_task_new(service, 0, id, "running", now)));
    }
    json_decref(keep);
    json_decref(done);
    return actions;
}

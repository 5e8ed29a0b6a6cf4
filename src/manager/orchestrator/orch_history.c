/* SPDX-License-Identifier: Apache-2.0 */
/* Task history retention (swarmkit's task reaper). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "manager/orchestrator/orch.h"
#include "manager/orchestrator/orch_int.h"
#include "manager/scheduler/sched.h"
#include "manager/store/store.h"

static int orch_cmp_age(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a;
    const json_t *y = *(json_t *const *)b;
    int c = strcmp(orch_str(x, "CreatedAt", NULL),
                   orch_str(y, "CreatedAt", NULL));
    uint64_t vx = store_obj_version(x);
    uint64_t vy = store_obj_version(y);

    if (c != 0)
        return c;
    if (vx != vy)
        return vx < vy ? -1 : 1;
    return strcmp(orch_str(x, "ID", NULL), orch_str(y, "ID", NULL));
}

/* Ended, or never started and no longer wanted. */
static bool orch_is_history(const json_t *t)
{
    return orch_has_ended(t) ||
           (!orch_is_runnable(t) && store_task_state(t) < STORE_TASK_ASSIGNED);
}

static bool orch_history_any(const json_t *service, const json_t *tasks)
{
    const char *id;
    json_t *t;

    json_object_foreach((json_t *)tasks, id, t) {
        if (orch_is_service_task(service, t) && orch_is_history(t))
            return true;
    }
    return false;
}

static void orch_trim(json_t *group, int64_t keep, json_t *actions)
{
    size_t n = json_array_size(group);
    size_t left = n;
    json_t **v = xcalloc(n + 1, sizeof(*v));
    size_t i;

    for (i = 0; i < n; i++)
        v[i] = json_array_get(group, i);
    qsort(v, n, sizeof(*v), orch_cmp_age);
    for (i = 0; i < n && (int64_t)left > keep; i++) {
        if (!orch_is_history(v[i]))
            continue;
        json_array_append_new(actions,
                              orch_action_delete(orch_str(v[i], "ID", NULL)));
        left--;
    }
    free(v);
}

json_t *orch_history(const json_t *service, const json_t *tasks,
                     int64_t limit)
{
    const json_t *rp = json_object_get(
        json_object_get(json_object_get(service, "Spec"), "TaskTemplate"),
        "RestartPolicy");
    int64_t attempts = orch_int(rp, "MaxAttempts", NULL);
    json_t *actions = json_array();
    json_t *groups = json_object();
    const char *id;
    const char *key;
    json_t *t;
    json_t *g;

    if (attempts > 0 && limit >= 0 && limit < attempts + 1)
        limit = attempts + 1;
    /* Only ended (or never started) tasks are ever deleted: a service
     * with none, as a large one mostly is, needs no grouping. */
    if (!orch_history_any(service, tasks)) {
        json_decref(groups);
        return actions;
    }
    json_object_foreach((json_t *)tasks, id, t) {
        char place[64];

        if (!orch_is_service_task(service, t))
            continue;
        /* Removed tasks go as soon as they are down (swarmkit's reaper
         * keeps no history of them). */
        if (store_task_desired(t) == STORE_TASK_REMOVE && orch_is_history(t)) {
            json_array_append_new(actions, orch_action_delete(id));
            continue;
        }
        if (orch_int(t, "Slot", NULL) > 0)
            snprintf(place, sizeof(place), "s%lld",
                     (long long)orch_int(t, "Slot", NULL));
        else
            snprintf(place, sizeof(place), "n%.60s",
                     orch_str(t, "NodeID", NULL));
        g = json_object_get(groups, place);
        if (g == NULL) {
            g = json_array();
            json_object_set_new(groups, place, g);
        }
        json_array_append(g, t);
    }
    if (limit >= 0) {
        json_object_foreach(groups, key, g) {
            if ((int64_t)json_array_size(g) > limit)
                orch_trim(g, limit, actions);
        }
    }
    json_decref(groups);
    return actions;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Shared orchestrator pieces: actions, new tasks, node validity, dirty
 * tasks, restart supervision and delayed starts. */
#include <string.h>

#include "base/ids.h"
#include "manager/orchestrator/orch.h"
#include "manager/orchestrator/orch_int.h"
#include "manager/scheduler/sched.h"
#include "manager/store/store.h"

static json_t *orch_action(const char *op)
{
    return json_pack("{s:s, s:s}", "op", op, "kind", "task");
}

json_t *orch_action_create(json_t *obj)
{
    json_t *a = orch_action("create");

    json_object_set_new(a, "obj", obj);
    return a;
}

json_t *orch_action_update(json_t *obj, uint64_t version)
{
    json_t *a = orch_action("update");

    json_object_set_new(a, "obj", obj);
    if (version != 0)
        json_object_set_new(a, "version", json_integer((json_int_t)version));
    return a;
}

json_t *orch_action_delete(const char *id)
{
    json_t *a = orch_action("delete");

    json_object_set_new(a, "id", json_string(id));
    return a;
}

const char *orch_service_mode(const json_t *service)
{
    const json_t *mode =
        json_object_get(json_object_get(service, "Spec"), "Mode");

    if (json_object_get(mode, "Global") != NULL)
        return "global";
    if (json_object_get(mode, "ReplicatedJob") != NULL)
        return "replicated-job";
    if (json_object_get(mode, "GlobalJob") != NULL)
        return "global-job";
    if (json_object_get(mode, "Replicated") != NULL || mode == NULL ||
        json_object_size(mode) == 0)
        return "replicated";
    return NULL;
}

json_t *orch_endpoint(const json_t *service)
{
    const json_t *ports =
        json_object_get(json_object_get(service, "Endpoint"), "Ports");

    if (ports == NULL)
        ports = json_object_get(
            json_object_get(json_object_get(service, "Spec"), "EndpointSpec"),
            "Ports");
    return json_pack("{s:o}", "Ports",
                     json_is_array(ports) ? json_deep_copy(ports)
                                          : json_array());
}

json_t *orch_task_new(const json_t *service, uint64_t slot,
                      const char *node_id, const char *desired, int64_t now)
{
    const json_t *spec = json_object_get(service, "Spec");
    const json_t *labels = json_object_get(spec, "Labels");
    const json_t *tmpl = json_object_get(spec, "TaskTemplate");
    const char *name = json_string_value(json_object_get(spec, "Name"));
    char id[IDS_LEN + 1];
    char ts[48];
    json_t *t;

    ids_new(id);
    sched_timestamp(now, ts, sizeof(ts));
    t = json_pack(
        "{s:s, s:{}, s:o, s:s, s:{s:s, s:o}, s:{s:I}, s:{s:s, s:s, s:s},"
        " s:s, s:o}",
        "ID", id, "Labels", "Spec",
        json_is_object(tmpl) ? json_deep_copy(tmpl) : json_object(),
        "ServiceID", orch_str(service, "ID", NULL), "ServiceAnnotations",
        "Name", name != NULL ? name : "", "Labels",
        json_is_object(labels) ? json_deep_copy(labels) : json_object(),
        "SpecVersion", "Index", (json_int_t)store_obj_version(service),
        "Status", "Timestamp", ts, "State", "new", "Message", "created",
        "DesiredState", desired, "_Endpoint", orch_endpoint(service));
    if (slot != 0)
        json_object_set_new(t, "Slot", json_integer((json_int_t)slot));
    if (node_id != NULL)
        json_object_set_new(t, "NodeID", json_string(node_id));
    if (orch_is_job(service))
        json_object_set_new(
            t, "JobIteration",
            json_pack("{s:I}", "Index",
                      (json_int_t)orch_job_iteration(service)));
    return t;
}

bool orch_is_job(const json_t *service)
{
    const char *mode = orch_service_mode(service);

    return mode != NULL && strstr(mode, "-job") != NULL;
}

int64_t orch_job_iteration(const json_t *service)
{
    return orch_int(
        json_object_get(json_object_get(service, "JobStatus"),
                        "JobIteration"),
        "Index", NULL);
}

bool orch_node_eligible(const json_t *service, const json_t *node)
{
    const json_t *tmpl =
        json_object_get(json_object_get(service, "Spec"), "TaskTemplate");

    return strcmp(orch_str(node, "Status", "State"), "down") != 0 &&
           strcmp(orch_str(node, "Spec", "Availability"), "drain") != 0 &&
           sched_node_fits_spec(tmpl, node);
}

const char *orch_str(const json_t *obj, const char *a, const char *b)
{
    const json_t *v = json_object_get(obj, a);

    if (b != NULL)
        v = json_object_get(v, b);
    return json_is_string(v) ? json_string_value(v) : "";
}

int64_t orch_int(const json_t *obj, const char *a, const char *b)
{
    const json_t *v = json_object_get(obj, a);

    if (b != NULL)
        v = json_object_get(v, b);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

json_t *orch_tasks_by_service(const json_t *tasks)
{
    json_t *by = json_object();
    const char *id;
    json_t *t;

    json_object_foreach((json_t *)tasks, id, t) {
        const char *sid = json_string_value(json_object_get(t, "ServiceID"));
        json_t *mine;

        if (sid == NULL || sid[0] == '\0')
            continue;
        mine = json_object_get(by, sid);
        if (mine == NULL) {
            mine = json_object();
            json_object_set_new(by, sid, mine);
        }
        json_object_set(mine, id, t);
    }
    return by;
}

bool orch_is_service_task(const json_t *service, const json_t *task)
{
    return strcmp(orch_str(task, "ServiceID", NULL),
                  orch_str(service, "ID", NULL)) == 0;
}

bool orch_is_runnable(const json_t *task)
{
    int ds = store_task_desired(task);

    return ds >= 0 && ds <= STORE_TASK_RUNNING;
}

bool orch_has_ended(const json_t *task)
{
    return store_task_state(task) > STORE_TASK_RUNNING;
}

bool orch_node_valid(const json_t *nodes, const json_t *task)
{
    const char *node_id = orch_str(task, "NodeID", NULL);
    const json_t *node;

    if (node_id[0] == '\0')
        return true;
    node = json_object_get(nodes, node_id);
    if (node == NULL || strcmp(orch_str(node, "Status", "State"), "down") == 0 ||
        strcmp(orch_str(node, "Spec", "Availability"), "drain") == 0)
        return false;
    return sched_node_fits_spec(json_object_get(task, "Spec"), node);
}

bool orch_task_is_dirty(const json_t *service, const json_t *task)
{
    const json_t *tmpl =
        json_object_get(json_object_get(service, "Spec"), "TaskTemplate");
    const json_t *have = json_object_get(task, "_Endpoint");
    json_t *ep;
    bool dirty;

    if (!json_equal((json_t *)tmpl, json_object_get(task, "Spec")))
        return true;
    if (have == NULL)
        return false;
    ep = orch_endpoint(service);
    dirty = !json_equal(ep, (json_t *)have);
    json_decref(ep);
    return dirty;
}

json_t *orch_with_desired(const json_t *task, const char *desired)
{
    json_t *next = json_deep_copy(task);

    json_object_set_new(next, "DesiredState", json_string(desired));
    return next;
}

void orch_set_desired(json_t *actions, const json_t *task,
                      const char *desired)
{
    json_array_append_new(
        actions, orch_action_update(orch_with_desired(task, desired),
                                    store_obj_version(task)));
}

/* Same slot (replicated) or same node (global: slot 0). */
bool orch_same_place(const json_t *a, const json_t *b)
{
    int64_t sa = orch_int(a, "Slot", NULL);

    if (sa != 0)
        return sa == orch_int(b, "Slot", NULL);
    return strcmp(orch_str(a, "NodeID", NULL), orch_str(b, "NodeID", NULL)) ==
           0;
}

bool orch_should_restart(const json_t *service, const json_t *tasks,
                         const json_t *task, int64_t now)
{
    const json_t *rp = json_object_get(
        json_object_get(json_object_get(service, "Spec"), "TaskTemplate"),
        "RestartPolicy");
    const char *cond = orch_str(rp, "Condition", NULL);
    int64_t max = orch_int(rp, "MaxAttempts", NULL);
    int64_t window = orch_int(rp, "Window", NULL);
    const char *id;
    json_t *t;
    int64_t n = 0;

    if (strcmp(cond, "none") == 0)
        return false;
    if (strcmp(cond, "on-failure") == 0 &&
        store_task_state(task) == STORE_TASK_COMPLETE)
        return false;
    if (max <= 0)
        return true;
    json_object_foreach((json_t *)tasks, id, t) {
        int64_t at = orch_int(t, "_RestartedAt", NULL);

        if (at == 0 || !orch_is_service_task(service, t) ||
            !orch_same_place(t, task) ||
            !json_equal(json_object_get(t, "Spec"),
                        json_object_get(task, "Spec")))
            continue;
        if (window <= 0 || at > now - window)
            n++;
    }
    return n < max;
}

bool orch_node_lost(const json_t *nodes, const json_t *task)
{
    const char *node_id = orch_str(task, "NodeID", NULL);
    const json_t *node;

    if (node_id[0] == '\0' || orch_has_ended(task))
        return false;
    node = json_object_get(nodes, node_id);
    return node == NULL ||
           strcmp(orch_str(node, "Status", "State"), "down") == 0;
}

void orch_restart_task(const json_t *service, const json_t *tasks,
                       const json_t *task, const json_t *nodes, int64_t now,
                       json_t *actions)
{
    const json_t *rp = json_object_get(
        json_object_get(json_object_get(service, "Spec"), "TaskTemplate"),
        "RestartPolicy");
    const json_t *delay = json_object_get(rp, "Delay");
    int64_t wait = json_is_integer(delay) ? json_integer_value(delay)
                                          : ORCH_DEFAULT_RESTART_DELAY;
    json_t *next;
    const char *node = NULL;

    orch_set_desired(actions, task, "shutdown");
    if (!orch_should_restart(service, tasks, task, now))
        return;
    /* Global tasks stay on their node; replicated ones are rescheduled. */
    if (orch_int(task, "Slot", NULL) == 0)
        node = orch_str(task, "NodeID", NULL);
    next = orch_task_new(service, (uint64_t)orch_int(task, "Slot", NULL),
                         node, "ready", now);
    /* The delay paces restarts of tasks that failed; a task lost with its
     * node did not fail, and waiting would only lengthen the outage. */
    if (orch_node_lost(nodes, task))
        wait = 0;
    json_object_set_new(next, "_StartAt", json_integer(now + wait));
    json_object_set_new(next, "_Replaces",
                        json_string(orch_str(task, "ID", NULL)));
    json_object_set_new(next, "_RestartedAt", json_integer(now));
    json_array_append_new(actions, orch_action_create(next));
}

json_t *orch_restart(const json_t *service, const json_t *tasks,
                     const json_t *nodes, int64_t now)
{
    json_t *actions = json_array();
    const char *id;
    json_t *t;

    json_object_foreach((json_t *)tasks, id, t) {
        if (!orch_is_service_task(service, t) || !orch_is_runnable(t))
            continue;
        if (orch_has_ended(t) || !orch_node_valid(nodes, t))
            orch_restart_task(service, tasks, t, nodes, now, actions);
    }
    return actions;
}

json_t *orch_start_delayed(const json_t *service, const json_t *tasks,
                           const json_t *nodes, int64_t now,
                           int64_t *out_next)
{
    json_t *actions = json_array();
    const char *id;
    json_t *t;

    *out_next = INT64_MAX;
    json_object_foreach((json_t *)tasks, id, t) {
        int64_t at = orch_int(t, "_StartAt", NULL);
        int64_t made = orch_int(t, "_RestartedAt", NULL);
        const json_t *old;
        bool stopped;

        if (!orch_is_service_task(service, t) ||
            store_task_desired(t) != STORE_TASK_READY ||
            json_object_get(t, "_StartAt") == NULL)
            continue;
        if (now < at) {
            if (at < *out_next)
                *out_next = at;
            continue;
        }
        old = json_object_get(tasks, orch_str(t, "_Replaces", NULL));
        stopped = old == NULL || orch_has_ended(old) ||
                  !orch_node_valid(nodes, old) ||
                  now >= (made ? made : at) + ORCH_OLD_TASK_TIMEOUT;
        if (!stopped) {
            int64_t limit = (made ? made : at) + ORCH_OLD_TASK_TIMEOUT;

            if (limit < *out_next)
                *out_next = limit;
            continue;
        }
        /* Job tasks run towards COMPLETE. */
        orch_set_desired(actions, t,
                         orch_is_job(service) ? "complete" : "running");
    }
    return actions;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Rolling updates and rollbacks (swarmkit's updater), decided from the
 * stored service and tasks alone so that any leader can continue one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "manager/orchestrator/orch.h"
#include "manager/orchestrator/orch_int.h"
#include "manager/scheduler/sched.h"
#include "manager/store/store.h"

/* UpdateConfig or RollbackConfig with swarmkit's defaults filled in. */
struct orch__ucfg
{
    int64_t parallelism; /* slots in flight at once; 0: all */
    int64_t delay;       /* ns after a new task runs before its slot frees */
    int64_t monitor;     /* ns during which a new task's end is a failure */
    double ratio;        /* MaxFailureRatio */
    const char *action;  /* borrowed: "pause", "continue" or "rollback" */
    bool start_first;    /* Order "start-first" */
};

/* One slot (replicated) or node (global) with runnable tasks. */
struct orch__uslot
{
    int64_t slot;     /* Slot, 0 for a global service */
    const char *node; /* borrowed: NodeID of its first task ("" if none) */
    json_t *dirty;    /* owned array: runnable tasks of an older spec */
    json_t *clean;    /* owned array: runnable tasks of the current spec */
    bool done;        /* its old tasks are shut down in this pass */
};

/* One decision pass. */
struct orch__upass
{
    const json_t *service; /* borrowed */
    const json_t *tasks;   /* borrowed */
    int64_t now;
    int64_t since;         /* the current update's _Update.Since */
    struct orch__ucfg cfg;
    json_t *actions;       /* borrowed: the result being built */
    json_t *next;          /* owned: the service to write, or NULL */
    bool spec_changed;     /* next changes Spec (a real update) */
    int64_t next_at;       /* earliest time a new pass may change things */
};

static void orch_update_config(const json_t *service, bool rollback,
                               struct orch__ucfg *cfg)
{
    const json_t *uc = json_object_get(
        json_object_get(service, "Spec"),
        rollback ? "RollbackConfig" : "UpdateConfig");
    const json_t *v;

    v = json_object_get(uc, "Parallelism");
    cfg->parallelism = json_is_integer(v) ? json_integer_value(v) : 1;
    cfg->delay = orch_int(uc, "Delay", NULL);
    v = json_object_get(uc, "Monitor");
    cfg->monitor = json_is_integer(v) ? json_integer_value(v)
                                      : ORCH_DEFAULT_MONITOR;
    cfg->ratio = json_number_value(json_object_get(uc, "MaxFailureRatio"));
    cfg->action = orch_str(uc, "FailureAction", NULL);
    if (cfg->action[0] == '\0')
        cfg->action = "pause";
    cfg->start_first = strcmp(orch_str(uc, "Order", NULL), "start-first") == 0;
}

static int orch_update_cmp_slot(const void *a, const void *b)
{
    const struct orch__uslot *x = a;
    const struct orch__uslot *y = b;

    if (x->slot != y->slot)
        return x->slot < y->slot ? -1 : 1;
    return strcmp(x->node, y->node);
}

/* The service's runnable tasks by slot (or node), ordered by slot number
 * (or node ID). Returns the count; *out_slots is the caller's to free
 * with orch_update_slots_free. */
static size_t orch_update_slots(const json_t *service, const json_t *tasks,
                                struct orch__uslot **out_slots)
{
    json_t *index = json_object();
    struct orch__uslot *slots = NULL;
    size_t n = 0;
    const char *id;
    json_t *t;

    json_object_foreach((json_t *)tasks, id, t) {
        char key[80];
        json_t *ix;
        struct orch__uslot *s;

        if (!orch_is_service_task(service, t) || !orch_is_runnable(t))
            continue;
        if (orch_int(t, "Slot", NULL) > 0)
            snprintf(key, sizeof(key), "s%lld",
                     (long long)orch_int(t, "Slot", NULL));
        else
            snprintf(key, sizeof(key), "n%.70s",
                     orch_str(t, "NodeID", NULL));
        ix = json_object_get(index, key);
        if (ix != NULL) {
            s = &slots[json_integer_value(ix)];
        } else {
            slots = xrealloc(slots, (n + 1) * sizeof(*slots));
            s = &slots[n];
            memset(s, 0, sizeof(*s));
            s->slot = orch_int(t, "Slot", NULL);
            s->node = orch_str(t, "NodeID", NULL);
            s->dirty = json_array();
            s->clean = json_array();
            json_object_set_new(index, key, json_integer((json_int_t)n++));
        }
        json_array_append(orch_task_is_dirty(service, t) ? s->dirty : s->clean,
                          t);
    }
    json_decref(index);
    if (n > 1)
        qsort(slots, n, sizeof(*slots), orch_update_cmp_slot);
    *out_slots = slots;
    return n;
}

static void orch_update_slots_free(struct orch__uslot *slots, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        json_decref(slots[i].dirty);
        json_decref(slots[i].clean);
    }
    free(slots);
}

static void orch_update_wake(struct orch__upass *p, int64_t at)
{
    if (at > p->now && at < p->next_at)
        p->next_at = at;
}

/* The service as this pass will write it (made on first use). */
static json_t *orch_update_next(struct orch__upass *p)
{
    if (p->next == NULL)
        p->next = json_deep_copy(p->service);
    return p->next;
}

/* Set UpdateStatus; started/completed stamp StartedAt/CompletedAt. */
static void orch_update_status(struct orch__upass *p, const char *state,
                               const char *message, bool started,
                               bool completed)
{
    json_t *next = orch_update_next(p);
    json_t *us = json_object_get(next, "UpdateStatus");
    char ts[48];

    if (!json_is_object(us)) {
        us = json_object();
        json_object_set_new(next, "UpdateStatus", us);
    }
    sched_timestamp(p->now, ts, sizeof(ts));
    json_object_set_new(us, "State", json_string(state));
    json_object_set_new(us, "Message", json_string(message));
    if (started) {
        json_object_set_new(us, "StartedAt", json_string(ts));
        json_object_del(us, "CompletedAt");
    }
    if (completed)
        json_object_set_new(us, "CompletedAt", json_string(ts));
}

/* The time a task of this update was first seen running: _RunningAt, or
 * now for one running now (recorded by orch_update_observe); 0 if not
 * yet running. */
static int64_t orch_update_running_at(const struct orch__upass *p,
                                      const json_t *t)
{
    int64_t at = orch_int(t, "_RunningAt", NULL);

    if (at != 0)
        return at;
    return store_task_state(t) == STORE_TASK_RUNNING ? p->now : 0;
}

static bool orch_update_is_mine(const struct orch__upass *p, const json_t *t)
{
    return orch_is_service_task(p->service, t) &&
           orch_int(t, "_Update", NULL) == p->since;
}

/* Record _RunningAt on this update's tasks seen running for the first
 * time: the start of their Monitor and Delay periods. */
static void orch_update_observe(struct orch__upass *p)
{
    const char *id;
    json_t *t;

    json_object_foreach((json_t *)p->tasks, id, t) {
        json_t *copy;

        if (!orch_update_is_mine(p, t) ||
            store_task_state(t) != STORE_TASK_RUNNING ||
            json_object_get(t, "_RunningAt") != NULL)
            continue;
        copy = json_deep_copy(t);
        json_object_set_new(copy, "_RunningAt", json_integer(p->now));
        json_array_append_new(
            p->actions, orch_action_update(copy, store_obj_version(t)));
    }
}

/* Slots holding both old tasks and a running new one (start-first, or a
 * new task that came up early): the old ones are shut down. */
static void orch_update_finish_slots(struct orch__upass *p,
                                     struct orch__uslot *slots, size_t n)
{
    size_t i;
    size_t j;
    json_t *t;

    for (i = 0; i < n; i++) {
        bool up = false;

        json_array_foreach(slots[i].clean, j, t) {
            if (store_task_state(t) == STORE_TASK_RUNNING)
                up = true;
        }
        if (!up || json_array_size(slots[i].dirty) == 0)
            continue;
        json_array_foreach(slots[i].dirty, j, t) {
            orch_set_desired(p->actions, t, "shutdown");
        }
        slots[i].done = true;
    }
}

/* Count this update's failures: its tasks that ended before running or
 * within Monitor of running. New ones are added to _Update.Failed.
 * Returns the total; *out_last gets the ID of the newest new one (NULL
 * if none is new). */
static size_t orch_update_failures(struct orch__upass *p,
                                   const char **out_last)
{
    const json_t *failed = json_object_get(
        json_object_get(p->next != NULL ? p->next : p->service, "_Update"),
        "Failed");
    size_t total = json_array_size(failed);
    json_t *add = json_array();
    const char *id;
    json_t *t;
    size_t i;
    json_t *f;

    *out_last = NULL;
    json_object_foreach((json_t *)p->tasks, id, t) {
        int64_t at = orch_int(t, "_RunningAt", NULL);
        bool known = false;

        if (!orch_update_is_mine(p, t) || !orch_has_ended(t))
            continue;
        if (at != 0 && p->now > at + p->cfg.monitor)
            continue;
        json_array_foreach(failed, i, f) {
            if (strcmp(json_string_value(f), id) == 0)
                known = true;
        }
        if (known)
            continue;
        json_array_append_new(add, json_string(id));
        *out_last = id;
    }
    if (json_array_size(add) > 0) {
        json_t *upd = json_object_get(orch_update_next(p), "_Update");

        json_array_extend(json_object_get(upd, "Failed"), add);
        total += json_array_size(add);
    }
    json_decref(add);
    return total;
}

/* Automatic rollback to PreviousSpec (swarmkit's rollbackUpdate: the
 * previous spec becomes the spec and is not kept as PreviousSpec). */
static void orch_update_rollback(struct orch__upass *p, const char *task_id)
{
    json_t *next = orch_update_next(p);
    const json_t *prev = json_object_get(next, "PreviousSpec");
    json_t *spec = json_deep_copy(prev);
    const json_t *es = json_object_get(spec, "EndpointSpec");
    const json_t *ports = json_object_get(es, "Ports");
    json_t *ep = json_object_get(next, "Endpoint");
    char msg[160];

    if (!json_is_object(ep)) {
        ep = json_pack("{s:[]}", "VirtualIPs");
        json_object_set_new(next, "Endpoint", ep);
    }
    json_object_set(ep, "Spec", es != NULL ? (json_t *)es : json_null());
    json_object_set_new(ep, "Ports", json_is_array(ports)
                                         ? json_deep_copy(ports)
                                         : json_array());
    json_object_set_new(next, "Spec", spec);
    json_object_del(next, "PreviousSpec");
    json_object_del(next, "_Update");
    snprintf(msg, sizeof(msg),
             "update rolled back due to failure or early termination of "
             "task %s",
             task_id);
    orch_update_status(p, "rollback_started", msg, true, false);
    p->spec_changed = true;
}

/* Apply FailureAction after a failure pushed the ratio over the limit.
 * Returns true if the update stops here. */
static bool orch_update_on_failure(struct orch__upass *p, bool rolling_back,
                                   const char *task_id)
{
    char msg[160];

    if (strcmp(p->cfg.action, "continue") == 0)
        return false;
    if (strcmp(p->cfg.action, "rollback") == 0 && !rolling_back &&
        json_is_object(json_object_get(p->service, "PreviousSpec"))) {
        orch_update_rollback(p, task_id);
        return true;
    }
    /* pause; a rollback never rolls back (it pauses), nor does an
     * update with nothing to roll back to. */
    snprintf(msg, sizeof(msg),
             "%s paused due to failure or early termination of task %s",
             rolling_back ? "rollback" : "update", task_id);
    orch_update_status(p, rolling_back ? "rollback_paused" : "paused", msg,
                       false, false);
    return true;
}

/* After the last slot: complete once every new task has run for Monitor. */
static void orch_update_try_complete(struct orch__upass *p,
                                     bool rolling_back)
{
    const char *id;
    json_t *t;
    bool wait = false;

    json_object_foreach((json_t *)p->tasks, id, t) {
        int64_t at;

        if (!orch_update_is_mine(p, t) || !orch_is_runnable(t) ||
            orch_has_ended(t))
            continue;
        at = orch_update_running_at(p, t);
        if (at == 0 || at + p->cfg.monitor > p->now) {
            wait = true;
            if (at != 0)
                orch_update_wake(p, at + p->cfg.monitor);
        }
    }
    if (wait)
        return;
    orch_update_status(p, rolling_back ? "rollback_completed" : "completed",
                       rolling_back ? "rollback completed"
                                    : "update completed",
                       false, true);
    json_object_del(orch_update_next(p), "_Update");
}

/* A slot is in flight while its new task of this update has not come up,
 * or came up less than Delay ago. */
static bool orch_update_is_busy(struct orch__upass *p,
                                const struct orch__uslot *s)
{
    size_t i;
    json_t *t;
    bool busy = false;

    json_array_foreach(s->clean, i, t) {
        int64_t at;

        if (!orch_update_is_mine(p, t) || orch_has_ended(t))
            continue;
        at = orch_update_running_at(p, t);
        if (at == 0) {
            busy = true;
        } else if (at + p->cfg.delay > p->now) {
            busy = true;
            orch_update_wake(p, at + p->cfg.delay);
        }
    }
    return busy;
}

/* Start updating one slot: a new task of the current spec; stop-first
 * shuts the old ones down and starts the new one once they stopped
 * (orch_start_delayed), start-first runs it at once and shuts the old
 * ones down when it runs (orch_update_finish_slots). */
static void orch_update_slot(struct orch__upass *p,
                             const struct orch__uslot *s)
{
    json_t *t = orch_task_new(p->service, (uint64_t)s->slot,
                              s->slot == 0 ? s->node : NULL,
                              p->cfg.start_first ? "running" : "ready",
                              p->now);
    const json_t *old;
    size_t i;

    json_object_set_new(t, "_Update", json_integer(p->since));
    if (!p->cfg.start_first) {
        json_object_set_new(t, "_StartAt", json_integer(p->now));
        json_object_set_new(
            t, "_Replaces",
            json_string(orch_str(json_array_get(s->dirty, 0), "ID", NULL)));
        json_array_foreach(s->dirty, i, old) {
            orch_set_desired(p->actions, old, "shutdown");
        }
    }
    json_array_append_new(p->actions, orch_action_create(t));
}

/* Begin the update bookkeeping (_Update) for the current UpdateStatus. */
static void orch_update_begin(struct orch__upass *p, size_t n_dirty)
{
    json_t *next = orch_update_next(p);
    const char *started =
        orch_str(json_object_get(next, "UpdateStatus"), "StartedAt", NULL);

    json_object_set_new(
        next, "_Update",
        json_pack("{s:s, s:I, s:I, s:[]}", "StartedAt", started, "Since",
                  (json_int_t)p->now, "Slots", (json_int_t)n_dirty,
                  "Failed"));
    p->since = p->now;
}

static void orch_update_emit(struct orch__upass *p)
{
    json_t *a;

    if (p->next == NULL)
        return;
    a = json_pack("{s:s, s:s, s:O, s:I}", "op", "update", "kind", "service",
                  "obj", p->next, "version",
                  (json_int_t)store_obj_version(p->service));
    /* Status-only writes keep Version.Index, like node status, so the
     * updater never makes a user's update "out of sequence". */
    if (!p->spec_changed)
        json_object_set_new(a, "keep_version", json_true());
    json_array_append_new(p->actions, a);
}

json_t *orch_update(const json_t *service, const json_t *tasks, int64_t now,
                    int64_t *out_next)
{
    const char *mode = orch_service_mode(service);
    const json_t *us = json_object_get(service, "UpdateStatus");
    const char *state = orch_str(us, "State", NULL);
    const json_t *upd = json_object_get(service, "_Update");
    struct orch__upass p;
    struct orch__uslot *slots = NULL;
    size_t n_slots = 0;
    size_t n_dirty = 0;
    size_t n_busy = 0;
    size_t i;
    bool rolling_back = strncmp(state, "rollback_", 9) == 0;
    bool active = strcmp(state, "updating") == 0 ||
                  strcmp(state, "rollback_started") == 0;
    const char *last = NULL;
    size_t failures;
    double slots_total;

    memset(&p, 0, sizeof(p));
    p.service = service;
    p.tasks = tasks;
    p.now = now;
    p.actions = json_array();
    p.next_at = INT64_MAX;
    if (mode == NULL ||
        (strcmp(mode, "replicated") != 0 && strcmp(mode, "global") != 0))
        goto out;
    n_slots = orch_update_slots(service, tasks, &slots);
    for (i = 0; i < n_slots; i++)
        n_dirty += json_array_size(slots[i].dirty) > 0;
    orch_update_config(service, rolling_back, &p.cfg);
    p.since = orch_int(upd, "Since", NULL);
    if (strcmp(state, "paused") == 0 ||
        strcmp(state, "rollback_paused") == 0) {
        /* Nothing new until the spec changes; slots already under way
         * still drop their old tasks once the new one runs. */
        orch_update_finish_slots(&p, slots, n_slots);
        goto out_slots;
    }
    if (!active) {
        if (n_dirty == 0)
            goto out_slots;
        orch_update_status(&p, "updating", "update in progress", true,
                           false);
        rolling_back = false;
        orch_update_config(service, false, &p.cfg);
    }
    /* A new update, or a rollback requested by a user, begins its own
     * bookkeeping; an update under way keeps the one it began with. */
    if (p.next != NULL || upd == NULL ||
        strcmp(orch_str(upd, "StartedAt", NULL),
               orch_str(us, "StartedAt", NULL)) != 0)
        orch_update_begin(&p, n_dirty);
    orch_update_observe(&p);
    orch_update_finish_slots(&p, slots, n_slots);

    failures = orch_update_failures(&p, &last);
    slots_total = (double)orch_int(
        json_object_get(p.next ? p.next : service, "_Update"), "Slots", NULL);
    if (slots_total < 1)
        slots_total = 1;
    if (last != NULL && (double)failures / slots_total > p.cfg.ratio &&
        orch_update_on_failure(&p, rolling_back, last))
        goto out_slots;

    for (i = 0; i < n_slots; i++) {
        if (orch_update_is_busy(&p, &slots[i]))
            n_busy++;
    }
    n_dirty = 0;
    for (i = 0; i < n_slots; i++) {
        if (json_array_size(slots[i].dirty) == 0 || slots[i].done)
            continue;
        n_dirty++;
        /* Under way: a start-first task not running yet. */
        if (json_array_size(slots[i].clean) > 0)
            continue;
        if (p.cfg.parallelism > 0 && (int64_t)n_busy >= p.cfg.parallelism)
            continue;
        orch_update_slot(&p, &slots[i]);
        n_busy++;
    }
    if (n_dirty == 0)
        orch_update_try_complete(&p, rolling_back);

out_slots:
    orch_update_slots_free(slots, n_slots);
out:
    orch_update_emit(&p);
    json_decref(p.next);
    if (out_next != NULL)
        *out_next = p.next_at;
    return p.actions;
}

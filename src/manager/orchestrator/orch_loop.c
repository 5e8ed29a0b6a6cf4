/* SPDX-License-Identifier: Apache-2.0 */
/* The leader's orchestration loop (see orch_loop.h). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/mem.h"
#include "manager/orchestrator/orch.h"
#include "manager/orchestrator/orch_loop.h"
#include "manager/scheduler/sched.h"

#define ORCH_LOOP__NS_PER_MS 1000000LL

/* A proposal in flight; o is NULL once the loop forgot it. */
struct orch_loop_batch
{
    struct orch_loop *o;
};

struct orch_loop
{
    uv_loop_t *loop;
    struct orch_loop_ops ops;
    void *data;
    uv_timer_t timer;
    uint64_t due;                  /* uv_now of the timer's deadline */
    struct orch_loop_batch *batch; /* the proposal in flight, or NULL */
    json_t *seen;                  /* owned: service ID -> the version
                                      last reconciled */
    uint64_t pass_ms;              /* how long the last pass took */
    bool leading;
    bool closing;
    void (*close_cb)(void *data);
    void *close_data;
};

/* --- one pass (pure) ---------------------------------------------------- */

/* The ID an action writes ("obj"'s ID, or "id" for a delete). */
static const char *orch_loop_action_id(const json_t *a)
{
    const json_t *obj = json_object_get(a, "obj");

    if (obj != NULL)
        return store_obj_id(obj);
    return json_string_value(json_object_get(a, "id"));
}

/* A task's Status becomes pending (there is no allocator). */
static void orch_loop_set_pending(json_t *task, int64_t now)
{
    json_t *status = json_object_get(task, "Status");
    char ts[48];

    if (!json_is_object(status)) {
        status = json_object();
        json_object_set_new(task, "Status", status);
    }
    sched_timestamp(now, ts, sizeof(ts));
    json_object_set_new(status, "State", json_string("pending"));
    json_object_set_new(status, "Message",
                        json_string("pending task scheduling"));
    json_object_set_new(status, "Timestamp", json_string(ts));
}

/* New tasks skip NEW: they are created pending at once. */
static void orch_loop_mark_pending(json_t *a, int64_t now)
{
    json_t *obj = json_object_get(a, "obj");

    if (strcmp(json_string_value(json_object_get(a, "op")), "create") != 0 ||
        store_task_state(obj) != STORE_TASK_NEW)
        return;
    orch_loop_set_pending(obj, now);
}

/* PARTIAL: the first max actions taken, the rest decided again next pass
 * (the service stays unreconciled). */
enum orch_loop_took {
    ORCH_LOOP_EMPTY,
    ORCH_LOOP_TAKEN,
    ORCH_LOOP_PARTIAL,
    ORCH_LOOP_LATER
};

/*
 * Move the actions of list (stolen) into out unless one of them writes an
 * object already written (touched) or they do not fit: then none (the
 * whole decision waits for the next pass).
 */
static enum orch_loop_took orch_loop_took(json_t *out, json_t *touched, json_t *list,
                           size_t max, int64_t now, bool *more)
{
    json_t *a;
    size_t i;
    enum orch_loop_took took;

    if (json_array_size(list) == 0) {
        json_decref(list);
        return ORCH_LOOP_EMPTY;
    }
    json_array_foreach(list, i, a) {
        const char *id = orch_loop_action_id(a);

        if (id == NULL || json_object_get(touched, id) != NULL) {
            *more = true;
            json_decref(list);
            return ORCH_LOOP_LATER;
        }
    }
    if (json_array_size(out) > 0 &&
        json_array_size(out) + json_array_size(list) > max) {
        *more = true;
        json_decref(list);
        return ORCH_LOOP_LATER;
    }
    took = ORCH_LOOP_TAKEN;
    json_array_foreach(list, i, a) {
        /* A decision larger than a pass (a service created or scaled
         * by more than max replicas) goes in max actions at a time: the
         * orchestrators reconcile from the store, so the next pass decides
         * the rest. */
        if (json_array_size(out) >= max) {
            *more = true;
            took = ORCH_LOOP_PARTIAL;
            break;
        }
        if (strcmp(json_string_value(json_object_get(a, "kind")), "task") ==
            0)
            orch_loop_mark_pending(a, now);
        json_object_set_new(touched, orch_loop_action_id(a), json_true());
        json_array_append(out, a);
    }
    json_decref(list);
    return took;
}

static bool orch_loop_take(json_t *out, json_t *touched, json_t *list,
                           size_t max, int64_t now, bool *more)
{
    enum orch_loop_took took =
        orch_loop_took(out, touched, list, max, now, more);

    return took == ORCH_LOOP_TAKEN || took == ORCH_LOOP_PARTIAL;
}

/*
 * The update orchestrator compares every task's spec with the service's,
 * which is most of a pass over a large service. With no update under way
 * (UpdateStatus absent or completed) and this version of the service
 * found settled, nothing can be out of date until the version changes:
 * seen remembers it under "u:<ID>".
 */
static bool orch_loop_update_quiet(const json_t *svc)
{
    const char *state = json_string_value(
        json_object_get(json_object_get(svc, "UpdateStatus"), "State"));
    size_t n = state != NULL ? strlen(state) : 0;

    return n == 0 ||
           (n >= 9 && strcmp(state + n - 9, "completed") == 0);
}

/* seen's key for svc's settled update ("u:" + ID). */
static void orch_loop_update_key(const json_t *svc, char *key, size_t len)
{
    snprintf(key, len, "u:%s", store_obj_id(svc));
}

static bool orch_loop_update_idle(const json_t *svc, const json_t *seen,
                                  json_int_t version)
{
    char key[80];

    if (seen == NULL || !orch_loop_update_quiet(svc))
        return false;
    orch_loop_update_key(svc, key, sizeof(key));
    return json_integer_value(json_object_get(seen, key)) == version;
}

static void orch_loop_update_settled(const json_t *svc, json_t *seen,
                                     json_int_t version)
{
    char key[80];

    if (seen == NULL || !orch_loop_update_quiet(svc))
        return;
    orch_loop_update_key(svc, key, sizeof(key));
    json_object_set_new(seen, key, json_integer(version));
}

/* The orchestrators for one service, the first with something to do. */
static void orch_loop_service(const json_t *svc, const json_t *tasks,
                              const json_t *nodes, int64_t now,
                              int64_t history, json_t *seen, size_t max,
                              json_t *out, json_t *touched, int64_t *next,
                              bool *more)
{
    const char *mode = orch_service_mode(svc);
    const char *sid = store_obj_id(svc);
    json_int_t version = (json_int_t)store_obj_version(svc);
    enum orch_loop_took took;
    bool job;
    int64_t n = INT64_MAX;

    if (mode == NULL)
        return;
    job = strstr(mode, "-job") != NULL;
    if (job) {
        if (orch_loop_take(out, touched, orch_jobs(svc, tasks, nodes, now),
                           max, now, more))
            return;
    } else if (seen == NULL ||
               json_integer_value(json_object_get(seen, sid)) != version) {
        /* Reconciled when the service or a node changed (as swarmkit's
         * orchestrators react to those events), not after each task
         * change: a slot the restart policy gave up on stays empty. */
        /* A large service is filled a pass's room at a time rather than
         * made whole and mostly thrown away. */
        size_t room = json_array_size(out) < max
                          ? max - json_array_size(out)
                          : 1;
        json_t *list = strcmp(mode, "global") == 0
                           ? orch_global(svc, tasks, nodes, now)
                           : orch_replicated(svc, tasks, nodes, now, room);
        bool capped = json_array_size(list) >= room;

        took = orch_loop_took(out, touched, list, max, now, more);
        if ((took == ORCH_LOOP_EMPTY || took == ORCH_LOOP_TAKEN) &&
            !capped && seen != NULL)
            json_object_set_new(seen, sid, json_integer(version));
        if (capped)
            *more = true;
        if (took != ORCH_LOOP_EMPTY)
            return;
    }
    if (!job) {
        if (orch_loop_take(out, touched,
                           orch_restart(svc, tasks, nodes, now), max, now,
                           more))
            return;
    }
    if (orch_loop_take(out, touched,
                       orch_start_delayed(svc, tasks, nodes, now, &n), max,
                       now, more))
        return;
    if (n < *next)
        *next = n;
    if (!job && !orch_loop_update_idle(svc, seen, version)) {
        json_t *list;

        n = INT64_MAX;
        list = orch_update(svc, tasks, now, &n);
        if (json_array_size(list) == 0 && n == INT64_MAX)
            orch_loop_update_settled(svc, seen, version);
        if (orch_loop_take(out, touched, list, max, now, more))
            return;
        if (n < *next)
            *next = n;
    }
    orch_loop_take(out, touched, orch_history(svc, tasks, history), max, now,
                   more);
}

/* Tasks whose service is gone: desired "remove", then deleted once they
 * no longer run (or never will). */
static void orch_loop_orphans(const json_t *services, const json_t *tasks,
                              const json_t *nodes, json_t *out,
                              json_t *touched, size_t max, bool *more)
{
    const char *id;
    json_t *t;

    json_object_foreach((json_t *)tasks, id, t) {
        const char *sid = json_string_value(json_object_get(t, "ServiceID"));
        const char *nid = json_string_value(json_object_get(t, "NodeID"));
        const json_t *node = nid != NULL ? json_object_get(nodes, nid)
                                         : NULL;
        const char *ns = json_string_value(json_object_get(
            json_object_get(node, "Status"), "State"));
        int state = store_task_state(t);
        bool gone_node = node == NULL || (ns != NULL &&
                                          strcmp(ns, "down") == 0);

        if (sid == NULL || sid[0] == '\0' ||
            json_object_get(services, sid) != NULL ||
            json_object_get(touched, id) != NULL)
            continue;
        if (json_array_size(out) >= max) {
            *more = true;
            return;
        }
        if (store_task_desired(t) < STORE_TASK_REMOVE) {
            json_t *copy = json_deep_copy(t);

            json_object_set_new(copy, "DesiredState", json_string("remove"));
            json_array_append_new(
                out, orch_action_update(copy, store_obj_version(t)));
        } else if (state > STORE_TASK_RUNNING ||
                   state < STORE_TASK_ASSIGNED || gone_node) {
            json_array_append_new(out, orch_action_delete(id));
        } else {
            continue;
        }
        json_object_set_new(touched, id, json_true());
    }
}

/* Tasks still NEW (made by someone else): pending. */
static void orch_loop_new_tasks(const json_t *tasks, int64_t now, json_t *out,
                                json_t *touched, size_t max, bool *more)
{
    const char *id;
    json_t *t;

    json_object_foreach((json_t *)tasks, id, t) {
        json_t *copy;

        if (store_task_state(t) != STORE_TASK_NEW ||
            json_object_get(touched, id) != NULL)
            continue;
        if (json_array_size(out) >= max) {
            *more = true;
            return;
        }
        copy = json_deep_copy(t);
        orch_loop_set_pending(copy, now);
        json_array_append_new(out,
                              orch_action_update(copy, store_obj_version(t)));
        json_object_set_new(touched, id, json_true());
    }
}

json_t *orch_loop_pass(const json_t *services, const json_t *tasks,
                       const json_t *nodes, int64_t now, int64_t history,
                       json_t *seen, size_t max,
                       int64_t *out_next, bool *out_more)
{
    json_t *out = json_array();
    json_t *touched = json_object();
    json_t *by_svc;
    json_t *none;
    json_t *placed;
    json_t *a;
    const char *id;
    json_t *svc;
    size_t i;

    *out_next = INT64_MAX;
    *out_more = false;
    /* Each service's orchestrators look at its own tasks only, so a pass
     * costs the number of tasks, not services times tasks. */
    by_svc = orch_tasks_by_service(tasks);
    none = json_object();
    json_object_foreach((json_t *)services, id, svc) {
        json_t *mine = json_object_get(by_svc, id);

        orch_loop_service(svc, mine != NULL ? mine : none, nodes, now,
                          history, seen, max, out, touched, out_next,
                          out_more);
    }
    json_decref(none);
    json_decref(by_svc);
    orch_loop_orphans(services, tasks, nodes, out, touched, max, out_more);
    orch_loop_new_tasks(tasks, now, out, touched, max, out_more);
    placed = sched_run(nodes, tasks, now, max);
    json_array_foreach(placed, i, a) {
        const char *tid = orch_loop_action_id(a);

        if (tid == NULL || json_object_get(touched, tid) != NULL)
            continue;
        if (json_array_size(out) >= max) {
            *out_more = true;
            break;
        }
        json_object_set_new(touched, tid, json_true());
        json_array_append(out, a);
    }
    json_decref(placed);
    json_decref(touched);
    return out;
}

/* --- the loop ----------------------------------------------------------- */

static int64_t orch_loop_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * ORCH_NS_PER_SEC + ts.tv_nsec;
}

static void orch_loop_on_timer(uv_timer_t *t);

/* Run a pass within delay_ms (sooner if one is due sooner already). */
static void orch_loop_schedule(struct orch_loop *o, uint64_t delay_ms)
{
    uint64_t due = uv_now(o->loop) + delay_ms;

    if (!o->leading || o->closing)
        return;
    if (uv_is_active((uv_handle_t *)&o->timer) && o->due <= due)
        return;
    o->due = due;
    uv_timer_start(&o->timer, orch_loop_on_timer, delay_ms, 0);
}

static void orch_loop_on_done(void *data, int status, const struct err *err,
                              json_t *result)
{
    struct orch_loop_batch *b = data;
    struct orch_loop *o = b->o;

    (void)result;
    free(b);
    if (o == NULL)
        return;
    o->batch = NULL;
    if (status != 0) {
        log_debug(LOG_CLUSTER, "orchestrator: entry refused: %s",
                  err != NULL ? err->msg : "?");
        orch_loop_schedule(o, ORCH_LOOP_RETRY_MS);
        return;
    }
    orch_loop_schedule(o, 0);
}

static void orch_loop_run(struct orch_loop *o)
{
    const struct store *s = o->ops.store(o->data);
    struct orch_loop_batch *b;
    struct err err;
    json_t *actions;
    json_t *limit;
    uint64_t started;
    int64_t now;
    int64_t next;
    bool more;

    if (s == NULL) {
        orch_loop_schedule(o, ORCH_LOOP_RETRY_MS);
        return;
    }
    if (o->batch != NULL)
        return; /* its completion runs the next pass */
    now = orch_loop_now();
    started = uv_hrtime();
    limit = json_object_get(
        json_object_get(json_object_get(store_cluster(s), "Spec"),
                        "Orchestration"),
        "TaskHistoryRetentionLimit");
    actions = orch_loop_pass(
        store_all(s, STORE_SERVICE), store_all(s, STORE_TASK),
        store_all(s, STORE_NODE), now,
        json_is_integer(limit) ? json_integer_value(limit)
                               : ORCH_DEFAULT_HISTORY_LIMIT,
        o->seen, ORCH_LOOP_MAX_ACTIONS, &next, &more);
    o->pass_ms = (uv_hrtime() - started) / 1000000u;
    log_debug(LOG_CLUSTER, "orchestrator: a pass over %zu task(s) took "
              "%llu ms: %zu action(s)", json_object_size(store_all(s,
              STORE_TASK)), (unsigned long long)o->pass_ms,
              json_array_size(actions));
    if (json_array_size(actions) == 0) {
        uint64_t ms = ORCH_LOOP_TICK_MS;

        json_decref(actions);
        if (next != INT64_MAX) {
            int64_t d = next > now ? (next - now) / ORCH_LOOP__NS_PER_MS + 1
                                   : 0;

            if (d < (int64_t)ms)
                ms = (uint64_t)d;
        }
        orch_loop_schedule(o, ms);
        return;
    }
    log_debug(LOG_CLUSTER, "orchestrator: proposing %zu actions",
              json_array_size(actions));
    b = xcalloc(1, sizeof(*b));
    b->o = o;
    o->batch = b;
    if (o->ops.propose(o->data, actions, orch_loop_on_done, b, &err) != 0) {
        log_debug(LOG_CLUSTER, "orchestrator: propose: %s", err.msg);
        o->batch = NULL;
        free(b);
        orch_loop_schedule(o, ORCH_LOOP_RETRY_MS);
    }
}

static void orch_loop_on_timer(uv_timer_t *t)
{
    struct orch_loop *o = t->data;

    if (o->leading && !o->closing)
        orch_loop_run(o);
}

struct orch_loop *orch_loop_new(uv_loop_t *loop,
                                const struct orch_loop_ops *ops, void *data)
{
    struct orch_loop *o = xcalloc(1, sizeof(*o));

    o->loop = loop;
    o->ops = *ops;
    o->data = data;
    uv_timer_init(loop, &o->timer);
    o->timer.data = o;
    o->seen = json_object();
    return o;
}

void orch_loop_leader_changed(struct orch_loop *o)
{
    bool lead;

    if (o == NULL || o->closing)
        return;
    lead = o->ops.is_leader(o->data);
    if (lead == o->leading)
        return;
    o->leading = lead;
    json_object_clear(o->seen);
    if (o->batch != NULL) {
        o->batch->o = NULL;
        o->batch = NULL;
    }
    if (lead) {
        log_debug(LOG_CLUSTER, "orchestrator: started");
        orch_loop_schedule(o, 0);
    } else {
        log_debug(LOG_CLUSTER, "orchestrator: stopped (not the leader)");
        uv_timer_stop(&o->timer);
    }
}

/*
 * A task's progress on its node (a status write: the dispatcher's keep
 * the task's Version.Index) up to RUNNING is nothing the orchestrators
 * act on, except RUNNING while its service updates (the update waits for
 * new tasks to run) or is a job: such changes, most of a large service's
 * start, schedule no pass. The periodic pass covers anything else.
 */
static bool orch_loop_progress_only(struct orch_loop *o, const json_t *old,
                                    const json_t *cur)
{
    const char *sid = json_string_value(json_object_get(cur, "ServiceID"));
    const struct store *s;
    const json_t *svc;
    const char *mode;
    int state;

    if (old == NULL || cur == NULL ||
        store_obj_version(old) != store_obj_version(cur))
        return false;
    state = store_task_state(cur);
    if (state < 0 || state > STORE_TASK_RUNNING)
        return false;
    if (state < STORE_TASK_RUNNING)
        return true;
    s = o->ops.store(o->data);
    svc = s != NULL && sid != NULL ? store_get(s, STORE_SERVICE, sid) : NULL;
    mode = svc != NULL ? orch_service_mode(svc) : NULL;
    return svc != NULL && mode != NULL && strstr(mode, "-job") == NULL &&
           orch_loop_update_quiet(svc);
}

void orch_loop_store_changed(void *data, enum store_kind k, const char *id,
                             const json_t *old, const json_t *cur)
{
    struct orch_loop *o = data;

    if (o == NULL || k == STORE_CLUSTER)
        return;
    if (k == STORE_NODE || id == NULL)
        json_object_clear(o->seen);
    if (k == STORE_TASK && orch_loop_progress_only(o, old, cur))
        return;
    /* Changes come in floods (every task status of a large service): a
     * pass waits at least twice as long as the last one took, so passes
     * over the store take at most a third of the loop's time. */
    orch_loop_schedule(o, 2 * o->pass_ms > ORCH_LOOP_COALESCE_MS
                              ? 2 * o->pass_ms
                              : ORCH_LOOP_COALESCE_MS);
}

static void orch_loop_on_closed(uv_handle_t *h)
{
    struct orch_loop *o = h->data;
    void (*cb)(void *) = o->close_cb;
    void *data = o->close_data;

    json_decref(o->seen);
    free(o);
    if (cb != NULL)
        cb(data);
}

void orch_loop_close(struct orch_loop *o, void (*cb)(void *data),
                     void *data)
{
    if (o == NULL) {
        if (cb != NULL)
            cb(data);
        return;
    }
    o->leading = false;
    o->closing = true;
    if (o->batch != NULL)
        o->batch->o = NULL;
    o->batch = NULL;
    o->close_cb = cb;
    o->close_data = data;
    uv_close((uv_handle_t *)&o->timer, orch_loop_on_closed);
}

/* --- the daemon's ops --------------------------------------------------- */

static bool orch_loop_cluster_is_leader(void *data)
{
    struct cluster *c = data;
    uint64_t leader = cluster_leader_raft_id(c);

    return leader != 0 && leader == cluster_raft_id(c) &&
           cluster_local_store(c) != NULL;
}

static const struct store *orch_loop_cluster_store(void *data)
{
    struct cluster *c = data;
    struct err err;

    if (!orch_loop_cluster_is_leader(c))
        return NULL;
    return cluster_manager_store(c, &err);
}

static int orch_loop_cluster_propose(void *data, json_t *actions,
                                     cluster_done_cb cb, void *cb_data,
                                     struct err *err)
{
    return cluster_propose(data, actions, cb, cb_data, err);
}

struct orch_loop *orch_loop_new_cluster(uv_loop_t *loop, struct cluster *c)
{
    static const struct orch_loop_ops ops = {
        .is_leader = orch_loop_cluster_is_leader,
        .store = orch_loop_cluster_store,
        .propose = orch_loop_cluster_propose,
    };

    return orch_loop_new(loop, &ops, c);
}

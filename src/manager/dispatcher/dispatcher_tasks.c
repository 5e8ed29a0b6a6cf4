/* SPDX-License-Identifier: Apache-2.0 */
/* Tasks on the leader: assignments sessions and batched task statuses
 * (see dispatcher.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/ids.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/rpc.h"
#include "base/strmap.h"
#include "manager/dispatcher/dispatcher_int.h"

struct dispatcher_session
{
    struct dispatcher_tasks *t;
    char node_id[IDS_LEN + 1];
    struct dispatcher_session_ops ops;
    void *data;
    uint64_t seq;                 /* ResultsIn of the last message */
    json_t *deps;                 /* owned: {"Secret": {ID: true},
                                     "Config": {ID: true}} sent to the
                                     node and not removed since */
    json_t *need;                 /* owned: {"Secret": {ID: n},
                                     "Config": {ID: n}}: how many of the
                                     node's tasks reference each now */
    struct dispatcher_session *prev, *next;
};

/* A task status proposal in flight; t is NULL once forgotten. */
struct dispatcher_tbatch
{
    struct dispatcher_tasks *t;
    json_t *wants;                /* owned: task id -> Status */
};

struct dispatcher_tasks
{
    struct dispatcher *d;         /* the owner */
    struct dispatcher_session *sessions;
    size_t n_sessions;
    struct strmap *by_node;       /* owned map node ID -> its session */
    json_t *pending;              /* owned: task id -> Status to write */
    struct dispatcher_tbatch *batch; /* in flight, or NULL */
    uv_timer_t flush_timer;
    void (*done)(void *data);
    void *done_data;
};

/* --- sessions ----------------------------------------------------------- */

/* Does node_id run task (assigned to it, ASSIGNED or later)? */
static bool dispatcher_task_is_for(const json_t *task, const char *node_id)
{
    const char *n = json_string_value(json_object_get(task, "NodeID"));

    return task != NULL && n != NULL && strcmp(n, node_id) == 0 &&
           store_task_state(task) >= STORE_TASK_ASSIGNED;
}

/* Equal but for what the agent itself reports (swarmkit's
 * TasksEqualStable): such a change is not sent back. */
static bool dispatcher_task_stable_key(const char *key)
{
    return strcmp(key, "Status") != 0 && strcmp(key, "Version") != 0 &&
           strcmp(key, "UpdatedAt") != 0;
}

/* Compared field by field: this runs for every task change (no copies). */
static bool dispatcher_task_stable_equal(const json_t *a, const json_t *b)
{
    const char *key;
    json_t *v;
    size_t n_a = 0;
    size_t n_b = 0;

    json_object_foreach((json_t *)a, key, v) {
        if (!dispatcher_task_stable_key(key))
            continue;
        if (!json_equal(v, json_object_get(b, key)))
            return false;
        n_a++;
    }
    json_object_foreach((json_t *)b, key, v) {
        n_b += dispatcher_task_stable_key(key);
    }
    return n_a == n_b;
}

static void dispatcher_session_free(struct dispatcher_session *sess)
{
    json_decref(sess->deps);
    json_decref(sess->need);
    free(sess);
}

static void dispatcher_session_unlink(struct dispatcher_session *sess)
{
    struct dispatcher_tasks *t = sess->t;

    if (sess->prev != NULL)
        sess->prev->next = sess->next;
    else
        t->sessions = sess->next;
    if (sess->next != NULL)
        sess->next->prev = sess->prev;
    t->n_sessions--;
    strmap_del(t->by_node, sess->node_id);
}

/* Send changes (stolen) as one message; a failed send ends sess (its end
 * fires, then it is freed). Returns false then. */
static bool dispatcher_session_send(struct dispatcher_session *sess,
                                    const char *type, json_t *changes)
{
    char applies[24];
    char results[24];
    json_t *msg;
    int rv;

    snprintf(applies, sizeof(applies), "%llu",
             (unsigned long long)sess->seq);
    sess->seq++;
    snprintf(results, sizeof(results), "%llu",
             (unsigned long long)sess->seq);
    msg = json_pack("{s:s, s:s, s:s, s:o}", "Type", type, "AppliesTo",
                    strcmp(type, "COMPLETE") == 0 ? "" : applies,
                    "ResultsIn", results, "Changes", changes);
    rv = sess->ops.send(sess->data, msg);
    json_decref(msg);
    if (rv != 0) {
        struct err why;

        log_info(LOG_CLUSTER, "dispatcher: assignments of node %s: the "
                 "stream is gone", sess->node_id);
        err_set(&why, ERR_CANCELED, "assignments: the stream is gone");
        dispatcher_session_unlink(sess);
        sess->ops.end(sess->data, &why);
        dispatcher_session_free(sess);
        return false;
    }
    return true;
}

static json_t *dispatcher_change(const char *action, const json_t *task)
{
    return json_pack("{s:s, s:O}", "Action", action, "Task", task);
}

/*
 * Secrets and configs (swarmkit's assignment dependencies): a node gets
 * those its tasks reference, while the task is assigned to it and not
 * past RUNNING, and only those; they are sent before the task that needs
 * them and removed after the last such task leaves the set.
 */
static const char *const dispatcher_dep_kinds[] = {"Secret", "Config"};

/* Count task's references into sess->need, delta (+1 or -1) each, if
 * the task is one that needs them on sess's node. Tracking counts keeps
 * a task change O(its references) instead of a pass over every task. */
static void dispatcher_deps_count(struct dispatcher_session *sess,
                                  const json_t *task, json_int_t delta)
{
    const json_t *cs;
    size_t k;

    if (!dispatcher_task_is_for(task, sess->node_id) ||
        store_task_state(task) > STORE_TASK_RUNNING)
        return;
    cs = json_object_get(json_object_get(task, "Spec"), "ContainerSpec");
    for (k = 0; k < 2; k++) {
        const char *kind = dispatcher_dep_kinds[k];
        json_t *counts = json_object_get(sess->need, kind);
        char field[16];
        char idkey[16];
        json_t *ref;
        size_t i;

        snprintf(field, sizeof(field), "%ss", kind);
        snprintf(idkey, sizeof(idkey), "%sID", kind);
        json_array_foreach(json_object_get(cs, field), i, ref) {
            const char *id = json_string_value(json_object_get(ref, idkey));
            json_int_t n;

            if (id == NULL)
                continue;
            n = json_integer_value(json_object_get(counts, id)) + delta;
            if (n > 0)
                json_object_set_new(counts, id, json_integer(n));
            else
                json_object_del(counts, id);
        }
    }
}

/* The changes bringing the node's dependencies from what it was sent to
 * what its tasks need now: additions into adds, removals into dels;
 * sess->deps follows. */
static void dispatcher_deps_diff(struct dispatcher_session *sess,
                                 const struct store *s, json_t *adds,
                                 json_t *dels)
{
    size_t k;

    for (k = 0; k < 2; k++) {
        const char *kind = dispatcher_dep_kinds[k];
        enum store_kind sk = k == 0 ? STORE_SECRET : STORE_CONFIG;
        json_t *have = json_object_get(sess->deps, kind);
        json_t *want = json_object_get(sess->need, kind);
        const char *id;
        json_t *obj;
        json_t *n;
        void *tmp;

        json_object_foreach(want, id, n) {
            json_t *copy;
            const char *key;
            json_t *v;
            void *tmp2;

            obj = store_get(s, sk, id);
            if (obj == NULL || json_object_get(have, id) != NULL)
                continue;
            copy = json_deep_copy(obj);
            json_object_foreach_safe(copy, tmp2, key, v) {
                if (key[0] == '_')
                    json_object_del(copy, key);
            }
            json_array_append_new(adds, json_pack("{s:s, s:o}", "Action",
                                                  "update", kind, copy));
            json_object_set_new(have, id, json_true());
        }
        json_object_foreach_safe(have, tmp, id, obj) {
            if (json_object_get(want, id) != NULL &&
                store_get(s, sk, id) != NULL)
                continue;
            json_array_append_new(dels, json_pack("{s:s, s:{s:s}}", "Action",
                                                  "remove", kind, "ID", id));
            json_object_del(have, id);
        }
    }
}

static bool dispatcher_session_complete(struct dispatcher_session *sess,
                                        const struct store *s)
{
    json_t *changes = json_array();
    json_t *dels = json_array();
    const char *id;
    json_t *task;

    json_object_clear(json_object_get(sess->deps, "Secret"));
    json_object_clear(json_object_get(sess->deps, "Config"));
    json_object_clear(json_object_get(sess->need, "Secret"));
    json_object_clear(json_object_get(sess->need, "Config"));
    json_object_foreach(store_all(s, STORE_TASK), id, task) {
        dispatcher_deps_count(sess, task, 1);
    }
    dispatcher_deps_diff(sess, s, changes, dels);
    json_decref(dels);
    json_object_foreach(store_all(s, STORE_TASK), id, task) {
        if (dispatcher_task_is_for(task, sess->node_id))
            json_array_append_new(changes,
                                  dispatcher_change("update", task));
    }
    return dispatcher_session_send(sess, "COMPLETE", changes);
}

struct dispatcher_session *dispatcher_session_open(
    struct dispatcher *d, const char *node_id,
    const struct dispatcher_session_ops *ops, void *data, struct err *err)
{
    const struct store *s = dispatcher__store(d);
    struct dispatcher_tasks *t = dispatcher__tasks(d);
    struct dispatcher_session *sess;
    struct dispatcher_session *old;
    struct err why;

    if (dispatcher__check_node(t != NULL ? s : NULL, node_id, err) != 0)
        return NULL;
    old = strmap_get(t->by_node, node_id);
    if (old != NULL) {
        dispatcher_session_unlink(old);
        err_set(&why, ERR_INVALID,
                "rpc error: code = InvalidArgument desc = session invalid");
        old->ops.end(old->data, &why);
        dispatcher_session_free(old);
    }
    sess = xcalloc(1, sizeof(*sess));
    sess->t = t;
    snprintf(sess->node_id, sizeof(sess->node_id), "%s", node_id);
    sess->ops = *ops;
    sess->data = data;
    sess->deps = json_pack("{s:{}, s:{}}", "Secret", "Config");
    sess->need = json_pack("{s:{}, s:{}}", "Secret", "Config");
    strmap_set(t->by_node, sess->node_id, sess);
    sess->next = t->sessions;
    if (t->sessions != NULL)
        t->sessions->prev = sess;
    t->sessions = sess;
    t->n_sessions++;
    if (!dispatcher_session_complete(sess, s)) {
        err_set(err, ERR_CANCELED, "assignments: the stream is gone");
        return NULL;
    }
    log_info(LOG_CLUSTER, "dispatcher: node %s opened its assignments",
             node_id);
    dispatcher__session_opened(d, node_id);
    return sess;
}

void dispatcher_session_close(struct dispatcher_session *sess)
{
    if (sess == NULL)
        return;
    dispatcher_session_unlink(sess);
    dispatcher_session_free(sess);
}

void dispatcher_session_lost(struct dispatcher_session *sess)
{
    struct dispatcher *d;
    char node_id[IDS_LEN + 1];

    if (sess == NULL)
        return;
    d = sess->t->d;
    snprintf(node_id, sizeof(node_id), "%s", sess->node_id);
    dispatcher_session_close(sess);
    dispatcher__conn_lost(d, node_id);
}

size_t dispatcher_n_sessions(const struct dispatcher *d)
{
    struct dispatcher_tasks *t = dispatcher__tasks(d);

    return t ? t->n_sessions : 0;
}

/* The session of the node task is on (by its NodeID), or NULL. */
static struct dispatcher_session *dispatcher_node_session(
    const struct dispatcher_tasks *t, const json_t *task)
{
    const char *n = json_string_value(json_object_get(task, "NodeID"));

    return n != NULL && *n != '\0' ? strmap_get(t->by_node, n) : NULL;
}

/* Tell sess's node what a change of one task (old -> cur, either NULL)
 * means to it: the task itself and its secrets and configs. */
static void dispatcher_session_changed(struct dispatcher_session *sess,
                                       const struct store *s,
                                       const json_t *old, const json_t *cur)
{
    bool was = dispatcher_task_is_for(old, sess->node_id);
    bool is = dispatcher_task_is_for(cur, sess->node_id);
    json_t *changes;
    json_t *dels;

    if (!is && !was)
        return;
    dispatcher_deps_count(sess, old, -1);
    dispatcher_deps_count(sess, cur, 1);
    changes = json_array();
    dels = json_array();
    dispatcher_deps_diff(sess, s, changes, dels);
    if (!(is && was && dispatcher_task_stable_equal(old, cur)))
        json_array_append_new(changes,
                              dispatcher_change(is ? "update" : "remove",
                                                is ? cur : old));
    json_array_extend(changes, dels);
    json_decref(dels);
    if (json_array_size(changes) == 0) {
        json_decref(changes);
        return;
    }
    dispatcher_session_send(sess, "INCREMENTAL", changes);
}

void dispatcher_store_changed(void *data, enum store_kind k, const char *id,
                              const json_t *old, const json_t *cur)
{
    struct dispatcher *d = data;
    struct dispatcher_tasks *t = dispatcher__tasks(d);
    const struct store *s;
    struct dispatcher_session *sess;
    struct dispatcher_session *next;

    if (t == NULL || t->sessions == NULL ||
        (k != STORE_TASK && id != NULL))
        return;
    if (id == NULL) {
        /* Restored from a snapshot: start every session over. */
        s = dispatcher__store(d);
        for (sess = t->sessions; s != NULL && sess != NULL; sess = next) {
            next = sess->next;
            dispatcher_session_complete(sess, s);
        }
        return;
    }
    s = dispatcher__store(d);
    if (s == NULL)
        return;
    /* Only the sessions of the task's node before and after can care. */
    sess = dispatcher_node_session(t, old);
    next = dispatcher_node_session(t, cur);
    if (next == sess)
        next = NULL;              /* the same node: tell it once */
    if (sess != NULL)
        dispatcher_session_changed(sess, s, old, cur);
    if (next != NULL)
        dispatcher_session_changed(next, s, old, cur);
}

/* --- task statuses ------------------------------------------------------ */

static void dispatcher_tflush(struct dispatcher_tasks *t);

static void dispatcher_on_tflush_timer(uv_timer_t *timer)
{
    dispatcher_tflush(timer->data);
}

static void dispatcher_tschedule(struct dispatcher_tasks *t)
{
    if (t->done != NULL || t->batch != NULL ||
        json_object_size(t->pending) == 0 ||
        uv_is_active((uv_handle_t *)&t->flush_timer))
        return;
    uv_timer_start(&t->flush_timer, dispatcher_on_tflush_timer,
                   DISPATCHER_TASK_FLUSH_MS, 0);
}

/* Queue st (borrowed) for task id unless what is queued is further. */
static void dispatcher_tqueue(struct dispatcher_tasks *t, const char *id,
                              json_t *st)
{
    json_t *cur = json_object_get(t->pending, id);
    json_t *holder;
    int have;

    if (cur != NULL) {
        holder = json_pack("{s:O}", "Status", cur);
        have = store_task_state(holder);
        json_decref(holder);
        holder = json_pack("{s:O}", "Status", st);
        if (store_task_state(holder) < have) {
            json_decref(holder);
            return;
        }
        json_decref(holder);
    }
    json_object_set(t->pending, id, st);
}

static void dispatcher_on_tflushed(void *data, int status,
                                   const struct err *err, json_t *result)
{
    struct dispatcher_tbatch *b = data;
    struct dispatcher_tasks *t = b->t;
    const char *id;
    json_t *st;

    UNUSED(result);
    if (t != NULL) {
        t->batch = NULL;
        if (status != 0) {
            log_info(LOG_CLUSTER, "dispatcher: status update of %zu "
                     "task(s) failed, will retry: %s",
                     json_object_size(b->wants), err ? err->msg : "");
            json_object_foreach(b->wants, id, st) {
                dispatcher_tqueue(t, id, st);
            }
        }
        dispatcher_tschedule(t);
    }
    json_decref(b->wants);
    free(b);
}

static void dispatcher_tflush(struct dispatcher_tasks *t)
{
    const struct store *s = dispatcher__store(t->d);
    struct dispatcher_tbatch *b;
    json_t *actions;
    json_t *done;
    const char *id;
    json_t *st;
    json_t *v;
    void *tmp;
    struct err err;
    size_t i;

    if (t->done != NULL || t->batch != NULL || s == NULL)
        return;
    actions = json_array();
    b = xcalloc(1, sizeof(*b));
    b->t = t;
    b->wants = json_object();
    done = json_array();
    json_object_foreach_safe(t->pending, tmp, id, st) {
        json_t *task = store_get(s, STORE_TASK, id);
        json_t *copy;

        if (json_array_size(actions) >= DISPATCHER_MAX_ACTIONS)
            break;
        json_array_append_new(done, json_string(id));
        if (task == NULL ||
            json_equal(json_object_get(task, "Status"), st))
            continue;
        copy = json_deep_copy(task);
        json_object_set(copy, "Status", st);
        if (store_task_state(copy) < store_task_state(task)) {
            log_debug(LOG_CLUSTER, "dispatcher: task %s: stale status "
                      "dropped", id);
            json_decref(copy);
            continue;
        }
        json_array_append_new(actions,
                              store_action_update_status(
                                  STORE_TASK, copy, store_obj_version(task)));
        json_object_set(b->wants, id, st);
    }
    json_array_foreach(done, i, v) {
        json_object_del(t->pending, json_string_value(v));
    }
    json_decref(done);
    if (json_array_size(actions) == 0) {
        json_decref(actions);
        json_decref(b->wants);
        free(b);
        dispatcher_tschedule(t);
        return;
    }
    t->batch = b;
    err_clear(&err);
    if (dispatcher__propose(t->d, actions, dispatcher_on_tflushed, b,
                            &err) != 0) {
        t->batch = NULL;
        log_info(LOG_CLUSTER, "dispatcher: task status update: %s",
                 err.msg);
        json_object_foreach(b->wants, id, st) {
            dispatcher_tqueue(t, id, st);
        }
        json_decref(b->wants);
        free(b);
        dispatcher_tschedule(t);
    }
}

int dispatcher_update_task_status(struct dispatcher *d, const char *node_id,
                                  const json_t *body, struct err *err)
{
    const struct store *s = dispatcher__store(d);
    struct dispatcher_tasks *t = dispatcher__tasks(d);
    json_t *updates = json_object_get(body, "Updates");
    json_t *u;
    size_t i;
    int rv;

    rv = dispatcher__check_node(t != NULL ? s : NULL, node_id, err);
    if (rv != 0)
        return rv;
    if (!json_is_array(updates) ||
        json_array_size(updates) > DISPATCHER_MAX_UPDATES)
        return err_set(err, ERR_INVALID,
                       "rpc error: code = InvalidArgument desc = "
                       "update_task_status needs at most %u Updates",
                       DISPATCHER_MAX_UPDATES);
    json_array_foreach(updates, i, u) {
        const char *id = json_string_value(json_object_get(u, "TaskID"));
        json_t *st = json_object_get(u, "Status");
        json_t *task;

        if (id == NULL || !json_is_object(st) ||
            store_task_state_parse(json_string_value(
                json_object_get(st, "State"))) < 0)
            return err_set(err, ERR_INVALID,
                           "rpc error: code = InvalidArgument desc = "
                           "update %zu: a TaskID and a Status with a task "
                           "state are required", i);
        task = store_get(s, STORE_TASK, id);
        if (task != NULL &&
            strcmp(json_string_value(json_object_get(task, "NodeID"))
                       ? json_string_value(json_object_get(task, "NodeID"))
                       : "",
                   node_id) != 0)
            return err_set(err, ERR_FORBIDDEN, "%s",
                           DISPATCHER_MSG_NOT_YOURS);
    }
    json_array_foreach(updates, i, u) {
        const char *id = json_string_value(json_object_get(u, "TaskID"));

        if (store_get(s, STORE_TASK, id) == NULL)
            continue; /* swarmkit: logged and skipped */
        dispatcher_tqueue(t, id, json_object_get(u, "Status"));
    }
    dispatcher_tschedule(t);
    return 0;
}

size_t dispatcher_n_task_updates(const struct dispatcher *d)
{
    struct dispatcher_tasks *t = dispatcher__tasks(d);

    if (t == NULL)
        return 0;
    return json_object_size(t->pending) +
           (t->batch ? json_object_size(t->batch->wants) : 0);
}

/* --- life cycle --------------------------------------------------------- */

struct dispatcher_tasks *dispatcher_tasks_new(struct dispatcher *d,
                                              uv_loop_t *loop)
{
    struct dispatcher_tasks *t = xcalloc(1, sizeof(*t));

    t->d = d;
    t->pending = json_object();
    t->by_node = strmap_new();
    uv_timer_init(loop, &t->flush_timer);
    t->flush_timer.data = t;
    return t;
}

void dispatcher_tasks_drop(struct dispatcher_tasks *t, const struct err *why)
{
    struct dispatcher_session *sess;

    while (t->sessions != NULL) {
        sess = t->sessions;
        dispatcher_session_unlink(sess);
        sess->ops.end(sess->data, why);
        dispatcher_session_free(sess);
    }
    json_object_clear(t->pending);
    if (t->batch != NULL) {
        t->batch->t = NULL;
        t->batch = NULL;
    }
    uv_timer_stop(&t->flush_timer);
}

static void dispatcher_on_tasks_timer_closed(uv_handle_t *h)
{
    struct dispatcher_tasks *t = h->data;
    void (*done)(void *) = t->done;
    void *data = t->done_data;

    json_decref(t->pending);
    strmap_free(t->by_node);
    free(t);
    done(data);
}

void dispatcher_tasks_close(struct dispatcher_tasks *t,
                            void (*done)(void *data), void *data)
{
    struct err why;

    err_set(&why, ERR_UNAVAILABLE, "%s", DISPATCHER_MSG_DISCONNECT);
    dispatcher_tasks_drop(t, &why);
    t->done = done;
    t->done_data = data;
    uv_close((uv_handle_t *)&t->flush_timer,
             dispatcher_on_tasks_timer_closed);
}

/* --- RPC ---------------------------------------------------------------- */

static int dispatcher_rpc_send(void *data, json_t *msg)
{
    struct rpc_req *req = data;
    struct err err;

    err_clear(&err);
    return rpc_server_send(req, msg, &err);
}

static void dispatcher_rpc_end(void *data, const struct err *why)
{
    struct rpc_req *req = data;

    rpc_server_fail(req, why);
}

static void dispatcher_rpc_canceled(struct rpc_req *req, void *data)
{
    struct dispatcher_session *sess = data;

    if (rpc_server_peer_lost(req))
        dispatcher_session_lost(sess);
    else
        dispatcher_session_close(sess);
    rpc_server_reply(req, NULL);
}

void dispatcher_serve_assignments(struct dispatcher *d, struct rpc_req *req)
{
    static const struct dispatcher_session_ops ops = {
        .send = dispatcher_rpc_send,
        .end = dispatcher_rpc_end,
    };
    struct dispatcher_session *sess;
    const char *other;
    struct err err;

    err_clear(&err);
    if (!req->stream) {
        err_set(&err, ERR_INVALID, "dispatcher.assignments is a stream");
        rpc_server_fail(req, &err);
        return;
    }
    /* Whose tasks is the certificate's CN; a body naming another node is
     * an attempt to read that node's tasks and secrets. */
    other = json_string_value(json_object_get(req->body, "NodeID"));
    if (other != NULL && strcmp(other, req->peer->node_id) != 0) {
        err_set(&err, ERR_FORBIDDEN,
                "rpc error: code = PermissionDenied desc = node %.64s "
                "cannot read the assignments of node %.64s",
                req->peer->node_id, other);
        rpc_server_fail(req, &err);
        return;
    }
    sess = dispatcher_session_open(d, req->peer->node_id, &ops, req, &err);
    if (sess == NULL) {
        if (err.code != ERR_CANCELED) /* else already answered */
            rpc_server_fail(req, &err);
        return;
    }
    if (!rpc_server_on_cancel(req, dispatcher_rpc_canceled, sess)) {
        dispatcher_session_close(sess);
        rpc_server_reply(req, NULL);
    }
}

void dispatcher_serve_update_task_status(struct dispatcher *d,
                                         struct rpc_req *req)
{
    struct err err;

    err_clear(&err);
    if (dispatcher_update_task_status(d, req->peer->node_id, req->body,
                                      &err) != 0) {
        rpc_server_fail(req, &err);
        return;
    }
    rpc_server_reply(req, NULL);
}

void dispatcher_serve_leaving(struct dispatcher *d, struct rpc_req *req)
{
    struct err err;

    err_clear(&err);
    if (dispatcher_leaving(d, req->peer->node_id, &err) != 0) {
        rpc_server_fail(req, &err);
        return;
    }
    rpc_server_reply(req, NULL);
}

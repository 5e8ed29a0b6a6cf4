/* SPDX-License-Identifier: Apache-2.0 */
/* Node liveness on the leader: heartbeats, expiry timers, batched status
 * writes (see dispatcher.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/ids.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/rpc.h"
#include "manager/dispatcher/dispatcher_int.h"
#include "manager/store/store.h"

#define DISPATCHER__NS_PER_MS 1000000LL

/* One node with a running expiry timer. */
struct dispatcher_node
{
    struct dispatcher *d;
    uv_timer_t timer;
    char id[IDS_LEN + 1];
    bool unknown;                 /* in the grace after a leader change */
    bool leaving;                 /* said goodbye, no session since */
    bool lost;                    /* in the connection-loss grace */
    struct dispatcher_node *prev, *next;
};

/* A proposal in flight; d is NULL once the dispatcher forgot it. */
struct dispatcher_batch
{
    struct dispatcher *d;
    json_t *wants;                /* owned: id -> wanted status */
};

struct dispatcher
{
    uv_loop_t *loop;
    struct dispatcher_ops ops;
    void *data;
    struct dispatcher_node *nodes;
    size_t n_nodes;
    uv_timer_t flush_timer;
    uv_timer_t tick_timer;
    json_t *pending;              /* owned: id -> {"State", "Message"?,
                                     "Addr"?} to write */
    struct dispatcher_batch *batch; /* the proposal in flight, or NULL */
    struct dispatcher_tasks *tasks; /* owned: sessions, task statuses */
    bool leading;
    bool swept;                   /* the leader-change sweep is done */
    bool closing;
    unsigned n_closing;           /* handles still closing */
    void (*close_cb)(void *data);
    void *close_data;
};

/* --- helpers ------------------------------------------------------------ */

static double dispatcher_rand01(struct dispatcher *d)
{
    if (d->ops.rand01 != NULL)
        return d->ops.rand01(d->data);
    return (double)random() / ((double)RAND_MAX + 1.0);
}

/* The cluster's heartbeat period in ns (Spec.Dispatcher.HeartbeatPeriod). */
static int64_t dispatcher_base_ns(const struct store *s)
{
    json_t *v = json_object_get(
        json_object_get(json_object_get(store_cluster(s), "Spec"),
                        "Dispatcher"),
        "HeartbeatPeriod");

    if (json_is_integer(v) && json_integer_value(v) > 0)
        return json_integer_value(v);
    return DISPATCHER_DEFAULT_PERIOD_NS;
}

/* Docker's period: base +- uniform(epsilon), epsilon 500 ms (at most half
 * the base, so a short test period stays positive). */
static int64_t dispatcher_choose_ns(struct dispatcher *d,
                                    const struct store *s)
{
    int64_t base = dispatcher_base_ns(s);
    int64_t eps = (int64_t)DISPATCHER_EPSILON_MS * DISPATCHER__NS_PER_MS;
    int64_t out;

    if (eps > base / 2)
        eps = base / 2;
    out = base - eps + (int64_t)(dispatcher_rand01(d) * (double)(2 * eps));
    return out > DISPATCHER__NS_PER_MS ? out : DISPATCHER__NS_PER_MS;
}

static uint64_t dispatcher_ms(int64_t ns, unsigned mult)
{
    return (uint64_t)(ns / DISPATCHER__NS_PER_MS) * mult;
}

static const char *dispatcher_str(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));

    return v ? v : "";
}

/* The managers in the store: [{"NodeID","Addr","RaftID"}]. */
static json_t *dispatcher_managers(const struct store *s)
{
    json_t *out = json_array();
    const char *id;
    json_t *node;

    json_object_foreach(store_all(s, STORE_NODE), id, node) {
        json_t *raft = json_object_get(node, "_Raft");

        if (raft != NULL)
            json_array_append_new(
                out, json_pack("{s:s, s:O, s:O}", "NodeID", id, "Addr",
                               json_object_get(raft, "Addr"), "RaftID",
                               json_object_get(raft, "ID")));
    }
    return out;
}

/* --- node timers -------------------------------------------------------- */

static void dispatcher_maybe_closed(struct dispatcher *d)
{
    void (*cb)(void *);
    void *data;

    if (!d->closing || d->n_closing > 0)
        return;
    cb = d->close_cb;
    data = d->close_data;
    json_decref(d->pending);
    free(d);
    if (cb != NULL)
        cb(data);
}

bool dispatcher__leading(struct dispatcher *d)
{
    return d->leading && !d->closing;
}

const struct store *dispatcher__store(struct dispatcher *d)
{
    if (d->closing)
        return NULL;
    dispatcher_leader_changed(d);
    return d->leading ? d->ops.store(d->data) : NULL;
}

int dispatcher__propose(struct dispatcher *d, json_t *actions,
                        cluster_done_cb cb, void *cb_data, struct err *err)
{
    return d->ops.propose(d->data, actions, cb, cb_data, err);
}

int dispatcher__check_node(const struct store *s, const char *node_id,
                           struct err *err)
{
    if (s == NULL)
        return err_set(err, ERR_UNAVAILABLE,
                       "rpc error: code = Unavailable desc = dispatcher is "
                       "stopped");
    if (store_get(s, STORE_NODE, node_id) == NULL)
        return err_set(err, ERR_NOTFOUND,
                       "rpc error: code = NotFound desc = node not "
                       "registered");
    return 0;
}

struct dispatcher_tasks *dispatcher__tasks(const struct dispatcher *d)
{
    return d->tasks;
}

static void dispatcher_on_node_closed(uv_handle_t *h)
{
    struct dispatcher_node *n = h->data;
    struct dispatcher *d = n->d;

    free(n);
    d->n_closing--;
    dispatcher_maybe_closed(d);
}

static struct dispatcher_node *dispatcher_find(struct dispatcher *d,
                                               const char *id)
{
    struct dispatcher_node *n;

    for (n = d->nodes; n != NULL; n = n->next)
        if (strcmp(n->id, id) == 0)
            return n;
    return NULL;
}

static void dispatcher_forget(struct dispatcher *d, struct dispatcher_node *n)
{
    if (n->prev != NULL)
        n->prev->next = n->next;
    else
        d->nodes = n->next;
    if (n->next != NULL)
        n->next->prev = n->prev;
    d->n_nodes--;
    d->n_closing++;
    uv_timer_stop(&n->timer);
    uv_close((uv_handle_t *)&n->timer, dispatcher_on_node_closed);
}

static void dispatcher_on_expired(uv_timer_t *t);

static struct dispatcher_node *dispatcher_track(struct dispatcher *d,
                                                const char *id)
{
    struct dispatcher_node *n = dispatcher_find(d, id);

    if (n != NULL)
        return n;
    n = xcalloc(1, sizeof(*n));
    n->d = d;
    snprintf(n->id, sizeof(n->id), "%s", id);
    uv_timer_init(d->loop, &n->timer);
    n->timer.data = n;
    n->next = d->nodes;
    if (d->nodes != NULL)
        d->nodes->prev = n;
    d->nodes = n;
    d->n_nodes++;
    return n;
}

/* --- batched status writes ---------------------------------------------- */

static void dispatcher_flush(struct dispatcher *d);

static void dispatcher_on_flush_timer(uv_timer_t *t)
{
    dispatcher_flush(t->data);
}

static void dispatcher_schedule_flush(struct dispatcher *d)
{
    if (d->closing || !d->leading || d->batch != NULL ||
        json_object_size(d->pending) == 0 ||
        uv_is_active((uv_handle_t *)&d->flush_timer))
        return;
    uv_timer_start(&d->flush_timer, dispatcher_on_flush_timer,
                   DISPATCHER_FLUSH_MS, 0);
}

/* Queue a status for node id: last one wins. want is stolen. */
static void dispatcher_want(struct dispatcher *d, const char *id, json_t *want)
{
    json_object_set_new(d->pending, id, want);
    dispatcher_schedule_flush(d);
}

/* What the store will say about id once queued writes land: the pending
 * write, else the one in flight, else the stored Status. Borrowed. */
static json_t *dispatcher_expected(struct dispatcher *d,
                                   const struct store *s, const char *id)
{
    json_t *w = json_object_get(d->pending, id);

    if (w == NULL && d->batch != NULL)
        w = json_object_get(d->batch->wants, id);
    if (w != NULL)
        return w;
    return json_object_get(store_get(s, STORE_NODE, id), "Status");
}

/* The node's new Status: ready replaces it ({"State","Addr"}, as a node
 * registering in Docker); down/unknown keep the address. New object. */
static json_t *dispatcher_new_status(const json_t *cur, const json_t *want)
{
    json_t *out;

    if (strcmp(dispatcher_str(want, "State"), "ready") == 0)
        return json_pack("{s:s, s:s}", "State", "ready", "Addr",
                         dispatcher_str(want, "Addr"));
    out = json_is_object(cur) ? json_deep_copy(cur) : json_object();
    json_object_set(out, "State", json_object_get(want, "State"));
    json_object_set(out, "Message", json_object_get(want, "Message"));
    return out;
}

static void dispatcher_on_flushed(void *data, int status,
                                  const struct err *err, json_t *result)
{
    struct dispatcher_batch *b = data;
    struct dispatcher *d = b->d;
    const char *id;
    json_t *want;

    UNUSED(result);
    if (d == NULL) {
        json_decref(b->wants);
        free(b);
        return;
    }
    d->batch = NULL;
    if (status != 0) {
        log_info(LOG_CLUSTER, "dispatcher: node status update of %zu "
                 "node(s) failed, will retry: %s",
                 json_object_size(b->wants), err ? err->msg : "");
        json_object_foreach(b->wants, id, want) {
            if (json_object_get(d->pending, id) == NULL)
                json_object_set(d->pending, id, want);
        }
    }
    json_decref(b->wants);
    free(b);
    dispatcher_schedule_flush(d);
}

static void dispatcher_flush(struct dispatcher *d)
{
    const struct store *s = d->ops.store(d->data);
    struct dispatcher_batch *b;
    json_t *actions;
    json_t *done;
    const char *id;
    json_t *want;
    void *tmp;
    struct err err;
    size_t i;

    if (d->closing || !d->leading || d->batch != NULL)
        return;
    if (s == NULL) {
        /* Not the leader's store (yet): try again later. */
        dispatcher_schedule_flush(d);
        return;
    }
    actions = json_array();
    b = xcalloc(1, sizeof(*b));
    b->d = d;
    b->wants = json_object();
    done = json_array();
    json_object_foreach_safe(d->pending, tmp, id, want) {
        json_t *node = store_get(s, STORE_NODE, id);
        json_t *cur = json_object_get(node, "Status");
        json_t *st;
        json_t *copy;

        if (json_array_size(actions) >= DISPATCHER_MAX_ACTIONS)
            break;
        json_array_append_new(done, json_string(id));
        if (node == NULL)
            continue; /* removed meanwhile */
        st = dispatcher_new_status(cur, want);
        if (json_equal(st, cur)) {
            json_decref(st);
            continue;
        }
        copy = json_deep_copy(node);
        json_object_set_new(copy, "Status", st);
        json_array_append_new(actions, store_action_update_status(
                                           STORE_NODE, copy,
                                           store_obj_version(node)));
        json_object_set(b->wants, id, want);
        log_info(LOG_CLUSTER, "dispatcher: node %s is %s%s%s", id,
                 dispatcher_str(want, "State"),
                 json_object_get(want, "Message") ? ": " : "",
                 dispatcher_str(want, "Message"));
    }
    json_array_foreach(done, i, want) {
        json_object_del(d->pending, json_string_value(want));
    }
    json_decref(done);
    if (json_array_size(actions) == 0) {
        json_decref(actions);
        json_decref(b->wants);
        free(b);
        dispatcher_schedule_flush(d);
        return;
    }
    d->batch = b;
    err_clear(&err);
    if (d->ops.propose(d->data, actions, dispatcher_on_flushed, b, &err) !=
        0) {
        /* Put everything back; the next flush retries. */
        d->batch = NULL;
        log_info(LOG_CLUSTER, "dispatcher: node status update: %s", err.msg);
        json_object_foreach(b->wants, id, want) {
            if (json_object_get(d->pending, id) == NULL)
                json_object_set(d->pending, id, want);
        }
        json_decref(b->wants);
        free(b);
        dispatcher_schedule_flush(d);
    }
}

/* --- expiry, sweep, housekeeping ---------------------------------------- */

static void dispatcher_on_expired(uv_timer_t *t)
{
    struct dispatcher_node *n = t->data;
    struct dispatcher *d = n->d;
    const char *msg = n->unknown ? DISPATCHER_MSG_DOWN_UNKNOWN
                                 : DISPATCHER_MSG_DOWN;

    if (d->closing || !d->leading)
        return;
    log_info(LOG_CLUSTER, "dispatcher: no heartbeat from node %s: %s", n->id,
             msg);
    dispatcher_want(d, n->id,
                    json_pack("{s:s, s:s}", "State", "down", "Message", msg));
    dispatcher_forget(d, n);
}

static void dispatcher_arm(struct dispatcher *d, struct dispatcher_node *n,
                           uint64_t ms)
{
    uv_timer_start(&n->timer, dispatcher_on_expired, ms ? ms : 1, 0);
    UNUSED(d);
}

/* A new leader: every node not down is unknown until it heartbeats, with
 * period x 6 to do so (swarmkit markNodesUnknown). */
static void dispatcher_sweep(struct dispatcher *d, const struct store *s)
{
    const char *id;
    json_t *node;

    d->swept = true;
    json_object_foreach(store_all(s, STORE_NODE), id, node) {
        const char *state = dispatcher_str(json_object_get(node, "Status"),
                                           "State");
        struct dispatcher_node *n;

        if (strcmp(state, "down") == 0 || dispatcher_find(d, id) != NULL)
            continue;
        n = dispatcher_track(d, id);
        n->unknown = true;
        dispatcher_arm(d, n,
                       dispatcher_ms(dispatcher_choose_ns(d, s),
                                     DISPATCHER_GRACE_UNKNOWN));
        dispatcher_want(d, id,
                        json_pack("{s:s, s:s}", "State", "unknown",
                                  "Message", DISPATCHER_MSG_UNKNOWN));
    }
    log_info(LOG_CLUSTER, "dispatcher: leading; %zu node(s) to hear from",
             d->n_nodes);
}

/* Nodes that appeared since (joined) and never heartbeat get the usual
 * grace, so a node that dies right after joining still goes down. */
static void dispatcher_adopt(struct dispatcher *d, const struct store *s)
{
    const char *id;
    json_t *node;

    json_object_foreach(store_all(s, STORE_NODE), id, node) {
        const char *state = dispatcher_str(json_object_get(node, "Status"),
                                           "State");
        struct dispatcher_node *n;

        if (strcmp(state, "down") == 0 || dispatcher_find(d, id) != NULL ||
            json_object_get(d->pending, id) != NULL ||
            (d->batch != NULL && json_object_get(d->batch->wants, id)))
            continue;
        n = dispatcher_track(d, id);
        n->unknown = strcmp(state, "unknown") == 0;
        dispatcher_arm(d, n,
                       dispatcher_ms(dispatcher_choose_ns(d, s),
                                     n->unknown ? DISPATCHER_GRACE_UNKNOWN
                                                : DISPATCHER_GRACE));
    }
}

static void dispatcher_on_tick(uv_timer_t *t)
{
    struct dispatcher *d = t->data;
    const struct store *s;

    if (d->closing || !d->leading)
        return;
    s = d->ops.store(d->data);
    if (s == NULL)
        return;
    if (!d->swept)
        dispatcher_sweep(d, s);
    else
        dispatcher_adopt(d, s);
}

/* Forget every node and pending write; a proposal in flight completes on
 * its own. */
static void dispatcher_drop_all(struct dispatcher *d)
{
    struct err why;

    err_set(&why, ERR_UNAVAILABLE, "%s", DISPATCHER_MSG_DISCONNECT);
    if (d->tasks != NULL)
        dispatcher_tasks_drop(d->tasks, &why);
    while (d->nodes != NULL)
        dispatcher_forget(d, d->nodes);
    json_object_clear(d->pending);
    if (d->batch != NULL) {
        d->batch->d = NULL;
        d->batch = NULL;
    }
    uv_timer_stop(&d->flush_timer);
    uv_timer_stop(&d->tick_timer);
}

void dispatcher_leader_changed(struct dispatcher *d)
{
    bool lead;

    if (d == NULL || d->closing)
        return;
    lead = d->ops.is_leader(d->data);
    if (lead == d->leading)
        return;
    d->leading = lead;
    dispatcher_drop_all(d);
    d->swept = false;
    if (lead) {
        log_debug(LOG_CLUSTER, "dispatcher: started");
        uv_timer_start(&d->tick_timer, dispatcher_on_tick, 0,
                       DISPATCHER_TICK_MS);
    } else {
        log_info(LOG_CLUSTER, "dispatcher: stopped (not the leader)");
    }
}

/* --- sessions and goodbyes --------------------------------------------- */

/* The usual expiry of a tracked node, from now. */
static void dispatcher_rearm(struct dispatcher *d, struct dispatcher_node *n,
                             const struct store *s)
{
    dispatcher_arm(d, n,
                   dispatcher_ms(dispatcher_choose_ns(d, s),
                                 n->unknown ? DISPATCHER_GRACE_UNKNOWN
                                            : DISPATCHER_GRACE));
}

void dispatcher__session_opened(struct dispatcher *d, const char *node_id)
{
    const struct store *s = d->closing ? NULL : d->ops.store(d->data);
    struct dispatcher_node *n = dispatcher_find(d, node_id);

    if (s == NULL || n == NULL)
        return;
    n->leaving = false;
    if (n->lost) {
        n->lost = false;
        dispatcher_rearm(d, n, s);
        log_info(LOG_CLUSTER, "dispatcher: node %s is back", node_id);
    }
}

void dispatcher__conn_lost(struct dispatcher *d, const char *node_id)
{
    struct dispatcher_node *n;

    if (d->closing || !d->leading)
        return;
    n = dispatcher_find(d, node_id);
    if (n == NULL)
        return;
    if (n->leaving) {
        log_info(LOG_CLUSTER, "dispatcher: node %s left for a restart; "
                 "heartbeat expiry kept (%llu ms)", node_id,
                 (unsigned long long)uv_timer_get_due_in(&n->timer));
        return;
    }
    if (uv_timer_get_due_in(&n->timer) > DISPATCHER_CONNLOSS_GRACE_MS) {
        n->lost = true;
        dispatcher_arm(d, n, DISPATCHER_CONNLOSS_GRACE_MS);
    }
    log_info(LOG_CLUSTER, "dispatcher: node %s: connection lost without a "
             "goodbye; down in %llu ms unless it comes back", node_id,
             (unsigned long long)uv_timer_get_due_in(&n->timer));
}

int dispatcher_leaving(struct dispatcher *d, const char *node_id,
                       struct err *err)
{
    const struct store *s;
    struct dispatcher_node *n;
    int rv;

    if (d != NULL && !d->closing)
        dispatcher_leader_changed(d);
    s = d != NULL && d->leading && !d->closing ? d->ops.store(d->data)
                                               : NULL;
    rv = dispatcher__check_node(s, node_id, err);
    if (rv != 0)
        return rv;
    n = dispatcher_find(d, node_id);
    if (n != NULL)
        n->leaving = true;
    log_info(LOG_CLUSTER, "dispatcher: node %s is leaving for a restart",
             node_id);
    return 0;
}

/* --- heartbeats --------------------------------------------------------- */

int dispatcher_heartbeat(struct dispatcher *d, const char *node_id,
                         const char *ip, json_t **out, struct err *err)
{
    const struct store *s;
    struct dispatcher_node *n;
    json_t *exp;
    int64_t period;
    int rv;

    if (d != NULL && !d->closing)
        dispatcher_leader_changed(d);
    s = d != NULL && d->leading ? d->ops.store(d->data) : NULL;
    if (s != NULL && !d->swept)
        dispatcher_sweep(d, s);
    rv = dispatcher__check_node(s, node_id, err);
    if (rv != 0)
        return rv;
    n = dispatcher_track(d, node_id);
    n->unknown = false;
    n->lost = false;
    period = dispatcher_choose_ns(d, s);
    dispatcher_arm(d, n, dispatcher_ms(period, DISPATCHER_GRACE));
    exp = dispatcher_expected(d, s, node_id);
    if (strcmp(dispatcher_str(exp, "State"), "ready") != 0 ||
        strcmp(dispatcher_str(exp, "Addr"), ip) != 0)
        dispatcher_want(d, node_id,
                        json_pack("{s:s, s:s}", "State", "ready", "Addr",
                                  ip));
    *out = json_pack("{s:I, s:o, s:s}", "Period", (json_int_t)period,
                     "Managers", dispatcher_managers(s), "Role",
                     dispatcher_str(json_object_get(
                                        store_get(s, STORE_NODE, node_id),
                                        "Spec"),
                                    "Role"));
    if (d->ops.addr != NULL && d->ops.addr(d->data)[0] != '\0')
        json_object_set_new(*out, "Leader",
                            json_string(d->ops.addr(d->data)));
    return 0;
}

size_t dispatcher_n_tracked(const struct dispatcher *d)
{
    return d ? d->n_nodes : 0;
}

/* --- life cycle --------------------------------------------------------- */

struct dispatcher *dispatcher_new(uv_loop_t *loop,
                                  const struct dispatcher_ops *ops,
                                  void *data)
{
    struct dispatcher *d = xcalloc(1, sizeof(*d));

    d->loop = loop;
    d->ops = *ops;
    d->data = data;
    d->pending = json_object();
    uv_timer_init(loop, &d->flush_timer);
    uv_timer_init(loop, &d->tick_timer);
    d->flush_timer.data = d;
    d->tick_timer.data = d;
    d->tasks = dispatcher_tasks_new(d, loop);
    return d;
}

static void dispatcher_on_timer_closed(uv_handle_t *h)
{
    struct dispatcher *d = h->data;

    d->n_closing--;
    dispatcher_maybe_closed(d);
}

static void dispatcher_on_tasks_closed(void *data)
{
    struct dispatcher *d = data;

    d->n_closing--;
    dispatcher_maybe_closed(d);
}

void dispatcher_close(struct dispatcher *d, void (*cb)(void *data),
                      void *data)
{
    if (d == NULL) {
        if (cb != NULL)
            cb(data);
        return;
    }
    d->leading = false;
    dispatcher_drop_all(d);
    d->closing = true;
    d->close_cb = cb;
    d->close_data = data;
    d->n_closing += 3;
    uv_close((uv_handle_t *)&d->flush_timer, dispatcher_on_timer_closed);
    uv_close((uv_handle_t *)&d->tick_timer, dispatcher_on_timer_closed);
    dispatcher_tasks_close(d->tasks, dispatcher_on_tasks_closed, d);
    d->tasks = NULL;
}

/* --- the daemon's ops --------------------------------------------------- */

static bool dispatcher_cluster_is_leader(void *data)
{
    struct cluster *c = data;
    uint64_t leader = cluster_leader_raft_id(c);

    return leader != 0 && leader == cluster_raft_id(c) &&
           cluster_local_store(c) != NULL;
}

static const struct store *dispatcher_cluster_store(void *data)
{
    struct cluster *c = data;
    struct err err;

    if (!dispatcher_cluster_is_leader(c))
        return NULL;
    return cluster_manager_store(c, &err);
}

static int dispatcher_cluster_propose(void *data, json_t *actions,
                                      cluster_done_cb cb, void *cb_data,
                                      struct err *err)
{
    return cluster_propose(data, actions, cb, cb_data, err);
}

static const char *dispatcher_cluster_addr(void *data)
{
    return cluster_advertise_addr(data);
}

struct dispatcher *dispatcher_new_cluster(uv_loop_t *loop, struct cluster *c)
{
    static const struct dispatcher_ops ops = {
        .is_leader = dispatcher_cluster_is_leader,
        .store = dispatcher_cluster_store,
        .propose = dispatcher_cluster_propose,
        .addr = dispatcher_cluster_addr,
    };

    return dispatcher_new(loop, &ops, c);
}

/* --- RPC ---------------------------------------------------------------- */

/* The IP of "ip:port" / "[ip6]:port". */
static void dispatcher_host(const char *addr, char *out, size_t len)
{
    const char *colon;

    snprintf(out, len, "%s", addr[0] == '[' ? addr + 1 : addr);
    if (addr[0] == '[') {
        out[strcspn(out, "]")] = '\0';
        return;
    }
    colon = strrchr(out, ':');
    if (colon != NULL && strchr(out, ':') == colon)
        out[colon - out] = '\0';
}

int dispatcher_heartbeat_who(const struct rpc_req *req, char *node_id,
                             size_t id_len, char *ip, size_t ip_len,
                             bool *forwarded, struct err *err)
{
    const struct stream_peer *peer = req->peer;

    *forwarded = json_is_true(json_object_get(req->body, "Forwarded"));
    if (!peer->verified || peer->node_id[0] == '\0')
        return err_set(err, ERR_FORBIDDEN,
                       "permission denied: dispatcher.heartbeat needs a "
                       "worker or manager certificate");
    if (!*forwarded) {
        snprintf(node_id, id_len, "%s", peer->node_id);
        dispatcher_host(peer->addr, ip, ip_len);
        return 0;
    }
    if (strcmp(peer->role, "swarm-manager") != 0)
        return err_set(err, ERR_FORBIDDEN,
                       "permission denied: only managers relay heartbeats");
    if (!ids_is_valid(dispatcher_str(req->body, "NodeID")))
        return err_set(err, ERR_PROTO,
                       "dispatcher.heartbeat: relayed without a NodeID");
    snprintf(node_id, id_len, "%s", dispatcher_str(req->body, "NodeID"));
    snprintf(ip, ip_len, "%s", dispatcher_str(req->body, "Addr"));
    return 0;
}

json_t *dispatcher_heartbeat_relay_body(const char *node_id, const char *ip,
                                        const json_t *body)
{
    return json_pack("{s:b, s:s, s:s, s:O?, s:O?}", "Forwarded", 1,
                     "NodeID", node_id, "Addr", ip, "SessionID",
                     json_object_get(body, "SessionID"), "TLSInfo",
                     json_object_get(body, "TLSInfo"));
}

void dispatcher_serve_heartbeat(struct dispatcher *d, struct rpc_req *req,
                                const char *node_id, const char *ip)
{
    struct err err;
    json_t *out = NULL;

    err_clear(&err);
    if (dispatcher_heartbeat(d, node_id, ip, &out, &err) != 0) {
        rpc_server_fail(req, &err);
        return;
    }
    rpc_server_reply(req, out);
    json_decref(out);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The leader's dispatcher: node liveness (SWARM-FACTS 6.1). Every node of
 * the swarm (workers and managers, the leader too) calls
 * "dispatcher.heartbeat" on the cluster port; the leader answers with the
 * period to wait before the next one and keeps one expiry timer per node
 * (chosen period x 3). A node whose timer fires is marked down ("heartbeat
 * failure"); a heartbeat from a node the store does not show ready (with
 * the caller's IP as Status.Addr) marks it ready. When this manager starts
 * leading, every node not down is marked unknown with Docker's message and
 * given period x 6 to come back.
 *
 * Status writes are store actions proposed through Raft, batched (one
 * batch of at most DISPATCHER_MAX_ACTIONS per DISPATCHER_FLUSH_MS (task
 * statuses: DISPATCHER_TASK_FLUSH_MS after the last write), in
 * entries of the store's cap, one batch in flight). Each
 * update replaces the node object built from the copy read at flush time
 * and carries that copy's Version.Index, so a write the user made in the
 * meantime is never overwritten: the entry is refused ("update out of
 * sequence") and the dispatcher rebuilds it from the new object. Only
 * Status changes.
 *
 * Connection loss (a departure from swarmkit, docs/ARCHITECTURE.md): when
 * a node's assignments session ends because its connection to the leader
 * closed, and the node did not say goodbye first ("dispatcher.leaving",
 * sent by an agent that stops on purpose), its expiry is shortened to
 * DISPATCHER_CONNLOSS_GRACE_MS: a daemon that was killed or crashed goes
 * down in about a second instead of period x 3. A heartbeat or a new
 * session within the grace restores the usual expiry; after a goodbye the
 * usual expiry is kept (a daemon restarting is not down).
 *
 * Everything runs on one uv loop. The dispatcher exists for the whole life
 * of the cluster object and is inert unless this manager leads.
 */
#ifndef SHOAL_DISPATCHER_H
#define SHOAL_DISPATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "base/err.h"
#include "cluster/cluster.h"
#include "manager/store/store.h"

struct dispatcher;
struct rpc_req;
struct store;

/* Docker's defaults (swarmkit manager/dispatcher). */
#define DISPATCHER_DEFAULT_PERIOD_NS (5LL * 1000000000LL)
#define DISPATCHER_EPSILON_MS 500u      /* jitter, at most period / 2 */
#define DISPATCHER_GRACE 3u             /* expiry = period x 3 */
#define DISPATCHER_GRACE_UNKNOWN 6u     /* after a leader change */
#define DISPATCHER_FLUSH_MS 100u        /* node status writes batched */
/* Task statuses wait this long before a write when none is in flight; a
 * write in flight batches what comes meanwhile, so batches grow with the
 * load and a lone task's RUNNING costs no 100 ms. */
#define DISPATCHER_TASK_FLUSH_MS 10u
#define DISPATCHER_TICK_MS 250u         /* leader housekeeping */
#define DISPATCHER_MAX_ACTIONS 4000u    /* per flush (in entries of the
                                           store's cap) */
/* A node whose session to the leader ends without a goodbye (its
 * connection closed: EOF, reset, TLS error) goes down this long after
 * unless it heartbeats or opens a session again (shoal's own). */
#define DISPATCHER_CONNLOSS_GRACE_MS 1000u

#define DISPATCHER_MSG_DOWN "heartbeat failure"
#define DISPATCHER_MSG_DOWN_UNKNOWN \
    "heartbeat failure for node in \"unknown\" state"
#define DISPATCHER_MSG_UNKNOWN \
    "Node moved to \"unknown\" state due to leadership change in cluster"

/* What the dispatcher needs from its manager. */
struct dispatcher_ops
{
    /* True while this manager is the Raft leader. */
    bool (*is_leader)(void *data);
    /* The store, once this leader's reads are the leader's (its barrier
     * is applied); NULL before, and when not leading. */
    const struct store *(*store)(void *data);
    /* Propose actions (stolen). 0: cb fires exactly once later; -code
     * with err set: cb never fires. */
    int (*propose)(void *data, json_t *actions, cluster_done_cb cb,
                   void *cb_data, struct err *err);
    /* Uniform in [0, 1) for the period's jitter; NULL: random(). */
    double (*rand01)(void *data);
    /* This manager's cluster address "ip:port", named in heartbeat
     * answers as "Leader" so agents open their assignments stream there
     * (may be NULL: not named). */
    const char *(*addr)(void *data);
};

/* A dispatcher on loop with ops (copied) and their data. */
struct dispatcher *dispatcher_new(uv_loop_t *loop,
                                  const struct dispatcher_ops *ops,
                                  void *data);
/* The daemon's dispatcher: ops over the cluster's public API. */
struct dispatcher *dispatcher_new_cluster(uv_loop_t *loop, struct cluster *c);

/* Leadership may have changed (Raft's leader callback, manager start or
 * stop): start tracking nodes when leading, drop every timer and pending
 * write otherwise. NULL is a no-op. */
void dispatcher_leader_changed(struct dispatcher *d);

/*
 * A heartbeat from node_id, whose connection came from ip. On 0, *out is a
 * new {"Period": ns, "Managers": [{"NodeID","Addr","RaftID"}]} owned by the
 * caller. Errors: ERR_UNAVAILABLE "dispatcher is stopped" (not leading, or
 * the store is not the leader's yet), ERR_NOTFOUND "node not registered"
 * (no such node in the store).
 */
int dispatcher_heartbeat(struct dispatcher *d, const char *node_id,
                         const char *ip, json_t **out, struct err *err);

/* Nodes with a running expiry timer (tests, diagnostics). */
size_t dispatcher_n_tracked(const struct dispatcher *d);

/*
 * node_id says goodbye: its agent is stopping for a restart (the daemon's
 * normal shutdown). When its session then ends with the connection, the
 * node keeps the usual heartbeat expiry instead of the connection-loss
 * grace, until it opens a session again. Errors as dispatcher_heartbeat.
 */
int dispatcher_leaving(struct dispatcher *d, const char *node_id,
                       struct err *err);

/*
 * Close: timers are closed, pending writes dropped, a proposal in flight
 * is left to complete on its own (its result ignored). cb fires once from
 * the loop when every handle is closed; d is freed then. NULL d: cb fires
 * at once.
 */
void dispatcher_close(struct dispatcher *d, void (*cb)(void *data),
                      void *data);

/* --- the cluster port's "dispatcher.heartbeat" method ------------------ */

/*
 * Who a heartbeat request is for. Normally the verified peer certificate's
 * CN and the connection's source IP; a request relayed by a follower
 * manager ({"Forwarded": true, "NodeID", "Addr"}) names the original
 * caller, which is trusted only from a verified swarm-manager peer
 * (swarmkit's forwarded_cert_cn). node_id and ip get NUL-terminated
 * copies. 0, or -code with err set (ERR_FORBIDDEN, ERR_PROTO).
 */
int dispatcher_heartbeat_who(const struct rpc_req *req, char *node_id,
                             size_t id_len, char *ip, size_t ip_len,
                             bool *forwarded, struct err *err);

/* The body a follower relays to the leader for node_id at ip (new). */
json_t *dispatcher_heartbeat_relay_body(const char *node_id, const char *ip,
                                        const json_t *body);

/* Answer req on the leader (dispatcher_heartbeat, then reply or fail). */
void dispatcher_serve_heartbeat(struct dispatcher *d, struct rpc_req *req,
                                const char *node_id, const char *ip);

/* --- tasks: assignments and task status (SWARM-FACTS 6.2) -------------- */

#define DISPATCHER_MSG_NOT_YOURS \
    "rpc error: code = PermissionDenied desc = cannot update a task not " \
    "assigned this node"
#define DISPATCHER_MSG_DISCONNECT \
    "rpc error: code = Aborted desc = node must disconnect"
#define DISPATCHER_MAX_UPDATES 1000u  /* task statuses per call */

/*
 * An assignments session of one node. send delivers one message (lent for
 * the call): {"Type": "COMPLETE"|"INCREMENTAL", "AppliesTo": "<n>",
 * "ResultsIn": "<n+1>", "Changes": [{"Action": "update"|"remove",
 * "Task": {...}}]}; a nonzero return ends the session. end fires once
 * when the dispatcher ends the session (it stops leading or closes, a
 * newer session replaces it, a send failed: ERR_CANCELED), with why; the
 * session is freed after it.
 */
struct dispatcher_session_ops
{
    int (*send)(void *data, json_t *msg);
    void (*end)(void *data, const struct err *why);
};

struct dispatcher_session;

/*
 * Open a session for node_id: the COMPLETE set is sent before this
 * returns (the node's tasks whose Status.State is ASSIGNED or later, as
 * swarmkit sends them), then an INCREMENTAL message for every applied
 * change to one of them (a change of Status alone is not sent: the agent
 * made it). Returns the session, or NULL with err set (ERR_UNAVAILABLE
 * "dispatcher is stopped", ERR_NOTFOUND "node not registered"). A second
 * session of the same node replaces the first (its end fires).
 */
struct dispatcher_session *dispatcher_session_open(
    struct dispatcher *d, const char *node_id,
    const struct dispatcher_session_ops *ops, void *data, struct err *err);
/* The peer gave up its session (canceled the stream; its connection is
 * still up): forget it (end does not fire). */
void dispatcher_session_close(struct dispatcher_session *sess);
/* The session ended with its connection (EOF, reset, TLS error): forget
 * it as dispatcher_session_close does and, unless the node said goodbye
 * (dispatcher_leaving), shorten its expiry to the connection-loss
 * grace. */
void dispatcher_session_lost(struct dispatcher_session *sess);
/* Open sessions (tests, diagnostics). */
size_t dispatcher_n_sessions(const struct dispatcher *d);

/*
 * The store applied a change (a store_watch_fn; data is the dispatcher):
 * sessions hear of their tasks' changes. The daemon's cluster registers
 * it on the manager's store.
 */
void dispatcher_store_changed(void *data, enum store_kind k, const char *id,
                              const json_t *old, const json_t *cur);

/*
 * Task statuses from node_id: body {"Updates": [{"TaskID", "Status"}]}
 * (borrowed). All are checked first: ERR_INVALID for a malformed body or
 * a state that is not a task state, ERR_FORBIDDEN DISPATCHER_MSG_NOT_YOURS
 * for a task assigned elsewhere, ERR_UNAVAILABLE when not leading; then
 * queued and written through Raft in batches (Version.Index kept, as node
 * status writes). A status that would move the task's state back, or
 * for a task no longer in the store, is dropped.
 */
int dispatcher_update_task_status(struct dispatcher *d, const char *node_id,
                                  const json_t *body, struct err *err);
/* Task statuses queued or in flight (tests). */
size_t dispatcher_n_task_updates(const struct dispatcher *d);

/* The RPC methods on the leader: "dispatcher.assignments" (a server
 * stream), "dispatcher.update_task_status" and "dispatcher.leaving", for
 * the peer's node. */
void dispatcher_serve_assignments(struct dispatcher *d, struct rpc_req *req);
void dispatcher_serve_leaving(struct dispatcher *d, struct rpc_req *req);
void dispatcher_serve_update_task_status(struct dispatcher *d,
                                         struct rpc_req *req);

#endif

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
 * entry per DISPATCHER_FLUSH_MS at most, one proposal in flight). Each
 * update replaces the node object built from the copy read at flush time
 * and carries that copy's Version.Index, so a write the user made in the
 * meantime is never overwritten: the entry is refused ("update out of
 * sequence") and the dispatcher rebuilds it from the new object. Only
 * Status changes.
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

struct dispatcher;
struct rpc_req;
struct store;

/* Docker's defaults (swarmkit manager/dispatcher). */
#define DISPATCHER_DEFAULT_PERIOD_NS (5LL * 1000000000LL)
#define DISPATCHER_EPSILON_MS 500u      /* jitter, at most period / 2 */
#define DISPATCHER_GRACE 3u             /* expiry = period x 3 */
#define DISPATCHER_GRACE_UNKNOWN 6u     /* after a leader change */
#define DISPATCHER_FLUSH_MS 100u        /* status writes batched this long */
#define DISPATCHER_TICK_MS 250u         /* leader housekeeping */
#define DISPATCHER_MAX_ACTIONS 200u     /* per entry (store's cap) */

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

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The swarm state of this node (inactive, pending, active, error, locked):
 * creates a swarm (init), restores it at start from <data-root>/swarm,
 * leaves it, and runs the manager's writes (propose through Raft, reply
 * when applied). The API reads the store through it.
 */
#ifndef SHOAL_CLUSTER_H
#define SHOAL_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "base/err.h"

enum cluster_state {
    CLUSTER_INACTIVE,
    CLUSTER_PENDING,
    CLUSTER_ACTIVE,
    CLUSTER_ERROR,
    CLUSTER_LOCKED,
};

struct cluster;
struct store;
struct agent_exec_ops;

/* Completion of an asynchronous operation: status 0 (result, if any, is
 * lent to the callback) or -code with err set. Fires exactly once. */
typedef void (*cluster_done_cb)(void *data, int status, const struct err *err,
                                json_t *result);

/* Open the node's swarm state under data_root; if a swarm was there, start
 * it again (the store comes back from Raft's log and snapshots). A damaged
 * state leaves the node in CLUSTER_ERROR with the reason, not a crash. */
struct cluster *cluster_new(uv_loop_t *loop, const char *data_root,
                            struct err *err);
/* The engine this node's agent runs its tasks on (agent_set_exec): ops
 * and data are borrowed and must outlive c. */
void cluster_set_task_engine(struct cluster *c,
                             const struct agent_exec_ops *ops, void *data);
/* This node's engine (borrowed, must outlive c): the cluster port's
 * "agent.logs" reads its containers' logs for a manager. */
struct engine;
void cluster_set_engine(struct cluster *c, struct engine *e);
/* The Hostname this node reports when it joins or inits (copied; NULL or
 * "" = the machine's): simulated nodes (fleet/) sharing one machine. */
void cluster_set_hostname(struct cluster *c, const char *name);
/* Stop the manager; cb fires once everything is closed and c is freed.
 * Pending operations complete with ERR_CANCELED first. */
void cluster_close(struct cluster *c, void (*cb)(void *data), void *data);

enum cluster_state cluster_state(const struct cluster *c);
/* "inactive", "pending", "active", "error", "locked" */
const char *cluster_state_name(enum cluster_state s);
/* Docker's /_ping Swarm header: "inactive", "active/manager", ... */
const char *cluster_ping_state(const struct cluster *c);
const char *cluster_error(const struct cluster *c);     /* "" if none */
const char *cluster_node_id(const struct cluster *c);   /* "" if none */
const char *cluster_node_addr(const struct cluster *c); /* advertise IP */
const char *cluster_data_root(const struct cluster *c);
bool cluster_is_manager(const struct cluster *c);
/* Raft ID of the current leader (0 if none) and of this node. */
uint64_t cluster_leader_raft_id(const struct cluster *c);
uint64_t cluster_raft_id(const struct cluster *c);

/* Docker's ManagerStatus.Reachability of Raft member raft_id as this node
 * sees it: "reachable" (self, or answering the leader), "unreachable", or
 * "unknown" (not a member, or not known here). Meaningful on the leader,
 * which serves node listings. */
const char *cluster_member_reachability(const struct cluster *c,
                                        uint64_t raft_id);

/* This manager's Raft term and whether it leads in it (0/false when not a
 * manager). For diagnostics. */
uint64_t cluster_raft_term(const struct cluster *c);
bool cluster_is_leader(const struct cluster *c);

/* This manager's own store, whatever its role in Raft (NULL when not a
 * manager). For diagnostics; API reads go through cluster_manager_store. */
const struct store *cluster_local_store(const struct cluster *c);

/* The store of an active manager, else NULL with err set to Docker's
 * "not a swarm manager" / locked / preparing message (503). */
const struct store *cluster_manager_store(const struct cluster *c,
                                          struct err *err);

/* True when this node is a manager that does not lead: requests served
 * with the leader's authority go to the leader (cluster_forward). */
bool cluster_should_forward(const struct cluster *c);

/* Forward an Engine API request (method, url with version and query, body
 * copied) to the leader and deliver its reply to cb, once. Returns 0, or
 * -code (cb will not fire): ERR_UNAVAILABLE with Docker's "The swarm does
 * not have a leader..." text when no leader is known. */
int cluster_forward(struct cluster *c, const char *method, const char *url,
                    const void *body, size_t len,
                    void (*cb)(void *data, int status, const char *ctype,
                               const char *body, size_t len),
                    void *data, struct err *err);

/* The node key in clear (PEM, malloc'd), read from swarm-node.key with
 * the node's unlock key if it is locked; NULL with err set. */
char *cluster_node_key_pem(struct cluster *c, struct err *err);

/* POST /swarm/unlock: key is the "SWMKEY-1-..." text. Returns 0 once the
 * manager is starting again, or -code: ERR_CONFLICT "swarm is not
 * locked", ERR_INVALID "invalid key string", ERR_UNAUTHORIZED "swarm could
 * not be unlocked: invalid key provided", ERR_UNAVAILABLE when not in a
 * swarm. */
int cluster_unlock(struct cluster *c, const char *key, struct err *err);

/* POST /swarm/init: req is the InitRequest (borrowed). On success the
 * callback's result is a JSON string with the node ID. Returns 0 (cb will
 * fire) or -code with err set (cb will not fire). */
int cluster_init(struct cluster *c, const json_t *req, cluster_done_cb cb,
                 void *data, struct err *err);

/* POST /swarm/join: req is the JoinRequest (borrowed). Returns 0 (cb fires
 * once the node is in the swarm or the join failed) or -code with err set
 * (cb will not fire). */
int cluster_join(struct cluster *c, const json_t *req, cluster_done_cb cb,
                 void *data, struct err *err);

/* Managers this node knows of when it is not one itself (from joining):
 * [{"NodeID","Addr"}], borrowed; NULL if none. */
json_t *cluster_remote_managers(const struct cluster *c);

/* The agent renewed the node certificate in the same role (its renewal
 * point, or a root rotation): write key and certificate and make the
 * cluster port's TLS contexts use them for new connections. 0 or -code. */
int cluster_role_renewed(struct cluster *c, const char *key_pem,
                         const char *cert_pem, struct err *err);

/* The swarm's root CA changed (a rotation finished): write
 * swarm-root-ca.crt and trust only root_pem on new connections. Nothing
 * is done (0) when the file already holds it. 0 or -code. */
int cluster_role_set_root(struct cluster *c, const char *root_pem,
                          struct err *err);

/* The agent renewed the node certificate for a new role (manager: with
 * its new Raft ID); `answer` is ca.renew's (its Managers to reach and,
 * for a manager of an autolocked swarm, UnlockKey and UnlockKeyVersion:
 * the key file is then locked from its first write). Write key and
 * certificate, then start (promotion) or stop (demotion; swarm/raft is
 * wiped) this node's manager. Returns 0 (cb fires once, maybe before
 * this returns) or -code (cb will not fire). cluster_close waits for a
 * demotion. */
int cluster_role_apply(struct cluster *c, bool manager, const char *key_pem,
                       const char *cert_pem, uint64_t raft_id,
                       const json_t *answer,
                       void (*cb)(void *data, int status,
                                  const struct err *err),
                       void *data, struct err *err);
/* A restored manager that has not seen a leader yet (it may have been
 * demoted while it was down: its agent heartbeats anyway to find out). */
bool cluster_awaiting_leader(const struct cluster *c);
/* This node's advertise address "ip:port" ("" if none). */
const char *cluster_advertise_addr(const struct cluster *c);

/* Leader: demote the manager whose Raft member is raft_id. Its member is
 * removed from Raft first (a loss of quorum is refused with Docker's
 * FailedPrecondition text), then actions (stolen: its node object with
 * Spec.Role worker and no Raft identity) are committed. Not for this
 * node's own member (see cluster_node_step_down). Returns 0 (cb fires
 * once) or -code (cb will not fire). */
int cluster_node_demote(struct cluster *c, uint64_t raft_id, json_t *actions,
                        cluster_done_cb cb, void *data, struct err *err);

/* Leader, before demoting itself (as Docker's leader does): hand
 * leadership to the most up-to-date voter, so that the demotion is served
 * by the new leader like any other (it removes this member from Raft; this
 * node then learns its role from its heartbeats). Refused with Docker's
 * FailedPrecondition text when removing this member would lose quorum. cb
 * fires once another member leads (status 0, no result) or with -code.
 * Returns 0 (cb fires once) or -code (cb will not fire). */
int cluster_node_step_down(struct cluster *c, cluster_done_cb cb,
                           void *data, struct err *err);

/* POST /swarm/leave. */
int cluster_leave(struct cluster *c, bool force, cluster_done_cb cb,
                  void *data, struct err *err);

/* POST /swarm/update. */
int cluster_update(struct cluster *c, uint64_t version, const json_t *spec,
                   bool rotate_worker, bool rotate_manager,
                   bool rotate_unlock, cluster_done_cb cb, void *data,
                   struct err *err);

/* Propose a list of store actions (stolen); cb fires when they are
 * applied (or rejected). A list longer than STORE_MAX_ACTIONS goes as
 * several entries, each applied all or nothing, in order; cb then gets
 * the first refusal. */
int cluster_propose(struct cluster *c, json_t *actions, cluster_done_cb cb,
                    void *data, struct err *err);

/*
 * One call of method with body (borrowed) to the node whose cluster port
 * is at addr ("ip:port"), over a connection of its own, closed after the
 * answer. With on_msg the call opens a server stream: on_msg gets each
 * message (borrowed) before cb. cb gets the answer (result borrowed for
 * the call) or the error, exactly once, unless this returns -code with err
 * set. *out (may be NULL) is a handle for cluster_node_call_cancel, valid
 * until cb fires.
 */
struct cluster_call;
int cluster_node_call(struct cluster *c, const char *addr,
                      const char *method, json_t *body, uint64_t timeout_ms,
                      void (*on_msg)(void *data, json_t *msg),
                      cluster_done_cb cb, void *data,
                      struct cluster_call **out, struct err *err);
/* Give up a call: its cb fires at once with ERR_CANCELED. */
void cluster_node_call_cancel(struct cluster_call *call);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Shared inside cluster/: the cluster object and its helpers. */
#ifndef SHOAL_CLUSTER_INT_H
#define SHOAL_CLUSTER_INT_H

#include <limits.h>

#include "cluster/cluster.h"
#include "base/ids.h"
#include "manager/ca/ca.h"

struct consensus;
struct store;
struct tls_ctx;
struct tls_stream_listener;
struct cluster_port;
struct dispatcher;
struct orch_loop;
struct agent;

struct cluster
{
    uv_loop_t *loop;              /* borrowed */
    char data_root[PATH_MAX];
    char swarm_dir[PATH_MAX];     /* <data-root>/swarm */
    enum cluster_state state;
    char error[512];              /* why state is CLUSTER_ERROR */
    char node_id[IDS_LEN + 1];
    char cluster_id[IDS_LEN + 1];
    uint64_t raft_id;
    char listen_addr[128];        /* "ip:port" */
    char advertise_addr[128];     /* "ip:port" */
    char advertise_ip[64];
    struct store *store;          /* owned; NULL unless a manager */
    struct consensus *consensus;  /* owned; NULL unless a manager */
    struct cluster_pending *pending; /* owned: init waiting for leadership */
    unsigned n_inflight;          /* proposals waiting for their entry */
    bool stopping;                /* the manager is being stopped */
    bool leader_ready;            /* leading, and a barrier of this term is
                                     applied: reads are the leader's */
    bool recover;                 /* next manager start forces a new
                                     one-voter configuration */
    struct cluster_port *port;    /* owned: the cluster port, NULL unless
                                     in a swarm */
    json_t *remote_managers;      /* owned: [{"NodeID","Addr"}] known from
                                     joining (workers); NULL if none */
    struct dispatcher *dispatcher; /* owned: node liveness, acts when this
                                      manager leads */
    struct engine *engine;         /* borrowed: this node's containers
                                      (agent.logs), may be NULL */
    struct orch_loop *orch;        /* owned: the orchestration loop, acts
                                      when this manager leads */
    struct agent *agent;          /* owned: this node's heartbeats */
    struct cluster_role_op *role_op; /* a demotion stopping the manager */
    bool close_deferred;          /* cluster_close waits for role_op */
    bool tls_busy;                /* leader: a node TLSInfo or rotation
                                     entry is being proposed */
    uint8_t kek[CA_UNLOCK_KEY_BYTES]; /* the unlock key the node key file is
                                         locked with, when has_kek */
    bool has_kek;
    uint64_t kek_version;         /* Version.Index of the cluster object
                                     the key file follows (kek-version) */
    uint8_t dek[CA_DEK_LEN];      /* raft data at rest, when has_dek */
    bool has_dek;
    char hostname[256];           /* Description.Hostname; "" = the
                                     machine's (cluster_set_hostname) */
    void (*close_cb)(void *data);
    void *close_data;
};

/* An init waiting for the new Raft member to lead, then for its entry. */
struct cluster_pending
{
    json_t *actions;              /* owned: what to propose when leading */
    json_t *(*build)(struct cluster *c); /* or: made when leading, from
                                            the replayed store */
    cluster_done_cb cb;
    void *data;
    bool proposed;
};

/* cluster.c */
int cluster_paths(struct cluster *c, const char *name, char *out,
                  size_t out_len);
/* Start the store and the Raft member. bootstrap: write a one-voter
 * configuration if the log is empty (init); a joining manager passes false
 * and waits for the leader to add it. */
int cluster_manager_start(struct cluster *c, bool bootstrap, struct err *err);
void cluster_manager_stop(struct cluster *c, void (*cb)(void *data),
                          void *data);
int cluster_save_state(struct cluster *c, const json_t *extra,
                       struct err *err);
/* docker-state.json's text as cluster_save_state writes it (owned by the
 * caller). */
char *cluster_state_text(const struct cluster *c, const json_t *extra);
/* This node's Engine-API Description (c->hostname, else the machine's). */
json_t *cluster_node_description(const struct cluster *c,
                                 const char *root_pem);

/* Restore the swarm found under swarm/ (at start, and after an unlock). */
void cluster_restore(struct cluster *c);

/* cluster_lock.c: write swarm-node.key for key_pem (clear PKCS#8) with
 * the DEK (a new one for a manager that has none) and locked with the KEK
 * when the node has one; a worker's is written clear without a DEK. */
int cluster_lock_write(struct cluster *c, const char *key_pem, bool manager,
                       struct err *err);
/* cluster_lock.c: the text cluster_lock_write writes (owned by the
 * caller), or NULL with err set. */
char *cluster_lock_key_text(struct cluster *c, const char *key_pem,
                            bool manager, struct err *err);
/* cluster_lock.c: the unlock key and its version (UnlockKey,
 * UnlockKeyVersion) a manager's ca.join or ca.renew answer carries when
 * autolock is on become c's KEK and kek_version, so that the key file is
 * locked from its first write. Nothing to do without UnlockKey. `rpc`
 * and `remote` name the answer in errors. 0 or -code (c untouched). */
int cluster_lock_answer_key(struct cluster *c, const json_t *body,
                            const char *rpc, const char *remote,
                            struct err *err);
/* cluster_lock.c: take the node key file's text apart with c's KEK: DEK
 * and kek-version into c, the clear key into *out_key_pem (malloc'd). A
 * manager's file without a DEK gets one. */
int cluster_lock_load(struct cluster *c, const char *text, bool manager,
                      char **out_key_pem, struct err *err);
/* cluster_lock.c: after an apply or a restore, lock, re-lock or unlock
 * the key file to follow the cluster object's unlock key. */
void cluster_lock_sync(struct cluster *c);

/* cluster_port.c: the TLS listener on listen_addr serving RPC and Raft
 * (docs/internals/wire.md), and the client TLS contexts managers use to
 * reach each other. Certificates are read from swarm/certificates/.
 * Start when the node enters a swarm (init, join, restore); stop on leave
 * and shutdown (cb fires once everything is closed). */
int cluster_port_start(struct cluster *c, struct err *err);
/* cluster_port_start with the root, certificate and clear key given (a
 * joining node's, before its files are durable). */
int cluster_port_start_pem(struct cluster *c, const char *root,
                           const char *cert, const char *key,
                           struct err *err);
void cluster_port_stop(struct cluster *c, void (*cb)(void *data), void *data);
/* Build the port's TLS contexts again from swarm/certificates/ (after a
 * renewal or a root change); established connections keep theirs. 0 when
 * there is no port. */
int cluster_port_reload(struct cluster *c, struct err *err);
/* Let the Raft member dial its peers through the port (call whenever both
 * exist: after the manager or the port starts). */
void cluster_port_attach(struct cluster *c);
/* Take this manager out of Raft (its node object keeps its role but loses
 * its Raft identity): locally when leading, else through the leader.
 * Returns 0 and cb fires once, or -code (cb will not fire). */
int cluster_port_leave_raft(struct cluster *c,
                            void (*cb)(void *data, int status,
                                       const struct err *err),
                            void *data, struct err *err);
/* The Raft leader changed: forget the client to the old one. */
void cluster_port_leader_changed(struct cluster *c);
/* The cluster port's "agent.logs" method (cluster_logs.c). */
struct rpc_req;
void cluster_logs_serve(struct cluster *c, struct rpc_req *req);

/* cluster_join.c */
void cluster_join_abort(struct cluster *c, void (*cb)(void *data),
                        void *data);
bool cluster_join_in_progress(const struct cluster *c);
/* A joining manager may be ready (an entry applied, a leader seen): check
 * now rather than at the next poll. */
void cluster_join_progress(struct cluster *c);

/* cluster_init.c: `swarm init --force-new-cluster` on a manager. */
int cluster_force_new_cluster(struct cluster *c, cluster_done_cb cb,
                              void *data, struct err *err);

/* cluster_addr.c: Docker's listen/advertise address rules. out_* get
 * "ip:port" and the advertise IP alone. */
int cluster_addr_resolve(const char *listen, const char *advertise,
                         char *out_listen, size_t listen_len,
                         char *out_advertise, size_t adv_len,
                         char *out_adv_ip, size_t ip_len, struct err *err);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * swarm join, on the joining node (docs/internals/wire.md): fetch the root
 * CA over a connection not verified yet and pin it to the digest in the
 * join token, verify that connection's server certificate chain against
 * the pinned root, then have the manager admit this node on it (ca.join:
 * node ID, role and a certificate for our CSR; the token goes only to a
 * server proven to hold a certificate of that root), then run as a
 * worker, or as a Raft member without a log that the leader adds and
 * catches up. The files are written on a worker thread (the root during
 * ca.join; then the key, certificate and docker-state.json, the commit
 * point, made durable together) while the cluster port and a manager's
 * Raft start on the loop; the join answers once they are durable.
 *
 * Every step is asynchronous on c->loop and bounded: dials and calls have
 * deadlines inside Docker's 20 s, and a manager that has not received the
 * swarm's state by then answers Docker's "Timeout was reached..." and keeps
 * catching up in the background, as Docker does (giving up there would leave
 * a dead voter in the swarm's Raft configuration).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/rpc.h"
#include "base/tls_ctx.h"
#include "cluster/cluster_int.h"
#include "manager/ca/ca.h"
#include "manager/consensus/consensus.h"
#include "manager/store/store.h"

#define CLUSTER_JOIN__DEADLINE_MS 20000u /* Docker's swarmConnectTimeout */
#define CLUSTER_JOIN__DIAL_MS 5000u      /* swarmkit's CA dial timeout */
#define CLUSTER_JOIN__ROOT_MS 5000u
#define CLUSTER_JOIN__POLL_MS 20u
#define CLUSTER_JOIN__BG_POLL_MS 250u
#define CLUSTER_JOIN__DEFAULT_PORT "2377"
#define CLUSTER_JOIN__ALPN "shoal-rpc"

static const char cluster_join_msg_in_swarm[] =
    "This node is already part of a swarm. Use \"docker swarm leave\" to "
    "leave this swarm and join another one.";
static const char cluster_join_msg_timeout[] =
    "Timeout was reached before node joined. The attempt to join the swarm "
    "will continue in the background. Use the \"docker info\" command to "
    "see the current swarm status of your node.";

enum cluster_join_phase {
    CLUSTER_JOIN_RESOLVE,    /* resolving a host name */
    CLUSTER_JOIN_ROOT,       /* dial + ca.root */
    CLUSTER_JOIN_ADMIT,      /* server verified, ca.join on the same conn */
    CLUSTER_JOIN_WAIT,       /* manager: waiting for the swarm's state */
    CLUSTER_JOIN_BACKGROUND, /* manager: answered the timeout, still waiting */
};

struct cluster_join_op
{
    struct cluster *c;
    cluster_done_cb cb;             /* NULL once the caller has its answer */
    void *data;
    struct cluster_join_op *next;   /* cluster_join_ops */
    enum cluster_join_phase phase;
    char remote[300];               /* RemoteAddrs[0] as "host:port" */
    char host[256];
    char port[8];
    char dial_addr[300];            /* literal "ip:port" / "[ip6]:port" */
    char *token;                    /* owned */
    char digest[CA_DIGEST_HEX_LEN + 1];
    char avail[16];
    uint64_t deadline;              /* uv_now() ms */
    uv_timer_t timer;               /* the readiness poll */
    uv_getaddrinfo_t gai;
    struct tls_stream_dial_req dial;
    struct rpc_conn *conn;          /* the connection, or NULL */
    struct rpc_call call;
    char *root_pem;                 /* owned */
    char *key_pem;                  /* owned */
    char *csr_pem;                  /* owned */
    bool timer_open;
    bool gai_busy;
    bool dialing;
    unsigned n_conns;               /* conns whose closed_cb is due */
    unsigned n_streams;             /* stray streams being closed */
    bool finishing;                 /* result decided, closing handles */
    bool detached;                  /* leave or shutdown owns the teardown */
    bool port_started;              /* a failure now stops the port */
    /* The node's key and CSR, made on a worker thread during the dial. */
    uv_work_t keygen;
    bool keygen_busy;
    int keygen_status;
    struct err keygen_err;
    bool manager_started;
    /* Files, on a worker thread: the root CA during ca.join, then, once
     * admitted, the key and certificate and the durable commit. */
    uv_work_t files;
    bool files_busy;
    bool files_commit;              /* the job is the commit */
    bool committed;                 /* every file is durable */
    int files_status;
    struct err files_err;
    char certs_dir[PATH_MAX];
    char root_path[PATH_MAX];
    char key_path[PATH_MAX];
    char cert_path[PATH_MAX];
    char state_path[PATH_MAX];
    char *key_text;                 /* owned: swarm-node.key's */
    char *cert_pem;                 /* owned */
    char *state_text;               /* owned: docker-state.json's */
    json_t *answer;                 /* owned: ca.join's, while files_busy */
    int status;
    struct err err;
    void (*abort_cb)(void *data);
    void *abort_data;
};

/* Joins in progress, at most one per cluster (the daemon has one). */
static struct cluster_join_op *cluster_join_ops;

static void cluster_join_finish(struct cluster_join_op *op, int status,
                                const struct err *err);
static void cluster_join_dial(struct cluster_join_op *op);
static bool cluster_join_call(struct cluster_join_op *op);
static void cluster_join_files_work(uv_work_t *w);
static void cluster_join_files_done(uv_work_t *w, int status);

static struct cluster_join_op *cluster_join_find(const struct cluster *c)
{
    struct cluster_join_op *op;

    for (op = cluster_join_ops; op != NULL; op = op->next)
        if (op->c == c)
            return op;
    return NULL;
}

bool cluster_join_in_progress(const struct cluster *c)
{
    return cluster_join_find(c) != NULL;
}

static void cluster_join_unlink(struct cluster_join_op *op)
{
    struct cluster_join_op **pp;

    for (pp = &cluster_join_ops; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == op) {
            *pp = op->next;
            return;
        }
    }
}

static uint64_t cluster_join_remaining(const struct cluster_join_op *op)
{
    uint64_t now = uv_now(op->c->loop);

    return now >= op->deadline ? 0 : op->deadline - now;
}

static uint64_t cluster_join_min(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Somebody else moved the node on (swarm leave, shutdown) while a step of
 * ours was in flight: stop without touching the cluster's state. */
static bool cluster_join_gone(struct cluster_join_op *op)
{
    struct cluster *c = op->c;
    struct err err;

    if (op->manager_started ? (c->consensus != NULL && !c->stopping)
                            : c->state == CLUSTER_PENDING)
        return false;
    op->detached = true;
    err_set(&err, ERR_CANCELED,
            "the join was canceled: the node left the swarm");
    cluster_join_finish(op, -ERR_CANCELED, &err);
    return true;
}

/* A failure to reach or talk to the manager, with what a user can check. */
static void cluster_join_fail_unreachable(struct cluster_join_op *op,
                                          const struct err *cause)
{
    struct err err;

    err_set(&err, ERR_UNAVAILABLE,
            "could not join the swarm through %s: %s - check that a swarm "
            "manager listens at %s (the address \"docker swarm join-token\" "
            "prints, which is that manager's --advertise-addr) and that this "
            "node can reach it",
            op->remote, cause->msg, op->remote);
    cluster_join_finish(op, -ERR_UNAVAILABLE, &err);
}

/* An RPC failed: Docker-shaped statuses from the manager pass unchanged;
 * transport failures get the address and a hint. */
static void cluster_join_fail_call(struct cluster_join_op *op, int status,
                                   const struct err *cause,
                                   const char *method)
{
    struct err err;

    if (strncmp(cause->msg, "rpc error: ", 11) == 0) {
        cluster_join_finish(op, status, cause);
        return;
    }
    if (strcmp(cause->msg, "deadline exceeded") == 0 ||
        strncmp(cause->msg, "connection to ", 14) == 0) {
        err_set(&err, ERR_UNAVAILABLE, "%s: %s", method, cause->msg);
        cluster_join_fail_unreachable(op, &err);
        return;
    }
    err = *cause;
    err_wrap(&err, "%s on the manager at %s", method, op->remote);
    cluster_join_finish(op, status, &err);
}

/* --- completion --------------------------------------------------------- */

/* Undo a failed join: nothing of it stays on disk or in c. */
static void cluster_join_reset(struct cluster *c)
{
    struct err err;

    err_clear(&err);
    if (fsutil_empty_dir(c->swarm_dir, &err) != 0)
        log_error(LOG_CLUSTER, "clean up after failed join: %s", err.msg);
    c->state = CLUSTER_INACTIVE;
    c->error[0] = '\0';
    memset(c->node_id, 0, sizeof(c->node_id));
    memset(c->cluster_id, 0, sizeof(c->cluster_id));
    memset(c->listen_addr, 0, sizeof(c->listen_addr));
    memset(c->advertise_addr, 0, sizeof(c->advertise_addr));
    memset(c->advertise_ip, 0, sizeof(c->advertise_ip));
    c->raft_id = 0;
    c->has_kek = false;
    c->has_dek = false;
    c->kek_version = 0;
    memset(c->kek, 0, sizeof(c->kek));
    json_decref(c->remote_managers);
    c->remote_managers = NULL;
}

static void cluster_join_free(struct cluster_join_op *op)
{
    void (*abort_cb)(void *) = op->abort_cb;
    void *abort_data = op->abort_data;

    cluster_join_unlink(op);
    free(op->token);
    free(op->root_pem);
    free(op->key_pem);
    free(op->csr_pem);
    free(op->key_text);
    free(op->cert_pem);
    free(op->state_text);
    json_decref(op->answer);
    free(op);
    if (abort_cb != NULL)
        abort_cb(abort_data);
}

static void cluster_join_reply(struct cluster_join_op *op)
{
    cluster_done_cb cb = op->cb;

    op->cb = NULL;
    if (cb != NULL)
        cb(op->data, op->status, op->status ? &op->err : NULL, NULL);
}

static void cluster_join_on_manager_stopped(void *data)
{
    struct cluster_join_op *op = data;

    cluster_join_reset(op->c);
    cluster_join_reply(op);
    cluster_join_free(op);
}

static void cluster_join_on_port_stopped(void *data)
{
    struct cluster_join_op *op = data;

    cluster_manager_stop(op->c, cluster_join_on_manager_stopped, op);
}

/* Every handle of ours is closed: answer, undoing the join on failure. */
static void cluster_join_complete(struct cluster_join_op *op)
{
    if (op->status == 0) {
        log_info(LOG_CLUSTER, "joined the swarm as a %s: node %s, cluster %s",
                 op->c->consensus ? "manager" : "worker", op->c->node_id,
                 op->c->cluster_id);
    } else if (op->detached) {
        log_info(LOG_CLUSTER, "join through %s abandoned: %s", op->remote,
                 op->err.msg);
    } else {
        log_warn(LOG_CLUSTER, "join through %s failed: %s", op->remote,
                 op->err.msg);
        if (op->port_started) {
            cluster_port_stop(op->c, cluster_join_on_port_stopped, op);
            return;
        }
        cluster_join_reset(op->c);
    }
    cluster_join_reply(op);
    cluster_join_free(op);
}

static void cluster_join_try_complete(struct cluster_join_op *op)
{
    if (!op->finishing || op->timer_open || op->gai_busy || op->dialing ||
        op->n_conns > 0 || op->n_streams > 0 || op->files_busy ||
        op->keygen_busy)
        return;
    cluster_join_complete(op);
}

static void cluster_join_on_timer_closed(uv_handle_t *h)
{
    struct cluster_join_op *op = h->data;

    op->timer_open = false;
    cluster_join_try_complete(op);
}

/* Decide the result (the first decision wins) and close what is open;
 * the answer goes out once everything is closed. */
static void cluster_join_finish(struct cluster_join_op *op, int status,
                                const struct err *err)
{
    if (op->finishing)
        return;
    op->finishing = true;
    op->status = status;
    if (status != 0)
        op->err = *err;
    if (op->gai_busy)
        uv_cancel((uv_req_t *)&op->gai);
    if (op->dialing)
        tls_stream_dial_cancel(&op->dial);
    if (op->conn != NULL) {
        struct rpc_conn *conn = op->conn;

        op->conn = NULL;
        rpc_conn_close(conn); /* a call in flight completes: ignored */
    }
    if (op->timer_open && !uv_is_closing((uv_handle_t *)&op->timer))
        uv_close((uv_handle_t *)&op->timer, cluster_join_on_timer_closed);
    cluster_join_try_complete(op);
}

void cluster_join_abort(struct cluster *c, void (*cb)(void *data),
                        void *data)
{
    struct cluster_join_op *op = cluster_join_find(c);
    struct err err;

    if (op == NULL) {
        if (cb != NULL)
            cb(data);
        return;
    }
    op->abort_cb = cb;
    op->abort_data = data;
    /* A started port (and manager) are the closer's to stop. */
    if (op->port_started)
        op->detached = true;
    err_set(&err, ERR_CANCELED,
            "the join was canceled: the node is leaving the swarm or "
            "shutting down");
    cluster_join_finish(op, -ERR_CANCELED, &err);
}

/* --- the manager catches up --------------------------------------------- */

/* The files are durable and, for a manager, the swarm's state is here. */
static void cluster_join_on_poll(uv_timer_t *t)
{
    struct cluster_join_op *op = t->data;
    struct cluster *c = op->c;

    if (op->finishing || cluster_join_gone(op) || !op->committed)
        return;
    if (c->store != NULL && store_cluster(c->store) != NULL &&
        store_get(c->store, STORE_NODE, c->node_id) != NULL &&
        consensus_leader_id(c->consensus) != 0) {
        c->state = CLUSTER_ACTIVE;
        cluster_join_finish(op, 0, NULL);
        return;
    }
    if (op->phase != CLUSTER_JOIN_WAIT || cluster_join_remaining(op) > 0)
        return;
    /* Docker's answer after 20 s; the member keeps catching up, and its
     * docker-state.json (written with the certificate) makes a restart
     * resume it. */
    log_warn(LOG_CLUSTER, "join: no swarm state from the leader after %u "
                          "ms; still waiting in the background",
             CLUSTER_JOIN__DEADLINE_MS);
    op->phase = CLUSTER_JOIN_BACKGROUND;
    op->status = -ERR_UNAVAILABLE;
    err_set(&op->err, ERR_UNAVAILABLE, "%s", cluster_join_msg_timeout);
    cluster_join_reply(op);
    op->status = 0;
    uv_timer_start(&op->timer, cluster_join_on_poll,
                   CLUSTER_JOIN__BG_POLL_MS, CLUSTER_JOIN__BG_POLL_MS);
}

void cluster_join_progress(struct cluster *c)
{
    struct cluster_join_op *op = cluster_join_find(c);

    if (op != NULL && op->phase == CLUSTER_JOIN_WAIT && !op->finishing &&
        op->timer_open && !uv_is_closing((uv_handle_t *)&op->timer))
        uv_timer_start(&op->timer, cluster_join_on_poll, 0,
                       CLUSTER_JOIN__POLL_MS);
}

/* --- admitted: certificate checks, then worker or manager --------------- */

static void cluster_join_admitted(struct cluster_join_op *op, json_t *body)
{
    struct cluster *c = op->c;
    struct ca_cert_info info;
    struct err err;
    const char *node_id = json_string_value(json_object_get(body, "NodeID"));
    const char *role = json_string_value(json_object_get(body, "Role"));
    const char *cert = json_string_value(json_object_get(body, "Certificate"));
    json_t *managers = json_object_get(body, "Managers");
    const char *ou;
    bool manager;
    json_t *extra;

    err_clear(&err);
    if (node_id == NULL || role == NULL || cert == NULL ||
        !json_is_array(managers)) {
        err_set(&err, ERR_PROTO,
                "the manager at %s answered ca.join without NodeID, Role, "
                "Certificate or Managers",
                op->remote);
        goto fail;
    }
    manager = strcmp(role, "manager") == 0;
    if (manager) {
        ou = CA_ROLE_MANAGER;
    } else if (strcmp(role, "worker") == 0) {
        ou = CA_ROLE_WORKER;
    } else {
        err_set(&err, ERR_PROTO, "the manager at %s gave an unknown role %s",
                op->remote, role);
        goto fail;
    }
    if (ca_cert_info(cert, &info, &err) != 0)
        goto bad_cert;
    if (!ids_is_valid(node_id) || strcmp(info.cn, node_id) != 0 ||
        !ids_is_valid(info.o) || strcmp(info.ou, ou) != 0) {
        err_set(&err, ERR_INVALID,
                "it names CN %s, O %s, OU %s for node %s as a %s", info.cn,
                info.o, info.ou, node_id, role);
        goto bad_cert;
    }
    /* Its chain and key are checked by the commit, off the loop. */
    /* A manager's key file carries its new Raft DEK and, in an
     * autolocked swarm, is locked from its first write. */
    c->has_kek = false;
    c->has_dek = false;
    c->kek_version = 0;
    if (manager &&
        cluster_lock_answer_key(c, body, "ca.join", op->remote, &err) != 0)
        goto fail;
    op->key_text = cluster_lock_key_text(c, op->key_pem, manager, &err);
    if (op->key_text == NULL)
        goto fail;
    if (cluster_paths(c, "certificates/swarm-node.key", op->key_path,
                      sizeof(op->key_path)) != 0 ||
        cluster_paths(c, "certificates/swarm-node.crt", op->cert_path,
                      sizeof(op->cert_path)) != 0 ||
        cluster_paths(c, "docker-state.json", op->state_path,
                      sizeof(op->state_path)) != 0)
        goto fail_io;
    memcpy(c->node_id, node_id, sizeof(c->node_id));
    memcpy(c->cluster_id, info.o, sizeof(c->cluster_id));
    json_decref(c->remote_managers);
    c->remote_managers = json_deep_copy(managers);
    if (!manager)
        c->raft_id = 0;
    log_info(LOG_CLUSTER, "admitted by %s as %s %s in cluster %s", op->remote,
             role, node_id, info.o);
    op->cert_pem = xstrdup(cert);
    extra = json_pack("{s:s, s:O}", "RemoteAddr", op->remote, "Managers",
                      c->remote_managers);
    op->state_text = cluster_state_text(c, extra);
    json_decref(extra);
    op->files_commit = true;
    if (uv_queue_work(c->loop, &op->files, cluster_join_files_work,
                      cluster_join_files_done) != 0) {
        err_set(&err, ERR_INTERNAL, "cannot queue the certificate writes");
        goto fail;
    }
    op->files_busy = true;

    /* Meanwhile the port listens (from the PEMs in memory). For a manager
     * it opens before Raft starts: the leader dials this member as soon
     * as it has added it, and its first connection then waits in the
     * backlog while libraft starts (its I/O probe takes tens of ms)
     * instead of being refused and retried. */
    if (cluster_port_start_pem(c, op->root_pem, cert, op->key_pem, &err) !=
        0) {
        if (manager)
            goto fail;
        /* Managers reach workers too (agent.logs); not fatal. */
        log_error(LOG_CLUSTER, "cluster port: %s", err.msg);
        return; /* cluster_join_committed answers */
    }
    op->port_started = true; /* a failure now stops the port */
    if (!manager)
        return;
    op->manager_started = true;
    if (cluster_manager_start(c, false, &err) != 0)
        goto fail;
    op->phase = CLUSTER_JOIN_WAIT;
    uv_timer_start(&op->timer, cluster_join_on_poll, CLUSTER_JOIN__POLL_MS,
                   CLUSTER_JOIN__POLL_MS);
    return;

bad_cert:
    err_wrap(&err, "the manager at %s issued an invalid certificate",
             op->remote);
    err.code = ERR_PROTO;
    goto fail;
fail_io:
    if (err.code == ERR_OK)
        err_set(&err, ERR_IO, "data root path too long");
fail:
    cluster_join_finish(op, -err.code, &err);
}

/* --- the root CA -------------------------------------------------------- */

/* The root CA, not synced yet: the commit makes it durable. */
static int cluster_join_root_file(struct cluster_join_op *op, struct err *err)
{
    if (fsutil_mkdir_p(op->certs_dir, 0700, err) != 0)
        return -err->code;
    return fsutil_write_atomic_ex(op->root_path, op->root_pem,
                                  strlen(op->root_pem), 0644,
                                  FSUTIL_NO_SYNC | FSUTIL_WRITEBACK, err);
}

/* The key and certificate next to the root, and docker-state.json under
 * a temporary name: the four files and the certificates' directory made
 * durable together (the first fsync commits the others' journal entries
 * with it), then docker-state.json renamed into place, durably, last: a
 * restart restores the swarm only when it is there (and empties an
 * unfinished swarm/). */
static int cluster_join_commit_files(struct cluster_join_op *op,
                                     struct err *err)
{
    const unsigned later = FSUTIL_NO_SYNC | FSUTIL_WRITEBACK;
    char state_new[PATH_MAX + 8];
    int rv;

    /* Nothing is written for a certificate that does not chain to the
     * pinned root or is not for our key. */
    rv = ca_verify(op->root_pem, op->cert_pem, err);
    if (rv == 0 && !ca_key_matches(op->cert_pem, op->key_pem))
        rv = err_set(err, ERR_INVALID, "it is not for the key this node sent");
    if (rv != 0) {
        err_wrap(err, "the manager at %s issued an invalid certificate",
                 op->remote);
        err->code = ERR_PROTO;
        return -ERR_PROTO;
    }
    if (snprintf(state_new, sizeof(state_new), "%s.new", op->state_path) >=
        (int)sizeof(state_new))
        return err_set(err, ERR_IO, "data root path too long");
    if (fsutil_write_atomic_ex(op->key_path, op->key_text,
                               strlen(op->key_text), 0600, later, err) != 0 ||
        fsutil_write_atomic_ex(op->cert_path, op->cert_pem,
                               strlen(op->cert_pem), 0644, later, err) != 0 ||
        fsutil_write_atomic_ex(state_new, op->state_text,
                               strlen(op->state_text), 0600, later,
                               err) != 0 ||
        fsutil_fsync_file(op->root_path, err) != 0 ||
        fsutil_fsync_file(op->key_path, err) != 0 ||
        fsutil_fsync_file(op->cert_path, err) != 0 ||
        fsutil_fsync_file(state_new, err) != 0 ||
        fsutil_fsync_dir(op->certs_dir, err) != 0 ||
        fsutil_rename_durable(state_new, op->state_path, err) != 0)
        return -err->code;
    return 0;
}

/* On a worker thread: only op's file fields, set before and read after. */
static void cluster_join_files_work(uv_work_t *w)
{
    struct cluster_join_op *op = w->data;

    err_clear(&op->files_err);
    if (!op->files_commit) {
        op->files_status = cluster_join_root_file(op, &op->files_err);
        return;
    }
    op->files_status = cluster_join_commit_files(op, &op->files_err);
    ca_thread_done();
}

/* Every file is durable: a worker has joined; a manager has once it has
 * the swarm's state (cluster_join_on_poll). */
static void cluster_join_committed(struct cluster_join_op *op)
{
    op->committed = true;
    if (op->manager_started) {
        uv_timer_start(&op->timer, cluster_join_on_poll, 0,
                       op->phase == CLUSTER_JOIN_BACKGROUND
                           ? CLUSTER_JOIN__BG_POLL_MS
                           : CLUSTER_JOIN__POLL_MS);
        return;
    }
    op->c->state = CLUSTER_ACTIVE;
    cluster_join_finish(op, 0, NULL);
}

/* A file job ended: go on with an answer that came meanwhile, or with
 * the committed join. */
static void cluster_join_files_done(uv_work_t *w, int status)
{
    struct cluster_join_op *op = w->data;
    json_t *answer = op->answer;

    op->files_busy = false;
    op->answer = NULL;
    if (status != 0 && op->files_status == 0) {
        err_set(&op->files_err, ERR_INTERNAL,
                "certificate writes: %s", uv_strerror(status));
        op->files_status = -ERR_INTERNAL;
    }
    if (op->finishing) {
        json_decref(answer);
        cluster_join_try_complete(op);
        return;
    }
    if (cluster_join_gone(op)) {
        json_decref(answer);
        return;
    }
    if (op->files_status != 0) {
        json_decref(answer);
        cluster_join_finish(op, op->files_status, &op->files_err);
        return;
    }
    if (op->files_commit) {
        cluster_join_committed(op);
        return;
    }
    if (answer != NULL) {
        cluster_join_admitted(op, answer);
        json_decref(answer);
    }
}

static void cluster_join_on_root(struct cluster_join_op *op, json_t *body)
{
    struct cluster *c = op->c;
    const char *pem = json_string_value(json_object_get(body, "CACert"));
    char digest[CA_DIGEST_HEX_LEN + 1];
    struct err err;

    err_clear(&err);
    if (pem == NULL) {
        err_set(&err, ERR_PROTO,
                "the manager at %s answered ca.root without CACert",
                op->remote);
        goto fail;
    }
    ca_digest_hex(pem, strlen(pem), digest);
    if (strcmp(digest, op->digest) != 0) {
        err_set(&err, ERR_INTERNAL,
                "remote CA does not match fingerprint. Expected: %s",
                op->digest);
        goto fail;
    }
    if (ca_root_check(pem, &err) != 0) {
        err_wrap(&err, "the root CA of the swarm at %s is not usable",
                 op->remote);
        goto fail;
    }
    /* The token's secret goes only to a server that proved it holds a
     * manager certificate of the pinned root (the handshake proved the
     * key; this proves the chain, SAN swarm-ca and OU as a verified dial
     * would have). */
    if (tls_stream_verify_peer(rpc_conn_stream(op->conn), pem, CA_ROOT_CN,
                               CA_ROLE_MANAGER, &err) != 0) {
        if (err.code != ERR_UNAUTHORIZED)
            goto fail;
        cluster_join_fail_unreachable(op, &err);
        return;
    }
    op->root_pem = xstrdup(pem);
    op->phase = CLUSTER_JOIN_ADMIT;
    /* ca.join goes now, or once the key is made (cluster_join_keygen_done) */
    if (!op->keygen_busy && !cluster_join_call(op))
        return;
    /* Written while the manager admits us, off the loop: the root, before
     * the key, the certificate and docker-state.json (last). The key
     * waits for the answer: only it says whether this node is a manager
     * of an autolocked swarm, whose key is never written in clear. A
     * failed join, or a restart without docker-state.json, empties
     * swarm/. */
    if (cluster_paths(c, "certificates", op->certs_dir,
                      sizeof(op->certs_dir)) != 0 ||
        cluster_paths(c, "certificates/swarm-root-ca.crt", op->root_path,
                      sizeof(op->root_path)) != 0)
        goto fail_io;
    op->files.data = op;
    if (uv_queue_work(c->loop, &op->files, cluster_join_files_work,
                      cluster_join_files_done) != 0) {
        err_set(&err, ERR_INTERNAL, "cannot queue the certificate writes");
        goto fail;
    }
    op->files_busy = true;
    return;

fail_io:
    if (err.code == ERR_OK)
        err_set(&err, ERR_IO, "data root path too long");
fail:
    cluster_join_finish(op, -err.code, &err);
}

/* --- the node's key ----------------------------------------------------- */

/* On a worker thread: only op's key fields, set before and read after. */
static void cluster_join_keygen_work(uv_work_t *w)
{
    struct cluster_join_op *op = w->data;

    err_clear(&op->keygen_err);
    op->keygen_status =
        ca_node_key_create(&op->key_pem, &op->csr_pem, &op->keygen_err);
    ca_thread_done();
}

/* The key is made: send ca.join if the server is verified already. */
static void cluster_join_keygen_done(uv_work_t *w, int status)
{
    struct cluster_join_op *op = w->data;

    op->keygen_busy = false;
    if (status != 0 && op->keygen_status == 0) {
        err_set(&op->keygen_err, ERR_INTERNAL, "node key: %s",
                uv_strerror(status));
        op->keygen_status = -ERR_INTERNAL;
    }
    if (op->finishing) {
        cluster_join_try_complete(op);
        return;
    }
    if (cluster_join_gone(op))
        return;
    if (op->keygen_status != 0) {
        cluster_join_finish(op, op->keygen_status, &op->keygen_err);
        return;
    }
    if (op->phase == CLUSTER_JOIN_ADMIT)
        (void)cluster_join_call(op);
}

/* --- connections and calls ---------------------------------------------- */

static void cluster_join_on_call(struct rpc_call *call, int status,
                                 json_t *body)
{
    struct cluster_join_op *op = call->data;
    const char *method =
        op->phase == CLUSTER_JOIN_ROOT ? "ca.root" : "ca.join";
    struct rpc_conn *conn = op->conn;

    if (op->finishing || cluster_join_gone(op))
        return;
    if (status != 0) {
        cluster_join_fail_call(op, status, &call->err, method);
        return;
    }
    if (op->phase == CLUSTER_JOIN_ROOT) {
        cluster_join_on_root(op, body); /* ca.join follows on conn */
        return;
    }
    op->conn = NULL;
    rpc_conn_close(conn);
    if (op->files_busy) {
        op->answer = json_incref(body); /* cluster_join_files_done goes on */
        return;
    }
    cluster_join_admitted(op, body);
}

static void cluster_join_on_conn_closed(struct rpc_conn *conn,
                                        const struct err *why, void *data)
{
    struct cluster_join_op *op = data;

    UNUSED(why);
    if (op->conn == conn)
        op->conn = NULL;
    op->n_conns--;
    cluster_join_try_complete(op);
}

static void cluster_join_on_stray_closed(struct stream *s, void *data)
{
    struct cluster_join_op *op = data;

    UNUSED(s);
    op->n_streams--;
    cluster_join_try_complete(op);
}

static void cluster_join_close_stray(struct cluster_join_op *op,
                                     struct stream *s)
{
    op->n_streams++;
    stream_close(s, cluster_join_on_stray_closed, op);
}

/* Send the call of op->phase on op->conn. True when it is in flight;
 * false when it failed (the join is finishing). */
static bool cluster_join_call(struct cluster_join_op *op)
{
    struct cluster *c = op->c;
    char raft_id[32];
    json_t *body = NULL;
    const char *method = "ca.root";
    uint64_t timeout = cluster_join_remaining(op);
    struct err err;
    int rv;

    err_clear(&err);
    if (op->phase == CLUSTER_JOIN_ADMIT) {
        method = "ca.join";
        snprintf(raft_id, sizeof(raft_id), "%" PRIu64, c->raft_id);
        body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "Token",
                         op->token, "CSR", op->csr_pem, "Availability",
                         op->avail, "RaftID", raft_id, "AdvertiseAddr",
                         c->advertise_addr, "Description",
                         cluster_node_description(c, op->root_pem));
    } else {
        timeout = cluster_join_min(timeout, CLUSTER_JOIN__ROOT_MS);
    }
    if (timeout == 0) {
        json_decref(body);
        err_set(&err, ERR_UNAVAILABLE, "%s: deadline exceeded", method);
        cluster_join_fail_unreachable(op, &err);
        return false;
    }
    memset(&op->call, 0, sizeof(op->call));
    op->call.data = op;
    op->call.cb = cluster_join_on_call;
    rv = rpc_conn_call(op->conn, &op->call, method, body, timeout, &err);
    json_decref(body);
    if (rv != 0) {
        cluster_join_fail_call(op, rv, &err, method);
        return false;
    }
    return true;
}

static void cluster_join_on_dialed(struct tls_stream_dial_req *req,
                                   int status, struct stream *s)
{
    struct cluster_join_op *op = req->data;
    struct err err;

    op->dialing = false;
    if (op->finishing) {
        if (s != NULL)
            cluster_join_close_stray(op, s);
        cluster_join_try_complete(op);
        return;
    }
    if (cluster_join_gone(op)) {
        if (s != NULL)
            cluster_join_close_stray(op, s);
        return;
    }
    if (status != 0) {
        cluster_join_fail_unreachable(op, &req->err);
        return;
    }
    err_clear(&err);
    if (rpc_conn_new(op->c->loop, &s, NULL, op->remote,
                     cluster_join_on_conn_closed, op, &op->conn,
                     &err) != 0) {
        cluster_join_close_stray(op, s);
        cluster_join_finish(op, -err.code, &err);
        return;
    }
    op->n_conns++;
    (void)cluster_join_call(op);
}

/* Dial the manager without verifying it (its root is not known yet; see
 * cluster_join_on_root) and without a client certificate. */
static void cluster_join_dial(struct cluster_join_op *op)
{
    struct tls_ctx_config cfg;
    struct tls_ctx *ctx = NULL;
    uint64_t timeout;
    struct err err;
    int rv;

    err_clear(&err);
    timeout = cluster_join_min(cluster_join_remaining(op),
                               CLUSTER_JOIN__DIAL_MS);
    if (timeout == 0) {
        err_set(&err, ERR_UNAVAILABLE, "connect to %s: deadline exceeded",
                op->dial_addr);
        cluster_join_fail_unreachable(op, &err);
        return;
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.insecure = true;
    rv = tls_ctx_new(&cfg, &ctx, &err);
    if (rv == 0) {
        memset(&op->dial, 0, sizeof(op->dial));
        op->dial.data = op;
        rv = tls_stream_dial(op->c->loop, ctx, op->dial_addr,
                             CLUSTER_JOIN__ALPN, timeout, &op->dial,
                             cluster_join_on_dialed, &err);
        tls_ctx_free(ctx); /* borrowed by the dial for the call only */
    }
    if (rv != 0) {
        cluster_join_finish(op, rv, &err);
        return;
    }
    op->dialing = true;
}

/* --- name resolution ---------------------------------------------------- */

static void cluster_join_on_resolved(uv_getaddrinfo_t *req, int status,
                                     struct addrinfo *res)
{
    struct cluster_join_op *op = req->data;
    char ip[INET6_ADDRSTRLEN];
    struct addrinfo *ai;
    struct err err;

    op->gai_busy = false;
    if (op->finishing) {
        uv_freeaddrinfo(res);
        cluster_join_try_complete(op);
        return;
    }
    if (cluster_join_gone(op)) {
        uv_freeaddrinfo(res);
        return;
    }
    ip[0] = '\0';
    for (ai = status == 0 ? res : NULL; ai != NULL && ip[0] == '\0';
         ai = ai->ai_next) {
        if (ai->ai_family == AF_INET)
            uv_ip4_name((struct sockaddr_in *)ai->ai_addr, ip, sizeof(ip));
        else if (ai->ai_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)ai->ai_addr, ip, sizeof(ip));
    }
    uv_freeaddrinfo(res);
    if (ip[0] == '\0') {
        err_set(&err, ERR_UNAVAILABLE, "lookup %s: %s", op->host,
                status != 0 ? uv_strerror(status) : "no address");
        cluster_join_fail_unreachable(op, &err);
        return;
    }
    snprintf(op->dial_addr, sizeof(op->dial_addr),
             strchr(ip, ':') ? "[%s]:%s" : "%s:%s", ip, op->port);
    op->phase = CLUSTER_JOIN_ROOT;
    cluster_join_dial(op);
}

/* --- the request -------------------------------------------------------- */

/* Type checks of the JoinRequest fields (Go's decoder errors). */
static int cluster_join_check(const json_t *req, struct err *err)
{
    static const struct
    {
        const char *name;
        json_type type;
    } fields[] = {
        {"ListenAddr", JSON_STRING},   {"AdvertiseAddr", JSON_STRING},
        {"DataPathAddr", JSON_STRING}, {"RemoteAddrs", JSON_ARRAY},
        {"JoinToken", JSON_STRING},    {"Availability", JSON_STRING},
    };
    json_t *a;
    json_t *v;
    size_t i;

    if (!json_is_object(req))
        return err_set(err, ERR_INVALID,
                       "json: cannot unmarshal value into Go value of type "
                       "swarm.JoinRequest");
    for (i = 0; i < ARRAY_SIZE(fields); i++) {
        v = json_object_get(req, fields[i].name);
        if (v == NULL || json_is_null(v))
            continue;
        if (json_typeof(v) != fields[i].type)
            return err_set(err, ERR_INVALID,
                           "json: cannot unmarshal value into Go struct "
                           "field JoinRequest.%s of wrong type",
                           fields[i].name);
    }
    a = json_object_get(req, "RemoteAddrs");
    json_array_foreach(a, i, v) {
        if (!json_is_string(v))
            return err_set(err, ERR_INVALID,
                           "json: cannot unmarshal value into Go struct "
                           "field JoinRequest.RemoteAddrs of type string");
    }
    return 0;
}

static bool cluster_join_port_ok(const char *p)
{
    char *end;
    long v;

    if (p[0] == '\0')
        return false;
    v = strtol(p, &end, 10);
    return *end == '\0' && v > 0 && v <= 65535;
}

/* Docker's validateAddr for a remote address: "[tcp://]host[:port]", an
 * empty host meaning 0.0.0.0 and a missing port 2377. */
static int cluster_join_parse_remote(struct cluster_join_op *op,
                                     const char *in, struct err *err)
{
    const char *s = in;
    const char *colon;
    size_t n;

    if (in[0] == '\0')
        return err_set(err, ERR_INVALID,
                       "invalid remoteAddr \"\": invalid empty address");
    if (strncmp(s, "tcp://", 6) == 0)
        s += 6;
    else if (strstr(s, "://") != NULL)
        return err_set(err, ERR_INVALID,
                       "invalid remoteAddr \"%s\": unsupported proto '%.*s'",
                       in, (int)(strstr(s, "://") - s), s);
    op->port[0] = '\0';
    if (s[0] == '[') {
        const char *close = strchr(s, ']');

        if (close == NULL || (close[1] != '\0' && close[1] != ':'))
            return err_set(err, ERR_INVALID,
                           "invalid remoteAddr \"%s\": missing ']' in "
                           "address",
                           in);
        n = (size_t)(close - s - 1);
        colon = close[1] == ':' ? close + 1 : NULL;
        s++;
    } else {
        colon = strchr(s, ':');
        if (colon != NULL && strchr(colon + 1, ':') != NULL)
            return err_set(err, ERR_INVALID,
                           "invalid remoteAddr \"%s\": too many colons in "
                           "address (write an IPv6 address as [ip]:port)",
                           in);
        n = colon ? (size_t)(colon - s) : strlen(s);
    }
    if (n >= sizeof(op->host) || strchr(s, '/') != NULL)
        return err_set(err, ERR_INVALID,
                       "invalid remoteAddr \"%s\": not a host[:port] address",
                       in);
    memcpy(op->host, s, n);
    op->host[n] = '\0';
    if (op->host[0] == '\0')
        snprintf(op->host, sizeof(op->host), "0.0.0.0");
    if (colon == NULL || colon[1] == '\0')
        snprintf(op->port, sizeof(op->port), CLUSTER_JOIN__DEFAULT_PORT);
    else if (strlen(colon + 1) < sizeof(op->port) &&
             cluster_join_port_ok(colon + 1))
        snprintf(op->port, sizeof(op->port), "%s", colon + 1);
    else
        return err_set(err, ERR_INVALID,
                       "invalid remoteAddr \"%s\": invalid port \"%s\"", in,
                       colon + 1);
    snprintf(op->remote, sizeof(op->remote),
             strchr(op->host, ':') ? "[%s]:%s" : "%s:%s", op->host,
             op->port);
    return 0;
}

/* Bind the listen address for a moment, so that a busy port fails the
 * join before a manager admits this node (a manager that cannot listen
 * would be a dead Raft voter in the swarm). Workers do not listen, but the
 * role is known only from the answer. */
static int cluster_join_probe_listen(const char *addr, struct err *err)
{
    struct sockaddr_storage ss;
    char host[64];
    const char *colon = strrchr(addr, ':');
    size_t n = colon ? (size_t)(colon - addr) : 0;
    int port = colon ? atoi(colon + 1) : 0;
    int one = 1;
    int fd;
    int rv = 0;

    if (n >= sizeof(host))
        n = sizeof(host) - 1;
    memcpy(host, addr, n);
    host[n] = '\0';
    if (host[0] == '[') {
        memmove(host, host + 1, strlen(host));
        host[strcspn(host, "]")] = '\0';
    }
    memset(&ss, 0, sizeof(ss));
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0)
        return 0; /* cluster_port_start will say what is wrong */
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    /* libuv sets SO_REUSEADDR on TCP listeners: probe the same way. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss,
             ss.ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                     : sizeof(struct sockaddr_in6)) != 0) {
        char why[128];

        snprintf(why, sizeof(why), "%s", strerror(errno));
        why[0] = (char)tolower((unsigned char)why[0]);
        rv = err_set(err, ERR_UNAVAILABLE,
                     "failed to listen on remote API address: listen tcp "
                     "%s: bind: %s",
                     addr, why);
    }
    close(fd);
    return rv;
}

static bool cluster_join_is_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, host, buf) == 1 ||
           inet_pton(AF_INET6, host, buf) == 1;
}

int cluster_join(struct cluster *c, const json_t *req, cluster_done_cb cb,
                 void *data, struct err *err)
{
    struct cluster_join_op *op = NULL;
    json_t *remotes;
    const char *avail;
    const char *token;
    int rv;

    if (c->state != CLUSTER_INACTIVE)
        return err_set(err, ERR_UNAVAILABLE, "%s", cluster_join_msg_in_swarm);
    if (cluster_join_find(c) != NULL)
        return err_set(err, ERR_UNAVAILABLE,
                       "a canceled join is still closing its connections; "
                       "try again in a moment");
    if (req == NULL)
        return err_set(err, ERR_INVALID, "missing JoinRequest body");
    rv = cluster_join_check(req, err);
    if (rv != 0)
        return rv;
    remotes = json_object_get(req, "RemoteAddrs");
    if (json_array_size(remotes) == 0)
        return err_set(err, ERR_INVALID,
                       "at least 1 RemoteAddr is required to join");
    avail = json_string_value(json_object_get(req, "Availability"));
    if (avail != NULL && avail[0] != '\0' && strcmp(avail, "active") != 0 &&
        strcmp(avail, "pause") != 0 && strcmp(avail, "drain") != 0)
        return err_set(err, ERR_INVALID, "invalid Availability: \"%s\"",
                       avail);

    op = xcalloc(1, sizeof(*op));
    op->c = c;
    op->cb = cb;
    op->data = data;
    rv = cluster_join_parse_remote(
        op, json_string_value(json_array_get(remotes, 0)), err);
    if (rv != 0)
        goto err_after_op;
    rv = cluster_addr_resolve(
        json_string_value(json_object_get(req, "ListenAddr")),
        json_string_value(json_object_get(req, "AdvertiseAddr")),
        c->listen_addr, sizeof(c->listen_addr), c->advertise_addr,
        sizeof(c->advertise_addr), c->advertise_ip, sizeof(c->advertise_ip),
        err);
    if (rv != 0)
        goto err_after_addr;
    rv = cluster_join_probe_listen(c->listen_addr, err);
    if (rv != 0)
        goto err_after_addr;
    token = json_string_value(json_object_get(req, "JoinToken"));
    if (ca_token_parse(token ? token : "", op->digest, err) != 0) {
        rv = err_set(err, ERR_INTERNAL, "invalid join token");
        goto err_after_addr;
    }
    op->token = xstrdup(token);
    snprintf(op->avail, sizeof(op->avail), "%s",
             avail && avail[0] ? avail : "active");

    /* From here on the answer goes through cb. */
    c->state = CLUSTER_PENDING;
    c->error[0] = '\0';
    /* Sent always: the role is known only from the answer, and a worker's
     * is ignored by the manager (then reset to 0). */
    c->raft_id = ids_random_u64() >> 1;
    if (c->raft_id == 0)
        c->raft_id = 1;
    op->deadline = uv_now(c->loop) + CLUSTER_JOIN__DEADLINE_MS;
    uv_timer_init(c->loop, &op->timer);
    op->timer.data = op;
    op->timer_open = true;
    op->next = cluster_join_ops;
    cluster_join_ops = op;
    log_info(LOG_CLUSTER, "joining the swarm through %s", op->remote);
    /* The key and CSR are made meanwhile: they do not depend on the
     * swarm. */
    op->keygen.data = op;
    if (uv_queue_work(c->loop, &op->keygen, cluster_join_keygen_work,
                      cluster_join_keygen_done) == 0) {
        op->keygen_busy = true;
    } else {
        struct err e;

        err_set(&e, ERR_INTERNAL, "cannot queue the node key's creation");
        cluster_join_finish(op, -ERR_INTERNAL, &e);
        return 0;
    }
    if (cluster_join_is_literal(op->host)) {
        snprintf(op->dial_addr, sizeof(op->dial_addr), "%s", op->remote);
        op->phase = CLUSTER_JOIN_ROOT;
        cluster_join_dial(op);
        return 0;
    }
    {
        struct addrinfo hints;

        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        op->phase = CLUSTER_JOIN_RESOLVE;
        op->gai.data = op;
        rv = uv_getaddrinfo(c->loop, &op->gai, cluster_join_on_resolved,
                            op->host, op->port, &hints);
        if (rv != 0) {
            struct err e;

            err_set(&e, ERR_UNAVAILABLE, "lookup %s: %s", op->host,
                    uv_strerror(rv));
            cluster_join_fail_unreachable(op, &e);
            return 0;
        }
        op->gai_busy = true;
    }
    return 0;

err_after_addr:
    memset(c->listen_addr, 0, sizeof(c->listen_addr));
    memset(c->advertise_addr, 0, sizeof(c->advertise_addr));
    memset(c->advertise_ip, 0, sizeof(c->advertise_ip));
err_after_op:
    free(op);
    return rv;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The node's swarm state: lifecycle, restore at start, manager start/stop,
 * proposals. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/mem.h"
#include "cluster/cluster_int.h"
#include "manager/ca/ca.h"
#include "manager/consensus/consensus.h"
#include "manager/dispatcher/dispatcher.h"
#include "manager/orchestrator/orch_loop.h"
#include "manager/store/store.h"
#include "version.h"

#define CLUSTER__STATE_MAX (1u << 20)
#define CLUSTER__PEM_MAX (1u << 20)

static const char cluster_msg_not_manager[] =
    "This node is not a swarm manager. Use \"docker swarm init\" or "
    "\"docker swarm join\" to connect this node to swarm and try again.";
static const char cluster_msg_preparing[] =
    "This node is not a swarm manager. Manager is being prepared or has "
    "trouble connecting to the cluster.";
static const char cluster_msg_worker[] =
    "This node is not a swarm manager. Worker nodes can't be used to view or "
    "modify cluster state. Please run this command on a manager node or "
    "promote the current node to a manager.";
static const char cluster_msg_locked[] =
    "Swarm is encrypted and needs to be unlocked before it can be used. "
    "Please use \"docker swarm unlock\" to unlock it.";

int cluster_paths(struct cluster *c, const char *name, char *out,
                  size_t out_len)
{
    size_t d = strlen(c->swarm_dir);
    size_t n = strlen(name);

    if (d + 1 + n + 1 > out_len)
        return -1;
    memcpy(out, c->swarm_dir, d);
    out[d] = '/';
    memcpy(out + d + 1, name, n + 1);
    return 0;
}

const char *cluster_state_name(enum cluster_state s)
{
    switch (s) {
    case CLUSTER_INACTIVE: return "inactive";
    case CLUSTER_PENDING: return "pending";
    case CLUSTER_ACTIVE: return "active";
    case CLUSTER_ERROR: return "error";
    case CLUSTER_LOCKED: return "locked";
    }
    return "error";
}

enum cluster_state cluster_state(const struct cluster *c)
{
    return c->state;
}

const char *cluster_ping_state(const struct cluster *c)
{
    if (c->state == CLUSTER_ACTIVE)
        return c->consensus ? "active/manager" : "active/worker";
    return cluster_state_name(c->state);
}

const char *cluster_error(const struct cluster *c)
{
    return c->error;
}

const char *cluster_node_id(const struct cluster *c)
{
    return c->node_id;
}

const char *cluster_node_addr(const struct cluster *c)
{
    return c->advertise_ip;
}

const char *cluster_data_root(const struct cluster *c)
{
    return c->data_root;
}

const char *cluster_advertise_addr(const struct cluster *c)
{
    return c->advertise_addr;
}

bool cluster_awaiting_leader(const struct cluster *c)
{
    return c->state == CLUSTER_PENDING && c->pending != NULL &&
           c->pending->cb == NULL && !c->pending->proposed;
}

bool cluster_is_manager(const struct cluster *c)
{
    return c->state == CLUSTER_ACTIVE && c->consensus != NULL;
}

uint64_t cluster_leader_raft_id(const struct cluster *c)
{
    return c->consensus ? consensus_leader_id(c->consensus) : 0;
}

uint64_t cluster_raft_id(const struct cluster *c)
{
    return c->raft_id;
}

const struct store *cluster_manager_store(const struct cluster *c,
                                          struct err *err)
{
    switch (c->state) {
    case CLUSTER_ACTIVE:
        if (c->consensus == NULL) {
            err_set(err, ERR_UNAVAILABLE, "%s", cluster_msg_worker);
            return NULL;
        }
        if (consensus_leader_id(c->consensus) != 0 &&
            (!consensus_is_leader(c->consensus) || c->leader_ready))
            return c->store;
        err_set(err, ERR_UNAVAILABLE, "%s", cluster_msg_preparing);
        return NULL;
    case CLUSTER_LOCKED:
        err_set(err, ERR_UNAVAILABLE, "%s", cluster_msg_locked);
        return NULL;
    case CLUSTER_PENDING:
        err_set(err, ERR_UNAVAILABLE, "%s", cluster_msg_preparing);
        return NULL;
    case CLUSTER_ERROR:
    case CLUSTER_INACTIVE:
        break;
    }
    err_set(err, ERR_UNAVAILABLE, "%s", cluster_msg_not_manager);
    return NULL;
}

/* --- node description --------------------------------------------------- */

uint64_t cluster_raft_term(const struct cluster *c)
{
    return c->consensus ? consensus_term(c->consensus) : 0;
}

bool cluster_is_leader(const struct cluster *c)
{
    return c->consensus != NULL && consensus_is_leader(c->consensus);
}

const struct store *cluster_local_store(const struct cluster *c)
{
    return c->consensus != NULL ? c->store : NULL;
}

const char *cluster_member_reachability(const struct cluster *c,
                                        uint64_t raft_id)
{
    struct consensus_member *m = NULL;
    const char *r = "unknown";
    size_t n = 0;
    size_t i;

    if (raft_id == c->raft_id)
        return "reachable";
    if (c->consensus == NULL ||
        consensus_members(c->consensus, &m, &n, NULL) != 0)
        return r;
    for (i = 0; i < n; i++) {
        if (m[i].id != raft_id)
            continue;
        if (consensus_is_leader(c->consensus))
            r = m[i].reachable ? "reachable" : "unreachable";
        else
            r = m[i].connected ? "reachable" : "unreachable";
    }
    free(m);
    return r;
}

json_t *cluster_remote_managers(const struct cluster *c)
{
    return c->remote_managers;
}

json_t *cluster_node_description(const struct cluster *c,
                                 const char *root_pem)
{
    char host[256] = "";
    struct utsname u;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    long pages = sysconf(_SC_PHYS_PAGES);
    long psize = sysconf(_SC_PAGESIZE);
    char *subj = NULL;
    char *pub = NULL;
    json_t *d;

    if (c->hostname[0] != '\0')
        snprintf(host, sizeof(host), "%s", c->hostname);
    else
        gethostname(host, sizeof(host) - 1);
    if (uname(&u) == -1)
        snprintf(u.machine, sizeof(u.machine), "unknown");
    if (ca_tls_info(root_pem, &subj, &pub, NULL) != 0) {
        subj = xstrdup("");
        pub = xstrdup("");
    }
    /* Engine.Labels and Engine.Plugins are omitempty in Docker's types. */
    d = json_pack("{s:s, s:{s:s, s:s}, s:{s:I, s:I}, s:{s:s},"
                  " s:{s:s, s:s, s:s}}",
                  "Hostname", host, "Platform", "Architecture", u.machine,
                  "OS", "linux", "Resources", "NanoCPUs",
                  (json_int_t)(ncpu > 0 ? ncpu : 1) * 1000000000LL,
                  "MemoryBytes",
                  (json_int_t)(pages > 0 && psize > 0 ? pages * psize : 0),
                  "Engine", "EngineVersion", SHOAL_VERSION, "TLSInfo", "TrustRoot", root_pem,
                  "CertIssuerSubject", subj, "CertIssuerPublicKey", pub);
    free(subj);
    free(pub);
    return d;
}

/* --- the manager: store + consensus ------------------------------------- */

/* The managers in the store: [{"NodeID","Addr","RaftID"}]. */
static json_t *cluster_store_managers(const struct store *s)
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

/* Keep swarm/state.json (Docker's list of known managers) in step with the
 * store, so that a restarted manager can tell its peers' certificates to
 * Raft IDs before the leader has resent the log. */
static void cluster_sync_managers(struct cluster *c)
{
    char path[PATH_MAX];
    struct err err;
    json_t *m = cluster_store_managers(c->store);
    char *text;

    if (json_array_size(m) == 0 || json_equal(m, c->remote_managers)) {
        json_decref(m);
        return;
    }
    json_decref(c->remote_managers);
    c->remote_managers = m;
    text = json_dumps(m, JSON_COMPACT);
    err_clear(&err);
    if (cluster_paths(c, "state.json", path, sizeof(path)) != 0 ||
        fsutil_write_atomic(path, text, strlen(text), 0600, &err) != 0)
        log_error(LOG_CLUSTER, "save the manager list: %s", err.msg);
    free(text);
}

/* Applied changes reach the components that watch the store (the
 * dispatcher, while it exists). */
static void cluster_on_store_change(void *data, enum store_kind k,
                                    const char *id, const json_t *old,
                                    const json_t *cur)
{
    struct cluster *c = data;

    if (c->dispatcher != NULL)
        dispatcher_store_changed(c->dispatcher, k, id, old, cur);
    if (c->orch != NULL)
        orch_loop_store_changed(c->orch, k, id, old, cur);
}

static int cluster_fsm_apply(void *data, uint64_t index, const void *buf,
                             size_t len, struct err *err)
{
    struct cluster *c = data;
    int rv = store_apply(c->store, index, buf, len, err);

    if (rv == 0) {
        cluster_sync_managers(c);
        cluster_lock_sync(c);
    }
    cluster_join_progress(c);
    return rv;
}

static int cluster_fsm_snapshot(void *data, void **out_buf, size_t *out_len,
                                struct err *err)
{
    struct cluster *c = data;

    UNUSED(err);
    *out_buf = store_snapshot(c->store, out_len);
    return 0;
}

static int cluster_fsm_restore(void *data, const void *buf, size_t len,
                               struct err *err)
{
    struct cluster *c = data;
    int rv = store_restore(c->store, buf, len, err);

    if (rv == 0) {
        cluster_sync_managers(c);
        cluster_lock_sync(c);
    }
    cluster_join_progress(c);
    return rv;
}

/* One cluster_propose: its entries (more than one when the list is longer
 * than an entry may be) and the caller's callback, fired once the last
 * entry is in. */
struct cluster_propose_op
{
    struct cluster *c;
    cluster_done_cb cb;
    void *data;
    size_t n_left;                /* entries not yet applied or refused */
    int status;                   /* the first entry's error, or 0 */
    struct err err;
};

struct cluster_propose_entry
{
    struct consensus_propose_req req;
    struct cluster_propose_op *op;
};

/* Raft's leadership errors reach users as Docker shows swarmkit's: a
 * plain gRPC error (code Unknown, HTTP 500) around raft's text. */
static int cluster_docker_err(struct err *err, int status)
{
    char msg[ERR_MSG_LEN];

    if (status != -ERR_NOTLEADER && status != -ERR_NOQUORUM)
        return status;
    snprintf(msg, sizeof(msg), "%s", err->msg);
    return err_set(err, ERR_INTERNAL, "rpc error: code = Unknown desc = %s",
                   msg);
}

static void cluster_propose_done(struct cluster_propose_op *op)
{
    if (--op->n_left > 0)
        return;
    if (op->cb != NULL)
        op->cb(op->data, op->status, &op->err, NULL);
    free(op);
}

static void cluster_on_proposed(struct consensus_propose_req *req, int status)
{
    struct cluster_propose_entry *e = req->data;
    struct cluster_propose_op *op = e->op;

    op->c->n_inflight--;
    status = cluster_docker_err(&req->err, status);
    if (status != 0 && op->status == 0) {
        op->status = status;
        op->err = req->err;
    }
    free(e);
    cluster_propose_done(op);
}

/* Propose actions[from, from + n) as one entry of op. */
static int cluster_propose_entry(struct cluster_propose_op *op,
                                 const json_t *actions, size_t from,
                                 size_t n, struct err *err)
{
    struct cluster_propose_entry *e;
    json_t *part = json_array();
    char *payload;
    size_t len;
    size_t i;
    int rv;

    for (i = from; i < from + n; i++)
        json_array_append(part, json_array_get(actions, i));
    payload = store_entry_encode(part, &len);
    e = xcalloc(1, sizeof(*e));
    e->op = op;
    e->req.data = e;
    rv = consensus_propose(op->c->consensus, &e->req, payload, len,
                           cluster_on_proposed, err);
    free(payload);
    if (rv != 0) {
        free(e);
        return cluster_docker_err(err, rv);
    }
    op->c->n_inflight++;
    return 0;
}

/*
 * A list longer than one entry may hold goes as consecutive entries of
 * STORE_MAX_ACTIONS, proposed together (raft appends them in one write)
 * and applied in order, each all or nothing; cb fires once, after the
 * last, with the first refusal. Callers that need one atomic write keep
 * their lists within one entry.
 */
int cluster_propose(struct cluster *c, json_t *actions, cluster_done_cb cb,
                    void *data, struct err *err)
{
    struct cluster_propose_op *op;
    size_t total = json_array_size(actions);
    size_t from = 0;
    int rv = 0;

    if (c->consensus == NULL) {
        json_decref(actions);
        return err_set(err, ERR_UNAVAILABLE, "%s", cluster_msg_not_manager);
    }
    op = xcalloc(1, sizeof(*op));
    op->c = c;
    op->cb = cb;
    op->data = data;
    op->n_left = 1;               /* held until every entry is proposed */
    err_clear(&op->err);
    do {
        size_t n = total - from < STORE_MAX_ACTIONS ? total - from
                                                    : STORE_MAX_ACTIONS;

        op->n_left++;
        rv = cluster_propose_entry(op, actions, from, n, err);
        if (rv != 0) {
            op->n_left--;
            break;
        }
        from += n;
    } while (from < total);
    json_decref(actions);
    if (rv != 0 && from == 0) {
        /* Nothing is in: the caller hears of it from the return only. */
        free(op);
        return rv;
    }
    if (rv != 0 && op->status == 0) {
        /* The first entries are in; the callback reports the rest. */
        op->status = rv;
        op->err = *err;
    }
    cluster_propose_done(op);
    return 0;
}

/* The first entry this leader commits: an init's objects, or an empty
 * barrier after a restart (once it applies, every earlier entry has). */
static void cluster_on_first_entry(void *data, int status,
                                   const struct err *err, json_t *result)
{
    struct cluster *c = data;
    struct cluster_pending *p = c->pending;

    UNUSED(result);
    c->pending = NULL;
    if (status == 0)
        c->leader_ready = true;
    if (status == 0 && p->cb == NULL)
        c->state = CLUSTER_ACTIVE;
    if (status != 0 && p->cb == NULL) {
        log_error(LOG_CLUSTER, "manager start: %s", err->msg);
        c->state = CLUSTER_ERROR;
        snprintf(c->error, sizeof(c->error), "%s", err->msg);
    }
    if (p->cb != NULL)
        p->cb(p->data, status, err, NULL);
    free(p);
}

struct cluster_barrier
{
    struct consensus_op_req op;
    struct cluster *c;
};

static void cluster_on_barrier(struct consensus_op_req *op, int status)
{
    struct cluster_barrier *b = op->data;

    /* Every entry of earlier terms is applied: reads are the leader's. */
    if (status == 0)
        b->c->leader_ready = true;
    else
        log_warn(LOG_CLUSTER, "leader barrier: %s", op->err.msg);
    free(b);
}

static void cluster_on_leader(struct consensus *cons, void *data)
{
    struct cluster *c = data;
    struct cluster_pending *p = c->pending;
    struct err err;

    cluster_port_leader_changed(c);
    dispatcher_leader_changed(c->dispatcher);
    orch_loop_leader_changed(c->orch);
    cluster_join_progress(c);
    if (!consensus_is_leader(cons)) {
        c->leader_ready = false;
        if (c->state == CLUSTER_PENDING && p != NULL && p->cb == NULL &&
            !p->proposed && consensus_leader_id(cons) != 0) {
            /* A restored manager that follows: the leader serves the
             * reads (forwarded) while this store catches up; should this
             * node lead later, it commits a barrier then. */
            json_decref(p->actions);
            free(p);
            c->pending = NULL;
            c->state = CLUSTER_ACTIVE;
        }
        return;
    }
    if (p == NULL && !c->leader_ready) {
        struct cluster_barrier *b = xcalloc(1, sizeof(*b));

        b->c = c;
        b->op.data = b;
        err_clear(&err);
        if (consensus_barrier(cons, &b->op, cluster_on_barrier, &err) != 0) {
            log_warn(LOG_CLUSTER, "leader barrier: %s", err.msg);
            free(b);
        }
        return;
    }
    if (p == NULL || p->proposed)
        return;
    p->proposed = true;
    err_clear(&err);
    if (p->build != NULL)
        p->actions = p->build(c);
    if (cluster_propose(c, p->actions, cluster_on_first_entry, c, &err) !=
        0) {
        p->actions = NULL;
        cluster_on_first_entry(c, -err.code, &err, NULL);
        return;
    }
    p->actions = NULL;
    log_debug(LOG_CLUSTER, "leader: first entry proposed");
}

int cluster_manager_start(struct cluster *c, bool bootstrap, struct err *err)
{
    static const struct consensus_fsm fsm_ops = {
        .apply = cluster_fsm_apply,
        .snapshot = cluster_fsm_snapshot,
        .restore = cluster_fsm_restore,
    };
    struct consensus_fsm fsm = fsm_ops;
    struct consensus_config cfg;
    char raft_dir[PATH_MAX];
    int rv;

    if (cluster_paths(c, "raft", raft_dir, sizeof(raft_dir)) != 0)
        return err_set(err, ERR_IO, "data root path too long");
    fsm.data = c;
    memset(&cfg, 0, sizeof(cfg));
    cfg.dir = raft_dir;
    cfg.id = c->raft_id;
    cfg.address = c->advertise_addr;
    cfg.dek = c->has_dek ? c->dek : NULL;
    c->store = store_new();
    store_watch(c->store, cluster_on_store_change, c);
    c->consensus = consensus_new(c->loop, &cfg, &fsm, err);
    if (c->consensus == NULL)
        goto err_after_store;
    consensus_set_leader_cb(c->consensus, cluster_on_leader, c);
    cluster_port_attach(c);
    rv = bootstrap ? consensus_bootstrap(c->consensus, err) : 0;
    if (rv == 0 && c->recover)
        rv = consensus_recover(c->consensus, err);
    if (rv == 0)
        rv = consensus_start(c->consensus, err);
    if (rv != 0) {
        consensus_close(c->consensus, NULL, NULL);
        c->consensus = NULL;
        goto err_after_store;
    }
    if (consensus_is_leader(c->consensus))
        cluster_on_leader(c->consensus, c);
    return 0;

err_after_store:
    store_free(c->store);
    c->store = NULL;
    return -err->code;
}

struct cluster_stop
{
    struct cluster *c;
    void (*cb)(void *data);
    void *data;
};

static void cluster_on_consensus_closed(void *data)
{
    struct cluster_stop *st = data;

    store_free(st->c->store);
    st->c->store = NULL;
    st->c->stopping = false;
    st->c->leader_ready = false;
    if (st->cb != NULL)
        st->cb(st->data);
    free(st);
}

void cluster_manager_stop(struct cluster *c, void (*cb)(void *data),
                          void *data)
{
    struct cluster_stop *st = xcalloc(1, sizeof(*st));
    struct cluster_pending *p = c->pending;
    struct consensus *cons = c->consensus;

    st->c = c;
    st->cb = cb;
    st->data = data;
    c->stopping = true;
    if (p != NULL && !p->proposed) {
        struct err err;

        c->pending = NULL;
        err_set(&err, ERR_CANCELED, "the node stopped before it led");
        json_decref(p->actions);
        if (p->cb != NULL)
            p->cb(p->data, -ERR_CANCELED, &err, NULL);
        free(p);
    }
    c->consensus = NULL;
    dispatcher_leader_changed(c->dispatcher);
    orch_loop_leader_changed(c->orch);
    if (cons == NULL) {
        cluster_on_consensus_closed(st);
        return;
    }
    consensus_close(cons, cluster_on_consensus_closed, st);
}

char *cluster_state_text(const struct cluster *c, const json_t *extra)
{
    char raft_id[32];
    json_t *st;
    char *text;

    st = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s}", "LocalAddr", "",
                   "RemoteAddr", "", "ListenAddr", c->listen_addr,
                   "AdvertiseAddr", c->advertise_addr, "DataPathAddr", "",
                   "JoinInProgress", 0, "RaftID", "");
    snprintf(raft_id, sizeof(raft_id), "%" PRIu64, c->raft_id);
    json_object_set_new(st, "RaftID", json_string(raft_id));
    if (extra != NULL)
        json_object_update(st, (json_t *)extra);
    text = json_dumps(st, JSON_COMPACT);
    json_decref(st);
    return text;
}

int cluster_save_state(struct cluster *c, const json_t *extra,
                       struct err *err)
{
    char path[PATH_MAX];
    char *text;
    int rv;

    if (cluster_paths(c, "docker-state.json", path, sizeof(path)) != 0)
        return err_set(err, ERR_IO, "data root path too long");
    text = cluster_state_text(c, extra);
    rv = fsutil_write_atomic(path, text, strlen(text), 0600, err);
    free(text);
    return rv;
}

/* --- open, restore, close ----------------------------------------------- */

static void cluster_fail(struct cluster *c, const char *prefix,
                         const char *msg)
{
    size_t p = strlen(prefix);

    c->state = CLUSTER_ERROR;
    if (p >= sizeof(c->error))
        p = sizeof(c->error) - 1;
    memcpy(c->error, prefix, p);
    c->error[p] = '\0';
    /* The reason is cut to fit, on purpose. */
    strncat(c->error, msg, sizeof(c->error) - p - 1);
    log_error(LOG_CLUSTER, "%s", c->error);
}

/* Bring back the swarm found under swarm/: identity from the node
 * certificate, addresses from docker-state.json, the store from Raft. */
void cluster_restore(struct cluster *c)
{
    char path[PATH_MAX];
    struct ca_cert_info info;
    struct err err;
    json_error_t jerr;
    json_t *st = NULL;
    char *cert = NULL;
    char *key = NULL;
    char *text = NULL;
    const char *v;

    err_clear(&err);
    cluster_paths(c, "docker-state.json", path, sizeof(path));
    if (fsutil_read_all(path, CLUSTER__STATE_MAX, &text, NULL, &err) != 0)
        goto fail;
    st = json_loads(text, 0, &jerr);
    if (!json_is_object(st)) {
        err_set(&err, ERR_INVALID, "%s: %s", path, jerr.text);
        goto fail;
    }
    v = json_string_value(json_object_get(st, "ListenAddr"));
    snprintf(c->listen_addr, sizeof(c->listen_addr), "%s", v ? v : "");
    v = json_string_value(json_object_get(st, "AdvertiseAddr"));
    snprintf(c->advertise_addr, sizeof(c->advertise_addr), "%s", v ? v : "");
    v = json_string_value(json_object_get(st, "RaftID"));
    c->raft_id = v ? strtoull(v, NULL, 10) : 0;
    if (c->advertise_addr[0] == '\0') {
        err_set(&err, ERR_INVALID, "%s: missing AdvertiseAddr",
                path);
        goto fail;
    }
    {
        const char *colon = strrchr(c->advertise_addr, ':');
        size_t n = colon ? (size_t)(colon - c->advertise_addr) : 0;

        if (n >= sizeof(c->advertise_ip))
            n = sizeof(c->advertise_ip) - 1;
        memcpy(c->advertise_ip, c->advertise_addr, n);
        c->advertise_ip[n] = '\0';
    }
    cluster_paths(c, "certificates/swarm-node.crt", path, sizeof(path));
    if (fsutil_read_all(path, CLUSTER__PEM_MAX, &cert, NULL, &err) != 0)
        goto fail;
    cluster_paths(c, "certificates/swarm-node.key", path, sizeof(path));
    if (fsutil_read_all(path, CLUSTER__PEM_MAX, &key, NULL, &err) != 0)
        goto fail;
    if (ca_cert_info(cert, &info, &err) != 0)
        goto fail;
    if (ca_kek_is_locked(key) && !c->has_kek) {
        /* Docker: the manager waits for `swarm unlock`. */
        memcpy(c->node_id, info.cn, sizeof(c->node_id));
        memcpy(c->cluster_id, info.o, sizeof(c->cluster_id));
        c->state = CLUSTER_LOCKED;
        log_info(LOG_CLUSTER, "swarm is locked: node %s waits for its "
                 "unlock key", c->node_id);
        goto out;
    }
    {
        char *clear = NULL;

        if (cluster_lock_load(c, key, strcmp(info.ou, CA_ROLE_MANAGER) == 0,
                              &clear, &err) != 0)
            goto fail;
        free(key);
        key = clear;
    }
    if (!ca_key_matches(cert, key)) {
        err_set(&err, ERR_INVALID,
                "the node key does not match its certificate");
        goto fail;
    }
    if (!ids_is_valid(info.cn) || !ids_is_valid(info.o)) {
        err_set(&err, ERR_INVALID, "the node certificate names no swarm "
                                   "node (CN %s, O %s)", info.cn, info.o);
        goto fail;
    }
    if (info.not_after < (int64_t)time(NULL)) {
        cluster_fail(c, "",
                     "Swarm certificates have expired. To replace them, "
                     "leave the swarm and join again.");
        goto out;
    }
    memcpy(c->node_id, info.cn, sizeof(c->node_id));
    memcpy(c->cluster_id, info.o, sizeof(c->cluster_id));
    json_decref(c->remote_managers);
    c->remote_managers = NULL;
    if (json_is_array(json_object_get(st, "Managers")))
        c->remote_managers = json_incref(json_object_get(st, "Managers"));
    {
        char *known = NULL;
        json_t *list;

        /* state.json is newer than what the join left in docker-state. */
        cluster_paths(c, "state.json", path, sizeof(path));
        if (fsutil_read_all(path, CLUSTER__STATE_MAX, &known, NULL, NULL) ==
            0) {
            list = json_loads(known, 0, NULL);
            if (json_is_array(list)) {
                json_decref(c->remote_managers);
                c->remote_managers = list;
            } else {
                json_decref(list);
            }
            free(known);
        }
    }
    if (strcmp(info.ou, "swarm-worker") == 0) {
        c->state = CLUSTER_ACTIVE;
        /* Managers reach workers too (agent.logs); not fatal. */
        if (cluster_port_start(c, &err) != 0)
            log_error(LOG_CLUSTER, "%s", err.msg);
        log_info(LOG_CLUSTER, "swarm restored: worker %s in cluster %s",
                 c->node_id, c->cluster_id);
        goto out;
    }
    if (strcmp(info.ou, "swarm-manager") != 0) {
        err_set(&err, ERR_INVALID, "node certificate role %s is unknown",
                info.ou);
        goto fail;
    }
    if (c->raft_id == 0) {
        err_set(&err, ERR_INVALID, "docker-state.json: missing RaftID");
        goto fail;
    }
    c->state = CLUSTER_PENDING;
    c->pending = xcalloc(1, sizeof(*c->pending));
    c->pending->actions = json_array();
    if (cluster_manager_start(c, false, &err) != 0) {
        json_decref(c->pending->actions);
        free(c->pending);
        c->pending = NULL;
        goto fail;
    }
    if (cluster_port_start(c, &err) != 0)
        log_error(LOG_CLUSTER, "%s", err.msg);
    log_info(LOG_CLUSTER, "swarm restored: node %s in cluster %s",
             c->node_id, c->cluster_id);
    goto out;

fail:
    cluster_fail(c, "swarm state could not be restored: ", err.msg);
out:
    json_decref(st);
    free(text);
    free(cert);
    free(key);
}

void cluster_set_task_engine(struct cluster *c,
                             const struct agent_exec_ops *ops, void *data)
{
    agent_set_exec(c->agent, ops, data);
}

void cluster_set_engine(struct cluster *c, struct engine *e)
{
    c->engine = e;
}

void cluster_set_hostname(struct cluster *c, const char *name)
{
    snprintf(c->hostname, sizeof(c->hostname), "%s", name ? name : "");
}

struct cluster *cluster_new(uv_loop_t *loop, const char *data_root,
                            struct err *err)
{
    struct cluster *c = xcalloc(1, sizeof(*c));
    char state[PATH_MAX];
    char cert[PATH_MAX];

    c->loop = loop;
    if (snprintf(c->data_root, sizeof(c->data_root), "%s", data_root) >=
            (int)sizeof(c->data_root) ||
        snprintf(c->swarm_dir, sizeof(c->swarm_dir), "%s/swarm",
                 data_root) >= (int)sizeof(c->swarm_dir)) {
        free(c);
        err_set(err, ERR_INVALID, "data root path too long: %s", data_root);
        return NULL;
    }
    if (fsutil_mkdir_p(c->swarm_dir, 0700, err) != 0) {
        free(c);
        return NULL;
    }
    c->state = CLUSTER_INACTIVE;
    cluster_paths(c, "docker-state.json", state, sizeof(state));
    cluster_paths(c, "certificates/swarm-node.crt", cert, sizeof(cert));
    /* Docker restores only when both exist, and wipes anything else (an
     * init or join that never completed). */
    if (fsutil_exists(state) && fsutil_exists(cert)) {
        cluster_restore(c);
    } else if (fsutil_empty_dir(c->swarm_dir, err) != 0) {
        free(c);
        return NULL;
    }
    c->dispatcher = dispatcher_new_cluster(loop, c);
    dispatcher_leader_changed(c->dispatcher);
    c->orch = orch_loop_new_cluster(loop, c);
    orch_loop_leader_changed(c->orch);
    c->agent = agent_new(loop, c);
    return c;
}

static void cluster_on_closed(void *data)
{
    struct cluster *c = data;
    void (*cb)(void *) = c->close_cb;
    void *cb_data = c->close_data;

    json_decref(c->remote_managers);
    free(c);
    if (cb != NULL)
        cb(cb_data);
}

static void cluster_on_port_closed(void *data)
{
    struct cluster *c = data;

    cluster_manager_stop(c, cluster_on_closed, c);
}

static void cluster_on_join_aborted(void *data)
{
    struct cluster *c = data;

    cluster_port_stop(c, cluster_on_port_closed, c);
}

static void cluster_on_dispatcher_closed(void *data)
{
    struct cluster *c = data;

    c->dispatcher = NULL;
    cluster_join_abort(c, cluster_on_join_aborted, c);
}

static void cluster_on_orch_closed(void *data)
{
    struct cluster *c = data;

    c->orch = NULL;
    dispatcher_close(c->dispatcher, cluster_on_dispatcher_closed, c);
}

static void cluster_on_agent_closed(void *data)
{
    struct cluster *c = data;

    c->agent = NULL;
    orch_loop_close(c->orch, cluster_on_orch_closed, c);
}

void cluster_close(struct cluster *c, void (*cb)(void *data), void *data)
{
    c->close_cb = cb;
    c->close_data = data;
    if (c->role_op != NULL) {
        c->close_deferred = true; /* cluster_role_apply calls us again */
        return;
    }
    /* The agent and the dispatcher first: no heartbeat or status write
     * starts while the rest closes. */
    agent_close(c->agent, cluster_on_agent_closed, c);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The node side of liveness: the heartbeat loop (see agent.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/agent.h"
#include "agent/agent_exec.h"
#include "base/compiler.h"
#include "base/fsutil.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/rpc.h"
#include "base/tls_ctx.h"
#include "manager/ca/ca.h"

#define AGENT__PEM_MAX (1u << 20)
#define AGENT__RETRY_CERTS_MS 1000u

static const char agent_alpn[] = "shoal-rpc";

struct agent_conn;

/* A TLS dial for one client. */
struct agent_dial
{
    struct tls_stream_dial_req req;
    struct agent_conn *conn;
};

/* The client to one manager. */
struct agent_conn
{
    struct rpc_client client;     /* client.data = this */
    struct agent *a;
    struct agent_dial *dial;      /* outstanding dial, or NULL */
    char addr[128];
};

struct agent
{
    uv_loop_t *loop;
    struct cluster *c;
    uv_timer_t timer;             /* next heartbeat, back-off, idle poll */
    struct tls_ctx *tls;          /* owned: client ctx with our certificate */
    struct agent_conn *conn;      /* owned: client to the current manager */
    struct rpc_call call;
    bool busy;                    /* call in flight */
    char node_id[IDS_LEN + 1];    /* the session's node ("" = none) */
    char session_id[IDS_LEN + 1];
    json_t *managers;             /* owned: from the last answer, or NULL */
    json_t *saved;                /* owned: list last saved to state.json */
    size_t idx;                   /* manager to try */
    uint64_t backoff_ms;          /* 0 after a success */
    uint64_t n_ok;
    unsigned n_fail;              /* consecutive failures */
    struct err dial_err;          /* why the last dial failed */
    bool cert_manager;            /* our certificate's OU is swarm-manager */
    char *renew_key;              /* owned: key of a renewal in flight */
    bool renew_manager;           /* the role being renewed to */
    bool renew_same;              /* a renewal in the same role */
    int64_t renew_at;             /* unix time our certificate renews */
    char *root_pem;               /* owned: the root we trust */
    char *issuer_pub;             /* owned: our certificate's issuer key */
    json_t *tls_info;             /* owned: the TLSInfo we report */
    uint64_t renew_raft_id;       /* a promotion's Raft ID, kept on retry */
    /* tasks: the assignments stream and statuses go to the leader */
    const struct agent_exec_ops *exec_ops; /* borrowed; NULL: no tasks */
    void *exec_data;
    struct agent_exec *exec;      /* owned, while in a swarm */
    struct agent_conn *tconn;     /* owned: client to the leader */
    struct rpc_call scall;        /* the assignments stream */
    bool streaming;               /* scall in flight */
    bool fresh_stream;            /* no message on scall yet */
    struct rpc_call ucall;        /* a task status call */
    struct rpc_call gcall;        /* the goodbye at agent_close */
    json_t *sending;              /* owned: ucall's body, or NULL */
    uv_timer_t tflush;            /* statuses batched this long */
    uv_idle_t pace;               /* resumes the executor's slow steps */
    bool closing;
    unsigned n_closing;
    void (*close_cb)(void *data);
    void *close_data;
};

static void agent_on_timer(uv_timer_t *t);

static void agent_after(struct agent *a, uint64_t ms)
{
    if (!a->closing)
        uv_timer_start(&a->timer, agent_on_timer, ms, 0);
}

static void agent_maybe_closed(struct agent *a)
{
    void (*cb)(void *);
    void *data;

    if (!a->closing || a->n_closing > 0)
        return;
    cb = a->close_cb;
    data = a->close_data;
    tls_ctx_free(a->tls);
    json_decref(a->managers);
    json_decref(a->saved);
    json_decref(a->sending);
    free(a->renew_key);
    free(a->root_pem);
    free(a->issuer_pub);
    json_decref(a->tls_info);
    free(a);
    if (cb != NULL)
        cb(data);
}

/* --- the connection ----------------------------------------------------- */

static void agent_on_dialed(struct tls_stream_dial_req *req, int status,
                            struct stream *s)
{
    struct agent_dial *dl = req->data;
    struct agent_conn *conn = dl->conn;
    struct agent *a = conn->a;
    struct err e = req->err;
    /* Decided before rpc_client_dialed, which may free a closing conn
     * (and with it, when the agent is closing, the agent). */
    bool fail_over = status != 0 && status != -ERR_CANCELED &&
                     conn == a->conn && a->busy && !a->closing;

    conn->dial = NULL;
    free(dl);
    if (status == 0) {
        rpc_client_dialed(&conn->client, &s, NULL);
        return;
    }
    rpc_client_dialed(&conn->client, NULL, &e);
    /* Fail over now rather than at the call's deadline: canceling the
     * queued heartbeat runs the failure path, which drops this client. */
    if (fail_over) {
        a->dial_err = e;
        rpc_conn_cancel(&a->call);
    }
}

static void agent_dial(struct rpc_client *client, const char *address,
                       void *data)
{
    struct agent_conn *conn = data;
    struct agent *a = conn->a;
    struct agent_dial *dl = xcalloc(1, sizeof(*dl));
    struct err err;

    dl->conn = conn;
    dl->req.data = dl;
    err_clear(&err);
    if (a->tls == NULL ||
        tls_stream_dial(a->loop, a->tls, address, agent_alpn, AGENT_RPC_MS,
                        &dl->req, agent_on_dialed, &err) != 0) {
        if (a->tls == NULL)
            err_set(&err, ERR_CANCELED, "agent stopped");
        free(dl);
        rpc_client_dialed(client, NULL, &err);
        return;
    }
    conn->dial = dl;
}

static void agent_on_client_closed(struct rpc_client *client)
{
    struct agent_conn *conn = client->data;
    struct agent *a = conn->a;

    free(conn);
    a->n_closing--;
    agent_maybe_closed(a);
}

static void agent_close_conn(struct agent *a, struct agent_conn *conn)
{
    a->n_closing++;
    if (conn->dial != NULL)
        tls_stream_dial_cancel(&conn->dial->req);
    rpc_client_close(&conn->client, agent_on_client_closed);
}

/* Close the client to the current manager (a queued or in-flight call
 * completes with -ERR_CANCELED). */
static void agent_drop_conn(struct agent *a)
{
    struct agent_conn *conn = a->conn;

    if (conn == NULL)
        return;
    a->conn = NULL;
    a->n_closing++;
    if (conn->dial != NULL)
        tls_stream_dial_cancel(&conn->dial->req);
    rpc_client_close(&conn->client, agent_on_client_closed);
}

static struct agent_conn *agent_conn_new(struct agent *a, const char *addr)
{
    struct agent_conn *conn = xcalloc(1, sizeof(*conn));
    struct err err;

    conn->a = a;
    snprintf(conn->addr, sizeof(conn->addr), "%s", addr);
    conn->client.data = conn;
    err_clear(&err);
    rpc_client_init(&conn->client, a->loop, addr, agent_dial, conn, NULL,
                    &err);
    return conn;
}

static void agent_connect(struct agent *a, const char *addr)
{
    a->conn = agent_conn_new(a, addr);
}

/* --- tasks -------------------------------------------------------------- */

/* Close the client to the leader: the stream and a status call in flight
 * complete with -ERR_CANCELED (their statuses are queued again). */
static void agent_tasks_drop(struct agent *a)
{
    struct agent_conn *conn = a->tconn;

    if (conn == NULL)
        return;
    a->tconn = NULL;
    agent_close_conn(a, conn);
}

static void agent_tasks_send(struct agent *a);

static void agent_on_status_sent(struct rpc_call *call, int status,
                                 json_t *body)
{
    struct agent *a = call->data;
    json_t *sent = a->sending;

    UNUSED(body);
    a->sending = NULL;
    if (status != 0 && a->exec != NULL) {
        log_info(LOG_CLUSTER, "agent: task statuses not delivered (will "
                 "resend): %s", call->err.msg);
        agent_exec_requeue(a->exec, sent);
    }
    json_decref(sent);
    if (status == 0 && !a->closing)
        agent_tasks_send(a);
}

/* Send what the executor has queued, one call at a time. */
static void agent_tasks_send(struct agent *a)
{
    struct err err;
    json_t *body;

    if (a->exec == NULL || a->tconn == NULL || a->sending != NULL ||
        !a->streaming)
        return;
    body = agent_exec_take_updates(a->exec);
    if (body == NULL)
        return;
    memset(&a->ucall, 0, sizeof(a->ucall));
    a->ucall.data = a;
    a->ucall.cb = agent_on_status_sent;
    err_clear(&err);
    if (rpc_client_call(&a->tconn->client, &a->ucall,
                        "dispatcher.update_task_status", body, AGENT_RPC_MS,
                        &err) != 0) {
        agent_exec_requeue(a->exec, body);
        json_decref(body);
        return;
    }
    a->sending = body;
}

static void agent_on_tflush(uv_timer_t *t)
{
    agent_tasks_send(t->data);
}

static void agent_on_pace(uv_idle_t *h)
{
    struct agent *a = h->data;

    uv_idle_stop(h);
    if (!a->closing)
        agent_exec_resume(a->exec);
}

/* The executor has slow steps left: resume it on the next loop turn,
 * after the loop polled for I/O (an idle handle, not a 0 ms timer: the
 * timers phase runs a timer started from a timer at once). */
static void agent_exec_wake(void *data)
{
    struct agent *a = data;

    if (!a->closing)
        uv_idle_start(&a->pace, agent_on_pace);
}

static void agent_exec_notified(void *data)
{
    struct agent *a = data;

    if (!a->closing && !uv_is_active((uv_handle_t *)&a->tflush))
        uv_timer_start(&a->tflush, agent_on_tflush, AGENT_FLUSH_MS, 0);
}

static void agent_on_assignment(struct rpc_call *call, json_t *body)
{
    struct agent *a = call->data;
    struct err err;

    if (a->exec == NULL)
        return;
    err_clear(&err);
    if (agent_exec_assign(a->exec, body, &err) != 0) {
        log_warn(LOG_CLUSTER, "agent: assignments: %s", err.msg);
        rpc_conn_cancel(call);
        return;
    }
    if (a->fresh_stream) {
        /* What the old leader may have missed. */
        a->fresh_stream = false;
        agent_exec_resend_all(a->exec);
    }
}

static void agent_on_stream_end(struct rpc_call *call, int status,
                                json_t *body)
{
    struct agent *a = call->data;

    UNUSED(body);
    a->streaming = false;
    if (a->closing || status == -ERR_CANCELED)
        return;
    log_info(LOG_CLUSTER, "agent: assignments stream ended: %s",
             status ? call->err.msg : "by the manager");
    /* The leader gives a node whose stream ends with its connection
     * DISPATCHER_CONNLOSS_GRACE_MS to show it is alive: heartbeat now
     * (which also reopens the stream) rather than after the period. Only
     * after a stream that worked, so a refused one cannot loop. */
    if (!a->fresh_stream && !a->busy)
        agent_after(a, 0);
}

/* The heartbeat named the leader: keep the assignments stream open to
 * it. */
static void agent_tasks_ensure(struct agent *a, const char *leader)
{
    struct err err;

    if (a->exec_ops == NULL || leader == NULL || leader[0] == '\0')
        return;
    if (a->exec == NULL) {
        a->exec = agent_exec_new(a->exec_ops, a->exec_data, a->node_id,
                                 agent_exec_notified, a);
        agent_exec_set_pacer(a->exec, agent_exec_wake, a);
    }
    if (a->tconn != NULL && strcmp(a->tconn->addr, leader) != 0)
        agent_tasks_drop(a);
    if (a->tconn == NULL)
        a->tconn = agent_conn_new(a, leader);
    if (!a->streaming) {
        memset(&a->scall, 0, sizeof(a->scall));
        a->scall.data = a;
        a->scall.cb = agent_on_stream_end;
        a->scall.on_msg = agent_on_assignment;
        err_clear(&err);
        if (rpc_client_call(&a->tconn->client, &a->scall,
                            "dispatcher.assignments", NULL, 0, &err) != 0) {
            log_info(LOG_CLUSTER, "agent: assignments: %s", err.msg);
            return;
        }
        a->streaming = true;
        a->fresh_stream = true;
        log_info(LOG_CLUSTER, "agent: assignments from %s", leader);
    }
    agent_tasks_send(a);
}

void agent_set_exec(struct agent *a, const struct agent_exec_ops *ops,
                    void *data)
{
    a->exec_ops = ops;
    a->exec_data = data;
}

/* --- the session -------------------------------------------------------- */

static char *agent_read(struct agent *a, const char *name, struct err *err)
{
    char path[PATH_MAX];
    char *pem = NULL;

    if (snprintf(path, sizeof(path), "%s/swarm/certificates/%s",
                 cluster_data_root(a->c), name) >= (int)sizeof(path)) {
        err_set(err, ERR_IO, "data root path too long");
        return NULL;
    }
    if (fsutil_read_all(path, AGENT__PEM_MAX, &pem, NULL, err) != 0)
        return NULL;
    return pem;
}

/* Forget the session: client, TLS context, managers. */
static void agent_reset(struct agent *a)
{
    agent_drop_conn(a);
    agent_tasks_drop(a);
    uv_idle_stop(&a->pace);
    agent_exec_free(a->exec);
    a->exec = NULL;
    tls_ctx_free(a->tls);
    a->tls = NULL;
    json_decref(a->managers);
    a->managers = NULL;
    json_decref(a->saved);
    a->saved = NULL;
    free(a->root_pem);
    a->root_pem = NULL;
    free(a->issuer_pub);
    a->issuer_pub = NULL;
    json_decref(a->tls_info);
    a->tls_info = NULL;
    a->renew_at = 0;
    a->node_id[0] = '\0';
    a->idx = 0;
    a->backoff_ms = 0;
    a->n_fail = 0;
}

/* swarmkit's renewer: a random instant between 50% and 80% of the
 * certificate's validity, measured from NotBefore (SWARM-FACTS 3.4). */
static int64_t agent_renewal_point(const struct ca_cert_info *info)
{
    double u = (double)(ids_random_u64() >> 11) / 9007199254740992.0;
    int64_t life = info->not_after - info->not_before;

    if (life <= 0)
        return info->not_before;
    return info->not_before + (int64_t)((double)life * (0.5 + 0.3 * u));
}

/* What this node reports as its Description.TLSInfo: the root it trusts
 * and the issuer of its certificate (verified against that root). */
static void agent_load_tls_info(struct agent *a, const char *root,
                                const char *cert)
{
    char *subj = NULL;
    char *pub = NULL;
    struct err err;

    err_clear(&err);
    if (ca_issuer_info(root, cert, &subj, &pub, &err) != 0) {
        log_warn(LOG_CLUSTER, "agent: our certificate: %s", err.msg);
        subj = xstrdup("");
        pub = xstrdup("");
    }
    a->root_pem = xstrdup(root);
    a->issuer_pub = pub;
    a->tls_info = json_pack("{s:s, s:s, s:s}", "TrustRoot", root,
                            "CertIssuerSubject", subj,
                            "CertIssuerPublicKey", pub);
    free(subj);
}

static int agent_begin(struct agent *a, struct err *err)
{
    struct tls_ctx_config cfg;
    char *root = agent_read(a, "swarm-root-ca.crt", err);
    char *cert = root ? agent_read(a, "swarm-node.crt", err) : NULL;
    char *key = cert ? cluster_node_key_pem(a->c, err) : NULL;
    int rv = -ERR_IO;
    struct ca_cert_info info;

    if (key != NULL) {
        if (ca_cert_info(cert, &info, err) != 0) {
            rv = -err->code;
            goto out;
        }
        a->cert_manager = strcmp(info.ou, CA_ROLE_MANAGER) == 0;
        a->renew_at = agent_renewal_point(&info);
        agent_load_tls_info(a, root, cert);
        memset(&cfg, 0, sizeof(cfg));
        cfg.root_pem = root;
        cfg.cert_pem = cert;
        cfg.key_pem = key;
        cfg.verify_name = "swarm-manager";
        rv = tls_ctx_new(&cfg, &a->tls, err);
    }
out:
    free(root);
    free(cert);
    free(key);
    if (rv != 0)
        return rv;
    snprintf(a->node_id, sizeof(a->node_id), "%s", cluster_node_id(a->c));
    ids_new(a->session_id);
    log_info(LOG_CLUSTER, "agent: node %s reports to the dispatcher",
             a->node_id);
    return 0;
}

/* Whether list holds a manager with m's node ID (or address). */
static bool agent_has_manager(const json_t *list, const json_t *m)
{
    const char *id = json_string_value(json_object_get(m, "NodeID"));
    const char *addr = json_string_value(json_object_get(m, "Addr"));
    const json_t *o;
    size_t i;

    json_array_foreach(list, i, o) {
        const char *oid = json_string_value(json_object_get(o, "NodeID"));
        const char *oaddr = json_string_value(json_object_get(o, "Addr"));

        if (id != NULL && oid != NULL ? strcmp(id, oid) == 0
                                      : strcmp(addr, oaddr) == 0)
            return true;
    }
    return false;
}

/* The managers to try, this node first when it is one: those of the last
 * answer, then those the node knows otherwise (a manager's store, kept in
 * step with every entry it applies; a worker's state.json). A leader
 * that stepped down only ever told itself about itself, and must reach
 * the others. New array. */
static json_t *agent_candidates(struct agent *a)
{
    json_t *lists[2] = {a->managers, cluster_remote_managers(a->c)};
    json_t *out = json_array();
    json_t *m;
    size_t i;
    size_t k;

    for (k = 0; k < ARRAY_SIZE(lists); k++) {
        json_array_foreach(lists[k], i, m) {
            const char *id =
                json_string_value(json_object_get(m, "NodeID"));

            if (!json_is_string(json_object_get(m, "Addr")) ||
                agent_has_manager(out, m))
                continue;
            if (id != NULL && strcmp(id, a->node_id) == 0)
                json_array_insert(out, 0, m);
            else
                json_array_append(out, m);
        }
    }
    return out;
}

/* A worker keeps the managers it learns for its next start. */
static void agent_save_managers(struct agent *a, json_t *list)
{
    char path[PATH_MAX];
    struct err err;
    char *text;

    if (cluster_is_manager(a->c) || json_array_size(list) == 0 ||
        (a->saved != NULL && json_equal(a->saved, list)) ||
        (a->saved == NULL && json_equal(cluster_remote_managers(a->c), list)))
        return;
    json_decref(a->saved);
    a->saved = json_deep_copy(list);
    if (snprintf(path, sizeof(path), "%s/swarm/state.json",
                 cluster_data_root(a->c)) >= (int)sizeof(path))
        return;
    text = json_dumps(list, JSON_COMPACT);
    err_clear(&err);
    if (fsutil_write_atomic(path, text, strlen(text), 0600, &err) != 0)
        log_warn(LOG_CLUSTER, "agent: save the manager list: %s", err.msg);
    free(text);
}

static void agent_failed(struct agent *a, const char *why)
{
    a->n_fail++;
    a->backoff_ms = rpc_client_backoff_next(a->backoff_ms);
    if (a->n_fail == 1)
        log_info(LOG_CLUSTER, "agent: heartbeat failed: %s; trying the next "
                 "manager in %llu ms", why,
                 (unsigned long long)a->backoff_ms);
    else
        log_debug(LOG_CLUSTER, "agent: heartbeat failed (%u in a row): %s",
                  a->n_fail, why);
    agent_drop_conn(a);
    a->idx++;
    agent_after(a, a->backoff_ms);
}

/* --- role changes: renew the certificate for the desired role ---------- */

static void agent_on_role_applied(void *data, int status,
                                  const struct err *err)
{
    struct agent *a = data;

    a->busy = false;
    if (status != 0)
        log_error(LOG_CLUSTER, "agent: role change: %s", err->msg);
    else
        a->renew_raft_id = 0;
    /* Begin again with the new certificate. */
    agent_reset(a);
    agent_after(a, status ? AGENT__RETRY_CERTS_MS : 0);
}

static void agent_on_renewed(struct rpc_call *call, int status, json_t *body)
{
    struct agent *a = call->data;
    const char *cert =
        json_string_value(json_object_get(body, "Certificate"));
    const char *role = json_string_value(json_object_get(body, "Role"));
    char *key = a->renew_key;
    struct ca_cert_info info;
    struct err err;

    a->renew_key = NULL;
    a->busy = false;
    if (a->closing) {
        free(key);
        return;
    }
    err_clear(&err);
    if (status != 0) {
        err = call->err;
        goto fail;
    }
    if (cert == NULL || role == NULL ||
        (strcmp(role, "manager") == 0) != a->renew_manager) {
        err_set(&err, ERR_PROTO, "ca.renew answered without the "
                                 "certificate asked for");
        goto fail;
    }
    if (ca_cert_info(cert, &info, &err) != 0)
        goto fail;
    if (strcmp(info.cn, a->node_id) != 0 ||
        strcmp(info.ou, a->renew_manager ? CA_ROLE_MANAGER
                                         : CA_ROLE_WORKER) != 0 ||
        !ca_key_matches(cert, key)) {
        err_set(&err, ERR_PROTO, "ca.renew issued CN %s OU %s, not ours",
                info.cn, info.ou);
        goto fail;
    }
    if (a->renew_same) {
        if (cluster_role_renewed(a->c, key, cert, &err) != 0)
            goto fail;
        free(key);
        /* Begin again: new connections use the new certificate. */
        agent_reset(a);
        agent_after(a, 0);
        return;
    }
    a->busy = true;
    if (cluster_role_apply(a->c, a->renew_manager, key, cert,
                           a->renew_manager ? a->renew_raft_id : 0,
                           body, agent_on_role_applied, a, &err) != 0) {
        a->busy = false;
        goto fail;
    }
    free(key);
    return;

fail:
    free(key);
    log_warn(LOG_CLUSTER, "agent: certificate renewal as a %s: %s",
             a->renew_manager ? "manager" : "worker", err.msg);
    agent_after(a, AGENT__RETRY_CERTS_MS);
}

/* Ask for a new certificate: for another role the leader wants
 * (same false), or in our role when ours reaches its renewal point or
 * has an issuer other than the root being rotated to (same true). */
static void agent_renew(struct agent *a, bool manager, bool same)
{
    char *csr = NULL;
    char raft_id[32];
    json_t *body;
    struct err err;

    err_clear(&err);
    free(a->renew_key);
    a->renew_key = NULL;
    if (ca_node_key_create(&a->renew_key, &csr, &err) != 0)
        goto fail;
    a->renew_manager = manager;
    a->renew_same = same;
    if (same && manager)
        a->renew_raft_id = cluster_raft_id(a->c);
    body = json_pack("{s:s}", "CSR", csr);
    free(csr);
    if (manager) {
        while (a->renew_raft_id == 0)
            a->renew_raft_id = ids_random_u64() >> 1;
        snprintf(raft_id, sizeof(raft_id), "%llu",
                 (unsigned long long)a->renew_raft_id);
        json_object_set_new(body, "RaftID", json_string(raft_id));
        if (same)
            a->renew_raft_id = 0; /* only a promotion keeps its ID */
        json_object_set_new(body, "AdvertiseAddr",
                            json_string(cluster_advertise_addr(a->c)));
    }
    log_info(LOG_CLUSTER, "agent: node %s renews its certificate as a %s%s",
             a->node_id, manager ? "manager" : "worker",
             same ? " (same role)" : "");
    memset(&a->call, 0, sizeof(a->call));
    a->call.data = a;
    a->call.cb = agent_on_renewed;
    if (rpc_client_call(&a->conn->client, &a->call, "ca.renew", body,
                        AGENT_RPC_MS, &err) != 0) {
        json_decref(body);
        goto fail;
    }
    json_decref(body);
    a->busy = true;
    return;

fail:
    free(a->renew_key);
    a->renew_key = NULL;
    log_warn(LOG_CLUSTER, "agent: certificate renewal: %s", err.msg);
    agent_after(a, AGENT__RETRY_CERTS_MS);
}

/* Follow the swarm's root CA, and renew our certificate when it is due
 * or a rotation wants another issuer. True if a renewal started or the
 * session begins again. */
static bool agent_certs(struct agent *a, const json_t *body)
{
    const char *root = json_string_value(json_object_get(body, "RootCA"));
    const char *want =
        json_string_value(json_object_get(body, "RotateIssuer"));
    char *subj = NULL;
    char *pub = NULL;
    bool ours;
    struct err err;

    err_clear(&err);
    if (root != NULL && a->root_pem != NULL &&
        strcmp(root, a->root_pem) != 0 && want == NULL) {
        /* Trust the new root only with a certificate it issued. */
        ours = ca_tls_info(root, &subj, &pub, NULL) == 0 &&
               a->issuer_pub != NULL && strcmp(pub, a->issuer_pub) == 0;
        free(subj);
        free(pub);
        if (!ours) {
            agent_renew(a, a->cert_manager, true);
            return true;
        }
        if (cluster_role_set_root(a->c, root, &err) != 0) {
            log_warn(LOG_CLUSTER, "agent: the new root CA: %s", err.msg);
        } else {
            agent_reset(a);
            agent_after(a, 0);
            return true;
        }
    }
    if (want != NULL && a->issuer_pub != NULL &&
        strcmp(want, a->issuer_pub) != 0) {
        log_info(LOG_CLUSTER, "agent: root CA rotation: renewing onto the "
                 "new root");
        agent_renew(a, a->cert_manager, true);
        return true;
    }
    if (a->renew_at != 0 && (int64_t)time(NULL) >= a->renew_at) {
        agent_renew(a, a->cert_manager, true);
        return true;
    }
    return false;
}

static void agent_on_reply(struct rpc_call *call, int status, json_t *body)
{
    struct agent *a = call->data;
    json_t *period = json_object_get(body, "Period");
    json_t *managers = json_object_get(body, "Managers");
    const char *role;
    uint64_t ms;

    a->busy = false;
    if (a->closing)
        return;
    if (status != 0) {
        if (status == -ERR_CANCELED && a->dial_err.code != ERR_OK)
            agent_failed(a, a->dial_err.msg);
        else
            agent_failed(a, call->err.msg);
        return;
    }
    if (a->n_fail > 0)
        log_info(LOG_CLUSTER, "agent: heartbeat answered by %s after %u "
                 "failure(s)", a->conn ? a->conn->addr : "?", a->n_fail);
    a->n_ok++;
    a->n_fail = 0;
    a->backoff_ms = 0;
    if (json_is_array(managers) && json_array_size(managers) > 0 &&
        strcmp(a->node_id, cluster_node_id(a->c)) == 0 &&
        cluster_state(a->c) == CLUSTER_ACTIVE) {
        if (a->managers == NULL || !json_equal(a->managers, managers)) {
            json_decref(a->managers);
            a->managers = json_deep_copy(managers);
            agent_save_managers(a, a->managers);
        }
    }
    agent_tasks_ensure(a, json_string_value(json_object_get(body, "Leader")));
    role = json_string_value(json_object_get(body, "Role"));
    if (role != NULL && (strcmp(role, "manager") == 0) != a->cert_manager &&
        a->conn != NULL && strcmp(a->node_id, cluster_node_id(a->c)) == 0 &&
        (cluster_state(a->c) == CLUSTER_ACTIVE ||
         (a->cert_manager && cluster_awaiting_leader(a->c)))) {
        agent_renew(a, strcmp(role, "manager") == 0, false);
        return;
    }
    if (a->conn != NULL && strcmp(a->node_id, cluster_node_id(a->c)) == 0 &&
        cluster_state(a->c) == CLUSTER_ACTIVE && agent_certs(a, body))
        return;
    ms = json_is_integer(period) && json_integer_value(period) > 0
             ? (uint64_t)json_integer_value(period) / 1000000u
             : 5000u;
    if (ms < AGENT_MIN_PERIOD_MS)
        ms = AGENT_MIN_PERIOD_MS;
    if (ms > AGENT_MAX_PERIOD_MS)
        ms = AGENT_MAX_PERIOD_MS;
    agent_after(a, ms);
}

static void agent_heartbeat(struct agent *a)
{
    json_t *list = agent_candidates(a);
    size_t n = json_array_size(list);
    const char *addr;
    struct err err;
    json_t *body;

    if (n == 0) {
        json_decref(list);
        agent_after(a, AGENT_IDLE_MS);
        return;
    }
    addr = json_string_value(
        json_object_get(json_array_get(list, a->idx % n), "Addr"));
    if (a->conn != NULL && strcmp(a->conn->addr, addr) != 0)
        agent_drop_conn(a);
    if (a->conn == NULL)
        agent_connect(a, addr);
    json_decref(list);
    err_clear(&a->dial_err);
    err_clear(&err);
    memset(&a->call, 0, sizeof(a->call));
    a->call.data = a;
    a->call.cb = agent_on_reply;
    body = json_pack("{s:s, s:O?}", "SessionID", a->session_id, "TLSInfo",
                     a->tls_info);
    if (rpc_client_call(&a->conn->client, &a->call, "dispatcher.heartbeat",
                        body, AGENT_RPC_MS, &err) != 0) {
        json_decref(body);
        agent_failed(a, err.msg);
        return;
    }
    json_decref(body);
    a->busy = true;
}

static void agent_on_timer(uv_timer_t *t)
{
    struct agent *a = t->data;
    struct err err;

    if (a->closing || a->busy)
        return;
    if ((cluster_state(a->c) != CLUSTER_ACTIVE &&
         !cluster_awaiting_leader(a->c)) ||
        cluster_node_id(a->c)[0] == '\0') {
        if (a->node_id[0] != '\0') {
            log_info(LOG_CLUSTER, "agent: node %s left the swarm",
                     a->node_id);
            agent_reset(a);
        }
        agent_after(a, AGENT_IDLE_MS);
        return;
    }
    if (strcmp(a->node_id, cluster_node_id(a->c)) != 0) {
        agent_reset(a);
        err_clear(&err);
        if (agent_begin(a, &err) != 0) {
            log_warn(LOG_CLUSTER, "agent: node certificate: %s", err.msg);
            agent_after(a, AGENT__RETRY_CERTS_MS);
            return;
        }
    }
    agent_heartbeat(a);
}

/* --- life cycle --------------------------------------------------------- */

struct agent *agent_new(uv_loop_t *loop, struct cluster *c)
{
    struct agent *a = xcalloc(1, sizeof(*a));

    a->loop = loop;
    a->c = c;
    uv_timer_init(loop, &a->timer);
    a->timer.data = a;
    uv_timer_init(loop, &a->tflush);
    a->tflush.data = a;
    uv_idle_init(loop, &a->pace);
    a->pace.data = a;
    agent_after(a, 0);
    return a;
}

void agent_kick(struct agent *a)
{
    if (a != NULL && !a->closing && !a->busy)
        agent_after(a, 0);
}

uint64_t agent_n_ok(const struct agent *a)
{
    return a ? a->n_ok : 0;
}

static void agent_on_timer_closed(uv_handle_t *h)
{
    struct agent *a = h->data;

    a->n_closing--;
    agent_maybe_closed(a);
}

static void agent_on_goodbye(struct rpc_call *call, int status,
                             json_t *body)
{
    struct agent *a = call->data;

    UNUSED(body);
    if (status != 0)
        log_info(LOG_CLUSTER, "agent: goodbye to the leader not "
                 "delivered: %s", call->err.msg);
    else
        log_info(LOG_CLUSTER, "agent: told the leader we leave for a "
                 "restart");
    agent_tasks_drop(a);
    a->n_closing--;
    agent_maybe_closed(a);
}

/* Tell the leader, over the assignments stream's connection, that this
 * node leaves for a restart; then close that connection. False when
 * there is no such connection (closed at once then). */
static bool agent_goodbye(struct agent *a)
{
    struct err err;

    if (a->tconn == NULL || !a->streaming ||
        !rpc_client_is_connected(&a->tconn->client))
        return false;
    memset(&a->gcall, 0, sizeof(a->gcall));
    a->gcall.data = a;
    a->gcall.cb = agent_on_goodbye;
    err_clear(&err);
    if (rpc_client_call(&a->tconn->client, &a->gcall, "dispatcher.leaving",
                        NULL, AGENT_GOODBYE_MS, &err) != 0)
        return false;
    a->n_closing++;
    return true;
}

void agent_close(struct agent *a, void (*cb)(void *data), void *data)
{
    if (a == NULL) {
        if (cb != NULL)
            cb(data);
        return;
    }
    a->closing = true;
    a->close_cb = cb;
    a->close_data = data;
    a->n_closing += 3;
    uv_close((uv_handle_t *)&a->timer, agent_on_timer_closed);
    uv_close((uv_handle_t *)&a->tflush, agent_on_timer_closed);
    uv_close((uv_handle_t *)&a->pace, agent_on_timer_closed);
    agent_drop_conn(a);
    if (!agent_goodbye(a))
        agent_tasks_drop(a);
    agent_exec_free(a->exec);
    a->exec = NULL;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The cluster port: mutual TLS listener, the managers' RPC methods
 * (docs/internals/wire.md), and the client that reaches the leader. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/rpc.h"
#include "base/tls_ctx.h"
#include "cluster/cluster_int.h"
#include "manager/ca/ca.h"
#include "manager/consensus/consensus.h"
#include "manager/controlapi/ctl.h"
#include "manager/dispatcher/dispatcher.h"
#include "manager/store/store.h"

#define CLUSTER_PORT__PEM_MAX (1u << 20)
#define CLUSTER_PORT__CALL_MS 20000 /* Docker's swarmRequestTimeout */
#define CLUSTER_PORT__DIAL_MS 5000

static const char cluster_port_alpn_rpc[] = "shoal-rpc";
static const char cluster_port_alpn_raft[] = "shoal-raft";

struct cluster_port_conn
{
    struct cluster_port *port;
    struct rpc_conn *conn;       /* owned by the RPC layer until closed_cb */
    struct cluster_port_conn *prev, *next;
};

struct cluster_port
{
    struct cluster *c;
    struct tls_ctx *server_ctx;          /* owned */
    struct tls_ctx *client_ctx;          /* owned: to managers, with our
                                            certificate */
    struct tls_ctx *node_ctx;            /* owned: to any node of the swarm
                                            (cluster_node_call) */
    struct tls_stream_listener *listener; /* owned until its close cb */
    struct rpc_server rpc;
    struct cluster_port_conn *conns;     /* accepted RPC connections */
    struct rpc_client *leader;           /* owned: client to the leader */
    struct cluster_port_raft_dial *raft_dials; /* Raft dials in flight */
    uint64_t leader_id;                  /* Raft ID leader points at */
    struct cluster_port_oneshot *oneshots; /* calls to other nodes */
    unsigned n_oneshot;                  /* their clients not yet closed */
    unsigned n_closing;                  /* handles still closing */
    void (*stop_cb)(void *data);
    void *stop_data;
    bool stopping;
};

/* --- helpers ------------------------------------------------------------ */

static const struct store *cluster_port_store(struct cluster_port *p)
{
    return p->c->consensus != NULL ? p->c->store : NULL;
}

static bool cluster_port_is_leader(struct cluster_port *p)
{
    return p->c->consensus != NULL && consensus_is_leader(p->c->consensus) &&
           p->c->state == CLUSTER_ACTIVE;
}

/* The node object whose Raft member is id, or NULL. */
static json_t *cluster_port_node_by_raft(const struct store *s, uint64_t id)
{
    const char *nid;
    json_t *node;

    json_object_foreach(store_all(s, STORE_NODE), nid, node) {
        json_t *raft = json_object_get(node, "_Raft");

        if (raft != NULL &&
            (uint64_t)json_integer_value(json_object_get(raft, "ID")) == id)
            return node;
    }
    return NULL;
}

static json_t *cluster_port_managers(const struct store *s)
{
    json_t *out = json_array();
    const char *nid;
    json_t *node;

    json_object_foreach(store_all(s, STORE_NODE), nid, node) {
        json_t *raft = json_object_get(node, "_Raft");

        if (raft != NULL)
            json_array_append_new(out,
                                  json_pack("{s:s, s:O, s:O}", "NodeID", nid,
                                            "Addr",
                                            json_object_get(raft, "Addr"),
                                            "RaftID",
                                            json_object_get(raft, "ID")));
    }
    return out;
}

static const char cluster_port_no_leader[] =
    "rpc error: code = Unknown desc = The swarm does not have a leader. "
    "It's possible that too few managers are online. Make sure more than "
    "half of the managers are online.";

/* --- the client to the leader ------------------------------------------- */

struct cluster_port_dial
{
    struct tls_stream_dial_req req;
    struct rpc_client *client;
};

static void cluster_port_on_dialed(struct tls_stream_dial_req *req,
                                   int status, struct stream *s)
{
    struct cluster_port_dial *d = req->data;

    if (status == 0)
        rpc_client_dialed(d->client, &s, NULL);
    else
        rpc_client_dialed(d->client, NULL, &req->err);
    free(d);
}

/* Dial address for client with ctx (which peers it accepts). */
static void cluster_port_dial_with(struct cluster_port *p,
                                   struct tls_ctx *ctx,
                                   struct rpc_client *client,
                                   const char *address)
{
    struct cluster_port_dial *d = xcalloc(1, sizeof(*d));
    struct err err;

    d->client = client;
    d->req.data = d;
    err_clear(&err);
    if (tls_stream_dial(p->c->loop, ctx, address, cluster_port_alpn_rpc,
                        CLUSTER_PORT__DIAL_MS, &d->req,
                        cluster_port_on_dialed, &err) != 0) {
        free(d);
        rpc_client_dialed(client, NULL, &err);
    }
}

static void cluster_port_dial(struct rpc_client *client, const char *address,
                              void *data)
{
    struct cluster_port *p = data;

    cluster_port_dial_with(p, p->client_ctx, client, address);
}

/* A dial for cluster_node_call: any node of this swarm. */
static void cluster_port_dial_node(struct rpc_client *client,
                                   const char *address, void *data)
{
    struct cluster_port *p = data;

    cluster_port_dial_with(p, p->node_ctx, client, address);
}

static void cluster_port_on_client_closed(struct rpc_client *client)
{
    struct cluster_port *p = client->data;

    free(client);
    p->n_closing--;
    if (p->stopping && p->n_closing == 0 && p->stop_cb != NULL)
        p->stop_cb(p->stop_data);
}

static void cluster_port_drop_leader(struct cluster_port *p)
{
    struct rpc_client *leader = p->leader;

    if (leader == NULL)
        return;
    /* Forgotten first: closing fails the queued calls at once, and their
     * callbacks may stop the port, which drops the leader again. */
    p->leader = NULL;
    p->leader_id = 0;
    p->n_closing++;
    rpc_client_close(leader, cluster_port_on_client_closed);
}

/* The client for the current leader, made or remade on leader change;
 * NULL with err when no leader is known (Docker's no-leader text). */
static struct rpc_client *cluster_port_leader(struct cluster_port *p,
                                              struct err *err)
{
    uint64_t id = p->c->consensus ? consensus_leader_id(p->c->consensus) : 0;
    const char *addr;
    json_t *node;

    if (id == 0 || p->c->store == NULL) {
        err_set(err, ERR_INTERNAL, "%s", cluster_port_no_leader);
        return NULL;
    }
    if (p->leader != NULL && p->leader_id == id)
        return p->leader;
    cluster_port_drop_leader(p);
    node = cluster_port_node_by_raft(p->c->store, id);
    addr = json_string_value(
        json_object_get(json_object_get(node, "_Raft"), "Addr"));
    if (addr == NULL) {
        err_set(err, ERR_INTERNAL, "%s", cluster_port_no_leader);
        return NULL;
    }
    p->leader = xcalloc(1, sizeof(*p->leader));
    rpc_client_init(p->leader, p->c->loop, addr, cluster_port_dial, p, NULL,
                    err);
    p->leader->data = p;
    p->leader_id = id;
    return p->leader;
}

/* --- one call to any node (cluster_node_call) --------------------------- */

struct cluster_port_oneshot
{
    struct rpc_call call;         /* first: a struct cluster_call * is this */
    void (*on_msg)(void *data, json_t *msg);
    struct rpc_client *client;    /* owned until its close completes */
    struct cluster_port *p;
    cluster_done_cb cb;
    void *data;
    bool closing;
    struct cluster_port_oneshot *prev, *next;
};

static void cluster_port_on_oneshot_closed(struct rpc_client *client)
{
    struct cluster_port_oneshot *o = client->data;
    struct cluster_port *p = o->p;

    free(client);
    free(o);
    p->n_oneshot--;
    if (p->stopping) {
        p->n_closing--;
        if (p->n_closing == 0 && p->stop_cb != NULL)
            p->stop_cb(p->stop_data);
    }
}

static void cluster_port_oneshot_close(struct cluster_port_oneshot *o)
{
    struct cluster_port *p = o->p;

    if (o->closing)
        return;
    o->closing = true;
    if (o->prev != NULL)
        o->prev->next = o->next;
    else
        p->oneshots = o->next;
    if (o->next != NULL)
        o->next->prev = o->prev;
    rpc_client_close(o->client, cluster_port_on_oneshot_closed);
}

static void cluster_port_on_oneshot_msg(struct rpc_call *call, json_t *body)
{
    struct cluster_port_oneshot *o = call->data;

    if (o->on_msg != NULL && o->cb != NULL)
        o->on_msg(o->data, body);
}

void cluster_node_call_cancel(struct cluster_call *call)
{
    rpc_conn_cancel((struct rpc_call *)call);
}

static void cluster_port_on_oneshot(struct rpc_call *call, int status,
                                    json_t *body)
{
    struct cluster_port_oneshot *o = call->data;
    cluster_done_cb cb = o->cb;
    void *data = o->data;

    o->cb = NULL;
    if (cb != NULL)
        cb(data, status, status != 0 ? &call->err : NULL, body);
    cluster_port_oneshot_close(o);
}

int cluster_node_call(struct cluster *c, const char *addr,
                      const char *method, json_t *body, uint64_t timeout_ms,
                      void (*on_msg)(void *data, json_t *msg),
                      cluster_done_cb cb, void *data,
                      struct cluster_call **out, struct err *err)
{
    struct cluster_port *p = c->port;
    struct cluster_port_oneshot *o;

    if (p == NULL || p->stopping)
        return err_set(err, ERR_UNAVAILABLE, "the cluster port is closed");
    o = xcalloc(1, sizeof(*o));
    o->p = p;
    o->cb = cb;
    o->data = data;
    o->client = xcalloc(1, sizeof(*o->client));
    rpc_client_init(o->client, c->loop, addr, cluster_port_dial_node, p,
                    NULL, err);
    o->client->data = o;
    o->call.data = o;
    o->call.cb = cluster_port_on_oneshot;
    o->on_msg = on_msg;
    if (on_msg != NULL)
        o->call.on_msg = cluster_port_on_oneshot_msg;
    o->next = p->oneshots;
    if (p->oneshots != NULL)
        p->oneshots->prev = o;
    p->oneshots = o;
    p->n_oneshot++;
    if (rpc_client_call(o->client, &o->call, method, body, timeout_ms,
                        err) != 0) {
        o->cb = NULL;
        cluster_port_oneshot_close(o);
        return -err->code;
    }
    if (out != NULL)
        *out = (struct cluster_call *)&o->call;
    return 0;
}

/* A call to the leader whose answer (or failure) completes an RPC request
 * this manager received, or an API request forwarded from here. */
struct cluster_port_relay
{
    struct rpc_call call;
    struct rpc_req *req;          /* the request to answer, or NULL */
    void (*api_cb)(void *data, int status, const char *ctype,
                   const char *body, size_t len);
    void *api_data;
};

static void cluster_port_on_relayed(struct rpc_call *call, int status,
                                    json_t *body)
{
    struct cluster_port_relay *r = call->data;

    if (status == -ERR_CANCELED)
        err_set(&call->err, ERR_INTERNAL,
                "rpc error: code = Unknown desc = raft: failed to process "
                "the request: node lost leader status");

    if (r->req != NULL) {
        /* the leader saw this relay, not the joining node: say who */
        if (status == -ERR_INVALID && strcmp(r->req->method, "ca.join") == 0)
            rpc_server_warn(r->req, &call->err);
        if (status == 0)
            rpc_server_reply(r->req, body);
        else
            rpc_server_fail(r->req, &call->err);
    } else if (status != 0) {
        json_t *e = json_pack("{s:s}", "message", call->err.msg);
        char *msg = json_dumps(e, JSON_COMPACT);
        int http = err_http_status(call->err.code);

        json_decref(e);
        r->api_cb(r->api_data, http == 200 ? 500 : http, "application/json",
                  msg, strlen(msg));
        free(msg);
    } else {
        const char *text = json_string_value(json_object_get(body, "Body"));

        r->api_cb(r->api_data,
                  (int)json_integer_value(json_object_get(body, "Status")),
                  json_string_value(json_object_get(body, "ContentType")),
                  text ? text : "", text ? strlen(text) : 0);
    }
    free(r);
}

static int cluster_port_relay(struct cluster_port *p,
                              struct cluster_port_relay *r,
                              const char *method, json_t *body,
                              struct err *err)
{
    struct rpc_client *leader = cluster_port_leader(p, err);
    int rv;

    if (leader == NULL)
        return -err->code;
    r->call.data = r;
    r->call.cb = cluster_port_on_relayed;
    rv = rpc_client_call(leader, &r->call, method, body,
                         CLUSTER_PORT__CALL_MS, err);
    return rv;
}

int cluster_forward(struct cluster *c, const char *method, const char *url,
                    const void *body, size_t len,
                    void (*cb)(void *data, int status, const char *ctype,
                               const char *body, size_t len),
                    void *data, struct err *err)
{
    struct cluster_port_relay *r;
    json_t *req;
    int rv;

    if (c->port == NULL)
        return err_set(err, ERR_INTERNAL, "%s", cluster_port_no_leader);
    r = xcalloc(1, sizeof(*r));
    r->api_cb = cb;
    r->api_data = data;
    req = json_pack("{s:s, s:s, s:s%}", "Method", method, "URL", url, "Body",
                    body ? (const char *)body : "", len);
    if (req == NULL) {
        free(r);
        return err_set(err, ERR_INVALID, "the request body is not UTF-8");
    }
    rv = cluster_port_relay(c->port, r, "control.forward", req, err);
    json_decref(req);
    if (rv != 0)
        free(r);
    return rv;
}

/* --- Raft over the cluster port ---------------------------------------- */

/* The Raft member ID of a verified peer of this cluster, from the store by
 * its certificate's CN; 0 if it is not a manager we know. */
/* A manager's Raft ID and address by node ID: from the store, else from
 * the managers this node knows from its state (a joining manager's store
 * is still empty, and a restarted one's is until the leader resends it).
 * 0 if unknown. */
static uint64_t cluster_port_manager(struct cluster_port *p,
                                     const char *node_id,
                                     const char **out_addr)
{
    json_t *node = p->c->store ? store_get(p->c->store, STORE_NODE, node_id)
                               : NULL;
    json_t *raft = json_object_get(node, "_Raft");
    json_t *m;
    size_t i;

    if (raft != NULL) {
        *out_addr = json_string_value(json_object_get(raft, "Addr"));
        return (uint64_t)json_integer_value(json_object_get(raft, "ID"));
    }
    json_array_foreach(p->c->remote_managers, i, m) {
        const char *id = json_string_value(json_object_get(m, "NodeID"));
        const char *rid = json_string_value(json_object_get(m, "RaftID"));

        if (id == NULL || strcmp(id, node_id) != 0)
            continue;
        *out_addr = json_string_value(json_object_get(m, "Addr"));
        if (json_is_integer(json_object_get(m, "RaftID")))
            return (uint64_t)json_integer_value(json_object_get(m, "RaftID"));
        return rid ? strtoull(rid, NULL, 10) : 0;
    }
    return 0;
}

/* The Raft member ID of a verified manager of this cluster; 0 if it is
 * not one we know. */
static uint64_t cluster_port_peer_raft_id(struct cluster_port *p,
                                          const struct stream_peer *peer,
                                          const char **out_addr)
{
    if (!peer->verified || strcmp(peer->role, "swarm-manager") != 0 ||
        strcmp(peer->org, p->c->cluster_id) != 0)
        return 0;
    return cluster_port_manager(p, peer->node_id, out_addr);
}

static int cluster_port_accept_raft(struct cluster_port *p, struct stream *s,
                                    struct err *err)
{
    const char *addr = NULL;
    uint64_t id = cluster_port_peer_raft_id(p, &s->peer, &addr);

    if (p->c->consensus == NULL)
        return err_set(err, ERR_UNAVAILABLE, "this node is not a manager");
    if (id == 0 || addr == NULL)
        return err_set(err, ERR_FORBIDDEN,
                       "peer %s (%s) is not a manager of this swarm",
                       s->peer.node_id[0] ? s->peer.node_id : "unknown",
                       s->peer.role[0] ? s->peer.role : "no certificate");
    /* Raft needs the member's advertised address, not the source port of
     * this connection. */
    return consensus_transport_accept_stream(p->c->consensus, id, addr, s,
                                             err);
}

struct cluster_port_raft_dial
{
    struct tls_stream_dial_req req;
    struct cluster_port *port;
    uint64_t peer_id;
    consensus_dial_done_fn done;
    struct consensus_dial *dial;
    struct cluster_port_raft_dial *prev, *next;
};

static void cluster_port_raft_dial_unlink(struct cluster_port_raft_dial *d)
{
    struct cluster_port *p = d->port;

    if (d->prev != NULL)
        d->prev->next = d->next;
    else
        p->raft_dials = d->next;
    if (d->next != NULL)
        d->next->prev = d->prev;
}

static void cluster_port_on_raft_dialed(struct tls_stream_dial_req *req,
                                        int status, struct stream *s)
{
    struct cluster_port_raft_dial *d = req->data;
    struct cluster_port *p = d->port;
    const char *addr = NULL;
    struct err err;

    cluster_port_raft_dial_unlink(d);
    err_clear(&err);
    if (status != 0) {
        d->done(d->dial, NULL, &req->err);
    } else if (p->stopping ||
               cluster_port_peer_raft_id(p, &s->peer, &addr) != d->peer_id) {
        /* The address answered with another node's certificate. */
        err_set(&err, ERR_FORBIDDEN, "raft peer at %s is not member %016"
                PRIx64, s->peer.addr, d->peer_id);
        stream_close(s, NULL, NULL);
        d->done(d->dial, NULL, &err);
    } else {
        d->done(d->dial, s, NULL);
    }
    free(d);
    if (p->stopping) {
        p->n_closing--;
        if (p->n_closing == 0 && p->stop_cb != NULL)
            p->stop_cb(p->stop_data);
    }
}

static void cluster_port_raft_dial(void *data, uint64_t peer_id,
                                   const char *address,
                                   consensus_dial_done_fn done,
                                   struct consensus_dial *dial)
{
    struct cluster_port *p = data;
    struct cluster_port_raft_dial *d;
    struct err err;

    err_clear(&err);
    if (p->stopping) {
        err_set(&err, ERR_CANCELED, "cluster port stopping");
        done(dial, NULL, &err);
        return;
    }
    d = xcalloc(1, sizeof(*d));
    d->port = p;
    d->peer_id = peer_id;
    d->done = done;
    d->dial = dial;
    d->req.data = d;
    if (tls_stream_dial(p->c->loop, p->client_ctx, address,
                        cluster_port_alpn_raft, CLUSTER_PORT__DIAL_MS,
                        &d->req, cluster_port_on_raft_dialed, &err) != 0) {
        free(d);
        done(dial, NULL, &err);
        return;
    }
    d->next = p->raft_dials;
    if (p->raft_dials != NULL)
        p->raft_dials->prev = d;
    p->raft_dials = d;
}

void cluster_port_leader_changed(struct cluster *c)
{
    struct cluster_port *p = c->port;
    uint64_t id = c->consensus ? consensus_leader_id(c->consensus) : 0;

    /* Calls queued for a leader that is gone fail now (the client retries
     * against the new one) rather than at their deadline. */
    if (p != NULL && p->leader != NULL && p->leader_id != id)
        cluster_port_drop_leader(p);
}

void cluster_port_attach(struct cluster *c)
{
    if (c->port != NULL && c->consensus != NULL)
        consensus_set_dialer(c->consensus, cluster_port_raft_dial, c->port);
}

/* A manager joined: the leader adds it to Raft (caught up as a standby,
 * then a voter). */
struct cluster_port_add
{
    struct consensus_op_req op;
    char node_id[IDS_LEN + 1];
};

static void cluster_port_on_member_added(struct consensus_op_req *op,
                                         int status)
{
    struct cluster_port_add *a = op->data;

    if (status == 0)
        log_info(LOG_CLUSTER, "manager %s is a Raft voter", a->node_id);
    else
        log_warn(LOG_CLUSTER, "adding manager %s to Raft: %s", a->node_id,
                 op->err.msg);
    free(a);
}

static void cluster_port_add_member(struct cluster *c, const char *node_id,
                                    uint64_t raft_id, const char *addr)
{
    struct cluster_port_add *a = xcalloc(1, sizeof(*a));
    struct err err;

    err_clear(&err);
    snprintf(a->node_id, sizeof(a->node_id), "%s", node_id);
    a->op.data = a;
    if (c->consensus == NULL ||
        consensus_add_member(c->consensus, &a->op, raft_id, addr,
                             CONSENSUS_VOTER, cluster_port_on_member_added,
                             &err) != 0) {
        log_warn(LOG_CLUSTER, "adding manager %s to Raft: %s", node_id,
                 err.msg);
        free(a);
    }
}

/* --- RPC methods -------------------------------------------------------- */

static void cluster_port_ca_root(struct rpc_req *req, void *data)
{
    struct cluster_port *p = data;
    char path[PATH_MAX];
    char *pem = NULL;
    struct err err;
    json_t *body;

    err_clear(&err);
    if (cluster_paths(p->c, "certificates/swarm-root-ca.crt", path,
                      sizeof(path)) != 0 ||
        fsutil_read_all(path, CLUSTER_PORT__PEM_MAX, &pem, NULL, &err) != 0) {
        rpc_server_fail(req, &err);
        return;
    }
    body = json_pack("{s:s}", "CACert", pem);
    free(pem);
    rpc_server_reply(req, body);
    json_decref(body);
}

struct cluster_port_join
{
    struct cluster *c;
    struct rpc_req *req;
    struct ctl_join_out out;
    json_t *managers;
    uint64_t raft_id;
    char addr[128];
};

/*
 * A joining manager's answer (ca.join), or a manager's renewal (ca.renew:
 * a promotion), carries the cluster's unlock key when autolock is on, and
 * the cluster object's version it comes from, so that the new member
 * writes its key file locked from the first write (the joiner verified
 * this server against the pinned root and proved the manager token; the
 * renewing node's certificate names it, and its Spec.Role is manager).
 * Workers never get it.
 */
static void cluster_port_add_unlock_key(struct cluster *c, json_t *body)
{
    json_t *cl = c->store != NULL ? store_cluster(c->store) : NULL;
    const char *key = json_string_value(json_object_get(cl, "_UnlockKey"));
    json_int_t version = json_integer_value(
        json_object_get(json_object_get(cl, "Version"), "Index"));
    char num[24];

    if (key == NULL || key[0] == '\0')
        return;
    json_object_set_new(body, "UnlockKey", json_string(key));
    snprintf(num, sizeof(num), "%" PRIu64, (uint64_t)version);
    json_object_set_new(body, "UnlockKeyVersion", json_string(num));
}

static void cluster_port_on_joined(void *data, int status,
                                   const struct err *err, json_t *result)
{
    struct cluster_port_join *j = data;
    json_t *body;

    UNUSED(result);
    if (status != 0) {
        rpc_server_fail(j->req, err);
    } else {
        body = json_pack("{s:s, s:s, s:s, s:O}", "NodeID", j->out.node_id,
                         "Role", j->out.role, "Certificate", j->out.cert_pem,
                         "Managers", j->managers);
        if (strcmp(j->out.role, "manager") == 0)
            cluster_port_add_unlock_key(j->c, body);
        rpc_server_reply(j->req, body);
        json_decref(body);
        log_info(LOG_CLUSTER, "node %s joined as a %s", j->out.node_id,
                 j->out.role);
        if (strcmp(j->out.role, "manager") == 0)
            cluster_port_add_member(j->c, j->out.node_id, j->raft_id,
                                    j->addr);
    }
    free(j->out.cert_pem);
    json_decref(j->managers);
    free(j);
}

static void cluster_port_ca_join(struct rpc_req *req, void *data)
{
    struct cluster_port *p = data;
    const struct store *s = cluster_port_store(p);
    struct cluster_port_join *j;
    struct ctl_join_req in;
    struct err err;
    char ip[64];
    const char *colon;
    const char *raft_id;
    json_t *action;
    json_t *actions;

    err_clear(&err);
    if (s == NULL) {
        err_set(&err, ERR_UNAVAILABLE, "this node is not a swarm manager");
        rpc_server_fail(req, &err);
        return;
    }
    if (!cluster_port_is_leader(p)) {
        struct cluster_port_relay *r = xcalloc(1, sizeof(*r));

        r->req = req;
        if (cluster_port_relay(p, r, "ca.join", req->body, &err) != 0) {
            free(r);
            rpc_server_fail(req, &err);
        }
        return;
    }
    memset(&in, 0, sizeof(in));
    in.token = json_string_value(json_object_get(req->body, "Token"));
    in.csr_pem = json_string_value(json_object_get(req->body, "CSR"));
    in.availability =
        json_string_value(json_object_get(req->body, "Availability"));
    raft_id = json_string_value(json_object_get(req->body, "RaftID"));
    in.raft_id = raft_id ? strtoull(raft_id, NULL, 10) : 0;
    in.advertise_addr =
        json_string_value(json_object_get(req->body, "AdvertiseAddr"));
    in.description = json_object_get(req->body, "Description");
    snprintf(ip, sizeof(ip), "%s", req->peer->addr);
    colon = strrchr(ip, ':');
    if (colon != NULL)
        ip[colon - ip] = '\0';
    if (ip[0] == '[') {
        memmove(ip, ip + 1, strlen(ip));
        ip[strcspn(ip, "]")] = '\0';
    }
    in.remote_ip = ip;
    if (in.csr_pem == NULL) {
        err_set(&err, ERR_INVALID, "a join request needs a CSR");
        rpc_server_fail(req, &err);
        return;
    }
    j = xcalloc(1, sizeof(*j));
    j->c = p->c;
    j->req = req;
    j->raft_id = in.raft_id;
    snprintf(j->addr, sizeof(j->addr), "%s",
             in.advertise_addr ? in.advertise_addr : "");
    action = ctl_join(s, &in, &j->out, &err);
    if (action == NULL) {
        if (err.code == ERR_INVALID) /* a bad token or CSR */
            rpc_server_warn(req, &err);
        free(j);
        rpc_server_fail(req, &err);
        return;
    }
    j->managers = cluster_port_managers(s);
    if (strcmp(j->out.role, "manager") == 0)
        json_array_append_new(j->managers,
                              json_pack("{s:s, s:s, s:I}", "NodeID",
                                        j->out.node_id, "Addr",
                                        in.advertise_addr, "RaftID",
                                        (json_int_t)in.raft_id));
    actions = json_array();
    json_array_append_new(actions, action);
    if (cluster_propose(p->c, actions, cluster_port_on_joined, j, &err) !=
        0) {
        free(j->out.cert_pem);
        json_decref(j->managers);
        free(j);
        rpc_server_fail(req, &err);
    }
}

static void cluster_port_on_forward_served(void *data, int status,
                                           const char *ctype,
                                           const char *body, size_t len)
{
    struct rpc_req *req = data;
    json_t *out = json_pack("{s:i, s:s?, s:s%}", "Status", status,
                            "ContentType", ctype, "Body", body, len);

    rpc_server_reply(req, out);
    json_decref(out);
}

static void cluster_port_control_forward(struct rpc_req *req, void *data)
{
    struct cluster_port *p = data;
    const char *method = json_string_value(json_object_get(req->body, "Method"));
    const char *url = json_string_value(json_object_get(req->body, "URL"));
    json_t *body = json_object_get(req->body, "Body");
    struct err err;

    if (method == NULL || url == NULL || !json_is_string(body)) {
        err_set(&err, ERR_PROTO, "control.forward: malformed request");
        rpc_server_fail(req, &err);
        return;
    }
    if (!cluster_port_is_leader(p)) {
        /* Never forwarded twice: two managers that disagree about the
         * leader must not bounce a request between them. */
        err_set(&err, ERR_UNAVAILABLE, "%s", cluster_port_no_leader);
        rpc_server_fail(req, &err);
        return;
    }
    api_serve_forwarded(p->c, method, url, json_string_value(body),
                        json_string_length(body),
                        cluster_port_on_forward_served, req);
}

/* --- a manager leaves Raft ---------------------------------------------- */

/* Removing a manager from Raft on the leader: first its node object loses
 * its Raft identity (so the leader can still propose even when it is the
 * one leaving), then the member is removed. */
struct cluster_port_leave
{
    struct consensus_op_req op;
    struct cluster *c;
    uint64_t raft_id;
    struct rpc_req *req;        /* answer this, or: */
    void (*cb)(void *data, int status, const struct err *err);
    void *data;
};

static void cluster_port_leave_done(struct cluster_port_leave *l, int status,
                                    const struct err *err)
{
    if (l->req != NULL) {
        if (status == 0)
            rpc_server_reply(l->req, NULL);
        else
            rpc_server_fail(l->req, err);
    } else if (l->cb != NULL) {
        l->cb(l->data, status, err);
    }
    free(l);
}

static void cluster_port_on_member_removed(struct consensus_op_req *op,
                                           int status)
{
    struct cluster_port_leave *l = op->data;

    cluster_port_leave_done(l, status, &op->err);
}

static void cluster_port_on_leave_applied(void *data, int status,
                                          const struct err *err,
                                          json_t *result)
{
    struct cluster_port_leave *l = data;
    struct err e;

    UNUSED(result);
    if (status != 0 || l->c->consensus == NULL) {
        cluster_port_leave_done(l, status ? status : -ERR_CANCELED, err);
        return;
    }
    err_clear(&e);
    l->op.data = l;
    if (consensus_remove_member(l->c->consensus, &l->op, l->raft_id,
                                cluster_port_on_member_removed, &e) != 0)
        cluster_port_leave_done(l, -e.code, &e);
}

/* On the leader: take manager node_id out of Raft. */
static int cluster_port_leave_start(struct cluster *c,
                                    struct cluster_port_leave *l,
                                    const char *node_id, struct err *err)
{
    json_t *node = store_get(c->store, STORE_NODE, node_id);
    json_t *raft = json_object_get(node, "_Raft");
    json_t *next;
    json_t *actions;

    if (raft == NULL)
        return err_set(err, ERR_NOTFOUND,
                       "node %s is not a member of the raft", node_id);
    l->c = c;
    l->raft_id = (uint64_t)json_integer_value(json_object_get(raft, "ID"));
    next = json_deep_copy(node);
    json_object_del(next, "_Raft");
    actions = json_array();
    json_array_append_new(actions, store_action_update(STORE_NODE, next, 0));
    return cluster_propose(c, actions, cluster_port_on_leave_applied, l, err);
}

static void cluster_port_raft_leave(struct rpc_req *req, void *data)
{
    struct cluster_port *p = data;
    struct cluster_port_leave *l;
    struct err err;

    err_clear(&err);
    if (!cluster_port_is_leader(p)) {
        struct cluster_port_relay *r = xcalloc(1, sizeof(*r));

        r->req = req;
        if (cluster_port_relay(p, r, "raft.leave", req->body, &err) != 0) {
            free(r);
            rpc_server_fail(req, &err);
        }
        return;
    }
    l = xcalloc(1, sizeof(*l));
    l->req = req;
    /* Who leaves comes from the certificate, never from the body. */
    if (cluster_port_leave_start(p->c, l, req->peer->node_id, &err) != 0) {
        free(l);
        rpc_server_fail(req, &err);
    }
}

struct cluster_port_leave_call
{
    struct rpc_call call;
    void (*cb)(void *data, int status, const struct err *err);
    void *data;
};

static void cluster_port_on_leave_called(struct rpc_call *call, int status,
                                         json_t *body)
{
    struct cluster_port_leave_call *lc = call->data;

    UNUSED(body);
    lc->cb(lc->data, status, &call->err);
    free(lc);
}

int cluster_port_leave_raft(struct cluster *c,
                            void (*cb)(void *data, int status,
                                       const struct err *err),
                            void *data, struct err *err)
{
    struct cluster_port *p = c->port;
    struct cluster_port_leave_call *lc;
    struct rpc_client *leader;

    if (p == NULL || c->consensus == NULL)
        return err_set(err, ERR_UNAVAILABLE, "this node is not a manager");
    if (cluster_port_is_leader(p)) {
        struct cluster_port_leave *l = xcalloc(1, sizeof(*l));
        int rv;

        l->cb = cb;
        l->data = data;
        rv = cluster_port_leave_start(c, l, c->node_id, err);
        if (rv != 0)
            free(l);
        return rv;
    }
    leader = cluster_port_leader(p, err);
    if (leader == NULL)
        return -err->code;
    lc = xcalloc(1, sizeof(*lc));
    lc->cb = cb;
    lc->data = data;
    lc->call.data = lc;
    lc->call.cb = cluster_port_on_leave_called;
    if (rpc_client_call(leader, &lc->call, "raft.leave", NULL,
                        CLUSTER_PORT__DIAL_MS, err) != 0) {
        free(lc);
        return -err->code;
    }
    return 0;
}

/* --- a manager is demoted ----------------------------------------------- */

#define CLUSTER_PORT__NO_QUORUM                                              \
    "rpc error: code = FailedPrecondition desc = can't remove member from " \
    "the raft: this would result in a loss of quorum"

struct cluster_port_demote
{
    struct consensus_op_req op;
    struct cluster *c;
    json_t *actions;              /* owned until proposed */
    uint64_t raft_id;
    cluster_done_cb cb;
    void *data;
};

static void cluster_port_demote_fail(struct cluster_port_demote *d,
                                     int status, const struct err *err)
{
    struct err e;

    if (status == -ERR_NOQUORUM) {
        err_set(&e, ERR_INVALID, "rpc error: code = FailedPrecondition "
                "desc = %s", err->msg);
        err = &e;
        status = -ERR_INVALID;
    }
    json_decref(d->actions);
    d->cb(d->data, status, err, NULL);
    free(d);
}

static void cluster_port_on_demoted(void *data, int status,
                                    const struct err *err, json_t *result)
{
    struct cluster_port_demote *d = data;

    d->cb(d->data, status, err, result);
    free(d);
}

static void cluster_port_on_demote_removed(struct consensus_op_req *op,
                                           int status)
{
    struct cluster_port_demote *d = op->data;
    struct err err;
    json_t *actions = d->actions;

    if (status != 0) {
        cluster_port_demote_fail(d, status, &op->err);
        return;
    }
    d->actions = NULL;
    err_clear(&err);
    if (cluster_propose(d->c, actions, cluster_port_on_demoted, d, &err) !=
        0)
        cluster_port_demote_fail(d, -err.code, &err);
}

int cluster_node_demote(struct cluster *c, uint64_t raft_id, json_t *actions,
                        cluster_done_cb cb, void *data, struct err *err)
{
    struct cluster_port_demote *d;

    if (c->consensus == NULL) {
        json_decref(actions);
        return err_set(err, ERR_UNAVAILABLE, "this node is not a manager");
    }
    if (raft_id == c->raft_id) {
        json_decref(actions);
        return err_set(err, ERR_INTERNAL, "a leader steps down before it "
                       "is demoted");
    }
    d = xcalloc(1, sizeof(*d));
    d->c = c;
    d->actions = actions;
    d->raft_id = raft_id;
    d->cb = cb;
    d->data = data;
    d->op.data = d;
    if (consensus_remove_member(c->consensus, &d->op, raft_id,
                                cluster_port_on_demote_removed, err) != 0) {
        if (err->code == ERR_NOQUORUM)
            err_set(err, ERR_INVALID, CLUSTER_PORT__NO_QUORUM);
        json_decref(d->actions);
        free(d);
        return -err->code;
    }
    return 0;
}

/* --- the leader steps down before its own demotion ---------------------- */

#define CLUSTER_PORT__READY_POLL_MS 10u
#define CLUSTER_PORT__READY_MAX_MS 2000u

struct cluster_port_step_down
{
    struct consensus_op_req op;
    struct cluster *c;
    uv_timer_t timer;             /* waits for the new leader's barrier */
    uint64_t applied;             /* applied index when leadership moved */
    uint64_t deadline;
    int status;
    struct err err;
    cluster_done_cb cb;
    void *data;
};

static void cluster_port_on_step_down_closed(uv_handle_t *h)
{
    struct cluster_port_step_down *sd = h->data;

    sd->cb(sd->data, sd->status, sd->status ? &sd->err : NULL, NULL);
    free(sd);
}

/* The new leader serves reads and writes once its first entry (a barrier)
 * is applied; this member sees that entry applied one heartbeat later. */
static void cluster_port_on_step_down_poll(uv_timer_t *t)
{
    struct cluster_port_step_down *sd = t->data;
    struct cluster *c = sd->c;

    if (c->consensus == NULL) {
        sd->status = err_set(&sd->err, ERR_CANCELED, "the manager stopped");
    } else if (consensus_applied_index(c->consensus) <= sd->applied &&
               uv_now(c->loop) < sd->deadline) {
        return;
    } else {
        log_info(LOG_CLUSTER, "stepped down for this manager's demotion: "
                 "raft %016" PRIx64 " leads", consensus_leader_id(
                                                   c->consensus));
    }
    uv_timer_stop(t);
    uv_close((uv_handle_t *)t, cluster_port_on_step_down_closed);
}

static void cluster_port_on_stepped_down(struct consensus_op_req *op,
                                         int status)
{
    struct cluster_port_step_down *sd = op->data;
    struct cluster *c = sd->c;

    sd->status = status;
    if (status != 0) {
        sd->err = op->err;
        uv_close((uv_handle_t *)&sd->timer, cluster_port_on_step_down_closed);
        return;
    }
    sd->applied = consensus_applied_index(c->consensus);
    sd->deadline = uv_now(c->loop) + CLUSTER_PORT__READY_MAX_MS;
    uv_timer_start(&sd->timer, cluster_port_on_step_down_poll,
                   CLUSTER_PORT__READY_POLL_MS, CLUSTER_PORT__READY_POLL_MS);
}

int cluster_node_step_down(struct cluster *c, cluster_done_cb cb,
                           void *data, struct err *err)
{
    struct cluster_port_step_down *sd;

    if (c->consensus == NULL || !consensus_is_leader(c->consensus))
        return err_set(err, ERR_NOTLEADER, "this node is not the leader");
    if (!consensus_can_remove(c->consensus, c->raft_id))
        return err_set(err, ERR_INVALID, CLUSTER_PORT__NO_QUORUM);
    sd = xcalloc(1, sizeof(*sd));
    sd->c = c;
    sd->cb = cb;
    sd->data = data;
    sd->op.data = sd;
    err_clear(&sd->err);
    if (consensus_transfer_leadership(c->consensus, &sd->op, 0,
                                      cluster_port_on_stepped_down,
                                      err) != 0) {
        free(sd);
        return -err->code;
    }
    uv_timer_init(c->loop, &sd->timer);
    sd->timer.data = sd;
    return 0;
}

/* --- certificates: what nodes report, root rotation -------------------- */

static void cluster_port_on_tls_applied(void *data, int status,
                                        const struct err *err,
                                        json_t *result)
{
    struct cluster *c = data;

    UNUSED(result);
    c->tls_busy = false;
    if (status != 0)
        log_info(LOG_CLUSTER, "node TLS info: %s", err->msg);
}

/* The leader records the TLSInfo a node reports with its heartbeat
 * (its trust root and its certificate's issuer) and, during a rotation,
 * ends it once every node has a certificate of the new root. One entry
 * in flight at a time; the next heartbeat tries again. */
static void cluster_port_track_tls(struct cluster_port *p,
                                   const char *node_id, const json_t *tls)
{
    const struct store *s = cluster_port_store(p);
    struct err err;
    json_t *action;
    json_t *actions;

    if (s == NULL || p->c->tls_busy)
        return;
    action = ctl_rotation_node_tls(s, node_id, tls);
    if (action != NULL) {
        log_info(LOG_CLUSTER, "node %s reports new TLS info", node_id);
    } else {
        action = ctl_rotation_finish(s);
        if (action == NULL)
            return;
        log_info(LOG_CLUSTER, "root CA rotation: every node has a "
                 "certificate of the new root; dropping the old root");
    }
    actions = json_array();
    json_array_append_new(actions, action);
    err_clear(&err);
    p->c->tls_busy = true;
    if (cluster_propose(p->c, actions, cluster_port_on_tls_applied, p->c,
                        &err) != 0) {
        p->c->tls_busy = false;
        log_info(LOG_CLUSTER, "node TLS info: %s", err.msg);
    }
}

/* The dispatcher's answer, plus what a node needs for its certificates:
 * the swarm's root CA (RootCA: a node trusts it once it changes) and,
 * during a rotation, the public key of the new root (RotateIssuer: a node
 * whose certificate has another issuer renews). */
static void cluster_port_serve_heartbeat(struct cluster_port *p,
                                         struct rpc_req *req,
                                         const char *node_id, const char *ip)
{
    const struct store *s = cluster_port_store(p);
    const json_t *cluster = s != NULL ? store_cluster(s) : NULL;
    const char *root = json_string_value(json_object_get(
        json_object_get(cluster, "_RootCA"), "CACert"));
    const char *target = ctl_rotation_target(cluster);
    json_t *out = NULL;
    char *subj = NULL;
    char *pub = NULL;
    struct err err;

    err_clear(&err);
    if (dispatcher_heartbeat(p->c->dispatcher, node_id, ip, &out, &err) !=
        0) {
        rpc_server_fail(req, &err);
        return;
    }
    if (root != NULL)
        json_object_set_new(out, "RootCA", json_string(root));
    if (target != NULL && ca_tls_info(target, &subj, &pub, NULL) == 0) {
        json_object_set_new(out, "RotateIssuer", json_string(pub));
        free(subj);
        free(pub);
    }
    /* Before the reply, which frees req. */
    cluster_port_track_tls(p, node_id, json_object_get(req->body, "TLSInfo"));
    rpc_server_reply(req, out);
    json_decref(out);
}

/* Served by the leader's dispatcher; a follower relays it once, naming
 * the caller (trusted by the leader because we are a manager). */
static void cluster_port_dispatcher_heartbeat(struct rpc_req *req, void *data)
{
    struct cluster_port *p = data;
    char node_id[STREAM_ID_MAX];
    char ip[64];
    bool forwarded;
    struct cluster_port_relay *r;
    struct err err;
    json_t *body;

    err_clear(&err);
    if (dispatcher_heartbeat_who(req, node_id, sizeof(node_id), ip,
                                 sizeof(ip), &forwarded, &err) != 0) {
        rpc_server_fail(req, &err);
        return;
    }
    if (cluster_port_is_leader(p)) {
        cluster_port_serve_heartbeat(p, req, node_id, ip);
        return;
    }
    if (forwarded || cluster_port_store(p) == NULL) {
        err_set(&err, ERR_UNAVAILABLE, "%s", cluster_port_no_leader);
        rpc_server_fail(req, &err);
        return;
    }
    r = xcalloc(1, sizeof(*r));
    r->req = req;
    body = dispatcher_heartbeat_relay_body(node_id, ip, req->body);
    if (cluster_port_relay(p, r, "dispatcher.heartbeat", body, &err) != 0) {
        free(r);
        rpc_server_fail(req, &err);
    }
    json_decref(body);
}

/* Tasks are served by the leader only: agents open their assignments
 * stream and send task statuses to the leader named in the heartbeat
 * answer (docs/internals/wire.md), so nothing is relayed. */
static void cluster_port_dispatcher_assignments(struct rpc_req *req,
                                                void *data)
{
    struct cluster_port *p = data;
    struct err err;

    if (cluster_port_is_leader(p)) {
        dispatcher_serve_assignments(p->c->dispatcher, req);
        return;
    }
    err_set(&err, ERR_UNAVAILABLE,
            "rpc error: code = Unavailable desc = dispatcher is stopped");
    rpc_server_fail(req, &err);
}

static void cluster_port_dispatcher_task_status(struct rpc_req *req,
                                                void *data)
{
    struct cluster_port *p = data;
    struct err err;

    if (cluster_port_is_leader(p)) {
        dispatcher_serve_update_task_status(p->c->dispatcher, req);
        return;
    }
    err_set(&err, ERR_UNAVAILABLE,
            "rpc error: code = Unavailable desc = dispatcher is stopped");
    rpc_server_fail(req, &err);
}

/* A node's agent stopping on purpose says so to the leader, over the
 * connection of its assignments stream (never relayed). */
static void cluster_port_dispatcher_leaving(struct rpc_req *req, void *data)
{
    struct cluster_port *p = data;
    struct err err;

    if (cluster_port_is_leader(p)) {
        dispatcher_serve_leaving(p->c->dispatcher, req);
        return;
    }
    err_set(&err, ERR_UNAVAILABLE,
            "rpc error: code = Unavailable desc = dispatcher is stopped");
    rpc_server_fail(req, &err);
}

/* --- a node renews its certificate for its desired role ----------------- */

/* Served by the leader (a follower relays it once, naming the caller): a
 * certificate for the CSR with the OU of the node's Spec.Role. A node
 * promoted to manager sends its new Raft ID and address: they are
 * committed as the node's `_Raft`, then the member is added to Raft. */
struct cluster_port_renew
{
    struct cluster *c;
    struct rpc_req *req;
    char *cert;
    const char *role;
    uint64_t raft_id;
    char node_id[STREAM_ID_MAX];
    char addr[128];
};

static void cluster_port_renew_reply(struct cluster_port_renew *rn)
{
    json_t *managers = rn->c->store ? cluster_port_managers(rn->c->store)
                                    : json_array();
    json_t *body = json_pack("{s:s, s:s, s:o}", "Role", rn->role,
                             "Certificate", rn->cert, "Managers", managers);

    /* A node renewing into (or in) the manager role: never a worker. */
    if (strcmp(rn->role, "manager") == 0)
        cluster_port_add_unlock_key(rn->c, body);
    rpc_server_reply(rn->req, body);
    json_decref(body);
    log_info(LOG_CLUSTER, "node %s renewed its certificate as a %s",
             rn->node_id, rn->role);
}

static void cluster_port_on_renew_applied(void *data, int status,
                                          const struct err *err,
                                          json_t *result)
{
    struct cluster_port_renew *rn = data;

    UNUSED(result);
    if (status != 0) {
        rpc_server_fail(rn->req, err);
    } else {
        cluster_port_renew_reply(rn);
        cluster_port_add_member(rn->c, rn->node_id, rn->raft_id, rn->addr);
    }
    free(rn->cert);
    free(rn);
}

static void cluster_port_ca_renew(struct rpc_req *req, void *data)
{
    struct cluster_port *p = data;
    const struct store *s = cluster_port_store(p);
    struct cluster_port_renew *rn;
    char node_id[STREAM_ID_MAX];
    char ip[64];
    bool forwarded;
    struct err err;
    const char *csr = json_string_value(json_object_get(req->body, "CSR"));
    const char *rid = json_string_value(json_object_get(req->body, "RaftID"));
    const char *addr =
        json_string_value(json_object_get(req->body, "AdvertiseAddr"));
    json_t *node, *raft, *next, *actions;
    const char *role;

    err_clear(&err);
    if (dispatcher_heartbeat_who(req, node_id, sizeof(node_id), ip,
                                 sizeof(ip), &forwarded, &err) != 0) {
        rpc_server_fail(req, &err);
        return;
    }
    if (!cluster_port_is_leader(p)) {
        struct cluster_port_relay *r;
        json_t *body;

        if (forwarded || s == NULL) {
            err_set(&err, ERR_UNAVAILABLE, "%s", cluster_port_no_leader);
            rpc_server_fail(req, &err);
            return;
        }
        r = xcalloc(1, sizeof(*r));
        r->req = req;
        body = json_deep_copy(req->body);
        json_object_set_new(body, "Forwarded", json_true());
        json_object_set_new(body, "NodeID", json_string(node_id));
        if (cluster_port_relay(p, r, "ca.renew", body, &err) != 0) {
            free(r);
            rpc_server_fail(req, &err);
        }
        json_decref(body);
        return;
    }
    node = store_get(s, STORE_NODE, node_id);
    role = json_string_value(
        json_object_get(json_object_get(node, "Spec"), "Role"));
    if (node == NULL || role == NULL) {
        err_set(&err, ERR_NOTFOUND,
                "rpc error: code = NotFound desc = node not registered");
        rpc_server_fail(req, &err);
        return;
    }
    if (csr == NULL) {
        err_set(&err, ERR_INVALID, "a renewal request needs a CSR");
        rpc_server_fail(req, &err);
        return;
    }
    raft = json_object_get(node, "_Raft");
    rn = xcalloc(1, sizeof(*rn));
    rn->c = p->c;
    rn->req = req;
    rn->role = strcmp(role, "manager") == 0 ? "manager" : "worker";
    rn->raft_id = rid ? strtoull(rid, NULL, 10) : 0;
    snprintf(rn->node_id, sizeof(rn->node_id), "%s", node_id);
    snprintf(rn->addr, sizeof(rn->addr), "%s", addr ? addr : "");
    if (strcmp(rn->role, "manager") == 0) {
        if (rn->raft_id == 0 || rn->addr[0] == '\0') {
            err_set(&err, ERR_INVALID, "a node renewing as a manager must "
                                       "send its raft ID and advertise "
                                       "address");
            goto fail;
        }
        if (raft != NULL &&
            (uint64_t)json_integer_value(json_object_get(raft, "ID")) !=
                rn->raft_id) {
            err_set(&err, ERR_CONFLICT,
                    "node %s is already a raft member with another ID",
                    node_id);
            goto fail;
        }
    } else if (raft != NULL) {
        err_set(&err, ERR_UNAVAILABLE,
                "node %s is still a member of the raft", node_id);
        goto fail;
    }
    if (ctl_rotation_issue(store_cluster(s), csr, node_id,
                           strcmp(rn->role, "manager") == 0
                               ? CA_ROLE_MANAGER
                               : CA_ROLE_WORKER,
                           &rn->cert, &err) != 0)
        goto fail;
    if (strcmp(rn->role, "worker") == 0 || raft != NULL) {
        /* A worker, or a manager asking again (the member is added). */
        cluster_port_renew_reply(rn);
        free(rn->cert);
        free(rn);
        return;
    }
    next = json_deep_copy(node);
    json_object_set_new(next, "_Raft",
                        json_pack("{s:s, s:I}", "Addr", rn->addr, "ID",
                                  (json_int_t)rn->raft_id));
    actions = json_array();
    json_array_append_new(actions,
                          store_action_update_status(STORE_NODE, next, 0));
    if (cluster_propose(p->c, actions, cluster_port_on_renew_applied, rn,
                        &err) != 0) {
        free(rn->cert);
        goto fail;
    }
    return;

fail:
    free(rn);
    rpc_server_fail(req, &err);
}

static void cluster_port_agent_logs(struct rpc_req *req, void *data)
{
    struct cluster_port *p = data;

    cluster_logs_serve(p->c, req);
}

static const struct rpc_method cluster_port_methods[] = {
    {"ca.renew", RPC_ROLE_NODE, cluster_port_ca_renew},
    {"raft.leave", RPC_ROLE_MANAGER, cluster_port_raft_leave},
    {"ca.root", RPC_ROLE_ANY, cluster_port_ca_root},
    {"ca.join", RPC_ROLE_ANY, cluster_port_ca_join},
    {"control.forward", RPC_ROLE_MANAGER, cluster_port_control_forward},
    {"dispatcher.heartbeat", RPC_ROLE_NODE,
     cluster_port_dispatcher_heartbeat},
    {"dispatcher.assignments", RPC_ROLE_NODE,
     cluster_port_dispatcher_assignments},
    {"dispatcher.update_task_status", RPC_ROLE_NODE,
     cluster_port_dispatcher_task_status},
    {"dispatcher.leaving", RPC_ROLE_NODE,
     cluster_port_dispatcher_leaving},
    {"agent.logs", RPC_ROLE_MANAGER, cluster_port_agent_logs},
};

/* --- listener ----------------------------------------------------------- */

static void cluster_port_on_conn_closed(struct rpc_conn *conn,
                                        const struct err *why, void *data)
{
    struct cluster_port_conn *pc = data;
    struct cluster_port *p = pc->port;

    UNUSED(conn);
    UNUSED(why);
    if (pc->prev != NULL)
        pc->prev->next = pc->next;
    else
        p->conns = pc->next;
    if (pc->next != NULL)
        pc->next->prev = pc->prev;
    free(pc);
    if (p->stopping) {
        p->n_closing--;
        if (p->n_closing == 0 && p->stop_cb != NULL)
            p->stop_cb(p->stop_data);
    }
}

static void cluster_port_on_accept(struct tls_stream_listener *l,
                                   struct stream *s, const char *alpn)
{
    struct cluster_port *p = tls_stream_listener_data(l);
    struct cluster_port_conn *pc;
    struct err err;

    err_clear(&err);
    if (s->peer.verified && p->c->store != NULL &&
        ctl_is_blacklisted(p->c->store, s->peer.node_id,
                           (int64_t)time(NULL))) {
        log_warn(LOG_CLUSTER,
                 "connection from %s refused: the certificate of removed "
                 "node %s",
                 s->peer.addr, s->peer.node_id);
        stream_close(s, NULL, NULL);
        return;
    }
    if (strcmp(alpn, cluster_port_alpn_raft) == 0) {
        if (cluster_port_accept_raft(p, s, &err) != 0) {
            if (err.code == ERR_FORBIDDEN) /* not a manager of ours */
                log_warn(LOG_CLUSTER, "raft connection from %s refused: %s",
                         s->peer.addr, err.msg);
            else
                log_info(LOG_CLUSTER, "raft connection from %s refused: %s",
                         s->peer.addr, err.msg);
            stream_close(s, NULL, NULL);
        }
        return;
    }
    pc = xcalloc(1, sizeof(*pc));
    pc->port = p;
    if (rpc_conn_new(p->c->loop, &s, &p->rpc, NULL,
                     cluster_port_on_conn_closed, pc, &pc->conn, &err) != 0) {
        log_warn(LOG_CLUSTER, "rpc connection: %s", err.msg);
        stream_close(s, NULL, NULL);
        free(pc);
        return;
    }
    pc->next = p->conns;
    if (p->conns != NULL)
        p->conns->prev = pc;
    p->conns = pc;
}

static char *cluster_port_read(struct cluster *c, const char *name,
                               struct err *err)
{
    char path[PATH_MAX];
    char *pem = NULL;

    if (cluster_paths(c, name, path, sizeof(path)) != 0) {
        err_set(err, ERR_IO, "data root path too long");
        return NULL;
    }
    if (fsutil_read_all(path, CLUSTER_PORT__PEM_MAX, &pem, NULL, err) != 0)
        return NULL;
    return pem;
}

int cluster_port_start(struct cluster *c, struct err *err)
{
    char *root = NULL;
    char *cert = NULL;
    char *key = NULL;
    int rv = -ERR_IO;

    if (c->port != NULL)
        return 0;
    root = cluster_port_read(c, "certificates/swarm-root-ca.crt", err);
    cert = root ? cluster_port_read(c, "certificates/swarm-node.crt", err)
                : NULL;
    key = cert ? cluster_node_key_pem(c, err) : NULL;
    if (key != NULL)
        rv = cluster_port_start_pem(c, root, cert, key, err);
    free(root);
    free(cert);
    free(key);
    return rv;
}

int cluster_port_start_pem(struct cluster *c, const char *root,
                           const char *cert, const char *key,
                           struct err *err)
{
    static const char *const alpn[] = {cluster_port_alpn_rpc,
                                       cluster_port_alpn_raft};
    struct tls_ctx_config cfg[3];
    struct tls_ctx *ctx[3];
    struct cluster_port *p;
    size_t i;
    int rv;

    if (c->port != NULL)
        return 0;
    /* The server, the client to managers and the client to any node:
     * one parse of the material for the three. */
    memset(cfg, 0, sizeof(cfg));
    cfg[0].is_server = true;
    cfg[0].alpn = alpn;
    cfg[0].n_alpn = ARRAY_SIZE(alpn);
    cfg[1].verify_name = "swarm-manager";
    for (i = 0; i < ARRAY_SIZE(cfg); i++) {
        cfg[i].root_pem = root;
        cfg[i].cert_pem = cert;
        cfg[i].key_pem = key;
    }
    rv = tls_ctx_new_shared(cfg, ARRAY_SIZE(cfg), ctx, err);
    if (rv != 0)
        return rv;
    p = xcalloc(1, sizeof(*p));
    p->c = c;
    rpc_server_init(&p->rpc, cluster_port_methods,
                    ARRAY_SIZE(cluster_port_methods), p);
    p->server_ctx = ctx[0];
    p->client_ctx = ctx[1];
    p->node_ctx = ctx[2];
    rv = tls_stream_listen(c->loop, p->server_ctx, c->listen_addr,
                           TLS_STREAM_HANDSHAKE_MS, cluster_port_on_accept, p,
                           &p->listener, err);
    if (rv != 0) {
        err_wrap(err, "failed to listen on remote API address");
        tls_ctx_free(p->node_ctx);
        tls_ctx_free(p->client_ctx);
        tls_ctx_free(p->server_ctx);
        free(p);
        return rv;
    }
    c->port = p;
    cluster_port_attach(c);
    log_info(LOG_CLUSTER, "cluster port listening on %s", c->listen_addr);
    return 0;
}

int cluster_port_reload(struct cluster *c, struct err *err)
{
    struct cluster_port *p = c->port;
    char *root = NULL;
    char *cert = NULL;
    char *key = NULL;
    int rv = -ERR_IO;

    if (p == NULL)
        return 0;
    root = cluster_port_read(c, "certificates/swarm-root-ca.crt", err);
    cert = root ? cluster_port_read(c, "certificates/swarm-node.crt", err)
                : NULL;
    key = cert ? cluster_node_key_pem(c, err) : NULL;
    if (key != NULL) {
        rv = tls_ctx_reload(p->server_ctx, root, cert, key, err);
        if (rv == 0)
            rv = tls_ctx_reload(p->client_ctx, root, cert, key, err);
        if (rv == 0)
            rv = tls_ctx_reload(p->node_ctx, root, cert, key, err);
    }
    free(root);
    free(cert);
    free(key);
    return rv;
}

static void cluster_port_on_listener_closed(struct tls_stream_listener *l)
{
    struct cluster_port *p = tls_stream_listener_data(l);

    p->n_closing--;
    if (p->n_closing == 0 && p->stop_cb != NULL)
        p->stop_cb(p->stop_data);
}

struct cluster_port_stop
{
    struct cluster_port *p;
    void (*cb)(void *data);
    void *data;
};

static void cluster_port_on_stopped(void *data)
{
    struct cluster_port_stop *st = data;
    struct cluster_port *p = st->p;

    tls_ctx_free(p->node_ctx);
    tls_ctx_free(p->client_ctx);
    tls_ctx_free(p->server_ctx);
    free(p);
    if (st->cb != NULL)
        st->cb(st->data);
    free(st);
}

void cluster_port_stop(struct cluster *c, void (*cb)(void *data), void *data)
{
    struct cluster_port *p = c->port;
    struct cluster_port_stop *st;
    struct cluster_port_conn *pc;

    if (p == NULL) {
        if (cb != NULL)
            cb(data);
        return;
    }
    c->port = NULL;
    st = xcalloc(1, sizeof(*st));
    st->p = p;
    st->cb = cb;
    st->data = data;
    p->stopping = true;
    p->stop_cb = cluster_port_on_stopped;
    p->stop_data = st;
    p->n_closing = 1; /* the listener */
    for (pc = p->conns; pc != NULL; pc = pc->next)
        p->n_closing++;
    if (c->consensus != NULL)
        consensus_set_dialer(c->consensus, NULL, NULL);
    {
        struct cluster_port_raft_dial *d;

        for (d = p->raft_dials; d != NULL; d = d->next)
            p->n_closing++;
        for (d = p->raft_dials; d != NULL;) {
            struct cluster_port_raft_dial *next = d->next;

            tls_stream_dial_cancel(&d->req);
            d = next;
        }
    }
    cluster_port_drop_leader(p);
    p->n_closing += p->n_oneshot;
    while (p->oneshots != NULL)
        cluster_port_oneshot_close(p->oneshots);
    for (pc = p->conns; pc != NULL;) {
        struct cluster_port_conn *next = pc->next;

        rpc_conn_close(pc->conn);
        pc = next;
    }
    tls_stream_listener_close(p->listener, cluster_port_on_listener_closed);
}

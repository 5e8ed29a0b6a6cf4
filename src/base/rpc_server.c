/* SPDX-License-Identifier: Apache-2.0 */
/* Serving RPC: the method table, role checks against the peer's
 * certificate, and the answer (once) and stream messages of a request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/rpc.h"
#include "base/rpc_int.h"

void rpc_server_init(struct rpc_server *srv, const struct rpc_method *methods,
                     size_t n_methods, void *data)
{
    srv->methods = methods;
    srv->n_methods = n_methods;
    srv->data = data;
}

int rpc_server_check_role(enum rpc_role role, const struct stream_peer *peer,
                          const char *method, struct err *err)
{
    bool manager = peer->verified && strcmp(peer->role, "swarm-manager") == 0;
    bool worker = peer->verified && strcmp(peer->role, "swarm-worker") == 0;

    switch (role) {
    case RPC_ROLE_ANY:
        return 0;
    case RPC_ROLE_NODE:
        if (manager || worker)
            return 0;
        return err_set(err, ERR_FORBIDDEN,
                       "permission denied: %s needs a worker or manager "
                       "certificate", method);
    case RPC_ROLE_MANAGER:
        if (manager)
            return 0;
        return err_set(err, ERR_FORBIDDEN,
                       "permission denied: %s needs a manager certificate",
                       method);
    }
    return err_set(err, ERR_FORBIDDEN, "permission denied: %s", method);
}

void rpc_server_log_refusal(struct rpc_conn *conn, const char *method,
                            const struct err *why)
{
    const struct stream_peer *peer = &conn->peer;
    const char *addr = peer->addr[0] != '\0' ? peer->addr : conn->name;
    char who[STREAM_ID_MAX + 48];

    if (peer->verified)
        snprintf(who, sizeof(who), "node %s, %s", peer->node_id,
                 peer->role);
    else
        snprintf(who, sizeof(who), "no certificate");
    if (conn->warned) {
        log_debug(LOG_RPC, "rpc %s from %s (%s) refused: %s", method, addr,
                  who, why->msg);
        return;
    }
    conn->warned = true;
    log_warn(LOG_RPC, "rpc %s from %s (%s) refused: %s", method, addr, who,
             why->msg);
}

void rpc_server_warn(const struct rpc_req *req, const struct err *err)
{
    rpc_server_log_refusal(req->conn, req->method, err);
}

static const struct rpc_method *rpc_server_find(const struct rpc_server *srv,
                                                const char *name)
{
    size_t i;

    if (srv == NULL)
        return NULL;
    for (i = 0; i < srv->n_methods; i++)
        if (strcmp(srv->methods[i].name, name) == 0)
            return &srv->methods[i];
    return NULL;
}

/* Answer a request that never reached a handler. */
static void rpc_server_refuse(struct rpc_conn *conn, uint32_t id,
                              uint8_t flags, const struct err *err)
{
    json_t *p = rpc_conn_status_payload(-err->code, err->msg, NULL);

    rpc_conn_send(conn,
                  (flags & RPC_FRAME_F_STREAM) ? RPC_FRAME_END
                                               : RPC_FRAME_RESPONSE,
                  0, id, p, NULL);
    json_decref(p);
}

void rpc_server_dispatch(struct rpc_conn *conn, uint32_t id, uint8_t flags,
                         json_t *payload)
{
    const struct rpc_method *m;
    struct rpc_req *req;
    const char *name;
    struct err err;

    name = json_string_value(json_object_get(payload, "method"));
    for (req = conn->reqs; req != NULL; req = req->next) {
        if (req->id == id) {
            json_decref(payload);
            err_set(&err, ERR_PROTO,
                    "connection to %s: protocol error: call id %u reused",
                    conn->name, id);
            rpc_conn_abort(conn, &err);
            return;
        }
    }
    if (conn->n_reqs >= RPC_CONN__MAX_REQS) {
        err_set(&err, ERR_UNAVAILABLE, "too many requests in flight");
        rpc_server_refuse(conn, id, flags, &err);
        goto out_payload;
    }
    m = rpc_server_find(conn->server, name);
    if (m == NULL) {
        err_set(&err, ERR_NOTFOUND, "unknown rpc method %s", name);
        rpc_server_log_refusal(conn, name != NULL ? name : "(none)", &err);
        rpc_server_refuse(conn, id, flags, &err);
        goto out_payload;
    }
    if (rpc_server_check_role(m->role, &conn->peer, m->name, &err) != 0) {
        rpc_server_log_refusal(conn, m->name, &err);
        rpc_server_refuse(conn, id, flags, &err);
        goto out_payload;
    }
    req = xcalloc(1, sizeof(*req));
    req->peer = &conn->peer;
    req->method = m->name;
    req->payload = payload;
    req->body = json_object_get(payload, "body");
    if (req->body == NULL)
        req->body = json_null();
    req->stream = (flags & RPC_FRAME_F_STREAM) != 0;
    req->conn = conn;
    req->id = id;
    req->next = conn->reqs;
    if (conn->reqs != NULL)
        conn->reqs->prev = req;
    conn->reqs = req;
    conn->n_reqs++;
    conn->refs++;
    m->handler(req, conn->server->data);
    return;

out_payload:
    json_decref(payload);
}

void rpc_server_cancel(struct rpc_req *req)
{
    rpc_req_cancel_cb cb = req->cancel_cb;

    req->canceled = true;
    req->cancel_cb = NULL;
    if (cb != NULL)
        cb(req, req->cancel_data);
}

bool rpc_server_peer_lost(const struct rpc_req *req)
{
    return req->conn->failed && req->conn->why.code != ERR_CANCELED;
}

bool rpc_server_on_cancel(struct rpc_req *req, rpc_req_cancel_cb cb,
                          void *data)
{
    if (req->canceled)
        return false;
    req->cancel_cb = cb;
    req->cancel_data = data;
    return true;
}

static void rpc_server_answer(struct rpc_req *req, int status,
                              const char *msg, json_t *body)
{
    struct rpc_conn *conn = req->conn;
    uint8_t type = req->stream ? RPC_FRAME_END : RPC_FRAME_RESPONSE;
    struct err err;
    json_t *p;
    int rv;

    /* A canceled call is already complete on the client side. */
    if (!req->canceled && rpc_conn_is_open(conn)) {
        p = rpc_conn_status_payload(status, msg, body);
        rv = rpc_conn_send(conn, type, 0, req->id, p, &err);
        json_decref(p);
        if (rv == -ERR_TOOBIG) {
            log_warn(LOG_RPC, "rpc %s answer to %s: %s", req->method,
                     conn->name, err.msg);
            p = rpc_conn_status_payload(-ERR_TOOBIG, err.msg, NULL);
            rpc_conn_send(conn, type, 0, req->id, p, NULL);
            json_decref(p);
        }
    }
    rpc_conn_req_done(conn, req);
}

void rpc_server_reply(struct rpc_req *req, json_t *body)
{
    rpc_server_answer(req, 0, "", body);
}

void rpc_server_fail(struct rpc_req *req, const struct err *err)
{
    int code = err->code > ERR_OK && err->code < ERR__COUNT ? err->code
                                                            : ERR_INTERNAL;

    if (code == ERR_FORBIDDEN || code == ERR_UNAUTHORIZED)
        rpc_server_log_refusal(req->conn, req->method, err);
    rpc_server_answer(req, -code, err->msg, NULL);
}

int rpc_server_send(struct rpc_req *req, json_t *body, struct err *err)
{
    json_t *p;
    int rv;

    if (!req->stream)
        return err_set(err, ERR_INVALID, "rpc %s is not a stream call",
                       req->method);
    if (req->canceled || !rpc_conn_is_open(req->conn))
        return err_set(err, ERR_CANCELED, "rpc %s canceled", req->method);
    p = json_object();
    json_object_set(p, "body", body != NULL ? body : json_null());
    rv = rpc_conn_send(req->conn, RPC_FRAME_STREAM, 0, req->id, p, err);
    json_decref(p);
    if (rv == -ERR_UNAVAILABLE)
        return err_set(err, ERR_CANCELED, "rpc %s canceled: connection "
                       "lost", req->method);
    return rv;
}

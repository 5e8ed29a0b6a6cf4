/* SPDX-License-Identifier: Apache-2.0 */
/*
 * "agent.logs" on every node's cluster port: a manager asks for the logs
 * of this node's task containers (docker service logs). Body {"Containers":
 * [id...], "Stdout": bool, "Stderr": bool, "Tail": n (negative: all)};
 * answer {"Logs": [{"C": id, "S": 1|2, "L": "<RFC 3339 time> <line>"}]},
 * every record timestamped (the manager merges nodes by time), at most
 * CLUSTER_LOGS_MAX bytes of lines (the newest are kept). With "Follow" on
 * a server stream, each record goes out at once as a stream message
 * {"Logs": [record]} until every container stopped or the caller
 * cancels.
 */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/rpc.h"
#include "cluster/cluster_int.h"
#include "engine/engine.h"

#define CLUSTER_LOGS_MAX (3u * 1024 * 1024)
#define CLUSTER_LOGS_MAX_CONTAINERS 1000u

struct cluster_logs_reader;

struct cluster_logs_req
{
    struct rpc_req *req;
    json_t *logs;        /* owned: the records so far */
    size_t bytes;
    unsigned pending;    /* readers still running, +1 while starting */
    bool follow;         /* records are streamed as they come */
    struct cluster_logs_reader *readers; /* the running ones */
};

/* One reader: its container ID for the records. */
struct cluster_logs_reader
{
    struct cluster_logs_req *r;
    char *cid;           /* owned */
    struct engine_logs *l;
    bool starting;       /* inside engine_container_logs */
    bool ended;          /* its end came while starting */
    struct cluster_logs_reader *prev, *next;
};

static void cluster_logs_finish(struct cluster_logs_req *r)
{
    json_t *body;

    if (--r->pending > 0)
        return;
    body = json_pack("{s:o}", "Logs", r->logs);
    rpc_server_reply(r->req, body);
    json_decref(body);
    free(r);
}

static void cluster_logs_reader_free(struct cluster_logs_reader *rd)
{
    struct cluster_logs_req *r = rd->r;

    if (rd->prev != NULL)
        rd->prev->next = rd->next;
    else
        r->readers = rd->next;
    if (rd->next != NULL)
        rd->next->prev = rd->prev;
    free(rd->cid);
    free(rd);
}

/* The caller gave up on a follow: stop every reader, then answer. */
static void cluster_logs_on_cancel(struct rpc_req *req, void *data)
{
    struct cluster_logs_req *r = data;

    (void)req;
    while (r->readers != NULL) {
        engine_logs_cancel(r->readers->l);
        cluster_logs_reader_free(r->readers);
        r->pending--;
    }
    r->pending++;
    cluster_logs_finish(r);
}

static void cluster_logs_on_record(void *data, int stream, const char *buf,
                                   size_t len)
{
    struct cluster_logs_reader *rd = data;
    struct cluster_logs_req *r = rd->r;

    if (stream == 0 && len == 0) {
        if (rd->starting) {
            rd->ended = true;
            return;
        }
        cluster_logs_reader_free(rd);
        cluster_logs_finish(r);
        return;
    }
    if (r->follow) {
        json_t *msg = json_pack("{s:[{s:s, s:i, s:s%}]}", "Logs", "C",
                                rd->cid, "S", stream, "L", buf, len);
        struct err err;

        (void)rpc_server_send(r->req, msg, &err);
        json_decref(msg);
        return;
    }
    /* over the cap: the oldest records go first */
    while (r->bytes + len > CLUSTER_LOGS_MAX && json_array_size(r->logs) > 0) {
        r->bytes -= strlen(json_string_value(
            json_object_get(json_array_get(r->logs, 0), "L")));
        json_array_remove(r->logs, 0);
    }
    if (len > CLUSTER_LOGS_MAX)
        return;
    json_array_append_new(r->logs,
                          json_pack("{s:s, s:i, s:s%}", "C", rd->cid, "S",
                                    stream, "L", buf, len));
    r->bytes += len;
}

void cluster_logs_serve(struct cluster *c, struct rpc_req *req)
{
    json_t *ids = json_object_get(req->body, "Containers");
    json_t *tail = json_object_get(req->body, "Tail");
    struct engine_logs_opts o;
    struct cluster_logs_req *r;
    struct cluster_logs_reader *rd;
    struct err err;
    json_t *v;
    size_t i;

    if (c->engine == NULL) {
        err_set(&err, ERR_UNAVAILABLE, "agent.logs: this node has no engine");
        rpc_server_fail(req, &err);
        return;
    }
    if (!json_is_array(ids) ||
        json_array_size(ids) > CLUSTER_LOGS_MAX_CONTAINERS ||
        (tail != NULL && !json_is_integer(tail))) {
        err_set(&err, ERR_PROTO, "agent.logs: malformed request");
        rpc_server_fail(req, &err);
        return;
    }
    memset(&o, 0, sizeof(o));
    o.out = json_is_true(json_object_get(req->body, "Stdout"));
    o.errs = json_is_true(json_object_get(req->body, "Stderr"));
    o.timestamps = true;
    o.follow = req->stream &&
               json_is_true(json_object_get(req->body, "Follow"));
    o.tail = tail != NULL ? (long)json_integer_value(tail) : -1;
    r = xcalloc(1, sizeof(*r));
    r->req = req;
    r->logs = json_array();
    r->pending = 1;
    r->follow = o.follow;
    json_array_foreach(ids, i, v) {
        if (!json_is_string(v))
            continue;
        rd = xcalloc(1, sizeof(*rd));
        rd->r = r;
        rd->cid = xstrdup(json_string_value(v));
        rd->next = r->readers;
        if (r->readers != NULL)
            r->readers->prev = rd;
        r->readers = rd;
        r->pending++;
        rd->starting = true;
        rd->l = engine_container_logs(c->engine, rd->cid, &o,
                                      cluster_logs_on_record, rd, &err);
        rd->starting = false;
        if (rd->l == NULL)
            log_debug(LOG_CLUSTER, "agent.logs: %s: %s", rd->cid, err.msg);
        if (rd->l == NULL || rd->ended) {
            cluster_logs_reader_free(rd);
            r->pending--;
        }
    }
    /* canceled already: stop the readers now */
    if (o.follow && r->pending > 1 &&
        !rpc_server_on_cancel(req, cluster_logs_on_cancel, r))
        cluster_logs_on_cancel(req, r);
    cluster_logs_finish(r);
}

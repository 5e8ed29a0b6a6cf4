/* SPDX-License-Identifier: Apache-2.0 */
/* Debug endpoints, compiled into test builds only (SHOAL_TESTING). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/api_int.h"
#include "base/ids.h"
#include "base/mem.h"
#include "cluster/cluster.h"
#include "manager/ca/ca.h"
#include "manager/store/store.h"

#ifdef SHOAL_TESTING
/* GET /_shoal/debug/store-digest: this manager's own store (never
 * forwarded), so tests can check that every manager converged. */
void api_debug_store_digest(struct api_req *req)
{
    struct err err;
    const struct store *s;
    char digest[CA_DIGEST_HEX_LEN + 1];
    char *snap;
    size_t len;

    err_clear(&err);
    s = cluster_local_store(req->cluster);
    if (s == NULL) {
        api_reply_error(req, ERR_UNAVAILABLE, "no store on this node");
        return;
    }
    snap = store_snapshot(s, &len);
    ca_digest_hex(snap, len, digest);
    free(snap);
    api_reply_json(req, 200,
                   json_pack("{s:I, s:s, s:I, s:b}", "Index",
                             (json_int_t)store_index(s), "Digest", digest,
                             "Term",
                             (json_int_t)cluster_raft_term(req->cluster),
                             "Leader", cluster_is_leader(req->cluster)));
}
#endif

#ifdef SHOAL_TESTING
/* The server's streaming, hijack, body-file and pattern plumbing, driven
 * by tests/unit/api/test_api_router.c. */

struct api_debug_stream
{
    struct api_req *req;
    int left;
    int i;
};

static void api_debug_stream_next(void *data)
{
    struct api_debug_stream *st = data;
    char chunk[32];

    if (st->left == 0 || st->req->conn == NULL) {
        api_stream_end(st->req);
        free(st);
        return;
    }
    snprintf(chunk, sizeof(chunk), "chunk %d\n", st->i++);
    st->left--;
    api_stream_write(st->req, chunk, strlen(chunk));
    api_stream_on_drain(st->req, api_debug_stream_next, st);
}

/* GET /_shoal/debug/stream?n=N: N chunks, each sent once the last one
 * left. */
void api_debug_stream(struct api_req *req)
{
    struct api_debug_stream *st = calloc(1, sizeof(*st));
    char *n = api_query_get(req, "n");

    st->req = req;
    st->left = n ? atoi(n) : 1;
    free(n);
    api_stream_begin(req, 200, "text/plain");
    api_debug_stream_next(st);
}

static void api_debug_on_hijack_read(void *data, const char *buf, long len)
{
    struct api_hijack **hp = data;
    char up[4096];
    long i;

    if (len < 0) {
        api_hijack_write(*hp, "bye\n", 4);
        api_hijack_close(*hp);
        free(hp);
        return;
    }
    while (len > 0) {
        long n = len < (long)sizeof(up) ? len : (long)sizeof(up);

        for (i = 0; i < n; i++)
            up[i] = (char)toupper((unsigned char)buf[i]);
        api_hijack_write(*hp, up, (size_t)n);
        buf += n;
        len -= n;
    }
}

/* POST /_shoal/debug/hijack: echoes the raw stream in capitals; "bye"
 * and the end once the client closed its side. */
void api_debug_hijack(struct api_req *req)
{
    struct api_hijack **hp = calloc(1, sizeof(*hp));

    *hp = api_hijack(req, "application/vnd.docker.raw-stream",
                     api_debug_on_hijack_read, hp);
    if (*hp == NULL)
        free(hp);
}

/* POST /_shoal/debug/body-file: the spooled body's size. */
void api_debug_body_file(struct api_req *req)
{
    struct stat st;

    if (req->body_path == NULL || stat(req->body_path, &st) != 0) {
        api_reply_error(req, ERR_INTERNAL, "no body file");
        return;
    }
    api_reply_json(req, 200,
                   json_pack("{s:I, s:I}", "Size", (json_int_t)st.st_size,
                             "InMemory", (json_int_t)req->body.len));
}

/* GET /_shoal/debug/params/{+}/tail/{}: the matched parameters. */
void api_debug_params(struct api_req *req)
{
    api_reply_json(req, 200,
                   json_pack("[s,s]", req->params[0], req->params[1]));
}
#endif

#ifdef SHOAL_TESTING
/* Tasks by hand until services exist (issue 5), served by the leader:
 * POST /_shoal/debug/tasks with a Task body creates it (ID, DesiredState
 * "running" and an assigned Status filled in when absent) and answers
 * {"ID"}; POST /_shoal/debug/tasks/{id}/update merges the body's fields
 * into the task (DesiredState, NodeID...); DELETE /_shoal/debug/tasks/{id}
 * removes it. */

static void api_debug_task_done(void *data, int status,
                                const struct err *err, json_t *result)
{
    struct api_req *req = data;

    UNUSED(result);
    if (status != 0)
        api_reply_err(req, err);
    else
        api_reply_empty(req, 200);
}

#define API_DEBUG__MAX_TASKS 200u /* one entry: the store's cap */

struct api_debug_task_op
{
    struct api_req *req;
    json_t *ids;                  /* owned: the answer's [{"ID"}] */
    bool batch;                   /* the body was an array */
};

static void api_debug_task_created(void *data, int status,
                                   const struct err *err, json_t *result)
{
    struct api_debug_task_op *op = data;

    UNUSED(result);
    if (status != 0)
        api_reply_err(op->req, err);
    else if (op->batch)
        api_reply_json(op->req, 201, json_incref(op->ids));
    else
        api_reply_json(op->req, 201,
                       json_incref(json_array_get(op->ids, 0)));
    json_decref(op->ids);
    free(op);
}

static void api_debug_task_op_free(void *data)
{
    struct api_debug_task_op *op = data;

    json_decref(op->ids);
    free(op);
}

static void api_debug_task_propose(struct api_req *req, json_t *actions,
                                   cluster_done_cb cb, void *data,
                                   void (*free_data)(void *data))
{
    struct err err;

    err_clear(&err);
    if (cluster_propose(req->cluster, actions, cb, data, &err) != 0) {
        api_reply_err(req, &err);
        if (free_data != NULL)
            free_data(data);
    }
}

/* Fill in what a debug task may leave out; the store action for it (task
 * is borrowed: the action holds a reference of its own). */
static json_t *api_debug_task_action(json_t *task)
{
    char id[IDS_LEN + 1];
    bool assigned = json_object_get(task, "NodeID") != NULL;

    if (json_string_value(json_object_get(task, "ID")) == NULL) {
        ids_new(id);
        json_object_set_new(task, "ID", json_string(id));
    }
    if (json_object_get(task, "DesiredState") == NULL)
        json_object_set_new(task, "DesiredState", json_string("running"));
    if (json_object_get(task, "Labels") == NULL)
        json_object_set_new(task, "Labels", json_object());
    if (json_object_get(task, "Status") == NULL)
        json_object_set_new(
            task, "Status",
            json_pack("{s:s, s:s}", "State",
                      assigned ? "assigned" : "pending", "Message",
                      assigned ? "scheduler assigned task to node"
                               : "pending task scheduling"));
    return store_action_create(STORE_TASK, json_incref(task));
}

/* The body is one Task, or an array of up to API_DEBUG__MAX_TASKS created
 * in one Raft entry (scale benchmarks): answers {"ID"} or [{"ID"}]. */
void api_debug_task_create(struct api_req *req)
{
    struct err err;
    const struct store *s = cluster_manager_store(req->cluster, &err);
    json_t *body = NULL;
    json_t *actions;
    json_t *task;
    struct api_debug_task_op *op;
    bool batch;
    size_t i;

    if (s == NULL || api_body_json(req, &body, &err) != 0) {
        api_reply_err(req, &err);
        return;
    }
    batch = json_is_array(body);
    if (json_is_object(body)) {
        task = body;
        body = json_array();
        json_array_append_new(body, task);
    }
    if (json_array_size(body) == 0 ||
        json_array_size(body) > API_DEBUG__MAX_TASKS) {
        json_decref(body);
        api_reply_error(req, ERR_INVALID,
                        "a Task object or an array of 1 to %u is required",
                        API_DEBUG__MAX_TASKS);
        return;
    }
    json_array_foreach(body, i, task) {
        if (!json_is_object(task)) {
            json_decref(body);
            api_reply_error(req, ERR_INVALID, "a Task object is required");
            return;
        }
    }
    op = xcalloc(1, sizeof(*op));
    op->req = req;
    op->batch = batch;
    op->ids = json_array();
    actions = json_array();
    json_array_foreach(body, i, task) {
        json_array_append_new(actions, api_debug_task_action(task));
        json_array_append_new(
            op->ids, json_pack("{s:O}", "ID", json_object_get(task, "ID")));
    }
    json_decref(body);
    api_debug_task_propose(req, actions, api_debug_task_created, op,
                           api_debug_task_op_free);
}

void api_debug_task_update(struct api_req *req)
{
    struct err err;
    const struct store *s = cluster_manager_store(req->cluster, &err);
    json_t *patch = NULL;
    json_t *task;

    if (s == NULL || api_body_json(req, &patch, &err) != 0) {
        api_reply_err(req, &err);
        return;
    }
    task = store_get(s, STORE_TASK, req->params[0]);
    if (task == NULL || !json_is_object(patch)) {
        json_decref(patch);
        api_reply_error(req, task ? ERR_INVALID : ERR_NOTFOUND,
                        task ? "an object is required"
                             : "task %s not found", req->params[0]);
        return;
    }
    task = json_deep_copy(task);
    json_object_update(task, patch);
    json_decref(patch);
    api_debug_task_propose(req,
                           json_pack("[o]", store_action_update(STORE_TASK,
                                                                task, 0)),
                           api_debug_task_done, req, NULL);
}

void api_debug_task_delete(struct api_req *req)
{
    struct err err;

    if (cluster_manager_store(req->cluster, &err) == NULL) {
        api_reply_err(req, &err);
        return;
    }
    api_debug_task_propose(
        req, json_pack("[o]", store_action_delete(STORE_TASK, req->params[0])),
        api_debug_task_done, req, NULL);
}
#endif

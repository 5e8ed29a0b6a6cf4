/* SPDX-License-Identifier: Apache-2.0 */
/* /services: create, list with filters and status, inspect, update,
 * rollback, delete (SWARM-FACTS 8.5). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api_int.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/mem.h"
#include "cluster/cluster.h"
#include "manager/controlapi/ctl.h"
#include "manager/orchestrator/orch.h"
#include "manager/scheduler/sched.h"
#include "manager/store/store.h"

#define API_SERVICE_LOGS_TIMEOUT_MS 10000u

/* A reply waiting for its entry: the new service's ID, if any. */
struct api_service_op
{
    struct api_req *req;
    char id[IDS_LEN + 1];
    bool warn;                    /* API < 1.30: the digest warning */
    char *image;                  /* owned: the image warned about */
};

/* Docker's names for unnamed services (a small share of moby's lists). */
static void api_service_random_name(char *out, size_t len)
{
    static const char *const left[] = {
        "admiring", "brave",   "clever", "dazzling", "eager",   "festive",
        "gifted",   "happy",   "jolly",  "keen",     "lucid",   "modest",
        "nifty",    "optimistic", "peaceful", "quirky", "relaxed", "serene",
        "trusting", "vibrant", "wizardly", "zealous"};
    static const char *const right[] = {
        "babbage", "curie",   "darwin",  "einstein", "feynman", "galileo",
        "hopper",  "johnson", "kepler",  "lovelace", "meitner", "newton",
        "pasteur", "ritchie", "shannon", "thompson", "turing",  "wozniak"};

    snprintf(out, len, "%s_%s",
             left[(size_t)random() % (sizeof(left) / sizeof(left[0]))],
             right[(size_t)random() % (sizeof(right) / sizeof(right[0]))]);
}

static void api_service_now(char *out, size_t len)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    sched_timestamp((int64_t)ts.tv_sec * ORCH_NS_PER_SEC + ts.tv_nsec, out,
                    len);
}

/* The service as the API shows it; insertDefaults fills the specs. */
static json_t *api_service_view(const json_t *svc, bool defaults)
{
    json_t *out = api_public_copy(svc);
    static const char *const specs[] = {"Spec", "PreviousSpec", NULL};
    size_t i;

    if (!defaults)
        return out;
    for (i = 0; specs[i] != NULL; i++) {
        json_t *spec = json_object_get(out, specs[i]);

        if (json_is_object(spec))
            json_object_set_new(out, specs[i],
                                ctl_service_spec_defaults(spec));
    }
    return out;
}

static const struct store *api_services_store(struct api_req *req)
{
    struct err err;
    const struct store *s = cluster_manager_store(req->cluster, &err);

    if (s == NULL)
        api_reply_err(req, &err);
    return s;
}

/* The service the path names (borrowed from the store, which *sp gets
 * when sp is not NULL), or NULL once the error is replied. */
static json_t *api_services_find(struct api_req *req, const struct store **sp)
{
    const struct store *s = api_services_store(req);
    struct err err;
    json_t *svc;

    if (s == NULL)
        return NULL;
    svc = ctl_service_lookup(store_all(s, STORE_SERVICE), req->params[0],
                             &err);
    if (svc == NULL) {
        api_reply_err(req, &err);
        return NULL;
    }
    if (sp != NULL)
        *sp = s;
    return svc;
}

/* --- create ------------------------------------------------------------- */

static void api_services_created(void *data, int status,
                                 const struct err *err, json_t *result)
{
    struct api_service_op *op = data;
    json_t *body;

    (void)result;
    if (status != 0) {
        api_reply_err(op->req, err);
    } else {
        body = json_pack("{s:s}", "ID", op->id);
        if (op->warn) {
            char *w = xasprintf(
                "image %s could not be accessed on a registry to record\n"
                "its digest. Each node will access %s independently,\n"
                "possibly leading to different nodes running\n"
                "different versions of the image.\n",
                op->image, op->image);

            json_object_set_new(body, "Warnings", json_pack("[s]", w));
            free(w);
        }
        api_reply_json(op->req, 201, body);
    }
    free(op->image);
    free(op);
}

void api_services_create(struct api_req *req)
{
    const struct store *s = api_services_store(req);
    struct api_service_op *op;
    struct err err;
    json_t *spec = NULL;
    json_t *svc;
    json_t *actions;
    const char *image;
    char name[64];

    if (s == NULL)
        return;
    if (api_body_json(req, &spec, &err) != 0) {
        api_reply_err(req, &err);
        return;
    }
    if (!json_is_object(spec)) {
        json_decref(spec);
        api_reply_error(req, ERR_INVALID,
                        "json: cannot unmarshal %s into Go value of type "
                        "swarm.ServiceSpec",
                        spec == NULL ? "null" : "non-object");
        return;
    }
    if (json_string_value(json_object_get(spec, "Name")) == NULL ||
        json_string_value(json_object_get(spec, "Name"))[0] == '\0') {
        api_service_random_name(name, sizeof(name));
        json_object_set_new(spec, "Name", json_string(name));
    }
    svc = ctl_service_create(store_all(s, STORE_SERVICE), spec, &err);
    json_decref(spec);
    if (svc != NULL && ctl_secret_refs_check(s, svc, &err) != 0) {
        json_decref(svc);
        svc = NULL;
    }
    if (svc == NULL) {
        api_reply_err(req, &err);
        return;
    }
    op = xcalloc(1, sizeof(*op));
    op->req = req;
    snprintf(op->id, sizeof(op->id), "%s", store_obj_id(svc));
    image = json_string_value(json_object_get(
        json_object_get(json_object_get(json_object_get(svc, "Spec"),
                                        "TaskTemplate"),
                        "ContainerSpec"),
        "Image"));
    /* Clients >= 1.30 resolve digests themselves (and warn); older ones
     * left it to the daemon, which has no registry to ask. */
    if (image != NULL && strchr(image, '@') == NULL &&
        !api_version_at_least(req, 1, 30)) {
        op->warn = true;
        op->image = xstrdup(image);
    }
    actions = json_array();
    json_array_append_new(actions, store_action_create(STORE_SERVICE, svc));
    if (cluster_propose(req->cluster, actions, api_services_created, op,
                        &err) != 0) {
        free(op->image);
        free(op);
        api_reply_err(req, &err);
    }
}

/* --- list / inspect ----------------------------------------------------- */

/* ServiceStatus as moby computes it from the service's tasks ({ID:
 * task}, may be NULL): running tasks on nodes not down; desired: the replica
 * count, for global services the tasks not shut down, for jobs the tasks
 * still to complete; jobs count completed tasks of the current
 * iteration. */
static json_t *api_service_status(const struct store *s, const json_t *svc,
                                  const json_t *tasks)
{
    const char *mode = orch_service_mode(svc);
    const json_t *spec_mode = json_object_get(
        json_object_get(svc, "Spec"), "Mode");
    json_int_t iter = json_integer_value(json_object_get(
        json_object_get(json_object_get(svc, "JobStatus"), "JobIteration"),
        "Index"));
    json_int_t running = 0;
    json_int_t live = 0;
    json_int_t completed = 0;
    json_int_t desired;
    const char *id;
    json_t *t;

    json_object_foreach((json_t *)tasks, id, t) {
        const char *nid = json_string_value(json_object_get(t, "NodeID"));
        const json_t *node = nid != NULL ? store_get(s, STORE_NODE, nid)
                                         : NULL;
        const char *ns = json_string_value(json_object_get(
            json_object_get(node, "Status"), "State"));

        if (store_task_desired(t) != STORE_TASK_SHUTDOWN &&
            store_task_desired(t) < STORE_TASK_REMOVE)
            live++;
        if (node != NULL && (ns == NULL || strcmp(ns, "down") != 0) &&
            store_task_state(t) == STORE_TASK_RUNNING)
            running++;
        if (store_task_state(t) == STORE_TASK_COMPLETE &&
            json_integer_value(json_object_get(
                json_object_get(t, "JobIteration"), "Index")) == iter)
            completed++;
    }
    if (mode != NULL && strcmp(mode, "replicated") == 0) {
        desired = json_integer_value(json_object_get(
            json_object_get(spec_mode, "Replicated"), "Replicas"));
    } else if (mode != NULL && strcmp(mode, "replicated-job") == 0) {
        /* the lesser of MaxConcurrent and the completions still to go */
        const json_t *rj = json_object_get(spec_mode, "ReplicatedJob");

        desired = json_integer_value(json_object_get(rj,
                                                     "TotalCompletions")) -
                  completed;
        if (desired > json_integer_value(json_object_get(rj,
                                                         "MaxConcurrent")))
            desired = json_integer_value(json_object_get(rj,
                                                         "MaxConcurrent"));
        if (desired < 0)
            desired = 0;
    } else if (mode != NULL && strcmp(mode, "global-job") == 0) {
        /* the tasks that have yet to complete (the CLI adds completed) */
        desired = live > completed ? live - completed : 0;
    } else {
        desired = live;
    }
    if (mode != NULL && strstr(mode, "-job") != NULL)
        return json_pack("{s:I, s:I, s:I}", "RunningTasks", running,
                         "DesiredTasks", desired, "CompletedTasks",
                         completed);
    return json_pack("{s:I, s:I, s:I}", "RunningTasks", running,
                     "DesiredTasks", desired, "CompletedTasks",
                     (json_int_t)0);
}

void api_services_list(struct api_req *req)
{
    static const char *const keys[] = {"id", "name", "label", "mode", NULL};
    const struct store *s = api_services_store(req);
    struct err err;
    json_t *filters;
    json_t *by_svc;
    json_t *out;
    json_t *v;
    const char *id;
    json_t *svc;
    size_t i;
    bool status;

    if (s == NULL)
        return;
    filters = api_filters_parse(req, keys, &err);
    if (filters == NULL) {
        api_reply_err(req, &err);
        return;
    }
    json_array_foreach(json_object_get(filters, "mode"), i, v) {
        const char *m = json_string_value(v);

        if (strcmp(m, "replicated") != 0 && strcmp(m, "global") != 0 &&
            strcmp(m, "replicated-job") != 0 && strcmp(m, "global-job") != 0) {
            json_decref(filters);
            api_reply_error(req, ERR_INVALID,
                            "Invalid filter: 'mode'='%s'", m);
            return;
        }
    }
    status = api_query_bool(req, "status");
    by_svc = status ? orch_tasks_by_service(store_all(s, STORE_TASK))
                    : NULL;
    out = json_array();
    json_object_foreach(store_all(s, STORE_SERVICE), id, svc) {
        const json_t *spec = json_object_get(svc, "Spec");
        const char *mode = orch_service_mode(svc);
        json_t *view;

        if (!api_filters_match_prefix(filters, "id", id) ||
            !api_filters_match_prefix(
                filters, "name",
                json_string_value(json_object_get(spec, "Name"))) ||
            !api_filters_match(filters, "mode", mode ? mode : "") ||
            !api_filters_match_labels(filters, "label",
                                      json_object_get(spec, "Labels")))
            continue;
        view = api_service_view(svc, false);
        if (status)
            json_object_set_new(view, "ServiceStatus",
                                api_service_status(
                                    s, svc, json_object_get(by_svc, id)));
        json_array_append_new(out, view);
    }
    json_decref(by_svc);
    json_decref(filters);
    api_reply_json(req, 200, out);
}

void api_services_inspect(struct api_req *req)
{
    json_t *svc = api_services_find(req, NULL);

    if (svc == NULL)
        return;
    api_reply_json(req, 200,
                   api_service_view(svc,
                                    api_query_bool(req, "insertDefaults")));
}

/* --- update / delete ---------------------------------------------------- */

static void api_services_updated(void *data, int status,
                                 const struct err *err, json_t *result)
{
    struct api_req *req = data;

    (void)result;
    if (status != 0)
        api_reply_err(req, err);
    else
        api_reply_json(req, 200, json_object());
}

void api_services_update(struct api_req *req)
{
    const struct store *s = api_services_store(req);
    struct err err;
    json_t *spec = NULL;
    json_t *next;
    json_t *actions;
    char *rollback;
    bool back;
    uint64_t version;
    char now[48];

    if (s == NULL)
        return;
    if (api_version_param(req, "service", &version, &err) != 0) {
        api_reply_err(req, &err);
        return;
    }
    rollback = api_query_get(req, "rollback");
    if (rollback != NULL && rollback[0] != '\0' &&
        strcmp(rollback, "previous") != 0) {
        api_reply_error(req, ERR_INVALID,
                        "unrecognized rollback option %s", rollback);
        free(rollback);
        return;
    }
    back = rollback != NULL && strcmp(rollback, "previous") == 0;
    free(rollback);
    if (api_body_json(req, &spec, &err) != 0) {
        api_reply_err(req, &err);
        return;
    }
    if (!back && !json_is_object(spec)) {
        json_decref(spec);
        api_reply_error(req, ERR_INVALID,
                        "json: cannot unmarshal %s into Go value of type "
                        "swarm.ServiceSpec",
                        spec == NULL ? "null" : "non-object");
        return;
    }
    api_service_now(now, sizeof(now));
    next = ctl_service_update(store_all(s, STORE_SERVICE), req->params[0],
                              version, spec, back, now, &err);
    json_decref(spec);
    if (next != NULL && ctl_secret_refs_check(s, next, &err) != 0) {
        json_decref(next);
        next = NULL;
    }
    if (next == NULL) {
        api_reply_err(req, &err);
        return;
    }
    actions = json_array();
    json_array_append_new(actions,
                          store_action_update(STORE_SERVICE, next, version));
    if (cluster_propose(req->cluster, actions, api_services_updated, req,
                        &err) != 0)
        api_reply_err(req, &err);
}

static void api_services_deleted(void *data, int status,
                                 const struct err *err, json_t *result)
{
    struct api_req *req = data;

    (void)result;
    if (status != 0)
        api_reply_err(req, err);
    else
        api_reply_empty(req, 200);
}

void api_services_delete(struct api_req *req)
{
    const struct store *s = NULL;
    json_t *svc = api_services_find(req, &s);
    struct err err;
    json_t *actions;
    const char *sid;
    const char *id;
    json_t *t;

    if (svc == NULL)
        return;
    sid = store_obj_id(svc);
    actions = json_array();
    json_array_append_new(actions, store_action_delete(STORE_SERVICE, sid));
    /* Its tasks stop and go (the orchestration loop deletes them once
     * they stopped); more than an entry holds are left to the loop. */
    json_object_foreach(store_all(s, STORE_TASK), id, t) {
        const char *tsid = json_string_value(json_object_get(t,
                                                             "ServiceID"));
        json_t *copy;

        if (tsid == NULL || strcmp(tsid, sid) != 0 ||
            store_task_desired(t) >= STORE_TASK_REMOVE ||
            json_array_size(actions) >= 200)
            continue;
        copy = json_deep_copy(t);
        json_object_set_new(copy, "DesiredState", json_string("remove"));
        json_array_append_new(actions,
                              store_action_update(STORE_TASK, copy,
                                                  store_obj_version(t)));
    }
    if (cluster_propose(req->cluster, actions, api_services_deleted, req,
                        &err) != 0)
        api_reply_err(req, &err);
}

/* --- logs --------------------------------------------------------------- */

/*
 * GET /services/{id}/logs: the store names each task's node and
 * container; each node is asked for its containers' logs over the cluster
 * port ("agent.logs"), and the records are written as Docker's stream:
 * "[time ]details line" where details are the
 * com.docker.swarm.{node,service,task}.id attributes the CLI reads to print
 * "<task>@<node> | line". Without follow the records of all nodes are
 * merged by time; with follow each node streams its records as they come
 * (until every container stopped or the client goes away).
 */
struct api_service_logs;

/* One node's call. */
struct api_service_logs_call
{
    struct api_service_logs *sl;
    struct cluster_call *call;    /* valid until done */
    bool done;
};

struct api_service_logs
{
    struct api_req *req;
    json_t *tasks;     /* owned: container ID -> {"task", "node"} */
    json_t *records;   /* owned: [[time, stream, cid, line]] */
    struct api_service_logs_call *calls; /* owned, n_calls of them */
    size_t n_calls;
    char sid[IDS_LEN + 1];
    unsigned pending;  /* node calls in flight, +1 while starting */
    bool timestamps;
    bool details;
    bool tty;
    bool follow;
};

static int api_service_logs_write(void *sink, const void *b, size_t n)
{
    return api_stream_write(sink, b, n);
}

static int api_service_logs_cmp(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a;
    const json_t *y = *(json_t *const *)b;

    return strcmp(json_string_value(json_array_get(x, 0)),
                  json_string_value(json_array_get(y, 0)));
}

/* Write one record [time, stream, cid, line] as a frame. */
static void api_service_logs_emit(struct api_service_logs *sl,
                                  const json_t *rec, struct buf *line)
{
    const char *cid = json_string_value(json_array_get(rec, 2));
    const json_t *t = json_object_get(sl->tasks, cid);
    const char *text = json_string_value(json_array_get(rec, 3));

    buf_reset(line);
    if (sl->timestamps)
        (void)buf_printf(line, "%s ",
                         json_string_value(json_array_get(rec, 0)));
    if (sl->details)
        (void)buf_printf(line,
                         "com.docker.swarm.node.id=%s,"
                         "com.docker.swarm.service.id=%s,"
                         "com.docker.swarm.task.id=%s ",
                         json_string_value(json_object_get(t, "node")),
                         sl->sid,
                         json_string_value(json_object_get(t, "task")));
    (void)buf_append(line, text, strlen(text));
    api_containers_frame(sl->req, sl->tty,
                         (int)json_integer_value(json_array_get(rec, 1)),
                         line->data, line->len, api_service_logs_write);
}

static void api_service_logs_finish(struct api_service_logs *sl)
{
    size_t n = json_array_size(sl->records);
    json_t **v;
    struct buf line;
    size_t i;

    if (--sl->pending > 0)
        return;
    if (!sl->follow)
        api_stream_begin(sl->req, 200,
                         sl->tty
                             ? "application/vnd.docker.raw-stream"
                             : "application/vnd.docker.multiplexed-stream");
    v = xcalloc(n + 1, sizeof(*v));
    for (i = 0; i < n; i++)
        v[i] = json_array_get(sl->records, i);
    qsort(v, n, sizeof(*v), api_service_logs_cmp);
    buf_init(&line, 8u * 1024 * 1024);
    for (i = 0; i < n; i++)
        api_service_logs_emit(sl, v[i], &line);
    buf_release(&line);
    free(v);
    api_stream_end(sl->req);
    json_decref(sl->tasks);
    json_decref(sl->records);
    free(sl->calls);
    free(sl);
}

/* The records of an answer or stream message, kept or written. */
static void api_service_logs_take(struct api_service_logs *sl,
                                  const json_t *body)
{
    struct buf line;
    json_t *rec;
    size_t i;

    buf_init(&line, 8u * 1024 * 1024);
    json_array_foreach(json_object_get(body, "Logs"), i, rec) {
        const char *cid = json_string_value(json_object_get(rec, "C"));
        const char *l = json_string_value(json_object_get(rec, "L"));
        json_int_t st = json_integer_value(json_object_get(rec, "S"));
        const char *sp = l != NULL ? strchr(l, ' ') : NULL;
        json_t *r;

        if (cid == NULL || sp == NULL ||
            json_object_get(sl->tasks, cid) == NULL || (st != 1 && st != 2))
            continue;
        r = json_pack("[s%, I, s, s]", l, (size_t)(sp - l), st, cid, sp + 1);
        if (sl->follow) {
            api_service_logs_emit(sl, r, &line);
            json_decref(r);
        } else {
            json_array_append_new(sl->records, r);
        }
    }
    buf_release(&line);
}

static void api_service_logs_on_msg(void *data, json_t *msg)
{
    struct api_service_logs_call *lc = data;

    api_service_logs_take(lc->sl, msg);
}

static void api_service_logs_on_node(void *data, int status,
                                     const struct err *err, json_t *result)
{
    struct api_service_logs_call *lc = data;
    struct api_service_logs *sl = lc->sl;

    lc->done = true;
    lc->call = NULL;
    if (status != 0 && status != -ERR_CANCELED)
        log_warn(LOG_API, "service logs: a node did not answer: %s",
                 err != NULL ? err->msg : "?");
    api_service_logs_take(sl, result);
    api_service_logs_finish(sl);
}

/* The client went away while following: stop every node's stream. */
static void api_service_logs_on_close(void *data)
{
    struct api_service_logs *sl = data;
    size_t i;

    sl->pending++;
    for (i = 0; i < sl->n_calls; i++) {
        if (!sl->calls[i].done && sl->calls[i].call != NULL)
            cluster_node_call_cancel(sl->calls[i].call);
    }
    api_service_logs_finish(sl);
}

/* The cluster port address of a node: a manager's Raft address, else the
 * address it advertised when it joined. */
static const char *api_service_node_addr(const json_t *node)
{
    const char *a = json_string_value(
        json_object_get(json_object_get(node, "_Raft"), "Addr"));

    return a != NULL ? a : json_string_value(json_object_get(node, "_Addr"));
}

void api_services_logs(struct api_req *req)
{
    const struct store *s = NULL;
    json_t *svc = api_services_find(req, &s);
    struct api_service_logs *sl;
    struct err err;
    json_t *by_node;
    json_t *ids;
    json_t *body;
    char *tail;
    const char *id;
    json_t *t;
    long ntail = -1;
    bool out;
    bool errs;

    if (svc == NULL)
        return;
    out = api_query_bool(req, "stdout");
    errs = api_query_bool(req, "stderr");
    if (!out && !errs) {
        api_reply_error(req, ERR_INVALID, "Bad parameters: you must choose "
                                          "at least one stream");
        return;
    }
    tail = api_query_get(req, "tail");
    if (tail != NULL && tail[0] != '\0' && strcmp(tail, "all") != 0) {
        char *end;

        ntail = strtol(tail, &end, 10);
        if (*end != '\0' || ntail < 0)
            ntail = -1;
    }
    free(tail);
    sl = xcalloc(1, sizeof(*sl));
    sl->req = req;
    sl->tasks = json_object();
    sl->records = json_array();
    snprintf(sl->sid, sizeof(sl->sid), "%s", store_obj_id(svc));
    sl->timestamps = api_query_bool(req, "timestamps");
    sl->details = api_query_bool(req, "details");
    sl->tty = json_is_true(json_object_get(
        json_object_get(json_object_get(json_object_get(svc, "Spec"),
                                        "TaskTemplate"),
                        "ContainerSpec"),
        "TTY"));
    sl->follow = api_query_bool(req, "follow");
    sl->pending = 1;
    by_node = json_object();
    json_object_foreach(store_all(s, STORE_TASK), id, t) {
        const char *tsid = json_string_value(json_object_get(t,
                                                             "ServiceID"));
        const char *nid = json_string_value(json_object_get(t, "NodeID"));
        const char *cid = json_string_value(json_object_get(
            json_object_get(json_object_get(t, "Status"), "ContainerStatus"),
            "ContainerID"));

        if (tsid == NULL || strcmp(tsid, sl->sid) != 0 || nid == NULL ||
            cid == NULL)
            continue;
        json_object_set_new(sl->tasks, cid,
                            json_pack("{s:s, s:s}", "task", id, "node", nid));
        ids = json_object_get(by_node, nid);
        if (ids == NULL) {
            ids = json_array();
            json_object_set_new(by_node, nid, ids);
        }
        json_array_append_new(ids, json_string(cid));
    }
    sl->calls = xcalloc(json_object_size(by_node) + 1, sizeof(*sl->calls));
    if (sl->follow) {
        api_stream_begin(req, 200,
                         sl->tty
                             ? "application/vnd.docker.raw-stream"
                             : "application/vnd.docker.multiplexed-stream");
        api_req_on_close(req, api_service_logs_on_close, sl);
    }
    json_object_foreach(by_node, id, ids) {
        const char *addr = api_service_node_addr(store_get(s, STORE_NODE,
                                                           id));
        struct api_service_logs_call *lc = &sl->calls[sl->n_calls];

        if (addr == NULL)
            continue;
        body = json_pack("{s:O, s:b, s:b, s:I, s:b}", "Containers", ids,
                         "Stdout", out, "Stderr", errs, "Tail",
                         (json_int_t)ntail, "Follow", sl->follow);
        lc->sl = sl;
        sl->n_calls++;
        sl->pending++;
        if (cluster_node_call(req->cluster, addr, "agent.logs", body,
                              sl->follow ? 0 : API_SERVICE_LOGS_TIMEOUT_MS,
                              sl->follow ? api_service_logs_on_msg : NULL,
                              api_service_logs_on_node, lc, &lc->call,
                              &err) != 0) {
            log_warn(LOG_API, "service logs: node %s: %s", id, err.msg);
            lc->done = true;
            sl->pending--;
        }
        json_decref(body);
    }
    json_decref(by_node);
    api_service_logs_finish(sl);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The task executor: assignments to containers (see agent_exec.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/agent_exec.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/mem.h"
#include "manager/store/store.h"

struct agent_task
{
    char id[IDS_LEN + 1];
    json_t *task;                 /* owned: the latest assignment */
    json_t *status;               /* owned: the last status reported */
    int state;                    /* its state (numeric) */
    char *cid;                    /* owned: the container's ID, or NULL */
    bool assigned;                /* in the current assignment set */
    bool busy;                    /* an engine operation in flight */
    bool stopping;                /* stop in flight: its die is expected */
    void *health;                 /* health watch, or NULL */
    bool unhealthy;               /* stopped for failing its healthcheck */
    struct agent_exec *x;
    bool files;                   /* its secrets tmpfs is mounted */
    bool deferred;                /* a slow step waits for the next turn */
    struct agent_task *next;
};

struct agent_exec
{
    struct agent_exec_ops ops;
    void *ops_data;
    char node_id[IDS_LEN + 1];
    void (*notify)(void *data);
    void *data;
    struct agent_task *tasks;
    json_t *pending;              /* owned: task id -> Status to send */
    json_t *deps;                 /* owned: {"Secret": {ID: object},
                                     "Config": {...}} as assigned, with
                                     their data: in memory only */
    void *sub;                    /* engine event subscription, or NULL */
    unsigned n_ops;               /* engine operations in flight */
    bool dead;                    /* freed once n_ops is 0 */
    void (*wake)(void *data);     /* agent_exec_set_pacer's, or NULL */
    void *wake_data;
    unsigned slow;                /* slow steps since the last resume */
    bool wake_pending;
};

/* An engine operation in flight for a task. */
struct agent_exec_op
{
    struct agent_exec *x;
    char id[IDS_LEN + 1];
};

static void agent_exec_step(struct agent_exec *x, struct agent_task *t);

/* --- helpers ------------------------------------------------------------ */

static const char *agent_exec_str(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));

    return v ? v : "";
}

static struct agent_task *agent_exec_find(const struct agent_exec *x,
                                          const char *id)
{
    struct agent_task *t;

    for (t = x->tasks; t != NULL; t = t->next)
        if (strcmp(t->id, id) == 0)
            return t;
    return NULL;
}

static struct agent_task *agent_exec_find_cid(const struct agent_exec *x,
                                              const char *cid)
{
    struct agent_task *t;

    for (t = x->tasks; t != NULL; t = t->next)
        if (t->cid != NULL && strcmp(t->cid, cid) == 0)
            return t;
    return NULL;
}

static void agent_exec_health_stop(struct agent_task *t)
{
    if (t->health == NULL)
        return;
    t->x->ops.health_stop(t->x->ops_data, t->health);
    t->health = NULL;
}

static void agent_exec_task_free(struct agent_task *t)
{
    agent_exec_health_stop(t);
    json_decref(t->task);
    json_decref(t->status);
    free(t->cid);
    free(t);
}

static void agent_exec_unlink(struct agent_exec *x, struct agent_task *t)
{
    struct agent_task **pp;

    for (pp = &x->tasks; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            return;
        }
    }
}

static void agent_exec_now(char *out, size_t len)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, ts.tv_nsec);
}

/* Report state with message; err_msg (may be NULL) goes to Status.Err,
 * exit_code >= 0 to ContainerStatus.ExitCode; pid > 0 to PID. */
static void agent_exec_report(struct agent_exec *x, struct agent_task *t,
                              int state, const char *message,
                              const char *err_msg, int exit_code, long pid)
{
    char when[64];
    json_t *cs = json_object();
    json_t *st;

    agent_exec_now(when, sizeof(when));
    if (t->cid != NULL)
        json_object_set_new(cs, "ContainerID", json_string(t->cid));
    if (pid > 0)
        json_object_set_new(cs, "PID", json_integer(pid));
    if (exit_code >= 0)
        json_object_set_new(cs, "ExitCode", json_integer(exit_code));
    st = json_pack("{s:s, s:s, s:s, s:o, s:{}}", "Timestamp", when, "State",
                   store_task_state_name(state), "Message", message,
                   "ContainerStatus", cs, "PortStatus");
    if (err_msg != NULL)
        json_object_set_new(st, "Err", json_string(err_msg));
    log_info(LOG_CLUSTER, "agent: task %s is %s%s%s", t->id,
             store_task_state_name(state), err_msg ? ": " : "",
             err_msg ? err_msg : "");
    json_decref(t->status);
    t->status = st;
    t->state = state;
    json_object_set(x->pending, t->id, st);
    if (x->notify != NULL)
        x->notify(x->data);
}

char *agent_exec_container_name(const json_t *task)
{
    const char *id = agent_exec_str(task, "ID");
    const char *svc = agent_exec_str(
        json_object_get(task, "ServiceAnnotations"), "Name");
    const char *name = agent_exec_str(task, "Name");
    json_t *slot = json_object_get(task, "Slot");
    char buf[512];

    if (svc[0] != '\0' && json_integer_value(slot) > 0)
        snprintf(buf, sizeof(buf), "%s.%lld.%s", svc,
                 (long long)json_integer_value(slot), id);
    else if (svc[0] != '\0')
        snprintf(buf, sizeof(buf), "%s.%s.%s", svc,
                 agent_exec_str(task, "NodeID"), id);
    else if (name[0] != '\0')
        snprintf(buf, sizeof(buf), "%s.%s", name, id);
    else
        snprintf(buf, sizeof(buf), "%s", id);
    return xstrdup(buf);
}

/* The ContainerCreate body of a task (Docker's swarm executor: Command
 * is the entrypoint, Args the command). New reference. */
static json_t *agent_exec_create_body(const struct agent_exec *x,
                                      const json_t *task, const char *name)
{
    json_t *cs = json_object_get(json_object_get(task, "Spec"),
                                 "ContainerSpec");
    json_t *labels = json_object();
    json_t *host = json_object();
    json_t *body;
    json_t *grace = json_object_get(cs, "StopGracePeriod");
    static const struct
    {
        const char *from, *to;
    } copy[] = {
        {"Image", "Image"},       {"Command", "Entrypoint"},
        {"Args", "Cmd"},          {"Env", "Env"},
        {"Dir", "WorkingDir"},    {"User", "User"},
        {"Hostname", "Hostname"}, {"TTY", "Tty"},
        {"OpenStdin", "OpenStdin"}, {"StopSignal", "StopSignal"},
        {"Healthcheck", "Healthcheck"},
    };
    size_t i;

    body = json_object();
    for (i = 0; i < sizeof(copy) / sizeof(copy[0]); i++) {
        json_t *v = json_object_get(cs, copy[i].from);

        if (v != NULL)
            json_object_set(body, copy[i].to, v);
    }
    if (json_is_object(json_object_get(cs, "Labels")))
        json_object_update(labels, json_object_get(cs, "Labels"));
    json_object_set_new(labels, "com.docker.swarm.task.id",
                        json_string(agent_exec_str(task, "ID")));
    json_object_set_new(labels, "com.docker.swarm.task.name",
                        json_string(name));
    json_object_set_new(labels, "com.docker.swarm.service.id",
                        json_string(agent_exec_str(task, "ServiceID")));
    json_object_set_new(
        labels, "com.docker.swarm.service.name",
        json_string(agent_exec_str(json_object_get(task,
                                                   "ServiceAnnotations"),
                                   "Name")));
    json_object_set_new(labels, "com.docker.swarm.node.id",
                        json_string(x->node_id));
    json_object_set_new(body, "Labels", labels);
    if (json_is_integer(grace))
        json_object_set_new(
            body, "StopTimeout",
            json_integer(json_integer_value(grace) / 1000000000LL));
    if (json_is_true(json_object_get(cs, "ReadOnly")))
        json_object_set_new(host, "ReadonlyRootfs", json_true());
    if (json_object_get(cs, "Init") != NULL)
        json_object_set(host, "Init", json_object_get(cs, "Init"));
    if (json_is_array(json_object_get(cs, "Mounts")))
        json_object_set(host, "Mounts", json_object_get(cs, "Mounts"));
    json_object_set_new(body, "HostConfig", host);
    return body;
}

static int agent_exec_grace_s(const json_t *task)
{
    json_t *g = json_object_get(
        json_object_get(json_object_get(task, "Spec"), "ContainerSpec"),
        "StopGracePeriod");

    if (json_is_integer(g) && json_integer_value(g) >= 0)
        return (int)(json_integer_value(g) / 1000000000LL);
    return AGENT_EXEC_DEFAULT_GRACE_S;
}

/* --- engine operations in flight ---------------------------------------- */

static struct agent_exec_op *agent_exec_op_new(struct agent_exec *x,
                                               struct agent_task *t)
{
    struct agent_exec_op *op = xcalloc(1, sizeof(*op));

    op->x = x;
    snprintf(op->id, sizeof(op->id), "%s", t->id);
    t->busy = true;
    x->n_ops++;
    return op;
}

/* The operation ended: its task (NULL if gone or the executor is dead).
 * Frees op, and x when it was the last operation of a dead executor. */
static struct agent_task *agent_exec_op_done(struct agent_exec_op *op)
{
    struct agent_exec *x = op->x;
    struct agent_task *t = NULL;

    x->n_ops--;
    if (!x->dead) {
        t = agent_exec_find(x, op->id);
        if (t != NULL)
            t->busy = false;
    } else if (x->n_ops == 0) {
        json_decref(x->pending);
        json_decref(x->deps);
        free(x);
    }
    free(op);
    return t;
}

static long agent_exec_pid(struct agent_exec *x, const char *cid)
{
    struct err err;
    json_t *info = x->ops.inspect(x->ops_data, cid, &err);
    long pid = (long)json_integer_value(
        json_object_get(json_object_get(info, "State"), "Pid"));

    json_decref(info);
    return pid;
}

static void agent_exec_stop(struct agent_exec *x, struct agent_task *t);

static void agent_exec_on_health(void *data, bool healthy)
{
    struct agent_task *t = data;
    struct agent_exec *x = t->x;

    if (x->dead || t->state >= STORE_TASK_COMPLETE)
        return;
    if (healthy) {
        if (t->state == STORE_TASK_STARTING)
            agent_exec_report(x, t, STORE_TASK_RUNNING, "started", NULL, -1,
                              agent_exec_pid(x, t->cid));
        return;
    }
    log_info(LOG_CLUSTER, "agent: task %s: container unhealthy", t->id);
    t->unhealthy = true;
    if (!t->busy && t->cid != NULL)
        agent_exec_stop(x, t);
}

static void agent_exec_on_started(void *data, int status,
                                  const struct err *err)
{
    struct agent_exec_op *op = data;
    struct agent_exec *x = op->x;
    struct agent_task *t = agent_exec_op_done(op);

    if (t == NULL)
        return;
    if (status != 0) {
        agent_exec_report(x, t, STORE_TASK_FAILED, "starting",
                          err ? err->msg : "start failed", -1, 0);
        return;
    }
    if (t->state == STORE_TASK_STARTING && x->ops.health_watch != NULL &&
        t->health == NULL)
        t->health = x->ops.health_watch(x->ops_data, t->cid,
                                        agent_exec_on_health, t);
    /* with a healthcheck: running once healthy */
    if (t->state == STORE_TASK_STARTING && t->health == NULL)
        agent_exec_report(x, t, STORE_TASK_RUNNING, "started", NULL, -1,
                          agent_exec_pid(x, t->cid));
    agent_exec_step(x, t);
}

static void agent_exec_on_stopped(void *data, int status,
                                  const struct err *err)
{
    struct agent_exec_op *op = data;
    struct agent_exec *x = op->x;
    struct agent_task *t = agent_exec_op_done(op);

    if (t == NULL)
        return;
    t->stopping = false;
    if (status != 0)
        log_warn(LOG_CLUSTER, "agent: task %s: stop: %s", t->id,
                 err ? err->msg : "");
    if (t->state < STORE_TASK_COMPLETE)
        agent_exec_report(x, t, STORE_TASK_SHUTDOWN, "shutdown", NULL, -1,
                          0);
    agent_exec_step(x, t);
}

static void agent_exec_on_removed(void *data, int status,
                                  const struct err *err)
{
    struct agent_exec_op *op = data;
    struct agent_exec *x = op->x;
    struct agent_task *t = agent_exec_op_done(op);

    if (t == NULL)
        return;
    /* The engine's removal completes with the container's last exit
     * code; only a negative status is a failure. */
    if (status < 0)
        log_warn(LOG_CLUSTER, "agent: task %s: remove its container: %s",
                 t->id, err ? err->msg : "");
    free(t->cid);
    t->cid = NULL;
    agent_exec_step(x, t);
}

/* A container of no task (cid owned by the callee's operation). */
static void agent_exec_on_orphan_removed(void *data, int status,
                                         const struct err *err)
{
    struct agent_exec *x = data;

    if (status < 0)
        log_warn(LOG_CLUSTER, "agent: remove a container of an unassigned "
                 "task: %s", err ? err->msg : "");
    x->n_ops--;
    if (x->dead && x->n_ops == 0) {
        json_decref(x->pending);
        json_decref(x->deps);
        free(x);
    }
}

/* --- secrets and configs ----------------------------------------------- */

/* A File's UID or GID: Docker sends strings ("0"); numbers are taken. */
static int agent_exec_file_id(const json_t *file, const char *key,
                              json_int_t *out)
{
    json_t *v = json_object_get(file, key);
    const char *sv = json_string_value(v);
    char *end;
    unsigned long n;

    if (v == NULL || (sv != NULL && sv[0] == '\0')) {
        *out = 0;
        return 0;
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = json_integer_value(v);
        return 0;
    }
    if (sv == NULL || sv[0] < '0' || sv[0] > '9')
        return -1;
    n = strtoul(sv, &end, 10);
    if (*end != '\0' || n > 0x7fffffffUL)
        return -1;
    *out = (json_int_t)n;
    return 0;
}

/*
 * Mount the task's secrets (/run/secrets/<File.Name>, or File.Name when
 * absolute) and configs (File.Name when absolute, else /<File.Name>) on
 * its tmpfs and add read-only binds of the files to body's
 * HostConfig.Mounts. 0 (nothing to do, or done), or -code with err (a
 * dependency the node was not sent, a bad reference, the mount).
 */
static int agent_exec_files(struct agent_exec *x, struct agent_task *t,
                            json_t *body, struct err *err)
{
    static const char *const kinds[] = {"Secret", "Config"};
    json_t *cs = json_object_get(json_object_get(t->task, "Spec"),
                                 "ContainerSpec");
    json_t *files = json_array();
    json_t *binds = json_array();
    json_t *host = json_object_get(body, "HostConfig");
    json_t *mounts;
    char *dir = NULL;
    size_t k;
    size_t i;
    int rv = 0;

    for (k = 0; k < 2 && rv == 0; k++) {
        char field[16];
        char idkey[16];
        json_t *ref;

        snprintf(field, sizeof(field), "%ss", kinds[k]);
        snprintf(idkey, sizeof(idkey), "%sID", kinds[k]);
        json_array_foreach(json_object_get(cs, field), i, ref) {
            const char *id = agent_exec_str(ref, idkey);
            json_t *file = json_object_get(ref, "File");
            const char *fname = agent_exec_str(file, "Name");
            json_t *obj = json_object_get(json_object_get(x->deps, kinds[k]),
                                          id);
            json_t *mode = json_object_get(file, "Mode");
            json_int_t uid;
            json_int_t gid;
            char local[32];
            char *target;

            if (obj == NULL) {
                rv = err_set(err, ERR_NOTFOUND, "%s %s not found on this "
                             "node", k == 0 ? "secret" : "config", id);
                break;
            }
            if (fname[0] == '\0' || strstr(fname, "..") != NULL ||
                agent_exec_file_id(file, "UID", &uid) != 0 ||
                agent_exec_file_id(file, "GID", &gid) != 0 ||
                (mode != NULL && !json_is_integer(mode))) {
                rv = err_set(err, ERR_INVALID, "invalid %s reference %s",
                             k == 0 ? "secret" : "config", id);
                break;
            }
            snprintf(local, sizeof(local), "%c%zu", k == 0 ? 's' : 'c', i);
            json_array_append_new(
                files,
                json_pack("{s:s, s:O, s:I, s:I, s:I}", "Name", local, "Data",
                          json_object_get(json_object_get(obj, "Spec"),
                                          "Data"),
                          "UID", uid, "GID", gid, "Mode",
                          mode ? json_integer_value(mode) : 0444));
            if (fname[0] == '/')
                target = xstrdup(fname);
            else if (k == 0)
                target = xasprintf("/run/secrets/%s", fname);
            else
                target = xasprintf("/%s", fname);
            json_array_append_new(binds, json_pack("{s:s, s:s}", "Local",
                                                   local, "Target", target));
            free(target);
        }
    }
    if (rv != 0 || json_array_size(files) == 0)
        goto out;
    if (x->ops.files_mount == NULL) {
        rv = err_set(err, ERR_NOTIMPLEMENTED, "secrets are not supported here");
        goto out;
    }
    rv = x->ops.files_mount(x->ops_data, t->id, files, &dir, err);
    if (rv != 0)
        goto out;
    t->files = true;
    mounts = json_object_get(host, "Mounts");
    if (!json_is_array(mounts)) {
        mounts = json_array();
        json_object_set_new(host, "Mounts", mounts);
    } else {
        mounts = json_deep_copy(mounts);
        json_object_set_new(host, "Mounts", mounts);
    }
    json_array_foreach(binds, i, cs) {
        char *src = xasprintf("%s/%s", dir, agent_exec_str(cs, "Local"));

        json_array_append_new(
            mounts, json_pack("{s:s, s:s, s:O, s:b}", "Type", "bind",
                              "Source", src, "Target",
                              json_object_get(cs, "Target"), "ReadOnly", 1));
        free(src);
    }
    free(dir);
out:
    json_decref(files);
    json_decref(binds);
    return rv;
}

/* Drop the task's tmpfs, if it has one. */
static void agent_exec_files_drop(struct agent_exec *x, struct agent_task *t)
{
    if (t->files && x->ops.files_unmount != NULL)
        x->ops.files_unmount(x->ops_data, t->id);
    t->files = false;
}

/* --- the state machine -------------------------------------------------- */

static void agent_exec_prepare(struct agent_exec *x, struct agent_task *t)
{
    const char *image = agent_exec_str(
        json_object_get(json_object_get(t->task, "Spec"), "ContainerSpec"),
        "Image");
    char *name;
    json_t *body;
    struct err err;
    char msg[sizeof(err.msg) + 32];
    int rv;

    err_clear(&err);
    if (image[0] == '\0' ||
        x->ops.image_exists(x->ops_data, image, &err) != 0) {
        snprintf(msg, sizeof(msg), "No such image: %s", image);
        agent_exec_report(x, t, STORE_TASK_REJECTED, "preparing", msg, -1,
                          0);
        return;
    }
    name = agent_exec_container_name(t->task);
    body = agent_exec_create_body(x, t->task, name);
    if (agent_exec_files(x, t, body, &err) != 0) {
        json_decref(body);
        free(name);
        agent_exec_report(x, t, STORE_TASK_REJECTED, "preparing", err.msg,
                          -1, 0);
        return;
    }
    rv = x->ops.create(x->ops_data, name, body, &t->cid, &err);
    json_decref(body);
    free(name);
    if (rv != 0) {
        t->cid = NULL;
        agent_exec_report(x, t, STORE_TASK_REJECTED, "preparing", err.msg,
                          -1, 0);
        return;
    }
    agent_exec_report(x, t, STORE_TASK_READY, "prepared", NULL, -1, 0);
}

static void agent_exec_start(struct agent_exec *x, struct agent_task *t)
{
    struct agent_exec_op *op;
    struct err err;

    agent_exec_report(x, t, STORE_TASK_STARTING, "starting", NULL, -1, 0);
    op = agent_exec_op_new(x, t);
    err_clear(&err);
    if (x->ops.start(x->ops_data, t->cid, agent_exec_on_started, op,
                     &err) != 0) {
        agent_exec_op_done(op);
        agent_exec_report(x, t, STORE_TASK_FAILED, "starting", err.msg, -1,
                          0);
    }
}

static void agent_exec_stop(struct agent_exec *x, struct agent_task *t)
{
    struct agent_exec_op *op = agent_exec_op_new(x, t);
    struct err err;

    t->stopping = true;
    err_clear(&err);
    if (x->ops.stop(x->ops_data, t->cid, agent_exec_grace_s(t->task),
                    agent_exec_on_stopped, op, &err) != 0) {
        agent_exec_op_done(op);
        t->stopping = false;
        log_warn(LOG_CLUSTER, "agent: task %s: stop: %s", t->id, err.msg);
        agent_exec_report(x, t, STORE_TASK_SHUTDOWN, "shutdown", NULL, -1,
                          0);
    }
}

/* True when the removal started: its callback steps t again (the engine
 * may call it before this returns, and t may be freed by then). */
static bool agent_exec_remove(struct agent_exec *x, struct agent_task *t)
{
    struct agent_exec_op *op = agent_exec_op_new(x, t);
    struct err err;

    err_clear(&err);
    if (x->ops.remove(x->ops_data, t->cid, agent_exec_on_removed, op,
                      &err) != 0) {
        log_warn(LOG_CLUSTER, "agent: task %s: remove its container: %s",
                 t->id, err.msg);
        agent_exec_op_done(op);
        free(t->cid);
        t->cid = NULL;
        return false;
    }
    return true;
}

/* Drive t as far as it goes without waiting. */
/*
 * Creating and starting a container are the executor's slow steps (file
 * writes, a mount and a spawn on the loop, 10-30 ms each): with a pacer,
 * at most AGENT_EXEC_SLOW_PER_TURN of them run before the loop turns
 * again, the rest when the pacer resumes, so a node handed 100 tasks at
 * once keeps answering its API (it stalled for seconds). Without one
 * (unit tests), no limit.
 */
static bool agent_exec_may_slow(struct agent_exec *x, struct agent_task *t)
{
    if (x->wake == NULL)
        return true;
    if (x->slow < AGENT_EXEC_SLOW_PER_TURN) {
        x->slow++;
        return true;
    }
    t->deferred = true;
    if (!x->wake_pending) {
        x->wake_pending = true;
        x->wake(x->wake_data);
    }
    return false;
}

static void agent_exec_step(struct agent_exec *x, struct agent_task *t)
{
    int desired;

    for (;;) {
        if (t->busy || x->dead)
            return;
        if (!t->assigned) {
            if (t->cid != NULL && agent_exec_remove(x, t))
                return;
            log_info(LOG_CLUSTER, "agent: task %s removed", t->id);
            agent_exec_files_drop(x, t);
            agent_exec_unlink(x, t);
            agent_exec_task_free(t);
            return;
        }
        if (t->state >= STORE_TASK_COMPLETE) {
            /* its container ran: the files go now, as Docker's do when a
             * container stops, not with the task's history entry */
            agent_exec_files_drop(x, t);
            return;
        }
        desired = store_task_desired(t->task);
        if (desired >= STORE_TASK_SHUTDOWN) {
            if (t->cid != NULL && t->state >= STORE_TASK_STARTING) {
                agent_exec_stop(x, t);
                return;
            }
            agent_exec_report(x, t, STORE_TASK_SHUTDOWN, "shutdown", NULL,
                              -1, 0);
            return;
        }
        if (t->state < STORE_TASK_ACCEPTED) {
            agent_exec_report(x, t, STORE_TASK_ACCEPTED, "accepted", NULL,
                              -1, 0);
        } else if (t->state < STORE_TASK_PREPARING) {
            agent_exec_report(x, t, STORE_TASK_PREPARING, "preparing", NULL,
                              -1, 0);
        } else if (t->state < STORE_TASK_READY) {
            if (!agent_exec_may_slow(x, t))
                return;
            agent_exec_prepare(x, t);
        } else if (t->state < STORE_TASK_STARTING) {
            if (desired < STORE_TASK_RUNNING)
                return; /* a replacement waits at READY */
            if (!agent_exec_may_slow(x, t))
                return;
            agent_exec_start(x, t);
        } else {
            return; /* STARTING or RUNNING: the engine's events decide */
        }
    }
}

/* An exit the engine saw for t's container. */
static void agent_exec_exited(struct agent_exec *x, struct agent_task *t,
                              int code)
{
    char msg[128];

    agent_exec_health_stop(t);
    if (t->unhealthy && t->state < STORE_TASK_COMPLETE) {
        snprintf(msg, sizeof(msg),
                 "task: non-zero exit (%d): dockerexec: unhealthy container",
                 code >= 0 ? code : 137);
        agent_exec_report(x, t, STORE_TASK_FAILED, "started", msg, code, 0);
        return;
    }
    if (t->stopping || t->state >= STORE_TASK_COMPLETE)
        return;
    if (code == 0) {
        agent_exec_report(x, t, STORE_TASK_COMPLETE, "finished", NULL, 0, 0);
        return;
    }
    snprintf(msg, sizeof(msg), "task: non-zero exit (%d)", code);
    agent_exec_report(x, t, STORE_TASK_FAILED, "started", msg, code, 0);
}

/* --- assignments -------------------------------------------------------- */

/* Adopt the containers found for the assigned tasks; remove the others. */
static void agent_exec_reconcile(struct agent_exec *x)
{
    struct err err;
    json_t *list;
    json_t *c;
    struct agent_task *t;
    size_t i;

    err_clear(&err);
    list = x->ops.list(x->ops_data, AGENT_EXEC_LABEL_TASK_ID, &err);
    if (list == NULL) {
        log_warn(LOG_CLUSTER, "agent: list task containers: %s", err.msg);
        return;
    }
    json_array_foreach(list, i, c) {
        const char *cid = agent_exec_str(c, "Id");
        const char *tid = agent_exec_str(json_object_get(c, "Labels"),
                                         AGENT_EXEC_LABEL_TASK_ID);
        const char *state = agent_exec_str(c, "State");
        json_t *info;
        int code;

        t = agent_exec_find(x, tid);
        if (t != NULL && t->cid != NULL)
            continue; /* already ours */
        if (t == NULL) {
            log_info(LOG_CLUSTER, "agent: removing container %.12s of "
                     "unassigned task %s", cid, tid);
            if (x->ops.files_unmount != NULL && ids_is_valid(tid))
                x->ops.files_unmount(x->ops_data, tid);
            x->n_ops++;
            err_clear(&err);
            if (x->ops.remove(x->ops_data, cid, agent_exec_on_orphan_removed,
                              x, &err) != 0) {
                x->n_ops--;
                log_warn(LOG_CLUSTER, "agent: remove container %.12s: %s",
                         cid, err.msg);
            }
            continue;
        }
        t->cid = xstrdup(cid);
        if (t->state >= STORE_TASK_COMPLETE)
            continue;
        if (strcmp(state, "running") == 0) {
            t->state = STORE_TASK_STARTING; /* re-reported as running */
            agent_exec_report(x, t, STORE_TASK_RUNNING, "started", NULL, -1,
                              agent_exec_pid(x, cid));
        } else if (strcmp(state, "created") == 0) {
            if (t->state < STORE_TASK_READY)
                agent_exec_report(x, t, STORE_TASK_READY, "prepared", NULL,
                                  -1, 0);
        } else {
            info = x->ops.inspect(x->ops_data, cid, &err);
            code = (int)json_integer_value(json_object_get(
                json_object_get(info, "State"), "ExitCode"));
            json_decref(info);
            if (t->state < STORE_TASK_RUNNING)
                t->state = STORE_TASK_RUNNING;
            agent_exec_exited(x, t, code);
        }
    }
    json_decref(list);
    /* Tasks past READY whose container is gone cannot go on. */
    for (t = x->tasks; t != NULL; t = t->next) {
        if (t->assigned && t->cid == NULL && !t->busy &&
            t->state >= STORE_TASK_READY && t->state < STORE_TASK_COMPLETE &&
            store_task_desired(t->task) < STORE_TASK_SHUTDOWN)
            agent_exec_report(x, t, STORE_TASK_FAILED, t->status
                                  ? agent_exec_str(t->status, "Message")
                                  : "started",
                              "task: the container is gone", -1, 0);
    }
}

static void agent_exec_update(struct agent_exec *x, const json_t *task)
{
    const char *id = agent_exec_str(task, "ID");
    struct agent_task *t = agent_exec_find(x, id);

    if (t == NULL) {
        t = xcalloc(1, sizeof(*t));
        t->x = x;
        snprintf(t->id, sizeof(t->id), "%s", id);
        t->state = store_task_state(task);
        t->status = json_deep_copy(json_object_get(task, "Status"));
        t->next = x->tasks;
        x->tasks = t;
    }
    json_decref(t->task);
    t->task = json_deep_copy(task);
    t->assigned = true;
}

static int agent_exec_check(const json_t *msg, bool *out_complete,
                            struct err *err)
{
    const char *type = json_string_value(json_object_get(msg, "Type"));
    json_t *changes = json_object_get(msg, "Changes");
    json_t *ch;
    size_t i;

    if (type == NULL || !json_is_array(changes) ||
        (strcmp(type, "COMPLETE") != 0 && strcmp(type, "INCREMENTAL") != 0))
        return err_set(err, ERR_PROTO, "assignments: malformed message");
    *out_complete = strcmp(type, "COMPLETE") == 0;
    json_array_foreach(changes, i, ch) {
        const char *action = json_string_value(json_object_get(ch, "Action"));
        json_t *task = json_object_get(ch, "Task");
        json_t *dep = json_object_get(ch, "Secret");

        if (dep == NULL)
            dep = json_object_get(ch, "Config");
        if (action == NULL ||
            (strcmp(action, "update") != 0 && strcmp(action, "remove") != 0))
            return err_set(err, ERR_PROTO, "assignments: malformed change");
        if (dep != NULL && task == NULL) {
            /* A secret or config: an ID, and data when it comes. */
            if (!json_is_object(dep) ||
                !ids_is_valid(agent_exec_str(dep, "ID")) ||
                (strcmp(action, "update") == 0 &&
                 !json_is_string(json_object_get(
                     json_object_get(dep, "Spec"), "Data"))))
                return err_set(err, ERR_PROTO, "assignments: malformed "
                               "secret or config");
            continue;
        }
        if (!json_is_object(task) || !ids_is_valid(agent_exec_str(task, "ID")))
            return err_set(err, ERR_PROTO, "assignments: malformed change");
        if (strcmp(action, "update") == 0 &&
            (store_task_state(task) < 0 || store_task_desired(task) < 0))
            return err_set(err, ERR_PROTO, "assignments: task %s without "
                           "states", agent_exec_str(task, "ID"));
    }
    return 0;
}

/* A secret or config change: kept in memory only. False if ch is none. */
static bool agent_exec_dep_change(struct agent_exec *x, const json_t *ch)
{
    static const char *const kinds[] = {"Secret", "Config"};
    bool update = strcmp(agent_exec_str(ch, "Action"), "update") == 0;
    size_t k;

    if (json_object_get(ch, "Task") != NULL)
        return false;
    for (k = 0; k < 2; k++) {
        json_t *dep = json_object_get(ch, kinds[k]);
        json_t *set = json_object_get(x->deps, kinds[k]);

        if (dep == NULL)
            continue;
        if (update)
            json_object_set_new(set, agent_exec_str(dep, "ID"),
                                json_deep_copy(dep));
        else
            json_object_del(set, agent_exec_str(dep, "ID"));
        return true;
    }
    return false;
}

int agent_exec_assign(struct agent_exec *x, const json_t *msg,
                      struct err *err)
{
    json_t *changes = json_object_get(msg, "Changes");
    struct agent_task *t;
    struct agent_task *next;
    bool complete = false;
    json_t *ch;
    size_t i;
    int rv;

    rv = agent_exec_check(msg, &complete, err);
    if (rv != 0)
        return rv;
    if (complete) {
        for (t = x->tasks; t != NULL; t = t->next)
            t->assigned = false;
        json_object_clear(json_object_get(x->deps, "Secret"));
        json_object_clear(json_object_get(x->deps, "Config"));
    }
    json_array_foreach(changes, i, ch) {
        json_t *task = json_object_get(ch, "Task");

        if (agent_exec_dep_change(x, ch))
            continue;
        if (strcmp(agent_exec_str(ch, "Action"), "update") == 0) {
            agent_exec_update(x, task);
        } else {
            t = agent_exec_find(x, agent_exec_str(task, "ID"));
            if (t != NULL)
                t->assigned = false;
        }
    }
    if (complete)
        agent_exec_reconcile(x);
    for (t = x->tasks; t != NULL; t = next) {
        next = t->next;
        agent_exec_step(x, t);
    }
    return 0;
}

void agent_exec_event(struct agent_exec *x, const char *action,
                      const char *id, const json_t *attrs)
{
    struct agent_task *t;
    const char *code;

    if (x == NULL || x->dead || strcmp(action, "die") != 0)
        return;
    t = agent_exec_find_cid(x, id);
    if (t == NULL)
        return;
    code = json_string_value(json_object_get(attrs, "exitCode"));
    agent_exec_exited(x, t, code ? atoi(code) : -1);
    agent_exec_step(x, t);
}

/* --- statuses ----------------------------------------------------------- */

json_t *agent_exec_take_updates(struct agent_exec *x)
{
    json_t *updates;
    const char *id;
    json_t *st;

    if (json_object_size(x->pending) == 0)
        return NULL;
    updates = json_array();
    json_object_foreach(x->pending, id, st) {
        json_array_append_new(updates, json_pack("{s:s, s:O}", "TaskID", id,
                                                 "Status", st));
    }
    json_object_clear(x->pending);
    return json_pack("{s:o}", "Updates", updates);
}

void agent_exec_requeue(struct agent_exec *x, const json_t *body)
{
    json_t *u;
    size_t i;

    json_array_foreach(json_object_get(body, "Updates"), i, u) {
        const char *id = agent_exec_str(u, "TaskID");

        if (json_object_get(x->pending, id) == NULL &&
            agent_exec_find(x, id) != NULL)
            json_object_set(x->pending, id, json_object_get(u, "Status"));
    }
}

void agent_exec_resend_all(struct agent_exec *x)
{
    struct agent_task *t;

    for (t = x->tasks; t != NULL; t = t->next) {
        if (t->status != NULL && t->state >= STORE_TASK_ACCEPTED &&
            json_object_get(x->pending, t->id) == NULL)
            json_object_set(x->pending, t->id, t->status);
    }
    if (json_object_size(x->pending) > 0 && x->notify != NULL)
        x->notify(x->data);
}

size_t agent_exec_n_tasks(const struct agent_exec *x)
{
    const struct agent_task *t;
    size_t n = 0;

    for (t = x->tasks; t != NULL; t = t->next)
        n++;
    return n;
}

int agent_exec_task_state(const struct agent_exec *x, const char *task_id)
{
    const struct agent_task *t = agent_exec_find(x, task_id);

    return t ? t->state : -1;
}

/* --- life cycle --------------------------------------------------------- */

static void agent_exec_on_event(void *data, const char *action,
                                const char *id, const json_t *attrs)
{
    agent_exec_event(data, action, id, attrs);
}

struct agent_exec *agent_exec_new(const struct agent_exec_ops *ops,
                                  void *ops_data, const char *node_id,
                                  void (*notify)(void *data), void *data)
{
    struct agent_exec *x = xcalloc(1, sizeof(*x));

    x->ops = *ops;
    x->ops_data = ops_data;
    snprintf(x->node_id, sizeof(x->node_id), "%s", node_id);
    x->notify = notify;
    x->data = data;
    x->pending = json_object();
    x->deps = json_pack("{s:{}, s:{}}", "Secret", "Config");
    if (ops->subscribe != NULL)
        x->sub = ops->subscribe(ops_data, agent_exec_on_event, x);
    return x;
}

void agent_exec_set_pacer(struct agent_exec *x, void (*wake)(void *data),
                          void *data)
{
    x->wake = wake;
    x->wake_data = data;
}

void agent_exec_resume(struct agent_exec *x)
{
    struct agent_task *t;
    struct agent_task *next;

    if (x == NULL || x->dead)
        return;
    x->wake_pending = false;
    x->slow = 0;
    for (t = x->tasks; t != NULL; t = next) {
        next = t->next;
        if (!t->deferred)
            continue;
        t->deferred = false;
        agent_exec_step(x, t);
    }
}

void agent_exec_free(struct agent_exec *x)
{
    struct agent_task *t;

    if (x == NULL)
        return;
    if (x->sub != NULL && x->ops.unsubscribe != NULL)
        x->ops.unsubscribe(x->ops_data, x->sub);
    while (x->tasks != NULL) {
        t = x->tasks;
        x->tasks = t->next;
        agent_exec_task_free(t);
    }
    x->dead = true;
    if (x->n_ops == 0) {
        json_decref(x->pending);
        json_decref(x->deps);
        free(x);
    }
}

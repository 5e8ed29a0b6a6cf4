/* SPDX-License-Identifier: Apache-2.0 */
/* The executor's state machine against a fake engine whose operations
 * complete when the test says so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/agent_exec.h"
#include "manager/store/store.h"

#define NODE "nnnnnnnnnnnnnnnnnnnnnnnnn"
#define T1 "t1t1t1t1t1t1t1t1t1t1t1t1t"
#define T2 "t2t2t2t2t2t2t2t2t2t2t2t2t"
#define T3 "t3t3t3t3t3t3t3t3t3t3t3t3t"

/* --- fixture ------------------------------------------------------------ */

struct op
{
    const char *what;       /* "start", "stop", "remove" */
    char id[80];
    int timeout;
    engine_done_cb cb;
    void *data;
};

struct fake
{
    json_t *containers;     /* id -> {"Id","Names","Labels","State","Body"} */
    struct op ops[32];
    size_t n_ops;
    int n_created;
    int n_notified;
    json_t *mounted;        /* task id -> files given to files_mount */
    struct agent_exec *x;
};

static int f_image(void *data, const char *ref, struct err *err)
{
    (void)data;
    if (strcmp(ref, "busybox") == 0)
        return 0;
    return err_set(err, ERR_NOTFOUND, "No such image: %s", ref);
}

static int f_create(void *data, const char *name, const json_t *body,
                    char **id_out, struct err *err)
{
    struct fake *f = data;
    char id[32];

    (void)err;
    snprintf(id, sizeof(id), "c%d", ++f->n_created);
    json_object_set_new(f->containers, id,
                        json_pack("{s:s, s:s, s:O, s:s, s:O}", "Id", id,
                                  "Name", name, "Labels",
                                  json_object_get(body, "Labels"), "State",
                                  "created", "Body", body));
    *id_out = strdup(id);
    return 0;
}

static int f_queue(struct fake *f, const char *what, const char *id,
                   int timeout, engine_done_cb cb, void *data)
{
    struct op *o = &f->ops[f->n_ops++];

    o->what = what;
    snprintf(o->id, sizeof(o->id), "%s", id);
    o->timeout = timeout;
    o->cb = cb;
    o->data = data;
    return 0;
}

static int f_start(void *data, const char *id, engine_done_cb cb,
                   void *cb_data, struct err *err)
{
    (void)err;
    return f_queue(data, "start", id, 0, cb, cb_data);
}

static int f_stop(void *data, const char *id, int timeout_s,
                  engine_done_cb cb, void *cb_data, struct err *err)
{
    (void)err;
    return f_queue(data, "stop", id, timeout_s, cb, cb_data);
}

static int f_remove(void *data, const char *id, engine_done_cb cb,
                    void *cb_data, struct err *err)
{
    (void)err;
    return f_queue(data, "remove", id, 0, cb, cb_data);
}

static json_t *f_inspect(void *data, const char *id, struct err *err)
{
    struct fake *f = data;
    json_t *c = json_object_get(f->containers, id);

    (void)err;
    return json_pack("{s:{s:i, s:i}}", "State", "Pid",
                     strcmp(json_string_value(json_object_get(c, "State")),
                            "running") == 0 ? 42 : 0,
                     "ExitCode", (int)json_integer_value(
                                     json_object_get(c, "ExitCode")));
}

static json_t *f_list(void *data, const char *label, struct err *err)
{
    struct fake *f = data;
    json_t *out = json_array();
    const char *id;
    json_t *c;

    (void)err;
    json_object_foreach(f->containers, id, c) {
        if (json_object_get(json_object_get(c, "Labels"), label) != NULL)
            json_array_append(out, c);
    }
    return out;
}

static int f_files_mount(void *data, const char *task_id,
                         const json_t *files, char **out_dir,
                         struct err *err)
{
    struct fake *f = data;

    (void)err;
    json_object_set(f->mounted, task_id, (json_t *)files);
    *out_dir = strdup("/fake/secrets");
    return 0;
}

static void f_files_unmount(void *data, const char *task_id)
{
    json_object_del(((struct fake *)data)->mounted, task_id);
}

static const struct agent_exec_ops fake_ops = {
    f_image, f_create, f_start, f_stop, f_remove, f_inspect, f_list, NULL,
    NULL, NULL, NULL, f_files_mount, f_files_unmount,
};

static void f_notify(void *data)
{
    ((struct fake *)data)->n_notified++;
}

/* Complete the oldest queued operation of kind what; the engine's side
 * effect first. */
static void finish(struct fake *f, const char *what, int status)
{
    size_t i;
    struct op o;
    struct err err;
    json_t *c;

    for (i = 0; i < f->n_ops; i++)
        if (strcmp(f->ops[i].what, what) == 0)
            break;
    assert_true(i < f->n_ops);
    o = f->ops[i];
    memmove(&f->ops[i], &f->ops[i + 1], (f->n_ops - i - 1) * sizeof(o));
    f->n_ops--;
    c = json_object_get(f->containers, o.id);
    if (status == 0 && strcmp(what, "start") == 0)
        json_object_set_new(c, "State", json_string("running"));
    if (status == 0 && strcmp(what, "stop") == 0)
        json_object_set_new(c, "State", json_string("exited"));
    if (status == 0 && strcmp(what, "remove") == 0)
        json_object_del(f->containers, o.id);
    err_clear(&err);
    if (status != 0)
        err_set(&err, ERR_INTERNAL, "engine says no");
    o.cb(o.data, status, &err);
}

static void setup(struct fake *f)
{
    memset(f, 0, sizeof(*f));
    f->containers = json_object();
    f->mounted = json_object();
    f->x = agent_exec_new(&fake_ops, f, NODE, f_notify, f);
}

static void teardown(struct fake *f)
{
    while (f->n_ops > 0)
        finish(f, f->ops[0].what, 0);
    agent_exec_free(f->x);
    json_decref(f->containers);
    json_decref(f->mounted);
}

static json_t *task(const char *id, const char *state, const char *want,
                    const char *image)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:{s:s}, s:{s:{s:s, s:[s], s:I}}}",
                     "ID", id, "Name", "job", "NodeID", NODE, "DesiredState",
                     want, "Status", "State", state, "Spec", "ContainerSpec",
                     "Image", image, "Args", "true", "StopGracePeriod",
                     (json_int_t)3000000000LL);
}

/* Send one assignments message with one change. */
static void assign(struct fake *f, const char *type, const char *action,
                   json_t *t)
{
    struct err err;
    json_t *msg = json_pack("{s:s, s:[{s:s, s:o}]}", "Type", type,
                            "Changes", "Action", action, "Task", t);

    err_clear(&err);
    assert_int_equal(agent_exec_assign(f->x, msg, &err), 0);
    json_decref(msg);
}

static int state(struct fake *f, const char *id)
{
    return agent_exec_task_state(f->x, id);
}

/* The statuses sent so far, as "state:message" strings of task id. */
static void take(struct fake *f, json_t *log)
{
    json_t *body = agent_exec_take_updates(f->x);
    json_t *u;
    size_t i;

    json_array_foreach(json_object_get(body, "Updates"), i, u)
        json_array_append(log, u);
    json_decref(body);
}

static const char *status_field(json_t *log, size_t i, const char *k)
{
    return json_string_value(json_object_get(
        json_object_get(json_array_get(log, i), "Status"), k));
}

/* --- tests -------------------------------------------------------------- */

static void test_runs_to_complete(void **st)
{
    struct fake f;
    json_t *log = json_array();
    json_t *c;
    json_t *attrs;

    (void)st;
    setup(&f);
    assign(&f, "COMPLETE", "update", task(T1, "assigned", "running", "busybox"));
    /* accepted, preparing, prepared (created), starting: then waits */
    assert_int_equal(state(&f, T1), STORE_TASK_STARTING);
    c = json_object_get(f.containers, "c1");
    assert_string_equal(json_string_value(json_object_get(c, "Name")), "job." T1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(c, "Labels"), "com.docker.swarm.task.id")), T1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(c, "Labels"), "com.docker.swarm.node.id")), NODE);
    assert_string_equal(json_string_value(json_object_get(json_object_get(c, "Labels"), "com.docker.swarm.task.name")), "job." T1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(c, "Body"), "StopTimeout")), 3);
    assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(c, "Body"), "Cmd"), 0)), "true");
    take(&f, log);
    /* statuses coalesce per task: the last one is pending */
    assert_int_equal(json_array_size(log), 1);
    assert_string_equal(status_field(log, 0, "State"), "starting");
    finish(&f, "start", 0);
    assert_int_equal(state(&f, T1), STORE_TASK_RUNNING);
    take(&f, log);
    assert_string_equal(status_field(log, 1, "State"), "running");
    assert_string_equal(status_field(log, 1, "Message"), "started");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(json_array_get(log, 1), "Status"), "ContainerStatus"), "PID")), 42);
    attrs = json_pack("{s:s}", "exitCode", "0");
    agent_exec_event(f.x, "die", "c1", attrs);
    json_decref(attrs);
    assert_int_equal(state(&f, T1), STORE_TASK_COMPLETE);
    take(&f, log);
    assert_string_equal(status_field(log, 2, "Message"), "finished");
    assert_true(f.n_notified > 0);
    /* no longer assigned: its container is removed, the task forgotten */
    assign(&f, "INCREMENTAL", "remove", task(T1, "complete", "running", "busybox"));
    assert_int_equal(agent_exec_n_tasks(f.x), 1);
    finish(&f, "remove", 0);
    assert_int_equal(agent_exec_n_tasks(f.x), 0);
    assert_int_equal(json_object_size(f.containers), 0);
    json_decref(log);
    teardown(&f);
}

/* With a pacer, creating and starting containers (the slow steps) go
 * AGENT_EXEC_SLOW_PER_TURN at a time: the rest waits for resume, and the
 * pacer is woken once per batch left over. */
static int n_wakes;

static void f_wake(void *data)
{
    (void)data;
    n_wakes++;
}

static size_t count_ops(struct fake *f, const char *what)
{
    size_t i;
    size_t n = 0;

    for (i = 0; i < f->n_ops; i++)
        n += strcmp(f->ops[i].what, what) == 0;
    return n;
}

static void test_paced_slow_steps(void **st)
{
    static const char *const ids[] = {
        "p1p1p1p1p1p1p1p1p1p1p1p1p", "p2p2p2p2p2p2p2p2p2p2p2p2p",
        "p3p3p3p3p3p3p3p3p3p3p3p3p", "p4p4p4p4p4p4p4p4p4p4p4p4p",
        "p5p5p5p5p5p5p5p5p5p5p5p5p"};
    struct fake f;
    size_t i;

    (void)st;
    setup(&f);
    n_wakes = 0;
    agent_exec_set_pacer(f.x, f_wake, &f);
    for (i = 0; i < 5; i++)
        assign(&f, i == 0 ? "COMPLETE" : "INCREMENTAL", "update",
               task(ids[i], "assigned", "running", "busybox"));
    /* the first task's create and start; the others wait */
    assert_int_equal(f.n_created, 1);
    assert_int_equal(count_ops(&f, "start"), 1);
    assert_int_equal(state(&f, ids[1]), STORE_TASK_PREPARING);
    assert_int_equal(n_wakes, 1);
    for (i = 2; i <= 5; i++) {
        agent_exec_resume(f.x);
        assert_int_equal(f.n_created, (int)i);
        assert_int_equal(count_ops(&f, "start"), i);
    }
    assert_int_equal(n_wakes, 4);
    for (i = 0; i < 5; i++)
        assert_int_equal(state(&f, ids[i]), STORE_TASK_STARTING);
    /* nothing left: a resume does nothing and wakes no one */
    agent_exec_resume(f.x);
    assert_int_equal(n_wakes, 4);
    teardown(&f);
}

#define S1 "s1s1s1s1s1s1s1s1s1s1s1s1s"
#define C1 "c1c1c1c1c1c1c1c1c1c1c1c1c"

/* A task with secret S1 at name and config C1 at /etc/app.conf. */
static json_t *task_with_deps(const char *id, const char *name)
{
    json_t *t = task(id, "assigned", "running", "busybox");
    json_t *cs = json_object_get(json_object_get(t, "Spec"),
                                 "ContainerSpec");

    json_object_set_new(cs, "Secrets",
                        json_pack("[{s:{s:s, s:s, s:s, s:i}, s:s}]", "File",
                                  "Name", name, "UID", "1000", "GID", "0",
                                  "Mode", 0400, "SecretID", S1));
    json_object_set_new(cs, "Configs",
                        json_pack("[{s:{s:s}, s:s}]", "File", "Name",
                                  "/etc/app.conf", "ConfigID", C1));
    return t;
}

static void test_secrets(void **st)
{
    struct fake f;
    struct err err;
    json_t *msg;
    json_t *mounts;
    json_t *files;
    json_t *t2;
    json_t *attrs;
    json_t *log = json_array();

    (void)st;
    setup(&f);
    /* a secret the node was never sent: rejected */
    assign(&f, "COMPLETE", "update", task_with_deps(T1, "pw"));
    assert_int_equal(state(&f, T1), STORE_TASK_REJECTED);
    take(&f, log);
    assert_string_equal(status_field(log, 0, "Err"),
                        "secret " S1 " not found on this node");
    /* secrets come first in the set, then the task */
    msg = json_pack("{s:s, s:[{s:s, s:{s:s, s:{s:s, s:s}}}, "
                    "{s:s, s:{s:s, s:{s:s, s:s}}}, {s:s, s:o}]}",
                    "Type", "COMPLETE", "Changes", "Action", "update",
                    "Secret", "ID", S1, "Spec", "Name", "pw", "Data", "eA==",
                    "Action", "update", "Config", "ID", C1, "Spec", "Name",
                    "app", "Data", "eQ==", "Action", "update", "Task",
                    task_with_deps(T2, "pw"));
    err_clear(&err);
    assert_int_equal(agent_exec_assign(f.x, msg, &err), 0);
    json_decref(msg);
    assert_int_equal(state(&f, T2), STORE_TASK_STARTING);
    files = json_object_get(f.mounted, T2);
    assert_int_equal(json_array_size(files), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(files, 0), "Data")), "eA==");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(files, 0), "UID")), 1000);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(files, 0), "Mode")), 0400);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(files, 1), "Mode")), 0444);
    mounts = json_object_get(json_object_get(json_object_get(json_object_get(f.containers, "c1"), "Body"), "HostConfig"), "Mounts");
    assert_int_equal(json_array_size(mounts), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(mounts, 0), "Target")), "/run/secrets/pw");
    assert_string_equal(json_string_value(json_object_get(json_array_get(mounts, 0), "Source")), "/fake/secrets/s0");
    assert_true(json_is_true(json_object_get(json_array_get(mounts, 0), "ReadOnly")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(mounts, 1), "Target")), "/etc/app.conf");
    /* a bad file name is refused */
    msg = json_pack("{s:s, s:[{s:s, s:o}]}", "Type", "INCREMENTAL",
                    "Changes", "Action", "update", "Task",
                    task_with_deps(T3, "../../etc/passwd"));
    assert_int_equal(agent_exec_assign(f.x, msg, &err), 0);
    json_decref(msg);
    assert_int_equal(state(&f, T3), STORE_TASK_REJECTED);
    assert_null(json_object_get(f.mounted, T3));
    /* a malformed secret change is a protocol error */
    msg = json_pack("{s:s, s:[{s:s, s:{s:s}}]}", "Type", "INCREMENTAL",
                    "Changes", "Action", "update", "Secret", "ID", S1);
    assert_int_equal(agent_exec_assign(f.x, msg, &err), -ERR_PROTO);
    json_decref(msg);
    /* the task is shut down but stays assigned (history): its tmpfs goes
     * when its container stops */
    finish(&f, "start", 0);
    assert_non_null(json_object_get(f.mounted, T2));
    t2 = task_with_deps(T2, "pw");
    json_object_set_new(t2, "DesiredState", json_string("shutdown"));
    assign(&f, "INCREMENTAL", "update", t2);
    assert_non_null(json_object_get(f.mounted, T2));
    finish(&f, "stop", 0);
    assert_int_equal(state(&f, T2), STORE_TASK_SHUTDOWN);
    assert_null(json_object_get(f.mounted, T2));
    assert_non_null(json_object_get(f.containers, "c1"));
    /* the task leaves: its container goes */
    assign(&f, "INCREMENTAL", "remove", task_with_deps(T2, "pw"));
    finish(&f, "remove", 0);
    assert_null(json_object_get(f.containers, "c1"));
    /* a task that fails drops its tmpfs too */
    msg = json_pack("{s:s, s:[{s:s, s:o}]}", "Type", "INCREMENTAL",
                    "Changes", "Action", "update", "Task",
                    task_with_deps(T1, "pw"));
    assert_int_equal(agent_exec_assign(f.x, msg, &err), 0);
    json_decref(msg);
    finish(&f, "start", 0);
    assert_non_null(json_object_get(f.mounted, T1));
    attrs = json_pack("{s:s}", "exitCode", "1");
    agent_exec_event(f.x, "die", "c2", attrs);
    json_decref(attrs);
    assert_int_equal(state(&f, T1), STORE_TASK_FAILED);
    assert_null(json_object_get(f.mounted, T1));
    json_decref(log);
    teardown(&f);
}

static void test_failure_rejection_and_shutdown(void **st)
{
    struct fake f;
    json_t *log = json_array();
    json_t *attrs;

    (void)st;
    setup(&f);
    /* missing image: rejected */
    assign(&f, "COMPLETE", "update", task(T2, "assigned", "running", "nginx"));
    assert_int_equal(state(&f, T2), STORE_TASK_REJECTED);
    take(&f, log);
    assert_string_equal(status_field(log, 0, "Err"), "No such image: nginx");
    assert_int_equal(json_object_size(f.containers), 0);
    /* non-zero exit: failed with the code */
    assign(&f, "INCREMENTAL", "update", task(T1, "assigned", "running", "busybox"));
    finish(&f, "start", 0);
    attrs = json_pack("{s:s}", "exitCode", "3");
    agent_exec_event(f.x, "die", "c1", attrs);
    json_decref(attrs);
    assert_int_equal(state(&f, T1), STORE_TASK_FAILED);
    take(&f, log);
    assert_string_equal(status_field(log, 1, "Err"), "task: non-zero exit (3)");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(json_array_get(log, 1), "Status"), "ContainerStatus"), "ExitCode")), 3);
    /* desired shutdown of a running task: stop with its grace */
    assign(&f, "INCREMENTAL", "update", task(T3, "assigned", "running", "busybox"));
    finish(&f, "start", 0);
    assert_int_equal(state(&f, T3), STORE_TASK_RUNNING);
    assign(&f, "INCREMENTAL", "update", task(T3, "running", "shutdown", "busybox"));
    assert_int_equal(f.n_ops, 1);
    assert_string_equal(f.ops[0].what, "stop");
    assert_int_equal(f.ops[0].timeout, 3);
    /* the die the stop causes is not a failure */
    attrs = json_pack("{s:s}", "exitCode", "143");
    agent_exec_event(f.x, "die", "c2", attrs);
    json_decref(attrs);
    assert_int_equal(state(&f, T3), STORE_TASK_RUNNING);
    finish(&f, "stop", 0);
    assert_int_equal(state(&f, T3), STORE_TASK_SHUTDOWN);
    take(&f, log);
    assert_string_equal(status_field(log, 2, "Message"), "shutdown");
    /* a failed send is queued again, unless something newer is */
    {
        json_t *body = json_pack("{s:[{s:s, s:{s:s}}]}", "Updates", "TaskID", T3, "Status", "State", "shutdown");

        agent_exec_requeue(f.x, body);
        json_decref(body);
        body = agent_exec_take_updates(f.x);
        assert_non_null(body);
        json_decref(body);
        assert_null(agent_exec_take_updates(f.x));
        agent_exec_resend_all(f.x);
        body = agent_exec_take_updates(f.x);
        assert_int_equal(json_array_size(json_object_get(body, "Updates")), 3);
        json_decref(body);
    }
    json_decref(log);
    teardown(&f);
}

static void test_reconcile_after_restart(void **st)
{
    struct fake f;
    struct fake g;
    json_t *log = json_array();
    struct err err;
    json_t *msg;
    json_t *t1;
    json_t *t2;

    (void)st;
    setup(&f);
    assign(&f, "COMPLETE", "update", task(T1, "assigned", "running", "busybox"));
    finish(&f, "start", 0);
    assign(&f, "INCREMENTAL", "update", task(T2, "assigned", "running", "busybox"));
    finish(&f, "start", 0);
    /* the agent restarts: a new executor over the same engine */
    setup(&g);
    json_decref(g.containers);
    g.containers = json_incref(f.containers);
    g.n_created = f.n_created;
    agent_exec_free(g.x);
    g.x = agent_exec_new(&fake_ops, &g, NODE, f_notify, &g);
    /* T1 is still assigned (running in the store), T2 is not */
    t1 = task(T1, "running", "running", "busybox");
    msg = json_pack("{s:s, s:[{s:s, s:o}]}", "Type", "COMPLETE", "Changes", "Action", "update", "Task", t1);
    err_clear(&err);
    assert_int_equal(agent_exec_assign(g.x, msg, &err), 0);
    json_decref(msg);
    assert_int_equal(agent_exec_task_state(g.x, T1), STORE_TASK_RUNNING);
    take(&g, log);
    assert_int_equal(json_array_size(log), 1); /* re-reported */
    assert_string_equal(status_field(log, 0, "State"), "running");
    assert_int_equal(g.n_ops, 1);
    assert_string_equal(g.ops[0].what, "remove");
    assert_string_equal(g.ops[0].id, "c2");
    finish(&g, "remove", 0);
    assert_null(json_object_get(g.containers, "c2"));
    assert_non_null(json_object_get(g.containers, "c1"));
    /* malformed messages change nothing */
    t2 = json_pack("{s:s}", "ID", "bad");
    msg = json_pack("{s:s, s:[{s:s, s:o}]}", "Type", "COMPLETE", "Changes", "Action", "update", "Task", t2);
    assert_int_equal(agent_exec_assign(g.x, msg, &err), -ERR_PROTO);
    json_decref(msg);
    msg = json_pack("{s:s, s:[]}", "Type", "SOMETIMES", "Changes");
    assert_int_equal(agent_exec_assign(g.x, msg, &err), -ERR_PROTO);
    json_decref(msg);
    assert_int_equal(agent_exec_n_tasks(g.x), 1);
    json_decref(log);
    agent_exec_free(f.x);
    f.x = NULL;
    json_decref(f.containers);
    json_decref(f.mounted);
    teardown(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_to_complete),
        cmocka_unit_test(test_paced_slow_steps),
        cmocka_unit_test(test_failure_rejection_and_shutdown),
        cmocka_unit_test(test_reconcile_after_restart),
        cmocka_unit_test(test_secrets),
    };

    return cmocka_run_group_tests_name("agent_exec", tests, NULL, NULL);
}

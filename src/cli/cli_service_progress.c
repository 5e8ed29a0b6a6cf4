/* SPDX-License-Identifier: Apache-2.0 */
/* The wait of `shoal service create/update/rollback/scale` without -d:
 * poll the service, its tasks of the current spec (`_up-to-date`) and the
 * nodes every 200 ms and show the convergence as docker does (one line per
 * slot of a replicated service or per node of a global one, "overall
 * progress: N out of M tasks", then the verify phase of
 * UpdateConfig.Monitor, 5 s by default). Docker renders its progress as
 * JSON messages: on a terminal each ID keeps its line, redrawn in place
 * with ANSI cursor moves; elsewhere a message with a bar is dropped and
 * every other one printed as a line of its own. Both renderings are
 * reproduced here. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "base/err.h"
#include "base/mem.h"
#include "cli/cli_int.h"

#define CLI_SERVICE_PROGRESS__POLL_MS 200
#define CLI_SERVICE_PROGRESS__MONITOR_NS 5000000000LL
/* Ranks of the states (docker's numberedStates); "running" is the goal,
 * above it the terminal states. */
#define CLI_SERVICE_PROGRESS__RUNNING 9
/* Per-task bars only up to this many tasks. */
#define CLI_SERVICE_PROGRESS__MAX_BARS 20
/* Width of "allocated"/"preparing", the longest states shown. */
#define CLI_SERVICE_PROGRESS__STATE_W 9
/* Bars are drawn only on a terminal wider than this (docker's rule); off
 * a terminal the width is taken as 200. */
#define CLI_SERVICE_PROGRESS__BAR_MIN_W 110
#define CLI_SERVICE_PROGRESS__ERR_MAX 75

enum cli_service_progress_mode {
    CLI_SERVICE_PROGRESS_REPLICATED,
    CLI_SERVICE_PROGRESS_GLOBAL,
    CLI_SERVICE_PROGRESS_REPLICATED_JOB,
    CLI_SERVICE_PROGRESS_GLOBAL_JOB,
};

struct cli_service_progress
{
    FILE *fp;                /* borrowed: stdout */
    bool tty;                /* fp is a terminal: redraw in place */
    bool quiet;              /* -q: nothing shown */
    int width;               /* terminal columns */
    char **ids;              /* owned: line IDs drawn, top to bottom */
    size_t n_ids;
    enum cli_service_progress_mode mode;
    bool initialized;
    bool done;               /* converged once: task lines frozen */
    long long *slots;        /* owned: slots in the order they got a line */
    size_t n_slots;
    /* jobs */
    long long iteration;     /* JobStatus.JobIteration.Index */
    long long total;         /* completions wanted */
    long long concurrent;    /* MaxConcurrent */
};

/* One task chosen for a slot or a node. */
struct cli_service_progress_pick
{
    const json_t *task;      /* borrowed from the task list */
    long long slot;
    const char *node;        /* borrowed */
    int desired;             /* rank of DesiredState */
    int state;               /* rank of Status.State */
};

static volatile sig_atomic_t cli_service_progress_sigint;

static void cli_service_progress_on_sigint(int sig)
{
    (void)sig;
    cli_service_progress_sigint = 1;
}

static int cli_service_progress_rank(const char *state)
{
    static const char *const names[] = {
        "new", "allocated", "pending", "assigned", "accepted",
        "preparing", "ready", "starting", "running",
    };
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(state, names[i]) == 0)
            return (int)i + 1;
    }
    if (strcmp(state, "complete") == 0 || strcmp(state, "failed") == 0 ||
        strcmp(state, "rejected") == 0)
        return CLI_SERVICE_PROGRESS__RUNNING + 1;
    return 0;
}

static long long cli_service_progress_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The bar of docker's JSONProgress for cur out of total on a width-column
 * terminal into out ("" when there is nothing to show). */
static void cli_service_progress_bar(long long cur, long long total,
                                     int width, char out[64])
{
    static const char eq[] =
        "==================================================";
    long long pct;

    out[0] = '\0';
    if (total <= 0 || width <= CLI_SERVICE_PROGRESS__BAR_MIN_W)
        return;
    pct = (long long)((double)cur / (double)total * 100) / 2;
    if (pct > 50)
        pct = 50;
    if (pct < 0)
        pct = 0;
    snprintf(out, 64, "[%.*s>%*s] ", (int)pct, eq, (int)(50 - pct), "");
}

static void cli_service_progress_up(struct cli_service_progress *p, size_t n)
{
    if (n > 0)
        fprintf(p->fp, "\x1b[%zuA", n);
}

static void cli_service_progress_down(struct cli_service_progress *p,
                                      size_t n)
{
    if (n > 0)
        fprintf(p->fp, "\x1b[%zuB", n);
}

static void cli_service_progress_forget(struct cli_service_progress *p)
{
    size_t i;

    for (i = 0; i < p->n_ids; i++)
        free(p->ids[i]);
    free(p->ids);
    p->ids = NULL;
    p->n_ids = 0;
}

/* A progress message: ID (may be ""), its action and a bar of cur out of
 * total (none when both are 0). */
static void cli_service_progress_line(struct cli_service_progress *p,
                                      const char *id, const char *action,
                                      long long cur, long long total)
{
    char bar[64];
    size_t line;
    size_t diff = 0;

    if (p->quiet)
        return;
    if (!p->tty) {
        /* docker's display drops a bar off a terminal (there it is drawn
         * for 200 columns, so every message with a total) */
        if (cur <= 0 && total <= 0) {
            if (*id != '\0')
                fprintf(p->fp, "%s: ", id);
            fprintf(p->fp, "%s\n", action);
        }
        return;
    }
    cli_service_progress_bar(cur, total, p->width, bar);
    if (*id != '\0') {
        for (line = 0; line < p->n_ids; line++) {
            if (strcmp(p->ids[line], id) == 0)
                break;
        }
        if (line == p->n_ids) {
            p->ids = xrealloc(p->ids, (p->n_ids + 1) * sizeof(*p->ids));
            p->ids[p->n_ids++] = xstrdup(id);
            fputs("\n", p->fp);
        }
        diff = p->n_ids - line;
        cli_service_progress_up(p, diff);
    } else {
        cli_service_progress_forget(p);
    }
    fputs("\x1b[2K\r", p->fp);
    if (*id != '\0')
        fprintf(p->fp, "%s: ", id);
    fprintf(p->fp, "%s %s\r", action, bar);
    cli_service_progress_down(p, diff);
}

/* A status message: a line of its own that ends the redrawn block. */
static void cli_service_progress_msg(struct cli_service_progress *p,
                                     const char *id, const char *msg)
{
    if (p->quiet)
        return;
    cli_service_progress_forget(p);
    if (*id != '\0')
        fprintf(p->fp, "%s: ", id);
    fprintf(p->fp, "%s\n", msg);
}

static void cli_service_progress_overall(struct cli_service_progress *p,
                                         long long n, long long of,
                                         bool rollback)
{
    char text[128];

    snprintf(text, sizeof(text), "%s%lld out of %lld tasks",
             rollback ? "rolling back update: " : "", n, of);
    cli_service_progress_line(p, "overall progress", text, 0, 0);
}

/* A task's line: its error (one line, at most 75 bytes as docker cuts
 * it) or its state with a bar while it is on its way. */
static void cli_service_progress_task(struct cli_service_progress *p,
                                      const char *id,
                                      const struct cli_service_progress_pick
                                          *k,
                                      bool rollback)
{
    const char *msg = cli_jstr(k->task, "Status.Err");
    char text[CLI_SERVICE_PROGRESS__ERR_MAX + 8];
    size_t n;
    size_t i;
    long long cur;

    if (*msg != '\0') {
        n = strlen(msg);
        if (n > CLI_SERVICE_PROGRESS__ERR_MAX) {
            memcpy(text, msg, CLI_SERVICE_PROGRESS__ERR_MAX - 1);
            memcpy(text + CLI_SERVICE_PROGRESS__ERR_MAX - 1, "\xe2\x80\xa6",
                   4);
        } else {
            memcpy(text, msg, n + 1);
        }
        for (i = 0; text[i] != '\0'; i++) {
            if (text[i] == '\n')
                text[i] = ' ';
        }
        cli_service_progress_line(p, id, text, 0, 0);
        return;
    }
    if (k->desired > CLI_SERVICE_PROGRESS__RUNNING ||
        k->state > CLI_SERVICE_PROGRESS__RUNNING)
        return;
    snprintf(text, sizeof(text), "%-*s", CLI_SERVICE_PROGRESS__STATE_W,
             cli_jstr(k->task, "Status.State"));
    cur = rollback ? CLI_SERVICE_PROGRESS__RUNNING - k->state : k->state;
    cli_service_progress_line(p, id, text, cur,
                              CLI_SERVICE_PROGRESS__RUNNING);
}

/* Order picks by key (slot or node), then the lowest desired state, then
 * the lowest observed state: the first of each key is docker's choice. */
static int cli_service_progress_pick_cmp(const void *a, const void *b)
{
    const struct cli_service_progress_pick *x = a;
    const struct cli_service_progress_pick *y = b;
    int c;

    if (x->node != NULL) {
        c = strcmp(x->node, y->node);
        if (c != 0)
            return c;
    } else if (x->slot != y->slot) {
        return x->slot < y->slot ? -1 : 1;
    }
    if (x->desired != y->desired)
        return x->desired < y->desired ? -1 : 1;
    return (x->state > y->state) - (x->state < y->state);
}

static bool cli_service_progress_active(const json_t *nodes, const char *id)
{
    const json_t *n;
    size_t i;

    json_array_foreach(nodes, i, n) {
        if (strcmp(cli_jstr(n, "ID"), id) == 0)
            return strcmp(cli_jstr(n, "Status.State"), "down") != 0;
    }
    return false;
}

/* One task per slot (by_node false: tasks on nodes that are down left
 * out) or per node, in key order; returns the count, *out owned. */
static size_t cli_service_progress_picks(
    const json_t *tasks, const json_t *nodes, bool by_node,
    struct cli_service_progress_pick **out)
{
    struct cli_service_progress_pick *k;
    const json_t *t;
    size_t i;
    size_t n = 0;
    size_t m = 0;

    k = xcalloc(json_array_size(tasks) + 1, sizeof(*k));
    json_array_foreach(tasks, i, t) {
        const char *node = cli_jstr(t, "NodeID");

        k[n].task = t;
        k[n].slot = cli_jint(t, "Slot");
        k[n].node = by_node ? node : NULL;
        k[n].desired = cli_service_progress_rank(cli_jstr(t, "DesiredState"));
        k[n].state = cli_service_progress_rank(cli_jstr(t, "Status.State"));
        if (k[n].desired == 0 || k[n].state == 0)
            continue;
        if (!by_node && *node != '\0' &&
            !cli_service_progress_active(nodes, node))
            continue;
        n++;
    }
    qsort(k, n, sizeof(*k), cli_service_progress_pick_cmp);
    for (i = 0; i < n; i++) {
        if (m > 0 && (by_node ? strcmp(k[m - 1].node, k[i].node) == 0
                              : k[m - 1].slot == k[i].slot))
            continue;
        k[m++] = k[i];
    }
    *out = k;
    return m;
}

/* docker's replicatedProgressUpdater; true once every replica runs. */
static bool cli_service_progress_replicated(struct cli_service_progress *p,
                                            const json_t *svc,
                                            const json_t *tasks,
                                            const json_t *nodes,
                                            bool rollback)
{
    long long replicas = cli_jint(svc, "Spec.Mode.Replicated.Replicas");
    struct cli_service_progress_pick *k = NULL;
    long long running = 0;
    char id[64];
    size_t line;
    size_t n;
    size_t i;

    if (!p->initialized) {
        cli_service_progress_overall(p, 0, replicas, rollback);
        for (i = 1; replicas <= CLI_SERVICE_PROGRESS__MAX_BARS &&
                    (long long)i <= replicas;
             i++) {
            snprintf(id, sizeof(id), "%zu/%lld", i, replicas);
            cli_service_progress_line(p, id, " ", 0, 0);
        }
        p->initialized = true;
    }
    n = cli_service_progress_picks(tasks, nodes, false, &k);
    for (i = 0; p->done && i < n; i++) {
        if (k[i].state != CLI_SERVICE_PROGRESS__RUNNING)
            p->done = false;
    }
    for (i = 0; i < n; i++) {
        for (line = 0; line < p->n_slots; line++) {
            if (p->slots[line] == k[i].slot)
                break;
        }
        if (line == p->n_slots) {
            p->slots = xrealloc(p->slots,
                                (p->n_slots + 1) * sizeof(*p->slots));
            p->slots[p->n_slots++] = k[i].slot;
        }
        if (k[i].desired <= CLI_SERVICE_PROGRESS__RUNNING &&
            k[i].state == CLI_SERVICE_PROGRESS__RUNNING)
            running++;
        if (p->done || replicas > CLI_SERVICE_PROGRESS__MAX_BARS ||
            (long long)line + 1 > replicas)
            continue;
        snprintf(id, sizeof(id), "%zu/%lld", line + 1, replicas);
        cli_service_progress_task(p, id, &k[i], rollback);
    }
    if (!p->done) {
        cli_service_progress_overall(p, running, replicas, rollback);
        p->done = running == replicas;
    }
    free(k);
    return running == replicas;
}

/* docker's globalProgressUpdater: the nodes are those the tasks of the
 * current spec are on; true once each runs its task. */
static bool cli_service_progress_global(struct cli_service_progress *p,
                                        const json_t *tasks,
                                        const json_t *nodes, bool rollback)
{
    struct cli_service_progress_pick *k = NULL;
    long long running = 0;
    char id[16];
    size_t n;
    size_t i;

    n = cli_service_progress_picks(tasks, nodes, true, &k);
    if (!p->initialized) {
        if (n == 0) {
            cli_service_progress_line(p, "overall progress",
                                      "waiting for new tasks", 0, 0);
            free(k);
            return false;
        }
        cli_service_progress_overall(p, 0, (long long)n, rollback);
        p->initialized = true;
    }
    for (i = 0; p->done && i < n; i++) {
        if (k[i].state != CLI_SERVICE_PROGRESS__RUNNING)
            p->done = false;
    }
    for (i = 0; i < n; i++) {
        if (!cli_service_progress_active(nodes, k[i].node))
            continue;
        if (k[i].desired <= CLI_SERVICE_PROGRESS__RUNNING &&
            k[i].state == CLI_SERVICE_PROGRESS__RUNNING)
            running++;
        if (p->done || n > CLI_SERVICE_PROGRESS__MAX_BARS)
            continue;
        snprintf(id, sizeof(id), "%.12s", k[i].node);
        cli_service_progress_task(p, id, &k[i], rollback);
    }
    if (!p->done) {
        cli_service_progress_overall(p, running, (long long)n, rollback);
        p->done = running == (long long)n;
    }
    free(k);
    return running == (long long)n;
}

static int cli_service_progress_digits(long long n)
{
    char text[32];

    return snprintf(text, sizeof(text), "%lld", n);
}

/* A job's task line: its error, or its state with a bar out of 10. */
static void cli_service_progress_job_task(struct cli_service_progress *p,
                                          const char *id, const json_t *t)
{
    const char *msg = cli_jstr(t, "Status.Err");
    const char *st = cli_jstr(t, "Status.State");
    struct cli_service_progress_pick k;
    char text[64];

    if (*msg != '\0') {
        k.task = t;
        k.desired = 0;
        k.state = 0;
        cli_service_progress_task(p, id, &k, false);
        return;
    }
    snprintf(text, sizeof(text), "%-*s", CLI_SERVICE_PROGRESS__STATE_W, st);
    cli_service_progress_line(p, id, text, cli_service_progress_rank(st),
                              CLI_SERVICE_PROGRESS__RUNNING + 1);
}

/* Tasks of the service's current job iteration (node_ok: on nodes up). */
static bool cli_service_progress_job_ok(const struct cli_service_progress *p,
                                        const json_t *t, const json_t *nodes,
                                        bool node_ok)
{
    if (cli_jget(t, "JobIteration.Index") == NULL ||
        cli_jint(t, "JobIteration.Index") != p->iteration)
        return false;
    if (node_ok &&
        !cli_service_progress_active(nodes, cli_jstr(t, "NodeID")))
        return false;
    return cli_service_progress_rank(cli_jstr(t, "DesiredState")) != 0 &&
           cli_service_progress_rank(cli_jstr(t, "Status.State")) != 0;
}

static void cli_service_progress_job_overall(struct cli_service_progress *p,
                                             long long done)
{
    char text[128];

    snprintf(text, sizeof(text), "%*lld out of %lld complete",
             cli_service_progress_digits(p->total), done, p->total);
    cli_service_progress_line(p, "job progress", text, done, p->total);
}

/* The two count lines of a replicated job: completions (with a bar) and
 * tasks active out of those that may run now. */
static void cli_service_progress_job_counts(struct cli_service_progress *p,
                                            long long active, long long done)
{
    long long room = p->concurrent;
    char text[128];

    if (p->total - done < room)
        room = p->total - done;
    cli_service_progress_job_overall(p, done);
    snprintf(text, sizeof(text), "%*lld out of %lld tasks",
             cli_service_progress_digits(p->concurrent), active, room);
    cli_service_progress_line(p, "active tasks", text, 0, 0);
}

/* docker's replicatedJobProgressUpdater: a line per slot (the task in
 * the lowest state), the completions and the tasks active; true once
 * TotalCompletions tasks completed. */
static bool cli_service_progress_replicated_job(
    struct cli_service_progress *p, const json_t *tasks,
    const json_t *nodes)
{
    json_t *none = json_object();
    const json_t **by_slot;
    const json_t *t;
    long long active = 0;
    long long done = 0;
    size_t n = 0;
    size_t i;
    char id[64];

    if (!p->initialized) {
        cli_service_progress_job_counts(p, 0, 0);
        for (i = 1; p->total <= CLI_SERVICE_PROGRESS__MAX_BARS &&
                    (long long)i <= p->total;
             i++) {
            snprintf(id, sizeof(id), "%zu/%lld", i, p->total);
            cli_service_progress_line(p, id, " ", 0, 0);
        }
        p->initialized = true;
    }
    by_slot = xcalloc(json_array_size(tasks) + 1, sizeof(*by_slot));
    json_array_foreach(tasks, i, t) {
        long long slot = cli_jint(t, "Slot");
        size_t j;

        if (!cli_service_progress_job_ok(p, t, nodes, false))
            continue;
        for (j = 0; j < n; j++) {
            if (cli_jint(by_slot[j], "Slot") == slot)
                break;
        }
        if (j == n)
            by_slot[n++] = t;
        else if (cli_service_progress_rank(
                     cli_jstr(by_slot[j], "Status.State")) >
                 cli_service_progress_rank(cli_jstr(t, "Status.State")))
            by_slot[j] = t;
    }
    /* docker walks slots 0..n-1; a slot without a task reads as an empty
     * task of slot 0 */
    for (i = 0; i < n; i++) {
        const json_t *task = none;
        long long slot = 0;
        size_t j;

        for (j = 0; j < n; j++) {
            if (cli_jint(by_slot[j], "Slot") == (long long)i) {
                task = by_slot[j];
                slot = (long long)i;
            }
        }
        if (p->total <= CLI_SERVICE_PROGRESS__MAX_BARS) {
            snprintf(id, sizeof(id), "%lld/%lld", slot + 1, p->total);
            cli_service_progress_job_task(p, id, task);
        }
        if (cli_service_progress_rank(cli_jstr(task, "Status.State")) <=
            CLI_SERVICE_PROGRESS__RUNNING)
            active++;
        if (strcmp(cli_jstr(task, "Status.State"), "complete") == 0)
            done++;
    }
    free(by_slot);
    json_decref(none);
    cli_service_progress_job_counts(p, active, done);
    return done == p->total;
}

/* docker's globalJobProgressUpdater: one task per node up; true once
 * each completed. */
static bool cli_service_progress_global_job(struct cli_service_progress *p,
                                            const json_t *tasks,
                                            const json_t *nodes)
{
    const json_t *t;
    long long n = 0;
    long long done = 0;
    size_t i;

    json_array_foreach(tasks, i, t) {
        if (cli_service_progress_job_ok(p, t, nodes, true))
            n++;
    }
    if (!p->initialized) {
        if (n == 0) {
            cli_service_progress_line(p, "job progress", "waiting for tasks",
                                      0, 0);
            return false;
        }
        p->total = n;
        p->initialized = true;
        cli_service_progress_job_overall(p, 0);
    }
    json_array_foreach(tasks, i, t) {
        if (!cli_service_progress_job_ok(p, t, nodes, true))
            continue;
        if (strcmp(cli_jstr(t, "Status.State"), "complete") == 0)
            done++;
        if (p->total > CLI_SERVICE_PROGRESS__MAX_BARS)
            continue;
        /* the whole node ID here, as docker shows it */
        cli_service_progress_job_task(p, cli_jstr(t, "NodeID"), t);
    }
    cli_service_progress_job_overall(p, done);
    return done == p->total;
}

/* GET the service, its up-to-date tasks and the nodes. */
static int cli_service_progress_fetch(struct cli *c, const char *ref,
                                      bool tasks_too, json_t **svc,
                                      json_t **tasks, json_t **nodes,
                                      struct err *err)
{
    char *esc = cli_http_escape(ref);
    char *path = xasprintf("/services/%s", esc);
    json_t *filters = NULL;
    char *q = NULL;
    int rv;

    free(esc);
    rv = cli_http_json(c, "GET", path, NULL, svc, err);
    free(path);
    if (rv != 0 || !tasks_too)
        return rv;
    filters = json_pack("{s:{s:b},s:{s:b}}", "service", ref, 1,
                        "_up-to-date", "true", 1);
    q = cli_format_json_compact(filters);
    esc = cli_http_escape(q);
    path = xasprintf("/tasks?filters=%s", esc);
    free(esc);
    free(q);
    json_decref(filters);
    rv = cli_http_json(c, "GET", path, NULL, tasks, err);
    free(path);
    if (rv == 0)
        rv = cli_http_json(c, "GET", "/nodes", NULL, nodes, err);
    return rv;
}

/* Sleep one poll period; false when SIGINT came. */
static bool cli_service_progress_sleep(void)
{
    struct timespec ts = {0, CLI_SERVICE_PROGRESS__POLL_MS * 1000000L};

    while (!cli_service_progress_sigint && nanosleep(&ts, &ts) != 0 &&
           errno == EINTR)
        ;
    return !cli_service_progress_sigint;
}

static void cli_service_progress_release(struct cli_service_progress *p)
{
    cli_service_progress_forget(p);
    free(p->slots);
}

/* The loop of docker's ServiceProgress. */
static int cli_service_progress_run(struct cli *c, const char *ref,
                                    struct cli_service_progress *p,
                                    struct err *err)
{
    long long monitor = CLI_SERVICE_PROGRESS__MONITOR_NS;
    long long converged_at = 0;
    bool converged = false;
    bool rollback = false;
    char *message = NULL;
    char text[128];
    long long wait;
    int rv = 0;

    for (;;) {
        json_t *svc = NULL;
        json_t *tasks = NULL;
        json_t *nodes = NULL;
        const char *st;
        const char *msg;

        rv = cli_service_progress_fetch(c, ref, false, &svc, NULL, NULL,
                                        err);
        if (rv != 0)
            break;
        if (cli_jint(svc, "Spec.UpdateConfig.Monitor") != 0)
            monitor = cli_jint(svc, "Spec.UpdateConfig.Monitor");
        if (!p->initialized) {
            if (cli_jget(svc, "Spec.Mode.Replicated.Replicas") != NULL) {
                p->mode = CLI_SERVICE_PROGRESS_REPLICATED;
            } else if (cli_jget(svc, "Spec.Mode.Global") != NULL) {
                p->mode = CLI_SERVICE_PROGRESS_GLOBAL;
            } else if (cli_jget(svc, "Spec.Mode.ReplicatedJob") != NULL) {
                p->mode = CLI_SERVICE_PROGRESS_REPLICATED_JOB;
                p->total = cli_jint(svc,
                                    "Spec.Mode.ReplicatedJob.TotalCompletions");
                p->concurrent = cli_jint(
                    svc, "Spec.Mode.ReplicatedJob.MaxConcurrent");
            } else if (cli_jget(svc, "Spec.Mode.GlobalJob") != NULL) {
                p->mode = CLI_SERVICE_PROGRESS_GLOBAL_JOB;
            } else {
                json_decref(svc);
                rv = err_set(err, ERR_INVALID, "unrecognized service mode");
                break;
            }
            p->iteration = cli_jint(svc, "JobStatus.JobIteration.Index");
        }
        st = cli_jstr(svc, "UpdateStatus.State");
        msg = cli_jstr(svc, "UpdateStatus.Message");
        if (strcmp(st, "updating") == 0) {
            rollback = false;
        } else if (strcmp(st, "completed") == 0 && !converged) {
            json_decref(svc);
            break;
        } else if (strcmp(st, "paused") == 0) {
            rv = err_set(err, ERR_INVALID, "service update paused: %s", msg);
        } else if (strcmp(st, "rollback_started") == 0) {
            if (!rollback && *msg != '\0')
                cli_service_progress_line(p, "rollback", msg, 0, 0);
            rollback = true;
        } else if (strcmp(st, "rollback_paused") == 0) {
            rv = err_set(err, ERR_INVALID, "service rollback paused: %s",
                         msg);
        } else if (strcmp(st, "rollback_completed") == 0) {
            if (!converged) {
                free(message);
                message = xstrdup(msg);
            }
            rollback = true;
        }
        json_decref(svc);
        if (rv != 0)
            break;
        if (converged &&
            cli_service_progress_now() - converged_at >= monitor) {
            snprintf(text, sizeof(text), "Service %s converged", ref);
            cli_service_progress_line(p, "verify", text, 0, 0);
            if (message != NULL)
                cli_service_progress_msg(p, "rollback", message);
            break;
        }
        svc = NULL;
        rv = cli_service_progress_fetch(c, ref, true, &svc, &tasks, &nodes,
                                        err);
        if (rv == 0) {
            if (p->mode == CLI_SERVICE_PROGRESS_REPLICATED)
                converged = cli_service_progress_replicated(
                    p, svc, tasks, nodes, rollback);
            else if (p->mode == CLI_SERVICE_PROGRESS_GLOBAL)
                converged = cli_service_progress_global(p, tasks, nodes,
                                                        rollback);
            else if (p->mode == CLI_SERVICE_PROGRESS_REPLICATED_JOB)
                converged =
                    cli_service_progress_replicated_job(p, tasks, nodes);
            else
                converged = cli_service_progress_global_job(p, tasks, nodes);
        }
        json_decref(svc);
        json_decref(tasks);
        json_decref(nodes);
        if (rv != 0)
            break;
        if (converged && (p->mode == CLI_SERVICE_PROGRESS_REPLICATED_JOB ||
                          p->mode == CLI_SERVICE_PROGRESS_GLOBAL_JOB)) {
            /* a job that completed stays so: no verify phase */
            cli_service_progress_msg(p, "", "job complete");
            break;
        }
        if (converged) {
            if (converged_at == 0)
                converged_at = cli_service_progress_now();
            wait = monitor - (cli_service_progress_now() - converged_at);
            if (wait >= 0) {
                snprintf(text, sizeof(text),
                         "Waiting %lld seconds to verify that tasks are "
                         "stable...",
                         wait / 1000000000LL + 1);
                cli_service_progress_line(p, "verify", text, 0, 0);
            }
        } else {
            if (converged_at != 0)
                cli_service_progress_line(p, "verify",
                                          "Detected task failure", 0, 0);
            converged_at = 0;
        }
        fflush(p->fp);
        if (!cli_service_progress_sleep()) {
            if (!converged) {
                cli_service_progress_msg(p, "",
                                         "Operation continuing in "
                                         "background.");
                snprintf(text, sizeof(text),
                         "Use `" CLI_PROG " service ps %s` to check "
                         "progress.",
                         ref);
                cli_service_progress_msg(p, "", text);
            }
            break;
        }
    }
    free(message);
    return rv;
}

int cli_service_progress(struct cli *c, const char *ref, bool quiet,
                         struct err *err)
{
    struct cli_service_progress p;
    struct sigaction sa;
    struct sigaction old;
    struct winsize ws;
    int rv;

    memset(&p, 0, sizeof(p));
    p.fp = stdout;
    p.quiet = quiet;
    p.tty = isatty(STDOUT_FILENO) == 1;
    p.width = 200;
    if (p.tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
        p.width = ws.ws_col;
    fflush(stdout);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = cli_service_progress_on_sigint;
    sigemptyset(&sa.sa_mask);
    cli_service_progress_sigint = 0;
    sigaction(SIGINT, &sa, &old);
    rv = cli_service_progress_run(c, ref, &p, err);
    sigaction(SIGINT, &old, NULL);
    fflush(stdout);
    cli_service_progress_release(&p);
    return rv;
}

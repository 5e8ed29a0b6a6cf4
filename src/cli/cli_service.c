/* SPDX-License-Identifier: Apache-2.0 */
/* `shoal service ...`: create, ls, ps, inspect, scale, update, rollback,
 * rm, logs, with docker's tables and messages. create, update, rollback
 * and scale then wait for the service to converge unless -d
 * (cli_service_progress.c). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "cli/cli_int.h"

#define CLI_SERVICE__LS_TABLE                                               \
    "table {{.ID}}\\t{{.Name}}\\t{{.Mode}}\\t{{.Replicas}}\\t{{.Image}}\\t" \
    "{{.Ports}}"
#define CLI_SERVICE__PS_TABLE                                               \
    "table {{.ID}}\\t{{.Name}}\\t{{.Image}}\\t{{.Node}}\\t"                 \
    "{{.DesiredState}}\\t{{.CurrentState}}\\t{{.Error}}\\t{{.Ports}}"

static char *cli_service_path(const char *ref, const char *suffix)
{
    char *esc = cli_http_escape(ref);
    char *p = xasprintf("/services/%s%s", esc, suffix);

    free(esc);
    return p;
}

static int cli_service_get(struct cli *c, const char *ref, json_t **out,
                           struct err *err)
{
    char *path = cli_service_path(ref, "");
    int rv = cli_http_json(c, "GET", path, NULL, out, err);

    free(path);
    return rv;
}

/* POST the service's spec back with its version (rollback: the daemon
 * swaps in the previous spec). */
static int cli_service_post(struct cli *c, const json_t *svc, bool rollback,
                            struct err *err)
{
    char *path = xasprintf(
        "/services/%s/update?version=%lld%s", cli_jstr(svc, "ID"),
        cli_jint(svc, "Version.Index"), rollback ? "&rollback=previous" : "");
    json_t *resp = NULL;
    json_t *w;
    size_t i;
    int rv;

    rv = cli_http_json(c, "POST", path, cli_jget(svc, "Spec"), &resp, err);
    json_array_foreach(cli_jget(resp, "Warnings"), i, w) {
        fprintf(stderr, "%s\n", json_string_value(w));
    }
    json_decref(resp);
    free(path);
    return rv;
}

/* Names to IDs for the spec builder: secrets and configs by exact name
 * from their lists (docker's ParseSecrets/ParseConfigs), networks by
 * inspecting them. */
static int cli_service_resolve(void *data, const char *kind,
                               const char *name, char **out_id,
                               struct err *err)
{
    struct cli *c = data;
    json_t *list = NULL;
    json_t *filters;
    json_t *v;
    char *q;
    char *esc;
    char *path;
    size_t i;
    int rv;

    *out_id = NULL;
    if (strcmp(kind, "network") == 0) {
        esc = cli_http_escape(name);
        path = xasprintf("/networks/%s", esc);
        free(esc);
        rv = cli_http_json(c, "GET", path, NULL, &list, err);
        free(path);
        if (rv == 0)
            *out_id = xstrdup(cli_jstr(list, "ID"));
        json_decref(list);
        return rv;
    }
    filters = json_pack("{s:{s:b}}", "name", name, 1);
    q = cli_format_json_compact(filters);
    esc = cli_http_escape(q);
    path = xasprintf("/%ss?filters=%s", kind, esc);
    free(q);
    free(esc);
    json_decref(filters);
    rv = cli_http_json(c, "GET", path, NULL, &list, err);
    free(path);
    json_array_foreach(list, i, v) {
        if (rv == 0 && *out_id == NULL &&
            strcmp(cli_jstr(v, "Spec.Name"), name) == 0)
            *out_id = xstrdup(cli_jstr(v, "ID"));
    }
    json_decref(list);
    if (rv == 0 && *out_id == NULL)
        rv = err_set(err, ERR_NOTFOUND, "%s not found: %s", kind, name);
    return rv;
}

/* docker waits for convergence unless -d, from API 1.29 on. */
static bool cli_service_waits(const struct cli *c, const struct cli_args *a)
{
    int major = 0;
    int minor = 0;

    if (cli_flag_bool(a, "detach"))
        return false;
    if (sscanf(c->api_version, "%d.%d", &major, &minor) != 2)
        return true;
    return major > 1 || (major == 1 && minor >= 29);
}

/* --- create ------------------------------------------------------------- */

int cli_service_create(struct cli *c, struct cli_args *a, struct err *err)
{
    json_t *spec = NULL;
    json_t *resp = NULL;
    json_t *w;
    size_t i;
    int rv;

    rv = cli_service_flags_create(a, cli_service_resolve, c, &spec, err);
    if (rv == 0)
        rv = cli_http_json(c, "POST", "/services/create", spec, &resp, err);
    if (rv == 0) {
        json_array_foreach(cli_jget(resp, "Warnings"), i, w) {
            fprintf(stderr, "%s\n", json_string_value(w));
        }
        printf("%s\n", cli_jstr(resp, "ID"));
        if (cli_service_waits(c, a))
            rv = cli_service_progress(c, cli_jstr(resp, "ID"),
                                      cli_flag_bool(a, "quiet"), err);
    }
    json_decref(resp);
    json_decref(spec);
    return rv;
}

/* --- ls ----------------------------------------------------------------- */

static const char *cli_service_mode(const json_t *svc)
{
    if (cli_jget(svc, "Spec.Mode.Global") != NULL)
        return "global";
    if (cli_jget(svc, "Spec.Mode.ReplicatedJob") != NULL)
        return "replicated job";
    if (cli_jget(svc, "Spec.Mode.GlobalJob") != NULL)
        return "global job";
    return "replicated";
}

/* The image without its digest, as docker's table shows it. */
static json_t *cli_service_image(const char *image)
{
    const char *at = strchr(image, '@');

    return at != NULL ? json_stringn(image, (size_t)(at - image))
                      : json_string(image);
}

static int cli_service_name_cmp(const void *a, const void *b)
{
    return strcmp(cli_jstr(*(json_t *const *)a, "Spec.Name"),
                  cli_jstr(*(json_t *const *)b, "Spec.Name"));
}

int cli_service_ls(struct cli *c, struct cli_args *a, struct err *err)
{
    struct cli_format f;
    json_t *list = NULL;
    json_t **sorted = NULL;
    char *filters = cli_filters_query(a, "filter");
    char *path;
    size_t n;
    size_t i;
    int rv;

    memset(&f, 0, sizeof(f));
    path = filters != NULL
               ? xasprintf("/services?status=true&filters=%s", filters)
               : xstrdup("/services?status=true");
    free(filters);
    rv = cli_http_json(c, "GET", path, NULL, &list, err);
    free(path);
    if (rv != 0)
        goto out;
    rv = cli_format_init(&f, cli_flag_str(a, "format"), CLI_SERVICE__LS_TABLE,
                         cli_flag_bool(a, "quiet"), "{{.ID}}",
                         json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "ID", "ID",
                                   "Name", "NAME", "Mode", "MODE",
                                   "Replicas", "REPLICAS", "Image", "IMAGE",
                                   "Ports", "PORTS"),
                         "*formatter.serviceContext", err);
    if (rv != 0)
        goto out;
    n = json_array_size(list);
    sorted = cli_jsorted(list, cli_service_name_cmp);
    for (i = 0; i < n && rv == 0; i++) {
        const json_t *s = sorted[i];
        char id[13];
        char *rep = xasprintf("%lld/%lld",
                              cli_jint(s, "ServiceStatus.RunningTasks"),
                              cli_jint(s, "ServiceStatus.DesiredTasks"));
        json_t *row;

        snprintf(id, sizeof(id), "%s", cli_jstr(s, "ID"));
        row = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s}", "ID", id, "Name",
                        cli_jstr(s, "Spec.Name"), "Mode",
                        cli_service_mode(s), "Replicas", rep, "Image",
                        cli_service_image(cli_jstr(
                            s, "Spec.TaskTemplate.ContainerSpec.Image")),
                        "Ports", "");
        free(rep);
        rv = cli_format_row(&f, row, err);
        json_decref(row);
    }
    if (rv == 0)
        rv = cli_format_flush(&f, stdout, err);
out:
    free(sorted);
    json_decref(list);
    cli_format_release(&f);
    return rv;
}

/* --- inspect, rm --------------------------------------------------------- */

int cli_service_inspect(struct cli *c, struct cli_args *a, struct err *err)
{
    char **paths = xcalloc((size_t)a->argc + 1, sizeof(*paths));
    size_t i;
    int rv;

    for (i = 0; i < (size_t)a->argc; i++)
        paths[i] = cli_service_path(a->argv[i], "?insertDefaults=false");
    rv = cli_format_inspect_paths(c, paths, (size_t)a->argc,
                                  cli_flag_str(a, "format"), err);
    for (i = 0; i < (size_t)a->argc; i++)
        free(paths[i]);
    free(paths);
    return rv;
}

int cli_service_rm(struct cli *c, struct cli_args *a, struct err *err)
{
    struct buf errs;
    int i;
    int rv = 0;

    buf_init(&errs, 1 << 20);
    for (i = 0; i < a->argc; i++) {
        struct err e;
        json_t *svc = NULL;
        char *path;

        err_clear(&e);
        if (cli_service_get(c, a->argv[i], &svc, &e) == 0) {
            path = cli_service_path(cli_jstr(svc, "ID"), "");
            if (cli_http_json(c, "DELETE", path, NULL, NULL, &e) == 0)
                printf("%s\n", a->argv[i]);
            free(path);
        }
        if (e.code != 0)
            (void)buf_printf(&errs, "%s%s", errs.len ? "\n" : "", e.msg);
        json_decref(svc);
    }
    if (errs.len > 0)
        rv = err_set(err, ERR_INVALID, "%s", errs.data);
    buf_release(&errs);
    return rv;
}

/* --- scale, update, rollback -------------------------------------------- */

int cli_service_scale(struct cli *c, struct cli_args *a, struct err *err)
{
    char **scaled;
    int n_scaled = 0;
    int i;
    int rv = 0;

    scaled = xcalloc((size_t)a->argc + 1, sizeof(*scaled));
    for (i = 0; i < a->argc && rv == 0; i++) {
        const char *eq = strchr(a->argv[i], '=');
        char *name;
        char *end;
        long long n;
        json_t *svc = NULL;

        if (eq == NULL || eq == a->argv[i]) {
            rv = err_set(err, ERR_INVALID,
                         "invalid scale specifier '%s'.\nSee '" CLI_PROG
                         " service scale --help'.\n\nUsage:  " CLI_PROG
                         " service scale SERVICE=REPLICAS "
                         "[SERVICE=REPLICAS...]\n\nScale one or multiple "
                         "replicated services",
                         a->argv[i]);
            break;
        }
        n = strtoll(eq + 1, &end, 10);
        if (*end != '\0' || n < 0 || eq[1] == '\0') {
            rv = err_set(err, ERR_INVALID, "invalid replicas value %s: %s",
                         eq + 1, "invalid syntax");
            break;
        }
        name = xstrndup(a->argv[i], (size_t)(eq - a->argv[i]));
        rv = cli_service_get(c, name, &svc, err);
        if (rv == 0 && cli_jget(svc, "Spec.Mode.Replicated") == NULL)
            rv = err_set(err, ERR_INVALID,
                         "scale can only be used with replicated or "
                         "replicated-job mode");
        if (rv == 0) {
            cli_jset(svc, "Spec.Mode.Replicated.Replicas", json_integer(n));
            rv = cli_service_post(c, svc, false, err);
        }
        if (rv == 0) {
            printf("%s scaled to %lld\n", name, n);
            scaled[n_scaled++] = name;
            name = NULL;
        }
        free(name);
        json_decref(svc);
    }
    /* docker waits for each service scaled once all are */
    for (i = 0; i < n_scaled; i++) {
        if (rv == 0 && cli_service_waits(c, a))
            rv = cli_service_progress(c, scaled[i], false, err);
        free(scaled[i]);
    }
    free(scaled);
    return rv;
}

int cli_service_update(struct cli *c, struct cli_args *a, struct err *err)
{
    json_t *svc = NULL;
    int rv;

    rv = cli_service_get(c, a->argv[0], &svc, err);
    if (rv == 0)
        rv = cli_service_flags_update(a, cli_jget(svc, "Spec"),
                                      cli_service_resolve, c, err);
    if (rv == 0)
        rv = cli_service_post(c, svc, cli_flag_bool(a, "rollback"), err);
    if (rv == 0)
        printf("%s\n", a->argv[0]);
    if (rv == 0 && cli_service_waits(c, a))
        rv = cli_service_progress(c, a->argv[0], cli_flag_bool(a, "quiet"),
                                  err);
    json_decref(svc);
    return rv;
}

int cli_service_rollback(struct cli *c, struct cli_args *a, struct err *err)
{
    json_t *svc = NULL;
    int rv = cli_service_get(c, a->argv[0], &svc, err);

    if (rv == 0)
        rv = cli_service_post(c, svc, true, err);
    if (rv == 0)
        printf("%s\n", a->argv[0]);
    if (rv == 0 && cli_service_waits(c, a))
        rv = cli_service_progress(c, a->argv[0], cli_flag_bool(a, "quiet"),
                                  err);
    json_decref(svc);
    return rv;
}

/* --- ps ----------------------------------------------------------------- */

/* Seconds since the epoch of an RFC 3339 UTC time; 0 if it does not
 * parse. */
static time_t cli_service_time(const char *s)
{
    struct tm tm;
    int y;
    int mo;
    int d;
    int h;
    int mi;
    int sec;

    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) !=
        6)
        return 0;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    return timegm(&tm);
}

/* Tasks by slot (node for global ones), then newest first. */
static int cli_service_task_cmp(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a;
    const json_t *y = *(json_t *const *)b;
    int r;

    if (cli_jint(x, "Slot") != cli_jint(y, "Slot"))
        return cli_jint(x, "Slot") < cli_jint(y, "Slot") ? -1 : 1;
    r = strcmp(cli_jstr(x, "NodeID"), cli_jstr(y, "NodeID"));
    if (cli_jint(x, "Slot") == 0 && r != 0)
        return r;
    return -strcmp(cli_jstr(x, "CreatedAt"), cli_jstr(y, "CreatedAt"));
}

static json_t *cli_service_ps_row(const json_t *t, const json_t *svc,
                                  const json_t *nodes, bool history,
                                  bool trunc)
{
    char name[256];
    char state[64];
    char ago[64];
    char id[32];
    const json_t *node = json_object_get(nodes, cli_jstr(t, "NodeID"));
    time_t ts = cli_service_time(cli_jstr(t, "Status.Timestamp"));
    const char *err = cli_jstr(t, "Status.Err");
    char errbuf[64];

    if (cli_jint(t, "Slot") != 0)
        snprintf(name, sizeof(name), "%s%s.%lld", history ? " \\_ " : "",
                 cli_jstr(svc, "Spec.Name"), cli_jint(t, "Slot"));
    else
        snprintf(name, sizeof(name), "%s%s.%s", history ? " \\_ " : "",
                 cli_jstr(svc, "Spec.Name"), cli_jstr(t, "NodeID"));
    cli_format_pretty(cli_jstr(t, "Status.State"), state, sizeof(state));
    cli_format_human_duration(
        (int64_t)(time(NULL) - ts) * 1000000000LL, ago, sizeof(ago));
    ago[0] = (char)tolower((unsigned char)ago[0]);
    snprintf(id, sizeof(id), "%.*s", trunc ? 12 : 25, cli_jstr(t, "ID"));
    if (trunc && strlen(err) > 29) {
        snprintf(errbuf, sizeof(errbuf), "\"%.28s…\"", err);
        err = errbuf;
    } else if (*err != '\0') {
        snprintf(errbuf, sizeof(errbuf), "\"%.60s\"", err);
        err = errbuf;
    }
    {
        char desired[64];
        char *cur = xasprintf("%s %s ago", state, ago);
        json_t *row;

        cli_format_pretty(cli_jstr(t, "DesiredState"), desired,
                          sizeof(desired));
        row = json_pack(
            "{s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:s}", "ID", id, "Name",
            name, "Image",
            cli_service_image(cli_jstr(t, "Spec.ContainerSpec.Image")),
            "Node", cli_jstr(node, "Description.Hostname"), "DesiredState",
            desired, "CurrentState", cur, "Error", err, "Ports", "");
        free(cur);
        return row;
    }
}

int cli_service_ps(struct cli *c, struct cli_args *a, struct err *err)
{
    struct cli_format f;
    json_t *svc = NULL;
    json_t *tasks = NULL;
    json_t *list = NULL;
    json_t *nodes = json_object();
    json_t **sorted = NULL;
    json_t *filters = json_object();
    const char **fv;
    char *q;
    char *esc;
    char *path;
    size_t n;
    size_t i;
    int rv;
    json_t *v;

    memset(&f, 0, sizeof(f));
    rv = cli_service_get(c, a->argv[0], &svc, err);
    if (rv != 0)
        goto out;
    cli_jset(filters, "service",
             json_pack("{s:b}", cli_jstr(svc, "ID"), 1));
    fv = cli_flag_list(a, "filter", &n);
    for (i = 0; i < n; i++) {
        const char *eq = strchr(fv[i], '=');
        char *k;

        if (eq == NULL) {
            rv = err_set(err, ERR_INVALID,
                         "bad format of filter (expected name=value)");
            goto out;
        }
        k = xstrndup(fv[i], (size_t)(eq - fv[i]));
        if (json_object_get(filters, k) == NULL)
            json_object_set_new(filters, k, json_object());
        json_object_set_new(json_object_get(filters, k), eq + 1, json_true());
        free(k);
    }
    q = cli_format_json_compact(filters);
    esc = cli_http_escape(q);
    free(q);
    path = xasprintf("/tasks?filters=%s", esc);
    free(esc);
    rv = cli_http_json(c, "GET", path, NULL, &tasks, err);
    free(path);
    if (rv == 0)
        rv = cli_http_json(c, "GET", "/nodes", NULL, &list, err);
    if (rv != 0)
        goto out;
    json_array_foreach(list, i, v) {
        json_object_set(nodes, cli_jstr(v, "ID"), v);
    }
    rv = cli_format_init(&f, cli_flag_str(a, "format"), CLI_SERVICE__PS_TABLE,
                         cli_flag_bool(a, "quiet"), "{{.ID}}",
                         json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "ID",
                                   "ID", "Name", "NAME", "Image", "IMAGE",
                                   "Node", "NODE", "DesiredState",
                                   "DESIRED STATE", "CurrentState",
                                   "CURRENT STATE", "Error", "ERROR", "Ports",
                                   "PORTS"),
                         "*formatter.taskContext", err);
    if (rv != 0)
        goto out;
    n = json_array_size(tasks);
    sorted = cli_jsorted(tasks, cli_service_task_cmp);
    for (i = 0; i < n && rv == 0; i++) {
        bool history = i > 0 && cli_service_task_cmp(&sorted[i - 1],
                                                     &sorted[i]) != 0 &&
                       cli_jint(sorted[i - 1], "Slot") ==
                           cli_jint(sorted[i], "Slot") &&
                       (cli_jint(sorted[i], "Slot") != 0 ||
                        strcmp(cli_jstr(sorted[i - 1], "NodeID"),
                               cli_jstr(sorted[i], "NodeID")) == 0);
        json_t *row = cli_service_ps_row(sorted[i], svc, nodes, history,
                                         !cli_flag_bool(a, "no-trunc"));

        rv = cli_format_row(&f, row, err);
        json_decref(row);
    }
    if (rv == 0)
        rv = cli_format_flush(&f, stdout, err);
out:
    free(sorted);
    json_decref(filters);
    json_decref(svc);
    json_decref(tasks);
    json_decref(list);
    json_decref(nodes);
    cli_format_release(&f);
    return rv;
}

/* --- logs --------------------------------------------------------------- */

/* One line "[time ]details line" of the service's log stream, printed as
 * docker does: "<service>.<slot>.<task id>@<node>    | line". */
static void cli_service_log_line(struct cli *c, const json_t *svc,
                                 json_t *cache, const char *buf, size_t len,
                                 FILE *fp)
{
    char *line = xstrndup(buf, len);
    char *details = line;
    char *text = strchr(line, ' ');
    char task_id[32] = "";
    char node_id[32] = "";
    char *p;
    json_t *task;
    json_t *node;
    struct err e;

    if (text == NULL) {
        fputs(line, fp);
        free(line);
        return;
    }
    *text++ = '\0';
    for (p = strtok(details, ","); p != NULL; p = strtok(NULL, ",")) {
        if (strncmp(p, "com.docker.swarm.task.id=", 25) == 0)
            snprintf(task_id, sizeof(task_id), "%s", p + 25);
        else if (strncmp(p, "com.docker.swarm.node.id=", 25) == 0)
            snprintf(node_id, sizeof(node_id), "%s", p + 25);
    }
    task = json_object_get(cache, task_id);
    if (task == NULL) {
        char *path = xasprintf("/tasks/%s", task_id);

        err_clear(&e);
        task = NULL;
        if (cli_http_json(c, "GET", path, NULL, &task, &e) != 0)
            task = json_object();
        json_object_set_new(cache, task_id, task);
        free(path);
    }
    node = json_object_get(cache, node_id);
    if (node == NULL) {
        char *path = xasprintf("/nodes/%s", node_id);

        err_clear(&e);
        if (cli_http_json(c, "GET", path, NULL, &node, &e) != 0)
            node = json_object();
        json_object_set_new(cache, node_id, node);
        free(path);
    }
    if (cli_jint(task, "Slot") != 0)
        fprintf(fp, "%s.%lld.%.12s@%s    | %s", cli_jstr(svc, "Spec.Name"),
                cli_jint(task, "Slot"), task_id,
                cli_jstr(node, "Description.Hostname"), text);
    else
        fprintf(fp, "%s.%s.%.12s@%s    | %s", cli_jstr(svc, "Spec.Name"),
                node_id, task_id, cli_jstr(node, "Description.Hostname"),
                text);
    free(line);
}

int cli_service_logs(struct cli *c, struct cli_args *a, struct err *err)
{
    struct cli_resp r;
    json_t *svc = NULL;
    json_t *cache = json_object();
    const char *tail = cli_flag_str(a, "tail");
    char *path;
    char *q;
    size_t off = 0;
    int rv;

    memset(&r, 0, sizeof(r));
    rv = cli_service_get(c, a->argv[0], &svc, err);
    if (rv != 0)
        goto out;
    q = xasprintf("/logs?stdout=1&stderr=1&details=1&tail=%s",
                  tail[0] != '\0' ? tail : "all");
    path = cli_service_path(cli_jstr(svc, "ID"), q);
    free(q);
    rv = cli_http_request(c, "GET", path, NULL, &r, err);
    free(path);
    if (rv != 0)
        goto out;
    while (off + 8 <= r.body.len) {
        const unsigned char *h = (const unsigned char *)r.body.data + off;
        size_t len = ((size_t)h[4] << 24) | ((size_t)h[5] << 16) |
                     ((size_t)h[6] << 8) | h[7];

        if (off + 8 + len > r.body.len)
            break;
        cli_service_log_line(c, svc, cache, r.body.data + off + 8, len,
                             h[0] == 2 ? stderr : stdout);
        off += 8 + len;
    }
    cli_resp_release(&r);
out:
    json_decref(cache);
    json_decref(svc);
    return rv;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Containers as the Engine API shows them: lookup by ID, prefix or name,
 * inspect and list shapes, Docker's status texts, ps filters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/jfilter.h"
#include "engine/engine_int.h"

void engine_view_now(char out[ENGINE_TIME_LEN])
{
    struct timespec ts;
    struct tm tm;
    size_t n;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(out, ENGINE_TIME_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, ENGINE_TIME_LEN - n, ".%09dZ",
             (int)(ts.tv_nsec % 1000000000));
}

double engine_view_parse_time(const char *s)
{
    struct tm tm;
    const char *p;
    double frac = 0;
    time_t t;

    if (s == NULL)
        return -1;
    memset(&tm, 0, sizeof(tm));
    p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (p == NULL)
        return -1;
    if (*p == '.') {
        char *end;

        frac = strtod(p, &end);
        p = end;
    }
    if (*p != 'Z')
        return -1;
    t = timegm(&tm);
    return (double)t + frac;
}

void engine_view_human(double secs, char *out, size_t cap)
{
    long s = (long)secs;
    long m = s / 60;
    long h = m / 60;
    long hr = (long)(secs / 3600 + 0.5); /* rounded hours */

    /* Docker's go-units HumanDuration. */
    if (secs < 1)
        snprintf(out, cap, "Less than a second");
    else if (s == 1)
        snprintf(out, cap, "1 second");
    else if (s < 60)
        snprintf(out, cap, "%ld seconds", s);
    else if (m == 1)
        snprintf(out, cap, "About a minute");
    else if (m < 60)
        snprintf(out, cap, "%ld minutes", m);
    else if (hr == 1)
        snprintf(out, cap, "About an hour");
    else if (h < 48)
        snprintf(out, cap, "%ld hours", hr);
    else if (h < 24 * 7 * 2)
        snprintf(out, cap, "%ld days", h / 24);
    else if (h < 24 * 30 * 2)
        snprintf(out, cap, "%ld weeks", h / 24 / 7);
    else if (h < 24 * 365 * 2)
        snprintf(out, cap, "%ld months", h / 24 / 30);
    else
        snprintf(out, cap, "%ld years", h / 24 / 365);
}

const char *engine_view_status_name(enum engine_status s)
{
    switch (s) {
    case ENGINE_CREATED: return "created";
    case ENGINE_RUNNING: return "running";
    case ENGINE_EXITED: return "exited";
    case ENGINE_REMOVING: return "removing";
    case ENGINE_DEAD: return "dead";
    }
    return "dead";
}

const char *engine_view_ctr_status(const struct engine_ctr *c)
{
    if (c->restarting && c->status == ENGINE_EXITED)
        return "restarting";
    return engine_view_status_name(c->status);
}

void engine_view_status_text(const struct engine_ctr *c, double now,
                             char *out, size_t cap)
{
    char human[64];
    double t;

    switch (c->status) {
    case ENGINE_CREATED:
        snprintf(out, cap, "Created");
        return;
    case ENGINE_RUNNING:
        t = engine_view_parse_time(c->started_at);
        engine_view_human(t < 0 ? 0 : now - t, human, sizeof(human));
        if (c->health == NULL)
            snprintf(out, cap, "Up %s", human);
        else if (strcmp(engine_health_status(c->health),
                        ENGINE_HEALTH_STARTING) == 0)
            snprintf(out, cap, "Up %s (health: starting)", human);
        else
            snprintf(out, cap, "Up %s (%s)", human,
                     engine_health_status(c->health));
        return;
    case ENGINE_REMOVING:
        snprintf(out, cap, "Removal In Progress");
        return;
    case ENGINE_DEAD:
        snprintf(out, cap, "Dead");
        return;
    case ENGINE_EXITED:
        break;
    }
    t = engine_view_parse_time(c->finished_at);
    if (t <= 0) {
        snprintf(out, cap, "%s (%d)",
                 c->restarting ? "Restarting" : "Exited", c->exit_code);
        return;
    }
    engine_view_human(now - t, human, sizeof(human));
    snprintf(out, cap, "%s (%d) %s ago",
             c->restarting ? "Restarting" : "Exited", c->exit_code, human);
}

struct engine_ctr *engine_view_by_name(struct engine *e, const char *name)
{
    struct engine_ctr *c;
    const char *n = name[0] == '/' ? name + 1 : name;

    for (c = e->ctrs; c != NULL; c = c->next) {
        if (!c->gone && strcmp(c->name + 1, n) == 0)
            return c;
    }
    return NULL;
}

struct engine_ctr *engine_view_lookup(struct engine *e, const char *ref,
                                      struct err *err)
{
    struct engine_ctr *c;
    struct engine_ctr *found = NULL;
    size_t len = strlen(ref);

    if (len == 0) {
        err_set(err, ERR_NOTFOUND, "No such container: %s", ref);
        return NULL;
    }
    for (c = e->ctrs; c != NULL; c = c->next) {
        if (!c->gone && strcmp(c->id, ref) == 0)
            return c;
    }
    c = engine_view_by_name(e, ref);
    if (c != NULL)
        return c;
    for (c = e->ctrs; c != NULL; c = c->next) {
        if (c->gone || strncmp(c->id, ref, len) != 0)
            continue;
        if (found != NULL) {
            err_set(err, ERR_INVALID,
                    "multiple IDs found with provided prefix: %s", ref);
            return NULL;
        }
        found = c;
    }
    if (found == NULL)
        err_set(err, ERR_NOTFOUND, "No such container: %s", ref);
    return found;
}

static json_t *engine_view_state(const struct engine_ctr *c)
{
    json_t *st = json_pack("{s:s, s:b, s:b, s:b, s:b, s:b, s:i, s:i, s:s, s:s, "
                     "s:s}",
                     "Status", engine_view_ctr_status(c), "Running",
                     c->status == ENGINE_RUNNING || c->restarting, "Paused",
                     0, "Restarting", c->restarting, "OOMKilled",
                     c->oom_killed, "Dead",
                     c->status == ENGINE_DEAD, "Pid", (int)c->pid,
                     "ExitCode", c->exit_code, "Error",
                     c->error ? c->error : "", "StartedAt", c->started_at,
                     "FinishedAt", c->finished_at);

    if (c->health != NULL)
        json_object_set_new(st, "Health", json_deep_copy(c->health));
    return st;
}

/* Mounts as inspect and ps show them, from Binds, Mounts and Tmpfs. */
static json_t *engine_view_mounts(const struct engine_ctr *c)
{
    json_t *out = json_array();
    json_t *v;
    size_t i;

    json_array_foreach(json_object_get(c->host, "Binds"), i, v) {
        const char *s = json_string_value(v);
        char *copy;
        char *dst;
        char *mode;

        if (s == NULL)
            continue;
        copy = strdup(s);
        if (copy == NULL)
            continue;
        dst = strchr(copy, ':');
        if (dst != NULL) {
            *dst++ = '\0';
            mode = strchr(dst, ':');
            if (mode != NULL)
                *mode++ = '\0';
            json_array_append_new(
                out, json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "Type",
                               "bind", "Source", copy, "Destination", dst,
                               "Mode", mode ? mode : "", "RW",
                               !(mode && strstr(mode, "ro")), "Propagation",
                               "rprivate"));
        }
        free(copy);
    }
    json_array_foreach(json_object_get(c->host, "Mounts"), i, v) {
        const char *type = json_string_value(json_object_get(v, "Type"));
        const char *src = json_string_value(json_object_get(v, "Source"));
        const char *dst = json_string_value(json_object_get(v, "Target"));

        json_array_append_new(
            out, json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "Type",
                           type ? type : "", "Source", src ? src : "",
                           "Destination", dst ? dst : "", "Mode", "", "RW",
                           !json_is_true(json_object_get(v, "ReadOnly")),
                           "Propagation",
                           type && strcmp(type, "bind") == 0 ? "rprivate"
                                                             : ""));
    }
    return out;
}

static const char *engine_view_netmode(const struct engine_ctr *c)
{
    const char *m = json_string_value(json_object_get(c->host,
                                                      "NetworkMode"));

    if (m == NULL || m[0] == '\0' || strcmp(m, "default") == 0)
        return "bridge";
    return m;
}

static json_t *engine_view_networks(const struct engine_ctr *c)
{
    return json_pack("{s:{s:{s:n, s:n, s:n, s:s, s:s, s:s, s:s, s:i, "
                     "s:s, s:s, s:i, s:s, s:n}}}",
                     "Networks", engine_view_netmode(c), "IPAMConfig",
                     "Links", "Aliases", "MacAddress", "", "NetworkID", "",
                     "EndpointID", "", "Gateway", "", "IPPrefixLen", 0,
                     "IPAddress", "", "IPv6Gateway", "",
                     "GlobalIPv6PrefixLen", 0, "GlobalIPv6Address", "",
                     "DNSNames");
}

static json_t *engine_view_graph(const struct engine_ctr *c);

json_t *engine_view_inspect(const struct engine_ctr *c)
{
    const char *root = c->e != NULL ? c->e->cdir_root : "";
    char *cdir = engine_state_dir(root, c->id);
    char *logp = engine_state_log_path(root, c->id);
    json_t *out = json_object();
    json_t *ns;

    json_object_set_new(out, "Id", json_string(c->id));
    json_object_set_new(out, "Created", json_string(c->created));
    json_object_set_new(out, "Path", json_string(c->path));
    json_object_set(out, "Args", c->args);
    json_object_set_new(out, "State", engine_view_state(c));
    json_object_set_new(out, "Image", json_string(c->image_id));
    json_object_set_new(out, "ResolvConfPath",
                        json_sprintf("%s/resolv.conf", cdir));
    json_object_set_new(out, "HostnamePath",
                        json_sprintf("%s/hostname", cdir));
    json_object_set_new(out, "HostsPath", json_sprintf("%s/hosts", cdir));
    json_object_set_new(out, "LogPath", json_string(logp));
    json_object_set_new(out, "Name", json_string(c->name));
    json_object_set_new(out, "RestartCount",
                        json_integer(c->restart_count));
    json_object_set_new(out, "Driver", json_string("overlay2"));
    json_object_set_new(out, "Platform", json_string("linux"));
    json_object_set_new(out, "MountLabel", json_string(""));
    json_object_set_new(out, "ProcessLabel", json_string(""));
    json_object_set_new(out, "AppArmorProfile", json_string(""));
    json_object_set_new(out, "ExecIDs", json_null());
    json_object_set(out, "HostConfig", c->host);
    json_object_set_new(out, "GraphDriver", engine_view_graph(c));
    json_object_set_new(out, "Mounts", engine_view_mounts(c));
    json_object_set(out, "Config", c->config);
    ns = json_pack("{s:s, s:s, s:b, s:{}, s:s, s:n, s:n}", "Bridge", "",
                   "SandboxID", "", "HairpinMode", 0, "Ports", "SandboxKey",
                   "", "SecondaryIPAddresses", "SecondaryIPv6Addresses");
    json_object_update_new(ns, engine_view_networks(c));
    json_object_set_new(out, "NetworkSettings", ns);
    free(cdir);
    free(logp);
    return out;
}

static char *engine_view_command(const struct engine_ctr *c)
{
    size_t n = strlen(c->path) + 1;
    json_t *v;
    size_t i;
    char *out;

    json_array_foreach(c->args, i, v) {
        n += strlen(json_string_value(v)) + 1;
    }
    out = malloc(n + 1);
    if (out == NULL)
        return NULL;
    strcpy(out, c->path);
    json_array_foreach(c->args, i, v) {
        strcat(out, " ");
        strcat(out, json_string_value(v));
    }
    return out;
}

json_t *engine_view_summary(const struct engine_ctr *c, double now)
{
    char status[96];
    char *cmd = engine_view_command(c);
    json_t *labels = json_object_get(c->config, "Labels");
    json_t *out;

    engine_view_status_text(c, now, status, sizeof(status));
    out = json_pack(
        "{s:s, s:[s], s:s, s:s, s:s, s:I, s:[], s:O, s:s, s:s, "
        "s:{s:s}, s:o, s:o}",
        "Id", c->id, "Names", c->name, "Image",
        json_string_value(json_object_get(c->config, "Image")) ?: "",
        "ImageID", c->image_id, "Command", cmd ? cmd : "", "Created",
        (json_int_t)engine_view_parse_time(c->created), "Ports", "Labels",
        json_is_object(labels) ? labels : json_object(), "State",
        engine_view_ctr_status(c), "Status", status, "HostConfig",
        "NetworkMode", engine_view_netmode(c), "NetworkSettings",
        engine_view_networks(c), "Mounts", engine_view_mounts(c));
    free(cmd);
    return out;
}

/* Docker's name filter is a regular-expression search; plain substrings
 * cover what users type. */
static bool engine_view_name_match(const json_t *filters, const char *name)
{
    json_t *vals = json_object_get(filters, "name");
    json_t *want;
    size_t i;

    if (json_array_size(vals) == 0)
        return true;
    json_array_foreach(vals, i, want) {
        const char *w = json_string_value(want);

        if (w == NULL)
            continue;
        if (w[0] == '^' && strncmp(name + 1, w + 1, strlen(w + 1)) == 0)
            return true;
        if (w[0] != '^' && strstr(name, w) != NULL)
            return true;
    }
    return false;
}

int engine_view_check_filters(const json_t *filters, struct err *err)
{
    static const char *const keys[] = {"name", "id", "label", "status",
                                       "exited", "ancestor", "health",
                                       NULL};
    const char *key;
    json_t *v;
    size_t i;
    json_t *s;

    json_object_foreach((json_t *)filters, key, v) {
        const char *const *k;

        for (k = keys; *k != NULL && strcmp(*k, key) != 0; k++)
            ;
        if (*k == NULL)
            return err_set(err, ERR_INVALID, "invalid filter '%s'", key);
        if (strcmp(key, "status") == 0) {
            json_array_foreach(v, i, s) {
                const char *st = json_string_value(s);

                if (st == NULL ||
                    (strcmp(st, "created") != 0 &&
                     strcmp(st, "restarting") != 0 &&
                     strcmp(st, "running") != 0 &&
                     strcmp(st, "removing") != 0 &&
                     strcmp(st, "paused") != 0 &&
                     strcmp(st, "exited") != 0 && strcmp(st, "dead") != 0))
                    return err_set(err, ERR_INVALID,
                                   "invalid filter 'status=%s'",
                                   st ? st : "");
            }
        }
        if (strcmp(key, "health") == 0) {
            json_array_foreach(v, i, s) {
                const char *h = json_string_value(s);

                if (h == NULL ||
                    (strcmp(h, ENGINE_HEALTH_STARTING) != 0 &&
                     strcmp(h, ENGINE_HEALTH_HEALTHY) != 0 &&
                     strcmp(h, ENGINE_HEALTH_UNHEALTHY) != 0 &&
                     strcmp(h, "none") != 0))
                    return err_set(err, ERR_INVALID,
                                   "Unrecognised filter value for health: "
                                   "%s",
                                   h ? h : "");
            }
        }
        if (strcmp(key, "exited") == 0) {
            json_array_foreach(v, i, s) {
                const char *x = json_string_value(s);
                char *end;

                if (x == NULL || x[0] == '\0' ||
                    (strtol(x, &end, 10), *end != '\0'))
                    return err_set(err, ERR_INVALID,
                                   "invalid filter 'exited=%s'",
                                   x ? x : "");
            }
        }
    }
    return 0;
}

bool engine_view_matches(const struct engine_ctr *c, const json_t *filters)
{
    const char *img = json_string_value(json_object_get(c->config, "Image"));
    json_t *vals;
    json_t *v;
    size_t i;
    char code[16];

    if (filters == NULL)
        return true;
    if (!jfilter_any(filters, "id", c->id, true))
        return false;
    if (!engine_view_name_match(filters, c->name))
        return false;
    if (!jfilter_labels(filters, "label",
                        json_object_get(c->config, "Labels")))
        return false;
    if (!jfilter_any(filters, "status", engine_view_ctr_status(c),
                         false))
        return false;
    if (!jfilter_any(filters, "health", engine_health_status(c->health),
                     false))
        return false;
    vals = json_object_get(filters, "exited");
    if (json_array_size(vals) > 0) {
        if (c->status != ENGINE_EXITED || c->restarting)
            return false;
        snprintf(code, sizeof(code), "%d", c->exit_code);
        if (!jfilter_any(filters, "exited", code, false))
            return false;
    }
    vals = json_object_get(filters, "ancestor");
    if (json_array_size(vals) > 0) {
        bool hit = false;

        json_array_foreach(vals, i, v) {
            const char *w = json_string_value(v);
            size_t wl;

            if (w == NULL)
                continue;
            wl = strlen(w);
            if (img != NULL &&
                (strcmp(img, w) == 0 ||
                 (strncmp(img, w, wl) == 0 && strcmp(img + wl, ":latest") ==
                                                  0) ||
                 (strncmp(w, img, strlen(img)) == 0 &&
                  strcmp(w + strlen(img), ":latest") == 0)))
                hit = true;
            if (strcmp(c->image_id, w) == 0 ||
                (strncmp(c->image_id, "sha256:", 7) == 0 && wl >= 4 &&
                 strncmp(c->image_id + 7, w, wl) == 0))
                hit = true;
        }
        if (!hit)
            return false;
    }
    return true;
}

/* GraphDriver as Docker's inspect shows it (oci_spec_exec_process looks
 * users up in MergedDir). */
static json_t *engine_view_graph(const struct engine_ctr *c)
{
    const char *root = c->e != NULL ? c->e->cdir_root : "";

    return json_pack("{s:{s:o, s:o, s:o}, s:s}", "Data", "MergedDir",
                     json_sprintf("%s/%s/rootfs", root, c->id), "UpperDir",
                     json_sprintf("%s/%s/fs/diff", root, c->id), "WorkDir",
                     json_sprintf("%s/%s/fs/work", root, c->id), "Name",
                     "overlay2");
}

json_t *engine_view_spec_input(const struct engine_ctr *c)
{
    return json_pack("{s:s, s:s, s:O, s:O, s:s, s:O, s:s, s:o}", "Id",
                     c->id, "Name", c->name, "Config", c->config,
                     "HostConfig", c->host, "Path", c->path, "Args",
                     c->args, "Image", c->image_id, "GraphDriver",
                     engine_view_graph(c));
}

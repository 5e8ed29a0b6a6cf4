/* SPDX-License-Identifier: Apache-2.0 */
/* `shoal info` and `shoal version`: docker's layouts, including the whole
 * Swarm section of `docker info`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "cli/cli_int.h"

#ifndef CLI_GIT_COMMIT
#define CLI_GIT_COMMIT "unknown"
#endif
#ifndef CLI_BUILD_TIME
#define CLI_BUILD_TIME "unknown"
#endif

/* Go's GOARCH name of the machine we were built for. */
#if defined(__x86_64__)
#define CLI_SYSTEM__ARCH "amd64"
#elif defined(__aarch64__)
#define CLI_SYSTEM__ARCH "arm64"
#elif defined(__i386__)
#define CLI_SYSTEM__ARCH "386"
#elif defined(__arm__)
#define CLI_SYSTEM__ARCH "arm"
#elif defined(__riscv) && __riscv_xlen == 64
#define CLI_SYSTEM__ARCH "riscv64"
#else
#define CLI_SYSTEM__ARCH "unknown"
#endif

#define CLI_SYSTEM__OUT_MAX (64u << 20)

/* ---- info ---- */

static void cli_system_join(struct buf *o, const json_t *arr, const char *sep)
{
    size_t i;

    for (i = 0; i < json_array_size(arr); i++) {
        const char *s = json_string_value(json_array_get(arr, i));

        (void)buf_printf(o, "%s%s", i > 0 ? sep : "", s != NULL ? s : "");
    }
}

static void cli_system_dur(struct buf *o, const char *title, long long ns)
{
    char tmp[64];

    cli_format_human_duration((int64_t)ns, tmp, sizeof(tmp));
    (void)buf_printf(o, "%s%s\n", title, tmp);
}

static int cli_system_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void cli_system_swarm(struct buf *o, const json_t *sw)
{
    const char *state = cli_jstr(sw, "LocalNodeState");
    const json_t *cl = cli_jget(sw, "Cluster");
    const json_t *rm = cli_jget(sw, "RemoteManagers");
    size_t i;

    (void)buf_printf(o, " Swarm: %s\n", state);
    if (strcmp(state, "inactive") == 0 || strcmp(state, "locked") == 0)
        return;
    (void)buf_printf(o, "  NodeID: %s\n", cli_jstr(sw, "NodeID"));
    if (*cli_jstr(sw, "Error") != '\0')
        (void)buf_printf(o, "  Error: %s\n", cli_jstr(sw, "Error"));
    (void)buf_printf(o, "  Is Manager: %s\n",
                     cli_jbool(sw, "ControlAvailable") ? "true" : "false");
    if (json_is_object(cl) && cli_jbool(sw, "ControlAvailable") &&
        *cli_jstr(sw, "Error") == '\0' && strcmp(state, "error") != 0) {
        const json_t *pools = cli_jget(cl, "DefaultAddrPool");
        const json_t *cas = cli_jget(cl, "Spec.CAConfig.ExternalCAs");
        const char *signing = cli_jstr(cl, "Spec.CAConfig.SigningCACert");

        (void)buf_printf(o, "  ClusterID: %s\n", cli_jstr(cl, "ID"));
        (void)buf_printf(o, "  Managers: %lld\n", cli_jint(sw, "Managers"));
        (void)buf_printf(o, "  Nodes: %lld\n", cli_jint(sw, "Nodes"));
        if (json_array_size(pools) > 0) {
            (void)buf_puts(o, "  Default Address Pool: ");
            for (i = 0; i < json_array_size(pools); i++)
                (void)buf_printf(o, "%s  ",
                                 json_string_value(json_array_get(pools, i)));
            (void)buf_printf(o, "\n  SubnetSize: %lld\n",
                             cli_jint(cl, "SubnetSize"));
        }
        (void)buf_printf(o, "  Data Path Port: %lld\n",
                         cli_jint(cl, "DataPathPort"));
        (void)buf_printf(o,
                         "  Orchestration:\n"
                         "   Task History Retention Limit: %lld\n",
                         cli_jint(cl, "Spec.Orchestration."
                                      "TaskHistoryRetentionLimit"));
        (void)buf_printf(o,
                         "  Raft:\n"
                         "   Snapshot Interval: %lld\n"
                         "   Number of Old Snapshots to Retain: %lld\n"
                         "   Heartbeat Tick: %lld\n"
                         "   Election Tick: %lld\n",
                         cli_jint(cl, "Spec.Raft.SnapshotInterval"),
                         cli_jint(cl, "Spec.Raft.KeepOldSnapshots"),
                         cli_jint(cl, "Spec.Raft.HeartbeatTick"),
                         cli_jint(cl, "Spec.Raft.ElectionTick"));
        (void)buf_puts(o, "  Dispatcher:\n");
        cli_system_dur(o, "   Heartbeat Period: ",
                       cli_jint(cl, "Spec.Dispatcher.HeartbeatPeriod"));
        (void)buf_puts(o, "  CA Configuration:\n");
        cli_system_dur(o, "   Expiry Duration: ",
                       cli_jint(cl, "Spec.CAConfig.NodeCertExpiry"));
        (void)buf_printf(o, "   Force Rotate: %lld\n",
                         cli_jint(cl, "Spec.CAConfig.ForceRotate"));
        if (*signing != '\0') {
            size_t sl = strlen(signing);

            while (sl > 0 &&
                   (signing[sl - 1] == '\n' || signing[sl - 1] == ' '))
                sl--;
            (void)buf_printf(o, "   Signing CA Certificate: \n%.*s\n\n",
                             (int)sl, signing);
        }
        if (json_array_size(cas) > 0) {
            (void)buf_puts(o, "   External CAs:\n");
            for (i = 0; i < json_array_size(cas); i++) {
                const json_t *ca = json_array_get(cas, i);

                (void)buf_printf(o, "     %s: %s\n", cli_jstr(ca, "Protocol"),
                                 cli_jstr(ca, "URL"));
            }
        }
        (void)buf_printf(o, "  Autolock Managers: %s\n",
                         cli_jbool(cl, "Spec.EncryptionConfig."
                                       "AutoLockManagers")
                             ? "true"
                             : "false");
        (void)buf_printf(o, "  Root Rotation In Progress: %s\n",
                         cli_jbool(cl, "RootRotationInProgress") ? "true"
                                                                 : "false");
    }
    (void)buf_printf(o, "  Node Address: %s\n", cli_jstr(sw, "NodeAddr"));
    if (json_array_size(rm) > 0) {
        size_t n = json_array_size(rm);
        const char **addrs = xcalloc(n, sizeof(*addrs));

        for (i = 0; i < n; i++)
            addrs[i] = cli_jstr(json_array_get(rm, i), "Addr");
        qsort(addrs, n, sizeof(*addrs), cli_system_cmp_str);
        (void)buf_puts(o, "  Manager Addresses:\n");
        for (i = 0; i < n; i++)
            (void)buf_printf(o, "   %s\n", addrs[i]);
        free(addrs);
    }
}

static void cli_system_opt_line(struct buf *o, const json_t *info,
                                const char *title, const char *key)
{
    const char *v = cli_jstr(info, key);

    if (*v != '\0')
        (void)buf_printf(o, " %s: %s\n", title, v);
}

static void cli_system_security(struct buf *o, const json_t *opts)
{
    size_t i;

    if (json_array_size(opts) == 0)
        return;
    (void)buf_puts(o, " Security Options:\n");
    for (i = 0; i < json_array_size(opts); i++) {
        const char *s = json_string_value(json_array_get(opts, i));
        char *copy = xstrdup(s != NULL ? s : "");
        char *save = NULL;
        char *kv;
        const char *profile = NULL;

        for (kv = strtok_r(copy, ",", &save); kv != NULL;
             kv = strtok_r(NULL, ",", &save)) {
            if (strncmp(kv, "name=", 5) == 0)
                (void)buf_printf(o, "  %s\n", kv + 5);
            else if (strncmp(kv, "profile=", 8) == 0)
                profile = kv + 8;
        }
        if (profile != NULL)
            (void)buf_printf(o, "   Profile: %s\n", profile);
        free(copy);
    }
}

static void cli_system_registries(struct buf *o, const json_t *reg)
{
    const json_t *idx = cli_jget(reg, "IndexConfigs");
    const json_t *cidrs = cli_jget(reg, "InsecureRegistryCIDRs");
    const json_t *mirrors = cli_jget(reg, "Mirrors");
    const char **names;
    const char *key;
    json_t *val;
    size_t n = 0;
    size_t i;

    names = xcalloc(json_object_size(idx) + 1, sizeof(*names));
    json_object_foreach((json_t *)idx, key, val) {
        if (!cli_jbool(val, "Secure"))
            names[n++] = key;
    }
    if (n > 0 || json_array_size(cidrs) > 0) {
        (void)buf_puts(o, " Insecure Registries:\n");
        for (i = 0; i < n; i++)
            (void)buf_printf(o, "  %s\n", names[i]);
        for (i = 0; i < json_array_size(cidrs); i++)
            (void)buf_printf(o, "  %s\n",
                             json_string_value(json_array_get(cidrs, i)));
    }
    free(names);
    if (json_array_size(mirrors) > 0) {
        (void)buf_puts(o, " Registry Mirrors:\n");
        for (i = 0; i < json_array_size(mirrors); i++)
            (void)buf_printf(o, "  %s\n",
                             json_string_value(json_array_get(mirrors, i)));
    }
}

/* docker's `info` server section; debug is the client's -D, which also
 * shows the daemon's debug counters. */
static void cli_system_server(struct buf *o, const json_t *info, bool debug)
{
    const json_t *drv = cli_jget(info, "DriverStatus");
    const json_t *cdi = cli_jget(info, "CDISpecDirs");
    const json_t *rts = cli_jget(info, "Runtimes");
    const json_t *labels = cli_jget(info, "Labels");
    const json_t *pools = cli_jget(info, "DefaultAddressPools");
    char mem[64];
    size_t i;

    (void)buf_printf(o,
                     " Containers: %lld\n  Running: %lld\n  Paused: %lld\n"
                     "  Stopped: %lld\n Images: %lld\n",
                     cli_jint(info, "Containers"),
                     cli_jint(info, "ContainersRunning"),
                     cli_jint(info, "ContainersPaused"),
                     cli_jint(info, "ContainersStopped"),
                     cli_jint(info, "Images"));
    cli_system_opt_line(o, info, "Server Version", "ServerVersion");
    if (*cli_jstr(info, "Driver") != '\0') {
        (void)buf_printf(o, " Storage Driver: %s\n", cli_jstr(info, "Driver"));
        for (i = 0; i < json_array_size(drv); i++) {
            const json_t *pair = json_array_get(drv, i);

            (void)buf_printf(o, "  %s: %s\n",
                             json_string_value(json_array_get(pair, 0)),
                             json_string_value(json_array_get(pair, 1)));
        }
    }
    cli_system_opt_line(o, info, "Logging Driver", "LoggingDriver");
    cli_system_opt_line(o, info, "Cgroup Driver", "CgroupDriver");
    cli_system_opt_line(o, info, "Cgroup Version", "CgroupVersion");
    (void)buf_puts(o, " Plugins:\n  Volume: ");
    cli_system_join(o, cli_jget(info, "Plugins.Volume"), " ");
    (void)buf_puts(o, "\n  Network: ");
    cli_system_join(o, cli_jget(info, "Plugins.Network"), " ");
    (void)buf_puts(o, "\n");
    if (json_array_size(cli_jget(info, "Plugins.Authorization")) > 0) {
        (void)buf_puts(o, "  Authorization: ");
        cli_system_join(o, cli_jget(info, "Plugins.Authorization"), " ");
        (void)buf_puts(o, "\n");
    }
    (void)buf_puts(o, "  Log: ");
    cli_system_join(o, cli_jget(info, "Plugins.Log"), " ");
    (void)buf_puts(o, "\n");
    if (json_array_size(cdi) > 0) {
        (void)buf_puts(o, " CDI spec directories:\n");
        for (i = 0; i < json_array_size(cdi); i++)
            (void)buf_printf(o, "  %s\n",
                             json_string_value(json_array_get(cdi, i)));
    }
    cli_system_swarm(o, cli_jget(info, "Swarm"));
    if (json_object_size(rts) > 0) {
        const char *key;
        json_t *val;

        (void)buf_puts(o, " Runtimes:");
        json_object_foreach((json_t *)rts, key, val) {
            (void)val;
            (void)buf_printf(o, " %s", key);
        }
        (void)buf_printf(o, "\n Default Runtime: %s\n",
                         cli_jstr(info, "DefaultRuntime"));
    }
    if (strcmp(cli_jstr(info, "OSType"), "linux") == 0) {
        (void)buf_printf(o,
                         " Init Binary: %s\n containerd version: %s\n"
                         " runc version: %s\n init version: %s\n",
                         cli_jstr(info, "InitBinary"),
                         cli_jstr(info, "ContainerdCommit.ID"),
                         cli_jstr(info, "RuncCommit.ID"),
                         cli_jstr(info, "InitCommit.ID"));
        cli_system_security(o, cli_jget(info, "SecurityOptions"));
    }
    cli_system_opt_line(o, info, "Kernel Version", "KernelVersion");
    cli_system_opt_line(o, info, "Operating System", "OperatingSystem");
    cli_system_opt_line(o, info, "OSType", "OSType");
    cli_system_opt_line(o, info, "Architecture", "Architecture");
    cli_format_bytes_size((double)cli_jint(info, "MemTotal"), mem,
                          sizeof(mem));
    (void)buf_printf(o, " CPUs: %lld\n Total Memory: %s\n",
                     cli_jint(info, "NCPU"), mem);
    cli_system_opt_line(o, info, "Name", "Name");
    cli_system_opt_line(o, info, "ID", "ID");
    (void)buf_printf(o, " Docker Root Dir: %s\n Debug Mode: %s\n",
                     cli_jstr(info, "DockerRootDir"),
                     cli_jbool(info, "Debug") ? "true" : "false");
    if (cli_jbool(info, "Debug") || debug)
        (void)buf_printf(o,
                         "  File Descriptors: %lld\n  Goroutines: %lld\n"
                         "  System Time: %s\n  EventsListeners: %lld\n",
                         cli_jint(info, "NFd"), cli_jint(info, "NGoroutines"),
                         cli_jstr(info, "SystemTime"),
                         cli_jint(info, "NEventsListener"));
    cli_system_opt_line(o, info, "HTTP Proxy", "HttpProxy");
    cli_system_opt_line(o, info, "HTTPS Proxy", "HttpsProxy");
    cli_system_opt_line(o, info, "No Proxy", "NoProxy");
    if (json_array_size(labels) > 0) {
        (void)buf_puts(o, " Labels:\n");
        for (i = 0; i < json_array_size(labels); i++)
            (void)buf_printf(o, "  %s\n",
                             json_string_value(json_array_get(labels, i)));
    }
    (void)buf_printf(o, " Experimental: %s\n",
                     cli_jbool(info, "ExperimentalBuild") ? "true" : "false");
    cli_system_registries(o, cli_jget(info, "RegistryConfig"));
    (void)buf_printf(o, " Live Restore Enabled: %s\n",
                     cli_jbool(info, "LiveRestoreEnabled") ? "true"
                                                           : "false");
    cli_system_opt_line(o, info, "Product License", "ProductLicense");
    if (json_array_size(pools) > 0) {
        (void)buf_puts(o, " Default Address Pools:\n");
        for (i = 0; i < json_array_size(pools); i++) {
            const json_t *p = json_array_get(pools, i);

            (void)buf_printf(o, "   Base: %s, Size: %lld\n",
                             cli_jstr(p, "Base"), cli_jint(p, "Size"));
        }
    }
    (void)buf_puts(o, "\n");
}

static json_t *cli_system_client_info(const struct cli *c)
{
    return json_pack("{s:b,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:[],s:n}", "Debug",
                     c->debug, "Version", CLI_VERSION, "DefaultAPIVersion",
                     CLI_API_VERSION, "GitCommit", CLI_GIT_COMMIT, "Os",
                     "linux", "Arch", CLI_SYSTEM__ARCH, "BuildTime",
                     CLI_BUILD_TIME, "Context", "default", "Plugins",
                     "Warnings");
}

/* Run a user's --format over v and print it with a newline. docker names
 * the version template "version" and prints what it has on failure. */
static int cli_system_template(const char *format, json_t *v,
                               const char *name, struct err *err)
{
    struct cli_template *t;
    struct buf o;
    int rv;

    if (strcmp(format, "json") == 0)
        format = "{{json .}}";
    rv = cli_template_parse(format, &t, err);
    if (rv != 0)
        return err_wrap(err, "template parsing error");
    buf_init(&o, CLI_SYSTEM__OUT_MAX);
    rv = cli_template_exec_run(t, v, false, NULL, &o, err);
    cli_template_free(t);
    (void)buf_puts(&o, "\n");
    fwrite(o.data, 1, o.len, stdout);
    buf_release(&o);
    if (rv != 0 && *name != '\0' &&
        strncmp(err->msg, "template: :", 11) == 0) {
        char msg[ERR_MSG_LEN];
        const char *ex = strstr(err->msg, "executing \"\"");

        if (ex != NULL)
            snprintf(msg, sizeof(msg), "template: %s:%.*sexecuting \"%s\"%s",
                     name, (int)(ex - err->msg - 11), err->msg + 11, name,
                     ex + 12);
        else
            snprintf(msg, sizeof(msg), "template: %s:%s", name,
                     err->msg + 11);
        snprintf(err->msg, sizeof(err->msg), "%s", msg);
    }
    return rv;
}

int cli_system_info(struct cli *c, struct cli_args *a, struct err *err)
{
    const char *format = cli_flag_str(a, "format");
    json_t *info = NULL;
    json_t *warns;
    struct buf o;
    size_t i;
    int rv;

    if (*format != '\0') {
        rv = cli_http_json(c, "GET", "/info", NULL, &info, err);
        if (rv != 0)
            return rv;
        if (!json_is_object(info)) {
            json_decref(info);
            info = json_object();
        }
        json_object_set_new(info, "ClientInfo", cli_system_client_info(c));
        rv = cli_system_template(format, info, "", err);
        json_decref(info);
        return rv;
    }
    printf("Client:\n Version:    " CLI_VERSION "\n Context:    default\n"
           " Debug Mode: %s\n\nServer:\n",
           c->debug ? "true" : "false");
    fflush(stdout);
    rv = cli_http_json(c, "GET", "/info", NULL, &info, err);
    if (rv != 0)
        return rv;
    buf_init(&o, CLI_SYSTEM__OUT_MAX);
    cli_system_server(&o, info, c->debug);
    fwrite(o.data, 1, o.len, stdout);
    fflush(stdout);
    buf_release(&o);
    warns = cli_jget(info, "Warnings");
    for (i = 0; i < json_array_size(warns); i++)
        fprintf(stderr, "%s\n", json_string_value(json_array_get(warns, i)));
    json_decref(info);
    return 0;
}

/* ---- version ---- */

/* RFC 3339 -> Go's time.ANSIC ("Thu May  7 21:09:36 2026"), in the
 * time's own offset; other text is returned as is (owned). */
static char *cli_system_ansic(const char *s)
{
    struct tm tm;
    char out[64];
    int n = 0;

    memset(&tm, 0, sizeof(tm));
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
               &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
        n != 19)
        return xstrdup(s);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    if (timegm(&tm) == (time_t)-1)
        return xstrdup(s);
    strftime(out, sizeof(out), "%a %b %e %H:%M:%S %Y", &tm);
    return xstrdup(out);
}

static int cli_system_cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void cli_system_component(struct buf *o, const json_t *comp)
{
    const char *name = cli_jstr(comp, "Name");
    const json_t *d = cli_jget(comp, "Details");

    (void)buf_printf(o, " %s:\n", name);
    if (strcmp(name, "Engine") == 0) {
        (void)buf_printf(o, "  Version:\t%s\n", cli_jstr(comp, "Version"));
        (void)buf_printf(o, "  API version:\t%s (minimum version %s)\n",
                         cli_jstr(d, "ApiVersion"),
                         cli_jstr(d, "MinAPIVersion"));
        if (cli_jget(d, "GoVersion") != NULL)
            (void)buf_printf(o, "  Go version:\t%s\n",
                             cli_jstr(d, "GoVersion"));
        (void)buf_printf(o, "  Git commit:\t%s\n", cli_jstr(d, "GitCommit"));
        (void)buf_printf(o, "  Built:\t%s\n", cli_jstr(d, "BuildTime"));
        (void)buf_printf(o, "  OS/Arch:\t%s/%s\n", cli_jstr(d, "Os"),
                         cli_jstr(d, "Arch"));
        (void)buf_printf(o, "  Experimental:\t%s\n",
                         cli_jstr(d, "Experimental"));
        return;
    }
    (void)buf_printf(o, "  Version:\t%s\n", cli_jstr(comp, "Version"));
    if (json_is_object(d)) {
        const char **keys = xcalloc(json_object_size(d) + 1, sizeof(*keys));
        const char *key;
        json_t *val;
        size_t n = 0;
        size_t i;

        json_object_foreach((json_t *)d, key, val) {
            (void)val;
            keys[n++] = key;
        }
        qsort(keys, n, sizeof(*keys), cli_system_cmp_keys);
        for (i = 0; i < n; i++)
            (void)buf_printf(o, "  %s:\t%s\n", keys[i],
                             cli_jstr(d, keys[i]));
        free(keys);
    }
}

int cli_system_version(struct cli *c, struct cli_args *a, struct err *err)
{
    const char *format = cli_flag_str(a, "format");
    json_t *server = NULL;
    json_t *client;
    json_t *comps;
    struct buf text;
    struct buf out;
    const char *api;
    size_t i;
    int rv;

    rv = cli_http_json(c, "GET", "/version", NULL, &server, err);
    api = c->negotiated ? c->api_version : CLI_API_VERSION;
    if (rv == 0 && !json_is_object(server)) {
        json_decref(server);
        server = json_object();
    }
    comps = cli_jget(server, "Components");
    for (i = 0; i < json_array_size(comps); i++) {
        json_t *d = cli_jget(json_array_get(comps, i), "Details");
        const char *bt = cli_jstr(d, "BuildTime");

        if (strcmp(cli_jstr(json_array_get(comps, i), "Name"), "Engine") ==
                0 &&
            *bt != '\0') {
            char *ansic = cli_system_ansic(bt);

            json_object_set_new(d, "BuildTime", json_string(ansic));
            free(ansic);
        }
    }
    if (*format != '\0') {
        json_t *all;
        int trv;

        if (rv != 0)
            return rv;
        client = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "Version",
                           CLI_VERSION, "ApiVersion", api, "DefaultAPIVersion",
                           CLI_API_VERSION, "GitCommit", CLI_GIT_COMMIT, "Os",
                           "linux", "Arch", CLI_SYSTEM__ARCH, "BuildTime",
                           CLI_BUILD_TIME, "Context", "default");
        all = json_pack("{s:o,s:o}", "Client", client, "Server", server);
        trv = cli_system_template(format, all, "version", err);
        json_decref(all);
        return trv;
    }
    buf_init(&text, CLI_SYSTEM__OUT_MAX);
    buf_init(&out, CLI_SYSTEM__OUT_MAX);
    (void)buf_printf(&text, "Client:\n Version:\t" CLI_VERSION "\n"
                            " API version:\t%s",
                     api);
    if (strcmp(api, CLI_API_VERSION) != 0)
        (void)buf_printf(&text, " (downgraded from " CLI_API_VERSION ")");
    (void)buf_printf(&text, "\n Git commit:\t" CLI_GIT_COMMIT
                            "\n Built:\t" CLI_BUILD_TIME
                            "\n OS/Arch:\tlinux/" CLI_SYSTEM__ARCH
                            "\n Context:\tdefault\n");
    if (rv == 0) {
        const char *pname = cli_jstr(server, "Platform.Name");

        (void)buf_printf(&text, "\nServer:%s%s\n", *pname ? " " : "", pname);
        for (i = 0; i < json_array_size(comps); i++)
            cli_system_component(&text, json_array_get(comps, i));
    }
    cli_tabwriter_format(text.data, text.len, 20, 1, &out);
    fwrite(out.data, 1, out.len, stdout);
    buf_release(&text);
    buf_release(&out);
    json_decref(server);
    return rv;
}

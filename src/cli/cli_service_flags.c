/* SPDX-License-Identifier: Apache-2.0 */
/* The flags of `shoal service create` and `service update` as docker 28
 * takes them: their tables, the checks of their values (ports, mounts,
 * secrets, sizes, CPUs) with docker's texts, and the service spec they
 * make, with Go's omitempty rules so that the daemon gets what docker's
 * CLI would send. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/mem.h"
#include "cli/cli_int.h"

#define CLI_SERVICE_FLAGS__D "(ns|us|ms|s|m|h)"
#define CLI_SERVICE_FLAGS__HD "(ms|s|m|h)"
#define CLI_SERVICE_FLAGS__END {NULL, 0, CLI_FLAG_BOOL, NULL, NULL, NULL}

/* ---- tables ---------------------------------------------------------- */

const struct cli_flag cli_service_flags_create_table[] = {
    {"cap-add", 0, CLI_FLAG_LIST, NULL, NULL, "Add Linux capabilities"},
    {"cap-drop", 0, CLI_FLAG_LIST, NULL, NULL, "Drop Linux capabilities"},
    {"config", 0, CLI_FLAG_OPT, "config", NULL,
     "Specify configurations to expose to the service"},
    {"constraint", 0, CLI_FLAG_LIST, NULL, NULL, "Placement constraints"},
    {"container-label", 0, CLI_FLAG_OPT, "list", NULL, "Container labels"},
    {"credential-spec", 0, CLI_FLAG_STRING, "credential-spec", NULL,
     "Credential spec for managed service account (Windows only)"},
    {"detach", 'd', CLI_FLAG_BOOL, NULL, NULL,
     "Exit immediately instead of waiting for the service to converge"},
    {"dns", 0, CLI_FLAG_OPT, "list", NULL, "Set custom DNS servers"},
    {"dns-option", 0, CLI_FLAG_LIST, NULL, NULL, "Set DNS options"},
    {"dns-search", 0, CLI_FLAG_LIST, NULL, NULL,
     "Set custom DNS search domains"},
    {"endpoint-mode", 0, CLI_FLAG_STRING, NULL, "vip",
     "Endpoint mode (vip or dnsrr)"},
    {"entrypoint", 0, CLI_FLAG_OPT, "command", NULL,
     "Overwrite the default ENTRYPOINT of the image"},
    {"env", 'e', CLI_FLAG_OPT, "list", NULL, "Set environment variables"},
    {"env-file", 0, CLI_FLAG_LIST, NULL, NULL,
     "Read in a file of environment variables"},
    {"generic-resource", 0, CLI_FLAG_LIST, NULL, NULL,
     "User defined resources"},
    {"group", 0, CLI_FLAG_LIST, NULL, NULL,
     "Set one or more supplementary user groups for the container"},
    {"health-cmd", 0, CLI_FLAG_STRING, NULL, NULL,
     "Command to run to check health"},
    {"health-interval", 0, CLI_FLAG_DURATION, NULL, NULL,
     "Time between running the check " CLI_SERVICE_FLAGS__HD},
    {"health-retries", 0, CLI_FLAG_INT, NULL, NULL,
     "Consecutive failures needed to report unhealthy"},
    {"health-start-interval", 0, CLI_FLAG_DURATION, NULL, NULL,
     "Time between running the check during the start period "
     CLI_SERVICE_FLAGS__HD},
    {"health-start-period", 0, CLI_FLAG_DURATION, NULL, NULL,
     "Start period for the container to initialize before counting "
     "retries towards unstable " CLI_SERVICE_FLAGS__HD},
    {"health-timeout", 0, CLI_FLAG_DURATION, NULL, NULL,
     "Maximum time to allow one check to run " CLI_SERVICE_FLAGS__HD},
    {"host", 0, CLI_FLAG_OPT, "list", NULL,
     "Set one or more custom host-to-IP mappings (host:ip)"},
    {"hostname", 0, CLI_FLAG_STRING, NULL, NULL, "Container hostname"},
    {"init", 0, CLI_FLAG_BOOL, NULL, NULL,
     "Use an init inside each service container to forward signals and "
     "reap processes"},
    {"isolation", 0, CLI_FLAG_STRING, NULL, NULL,
     "Service container isolation mode"},
    {"label", 'l', CLI_FLAG_OPT, "list", NULL, "Service labels"},
    {"limit-cpu", 0, CLI_FLAG_DECIMAL, NULL, NULL, "Limit CPUs"},
    {"limit-memory", 0, CLI_FLAG_BYTES, NULL, NULL, "Limit Memory"},
    {"limit-pids", 0, CLI_FLAG_INT, NULL, NULL,
     "Limit maximum number of processes (default 0 = unlimited)"},
    {"log-driver", 0, CLI_FLAG_STRING, NULL, NULL,
     "Logging driver for service"},
    {"log-opt", 0, CLI_FLAG_OPT, "list", NULL, "Logging driver options"},
    {"max-concurrent", 0, CLI_FLAG_UINT, NULL, NULL,
     "Number of job tasks to run concurrently (default equal to "
     "--replicas)"},
    {"mode", 0, CLI_FLAG_STRING, NULL, "replicated",
     "Service mode (\"replicated\", \"global\", \"replicated-job\", "
     "\"global-job\")"},
    {"mount", 0, CLI_FLAG_OPT, "mount", NULL,
     "Attach a filesystem mount to the service"},
    {"name", 0, CLI_FLAG_STRING, NULL, NULL, "Service name"},
    {"network", 0, CLI_FLAG_OPT, "network", NULL, "Network attachments"},
    {"no-healthcheck", 0, CLI_FLAG_BOOL, NULL, NULL,
     "Disable any container-specified HEALTHCHECK"},
    {"no-resolve-image", 0, CLI_FLAG_BOOL, NULL, NULL,
     "Do not query the registry to resolve image digest and supported "
     "platforms"},
    {"oom-score-adj", 0, CLI_FLAG_INT, NULL, NULL,
     "Tune host's OOM preferences (-1000 to 1000) "},
    {"placement-pref", 0, CLI_FLAG_OPT, "pref", NULL,
     "Add a placement preference"},
    {"publish", 'p', CLI_FLAG_OPT, "port", NULL,
     "Publish a port as a node port"},
    {"quiet", 'q', CLI_FLAG_BOOL, NULL, NULL, "Suppress progress output"},
    {"read-only", 0, CLI_FLAG_BOOL, NULL, NULL,
     "Mount the container's root filesystem as read only"},
    {"replicas", 0, CLI_FLAG_UINT, NULL, NULL, "Number of tasks"},
    {"replicas-max-per-node", 0, CLI_FLAG_UINT, NULL, NULL,
     "Maximum number of tasks per node (default 0 = unlimited)"},
    {"reserve-cpu", 0, CLI_FLAG_DECIMAL, NULL, NULL, "Reserve CPUs"},
    {"reserve-memory", 0, CLI_FLAG_BYTES, NULL, NULL, "Reserve Memory"},
    {"restart-condition", 0, CLI_FLAG_STRING, NULL, NULL,
     "Restart when condition is met (\"none\", \"on-failure\", \"any\") "
     "(default \"any\")"},
    {"restart-delay", 0, CLI_FLAG_DURATION, NULL, NULL,
     "Delay between restart attempts " CLI_SERVICE_FLAGS__D
     " (default 5s)"},
    {"restart-max-attempts", 0, CLI_FLAG_UINT, NULL, NULL,
     "Maximum number of restarts before giving up"},
    {"restart-window", 0, CLI_FLAG_DURATION, NULL, NULL,
     "Window used to evaluate the restart policy " CLI_SERVICE_FLAGS__D},
    {"rollback-delay", 0, CLI_FLAG_DURATION, NULL, NULL,
     "Delay between task rollbacks " CLI_SERVICE_FLAGS__D " (default 0s)"},
    {"rollback-failure-action", 0, CLI_FLAG_STRING, NULL, NULL,
     "Action on rollback failure (\"pause\", \"continue\") (default "
     "\"pause\")"},
    {"rollback-max-failure-ratio", 0, CLI_FLAG_FLOAT, NULL, NULL,
     "Failure rate to tolerate during a rollback (default 0)"},
    {"rollback-monitor", 0, CLI_FLAG_DURATION, NULL, NULL,
     "Duration after each task rollback to monitor for failure "
     CLI_SERVICE_FLAGS__D " (default 5s)"},
    {"rollback-order", 0, CLI_FLAG_STRING, NULL, NULL,
     "Rollback order (\"start-first\", \"stop-first\") (default "
     "\"stop-first\")"},
    {"rollback-parallelism", 0, CLI_FLAG_UINT, NULL, "1",
     "Maximum number of tasks rolled back simultaneously (0 to roll back "
     "all at once)"},
    {"secret", 0, CLI_FLAG_OPT, "secret", NULL,
     "Specify secrets to expose to the service"},
    {"stop-grace-period", 0, CLI_FLAG_DURATION, NULL, NULL,
     "Time to wait before force killing a container " CLI_SERVICE_FLAGS__D
     " (default 10s)"},
    {"stop-signal", 0, CLI_FLAG_STRING, NULL, NULL,
     "Signal to stop the container"},
    {"sysctl", 0, CLI_FLAG_LIST, NULL, NULL, "Sysctl options"},
    {"tty", 't', CLI_FLAG_BOOL, NULL, NULL, "Allocate a pseudo-TTY"},
    {"update-delay", 0, CLI_FLAG_DURATION, NULL, NULL,
     "Delay between updates " CLI_SERVICE_FLAGS__D " (default 0s)"},
    {"update-failure-action", 0, CLI_FLAG_STRING, NULL, NULL,
     "Action on update failure (\"pause\", \"continue\", \"rollback\") "
     "(default \"pause\")"},
    {"update-max-failure-ratio", 0, CLI_FLAG_FLOAT, NULL, NULL,
     "Failure rate to tolerate during an update (default 0)"},
    {"update-monitor", 0, CLI_FLAG_DURATION, NULL, NULL,
     "Duration after each task update to monitor for failure "
     CLI_SERVICE_FLAGS__D " (default 5s)"},
    {"update-order", 0, CLI_FLAG_STRING, NULL, NULL,
     "Update order (\"start-first\", \"stop-first\") (default "
     "\"stop-first\")"},
    {"update-parallelism", 0, CLI_FLAG_UINT, NULL, "1",
     "Maximum number of tasks updated simultaneously (0 to update all at "
     "once)"},
    {"user", 'u', CLI_FLAG_STRING, NULL, NULL,
     "Username or UID (format: <name|uid>[:<group|gid>])"},
    {"with-registry-auth", 0, CLI_FLAG_BOOL, NULL, NULL,
     "Send registry authentication details to swarm agents"},
    {"workdir", 'w', CLI_FLAG_STRING, NULL, NULL,
     "Working directory inside the container"},
    CLI_SERVICE_FLAGS__END,
};

const struct cli_flag cli_service_flags_update_table[] = {
    {"args", 0, CLI_FLAG_OPT, "command", NULL, "Service command args"},
    {"cap-add", 0, CLI_FLAG_LIST, NULL, NULL, "Add Linux capabilities"},
    {"cap-drop", 0, CLI_FLAG_LIST, NULL, NULL, "Drop Linux capabilities"},
    {"config-add", 0, CLI_FLAG_OPT, "config", NULL,
     "Add or update a config file on a service"},
    {"config-rm", 0, CLI_FLAG_LIST, NULL, NULL,
     "Remove a configuration file"},
    {"constraint-add", 0, CLI_FLAG_LIST, NULL, NULL,
     "Add or update a placement constraint"},
    {"constraint-rm", 0, CLI_FLAG_LIST, NULL, NULL,
     "Remove a constraint"},
    {"container-label-add", 0, CLI_FLAG_OPT, "list", NULL,
     "Add or update a container label"},
    {"container-label-rm", 0, CLI_FLAG_LIST, NULL, NULL,
     "Remove a container label by its key"},
    {"credential-spec", 0, CLI_FLAG_STRING, "credential-spec", NULL,
     "Credential spec for managed service account (Windows only)"},
    {"detach", 'd', CLI_FLAG_BOOL, NULL, NULL,
     "Exit immediately instead of waiting for the service to converge"},
    {"dns-add", 0, CLI_FLAG_OPT, "list", NULL,
     "Add or update a custom DNS server"},
    {"dns-option-add", 0, CLI_FLAG_LIST, NULL, NULL,
     "Add or update a DNS option"},
    {"dns-option-rm", 0, CLI_FLAG_LIST, NULL, NULL, "Remove a DNS option"},
    {"dns-rm", 0, CLI_FLAG_LIST, NULL, NULL, "Remove a custom DNS server"},
    {"dns-search-add", 0, CLI_FLAG_LIST, NULL, NULL,
     "Add or update a custom DNS search domain"},
    {"dns-search-rm", 0, CLI_FLAG_LIST, NULL, NULL,
     "Remove a DNS search domain"},
    {"endpoint-mode", 0, CLI_FLAG_STRING, NULL, NULL,
     "Endpoint mode (vip or dnsrr)"},
    {"entrypoint", 0, CLI_FLAG_OPT, "command", NULL,
     "Overwrite the default ENTRYPOINT of the image"},
    {"env-add", 0, CLI_FLAG_OPT, "list", NULL,
     "Add or update an environment variable"},
    {"env-rm", 0, CLI_FLAG_LIST, NULL, NULL,
     "Remove an environment variable"},
    {"force", 0, CLI_FLAG_BOOL, NULL, NULL,
     "Force update even if no changes require it"},
    {"group-add", 0, CLI_FLAG_LIST, NULL, NULL,
     "Add an additional supplementary user group to the container"},
    {"group-rm", 0, CLI_FLAG_LIST, NULL, NULL,
     "Remove a previously added supplementary user group from the "
     "container"},
    {"health-cmd", 0, CLI_FLAG_STRING, NULL, NULL,
     "Command to run to check health"},
    {"health-interval", 0, CLI_FLAG_DURATION, NULL, NULL,
     "Time between running the check " CLI_SERVICE_FLAGS__HD},
    {"health-retries", 0, CLI_FLAG_INT, NULL, NULL,
     "Consecutive failures needed to report unhealthy"},
    {"health-start-interval", 0, CLI_FLAG_DURATION, NULL, NULL,
     "Time between running the check during the start period "
     CLI_SERVICE_FLAGS__HD},
    {"health-start-period", 0, CLI_FLAG_DURATION, NULL, NULL,
     "Start period for the container to initialize before counting "
     "retries towards unstable " CLI_SERVICE_FLAGS__HD},
    {"health-timeout", 0, CLI_FLAG_DURATION, NULL, NULL,
     "Maximum time to allow one check to run " CLI_SERVICE_FLAGS__HD},
    {"host-add", 0, CLI_FLAG_OPT, "list", NULL,
     "Add a custom host-to-IP mapping (\"host:ip\")"},
    {"host-rm", 0, CLI_FLAG_LIST, NULL, NULL,
     "Remove a custom host-to-IP mapping (\"host:ip\")"},
    {"hostname", 0, CLI_FLAG_STRING, NULL, NULL, "Container hostname"},
    {"image", 0, CLI_FLAG_STRING, NULL, NULL, "Service image tag"},
    {"init", 0, CLI_FLAG_BOOL, NULL, NULL,
     "Use an init inside each service container to forward signals and "
     "reap processes"},
    {"isolation", 0, CLI_FLAG_STRING, NULL, NULL,
     "Service container isolation mode"},
    {"label-add", 0, CLI_FLAG_OPT, "list", NULL,
     "Add or update a service label"},
    {"label-rm", 0, CLI_FLAG_LIST, NULL, NULL,
     "Remove a label by its key"},
    {"limit-cpu", 0, CLI_FLAG_DECIMAL, NULL, NULL, "Limit CPUs"},
    {"limit-memory", 0, CLI_FLAG_BYTES, NULL, NULL, "Limit Memory"},
    {"limit-pids", 0, CLI_FLAG_INT, NULL, NULL,
     "Limit maximum number of processes (default 0 = unlimited)"},
    {"log-driver", 0, CLI_FLAG_STRING, NULL, NULL,
     "Logging driver for service"},
    {"log-opt", 0, CLI_FLAG_OPT, "list", NULL, "Logging driver options"},
    {"max-concurrent", 0, CLI_FLAG_UINT, NULL, NULL,
     "Number of job tasks to run concurrently (default equal to "
     "--replicas)"},
    {"mount-add", 0, CLI_FLAG_OPT, "mount", NULL,
     "Add or update a mount on a service"},
    {"mount-rm", 0, CLI_FLAG_LIST, NULL, NULL,
     "Remove a mount by its target path"},
    {"network-add", 0, CLI_FLAG_OPT, "network", NULL, "Add a network"},
    {"network-rm", 0, CLI_FLAG_LIST, NULL, NULL, "Remove a network"},
    {"no-healthcheck", 0, CLI_FLAG_BOOL, NULL, NULL,
     "Disable any container-specified HEALTHCHECK"},
    {"no-resolve-image", 0, CLI_FLAG_BOOL, NULL, NULL,
     "Do not query the registry to resolve image digest and supported "
     "platforms"},
    {"oom-score-adj", 0, CLI_FLAG_INT, NULL, NULL,
     "Tune host's OOM preferences (-1000 to 1000) "},
    {"placement-pref-add", 0, CLI_FLAG_OPT, "pref", NULL,
     "Add a placement preference"},
    {"placement-pref-rm", 0, CLI_FLAG_OPT, "pref", NULL,
     "Remove a placement preference"},
    {"publish-add", 0, CLI_FLAG_OPT, "port", NULL,
     "Add or update a published port"},
    {"publish-rm", 0, CLI_FLAG_OPT, "port", NULL,
     "Remove a published port by its target port"},
    {"quiet", 'q', CLI_FLAG_BOOL, NULL, NULL, "Suppress progress output"},
    {"read-only", 0, CLI_FLAG_BOOL, NULL, NULL,
     "Mount the container's root filesystem as read only"},
    {"replicas", 0, CLI_FLAG_UINT, NULL, NULL, "Number of tasks"},
    {"replicas-max-per-node", 0, CLI_FLAG_UINT, NULL, NULL,
     "Maximum number of tasks per node (default 0 = unlimited)"},
    {"reserve-cpu", 0, CLI_FLAG_DECIMAL, NULL, NULL, "Reserve CPUs"},
    {"reserve-memory", 0, CLI_FLAG_BYTES, NULL, NULL, "Reserve Memory"},
    {"restart-condition", 0, CLI_FLAG_STRING, NULL, NULL,
     "Restart when condition is met (\"none\", \"on-failure\", \"any\")"},
    {"restart-delay", 0, CLI_FLAG_DURATION, NULL, NULL,
     "Delay between restart attempts " CLI_SERVICE_FLAGS__D},
    {"restart-max-attempts", 0, CLI_FLAG_UINT, NULL, NULL,
     "Maximum number of restarts before giving up"},
    {"restart-window", 0, CLI_FLAG_DURATION, NULL, NULL,
     "Window used to evaluate the restart policy " CLI_SERVICE_FLAGS__D},
    {"rollback", 0, CLI_FLAG_BOOL, NULL, NULL,
     "Rollback to previous specification"},
    {"rollback-delay", 0, CLI_FLAG_DURATION, NULL, NULL,
     "Delay between task rollbacks " CLI_SERVICE_FLAGS__D},
    {"rollback-failure-action", 0, CLI_FLAG_STRING, NULL, NULL,
     "Action on rollback failure (\"pause\", \"continue\")"},
    {"rollback-max-failure-ratio", 0, CLI_FLAG_FLOAT, NULL, NULL,
     "Failure rate to tolerate during a rollback"},
    {"rollback-monitor", 0, CLI_FLAG_DURATION, NULL, NULL,
     "Duration after each task rollback to monitor for failure "
     CLI_SERVICE_FLAGS__D},
    {"rollback-order", 0, CLI_FLAG_STRING, NULL, NULL,
     "Rollback order (\"start-first\", \"stop-first\")"},
    {"rollback-parallelism", 0, CLI_FLAG_UINT, NULL, NULL,
     "Maximum number of tasks rolled back simultaneously (0 to roll back "
     "all at once)"},
    {"secret-add", 0, CLI_FLAG_OPT, "secret", NULL,
     "Add or update a secret on a service"},
    {"secret-rm", 0, CLI_FLAG_LIST, NULL, NULL, "Remove a secret"},
    {"stop-grace-period", 0, CLI_FLAG_DURATION, NULL, NULL,
     "Time to wait before force killing a container "
     CLI_SERVICE_FLAGS__D},
    {"stop-signal", 0, CLI_FLAG_STRING, NULL, NULL,
     "Signal to stop the container"},
    {"sysctl-add", 0, CLI_FLAG_LIST, NULL, NULL, "Add or update a Sysctl option"},
    {"sysctl-rm", 0, CLI_FLAG_LIST, NULL, NULL, "Remove a Sysctl option"},
    {"tty", 't', CLI_FLAG_BOOL, NULL, NULL, "Allocate a pseudo-TTY"},
    {"update-delay", 0, CLI_FLAG_DURATION, NULL, NULL,
     "Delay between updates " CLI_SERVICE_FLAGS__D},
    {"update-failure-action", 0, CLI_FLAG_STRING, NULL, NULL,
     "Action on update failure (\"pause\", \"continue\", \"rollback\")"},
    {"update-max-failure-ratio", 0, CLI_FLAG_FLOAT, NULL, NULL,
     "Failure rate to tolerate during an update"},
    {"update-monitor", 0, CLI_FLAG_DURATION, NULL, NULL,
     "Duration after each task update to monitor for failure "
     CLI_SERVICE_FLAGS__D},
    {"update-order", 0, CLI_FLAG_STRING, NULL, NULL,
     "Update order (\"start-first\", \"stop-first\")"},
    {"update-parallelism", 0, CLI_FLAG_UINT, NULL, NULL,
     "Maximum number of tasks updated simultaneously (0 to update all at "
     "once)"},
    {"user", 'u', CLI_FLAG_STRING, NULL, NULL,
     "Username or UID (format: <name|uid>[:<group|gid>])"},
    {"with-registry-auth", 0, CLI_FLAG_BOOL, NULL, NULL,
     "Send registry authentication details to swarm agents"},
    {"workdir", 'w', CLI_FLAG_STRING, NULL, NULL,
     "Working directory inside the container"},
    CLI_SERVICE_FLAGS__END,
};

/* ---- small helpers --------------------------------------------------- */

static bool cli_service_flags_is(const char *flag, const char *base)
{
    size_t n = strlen(base);

    return strncmp(flag, base, n) == 0 &&
           (flag[n] == '\0' || strcmp(flag + n, "-add") == 0 ||
            strcmp(flag + n, "-rm") == 0);
}

/* Set key to a string unless s is empty (Go's omitempty). */
static void cli_service_flags_set_str(json_t *obj, const char *key,
                                      const char *s)
{
    if (s != NULL && *s != '\0')
        json_object_set_new(obj, key, json_string(s));
}

/* obj[key] as an object, created when missing. */
static json_t *cli_service_flags_obj(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_object(v)) {
        v = json_object();
        json_object_set_new(obj, key, v);
    }
    return v;
}

/* obj[key] as an array, created when missing. */
static json_t *cli_service_flags_arr(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_array(v)) {
        v = json_array();
        json_object_set_new(obj, key, v);
    }
    return v;
}

/* Drop obj[key] when it is an empty array or object (omitempty). */
static void cli_service_flags_prune(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    if ((json_is_array(v) && json_array_size(v) == 0) ||
        (json_is_object(v) && json_object_size(v) == 0))
        json_object_del(obj, key);
}

static bool cli_service_flags_has(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;

    json_array_foreach(arr, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

static int cli_service_flags_str_cmp(const void *x, const void *y)
{
    return strcmp(json_string_value(*(json_t *const *)x),
                  json_string_value(*(json_t *const *)y));
}

/* Sort an array of strings in place (Go's sort.Strings). */
static void cli_service_flags_sort(json_t *arr)
{
    size_t n = json_array_size(arr);
    json_t **items;
    size_t i;

    if (n < 2)
        return;
    items = xcalloc(n, sizeof(*items));
    for (i = 0; i < n; i++)
        items[i] = json_incref(json_array_get(arr, i));
    qsort(items, n, sizeof(*items), cli_service_flags_str_cmp);
    json_array_clear(arr);
    for (i = 0; i < n; i++)
        json_array_append_new(arr, items[i]);
    free(items);
}

/* Go's strconv.ParseUint(s, base, bits); errors as strconv prints them. */
static int cli_service_flags_uint(const char *s, int base, int bits,
                                  uint64_t *out, struct err *err)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, base);
    if (*s == '\0' || *end != '\0' || !isalnum((unsigned char)*s))
        return err_set(err, ERR_INVALID,
                       "strconv.ParseUint: parsing \"%s\": invalid syntax",
                       s);
    if (errno == ERANGE || (bits < 64 && v >> bits != 0))
        return err_set(err, ERR_INVALID,
                       "strconv.ParseUint: parsing \"%s\": value out of "
                       "range",
                       s);
    *out = v;
    return 0;
}

/* ---- values: sizes, CPUs, shell words -------------------------------- */

int cli_service_flags_parse_bytes(const char *s, int64_t *out,
                                  struct err *err)
{
    static const char units[] = "kmgtp";
    const char *p = s;
    const char *u;
    char *end;
    double v;
    double mul = 1;

    /* digits, optional ".digits" parts, optional space, then k/m/g/t/p
     * with optional i and b, any case */
    if (!isdigit((unsigned char)*p))
        goto invalid;
    while (isdigit((unsigned char)*p))
        p++;
    while (*p == '.' && isdigit((unsigned char)p[1])) {
        p++;
        while (isdigit((unsigned char)*p))
            p++;
    }
    errno = 0;
    v = strtod(s, &end);
    if (end > p)
        goto invalid;
    if (*p == ' ')
        p++;
    if (*p != '\0' && (u = strchr(units, tolower((unsigned char)*p))) !=
                          NULL) {
        int k;

        for (k = 0; k <= u - units; k++)
            mul *= 1024;
        p++;
    }
    if (*p == 'i' || *p == 'I')
        p++;
    if (*p == 'b' || *p == 'B')
        p++;
    if (*p != '\0')
        goto invalid;
    *out = (int64_t)(v * mul);
    return 0;
invalid:
    return err_set(err, ERR_INVALID, "invalid size: '%s'", s);
}

int cli_service_flags_parse_cpus(const char *s, int64_t *out,
                                 struct err *err)
{
    const char *p = s;
    const char *slash = strchr(s, '/');
    long double v;
    char *end;

    /* big.Rat's SetString: a decimal (with exponent) or "a/b" */
    if (*p == '+' || *p == '-')
        p++;
    if (!isdigit((unsigned char)*p) && !(*p == '.' &&
                                          isdigit((unsigned char)p[1])))
        goto invalid;
    errno = 0;
    if (slash != NULL) {
        long long num = strtoll(s, &end, 10);
        long long den;

        if (end != slash || !isdigit((unsigned char)slash[1]))
            goto invalid;
        den = strtoll(slash + 1, &end, 10);
        if (*end != '\0' || den == 0)
            goto invalid;
        v = (long double)num / (long double)den;
    } else {
        v = strtold(s, &end);
        if (*end != '\0' || isinf(v) || isnan(v))
            goto invalid;
    }
    v *= 1e9L;
    if (v > 9.2e18L || v < -9.2e18L || v != (long double)(int64_t)v)
        return err_set(err, ERR_INVALID, "value is too precise");
    *out = (int64_t)v;
    return 0;
invalid:
    return err_set(err, ERR_INVALID,
                   "failed to parse %s as a rational number", s);
}

/* go-shlex's Split: words split at blanks; '…' and "…" quote, \ escapes
 * (not inside '…'). Returns the words as a new array, or NULL with err
 * set on an unterminated quote or escape. */
static json_t *cli_service_flags_shlex(const char *s, struct err *err)
{
    json_t *words = json_array();
    char *w = xmalloc(strlen(s) + 1);
    size_t n = 0;
    bool in_word = false;
    char quote = 0;

    for (; *s != '\0'; s++) {
        if (quote == 0 && isspace((unsigned char)*s)) {
            if (in_word)
                json_array_append_new(words, json_stringn(w, n));
            in_word = false;
            n = 0;
            continue;
        }
        in_word = true;
        if (quote != '\'' && *s == '\\') {
            if (s[1] == '\0') {
                free(w);
                json_decref(words);
                err_set(err, ERR_INVALID, "EOF found after escape "
                                          "character");
                return NULL;
            }
            w[n++] = *++s;
        } else if (quote == 0 && (*s == '\'' || *s == '"')) {
            quote = *s;
        } else if (quote != 0 && *s == quote) {
            quote = 0;
        } else {
            w[n++] = *s;
        }
    }
    if (quote != 0) {
        free(w);
        json_decref(words);
        err_set(err, ERR_INVALID, "EOF found when expecting closing quote");
        return NULL;
    }
    if (in_word)
        json_array_append_new(words, json_stringn(w, n));
    free(w);
    return words;
}

/* Split a csv value at commas (docker reads these with encoding/csv;
 * double quotes protect commas). Owned array of owned strings. */
static char **cli_service_flags_csv(const char *s, size_t *out_n)
{
    char **fields = NULL;
    size_t n = 0;
    char *f = xmalloc(strlen(s) + 1);
    size_t len = 0;
    bool quoted = false;

    for (;; s++) {
        if (*s == '"') {
            if (quoted && s[1] == '"') {
                f[len++] = '"';
                s++;
            } else {
                quoted = !quoted;
            }
            continue;
        }
        if (*s == '\0' || (*s == ',' && !quoted)) {
            fields = xrealloc(fields, (n + 1) * sizeof(*fields));
            fields[n++] = xstrndup(f, len);
            len = 0;
            if (*s == '\0')
                break;
            continue;
        }
        f[len++] = *s;
    }
    free(f);
    *out_n = n;
    return fields;
}

static void cli_service_flags_csv_free(char **fields, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(fields[i]);
    free(fields);
}

/* ---- values: ports --------------------------------------------------- */

static bool cli_service_flags_port_num(const char *s, size_t len,
                                       uint64_t *out)
{
    char tmp[16];
    char *end;

    if (len == 0 || len >= sizeof(tmp))
        return false;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    if (!isdigit((unsigned char)tmp[0]))
        return false;
    *out = strtoull(tmp, &end, 10);
    return *end == '\0' && *out <= 65535;
}

/* "start[-end]" of a short-syntax port spec. */
static bool cli_service_flags_port_range(const char *s, size_t len,
                                         uint64_t *lo, uint64_t *hi)
{
    const char *dash = memchr(s, '-', len);

    if (dash == NULL) {
        if (!cli_service_flags_port_num(s, len, lo))
            return false;
        *hi = *lo;
        return true;
    }
    return cli_service_flags_port_num(s, (size_t)(dash - s), lo) &&
           cli_service_flags_port_num(dash + 1, len - (size_t)(dash + 1 - s),
                                      hi) &&
           *lo <= *hi;
}

/* One --publish value (short or long syntax) appended to ports as
 * PortConfig objects. */
static int cli_service_flags_port(const char *val, json_t *ports,
                                  struct err *err)
{
    char **f = NULL;
    size_t n = 0;
    size_t i;
    int rv = 0;

    if (strchr(val, '=') != NULL) {
        json_t *pc = json_object();
        uint64_t port;

        f = cli_service_flags_csv(val, &n);
        for (i = 0; i < n && rv == 0; i++) {
            char *eq = strchr(f[i], '=');
            char *k;

            if (eq == NULL || eq == f[i]) {
                rv = err_set(err, ERR_INVALID, "invalid field: %s", f[i]);
                break;
            }
            *eq = '\0';
            for (k = f[i]; *k != '\0'; k++)
                *k = (char)tolower((unsigned char)*k);
            if (strcmp(f[i], "protocol") == 0) {
                if (strcmp(eq + 1, "tcp") != 0 && strcmp(eq + 1, "udp") != 0 &&
                    strcmp(eq + 1, "sctp") != 0)
                    rv = err_set(err, ERR_INVALID,
                                 "invalid protocol value '%s'", eq + 1);
                else
                    json_object_set_new(pc, "Protocol",
                                        json_string(eq + 1));
            } else if (strcmp(f[i], "mode") == 0) {
                if (strcmp(eq + 1, "ingress") != 0 &&
                    strcmp(eq + 1, "host") != 0)
                    rv = err_set(err, ERR_INVALID,
                                 "invalid publish mode value (%s): must be "
                                 "either 'ingress' or 'host'",
                                 eq + 1);
                else
                    json_object_set_new(pc, "PublishMode",
                                        json_string(eq + 1));
            } else if (strcmp(f[i], "target") == 0 ||
                       strcmp(f[i], "published") == 0) {
                rv = cli_service_flags_uint(eq + 1, 10, 16, &port, err);
                if (rv == 0 && port != 0)
                    json_object_set_new(pc,
                                        f[i][0] == 't' ? "TargetPort"
                                                       : "PublishedPort",
                                        json_integer((json_int_t)port));
            } else {
                rv = err_set(err, ERR_INVALID, "invalid field key: %s",
                             f[i]);
            }
        }
        if (rv == 0 && json_object_get(pc, "TargetPort") == NULL)
            rv = err_set(err, ERR_INVALID,
                         "missing mandatory field 'target'");
        if (rv == 0) {
            if (json_object_get(pc, "Protocol") == NULL)
                json_object_set_new(pc, "Protocol", json_string("tcp"));
            if (json_object_get(pc, "PublishMode") == NULL)
                json_object_set_new(pc, "PublishMode",
                                    json_string("ingress"));
            json_array_append(ports, pc);
        }
        json_decref(pc);
        cli_service_flags_csv_free(f, n);
        return rv;
    }
    /* short syntax: [[ip:]published:]target[/proto] */
    {
        const char *slash = strchr(val, '/');
        const char *proto = slash != NULL ? slash + 1 : "tcp";
        size_t len = slash != NULL ? (size_t)(slash - val) : strlen(val);
        const char *colon = memchr(val, ':', len);
        const char *last = colon;
        const char *pub = NULL;
        size_t pub_len = 0;
        uint64_t tlo;
        uint64_t thi;
        uint64_t plo = 0;
        uint64_t phi = 0;
        uint64_t k;

        while (last != NULL && memchr(last + 1, ':',
                                      len - (size_t)(last + 1 - val)) !=
                                   NULL)
            last = memchr(last + 1, ':', len - (size_t)(last + 1 - val));
        if (colon != NULL && colon != last)
            return err_set(err, ERR_INVALID, "hostip is not supported");
        if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 &&
            strcmp(proto, "sctp") != 0)
            return err_set(err, ERR_INVALID, "invalid proto: %s", proto);
        if (colon != NULL) {
            pub = val;
            pub_len = (size_t)(colon - val);
            val = colon + 1;
            len -= pub_len + 1;
        }
        if (!cli_service_flags_port_range(val, len, &tlo, &thi))
            return err_set(err, ERR_INVALID, "invalid containerPort: %.*s",
                           (int)len, val);
        if (pub != NULL && pub_len > 0 &&
            !cli_service_flags_port_range(pub, pub_len, &plo, &phi))
            return err_set(err, ERR_INVALID, "invalid hostPort: %.*s",
                           (int)pub_len, pub);
        if (pub_len > 0 && phi - plo != thi - tlo && plo != phi)
            return err_set(err, ERR_INVALID,
                           "invalid ranges specified for container and "
                           "host Ports: %.*s and %.*s",
                           (int)len, val, (int)pub_len, pub);
        for (k = 0; k <= thi - tlo; k++) {
            json_t *pc = json_object();
            uint64_t p = pub_len == 0 ? 0 : plo == phi ? plo : plo + k;

            json_object_set_new(pc, "Protocol", json_string(proto));
            json_object_set_new(pc, "TargetPort",
                                json_integer((json_int_t)(tlo + k)));
            if (p != 0)
                json_object_set_new(pc, "PublishedPort",
                                    json_integer((json_int_t)p));
            json_object_set_new(pc, "PublishMode", json_string("ingress"));
            json_array_append_new(ports, pc);
        }
    }
    return 0;
}

/* ---- values: mounts -------------------------------------------------- */

static int cli_service_flags_mount(const char *val, json_t **out,
                                   struct err *err)
{
    json_t *m = json_object();
    json_t *vo = NULL;
    json_t *bo = NULL;
    json_t *to = NULL;
    char **f;
    size_t n;
    size_t i;
    int rv = 0;

    *out = NULL;
    json_object_set_new(m, "Type", json_string("volume"));
    f = cli_service_flags_csv(val, &n);
    for (i = 0; i < n && rv == 0; i++) {
        char *eq = strchr(f[i], '=');
        const char *v = eq != NULL ? eq + 1 : NULL;
        char *k;
        bool b = true;
        uint64_t u;
        int64_t sz;

        if (eq != NULL)
            *eq = '\0';
        for (k = f[i]; *k != '\0'; k++)
            *k = (char)tolower((unsigned char)*k);
        k = f[i];
        if (v == NULL && strcmp(k, "readonly") != 0 && strcmp(k, "ro") != 0 &&
            strcmp(k, "volume-nocopy") != 0 &&
            strcmp(k, "bind-nonrecursive") != 0) {
            rv = err_set(err, ERR_INVALID,
                         "invalid field '%s' must be a key=value pair", k);
            break;
        }
        if (v != NULL && (strcmp(k, "readonly") == 0 ||
                          strcmp(k, "ro") == 0 ||
                          strcmp(k, "volume-nocopy") == 0 ||
                          strcmp(k, "bind-nonrecursive") == 0) &&
            !cli_parse_bool(v, &b)) {
            rv = err_set(err, ERR_INVALID, "invalid value for %s: %s", k, v);
            break;
        }
        if (strcmp(k, "type") == 0) {
            json_object_set_new(m, "Type", json_string(v));
        } else if (strcmp(k, "source") == 0 || strcmp(k, "src") == 0) {
            cli_service_flags_set_str(m, "Source", v);
        } else if (strcmp(k, "target") == 0 || strcmp(k, "dst") == 0 ||
                   strcmp(k, "destination") == 0) {
            cli_service_flags_set_str(m, "Target", v);
        } else if (strcmp(k, "readonly") == 0 || strcmp(k, "ro") == 0) {
            if (b)
                json_object_set_new(m, "ReadOnly", json_true());
            else
                json_object_del(m, "ReadOnly");
        } else if (strcmp(k, "consistency") == 0) {
            cli_service_flags_set_str(m, "Consistency", v);
        } else if (strcmp(k, "bind-propagation") == 0) {
            bo = cli_service_flags_obj(m, "BindOptions");
            cli_service_flags_set_str(bo, "Propagation", v);
        } else if (strcmp(k, "bind-nonrecursive") == 0) {
            bo = cli_service_flags_obj(m, "BindOptions");
            if (b)
                json_object_set_new(bo, "NonRecursive", json_true());
        } else if (strncmp(k, "volume-", 7) == 0) {
            vo = cli_service_flags_obj(m, "VolumeOptions");
            (void)cli_service_flags_obj(vo, "DriverConfig");
            if (strcmp(k, "volume-nocopy") == 0) {
                if (b)
                    json_object_set_new(vo, "NoCopy", json_true());
            } else if (strcmp(k, "volume-label") == 0) {
                char *e = strchr(v, '=');
                json_t *labels = cli_service_flags_obj(vo, "Labels");

                if (e != NULL)
                    *e = '\0';
                json_object_set_new(labels, v,
                                    json_string(e != NULL ? e + 1 : ""));
            } else if (strcmp(k, "volume-driver") == 0) {
                cli_service_flags_set_str(
                    json_object_get(vo, "DriverConfig"), "Name", v);
            } else if (strcmp(k, "volume-opt") == 0) {
                char *e = strchr(v, '=');
                json_t *o = cli_service_flags_obj(
                    json_object_get(vo, "DriverConfig"), "Options");

                if (e != NULL)
                    *e = '\0';
                json_object_set_new(o, v,
                                    json_string(e != NULL ? e + 1 : ""));
            } else if (strcmp(k, "volume-subpath") == 0) {
                cli_service_flags_set_str(vo, "Subpath", v);
            } else {
                rv = err_set(err, ERR_INVALID,
                             "unexpected key '%s' in '%s'", k, f[i]);
            }
        } else if (strcmp(k, "tmpfs-size") == 0) {
            to = cli_service_flags_obj(m, "TmpfsOptions");
            rv = cli_service_flags_parse_bytes(v, &sz, err);
            if (rv == 0)
                json_object_set_new(to, "SizeBytes", json_integer(sz));
        } else if (strcmp(k, "tmpfs-mode") == 0) {
            to = cli_service_flags_obj(m, "TmpfsOptions");
            rv = cli_service_flags_uint(v, 8, 32, &u, err);
            if (rv == 0)
                json_object_set_new(to, "Mode",
                                    json_integer((json_int_t)u));
        } else {
            rv = err_set(err, ERR_INVALID, "unexpected key '%s' in '%s'", k,
                         val);
        }
    }
    cli_service_flags_csv_free(f, n);
    if (rv == 0) {
        const char *type = cli_jstr(m, "Type");

        if (*type == '\0')
            rv = err_set(err, ERR_INVALID, "type is required");
        else if (json_object_get(m, "Target") == NULL)
            rv = err_set(err, ERR_INVALID, "target is required");
        else if (vo != NULL && strcmp(type, "volume") != 0)
            rv = err_set(err, ERR_INVALID,
                         "cannot mix 'volume-*' options with mount type "
                         "'%s'",
                         type);
        else if (bo != NULL && strcmp(type, "bind") != 0)
            rv = err_set(err, ERR_INVALID,
                         "cannot mix 'bind-*' options with mount type '%s'",
                         type);
        else if (to != NULL && strcmp(type, "tmpfs") != 0)
            rv = err_set(err, ERR_INVALID,
                         "cannot mix 'tmpfs-*' options with mount type "
                         "'%s'",
                         type);
    }
    if (rv != 0) {
        json_decref(m);
        return rv;
    }
    *out = m;
    return 0;
}

/* ---- values: secrets, configs, prefs, networks, hosts ---------------- */

/* A --secret/--config value as a reference without its ID; kind is
 * "secret" or "config". */
static int cli_service_flags_ref(const char *kind, const char *val,
                                 json_t **out, struct err *err)
{
    json_t *file = json_pack("{s:s, s:s, s:i}", "UID", "0", "GID", "0",
                             "Mode", 0444);
    const char *name = NULL;
    const char *target = NULL;
    char **f = NULL;
    size_t n = 0;
    size_t i;
    int rv = 0;

    *out = NULL;
    if (strchr(val, '=') == NULL) {
        name = val;
    } else {
        f = cli_service_flags_csv(val, &n);
        for (i = 0; i < n && rv == 0; i++) {
            char *eq = strchr(f[i], '=');
            char *k;
            uint64_t mode;

            if (eq == NULL || eq == f[i]) {
                rv = err_set(err, ERR_INVALID,
                             "invalid field '%s' must be a key=value pair",
                             f[i]);
                break;
            }
            *eq = '\0';
            for (k = f[i]; *k != '\0'; k++)
                *k = (char)tolower((unsigned char)*k);
            if (strcmp(f[i], "source") == 0 || strcmp(f[i], "src") == 0) {
                name = eq + 1;
            } else if (strcmp(f[i], "target") == 0) {
                target = eq + 1;
            } else if (strcmp(f[i], "uid") == 0) {
                json_object_set_new(file, "UID", json_string(eq + 1));
            } else if (strcmp(f[i], "gid") == 0) {
                json_object_set_new(file, "GID", json_string(eq + 1));
            } else if (strcmp(f[i], "mode") == 0) {
                rv = cli_service_flags_uint(eq + 1, 0, 32, &mode, err);
                if (rv != 0)
                    rv = err_wrap(err, "invalid mode specified");
                else
                    json_object_set_new(file, "Mode",
                                        json_integer((json_int_t)mode));
            } else {
                rv = err_set(err, ERR_INVALID,
                             "invalid field in %s request: %s", kind, f[i]);
            }
        }
        if (rv == 0 && (name == NULL || *name == '\0'))
            rv = err_set(err, ERR_INVALID, "source is required");
    }
    if (rv == 0) {
        json_object_set_new(file, "Name",
                            json_string(target != NULL && *target != '\0'
                                            ? target
                                            : name));
        *out = json_pack(strcmp(kind, "secret") == 0 ? "{s:o, s:s}"
                                                      : "{s:o, s:s}",
                         "File", file,
                         strcmp(kind, "secret") == 0 ? "SecretName"
                                                     : "ConfigName",
                         name);
        file = NULL;
    }
    json_decref(file);
    cli_service_flags_csv_free(f, n);
    return rv;
}

static int cli_service_flags_pref(const char *val, json_t **out,
                                  struct err *err)
{
    const char *eq = strchr(val, '=');

    *out = NULL;
    if (eq == NULL || eq == val)
        return err_set(err, ERR_INVALID,
                       "placement preference must be of the format "
                       "\"<strategy>=<arg>\"");
    if ((size_t)(eq - val) != 6 || strncmp(val, "spread", 6) != 0)
        return err_set(err, ERR_INVALID,
                       "unsupported placement preference %.*s (only spread "
                       "is supported)",
                       (int)(eq - val), val);
    *out = json_pack("{s:{s:s}}", "Spread", "SpreadDescriptor", eq + 1);
    return 0;
}

/* --network: "name" or "name=n,alias=a,driver-opt=k=v". */
static int cli_service_flags_network(const char *val, json_t **out,
                                     struct err *err)
{
    json_t *nw = json_object();
    char **f;
    size_t n;
    size_t i;
    int rv = 0;

    *out = NULL;
    if (strchr(val, '=') == NULL) {
        json_object_set_new(nw, "Target", json_string(val));
        *out = nw;
        return 0;
    }
    f = cli_service_flags_csv(val, &n);
    for (i = 0; i < n && rv == 0; i++) {
        char *eq = strchr(f[i], '=');

        if (eq == NULL) {
            rv = err_set(err, ERR_INVALID,
                         "invalid field '%s' must be a key=value pair",
                         f[i]);
            break;
        }
        *eq = '\0';
        if (strcmp(f[i], "name") == 0) {
            json_object_set_new(nw, "Target", json_string(eq + 1));
        } else if (strcmp(f[i], "alias") == 0) {
            json_array_append_new(cli_service_flags_arr(nw, "Aliases"),
                                  json_string(eq + 1));
        } else if (strcmp(f[i], "driver-opt") == 0) {
            char *e = strchr(eq + 1, '=');

            if (e == NULL) {
                rv = err_set(err, ERR_INVALID,
                             "invalid key value pair format in driver "
                             "options");
                break;
            }
            *e = '\0';
            json_object_set_new(cli_service_flags_obj(nw, "DriverOpts"),
                                eq + 1, json_string(e + 1));
        } else {
            rv = err_set(err, ERR_INVALID, "invalid field key %s", f[i]);
        }
    }
    cli_service_flags_csv_free(f, n);
    if (rv == 0 && json_object_get(nw, "Target") == NULL)
        rv = err_set(err, ERR_INVALID, "network name/id is not specified");
    if (rv != 0) {
        json_decref(nw);
        return rv;
    }
    *out = nw;
    return 0;
}

static bool cli_service_flags_ip(const char *s)
{
    unsigned char addr[16];
    char tmp[64];
    size_t len = strlen(s);

    if (len >= 2 && s[0] == '[' && s[len - 1] == ']' && len < sizeof(tmp)) {
        memcpy(tmp, s + 1, len - 2);
        tmp[len - 2] = '\0';
        s = tmp;
    }
    return inet_pton(AF_INET, s, addr) == 1 ||
           inet_pton(AF_INET6, s, addr) == 1;
}

/* --host "name:ip" or "name=ip" -> "ip name" (swarmkit's hosts format);
 * NULL when malformed. Owned. */
static char *cli_service_flags_host(const char *val, struct err *err)
{
    const char *sep = strchr(val, '=');

    if (sep == NULL)
        sep = strchr(val, ':');
    if (sep == NULL || sep == val || memchr(val, ':', (size_t)(sep - val)))
    {
        err_set(err, ERR_INVALID, "bad format for add-host: \"%s\"", val);
        return NULL;
    }
    if (strcmp(sep + 1, "host-gateway") != 0 &&
        !cli_service_flags_ip(sep + 1)) {
        err_set(err, ERR_INVALID, "invalid IP address in add-host: \"%s\"",
                sep + 1);
        return NULL;
    }
    return xasprintf("%s %.*s", sep + 1, (int)(sep - val), val);
}

int cli_service_flags_check(const char *flag, const char *val,
                            struct err *err)
{
    json_t *v = NULL;
    char *s;
    int rv = 0;

    if (cli_service_flags_is(flag, "publish")) {
        v = json_array();
        rv = cli_service_flags_port(val, v, err);
    } else if (cli_service_flags_is(flag, "mount")) {
        rv = cli_service_flags_mount(val, &v, err);
    } else if (cli_service_flags_is(flag, "secret")) {
        rv = cli_service_flags_ref("secret", val, &v, err);
    } else if (cli_service_flags_is(flag, "config")) {
        rv = cli_service_flags_ref("config", val, &v, err);
    } else if (cli_service_flags_is(flag, "placement-pref")) {
        rv = cli_service_flags_pref(val, &v, err);
    } else if (cli_service_flags_is(flag, "network")) {
        rv = cli_service_flags_network(val, &v, err);
    } else if (strcmp(flag, "entrypoint") == 0 || strcmp(flag, "args") == 0) {
        v = cli_service_flags_shlex(val, err);
        rv = v == NULL ? -ERR_INVALID : 0;
    } else if (cli_service_flags_is(flag, "host")) {
        s = cli_service_flags_host(val, err);
        rv = s == NULL ? -ERR_INVALID : 0;
        free(s);
    } else if (cli_service_flags_is(flag, "dns")) {
        if (!cli_service_flags_ip(val))
            rv = err_set(err, ERR_INVALID,
                         "IP address is not correctly formatted: %s", val);
    } else if (val[0] == '=') {
        /* env, labels, log options: docker's ValidateEnv */
        rv = err_set(err, ERR_INVALID, "invalid environment variable: %s",
                     val);
    }
    json_decref(v);
    return rv;
}

/* ---- spec pieces shared by create and update ------------------------- */

/* The key of "k=v" or "k" (env and labels). */
static size_t cli_service_flags_key_len(const char *s)
{
    return strcspn(s, "=");
}

/* "k=v" / "k" items into obj (docker's ConvertKVStringsToMap). */
static void cli_service_flags_kv(json_t *obj, const char **list, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        size_t k = cli_service_flags_key_len(list[i]);
        char *key = xstrndup(list[i], k);

        json_object_set_new(obj, key,
                            json_string(list[i][k] == '=' ? list[i] + k + 1
                                                          : ""));
        free(key);
    }
}

/* An env item as docker's ValidateEnv gives it: "K" alone takes the
 * value of K in the environment when it has one. Owned. */
static char *cli_service_flags_env_item(const char *s)
{
    const char *v;

    if (strchr(s, '=') != NULL)
        return xstrdup(s);
    v = getenv(s);
    return v != NULL ? xasprintf("%s=%s", s, v) : xstrdup(s);
}

/* Put item (stolen) in env, replacing the item with the same key. */
static void cli_service_flags_env_put(json_t *env, char *item)
{
    size_t k = cli_service_flags_key_len(item);
    size_t i;
    json_t *v;

    json_array_foreach(env, i, v) {
        const char *s = json_string_value(v);

        if (s != NULL && cli_service_flags_key_len(s) == k &&
            strncmp(s, item, k) == 0) {
            json_array_set_new(env, i, json_string(item));
            free(item);
            return;
        }
    }
    json_array_append_new(env, json_string(item));
    free(item);
}

/* Lines of an --env-file (docker's ReadKVStrings): blank lines and '#'
 * comments skipped, leading blanks trimmed, "K" takes its value from the
 * environment. */
static int cli_service_flags_env_file(const char *path, json_t *env,
                                      struct err *err)
{
    char *data = NULL;
    size_t len = 0;
    char *line;
    char *save = NULL;
    int rv;

    rv = fsutil_read_all(path, 1 << 20, &data, &len, err);
    if (rv != 0)
        return rv;
    for (line = strtok_r(data, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        size_t l;

        while (isspace((unsigned char)*line))
            line++;
        l = strlen(line);
        if (l > 0 && line[l - 1] == '\r')
            line[--l] = '\0';
        if (l == 0 || line[0] == '#')
            continue;
        if (strcspn(line, " \t") < cli_service_flags_key_len(line)) {
            rv = err_set(err, ERR_INVALID,
                         "variable '%.*s' contains whitespaces",
                         (int)cli_service_flags_key_len(line), line);
            break;
        }
        cli_service_flags_env_put(env, cli_service_flags_env_item(line));
    }
    free(data);
    return rv;
}

/* Normalized capabilities: upper case, "CAP_" prefix except for ALL. */
static json_t *cli_service_flags_caps(const char **list, size_t n)
{
    json_t *out = json_array();
    size_t i;

    for (i = 0; i < n; i++) {
        char *c = xstrdup(list[i]);
        char *p;
        char *norm;

        for (p = c; *p != '\0'; p++)
            *p = (char)toupper((unsigned char)*p);
        norm = strcmp(c, "ALL") == 0 || strncmp(c, "CAP_", 4) == 0
                   ? xstrdup(c)
                   : xasprintf("CAP_%s", c);
        if (!cli_service_flags_has(out, norm))
            json_array_append_new(out, json_string(norm));
        free(norm);
        free(c);
    }
    return out;
}

/* Last word list of a CLI_FLAG_OPT "command" flag (shlex, checked). */
static json_t *cli_service_flags_command(const struct cli_args *a,
                                         const char *flag)
{
    size_t n;
    const char **v = cli_flag_list(a, flag, &n);

    return cli_service_flags_shlex(v[n - 1], NULL);
}

static int cli_service_flags_windows(const struct cli_args *a,
                                     struct err *err)
{
    if (*cli_flag_str(a, "credential-spec") != '\0')
        return err_set(err, ERR_INVALID,
                       "--credential-spec is only supported on Windows");
    if (*cli_flag_str(a, "isolation") != '\0' &&
        strcmp(cli_flag_str(a, "isolation"), "default") != 0)
        return err_set(err, ERR_INVALID,
                       "invalid isolation '%s': only \"default\" is "
                       "supported on Linux",
                       cli_flag_str(a, "isolation"));
    return 0;
}

/* Health flags into hc (docker's toHealthConfig / updateHealthcheck). */
static int cli_service_flags_health(const struct cli_args *a, json_t *cs,
                                    bool update, struct err *err)
{
    static const char *const durs[][2] = {
        {"health-interval", "Interval"},
        {"health-timeout", "Timeout"},
        {"health-start-period", "StartPeriod"},
        {"health-start-interval", "StartInterval"},
    };
    bool any = cli_flag_changed(a, "health-cmd") ||
               cli_flag_changed(a, "health-retries");
    json_t *hc;
    size_t i;

    for (i = 0; i < ARRAY_SIZE(durs); i++) {
        if (!cli_flag_changed(a, durs[i][0]))
            continue;
        any = true;
        if (cli_flag_int(a, durs[i][0]) < 0)
            return err_set(err, ERR_INVALID,
                           "invalid argument \"%s\" for \"--%s\" flag: "
                           "duration cannot be negative",
                           "", durs[i][0]);
    }
    if (!update && !cli_flag_changed(a, "health-cmd") &&
        cli_flag_int(a, "health-retries") == 0) {
        bool dur = false;

        for (i = 0; i < ARRAY_SIZE(durs); i++)
            dur = dur || cli_flag_changed(a, durs[i][0]);
        any = dur;
    }
    if (cli_flag_bool(a, "no-healthcheck")) {
        if (any)
            return err_set(err, ERR_INVALID,
                           "--no-healthcheck conflicts with --health-* "
                           "options");
        json_object_set_new(cs, "Healthcheck",
                            json_pack("{s:[s]}", "Test", "NONE"));
        return 0;
    }
    if (!any)
        return 0;
    hc = update ? cli_service_flags_obj(cs, "Healthcheck") : json_object();
    if (update) {
        json_t *t = json_object_get(hc, "Test");

        if (json_array_size(t) > 0 &&
            strcmp(json_string_value(json_array_get(t, 0)), "NONE") == 0)
            json_object_del(hc, "Test");
    }
    for (i = 0; i < ARRAY_SIZE(durs); i++) {
        if (cli_flag_changed(a, durs[i][0])) {
            if (cli_flag_int(a, durs[i][0]) != 0)
                json_object_set_new(hc, durs[i][1],
                                    json_integer(cli_flag_int(a, durs[i][0])));
            else
                json_object_del(hc, durs[i][1]);
        }
    }
    if (cli_flag_changed(a, "health-retries")) {
        if (cli_flag_int(a, "health-retries") != 0)
            json_object_set_new(hc, "Retries",
                                json_integer(cli_flag_int(a,
                                                          "health-retries")));
        else
            json_object_del(hc, "Retries");
    }
    if (cli_flag_changed(a, "health-cmd")) {
        if (*cli_flag_str(a, "health-cmd") != '\0')
            json_object_set_new(hc, "Test",
                                json_pack("[s, s]", "CMD-SHELL",
                                          cli_flag_str(a, "health-cmd")));
        else
            json_object_del(hc, "Test");
    }
    if (!update)
        json_object_set_new(cs, "Healthcheck", hc);
    return 0;
}

/* UpdateConfig/RollbackConfig from the prefix's flags ("update" or
 * "rollback"); into cfg when some changed, starting from swarmkit's
 * defaults when cfg is empty. */
static void cli_service_flags_update_cfg(const struct cli_args *a,
                                         const char *prefix, json_t *spec,
                                         const char *key)
{
    static const char *const names[] = {
        "parallelism", "delay", "monitor", "failure-action",
        "max-failure-ratio", "order",
    };
    char flag[64];
    bool any = false;
    json_t *cfg;
    size_t i;

    for (i = 0; i < ARRAY_SIZE(names); i++) {
        snprintf(flag, sizeof(flag), "%s-%s", prefix, names[i]);
        any = any || cli_flag_changed(a, flag);
    }
    if (!any)
        return;
    cfg = json_object_get(spec, key);
    if (!json_is_object(cfg)) {
        cfg = json_pack("{s:i, s:s, s:I, s:f, s:s}", "Parallelism", 1,
                        "FailureAction", "pause", "Monitor",
                        (json_int_t)5000000000LL, "MaxFailureRatio", 0.0,
                        "Order", "stop-first");
        json_object_set_new(spec, key, cfg);
    }
#define CLI_SERVICE_FLAGS__F(n) \
    (snprintf(flag, sizeof(flag), "%s-%s", prefix, n), flag)
    if (cli_flag_changed(a, CLI_SERVICE_FLAGS__F("parallelism")))
        json_object_set_new(cfg, "Parallelism",
                            json_integer((json_int_t)cli_flag_uint(a, flag)));
    if (cli_flag_changed(a, CLI_SERVICE_FLAGS__F("delay"))) {
        if (cli_flag_int(a, flag) != 0)
            json_object_set_new(cfg, "Delay",
                                json_integer(cli_flag_int(a, flag)));
        else
            json_object_del(cfg, "Delay");
    }
    if (cli_flag_changed(a, CLI_SERVICE_FLAGS__F("monitor"))) {
        if (cli_flag_int(a, flag) != 0)
            json_object_set_new(cfg, "Monitor",
                                json_integer(cli_flag_int(a, flag)));
        else
            json_object_del(cfg, "Monitor");
    }
    if (cli_flag_changed(a, CLI_SERVICE_FLAGS__F("failure-action"))) {
        json_object_del(cfg, "FailureAction");
        cli_service_flags_set_str(cfg, "FailureAction",
                                  cli_flag_str(a, flag));
    }
    if (cli_flag_changed(a, CLI_SERVICE_FLAGS__F("max-failure-ratio")))
        json_object_set_new(cfg, "MaxFailureRatio",
                            json_real(cli_flag_float(a, flag)));
    if (cli_flag_changed(a, CLI_SERVICE_FLAGS__F("order")))
        json_object_set_new(cfg, "Order",
                            json_string(cli_flag_str(a, flag)));
#undef CLI_SERVICE_FLAGS__F
}

/* RestartPolicy from the restart flags, starting from swarmkit's defaults
 * when the spec has none. */
static void cli_service_flags_restart(const struct cli_args *a,
                                      json_t *task)
{
    json_t *rp;

    if (!cli_flag_changed(a, "restart-condition") &&
        !cli_flag_changed(a, "restart-delay") &&
        !cli_flag_changed(a, "restart-max-attempts") &&
        !cli_flag_changed(a, "restart-window"))
        return;
    rp = json_object_get(task, "RestartPolicy");
    if (!json_is_object(rp)) {
        rp = json_pack("{s:s, s:I, s:i}", "Condition", "any", "Delay",
                       (json_int_t)5000000000LL, "MaxAttempts", 0);
        json_object_set_new(task, "RestartPolicy", rp);
    }
    if (cli_flag_changed(a, "restart-condition")) {
        json_object_del(rp, "Condition");
        cli_service_flags_set_str(rp, "Condition",
                                  cli_flag_str(a, "restart-condition"));
    }
    if (cli_flag_changed(a, "restart-delay"))
        json_object_set_new(rp, "Delay",
                            json_integer(cli_flag_int(a, "restart-delay")));
    if (cli_flag_changed(a, "restart-max-attempts"))
        json_object_set_new(
            rp, "MaxAttempts",
            json_integer((json_int_t)cli_flag_uint(a,
                                                   "restart-max-attempts")));
    if (cli_flag_changed(a, "restart-window"))
        json_object_set_new(rp, "Window",
                            json_integer(cli_flag_int(a, "restart-window")));
}

/* Limits and reservations of the changed resource flags. */
static void cli_service_flags_resources(const struct cli_args *a,
                                        json_t *res)
{
    static const char *const map[][3] = {
        {"limit-cpu", "Limits", "NanoCPUs"},
        {"limit-memory", "Limits", "MemoryBytes"},
        {"limit-pids", "Limits", "Pids"},
        {"reserve-cpu", "Reservations", "NanoCPUs"},
        {"reserve-memory", "Reservations", "MemoryBytes"},
    };
    size_t i;

    for (i = 0; i < ARRAY_SIZE(map); i++) {
        json_t *o;

        if (!cli_flag_changed(a, map[i][0]))
            continue;
        o = cli_service_flags_obj(res, map[i][1]);
        if (cli_flag_int(a, map[i][0]) != 0)
            json_object_set_new(o, map[i][2],
                                json_integer(cli_flag_int(a, map[i][0])));
        else
            json_object_del(o, map[i][2]);
    }
}

/* References of the --secret/--config values of flag with their IDs,
 * appended to out (docker's ParseSecrets/ParseConfigs). */
static int cli_service_flags_refs(const struct cli_args *a, const char *flag,
                                  const char *kind, json_t *out,
                                  cli_service_flags_resolve_cb resolve,
                                  void *data, struct err *err)
{
    const char *name_key = strcmp(kind, "secret") == 0 ? "SecretName"
                                                         : "ConfigName";
    const char *id_key = strcmp(kind, "secret") == 0 ? "SecretID"
                                                       : "ConfigID";
    json_t *targets = json_array();
    const char **v;
    size_t n;
    size_t i;
    int rv = 0;

    v = cli_flag_list(a, flag, &n);
    for (i = 0; i < n && rv == 0; i++) {
        json_t *ref = NULL;
        char *id = NULL;
        const char *target;

        rv = cli_service_flags_ref(kind, v[i], &ref, err);
        if (rv != 0)
            break;
        target = cli_jstr(ref, "File.Name");
        if (strcmp(kind, "secret") == 0 &&
            cli_service_flags_has(targets, target)) {
            rv = err_set(err, ERR_INVALID,
                         "duplicate secret target for %s not allowed",
                         cli_jstr(ref, name_key));
        } else {
            json_array_append_new(targets, json_string(target));
            rv = resolve(data, kind, cli_jstr(ref, name_key), &id, err);
        }
        if (rv == 0) {
            json_object_set_new(ref, id_key, json_string(id));
            json_array_append(out, ref);
        }
        free(id);
        json_decref(ref);
    }
    json_decref(targets);
    return rv;
}

/* Network attachments of flag's values with their targets resolved to
 * IDs, appended to out. */
static int cli_service_flags_networks(const struct cli_args *a,
                                      const char *flag, json_t *out,
                                      cli_service_flags_resolve_cb resolve,
                                      void *data, struct err *err)
{
    const char **v;
    size_t n;
    size_t i;
    int rv = 0;

    v = cli_flag_list(a, flag, &n);
    for (i = 0; i < n && rv == 0; i++) {
        json_t *nw = NULL;
        char *id = NULL;

        rv = cli_service_flags_network(v[i], &nw, err);
        if (rv == 0)
            rv = resolve(data, "network", cli_jstr(nw, "Target"), &id, err);
        if (rv == 0) {
            json_object_set_new(nw, "Target", json_string(id));
            json_array_append(out, nw);
        }
        free(id);
        json_decref(nw);
    }
    return rv;
}

static int cli_service_flags_target_cmp(const void *x, const void *y)
{
    return strcmp(cli_jstr(*(json_t *const *)x, "Target"),
                  cli_jstr(*(json_t *const *)y, "Target"));
}

/* Sort an array of objects with cmp (qsort's, over json_t **). */
static void cli_service_flags_sort_by(json_t *arr,
                                      int (*cmp)(const void *, const void *))
{
    json_t **items = cli_jsorted(arr, cmp);
    size_t n = json_array_size(arr);
    size_t i;

    for (i = 0; i < n; i++)
        json_incref(items[i]);
    json_array_clear(arr);
    for (i = 0; i < n; i++)
        json_array_append_new(arr, items[i]);
    free(items);
}

/* A string list flag into obj[key] (omitted when empty). */
static void cli_service_flags_list_to(const struct cli_args *a,
                                      const char *flag, json_t *obj,
                                      const char *key)
{
    const char **v;
    size_t n;
    size_t i;
    json_t *arr;

    v = cli_flag_list(a, flag, &n);
    if (n == 0)
        return;
    arr = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(arr, json_string(v[i]));
    json_object_set_new(obj, key, arr);
}

/* The image as docker sends it: a name without tag or digest gets
 * ":latest" (reference.TagNameOnly). Owned. */
static json_t *cli_service_flags_image(const char *image)
{
    const char *slash = strrchr(image, '/');
    const char *last = slash != NULL ? slash + 1 : image;

    if (*image == '\0' || strchr(image, '@') != NULL ||
        strchr(last, ':') != NULL)
        return json_string(image);
    return json_sprintf("%s:latest", image);
}

/* ---- create ---------------------------------------------------------- */

static int cli_service_flags_mode(const struct cli_args *a, json_t *spec,
                                  struct err *err)
{
    const char *mode = cli_flag_str(a, "mode");
    bool reps = cli_flag_changed(a, "replicas");
    bool conc = cli_flag_changed(a, "max-concurrent");
    bool maxr = cli_flag_uint(a, "replicas-max-per-node") > 0;
    json_t *m;

    if (strcmp(mode, "global") == 0 || strcmp(mode, "global-job") == 0) {
        if (maxr && strcmp(mode, "global-job") == 0)
            return err_set(err, ERR_INVALID,
                           "replicas-max-per-node can only be used with "
                           "replicated or replicated-job mode");
        if (reps)
            return err_set(err, ERR_INVALID,
                           "replicas can only be used with replicated or "
                           "replicated-job mode");
        if (maxr)
            return err_set(err, ERR_INVALID,
                           "replicas-max-per-node can only be used with "
                           "replicated or replicated-job mode");
        if (conc)
            return err_set(err, ERR_INVALID,
                           "max-concurrent can only be used with "
                           "replicated-job mode");
        cli_jset(spec, strcmp(mode, "global") == 0 ? "Mode.Global"
                                                   : "Mode.GlobalJob",
                 json_object());
        return 0;
    }
    if (strcmp(mode, "replicated") == 0) {
        if (conc)
            return err_set(err, ERR_INVALID,
                           "max-concurrent can only be used with "
                           "replicated-job mode");
        m = json_object();
        if (reps)
            json_object_set_new(
                m, "Replicas",
                json_integer((json_int_t)cli_flag_uint(a, "replicas")));
        cli_jset(spec, "Mode.Replicated", m);
        return 0;
    }
    if (strcmp(mode, "replicated-job") == 0) {
        m = json_object();
        if (conc || reps)
            json_object_set_new(
                m, "MaxConcurrent",
                json_integer((json_int_t)cli_flag_uint(
                    a, conc ? "max-concurrent" : "replicas")));
        if (reps)
            json_object_set_new(
                m, "TotalCompletions",
                json_integer((json_int_t)cli_flag_uint(a, "replicas")));
        cli_jset(spec, "Mode.ReplicatedJob", m);
        return 0;
    }
    return err_set(err, ERR_INVALID,
                   "Unknown mode: %s, only replicated and global supported",
                   mode);
}

int cli_service_flags_create(const struct cli_args *a,
                             cli_service_flags_resolve_cb resolve,
                             void *data, json_t **out_spec, struct err *err)
{
    json_t *spec = json_object();
    json_t *task = json_object();
    json_t *cs = json_object();
    json_t *env = json_array();
    json_t *obj;
    json_t *arr;
    const char **v;
    size_t n;
    size_t i;
    int j;
    int rv;

    *out_spec = NULL;
    json_object_set_new(spec, "TaskTemplate", task);
    json_object_set_new(task, "ContainerSpec", cs);
    rv = cli_service_flags_windows(a, err);
    if (rv != 0)
        goto out;
    cli_service_flags_set_str(spec, "Name", cli_flag_str(a, "name"));
    v = cli_flag_list(a, "label", &n);
    if (n > 0) {
        obj = json_object();
        cli_service_flags_kv(obj, v, n);
        json_object_set_new(spec, "Labels", obj);
    }

    /* container */
    json_object_set_new(cs, "Image", cli_service_flags_image(a->argv[0]));
    v = cli_flag_list(a, "container-label", &n);
    if (n > 0) {
        obj = json_object();
        cli_service_flags_kv(obj, v, n);
        json_object_set_new(cs, "Labels", obj);
    }
    if (cli_flag_changed(a, "entrypoint"))
        json_object_set_new(cs, "Command",
                            cli_service_flags_command(a, "entrypoint"));
    cli_service_flags_prune(cs, "Command");
    if (a->argc > 1) {
        arr = json_array();
        for (j = 1; j < a->argc; j++)
            json_array_append_new(arr, json_string(a->argv[j]));
        json_object_set_new(cs, "Args", arr);
    }
    cli_service_flags_set_str(cs, "Hostname", cli_flag_str(a, "hostname"));
    v = cli_flag_list(a, "env-file", &n);
    for (i = 0; i < n && rv == 0; i++)
        rv = cli_service_flags_env_file(v[i], env, err);
    if (rv != 0)
        goto out;
    v = cli_flag_list(a, "env", &n);
    for (i = 0; i < n; i++)
        cli_service_flags_env_put(env, cli_service_flags_env_item(v[i]));
    if (json_array_size(env) > 0)
        json_object_set(cs, "Env", env);
    cli_service_flags_set_str(cs, "Dir", cli_flag_str(a, "workdir"));
    cli_service_flags_set_str(cs, "User", cli_flag_str(a, "user"));
    cli_service_flags_list_to(a, "group", cs, "Groups");
    json_object_set_new(cs, "Init", json_boolean(cli_flag_bool(a, "init")));
    cli_service_flags_set_str(cs, "StopSignal",
                              cli_flag_str(a, "stop-signal"));
    if (cli_flag_bool(a, "tty"))
        json_object_set_new(cs, "TTY", json_true());
    if (cli_flag_bool(a, "read-only"))
        json_object_set_new(cs, "ReadOnly", json_true());
    v = cli_flag_list(a, "mount", &n);
    if (n > 0) {
        arr = json_array();
        for (i = 0; i < n; i++) {
            json_t *m = NULL;

            (void)cli_service_flags_mount(v[i], &m, NULL);
            json_array_append_new(arr, m);
        }
        json_object_set_new(cs, "Mounts", arr);
    }
    if (cli_flag_changed(a, "stop-grace-period"))
        json_object_set_new(cs, "StopGracePeriod",
                            json_integer(cli_flag_int(a,
                                                      "stop-grace-period")));
    rv = cli_service_flags_health(a, cs, false, err);
    if (rv != 0)
        goto out;
    v = cli_flag_list(a, "host", &n);
    if (n > 0) {
        arr = json_array();
        for (i = 0; i < n; i++) {
            char *h = cli_service_flags_host(v[i], NULL);

            json_array_append_new(arr, json_string(h));
            free(h);
        }
        json_object_set_new(cs, "Hosts", arr);
    }
    obj = json_object();
    cli_service_flags_list_to(a, "dns", obj, "Nameservers");
    cli_service_flags_list_to(a, "dns-search", obj, "Search");
    cli_service_flags_list_to(a, "dns-option", obj, "Options");
    json_object_set_new(cs, "DNSConfig", obj);
    arr = json_array();
    rv = cli_service_flags_refs(a, "secret", "secret", arr, resolve, data,
                                err);
    json_object_set_new(cs, "Secrets", arr);
    cli_service_flags_prune(cs, "Secrets");
    if (rv != 0)
        goto out;
    arr = json_array();
    rv = cli_service_flags_refs(a, "config", "config", arr, resolve, data,
                                err);
    json_object_set_new(cs, "Configs", arr);
    cli_service_flags_prune(cs, "Configs");
    if (rv != 0)
        goto out;
    v = cli_flag_list(a, "sysctl", &n);
    if (n > 0) {
        obj = json_object();
        cli_service_flags_kv(obj, v, n);
        json_object_set_new(cs, "Sysctls", obj);
    }
    v = cli_flag_list(a, "cap-add", &n);
    if (n > 0)
        json_object_set_new(cs, "CapabilityAdd",
                            cli_service_flags_caps(v, n));
    v = cli_flag_list(a, "cap-drop", &n);
    if (n > 0)
        json_object_set_new(cs, "CapabilityDrop",
                            cli_service_flags_caps(v, n));
    if (cli_flag_int(a, "oom-score-adj") != 0)
        json_object_set_new(cs, "OomScoreAdj",
                            json_integer(cli_flag_int(a, "oom-score-adj")));

    /* task */
    arr = json_array();
    rv = cli_service_flags_networks(a, "network", arr, resolve, data, err);
    cli_service_flags_sort_by(arr, cli_service_flags_target_cmp);
    json_object_set_new(task, "Networks", arr);
    cli_service_flags_prune(task, "Networks");
    if (rv != 0)
        goto out;
    obj = json_pack("{s:{}, s:{}}", "Limits", "Reservations");
    cli_service_flags_resources(a, obj);
    json_object_set_new(task, "Resources", obj);
    cli_service_flags_restart(a, task);
    obj = json_object();
    cli_service_flags_list_to(a, "constraint", obj, "Constraints");
    v = cli_flag_list(a, "placement-pref", &n);
    if (n > 0) {
        arr = json_array();
        for (i = 0; i < n; i++) {
            json_t *p = NULL;

            (void)cli_service_flags_pref(v[i], &p, NULL);
            json_array_append_new(arr, p);
        }
        json_object_set_new(obj, "Preferences", arr);
    }
    if (cli_flag_uint(a, "replicas-max-per-node") > 0)
        json_object_set_new(
            obj, "MaxReplicas",
            json_integer((json_int_t)cli_flag_uint(a,
                                                   "replicas-max-per-node")));
    json_object_set_new(task, "Placement", obj);
    if (*cli_flag_str(a, "log-driver") != '\0') {
        obj = json_pack("{s:s}", "Name", cli_flag_str(a, "log-driver"));
        v = cli_flag_list(a, "log-opt", &n);
        if (n > 0) {
            json_t *o = json_object();

            cli_service_flags_kv(o, v, n);
            json_object_set_new(obj, "Options", o);
        }
        json_object_set_new(task, "LogDriver", obj);
    }
    json_object_set_new(task, "ForceUpdate", json_integer(0));

    /* service */
    rv = cli_service_flags_mode(a, spec, err);
    if (rv != 0)
        goto out;
    cli_service_flags_update_cfg(a, "update", spec, "UpdateConfig");
    cli_service_flags_update_cfg(a, "rollback", spec, "RollbackConfig");
    obj = json_object();
    {
        char *mode = xstrdup(cli_flag_str(a, "endpoint-mode"));
        char *p;

        for (p = mode; *p != '\0'; p++)
            *p = (char)tolower((unsigned char)*p);
        cli_service_flags_set_str(obj, "Mode", mode);
        free(mode);
    }
    arr = json_array();
    v = cli_flag_list(a, "publish", &n);
    for (i = 0; i < n; i++)
        (void)cli_service_flags_port(v[i], arr, NULL);
    json_object_set_new(obj, "Ports", arr);
    cli_service_flags_prune(obj, "Ports");
    json_object_set_new(spec, "EndpointSpec", obj);
    *out_spec = spec;
    spec = NULL;
out:
    json_decref(env);
    json_decref(spec);
    return rv;
}

/* ---- update ---------------------------------------------------------- */

/* Labels map at obj[key]: remove the -rm keys, then set the -add items. */
static void cli_service_flags_upd_labels(const struct cli_args *a,
                                         const char *flag, json_t *obj,
                                         const char *key)
{
    char name[64];
    const char **v;
    size_t n;
    size_t i;
    json_t *labels;

    snprintf(name, sizeof(name), "%s-add", flag);
    v = cli_flag_list(a, name, &n);
    labels = json_object_get(obj, key);
    if (n > 0) {
        labels = cli_service_flags_obj(obj, key);
        cli_service_flags_kv(labels, v, n);
    }
    snprintf(name, sizeof(name), "%s-rm", flag);
    v = cli_flag_list(a, name, &n);
    for (i = 0; i < n && json_is_object(labels); i++)
        json_object_del(labels, v[i]);
    cli_service_flags_prune(obj, key);
}

/* A string list at obj[key]: -add items appended (no duplicates), -rm
 * items removed; sorted when sort is set (docker's constraints, groups,
 * DNS settings). */
static void cli_service_flags_upd_list(const struct cli_args *a,
                                       const char *flag, json_t *obj,
                                       const char *key, bool sort)
{
    char name[64];
    const char **add;
    const char **rm;
    size_t n_add;
    size_t n_rm;
    size_t i;
    json_t *old = json_object_get(obj, key);
    json_t *arr = json_array();
    json_t *x;

    snprintf(name, sizeof(name), "%s-add", flag);
    add = cli_flag_list(a, name, &n_add);
    snprintf(name, sizeof(name), "%s-rm", flag);
    rm = cli_flag_list(a, name, &n_rm);
    if (n_add == 0 && n_rm == 0) {
        json_decref(arr);
        return;
    }
    json_array_foreach(old, i, x) {
        if (json_is_string(x) && !cli_service_flags_has(arr,
                                                        json_string_value(x)))
            json_array_append(arr, x);
    }
    for (i = 0; i < n_add; i++) {
        if (!cli_service_flags_has(arr, add[i]))
            json_array_append_new(arr, json_string(add[i]));
    }
    for (i = json_array_size(arr); i-- > 0;) {
        size_t k;

        for (k = 0; k < n_rm; k++) {
            if (strcmp(json_string_value(json_array_get(arr, i)), rm[k]) ==
                0) {
                json_array_remove(arr, i);
                break;
            }
        }
    }
    if (sort)
        cli_service_flags_sort(arr);
    json_object_set_new(obj, key, arr);
    cli_service_flags_prune(obj, key);
}

static void cli_service_flags_upd_env(const struct cli_args *a, json_t *cs)
{
    const char **add;
    const char **rm;
    size_t n_add;
    size_t n_rm;
    size_t i;
    json_t *env;

    add = cli_flag_list(a, "env-add", &n_add);
    rm = cli_flag_list(a, "env-rm", &n_rm);
    if (n_add == 0 && n_rm == 0)
        return;
    env = cli_service_flags_arr(cs, "Env");
    for (i = json_array_size(env); i-- > 0;) {
        const char *s = json_string_value(json_array_get(env, i));
        size_t k;

        for (k = 0; s != NULL && k < n_rm; k++) {
            size_t kl = cli_service_flags_key_len(rm[k]);

            if (cli_service_flags_key_len(s) == kl &&
                strncmp(s, rm[k], kl) == 0) {
                json_array_remove(env, i);
                break;
            }
        }
    }
    for (i = 0; i < n_add; i++)
        cli_service_flags_env_put(env, cli_service_flags_env_item(add[i]));
    cli_service_flags_prune(cs, "Env");
}

static bool cli_service_flags_port_eq(const json_t *x, const json_t *y)
{
    const char *px = cli_jstr(x, "Protocol");
    const char *py = cli_jstr(y, "Protocol");
    const char *mx = cli_jstr(x, "PublishMode");
    const char *my = cli_jstr(y, "PublishMode");

    return strcmp(*px ? px : "tcp", *py ? py : "tcp") == 0 &&
           strcmp(*mx ? mx : "ingress", *my ? my : "ingress") == 0 &&
           cli_jint(x, "TargetPort") == cli_jint(y, "TargetPort");
}

/* docker's portConfigToString order: "published:target/proto/mode". */
static int cli_service_flags_port_cmp(const void *x, const void *y)
{
    const json_t *a = *(json_t *const *)x;
    const json_t *b = *(json_t *const *)y;
    char sa[128];
    char sb[128];

    snprintf(sa, sizeof(sa), "%lld:%lld/%s/%s", cli_jint(a, "PublishedPort"),
             cli_jint(a, "TargetPort"), cli_jstr(a, "Protocol"),
             cli_jstr(a, "PublishMode"));
    snprintf(sb, sizeof(sb), "%lld:%lld/%s/%s", cli_jint(b, "PublishedPort"),
             cli_jint(b, "TargetPort"), cli_jstr(b, "Protocol"),
             cli_jstr(b, "PublishMode"));
    return strcmp(sa, sb);
}

static void cli_service_flags_upd_ports(const struct cli_args *a,
                                        json_t *spec)
{
    json_t *ep;
    json_t *ports;
    json_t *rm = json_array();
    json_t *add = json_array();
    const char **v;
    size_t n;
    size_t i;
    size_t k;
    json_t *p;

    v = cli_flag_list(a, "publish-rm", &n);
    for (i = 0; i < n; i++)
        (void)cli_service_flags_port(v[i], rm, NULL);
    v = cli_flag_list(a, "publish-add", &n);
    for (i = 0; i < n; i++)
        (void)cli_service_flags_port(v[i], add, NULL);
    if (json_array_size(rm) == 0 && json_array_size(add) == 0)
        goto out;
    ep = cli_service_flags_obj(spec, "EndpointSpec");
    ports = cli_service_flags_arr(ep, "Ports");
    for (i = json_array_size(ports); i-- > 0;) {
        json_array_foreach(rm, k, p) {
            if (cli_service_flags_port_eq(json_array_get(ports, i), p)) {
                json_array_remove(ports, i);
                break;
            }
        }
    }
    json_array_foreach(add, i, p) {
        bool dup = false;
        json_t *q;

        json_array_foreach(ports, k, q) {
            dup = dup || cli_service_flags_port_cmp(&p, &q) == 0;
        }
        if (!dup)
            json_array_append(ports, p);
    }
    cli_service_flags_sort_by(ports, cli_service_flags_port_cmp);
    cli_service_flags_prune(ep, "Ports");
out:
    json_decref(rm);
    json_decref(add);
}

static int cli_service_flags_mount_cmp(const void *x, const void *y)
{
    const json_t *a = *(json_t *const *)x;
    const json_t *b = *(json_t *const *)y;
    int r = strcmp(cli_jstr(a, "Source"), cli_jstr(b, "Source"));

    return r != 0 ? r : strcmp(cli_jstr(a, "Target"), cli_jstr(b, "Target"));
}

static int cli_service_flags_upd_mounts(const struct cli_args *a,
                                        json_t *cs, struct err *err)
{
    const char **add;
    const char **rm;
    size_t n_add;
    size_t n_rm;
    size_t i;
    size_t k;
    json_t *mounts;
    json_t *news = json_array();
    json_t *m;

    add = cli_flag_list(a, "mount-add", &n_add);
    rm = cli_flag_list(a, "mount-rm", &n_rm);
    if (n_add == 0 && n_rm == 0) {
        json_decref(news);
        return 0;
    }
    for (i = 0; i < n_add; i++) {
        json_t *x;

        (void)cli_service_flags_mount(add[i], &m, NULL);
        json_array_foreach(news, k, x) {
            if (strcmp(cli_jstr(x, "Target"), cli_jstr(m, "Target")) == 0) {
                json_decref(m);
                json_decref(news);
                return err_set(err, ERR_INVALID, "duplicate mount target");
            }
        }
        json_array_append_new(news, m);
    }
    mounts = cli_service_flags_arr(cs, "Mounts");
    json_array_foreach(mounts, i, m) {
        bool replaced = false;
        json_t *x;

        json_array_foreach(news, k, x) {
            replaced = replaced || strcmp(cli_jstr(x, "Target"),
                                          cli_jstr(m, "Target")) == 0;
        }
        if (!replaced)
            json_array_append(news, m);
    }
    for (i = json_array_size(news); i-- > 0;) {
        for (k = 0; k < n_rm; k++) {
            if (strcmp(cli_jstr(json_array_get(news, i), "Target"), rm[k]) ==
                0) {
                json_array_remove(news, i);
                break;
            }
        }
    }
    cli_service_flags_sort_by(news, cli_service_flags_mount_cmp);
    json_object_set_new(cs, "Mounts", news);
    cli_service_flags_prune(cs, "Mounts");
    return 0;
}

/* Secrets or configs: remove by name, then add the resolved new ones. */
static int cli_service_flags_upd_refs(const struct cli_args *a,
                                      const char *kind, json_t *cs,
                                      cli_service_flags_resolve_cb resolve,
                                      void *data, struct err *err)
{
    bool secret = strcmp(kind, "secret") == 0;
    const char *key = secret ? "Secrets" : "Configs";
    const char *name_key = secret ? "SecretName" : "ConfigName";
    char flag[32];
    const char **rm;
    size_t n_rm;
    size_t n_add;
    size_t i;
    size_t k;
    json_t *refs;
    int rv;

    snprintf(flag, sizeof(flag), "%s-rm", kind);
    rm = cli_flag_list(a, flag, &n_rm);
    snprintf(flag, sizeof(flag), "%s-add", kind);
    (void)cli_flag_list(a, flag, &n_add);
    if (n_rm == 0 && n_add == 0)
        return 0;
    refs = cli_service_flags_arr(cs, key);
    for (i = json_array_size(refs); i-- > 0;) {
        for (k = 0; k < n_rm; k++) {
            if (strcmp(cli_jstr(json_array_get(refs, i), name_key), rm[k]) ==
                0) {
                json_array_remove(refs, i);
                break;
            }
        }
    }
    rv = cli_service_flags_refs(a, flag, kind, refs, resolve, data, err);
    cli_service_flags_prune(cs, key);
    return rv;
}

static int cli_service_flags_upd_networks(
    const struct cli_args *a, json_t *task,
    cli_service_flags_resolve_cb resolve, void *data, struct err *err)
{
    const char **rm;
    size_t n_rm;
    size_t n_add;
    size_t i;
    size_t k;
    json_t *nets;
    int rv = 0;

    rm = cli_flag_list(a, "network-rm", &n_rm);
    (void)cli_flag_list(a, "network-add", &n_add);
    if (n_rm == 0 && n_add == 0)
        return 0;
    nets = cli_service_flags_arr(task, "Networks");
    for (k = 0; k < n_rm && rv == 0; k++) {
        char *id = NULL;

        rv = resolve(data, "network", rm[k], &id, err);
        for (i = json_array_size(nets); rv == 0 && i-- > 0;) {
            const char *t = cli_jstr(json_array_get(nets, i), "Target");

            if (strcmp(t, id) == 0 || strcmp(t, rm[k]) == 0)
                json_array_remove(nets, i);
        }
        free(id);
    }
    if (rv == 0)
        rv = cli_service_flags_networks(a, "network-add", nets, resolve,
                                        data, err);
    cli_service_flags_sort_by(nets, cli_service_flags_target_cmp);
    cli_service_flags_prune(task, "Networks");
    return rv;
}

static void cli_service_flags_upd_caps(const struct cli_args *a,
                                       json_t *cs)
{
    const char **v;
    size_t n;
    json_t *add;
    json_t *drop;
    json_t *ca;
    json_t *cd;
    json_t *x;
    size_t i;

    v = cli_flag_list(a, "cap-add", &n);
    add = cli_service_flags_caps(v, n);
    v = cli_flag_list(a, "cap-drop", &n);
    drop = cli_service_flags_caps(v, n);
    if (json_array_size(add) == 0 && json_array_size(drop) == 0)
        goto out;
    ca = cli_service_flags_arr(cs, "CapabilityAdd");
    cd = cli_service_flags_arr(cs, "CapabilityDrop");
    json_array_foreach(add, i, x) {
        if (!cli_service_flags_has(ca, json_string_value(x)))
            json_array_append(ca, x);
    }
    json_array_foreach(drop, i, x) {
        if (!cli_service_flags_has(cd, json_string_value(x)))
            json_array_append(cd, x);
    }
    for (i = json_array_size(ca); i-- > 0;) {
        if (cli_service_flags_has(drop,
                                  json_string_value(json_array_get(ca, i))))
            json_array_remove(ca, i);
    }
    for (i = json_array_size(cd); i-- > 0;) {
        if (cli_service_flags_has(add,
                                  json_string_value(json_array_get(cd, i))))
            json_array_remove(cd, i);
    }
    cli_service_flags_sort(ca);
    cli_service_flags_sort(cd);
    cli_service_flags_prune(cs, "CapabilityAdd");
    cli_service_flags_prune(cs, "CapabilityDrop");
out:
    json_decref(add);
    json_decref(drop);
}

/* Set or clear (empty value) a string field when flag changed. */
static void cli_service_flags_upd_str(const struct cli_args *a,
                                      const char *flag, json_t *obj,
                                      const char *key)
{
    if (!cli_flag_changed(a, flag))
        return;
    json_object_del(obj, key);
    cli_service_flags_set_str(obj, key, cli_flag_str(a, flag));
}

static void cli_service_flags_upd_bool(const struct cli_args *a,
                                       const char *flag, json_t *obj,
                                       const char *key)
{
    if (!cli_flag_changed(a, flag))
        return;
    if (cli_flag_bool(a, flag))
        json_object_set_new(obj, key, json_true());
    else
        json_object_del(obj, key);
}

static void cli_service_flags_upd_hosts(const struct cli_args *a,
                                        json_t *cs)
{
    const char **add;
    const char **rm;
    size_t n_add;
    size_t n_rm;
    size_t i;
    size_t k;
    json_t *hosts;

    add = cli_flag_list(a, "host-add", &n_add);
    rm = cli_flag_list(a, "host-rm", &n_rm);
    if (n_add == 0 && n_rm == 0)
        return;
    hosts = cli_service_flags_arr(cs, "Hosts");
    for (k = 0; k < n_rm; k++) {
        char *h = cli_service_flags_host(rm[k], NULL);

        for (i = json_array_size(hosts); i-- > 0;) {
            const char *s = json_string_value(json_array_get(hosts, i));
            const char *sp = s != NULL ? strchr(s, ' ') : NULL;

            /* "host:ip" removes that entry; "host" every entry of host */
            if ((h != NULL && strcmp(s, h) == 0) ||
                (h == NULL && sp != NULL && strcmp(sp + 1, rm[k]) == 0))
                json_array_remove(hosts, i);
        }
        free(h);
    }
    for (i = 0; i < n_add; i++) {
        char *h = cli_service_flags_host(add[i], NULL);

        if (h != NULL && !cli_service_flags_has(hosts, h))
            json_array_append_new(hosts, json_string(h));
        free(h);
    }
    cli_service_flags_prune(cs, "Hosts");
}

static void cli_service_flags_upd_prefs(const struct cli_args *a,
                                        json_t *task)
{
    const char **add;
    const char **rm;
    size_t n_add;
    size_t n_rm;
    size_t i;
    size_t k;
    json_t *pl;
    json_t *prefs;

    add = cli_flag_list(a, "placement-pref-add", &n_add);
    rm = cli_flag_list(a, "placement-pref-rm", &n_rm);
    if (n_add == 0 && n_rm == 0)
        return;
    pl = cli_service_flags_obj(task, "Placement");
    prefs = cli_service_flags_arr(pl, "Preferences");
    for (k = 0; k < n_rm; k++) {
        const char *d = strchr(rm[k], '=') + 1;

        for (i = json_array_size(prefs); i-- > 0;) {
            if (strcmp(cli_jstr(json_array_get(prefs, i),
                                "Spread.SpreadDescriptor"),
                       d) == 0)
                json_array_remove(prefs, i);
        }
    }
    for (i = 0; i < n_add; i++) {
        json_t *p = NULL;

        (void)cli_service_flags_pref(add[i], &p, NULL);
        json_array_append_new(prefs, p);
    }
    cli_service_flags_prune(pl, "Preferences");
}

static int cli_service_flags_upd_mode(const struct cli_args *a,
                                      json_t *spec, struct err *err)
{
    json_t *rep = cli_jget(spec, "Mode.Replicated");
    json_t *job = cli_jget(spec, "Mode.ReplicatedJob");

    if (cli_flag_changed(a, "replicas")) {
        json_int_t r = (json_int_t)cli_flag_uint(a, "replicas");

        if (json_is_object(rep))
            json_object_set_new(rep, "Replicas", json_integer(r));
        else if (json_is_object(job))
            json_object_set_new(job, "TotalCompletions", json_integer(r));
        else
            return err_set(err, ERR_INVALID,
                           "replicas can only be used with replicated or "
                           "replicated-job mode");
    }
    if (cli_flag_changed(a, "max-concurrent")) {
        if (!json_is_object(job))
            return err_set(err, ERR_INVALID,
                           "max-concurrent can only be used with "
                           "replicated-job mode");
        json_object_set_new(
            job, "MaxConcurrent",
            json_integer((json_int_t)cli_flag_uint(a, "max-concurrent")));
    }
    if (cli_flag_changed(a, "replicas-max-per-node")) {
        if (!json_is_object(rep) && !json_is_object(job))
            return err_set(err, ERR_INVALID,
                           "replicas-max-per-node can only be used with "
                           "replicated or replicated-job mode");
        json_object_set_new(
            cli_service_flags_obj(json_object_get(spec, "TaskTemplate"),
                                  "Placement"),
            "MaxReplicas",
            json_integer((json_int_t)cli_flag_uint(a,
                                                   "replicas-max-per-node")));
        cli_service_flags_prune(
            cli_jget(spec, "TaskTemplate.Placement"), "MaxReplicas");
    }
    return 0;
}

int cli_service_flags_update(const struct cli_args *a, json_t *spec,
                             cli_service_flags_resolve_cb resolve,
                             void *data, struct err *err)
{
    json_t *task = cli_service_flags_obj(spec, "TaskTemplate");
    json_t *cs = cli_service_flags_obj(task, "ContainerSpec");
    json_t *obj;
    const char **v;
    size_t n;
    int rv;

    if (cli_flag_bool(a, "rollback"))
        return 0;
    rv = cli_service_flags_windows(a, err);
    if (rv != 0)
        return rv;
    cli_service_flags_upd_labels(a, "label", spec, "Labels");
    cli_service_flags_upd_labels(a, "container-label", cs, "Labels");
    if (cli_flag_changed(a, "image"))
        json_object_set_new(cs, "Image",
                            cli_service_flags_image(cli_flag_str(a,
                                                                 "image")));
    if (cli_flag_changed(a, "args")) {
        json_object_set_new(cs, "Args", cli_service_flags_command(a, "args"));
        cli_service_flags_prune(cs, "Args");
    }
    if (cli_flag_changed(a, "entrypoint")) {
        json_object_set_new(cs, "Command",
                            cli_service_flags_command(a, "entrypoint"));
        cli_service_flags_prune(cs, "Command");
    }
    cli_service_flags_upd_env(a, cs);
    cli_service_flags_upd_str(a, "workdir", cs, "Dir");
    cli_service_flags_upd_str(a, "user", cs, "User");
    cli_service_flags_upd_str(a, "hostname", cs, "Hostname");
    cli_service_flags_upd_str(a, "stop-signal", cs, "StopSignal");
    cli_service_flags_upd_list(a, "group", cs, "Groups", true);
    if (cli_flag_changed(a, "init"))
        json_object_set_new(cs, "Init",
                            json_boolean(cli_flag_bool(a, "init")));
    cli_service_flags_upd_bool(a, "tty", cs, "TTY");
    cli_service_flags_upd_bool(a, "read-only", cs, "ReadOnly");
    rv = cli_service_flags_upd_mounts(a, cs, err);
    if (rv != 0)
        return rv;
    if (cli_flag_changed(a, "stop-grace-period"))
        json_object_set_new(cs, "StopGracePeriod",
                            json_integer(cli_flag_int(a,
                                                      "stop-grace-period")));
    rv = cli_service_flags_health(a, cs, true, err);
    if (rv != 0)
        return rv;
    cli_service_flags_upd_hosts(a, cs);
    if (cli_flag_changed(a, "dns-add") || cli_flag_changed(a, "dns-rm") ||
        cli_flag_changed(a, "dns-search-add") ||
        cli_flag_changed(a, "dns-search-rm") ||
        cli_flag_changed(a, "dns-option-add") ||
        cli_flag_changed(a, "dns-option-rm")) {
        obj = cli_service_flags_obj(cs, "DNSConfig");
        cli_service_flags_upd_list(a, "dns", obj, "Nameservers", true);
        cli_service_flags_upd_list(a, "dns-search", obj, "Search", true);
        cli_service_flags_upd_list(a, "dns-option", obj, "Options", true);
    }
    rv = cli_service_flags_upd_refs(a, "secret", cs, resolve, data, err);
    if (rv == 0)
        rv = cli_service_flags_upd_refs(a, "config", cs, resolve, data, err);
    if (rv != 0)
        return rv;
    v = cli_flag_list(a, "sysctl-add", &n);
    if (n > 0)
        cli_service_flags_kv(cli_service_flags_obj(cs, "Sysctls"), v, n);
    v = cli_flag_list(a, "sysctl-rm", &n);
    while (n-- > 0 && json_is_object(json_object_get(cs, "Sysctls")))
        json_object_del(json_object_get(cs, "Sysctls"), v[n]);
    cli_service_flags_prune(cs, "Sysctls");
    cli_service_flags_upd_caps(a, cs);
    if (cli_flag_changed(a, "oom-score-adj")) {
        json_object_set_new(cs, "OomScoreAdj",
                            json_integer(cli_flag_int(a, "oom-score-adj")));
        if (cli_flag_int(a, "oom-score-adj") == 0)
            json_object_del(cs, "OomScoreAdj");
    }

    rv = cli_service_flags_upd_networks(a, task, resolve, data, err);
    if (rv != 0)
        return rv;
    if (cli_flag_changed(a, "limit-cpu") ||
        cli_flag_changed(a, "limit-memory") ||
        cli_flag_changed(a, "limit-pids") ||
        cli_flag_changed(a, "reserve-cpu") ||
        cli_flag_changed(a, "reserve-memory"))
        cli_service_flags_resources(a,
                                    cli_service_flags_obj(task, "Resources"));
    cli_service_flags_restart(a, task);
    if (cli_flag_changed(a, "constraint-add") ||
        cli_flag_changed(a, "constraint-rm"))
        cli_service_flags_upd_list(a, "constraint",
                                   cli_service_flags_obj(task, "Placement"),
                                   "Constraints", true);
    cli_service_flags_upd_prefs(a, task);
    if (cli_flag_changed(a, "log-driver") &&
        *cli_flag_str(a, "log-driver") != '\0') {
        obj = json_pack("{s:s}", "Name", cli_flag_str(a, "log-driver"));
        v = cli_flag_list(a, "log-opt", &n);
        if (n > 0) {
            json_t *o = json_object();

            cli_service_flags_kv(o, v, n);
            json_object_set_new(obj, "Options", o);
        }
        json_object_set_new(task, "LogDriver", obj);
    }
    if (cli_flag_bool(a, "force"))
        json_object_set_new(
            task, "ForceUpdate",
            json_integer(cli_jint(task, "ForceUpdate") + 1));

    rv = cli_service_flags_upd_mode(a, spec, err);
    if (rv != 0)
        return rv;
    cli_service_flags_update_cfg(a, "update", spec, "UpdateConfig");
    cli_service_flags_update_cfg(a, "rollback", spec, "RollbackConfig");
    if (cli_flag_changed(a, "endpoint-mode")) {
        obj = cli_service_flags_obj(spec, "EndpointSpec");
        json_object_set_new(obj, "Mode",
                            json_string(cli_flag_str(a, "endpoint-mode")));
    }
    cli_service_flags_upd_ports(a, spec);
    return 0;
}

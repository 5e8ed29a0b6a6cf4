/* SPDX-License-Identifier: Apache-2.0 */
/* The ContainerCreate body: JSON types as Go's decoder would check them
 * and the values Docker refuses, with Docker's texts. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "engine/engine_int.h"
#include "engine/oci_spec.h"

enum engine_validate_kind {
    EV_STR,
    EV_BOOL,
    EV_INT,
    EV_STRS,      /* []string */
    EV_STRSLICE,  /* Docker's StrSlice: string or []string */
    EV_STRMAP,    /* map[string]string */
    EV_OBJ,
    EV_ARR,
};

struct engine_validate_field
{
    const char *name;
    enum engine_validate_kind kind;
    const char *gotype;
};

static const struct engine_validate_field engine_validate_config[] = {
    {"Hostname", EV_STR, "string"},     {"Domainname", EV_STR, "string"},
    {"User", EV_STR, "string"},         {"AttachStdin", EV_BOOL, "bool"},
    {"AttachStdout", EV_BOOL, "bool"},  {"AttachStderr", EV_BOOL, "bool"},
    {"Tty", EV_BOOL, "bool"},           {"OpenStdin", EV_BOOL, "bool"},
    {"StdinOnce", EV_BOOL, "bool"},     {"Env", EV_STRS, "[]string"},
    {"Cmd", EV_STRSLICE, "[]string"},   {"Image", EV_STR, "string"},
    {"WorkingDir", EV_STR, "string"},   {"Entrypoint", EV_STRSLICE,
                                         "[]string"},
    {"NetworkDisabled", EV_BOOL, "bool"}, {"MacAddress", EV_STR, "string"},
    {"Labels", EV_STRMAP, "map[string]string"},
    {"StopSignal", EV_STR, "string"},   {"StopTimeout", EV_INT, "int"},
    {"ExposedPorts", EV_OBJ, "nat.PortSet"},
    {"Volumes", EV_OBJ, "map[string]struct {}"},
    {"Shell", EV_STRSLICE, "[]string"},
    {"Healthcheck", EV_OBJ, "container.HealthConfig"},
};

static const struct engine_validate_field engine_validate_health[] = {
    {"Test", EV_STRS, "[]string"},
    {"Interval", EV_INT, "time.Duration"},
    {"Timeout", EV_INT, "time.Duration"},
    {"StartPeriod", EV_INT, "time.Duration"},
    {"StartInterval", EV_INT, "time.Duration"},
    {"Retries", EV_INT, "int"},
};

static const struct engine_validate_field engine_validate_host[] = {
    {"Binds", EV_STRS, "[]string"},     {"NetworkMode", EV_STR, "string"},
    {"AutoRemove", EV_BOOL, "bool"},    {"ReadonlyRootfs", EV_BOOL, "bool"},
    {"Privileged", EV_BOOL, "bool"},    {"Memory", EV_INT, "int64"},
    {"MemorySwap", EV_INT, "int64"},    {"MemoryReservation", EV_INT,
                                         "int64"},
    {"NanoCpus", EV_INT, "int64"},      {"CpuShares", EV_INT, "int64"},
    {"CpuQuota", EV_INT, "int64"},      {"CpuPeriod", EV_INT, "int64"},
    {"PidsLimit", EV_INT, "int64"},     {"Init", EV_BOOL, "bool"},
    {"Tmpfs", EV_STRMAP, "map[string]string"},
    {"Mounts", EV_ARR, "[]mount.Mount"}, {"CapAdd", EV_STRS, "[]string"},
    {"CapDrop", EV_STRS, "[]string"},   {"Dns", EV_STRS, "[]string"},
    {"DnsOptions", EV_STRS, "[]string"}, {"DnsSearch", EV_STRS, "[]string"},
    {"ExtraHosts", EV_STRS, "[]string"}, {"RestartPolicy", EV_OBJ,
                                          "container.RestartPolicy"},
    {"PortBindings", EV_OBJ, "nat.PortMap"},
    {"LogConfig", EV_OBJ, "container.LogConfig"},
    {"ShmSize", EV_INT, "int64"},       {"OomKillDisable", EV_BOOL, "bool"},
    {"SecurityOpt", EV_STRS, "[]string"},
};

static const char *engine_validate_jtype(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER:
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "bool";
    case JSON_NULL: return "null";
    }
    return "value";
}

static bool engine_validate_strs(const json_t *v)
{
    json_t *s;
    size_t i;

    json_array_foreach(v, i, s) {
        if (!json_is_string(s))
            return false;
    }
    return true;
}

static bool engine_validate_kind_ok(const json_t *v,
                                    enum engine_validate_kind k)
{
    const char *key;
    json_t *x;

    if (json_is_null(v))
        return true;
    switch (k) {
    case EV_STR: return json_is_string(v);
    case EV_BOOL: return json_is_boolean(v);
    case EV_INT: return json_is_integer(v);
    case EV_STRS: return json_is_array(v) && engine_validate_strs(v);
    case EV_STRSLICE:
        return json_is_string(v) ||
               (json_is_array(v) && engine_validate_strs(v));
    case EV_STRMAP:
        if (!json_is_object(v))
            return false;
        json_object_foreach((json_t *)v, key, x) {
            if (!json_is_string(x))
                return false;
        }
        return true;
    case EV_OBJ: return json_is_object(v);
    case EV_ARR: return json_is_array(v);
    }
    return false;
}

static int engine_validate_fields(const json_t *obj, const char *prefix,
                                  const struct engine_validate_field *f,
                                  size_t n, struct err *err)
{
    size_t i;

    for (i = 0; i < n; i++) {
        json_t *v = json_object_get(obj, f[i].name);

        if (v == NULL || engine_validate_kind_ok(v, f[i].kind))
            continue;
        return err_set(err, ERR_INVALID,
                       "invalid JSON: json: cannot unmarshal %s into Go "
                       "struct field %s%s of type %s",
                       engine_validate_jtype(v), prefix, f[i].name,
                       f[i].gotype);
    }
    return 0;
}

int engine_validate_signal(const char *s)
{
    static const struct { const char *name; int sig; } sigs[] = {
        {"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT},
        {"ILL", SIGILL},   {"TRAP", SIGTRAP},   {"ABRT", SIGABRT},
        {"BUS", SIGBUS},   {"FPE", SIGFPE},     {"KILL", SIGKILL},
        {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},   {"USR2", SIGUSR2},
        {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},   {"TERM", SIGTERM},
        {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},
        {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},
        {"TTOU", SIGTTOU}, {"URG", SIGURG},     {"XCPU", SIGXCPU},
        {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
        {"WINCH", SIGWINCH}, {"IO", SIGIO},     {"PWR", SIGPWR},
        {"SYS", SIGSYS},
    };
    const char *n = s;
    char *end;
    long v;
    size_t i;

    if (s == NULL || s[0] == '\0')
        return -1;
    v = strtol(s, &end, 10);
    if (*end == '\0')
        return v > 0 && v < 65 ? (int)v : -1;
    if (strncasecmp(n, "SIG", 3) == 0)
        n += 3;
    for (i = 0; i < ARRAY_SIZE(sigs); i++) {
        if (strcasecmp(n, sigs[i].name) == 0)
            return sigs[i].sig;
    }
    return -1;
}

static int engine_validate_bind(const char *spec, struct err *err)
{
    char buf[4096];
    char *dst;
    char *mode;

    snprintf(buf, sizeof(buf), "%s", spec);
    dst = strchr(buf, ':');
    if (dst == NULL || buf[0] == '\0')
        return err_set(err, ERR_INVALID,
                       "invalid volume specification: '%s'", spec);
    *dst++ = '\0';
    mode = strchr(dst, ':');
    if (mode != NULL)
        *mode++ = '\0';
    if (buf[0] != '/')
        return err_set(err, ERR_INVALID,
                       "invalid volume specification: '%s': named volumes "
                       "are not supported by shoal yet",
                       spec);
    if (dst[0] != '/')
        return err_set(err, ERR_INVALID,
                       "invalid volume specification: '%s': invalid mount "
                       "config for type \"bind\": invalid mount path: '%s' "
                       "mount path must be absolute",
                       spec, dst);
    if (strcmp(dst, "/") == 0)
        return err_set(err, ERR_INVALID,
                       "invalid specification: destination can't be '/'");
    if (mode != NULL) {
        char *tok;
        char *save = NULL;

        for (tok = strtok_r(mode, ",", &save); tok != NULL;
             tok = strtok_r(NULL, ",", &save)) {
            if (strcmp(tok, "ro") != 0 && strcmp(tok, "rw") != 0 &&
                strcmp(tok, "z") != 0 && strcmp(tok, "Z") != 0 &&
                strcmp(tok, "rprivate") != 0 && strcmp(tok, "private") != 0 &&
                strcmp(tok, "rslave") != 0 && strcmp(tok, "slave") != 0 &&
                strcmp(tok, "rshared") != 0 && strcmp(tok, "shared") != 0)
                return err_set(err, ERR_INVALID,
                               "invalid volume specification: '%s': "
                               "invalid mode: %s",
                               spec, tok);
        }
    }
    return 0;
}

static int engine_validate_mount(const json_t *m, struct err *err)
{
    const char *type;
    const char *src;
    const char *dst;
    int rv;

    if (!json_is_object(m))
        return err_set(err, ERR_INVALID,
                       "invalid JSON: json: cannot unmarshal %s into Go "
                       "struct field HostConfig.HostConfig.Mounts of type "
                       "mount.Mount",
                       engine_validate_jtype(m));
    type = json_string_value(json_object_get(m, "Type"));
    src = json_string_value(json_object_get(m, "Source"));
    dst = json_string_value(json_object_get(m, "Target"));
    if (type == NULL || (strcmp(type, "bind") != 0 &&
                         strcmp(type, "tmpfs") != 0)) {
        if (type != NULL && strcmp(type, "volume") == 0)
            return err_set(err, ERR_INVALID,
                           "invalid mount config for type \"volume\": "
                           "volumes are not supported by shoal yet");
        return err_set(err, ERR_INVALID,
                       "invalid mount config: mount type unknown");
    }
    rv = oci_spec_mounts_check_target(type, dst, err);
    if (rv < 0)
        return rv;
    if (strcmp(type, "tmpfs") == 0) {
        if (src != NULL && src[0] != '\0')
            return err_set(err, ERR_INVALID,
                           "invalid mount config for type \"tmpfs\": field "
                           "Source must not be specified");
        return 0;
    }
    if (src == NULL || src[0] == '\0')
        return err_set(err, ERR_INVALID,
                       "invalid mount config for type \"bind\": field "
                       "Source must not be empty");
    if (src[0] != '/')
        return err_set(err, ERR_INVALID,
                       "invalid mount config for type \"bind\": invalid "
                       "mount path: '%s' mount path must be absolute",
                       src);
    if (!fsutil_exists(src))
        return err_set(err, ERR_INVALID,
                       "invalid mount config for type \"bind\": bind source "
                       "path does not exist: %s",
                       src);
    return 0;
}

static int engine_validate_hostconfig(const json_t *h, struct err *err)
{
    const char *mode = json_string_value(json_object_get(h, "NetworkMode"));
    json_t *rp = json_object_get(h, "RestartPolicy");
    json_int_t max;
    json_int_t mem = json_integer_value(json_object_get(h, "Memory"));
    json_int_t cpus = json_integer_value(json_object_get(h, "NanoCpus"));
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    const char *key;
    json_t *v;
    size_t i;

    if (engine_validate_fields(h, "HostConfig.HostConfig.",
                               engine_validate_host,
                               ARRAY_SIZE(engine_validate_host), err) != 0)
        return -ERR_INVALID;
    if (mem != 0 && mem < 6 * 1024 * 1024)
        return err_set(err, ERR_INVALID,
                       "Minimum memory limit allowed is 6MB");
    if (cpus < 0 || cpus > (json_int_t)ncpu * 1000000000)
        return err_set(err, ERR_INVALID,
                       "Range of CPUs is from 0.01 to %ld.00, as there are "
                       "only %ld CPUs available",
                       ncpu, ncpu);
    if (json_integer_value(json_object_get(h, "CpuShares")) < 0)
        return err_set(err, ERR_INVALID,
                       "invalid CPU shares (%lld): value must be a positive "
                       "integer",
                       (long long)json_integer_value(
                           json_object_get(h, "CpuShares")));
    if (mode != NULL && mode[0] != '\0' && strcmp(mode, "default") != 0 &&
        strcmp(mode, "bridge") != 0 && strcmp(mode, "none") != 0 &&
        strcmp(mode, "host") != 0) {
        if (strncmp(mode, "container:", 10) == 0)
            return err_set(err, ERR_INVALID,
                           "network mode %s is not supported by shoal yet",
                           mode);
        /* Docker answers 404, but the CLI takes any 404 from create for
         * a missing image and tries to pull it: a 400 shows the text. */
        return err_set(err, ERR_INVALID, "network %s not found", mode);
    }
    if (rp != NULL) {
        const char *n = json_string_value(json_object_get(rp, "Name"));

        if (json_object_get(rp, "Name") != NULL && n == NULL)
            return err_set(err, ERR_INVALID,
                           "invalid JSON: json: cannot unmarshal %s into Go "
                           "struct field RestartPolicy.HostConfig."
                           "RestartPolicy.Name of type "
                           "container.RestartPolicyMode",
                           engine_validate_jtype(
                               json_object_get(rp, "Name")));
        if (n != NULL && n[0] != '\0' && strcmp(n, "no") != 0 &&
            strcmp(n, "always") != 0 && strcmp(n, "unless-stopped") != 0 &&
            strcmp(n, "on-failure") != 0)
            return err_set(err, ERR_INVALID,
                           "invalid restart policy: unknown policy '%s'; use "
                           "one of 'no', 'always', 'on-failure', or "
                           "'unless-stopped'",
                           n);
        if (json_object_get(rp, "MaximumRetryCount") != NULL &&
            !json_is_integer(json_object_get(rp, "MaximumRetryCount")))
            return err_set(err, ERR_INVALID,
                           "invalid JSON: json: cannot unmarshal %s into Go "
                           "struct field RestartPolicy.HostConfig."
                           "RestartPolicy.MaximumRetryCount of type int",
                           engine_validate_jtype(json_object_get(
                               rp, "MaximumRetryCount")));
        max = json_integer_value(json_object_get(rp, "MaximumRetryCount"));
        if (n != NULL && strcmp(n, "on-failure") == 0 && max < 0)
            return err_set(err, ERR_INVALID,
                           "invalid restart policy: maximum retry count "
                           "cannot be negative");
        if (n != NULL && n[0] != '\0' && strcmp(n, "on-failure") != 0 &&
            max != 0)
            return err_set(err, ERR_INVALID,
                           "invalid restart policy: maximum retry count can "
                           "only be used with 'on-failure'%s",
                           max < 0 ? " and cannot be negative" : "");
        if (n != NULL && n[0] != '\0' && strcmp(n, "no") != 0 &&
            json_is_true(json_object_get(h, "AutoRemove")))
            return err_set(err, ERR_INVALID,
                           "can't create 'AutoRemove' container with "
                           "restart policy");
    }
    {
        const char *drv = json_string_value(json_object_get(
            json_object_get(h, "LogConfig"), "Type"));

        if (drv != NULL && drv[0] != '\0' && strcmp(drv, "json-file") != 0)
            return err_set(err, ERR_INVALID,
                           "logger: no log driver named '%s' is registered",
                           drv);
    }
    json_array_foreach(json_object_get(h, "Binds"), i, v) {
        if (engine_validate_bind(json_string_value(v), err) != 0)
            return -ERR_INVALID;
    }
    json_array_foreach(json_object_get(h, "Mounts"), i, v) {
        if (engine_validate_mount(v, err) != 0)
            return -ERR_INVALID;
    }
    json_object_foreach(json_object_get(h, "Tmpfs"), key, v) {
        if (key[0] != '/')
            return err_set(err, ERR_INVALID,
                           "invalid tmpfs mount path: '%s' mount path must "
                           "be absolute",
                           key);
    }
    return 0;
}

/* Docker's validateHealthCheck: durations are 0 (the default) or at
 * least 1 ms, Retries not negative. */
static int engine_validate_healthcheck(const json_t *hc, struct err *err)
{
    static const char *const durations[] = {"Interval", "Timeout",
                                            "StartPeriod", "StartInterval"};
    size_t i;

    if (!json_is_object(hc))
        return 0;
    if (engine_validate_fields(hc, "CreateRequest.Config.Healthcheck.",
                               engine_validate_health,
                               ARRAY_SIZE(engine_validate_health),
                               err) != 0)
        return -ERR_INVALID;
    for (i = 0; i < ARRAY_SIZE(durations); i++) {
        json_int_t ns = json_integer_value(json_object_get(hc,
                                                           durations[i]));

        if (ns != 0 && ns < 1000000)
            return err_set(err, ERR_INVALID,
                           "%s in Healthcheck cannot be less than 1ms",
                           durations[i]);
    }
    if (json_integer_value(json_object_get(hc, "Retries")) < 0)
        return err_set(err, ERR_INVALID,
                       "Retries in Healthcheck cannot be negative");
    return 0;
}

int engine_validate_create(const json_t *body, struct err *err)
{
    json_t *h;
    const char *sig;

    if (body == NULL)
        return err_set(err, ERR_INVALID,
                       "config cannot be empty in order to create a "
                       "container");
    if (!json_is_object(body))
        return err_set(err, ERR_INVALID,
                       "invalid JSON: json: cannot unmarshal %s into Go "
                       "value of type container.CreateRequest",
                       engine_validate_jtype(body));
    if (engine_validate_fields(body, "CreateRequest.Config.",
                               engine_validate_config,
                               ARRAY_SIZE(engine_validate_config), err) != 0)
        return -ERR_INVALID;
    h = json_object_get(body, "HostConfig");
    if (h != NULL && !json_is_null(h) && !json_is_object(h))
        return err_set(err, ERR_INVALID,
                       "invalid JSON: json: cannot unmarshal %s into Go "
                       "struct field CreateRequest.HostConfig of type "
                       "container.HostConfig",
                       engine_validate_jtype(h));
    if (json_string_value(json_object_get(body, "Image")) == NULL ||
        json_string_length(json_object_get(body, "Image")) == 0)
        return err_set(err, ERR_INVALID, "Config.Image is empty");
    sig = json_string_value(json_object_get(body, "StopSignal"));
    if (sig != NULL && sig[0] != '\0' && engine_validate_signal(sig) < 0)
        return err_set(err, ERR_INVALID, "Invalid signal: %s", sig);
    if (json_is_object(h) && engine_validate_hostconfig(h, err) != 0)
        return -err->code;
    if (engine_validate_healthcheck(json_object_get(body, "Healthcheck"),
                                    err) != 0)
        return -err->code;
    return 0;
}

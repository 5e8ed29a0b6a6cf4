/* SPDX-License-Identifier: Apache-2.0 */
/* Services: spec validation and defaults, lookup, create and update. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "base/ids.h"
#include "manager/controlapi/ctl.h"
#include "manager/scheduler/sched.h"

#define CTL__INVALID "rpc error: code = InvalidArgument desc = "
#define CTL__UNIMPL "rpc error: code = Unimplemented desc = "

static const char *ctl_sv(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* swarmkit's DNS name component: [a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*. */
static bool ctl_dns_name_ok(const char *n)
{
    size_t i;

    if (!isalnum((unsigned char)n[0]))
        return false;
    for (i = 1; n[i] != '\0'; i++) {
        if (!isalnum((unsigned char)n[i]) && n[i] != '-' && n[i] != '_')
            return false;
    }
    return isalnum((unsigned char)n[i - 1]);
}

static bool ctl_in(const char *v, const char *const *allowed)
{
    for (; *allowed != NULL; allowed++) {
        if (strcmp(v, *allowed) == 0)
            return true;
    }
    return false;
}

/* A Go int64 nanosecond duration field that must not be negative. */
static int ctl_duration(const json_t *obj, const char *key, const char *what,
                        struct err *err)
{
    const json_t *v = json_object_get(obj, key);

    if (v != NULL && !json_is_null(v) && !json_is_integer(v))
        return err_set(err, ERR_INVALID,
                       "json: cannot unmarshal value into Go struct field "
                       "%s of type time.Duration",
                       key);
    if (json_integer_value(v) < 0)
        return err_set(err, ERR_INVALID, CTL__INVALID "TaskSpec: %s cannot "
                       "be negative", what);
    return 0;
}

static int ctl_check_resources(const json_t *res, struct err *err)
{
    static const char *const parts[] = {"Limits", "Reservations", NULL};
    size_t i;

    for (i = 0; parts[i] != NULL; i++) {
        const json_t *r = json_object_get(res, parts[i]);
        json_int_t cpu = json_integer_value(json_object_get(r, "NanoCPUs"));
        json_int_t mem = json_integer_value(json_object_get(r, "MemoryBytes"));

        if (cpu != 0 && cpu < 1000000)
            return err_set(err, ERR_INVALID,
                           CTL__INVALID "invalid cpu value %g: Must be at "
                           "least %g",
                           (double)cpu / 1e9, 0.001);
        if (mem != 0 && mem < 4 * 1024 * 1024)
            return err_set(err, ERR_INVALID,
                           CTL__INVALID "invalid memory value %lld: Must be "
                           "at least 4MiB",
                           (long long)mem);
    }
    return 0;
}

static int ctl_check_task(json_t *task, struct err *err)
{
    static const char *const conds[] = {"none", "on-failure", "any", NULL};
    const json_t *cs = json_object_get(task, "ContainerSpec");
    const json_t *rp = json_object_get(task, "RestartPolicy");
    const json_t *place = json_object_get(task, "Placement");
    const char *image = ctl_sv(cs, "Image");
    const char *cond = ctl_sv(rp, "Condition");
    struct sched_constraints c;
    struct err why;
    const json_t *m;
    const json_t *prefs;
    size_t i;
    size_t j;
    int rv;

    if (!json_is_object(task))
        return err_set(err, ERR_INVALID,
                       CTL__INVALID "TaskSpec: missing runtime");
    if (image == NULL || image[0] == '\0')
        return err_set(err, ERR_INVALID, CTL__INVALID
                       "ContainerSpec: image reference must be provided");
    for (i = 0; image[i] != '\0'; i++) {
        if (isspace((unsigned char)image[i]) || strchr(":/", image[0]))
            return err_set(err, ERR_INVALID,
                           CTL__INVALID "ContainerSpec: \"%s\" is not a "
                           "valid repository/tag",
                           image);
    }
    json_array_foreach(json_object_get(cs, "Mounts"), i, m) {
        const json_t *o;

        json_array_foreach(json_object_get(cs, "Mounts"), j, o) {
            const char *a = ctl_sv(m, "Target");

            if (j < i && a != NULL && ctl_sv(o, "Target") != NULL &&
                strcmp(a, ctl_sv(o, "Target")) == 0)
                return err_set(err, ERR_INVALID,
                               CTL__INVALID "ContainerSpec: duplicate "
                               "mount point: %s",
                               a);
        }
    }
    rv = ctl_check_resources(json_object_get(task, "Resources"), err);
    if (rv != 0)
        return rv;
    if (rp != NULL) {
        if (cond != NULL && cond[0] != '\0' && !ctl_in(cond, conds))
            return err_set(err, ERR_INVALID,
                           "invalid RestartCondition: \"%s\"", cond);
        rv = ctl_duration(rp, "Delay", "restart-delay", err);
        if (rv == 0)
            rv = ctl_duration(rp, "Window", "restart-window", err);
        if (rv != 0)
            return rv;
    }
    if (sched_constraints_parse(json_object_get(place, "Constraints"), &c,
                                &why) != 0)
        return err_set(err, ERR_INVALID, CTL__INVALID "%s", why.msg);
    sched_constraints_clear(&c);
    prefs = json_object_get(place, "Preferences");
    json_array_foreach(prefs, i, m) {
        const char *d = ctl_sv(json_object_get(m, "Spread"),
                               "SpreadDescriptor");

        if (d == NULL || d[0] == '\0')
            return err_set(err, ERR_INVALID, CTL__INVALID
                           "Placement: spread descriptor must be set");
    }
    if (json_integer_value(json_object_get(place, "MaxReplicas")) < 0)
        return err_set(err, ERR_INVALID,
                       "json: cannot unmarshal number into Go struct field "
                       "Placement.MaxReplicas of type uint64");
    return 0;
}

static int ctl_check_update(json_t *uc, bool rollback, struct err *err)
{
    static const char *const actions[] = {"pause", "continue", "rollback",
                                          NULL};
    static const char *const orders[] = {"stop-first", "start-first", NULL};
    const char *fa = ctl_sv(uc, "FailureAction");
    const char *order = ctl_sv(uc, "Order");
    const json_t *ratio = json_object_get(uc, "MaxFailureRatio");
    int rv;

    if (uc == NULL || json_is_null(uc))
        return 0;
    if (fa != NULL && fa[0] != '\0' &&
        (!ctl_in(fa, actions) || (rollback && strcmp(fa, "rollback") == 0)))
        return err_set(err, ERR_INVALID, "unrecognized %s failure action %s",
                       rollback ? "rollback" : "update", fa);
    if (order != NULL && order[0] != '\0' && !ctl_in(order, orders))
        return err_set(err, ERR_INVALID, "unrecognized %s order %s",
                       rollback ? "rollback" : "update", order);
    rv = ctl_duration(uc, "Delay", rollback ? "rollback-delay" : "update-delay",
                      err);
    if (rv == 0)
        rv = ctl_duration(uc, "Monitor",
                          rollback ? "rollback-monitor" : "update-monitor",
                          err);
    if (rv != 0)
        return rv;
    if (json_number_value(ratio) < 0 || json_number_value(ratio) > 1)
        return err_set(err, ERR_INVALID,
                       CTL__INVALID "TaskSpec: %s-maxfailureratio cannot be "
                       "less than 0 or bigger than 1",
                       rollback ? "rollback" : "update");
    if (json_integer_value(json_object_get(uc, "Parallelism")) < 0)
        return err_set(err, ERR_INVALID,
                       "json: cannot unmarshal number into Go struct field "
                       "UpdateConfig.Parallelism of type uint64");
    return 0;
}

/* Mode: exactly one kind, with the Engine's defaults. Sets *out_job. */
static int ctl_check_mode(json_t *spec, bool *out_job, struct err *err)
{
    static const char *const kinds[] = {"Replicated", "Global",
                                        "ReplicatedJob", "GlobalJob", NULL};
    json_t *mode = json_object_get(spec, "Mode");
    json_t *m;
    size_t i;
    size_t n = 0;
    json_int_t v;

    if (mode == NULL || json_is_null(mode) || json_object_size(mode) == 0) {
        mode = json_pack("{s:{}}", "Replicated");
        json_object_set_new(spec, "Mode", mode);
    }
    if (!json_is_object(mode))
        return err_set(err, ERR_INVALID,
                       "json: cannot unmarshal value into Go struct field "
                       "ServiceSpec.Mode of type swarm.ServiceMode");
    for (i = 0; kinds[i] != NULL; i++) {
        m = json_object_get(mode, kinds[i]);
        if (m != NULL && !json_is_null(m))
            n++;
    }
    if (n > 1)
        return err_set(err, ERR_INVALID, "must specify only one service mode");
    *out_job = false;
    m = json_object_get(mode, "Replicated");
    if (json_is_object(m)) {
        v = json_integer_value(json_object_get(m, "Replicas"));
        if (v < 0)
            return err_set(err, ERR_INVALID,
                           "json: cannot unmarshal number into Go struct "
                           "field ReplicatedService.Mode.Replicated.Replicas "
                           "of type uint64");
        if (json_object_get(m, "Replicas") == NULL)
            json_object_set_new(m, "Replicas", json_integer(1));
    }
    m = json_object_get(mode, "ReplicatedJob");
    if (json_is_object(m)) {
        *out_job = true;
        v = json_integer_value(json_object_get(m, "MaxConcurrent"));
        if (v < 0 ||
            json_integer_value(json_object_get(m, "TotalCompletions")) < 0)
            return err_set(err, ERR_INVALID,
                           "json: cannot unmarshal number into Go struct "
                           "field ReplicatedJob of type uint64");
        if (json_object_get(m, "MaxConcurrent") == NULL) {
            v = 1;
            json_object_set_new(m, "MaxConcurrent", json_integer(v));
        }
        if (json_object_get(m, "TotalCompletions") == NULL)
            json_object_set_new(m, "TotalCompletions", json_integer(v));
    }
    if (json_object_get(mode, "GlobalJob") != NULL)
        *out_job = true;
    return 0;
}

static int ctl_check_endpoint(json_t *spec, struct err *err)
{
    static const char *const modes[] = {"vip", "dnsrr", NULL};
    static const char *const protos[] = {"tcp", "udp", "sctp", NULL};
    static const char *const publish[] = {"ingress", "host", NULL};
    json_t *ep = json_object_get(spec, "EndpointSpec");
    json_t *ports;
    json_t *p;
    json_t *q;
    const char *mode;
    size_t i;
    size_t j;

    if (ep == NULL || json_is_null(ep)) {
        ep = json_object();
        json_object_set_new(spec, "EndpointSpec", ep);
    }
    mode = ctl_sv(ep, "Mode");
    if (mode == NULL || mode[0] == '\0')
        json_object_set_new(ep, "Mode", json_string("vip"));
    else if (!ctl_in(mode, modes))
        return err_set(err, ERR_INVALID, "invalid resolution mode: \"%s\"",
                       mode);
    mode = ctl_sv(ep, "Mode");
    ports = json_object_get(ep, "Ports");
    json_array_foreach(ports, i, p) {
        const char *proto = ctl_sv(p, "Protocol");
        const char *pm = ctl_sv(p, "PublishMode");
        json_int_t target = json_integer_value(json_object_get(p, "TargetPort"));
        json_int_t pub = json_integer_value(json_object_get(p, "PublishedPort"));

        if (proto == NULL || proto[0] == '\0')
            json_object_set_new(p, "Protocol", json_string("tcp"));
        else if (!ctl_in(proto, protos))
            return err_set(err, ERR_INVALID, "invalid protocol: \"%s\"",
                           proto);
        if (pm == NULL || pm[0] == '\0')
            json_object_set_new(p, "PublishMode", json_string("ingress"));
        else if (!ctl_in(pm, publish))
            return err_set(err, ERR_INVALID, "invalid publish mode: \"%s\"",
                           pm);
        if (target < 0 || target > 65535 || pub < 0 || pub > 65535)
            return err_set(err, ERR_INVALID,
                           "json: cannot unmarshal number into Go struct "
                           "field PortConfig of type uint32");
        if (strcmp(mode, "dnsrr") == 0 &&
            strcmp(ctl_sv(p, "PublishMode"), "ingress") == 0)
            return err_set(err, ERR_INVALID, CTL__INVALID
                           "EndpointSpec: port published with ingress mode "
                           "can't be used with dnsrr mode");
        json_array_foreach(ports, j, q) {
            if (j >= i)
                break;
            if (pub != 0 &&
                json_integer_value(json_object_get(q, "PublishedPort")) ==
                    pub &&
                strcmp(ctl_sv(q, "Protocol"), ctl_sv(p, "Protocol")) == 0)
                return err_set(err, ERR_INVALID, CTL__INVALID
                               "EndpointSpec: duplicate published ports "
                               "provided");
        }
    }
    return 0;
}

json_t *ctl_service_spec_check(const json_t *given, struct err *err)
{
    json_t *spec;
    json_t *labels;
    const char *name;
    const char *key;
    json_t *v;
    bool job = false;

    if (!json_is_object(given)) {
        err_set(err, ERR_INVALID,
                "json: cannot unmarshal value into Go value of type "
                "swarm.ServiceSpec");
        return NULL;
    }
    spec = json_deep_copy(given);
    name = ctl_sv(spec, "Name");
    labels = json_object_get(spec, "Labels");
    if (name == NULL || name[0] == '\0') {
        err_set(err, ERR_INVALID, CTL__INVALID "meta: name must be provided");
        goto err_after_copy;
    }
    if (!ctl_dns_name_ok(name)) {
        err_set(err, ERR_INVALID,
                CTL__INVALID "name must be valid as a DNS name component");
        goto err_after_copy;
    }
    if (strlen(name) > 63) {
        err_set(err, ERR_INVALID,
                CTL__INVALID "name must be 63 characters or fewer");
        goto err_after_copy;
    }
    if (labels == NULL || json_is_null(labels)) {
        labels = json_object();
        json_object_set_new(spec, "Labels", labels);
    }
    json_object_foreach(labels, key, v) {
        if (!json_is_string(v)) {
            err_set(err, ERR_INVALID,
                    "json: cannot unmarshal value into Go struct field "
                    "ServiceSpec.Labels of type string");
            goto err_after_copy;
        }
    }
    if (ctl_check_mode(spec, &job, err) != 0 ||
        ctl_check_task(json_object_get(spec, "TaskTemplate"), err) != 0 ||
        ctl_check_update(json_object_get(spec, "UpdateConfig"), false, err) !=
            0 ||
        ctl_check_update(json_object_get(spec, "RollbackConfig"), true,
                         err) != 0 ||
        ctl_check_endpoint(spec, err) != 0)
        goto err_after_copy;
    if (job && json_object_get(spec, "UpdateConfig") != NULL &&
        !json_is_null(json_object_get(spec, "UpdateConfig"))) {
        err_set(err, ERR_INVALID,
                CTL__INVALID "Jobs may not have an update config");
        goto err_after_copy;
    }
    return spec;

err_after_copy:
    json_decref(spec);
    return NULL;
}

static void ctl_default(json_t *obj, const char *key, json_t *v)
{
    if (json_object_get(obj, key) == NULL || json_is_null(json_object_get(obj, key)))
        json_object_set_new(obj, key, v);
    else
        json_decref(v);
}

static json_t *ctl_sub(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_object(v)) {
        v = json_object();
        json_object_set_new(obj, key, v);
    }
    return v;
}

static void ctl_update_defaults(json_t *uc)
{
    ctl_default(uc, "Parallelism", json_integer(1));
    ctl_default(uc, "Delay", json_integer(0));
    ctl_default(uc, "FailureAction", json_string("pause"));
    ctl_default(uc, "Monitor", json_integer(5 * CTL_NS_PER_SEC));
    ctl_default(uc, "MaxFailureRatio", json_integer(0));
    ctl_default(uc, "Order", json_string("stop-first"));
}

json_t *ctl_service_spec_defaults(const json_t *spec)
{
    json_t *out = json_deep_copy(spec);
    json_t *task = ctl_sub(out, "TaskTemplate");
    json_t *rp = ctl_sub(task, "RestartPolicy");
    json_t *mode = json_object_get(out, "Mode");

    ctl_default(rp, "Condition", json_string("any"));
    ctl_default(rp, "Delay", json_integer(5 * CTL_NS_PER_SEC));
    ctl_default(rp, "MaxAttempts", json_integer(0));
    ctl_default(ctl_sub(task, "ContainerSpec"), "StopGracePeriod",
                json_integer(10 * CTL_NS_PER_SEC));
    if (json_object_get(mode, "ReplicatedJob") == NULL &&
        json_object_get(mode, "GlobalJob") == NULL) {
        ctl_update_defaults(ctl_sub(out, "UpdateConfig"));
        ctl_update_defaults(ctl_sub(out, "RollbackConfig"));
    }
    return out;
}

json_t *ctl_service_lookup(const json_t *services, const char *ref,
                           struct err *err)
{
    json_t *svc;
    json_t *found = NULL;
    const char *id;
    size_t n = 0;
    size_t len = strlen(ref);

    if (len > 0 && (svc = json_object_get(services, ref)) != NULL)
        return svc;
    json_object_foreach((json_t *)services, id, svc) {
        const char *name = ctl_sv(json_object_get(svc, "Spec"), "Name");

        if (name != NULL && strcmp(name, ref) == 0) {
            found = svc;
            n++;
        }
    }
    if (n == 0 && len > 0) {
        json_object_foreach((json_t *)services, id, svc) {
            if (strncmp(id, ref, len) == 0) {
                found = svc;
                n++;
            }
        }
    }
    if (n == 1)
        return found;
    if (n == 0)
        err_set(err, ERR_NOTFOUND, "service %s not found", ref);
    else
        err_set(err, ERR_INVALID,
                "service %s is ambiguous (%zu matches found)", ref, n);
    return NULL;
}

static bool ctl_name_taken(const json_t *services, const char *name,
                           const char *except_id)
{
    const char *id;
    json_t *svc;

    json_object_foreach((json_t *)services, id, svc) {
        const char *n = ctl_sv(json_object_get(svc, "Spec"), "Name");

        /* swarmkit's store compares names case-insensitively. */
        if (n != NULL && strcasecmp(n, name) == 0 &&
            (except_id == NULL || strcmp(id, except_id) != 0))
            return true;
    }
    return false;
}

static json_t *ctl_endpoint(const json_t *spec)
{
    const json_t *es = json_object_get(spec, "EndpointSpec");
    const json_t *ports = json_object_get(es, "Ports");

    return json_pack("{s:O, s:o, s:[]}", "Spec", es, "Ports",
                     json_is_array(ports) ? json_deep_copy(ports)
                                          : json_array(),
                     "VirtualIPs");
}

static const char *ctl_mode_kind(const json_t *spec)
{
    static const char *const kinds[] = {"Replicated", "Global",
                                        "ReplicatedJob", "GlobalJob", NULL};
    const json_t *mode = json_object_get(spec, "Mode");
    size_t i;

    for (i = 0; kinds[i] != NULL; i++) {
        if (json_is_object(json_object_get(mode, kinds[i])))
            return kinds[i];
    }
    return "Replicated";
}

json_t *ctl_service_create(const json_t *services, const json_t *given,
                           struct err *err)
{
    json_t *spec = ctl_service_spec_check(given, err);
    char id[IDS_LEN + 1];
    json_t *svc;

    if (spec == NULL)
        return NULL;
    if (ctl_name_taken(services, ctl_sv(spec, "Name"), NULL)) {
        err_set(err, ERR_CONFLICT,
                "rpc error: code = AlreadyExists desc = name conflicts with "
                "an existing object: service %s already exists",
                ctl_sv(spec, "Name"));
        json_decref(spec);
        return NULL;
    }
    ids_new(id);
    svc = json_pack("{s:s, s:O, s:o}", "ID", id, "Spec", spec, "Endpoint",
                    ctl_endpoint(spec));
    /* swarmkit: a job starts at iteration 0 (orch_jobs runs it). */
    if (strstr(ctl_mode_kind(spec), "Job") != NULL)
        json_object_set_new(svc, "JobStatus",
                            json_pack("{s:{s:i}}", "JobIteration", "Index",
                                      0));
    json_decref(spec);
    return svc;
}

/* swarmkit: every update of a job starts a new iteration (orch_jobs
 * runs it again). */
static void ctl_job_next_iteration(json_t *next, const char *now)
{
    json_t *js = json_object_get(next, "JobStatus");
    json_int_t ix;

    if (!json_is_object(js))
        return;
    ix = json_integer_value(
        json_object_get(json_object_get(js, "JobIteration"), "Index"));
    json_object_set_new(js, "JobIteration",
                        json_pack("{s:I}", "Index", ix + 1));
    json_object_set_new(js, "LastExecution", json_string(now));
}

json_t *ctl_service_update(const json_t *services, const char *ref,
                           uint64_t version, const json_t *given,
                           bool rollback, const char *now, struct err *err)
{
    json_t *cur = ctl_service_lookup(services, ref, err);
    json_t *spec;
    json_t *next;
    const json_t *old;

    if (cur == NULL)
        return NULL;
    old = json_object_get(cur, "Spec");
    if (version != store_obj_version(cur)) {
        err_set(err, ERR_INTERNAL,
                "rpc error: code = Unknown desc = update out of sequence");
        return NULL;
    }
    if (rollback) {
        const json_t *prev = json_object_get(cur, "PreviousSpec");

        if (!json_is_object(prev)) {
            err_set(err, ERR_INVALID,
                    CTL__INVALID "service %s does not have a previous spec",
                    store_obj_id(cur));
            return NULL;
        }
        next = json_deep_copy(cur);
        json_object_set_new(next, "Spec", json_deep_copy(prev));
        json_object_set_new(next, "PreviousSpec", json_deep_copy(old));
        json_object_set_new(next, "Endpoint", ctl_endpoint(prev));
        json_object_set_new(next, "UpdateStatus",
                            json_pack("{s:s, s:s, s:s}", "State",
                                      "rollback_started", "StartedAt", now,
                                      "Message",
                                      "manually requested rollback"));
        ctl_job_next_iteration(next, now);
        return next;
    }
    spec = ctl_service_spec_check(given, err);
    if (spec == NULL)
        return NULL;
    if (strcmp(ctl_sv(spec, "Name"), ctl_sv(old, "Name")) != 0) {
        err_set(err, ERR_NOTIMPLEMENTED,
                CTL__UNIMPL "renaming services is not supported");
        goto err_after_spec;
    }
    if (strcmp(ctl_mode_kind(spec), ctl_mode_kind(old)) != 0) {
        err_set(err, ERR_NOTIMPLEMENTED,
                CTL__UNIMPL "service mode change is not allowed");
        goto err_after_spec;
    }
    next = json_deep_copy(cur);
    json_object_set_new(next, "PreviousSpec", json_deep_copy(old));
    json_object_set(next, "Spec", spec);
    json_object_set_new(next, "Endpoint", ctl_endpoint(spec));
    json_object_del(next, "UpdateStatus");
    ctl_job_next_iteration(next, now);
    json_decref(spec);
    return next;

err_after_spec:
    json_decref(spec);
    return NULL;
}

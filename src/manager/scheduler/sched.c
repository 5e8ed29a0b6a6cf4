/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One scheduling pass: the node table, the filters in swarmkit's pipeline
 * order, batch placement of a service's pending tasks with spread, and the
 * "no suitable node" explanations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "manager/scheduler/sched.h"
#include "manager/store/store.h"

#define SCHED__MAX_LEVELS 8 /* spread preferences honoured */

/* Filters in swarmkit's pipeline order; a node fails at the first. */
enum sched__filter {
    SCHED__F_READY,
    SCHED__F_RESOURCES,
    SCHED__F_PLUGIN,
    SCHED__F_CONSTRAINT,
    SCHED__F_PLATFORM,
    SCHED__F_HOSTPORT,
    SCHED__F_MAXREPLICAS,
    SCHED__F_COUNT
};

struct sched__node
{
    const json_t *obj; /* borrowed from the nodes map */
    const char *id;    /* borrowed from obj */
    size_t rank;       /* position in node ID order: the last tie-break */
    bool ready;        /* Status ready and Availability active */
    int64_t cpu;       /* NanoCPUs not reserved */
    int64_t mem;       /* MemoryBytes not reserved */
    unsigned n_tasks;  /* active tasks on the node */
    uint32_t *ports;   /* host-mode ports in use (proto << 16 | port), owned */
    size_t n_ports;
    size_t ports_cap;
};

/* Node indices of the active tasks of one service (one entry per task). */
struct sched__svc
{
    size_t *nodes; /* owned */
    size_t n;
    size_t cap;
};

/* Pending tasks sharing a service and a spec: placed as one batch. */
struct sched__group
{
    const json_t *spec;       /* borrowed from the first task */
    const char *service_id;   /* borrowed; "" for none */
    json_t **tasks;           /* borrowed tasks, owned array */
    size_t n_tasks;
    size_t cap;
    size_t next_same;         /* next group of the service, or SIZE_MAX */
};

struct sched__pass
{
    struct sched__node *nodes; /* owned */
    size_t n_nodes;
    json_t *node_index;        /* owned: ID -> index */
    struct sched__svc *svcs;   /* owned */
    size_t n_svcs;
    json_t *svc_index;         /* owned: service ID -> index into svcs */
    struct sched__group *groups; /* owned */
    size_t n_groups;
    json_t *group_index;       /* owned: service ID -> first group */
    json_t *preassigned;       /* owned array of borrowed tasks */
    json_t *out;               /* the actions, owned until returned */
    size_t max;                /* actions at most in out; 0: no limit */
    char now[48];
};

/* What one batch asks of a node. */
struct sched__want
{
    int64_t cpu;
    int64_t mem;
    uint32_t ports[64];        /* host-mode published ports */
    size_t n_ports;
    int64_t max_replicas;      /* 0: no limit */
    struct sched_constraints cons;
    bool cons_bad;             /* unparsable: no node satisfies them */
    const json_t *spec;        /* borrowed */
    unsigned *svc_count;       /* owned: tasks of the service per node */
};

static int64_t sched_int(const json_t *obj, const char *a, const char *b,
                         const char *c)
{
    const json_t *v = json_object_get(json_object_get(obj, a), b);

    if (c != NULL)
        v = json_object_get(v, c);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static const char *sched_sv(const json_t *obj, const char *a, const char *b)
{
    const json_t *v = json_object_get(obj, a);

    if (b != NULL)
        v = json_object_get(v, b);
    return json_string_value(v);
}

static void sched_svc_add(struct sched__pass *p, const char *service_id,
                          size_t node)
{
    json_t *ix = json_object_get(p->svc_index, service_id);
    struct sched__svc *s;

    if (ix == NULL) {
        p->svcs = xrealloc(p->svcs, (p->n_svcs + 1) * sizeof(*p->svcs));
        memset(&p->svcs[p->n_svcs], 0, sizeof(*p->svcs));
        json_object_set_new(p->svc_index, service_id,
                            json_integer((json_int_t)p->n_svcs));
        s = &p->svcs[p->n_svcs++];
    } else {
        s = &p->svcs[json_integer_value(ix)];
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 8;
        s->nodes = xrealloc(s->nodes, s->cap * sizeof(*s->nodes));
    }
    s->nodes[s->n++] = node;
}

static uint32_t sched_port_key(const json_t *port)
{
    const char *proto = json_string_value(json_object_get(port, "Protocol"));
    uint32_t k = 0;

    if (proto != NULL && strcmp(proto, "udp") == 0)
        k = 1;
    else if (proto != NULL && strcmp(proto, "sctp") == 0)
        k = 2;
    return k << 16 |
           (uint32_t)(json_integer_value(
                          json_object_get(port, "PublishedPort")) &
                      0xffff);
}

static bool sched_port_is_host(const json_t *port)
{
    const char *mode = json_string_value(json_object_get(port, "PublishMode"));

    return mode != NULL && strcmp(mode, "host") == 0 &&
           json_integer_value(json_object_get(port, "PublishedPort")) > 0;
}

/* The task's host-mode published ports (copied by the orchestrator from
 * the service's endpoint into the internal _Endpoint). */
static size_t sched_task_ports(const json_t *task, uint32_t *out,
                               size_t cap)
{
    const json_t *ports = json_object_get(
        json_object_get(task, "_Endpoint"), "Ports");
    const json_t *port;
    size_t i;
    size_t n = 0;

    json_array_foreach(ports, i, port) {
        if (sched_port_is_host(port) && n < cap)
            out[n++] = sched_port_key(port);
    }
    return n;
}

static void sched_node_take(struct sched__node *n, const json_t *spec,
                            const uint32_t *ports, size_t n_ports)
{
    size_t i;

    n->cpu -= sched_int(spec, "Resources", "Reservations", "NanoCPUs");
    n->mem -= sched_int(spec, "Resources", "Reservations", "MemoryBytes");
    n->n_tasks++;
    for (i = 0; i < n_ports; i++) {
        if (n->n_ports == n->ports_cap) {
            n->ports_cap = n->ports_cap ? 2 * n->ports_cap : 4;
            n->ports = xrealloc(n->ports, n->ports_cap * sizeof(*n->ports));
        }
        n->ports[n->n_ports++] = ports[i];
    }
}

static int sched_cmp_id(const void *a, const void *b)
{
    const struct sched__node *const *x = a;
    const struct sched__node *const *y = b;

    return strcmp((*x)->id, (*y)->id);
}

static void sched_load_nodes(struct sched__pass *p, const json_t *nodes)
{
    struct sched__node **by_id;
    const char *id;
    json_t *node;
    size_t i = 0;

    p->n_nodes = json_object_size(nodes);
    p->nodes = xcalloc(p->n_nodes + 1, sizeof(*p->nodes));
    json_object_foreach((json_t *)nodes, id, node) {
        struct sched__node *n = &p->nodes[i];
        const char *st = sched_sv(node, "Status", "State");
        const char *av = sched_sv(node, "Spec", "Availability");

        n->obj = node;
        n->id = id;
        n->ready = st != NULL && strcmp(st, "ready") == 0 &&
                   (av == NULL || strcmp(av, "active") == 0);
        n->cpu = sched_int(node, "Description", "Resources", "NanoCPUs");
        n->mem = sched_int(node, "Description", "Resources", "MemoryBytes");
        json_object_set_new(p->node_index, id, json_integer((json_int_t)i));
        i++;
    }
    by_id = xcalloc(p->n_nodes + 1, sizeof(*by_id));
    for (i = 0; i < p->n_nodes; i++)
        by_id[i] = &p->nodes[i];
    qsort(by_id, p->n_nodes, sizeof(*by_id), sched_cmp_id);
    for (i = 0; i < p->n_nodes; i++)
        by_id[i]->rank = i;
    free(by_id);
}

static void sched_group_add(struct sched__pass *p, json_t *task)
{
    const char *svc = json_string_value(json_object_get(task, "ServiceID"));
    const json_t *spec = json_object_get(task, "Spec");
    json_t *ix;
    size_t at = SIZE_MAX;
    size_t last = SIZE_MAX;
    struct sched__group *g;

    if (svc == NULL)
        svc = "";
    ix = json_object_get(p->group_index, svc);
    if (ix != NULL) {
        for (at = (size_t)json_integer_value(ix); at != SIZE_MAX;
             at = p->groups[at].next_same) {
            last = at;
            if (json_equal((json_t *)p->groups[at].spec, (json_t *)spec))
                break;
        }
    }
    if (at == SIZE_MAX) {
        at = p->n_groups++;
        p->groups = xrealloc(p->groups, p->n_groups * sizeof(*p->groups));
        memset(&p->groups[at], 0, sizeof(*p->groups));
        p->groups[at].spec = spec;
        p->groups[at].service_id = svc;
        p->groups[at].next_same = SIZE_MAX;
        if (last != SIZE_MAX)
            p->groups[last].next_same = at;
        else
            json_object_set_new(p->group_index, svc,
                                json_integer((json_int_t)at));
    }
    g = &p->groups[at];
    if (g->n_tasks == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 8;
        g->tasks = xrealloc(g->tasks, g->cap * sizeof(*g->tasks));
    }
    g->tasks[g->n_tasks++] = task;
}

/* A task the scheduler decides: PENDING, DesiredState at most complete. */
static bool sched_is_pending(const json_t *task)
{
    int ds;

    if (store_task_state(task) != STORE_TASK_PENDING)
        return false;
    ds = store_task_desired(task);
    return ds >= 0 && ds <= STORE_TASK_COMPLETE;
}

static void sched_load_tasks(struct sched__pass *p, const json_t *tasks)
{
    const char *id;
    json_t *task;

    json_object_foreach((json_t *)tasks, id, task) {
        const char *node_id = json_string_value(json_object_get(task, "NodeID"));
        int st = store_task_state(task);
        json_t *ix;

        if (sched_is_pending(task)) {
            if (node_id != NULL && node_id[0] != '\0') {
                json_array_append(p->preassigned, task);
            } else {
                sched_group_add(p, task);
            }
            continue;
        }
        if (st <= STORE_TASK_PENDING || !sched_task_is_active(task) ||
            node_id == NULL)
            continue;
        ix = json_object_get(p->node_index, node_id);
        if (ix != NULL) {
            uint32_t ports[64];
            size_t n_ports = sched_task_ports(task, ports, ARRAY_SIZE(ports));
            const char *svc =
                json_string_value(json_object_get(task, "ServiceID"));

            sched_node_take(&p->nodes[json_integer_value(ix)],
                            json_object_get(task, "Spec"), ports, n_ports);
            sched_svc_add(p, svc != NULL ? svc : "",
                          (size_t)json_integer_value(ix));
        }
    }
}

static void sched_want_init(struct sched__pass *p, struct sched__want *w,
                            const json_t *task, const char *service_id)
{
    const json_t *spec = json_object_get(task, "Spec");
    const json_t *place = json_object_get(spec, "Placement");
    json_t *ix = json_object_get(p->svc_index, service_id);
    size_t i;

    memset(w, 0, sizeof(*w));
    w->spec = spec;
    w->cpu = sched_int(spec, "Resources", "Reservations", "NanoCPUs");
    w->mem = sched_int(spec, "Resources", "Reservations", "MemoryBytes");
    w->n_ports = sched_task_ports(task, w->ports, ARRAY_SIZE(w->ports));
    w->max_replicas = json_integer_value(json_object_get(place, "MaxReplicas"));
    w->cons_bad = sched_constraints_parse(
                      json_object_get(place, "Constraints"), &w->cons,
                      NULL) != 0;
    w->svc_count = xcalloc(p->n_nodes + 1, sizeof(*w->svc_count));
    if (ix != NULL) {
        const struct sched__svc *s = &p->svcs[json_integer_value(ix)];

        for (i = 0; i < s->n; i++)
            w->svc_count[s->nodes[i]]++;
    }
}

static void sched_want_clear(struct sched__want *w)
{
    sched_constraints_clear(&w->cons);
    free(w->svc_count);
}

/* Filters that do not change while a batch is placed. */
static int sched_static_fail(const struct sched__want *w,
                             const struct sched__node *n)
{
    if (!n->ready)
        return SCHED__F_READY;
    if (w->cons_bad || !sched_constraints_match(&w->cons, n->obj))
        return SCHED__F_CONSTRAINT;
    if (!sched_platform_ok(w->spec, n->obj))
        return SCHED__F_PLATFORM;
    return -1;
}

static bool sched_port_busy(const struct sched__want *w,
                            const struct sched__node *n)
{
    size_t i;
    size_t j;

    for (i = 0; i < w->n_ports; i++) {
        for (j = 0; j < n->n_ports; j++) {
            if (n->ports[j] == w->ports[i])
                return true;
        }
    }
    return false;
}

/* The filters that change as a batch is placed, for a node that passed
 * the others: resources, host ports, MaxReplicas. */
static bool sched_dynamic_ok(const struct sched__want *w,
                             const struct sched__node *n, size_t idx)
{
    return w->cpu <= n->cpu && w->mem <= n->mem &&
           (w->n_ports == 0 || !sched_port_busy(w, n)) &&
           (w->max_replicas <= 0 ||
            (int64_t)w->svc_count[idx] < w->max_replicas);
}

/* The first filter node idx fails for this batch, or -1. */
static int sched_filter(const struct sched__want *w,
                        const struct sched__node *n, size_t idx)
{
    int f;

    if (!n->ready)
        return SCHED__F_READY;
    if (w->cpu > n->cpu || w->mem > n->mem)
        return SCHED__F_RESOURCES;
    f = sched_static_fail(w, n);
    if (f >= 0)
        return f;
    if (sched_port_busy(w, n))
        return SCHED__F_HOSTPORT;
    if (w->max_replicas > 0 &&
        (int64_t)w->svc_count[idx] >= w->max_replicas)
        return SCHED__F_MAXREPLICAS;
    return -1;
}

static void sched_explain_one(char *out, size_t cap, int f, unsigned n)
{
    const char *s = n == 1 ? "" : "s";

    switch (f) {
    case SCHED__F_READY:
        snprintf(out, cap, "%u node%s not available for new tasks", n, s);
        break;
    case SCHED__F_RESOURCES:
        snprintf(out, cap, "insufficient resources on %u node%s", n, s);
        break;
    case SCHED__F_PLUGIN:
        snprintf(out, cap, "missing plugin on %u node%s", n, s);
        break;
    case SCHED__F_CONSTRAINT:
        snprintf(out, cap, "scheduling constraints not satisfied on %u node%s",
                 n, s);
        break;
    case SCHED__F_PLATFORM:
        snprintf(out, cap, "unsupported platform on %u node%s", n, s);
        break;
    case SCHED__F_HOSTPORT:
        snprintf(out, cap, "host-mode port already in use on %u node%s", n, s);
        break;
    default:
        snprintf(out, cap, "max replicas per node limit exceed");
        break;
    }
}

/* swarmkit's Explain: the failing filters, most failures first (ties in
 * pipeline order), joined by "; ", inside "no suitable node (...)". */
static void sched_explain(char *out, size_t cap, const unsigned *fails)
{
    bool used[SCHED__F_COUNT] = {false};
    size_t len = 0;
    int round;

    snprintf(out, cap, "no suitable node");
    for (round = 0; round < SCHED__F_COUNT; round++) {
        int best = -1;
        int f;
        char one[96];

        for (f = 0; f < SCHED__F_COUNT; f++) {
            if (!used[f] && fails[f] > 0 &&
                (best < 0 || fails[f] > fails[best]))
                best = f;
        }
        if (best < 0)
            break;
        used[best] = true;
        sched_explain_one(one, sizeof(one), best, fails[best]);
        len = strlen(out);
        snprintf(out + len, cap - len, "%s%s", round == 0 ? " (" : "; ",
                 one);
    }
    if (len > 0) {
        len = strlen(out);
        snprintf(out + len, cap - len, ")");
    }
}

static void sched_emit(struct sched__pass *p, const json_t *task,
                       const char *node_id, const char *message,
                       const char *why)
{
    json_t *next = json_deep_copy(task);
    json_t *status = json_object_get(next, "Status");
    json_t *a;

    if (!json_is_object(status)) {
        status = json_object();
        json_object_set_new(next, "Status", status);
    }
    if (node_id != NULL) {
        json_object_set_new(next, "NodeID", json_string(node_id));
        json_object_set_new(status, "State", json_string("assigned"));
        json_object_set_new(status, "Timestamp", json_string(p->now));
        json_object_del(status, "Err");
    } else {
        json_object_set_new(status, "Err", json_string(why));
    }
    json_object_set_new(status, "Message", json_string(message));
    a = json_pack("{s:s, s:s, s:o}", "op", "update", "kind", "task", "obj",
                  next);
    if (store_obj_version(task) != 0)
        json_object_set_new(a, "version",
                            json_integer((json_int_t)store_obj_version(task)));
    json_array_append_new(p->out, a);
}

static void sched_unplaced(struct sched__pass *p, const json_t *task,
                           const char *why)
{
    const char *err = sched_sv(task, "Status", "Err");

    if (err == NULL || strcmp(err, why) != 0)
        sched_emit(p, task, NULL, "pending task scheduling", why);
}

/* Spread buckets: for each preference level, the bucket of each node
 * (nodes with the same label values up to that level share one) and the
 * tasks of the service in each bucket. */
struct sched__spread
{
    size_t n_levels;
    size_t *bucket[SCHED__MAX_LEVELS]; /* owned: per node */
    unsigned *count[SCHED__MAX_LEVELS]; /* owned: per bucket */
};

static const char *sched_spread_value(const json_t *node, const char *desc)
{
    const char *v = NULL;

    if (strncasecmp(desc, "node.labels.", 12) == 0)
        v = json_string_value(json_object_get(
            json_object_get(json_object_get(node, "Spec"), "Labels"),
            desc + 12));
    else if (strncasecmp(desc, "engine.labels.", 14) == 0)
        v = json_string_value(json_object_get(
            json_object_get(
                json_object_get(json_object_get(node, "Description"),
                                "Engine"),
                "Labels"),
            desc + 14));
    return v != NULL ? v : "";
}

static void sched_spread_init(struct sched__spread *sp,
                              const struct sched__pass *p,
                              const struct sched__want *w,
                              const size_t *elig, size_t n_elig)
{
    const json_t *prefs = json_object_get(
        json_object_get(w->spec, "Placement"), "Preferences");
    size_t i;
    size_t k;
    char **path = xcalloc(n_elig + 1, sizeof(*path));

    memset(sp, 0, sizeof(*sp));
    for (k = 0; k < json_array_size(prefs) && sp->n_levels < SCHED__MAX_LEVELS;
         k++) {
        const char *desc = sched_sv(json_array_get(prefs, k), "Spread",
                                    "SpreadDescriptor");
        json_t *seen = json_object();
        size_t n_buckets = 0;
        size_t lv = sp->n_levels;

        if (desc == NULL)
            continue;
        sp->bucket[lv] = xcalloc(p->n_nodes + 1, sizeof(size_t));
        for (i = 0; i < n_elig; i++) {
            const char *v = sched_spread_value(p->nodes[elig[i]].obj, desc);
            char *np = xasprintf("%s\x1f%s", path[i] ? path[i] : "", v);
            json_t *b = json_object_get(seen, np);

            free(path[i]);
            path[i] = np;
            if (b == NULL) {
                b = json_integer((json_int_t)n_buckets++);
                json_object_set_new(seen, np, b);
            }
            sp->bucket[lv][elig[i]] = (size_t)json_integer_value(b);
        }
        sp->count[lv] = xcalloc(n_buckets + 1, sizeof(unsigned));
        for (i = 0; i < n_elig; i++)
            sp->count[lv][sp->bucket[lv][elig[i]]] += w->svc_count[elig[i]];
        json_decref(seen);
        sp->n_levels++;
    }
    for (i = 0; i < n_elig; i++)
        free(path[i]);
    free(path);
}

static void sched_spread_clear(struct sched__spread *sp)
{
    size_t k;

    for (k = 0; k < sp->n_levels; k++) {
        free(sp->bucket[k]);
        free(sp->count[k]);
    }
}

/* True if node a is a better home than node b for the next task. */
static bool sched_better(const struct sched__pass *p,
                         const struct sched__want *w,
                         const struct sched__spread *sp, size_t a, size_t b)
{
    size_t k;

    for (k = 0; k < sp->n_levels; k++) {
        unsigned ca = sp->count[k][sp->bucket[k][a]];
        unsigned cb = sp->count[k][sp->bucket[k][b]];

        if (ca != cb)
            return ca < cb;
    }
    if (w->svc_count[a] != w->svc_count[b])
        return w->svc_count[a] < w->svc_count[b];
    if (p->nodes[a].n_tasks != p->nodes[b].n_tasks)
        return p->nodes[a].n_tasks < p->nodes[b].n_tasks;
    return p->nodes[a].rank < p->nodes[b].rank;
}

static void sched_fail_all(struct sched__pass *p, const struct sched__want *w,
                           json_t *const *tasks, size_t n_tasks)
{
    unsigned fails[SCHED__F_COUNT] = {0};
    char why[512];
    size_t i;

    for (i = 0; i < p->n_nodes; i++) {
        int f = sched_filter(w, &p->nodes[i], i);

        if (f >= 0)
            fails[f]++;
    }
    sched_explain(why, sizeof(why), fails);
    for (i = 0; i < n_tasks; i++)
        sched_unplaced(p, tasks[i], why);
}

static void sched_place(struct sched__pass *p, size_t at, const char *svc,
                        struct sched__want *w, const json_t *task)
{
    sched_node_take(&p->nodes[at], w->spec, w->ports, w->n_ports);
    w->svc_count[at]++;
    sched_svc_add(p, svc, at);
    sched_emit(p, task, p->nodes[at].id, "scheduler assigned task to node",
               NULL);
}

/* Has the pass made as many actions as it may? */
static bool sched_full(const struct sched__pass *p)
{
    return p->max != 0 && json_array_size(p->out) >= p->max;
}

static void sched_group_run(struct sched__pass *p, struct sched__group *g)
{
    struct sched__want w;
    struct sched__spread sp;
    size_t *elig = xcalloc(p->n_nodes + 1, sizeof(*elig));
    size_t n_elig = 0;
    size_t i;
    size_t t;
    size_t k;

    sched_want_init(p, &w, g->tasks[0], g->service_id);
    for (i = 0; i < p->n_nodes; i++) {
        if (sched_static_fail(&w, &p->nodes[i]) < 0)
            elig[n_elig++] = i;
    }
    sched_spread_init(&sp, p, &w, elig, n_elig);
    for (t = 0; t < g->n_tasks && !sched_full(p); t++) {
        size_t best = SIZE_MAX;

        for (i = 0; i < n_elig; i++) {
            size_t n = elig[i];

            if (!sched_dynamic_ok(&w, &p->nodes[n], n))
                continue;
            if (best == SIZE_MAX || sched_better(p, &w, &sp, n, best))
                best = n;
        }
        if (best == SIZE_MAX) {
            sched_fail_all(p, &w, g->tasks + t, g->n_tasks - t);
            break;
        }
        for (k = 0; k < sp.n_levels; k++)
            sp.count[k][sp.bucket[k][best]]++;
        sched_place(p, best, g->service_id, &w, g->tasks[t]);
    }
    sched_spread_clear(&sp);
    sched_want_clear(&w);
    free(elig);
}

/* A global service's task comes with its node: confirm it fits there. */
static void sched_preassigned(struct sched__pass *p, const json_t *task)
{
    const char *node_id = json_string_value(json_object_get(task, "NodeID"));
    const char *svc = json_string_value(json_object_get(task, "ServiceID"));
    json_t *ix = json_object_get(p->node_index, node_id);
    unsigned fails[SCHED__F_COUNT] = {0};
    struct sched__want w;
    char why[512];
    int f;

    if (svc == NULL)
        svc = "";
    sched_want_init(p, &w, task, svc);
    if (ix == NULL) {
        sched_explain(why, sizeof(why), fails);
        sched_unplaced(p, task, why);
        sched_want_clear(&w);
        return;
    }
    f = sched_filter(&w, &p->nodes[json_integer_value(ix)],
                     (size_t)json_integer_value(ix));
    if (f < 0) {
        size_t at = (size_t)json_integer_value(ix);

        sched_node_take(&p->nodes[at], w.spec, w.ports, w.n_ports);
        sched_svc_add(p, svc, at);
        sched_emit(p, task, node_id,
                   "scheduler confirmed task can run on preassigned node",
                   NULL);
    } else {
        fails[f] = 1;
        sched_explain(why, sizeof(why), fails);
        sched_unplaced(p, task, why);
    }
    sched_want_clear(&w);
}

/* Is any task waiting to be placed? */
static bool sched_any_pending(const json_t *tasks)
{
    const char *id;
    json_t *task;

    json_object_foreach((json_t *)tasks, id, task) {
        if (sched_is_pending(task))
            return true;
    }
    return false;
}

json_t *sched_run(const json_t *nodes, const json_t *tasks, int64_t now,
                  size_t max)
{
    struct sched__pass p;
    json_t *out;
    size_t i;

    /* Most passes have nothing to place: skip loading every node. */
    if (!sched_any_pending(tasks))
        return json_array();
    memset(&p, 0, sizeof(p));
    p.node_index = json_object();
    p.svc_index = json_object();
    p.group_index = json_object();
    p.preassigned = json_array();
    p.out = json_array();
    sched_timestamp(now, p.now, sizeof(p.now));
    sched_load_nodes(&p, nodes);
    sched_load_tasks(&p, tasks);
    p.max = max;
    for (i = 0; i < json_array_size(p.preassigned) && !sched_full(&p); i++)
        sched_preassigned(&p, json_array_get(p.preassigned, i));
    for (i = 0; i < p.n_groups && !sched_full(&p); i++)
        sched_group_run(&p, &p.groups[i]);

    out = p.out;
    for (i = 0; i < p.n_nodes; i++)
        free(p.nodes[i].ports);
    free(p.nodes);
    for (i = 0; i < p.n_svcs; i++)
        free(p.svcs[i].nodes);
    free(p.svcs);
    for (i = 0; i < p.n_groups; i++)
        free(p.groups[i].tasks);
    free(p.groups);
    json_decref(p.node_index);
    json_decref(p.svc_index);
    json_decref(p.group_index);
    json_decref(p.preassigned);
    return out;
}

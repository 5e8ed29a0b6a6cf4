/* SPDX-License-Identifier: Apache-2.0 */
/* Task states, timestamps, placement constraints and platforms. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/mem.h"
#include "manager/scheduler/sched.h"
#include "manager/store/store.h"

bool sched_task_is_active(const json_t *task)
{
    int st = store_task_state(task);
    int ds = store_task_desired(task);

    return st >= 0 && st <= STORE_TASK_RUNNING && ds >= 0 &&
           ds <= STORE_TASK_COMPLETE;
}

void sched_timestamp(int64_t now, char *out, size_t out_cap)
{
    time_t secs = (time_t)(now / 1000000000LL);
    long nsec = (long)(now % 1000000000LL);
    struct tm tm;
    char date[32];

    if (nsec < 0) {
        nsec += 1000000000L;
        secs--;
    }
    gmtime_r(&secs, &tm);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, out_cap, "%s.%09ldZ", date, nsec);
}

/* swarmkit's key pattern: a letter or '_', then letters, digits, '-',
 * '_' or '.' (two characters at least). */
static bool sched_key_ok(const char *k)
{
    size_t i;

    if (!(isalpha((unsigned char)k[0]) || k[0] == '_') || k[1] == '\0')
        return false;
    for (i = 1; k[i] != '\0'; i++) {
        if (!isalnum((unsigned char)k[i]) && strchr("-_.", k[i]) == NULL)
            return false;
    }
    return true;
}

static bool sched_value_ok(const char *v)
{
    size_t i;

    if (v[0] == '\0')
        return false;
    for (i = 0; v[i] != '\0'; i++) {
        if (!isalnum((unsigned char)v[i]) &&
            strchr(":-_ \t\r\n\v\f.*()?+[]\\^$|/", v[i]) == NULL)
            return false;
    }
    return true;
}

static char *sched_trim_dup(const char *s, size_t n)
{
    while (n > 0 && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    return xstrndup(s, n);
}

void sched_constraints_clear(struct sched_constraints *c)
{
    size_t i;

    for (i = 0; i < c->n; i++) {
        free(c->v[i].key);
        free(c->v[i].value);
    }
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

int sched_constraints_parse(const json_t *list, struct sched_constraints *out,
                            struct err *err)
{
    static const char *const ops[] = {"==", "!="};
    size_t i;
    size_t k;

    out->v = NULL;
    out->n = 0;
    if (list == NULL || json_is_null(list))
        return 0;
    if (!json_is_array(list))
        return err_set(err, ERR_INVALID,
                       "json: cannot unmarshal value into Go struct field "
                       "Placement.Constraints of type []string");
    out->v = xcalloc(json_array_size(list) + 1, sizeof(*out->v));
    for (i = 0; i < json_array_size(list); i++) {
        const char *e = json_string_value(json_array_get(list, i));
        struct sched_constraint *c = &out->v[out->n];
        const char *at = NULL;

        if (e == NULL) {
            sched_constraints_clear(out);
            return err_set(err, ERR_INVALID,
                           "json: cannot unmarshal value into Go struct "
                           "field Placement.Constraints of type string");
        }
        /* swarmkit tries "==" first, then "!=", splitting at the first
         * occurrence of the operator it found. */
        for (k = 0; k < ARRAY_SIZE(ops); k++) {
            at = strstr(e, ops[k]);
            if (at != NULL)
                break;
        }
        if (at == NULL) {
            sched_constraints_clear(out);
            return err_set(err, ERR_INVALID,
                           "constraint expected one operator from ==, !=");
        }
        c->eq = k == 0;
        c->key = sched_trim_dup(e, (size_t)(at - e));
        c->value = sched_trim_dup(at + 2, strlen(at + 2));
        out->n++;
        if (!sched_key_ok(c->key)) {
            err_set(err, ERR_INVALID, "key '%s' is invalid", c->key);
            sched_constraints_clear(out);
            return -ERR_INVALID;
        }
        if (!sched_value_ok(c->value)) {
            err_set(err, ERR_INVALID, "value '%s' is invalid", c->value);
            sched_constraints_clear(out);
            return -ERR_INVALID;
        }
    }
    return 0;
}

static const char *sched_str(const json_t *obj, const char *a, const char *b,
                             const char *c)
{
    const json_t *v = json_object_get(obj, a);

    if (b != NULL)
        v = json_object_get(v, b);
    if (c != NULL)
        v = json_object_get(v, c);
    return json_string_value(v);
}

/* node.ip: an address or a CIDR against the node's Status.Addr. */
static bool sched_ip_match(const char *want, const char *addr)
{
    struct in_addr a;
    struct in_addr net;
    char ip[INET_ADDRSTRLEN];
    const char *slash = strchr(want, '/');
    char *end;
    long bits;
    uint32_t mask;

    if (addr == NULL || inet_pton(AF_INET, addr, &a) != 1)
        return false;
    if (slash == NULL)
        return inet_pton(AF_INET, want, &net) == 1 && net.s_addr == a.s_addr;
    if ((size_t)(slash - want) >= sizeof(ip))
        return false;
    memcpy(ip, want, (size_t)(slash - want));
    ip[slash - want] = '\0';
    bits = strtol(slash + 1, &end, 10);
    if (*end != '\0' || bits < 0 || bits > 32 ||
        inet_pton(AF_INET, ip, &net) != 1)
        return false;
    mask = bits == 0 ? 0 : htonl(0xffffffffu << (32 - bits));
    return (net.s_addr & mask) == (a.s_addr & mask);
}

static bool sched_one_match(const struct sched_constraint *c,
                            const json_t *node)
{
    const char *have = NULL;
    bool eq;

    if (strcasecmp(c->key, "node.id") == 0) {
        have = sched_str(node, "ID", NULL, NULL);
    } else if (strcasecmp(c->key, "node.hostname") == 0) {
        have = sched_str(node, "Description", "Hostname", NULL);
    } else if (strcasecmp(c->key, "node.ip") == 0) {
        eq = sched_ip_match(c->value, sched_str(node, "Status", "Addr", NULL));
        return eq == c->eq;
    } else if (strcasecmp(c->key, "node.role") == 0) {
        have = sched_str(node, "Spec", "Role", NULL);
    } else if (strcasecmp(c->key, "node.platform.os") == 0) {
        have = sched_str(node, "Description", "Platform", "OS");
    } else if (strcasecmp(c->key, "node.platform.arch") == 0) {
        have = sched_str(node, "Description", "Platform", "Architecture");
    } else if (strncasecmp(c->key, "node.labels.", 12) == 0) {
        have = sched_str(node, "Spec", "Labels", c->key + 12);
    } else if (strncasecmp(c->key, "engine.labels.", 14) == 0) {
        have = json_string_value(json_object_get(
            json_object_get(
                json_object_get(json_object_get(node, "Description"),
                                "Engine"),
                "Labels"),
            c->key + 14));
    } else {
        return false;
    }
    eq = strcasecmp(have != NULL ? have : "", c->value) == 0;
    return eq == c->eq;
}

bool sched_constraints_match(const struct sched_constraints *c,
                             const json_t *node)
{
    size_t i;

    for (i = 0; i < c->n; i++) {
        if (!sched_one_match(&c->v[i], node))
            return false;
    }
    return true;
}

static const char *sched_arch_norm(const char *a)
{
    if (a == NULL)
        return "";
    if (strcmp(a, "x86_64") == 0)
        return "amd64";
    if (strcmp(a, "aarch64") == 0)
        return "arm64";
    return a;
}

bool sched_platform_ok(const json_t *task_spec, const json_t *node)
{
    const json_t *list = json_object_get(
        json_object_get(task_spec, "Placement"), "Platforms");
    const char *os = sched_str(node, "Description", "Platform", "OS");
    const char *arch = sched_arch_norm(
        sched_str(node, "Description", "Platform", "Architecture"));
    const json_t *p;
    size_t i;

    if (json_array_size(list) == 0)
        return true;
    json_array_foreach(list, i, p) {
        const char *pos = json_string_value(json_object_get(p, "OS"));
        const char *parch = json_string_value(
            json_object_get(p, "Architecture"));

        if ((pos == NULL || pos[0] == '\0' ||
             (os != NULL && strcasecmp(pos, os) == 0)) &&
            (parch == NULL || parch[0] == '\0' ||
             strcmp(sched_arch_norm(parch), arch) == 0))
            return true;
    }
    return false;
}

bool sched_node_fits_spec(const json_t *task_spec, const json_t *node)
{
    const json_t *place = json_object_get(task_spec, "Placement");
    const json_t *cons = json_object_get(place, "Constraints");
    struct sched_constraints c;
    bool ok;

    /* Most tasks have neither: every node fits (checked for each task of
     * every pass, so no parsing for nothing). */
    if (json_array_size(cons) == 0 &&
        json_array_size(json_object_get(place, "Platforms")) == 0)
        return true;
    if (sched_constraints_parse(cons, &c, NULL) != 0)
        return false;
    ok = sched_constraints_match(&c, node) &&
         sched_platform_ok(task_spec, node);
    sched_constraints_clear(&c);
    return ok;
}

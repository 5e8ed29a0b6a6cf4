/* SPDX-License-Identifier: Apache-2.0 */
/* `shoal node ...`: ls, inspect, update, rm, promote, demote, with
 * docker's table, pretty inspect layout and messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "cli/cli_int.h"

#define CLI_NODE__TABLE                                                     \
    "table {{.ID}} {{if .Self}}*{{else}} {{ end }}\\t{{.Hostname}}\\t"     \
    "{{.Status}}\\t{{.Availability}}\\t{{.ManagerStatus}}\\t"              \
    "{{.EngineVersion}}"

static char *cli_node_path(const char *id, const char *suffix)
{
    char *esc = cli_http_escape(id);
    char *p = xasprintf("/nodes/%s%s", esc, suffix);

    free(esc);
    return p;
}

static json_t *cli_node_pretty_str(const char *s)
{
    char tmp[256];

    cli_format_pretty(s, tmp, sizeof(tmp));
    return json_string(tmp);
}

/* One row of `node ls`, keys sorted like docker's marshalled context. */
static json_t *cli_node_row(const json_t *n, const json_t *info)
{
    const json_t *ms = cli_jget(n, "ManagerStatus");
    const json_t *ctls = cli_jget(info, "Swarm.Cluster.TLSInfo");
    const json_t *ntls = cli_jget(n, "Description.TLSInfo");
    const char *mgr = "";
    const char *tls;
    char reach[64];
    json_t *row = json_object();

    if (json_is_object(ms)) {
        if (cli_jbool(ms, "Leader")) {
            mgr = "Leader";
        } else {
            cli_format_pretty(cli_jstr(ms, "Reachability"), reach,
                              sizeof(reach));
            mgr = reach;
        }
    }
    if (!json_is_object(ctls) || json_object_size(ctls) == 0 ||
        !json_is_object(ntls) || json_object_size(ntls) == 0)
        tls = "Unknown";
    else if (json_equal((json_t *)ctls, (json_t *)ntls))
        tls = "Ready";
    else
        tls = "Needs Rotation";
    json_object_set_new(row, "Availability",
                        cli_node_pretty_str(cli_jstr(n, "Spec.Availability")));
    json_object_set_new(row, "EngineVersion",
                        json_string(cli_jstr(n, "Description.Engine."
                                                "EngineVersion")));
    json_object_set_new(row, "Hostname",
                        json_string(cli_jstr(n, "Description.Hostname")));
    json_object_set_new(row, "ID", json_string(cli_jstr(n, "ID")));
    json_object_set_new(row, "ManagerStatus", json_string(mgr));
    json_object_set_new(row, "Self",
                        json_boolean(strcmp(cli_jstr(n, "ID"),
                                            cli_jstr(info, "Swarm.NodeID")) ==
                                         0 &&
                                     *cli_jstr(n, "ID") != '\0'));
    json_object_set_new(row, "Status",
                        cli_node_pretty_str(cli_jstr(n, "Status.State")));
    json_object_set_new(row, "TLSStatus", json_string(tls));
    return row;
}

static int cli_node_cmp(const void *a, const void *b)
{
    const char *x = cli_jstr(*(json_t *const *)a, "Description.Hostname");
    const char *y = cli_jstr(*(json_t *const *)b, "Description.Hostname");

    return cli_format_natural_cmp(x, y);
}

int cli_node_ls(struct cli *c, struct cli_args *a, struct err *err)
{
    struct cli_format f;
    json_t *nodes = NULL;
    json_t *info = NULL;
    json_t **sorted = NULL;
    char *filters = cli_filters_query(a, "filter");
    char *path;
    bool quiet = cli_flag_bool(a, "quiet");
    size_t n;
    size_t i;
    int rv;

    /* docker asks the daemon before it parses --format */
    memset(&f, 0, sizeof(f));
    path = filters != NULL ? xasprintf("/nodes?filters=%s", filters)
                           : xstrdup("/nodes");
    free(filters);
    rv = cli_http_json(c, "GET", path, NULL, &nodes, err);
    free(path);
    if (rv != 0)
        goto out;
    n = json_array_size(nodes);
    /* docker asks /info (for the self marker) only when it will show it */
    if (n > 0 && !quiet) {
        rv = cli_http_json(c, "GET", "/info", NULL, &info, err);
        if (rv != 0)
            goto out;
    }
    rv = cli_format_init(&f, cli_flag_str(a, "format"), CLI_NODE__TABLE,
                         quiet, "{{.ID}}",
                         json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
                                   "Availability", "AVAILABILITY",
                                   "EngineVersion", "ENGINE VERSION",
                                   "Hostname", "HOSTNAME", "ID", "ID",
                                   "ManagerStatus", "MANAGER STATUS", "Self",
                                   "", "Status", "STATUS", "TLSStatus",
                                   "TLS STATUS"),
                         "*node.nodeContext", err);
    if (rv != 0)
        goto out;
    sorted = cli_jsorted(nodes, cli_node_cmp);
    for (i = 0; i < n && rv == 0; i++) {
        json_t *row = cli_node_row(sorted[i], info);

        rv = cli_format_row(&f, row, err);
        json_decref(row);
    }
    if (rv == 0)
        rv = cli_format_flush(&f, stdout, err);
out:
    free(sorted);
    json_decref(nodes);
    json_decref(info);
    cli_format_release(&f);
    return rv;
}

static void cli_node_print_labels(struct buf *o, const json_t *labels,
                                  const char *title)
{
    const char **keys;
    const char *key;
    json_t *val;
    size_t n = 0;
    size_t i;

    if (!json_is_object(labels) || json_object_size(labels) == 0)
        return;
    keys = xcalloc(json_object_size(labels), sizeof(*keys));
    json_object_foreach((json_t *)labels, key, val) {
        (void)val;
        keys[n++] = key;
    }
    for (i = 1; i < n; i++) {
        size_t j = i;

        while (j > 0 && strcmp(keys[j - 1], keys[j]) > 0) {
            const char *t = keys[j];

            keys[j] = keys[j - 1];
            keys[j - 1] = t;
            j--;
        }
    }
    (void)buf_printf(o, "%s:\n", title);
    for (i = 0; i < n; i++) {
        const char *v = json_string_value(json_object_get(labels, keys[i]));

        if (v != NULL && *v != '\0')
            (void)buf_printf(o, " - %s=%s\n", keys[i], v);
        else
            (void)buf_printf(o, " - %s\n", keys[i]);
    }
    free(keys);
}

/* docker's `node inspect --pretty` layout. */
static void cli_node_pretty(struct buf *o, const json_t *n)
{
    const json_t *ms = cli_jget(n, "ManagerStatus");
    const json_t *plugins = cli_jget(n, "Description.Engine.Plugins");
    const json_t *tls = cli_jget(n, "Description.TLSInfo");
    char tmp[256];
    char *joined;
    size_t i;

    (void)buf_printf(o, "ID:\t\t\t%s\n", cli_jstr(n, "ID"));
    if (*cli_jstr(n, "Spec.Name") != '\0')
        (void)buf_printf(o, "Name:\t\t\t%s\n", cli_jstr(n, "Spec.Name"));
    cli_node_print_labels(o, cli_jget(n, "Spec.Labels"), "Labels");
    (void)buf_printf(o, "Hostname:              \t%s\n",
                     cli_jstr(n, "Description.Hostname"));
    joined = cli_format_go_time(cli_jstr(n, "CreatedAt"));
    cli_format_pretty(joined, tmp, sizeof(tmp));
    free(joined);
    (void)buf_printf(o, "Joined at:             \t%s\n", tmp);
    cli_format_pretty(cli_jstr(n, "Status.State"), tmp, sizeof(tmp));
    (void)buf_printf(o, "Status:\n State:\t\t\t%s\n", tmp);
    if (*cli_jstr(n, "Status.Message") != '\0')
        (void)buf_printf(o, " Message:              \t%s\n",
                         cli_jstr(n, "Status.Message"));
    cli_format_pretty(cli_jstr(n, "Spec.Availability"), tmp, sizeof(tmp));
    (void)buf_printf(o, " Availability:         \t%s\n", tmp);
    if (*cli_jstr(n, "Status.Addr") != '\0')
        (void)buf_printf(o, " Address:\t\t%s\n", cli_jstr(n, "Status.Addr"));
    if (json_is_object(ms)) {
        cli_format_pretty(cli_jstr(ms, "Reachability"), tmp, sizeof(tmp));
        (void)buf_printf(o,
                         "Manager Status:\n Address:\t\t%s\n"
                         " Raft Status:\t\t%s\n Leader:\t\t%s\n",
                         cli_jstr(ms, "Addr"), tmp,
                         cli_jbool(ms, "Leader") ? "Yes" : "No");
    }
    (void)buf_printf(o,
                     "Platform:\n Operating System:\t%s\n"
                     " Architecture:\t\t%s\n",
                     cli_jstr(n, "Description.Platform.OS"),
                     cli_jstr(n, "Description.Platform.Architecture"));
    cli_format_go_float((double)cli_jint(n, "Description.Resources.NanoCPUs") /
                            1e9,
                        tmp, sizeof(tmp));
    (void)buf_printf(o, "Resources:\n CPUs:\t\t\t%s\n", tmp);
    cli_format_bytes_size(
        (double)cli_jint(n, "Description.Resources.MemoryBytes"), tmp,
        sizeof(tmp));
    (void)buf_printf(o, " Memory:\t\t%s\n", tmp);
    if (json_is_array(plugins) && json_array_size(plugins) > 0) {
        /* plugin names grouped by type, types in sorted order */
        json_t *by_type = json_object();
        const char *type;
        json_t *names;
        const char **types;
        size_t nt = 0;

        for (i = 0; i < json_array_size(plugins); i++) {
            const json_t *p = json_array_get(plugins, i);
            json_t *list = json_object_get(by_type, cli_jstr(p, "Type"));

            if (list == NULL) {
                list = json_array();
                json_object_set_new(by_type, cli_jstr(p, "Type"), list);
            }
            json_array_append_new(list, json_string(cli_jstr(p, "Name")));
        }
        types = xcalloc(json_object_size(by_type) + 1, sizeof(*types));
        json_object_foreach(by_type, type, names) {
            size_t j = nt++;

            types[j] = type;
            while (j > 0 && strcmp(types[j - 1], types[j]) > 0) {
                const char *t = types[j];

                types[j] = types[j - 1];
                types[j - 1] = t;
                j--;
            }
        }
        (void)buf_puts(o, "Plugins:\n");
        for (i = 0; i < nt; i++) {
            size_t k;

            names = json_object_get(by_type, types[i]);
            (void)buf_printf(o, " %s:", types[i]);
            if (json_array_size(names) > 0)
                (void)buf_puts(o, "\t\t");
            for (k = 0; k < json_array_size(names); k++)
                (void)buf_printf(o, "%s%s", k > 0 ? ", " : "",
                                 json_string_value(json_array_get(names, k)));
            (void)buf_puts(o, "\n");
        }
        free(types);
        json_decref(by_type);
    }
    (void)buf_printf(o, "Engine Version:\t\t%s\n",
                     cli_jstr(n, "Description.Engine.EngineVersion"));
    cli_node_print_labels(o, cli_jget(n, "Description.Engine.Labels"),
                          "Engine Labels");
    if (json_is_object(tls) &&
        (*cli_jstr(tls, "TrustRoot") != '\0' ||
         *cli_jstr(tls, "CertIssuerSubject") != '\0' ||
         *cli_jstr(tls, "CertIssuerPublicKey") != '\0'))
        (void)buf_printf(o,
                         "TLS Info:\n TrustRoot:\n%s\n"
                         " Issuer Subject:\t%s\n"
                         " Issuer Public Key:\t%s\n",
                         cli_jstr(tls, "TrustRoot"),
                         cli_jstr(tls, "CertIssuerSubject"),
                         cli_jstr(tls, "CertIssuerPublicKey"));
}

int cli_node_inspect(struct cli *c, struct cli_args *a, struct err *err)
{
    struct cli_resp *raws = xcalloc((size_t)a->argc + 1, sizeof(*raws));
    struct buf errs;
    char *self = NULL;
    size_t n = 0;
    size_t i;
    int rv = 0;

    buf_init(&errs, 1 << 20);
    for (i = 0; i < (size_t)a->argc; i++) {
        const char *ref = a->argv[i];
        struct err e;
        char *path;

        err_clear(&e);
        if (strcmp(ref, "self") == 0) {
            if (self == NULL) {
                json_t *info = NULL;

                rv = cli_http_json(c, "GET", "/info", NULL, &info, &e);
                if (rv == 0)
                    self = xstrdup(cli_jstr(info, "Swarm.NodeID"));
                json_decref(info);
            }
            ref = self;
        }
        if (ref != NULL) {
            path = cli_node_path(ref, "");
            rv = cli_http_request(c, "GET", path, NULL, &raws[n], &e);
            free(path);
            if (rv == 0)
                n++;
        }
        if (rv != 0) {
            if (e.code == ERR_UNAVAILABLE && n == 0 &&
                strncmp(e.msg, "Cannot connect", 14) == 0) {
                /* the daemon is gone: the remaining refs fail the same */
                (void)buf_printf(&errs, "%s%s", errs.len ? "\n" : "", e.msg);
                break;
            }
            (void)buf_printf(&errs, "%s%s", errs.len ? "\n" : "", e.msg);
        }
        rv = 0;
    }
    if (cli_flag_bool(a, "pretty")) {
        struct buf o;

        /* docker prints nothing in pretty mode when a node failed */
        buf_init(&o, 1 << 26);
        for (i = 0; i < n && errs.len == 0; i++) {
            json_t *v = json_loadb(raws[i].body.data, raws[i].body.len, 0,
                                   NULL);

            cli_node_pretty(&o, v);
            json_decref(v);
        }
        if (errs.len == 0 && o.len > 0)
            fwrite(o.data, 1, o.len, stdout);
        buf_release(&o);
    } else {
        rv = cli_format_inspect(raws, n, cli_flag_str(a, "format"), err);
    }
    for (i = 0; i < n; i++)
        cli_resp_release(&raws[i]);
    free(raws);
    free(self);
    if (rv == 0 && errs.len > 0)
        rv = err_set(err, ERR_NOTFOUND, "%s", errs.data);
    buf_release(&errs);
    return rv;
}

/* GET the node, let edit change its Spec, POST it back. */
static int cli_node_modify(struct cli *c, const char *ref,
                           int (*edit)(json_t *spec, const struct cli_args *a,
                                       const json_t *node, struct err *err),
                           const struct cli_args *a, struct err *err)
{
    json_t *node = NULL;
    json_t *spec;
    char *path;
    char *suffix;
    int rv;

    path = cli_node_path(ref, "");
    rv = cli_http_json(c, "GET", path, NULL, &node, err);
    free(path);
    if (rv != 0)
        return rv;
    spec = json_deep_copy(cli_jget(node, "Spec"));
    if (spec == NULL)
        spec = json_object();
    rv = edit(spec, a, node, err);
    if (rv == 0) {
        suffix = xasprintf("/update?version=%lld",
                           cli_jint(node, "Version.Index"));
        path = cli_node_path(cli_jstr(node, "ID"), suffix);
        free(suffix);
        rv = cli_http_json(c, "POST", path, spec, NULL, err);
        free(path);
    }
    json_decref(spec);
    json_decref(node);
    return rv;
}

/* Re-insert obj[key]'s members in sorted order, as Go encodes maps. */
static void cli_node_sort_object(json_t *obj, const char *key)
{
    json_t *m = json_object_get(obj, key);
    json_t *sorted = json_object();
    const char **keys;
    const char *k;
    json_t *v;
    size_t n = 0;
    size_t i;

    keys = xcalloc(json_object_size(m) + 1, sizeof(*keys));
    json_object_foreach(m, k, v) {
        size_t j = n++;

        (void)v;
        keys[j] = k;
        while (j > 0 && strcmp(keys[j - 1], keys[j]) > 0) {
            const char *t = keys[j];

            keys[j] = keys[j - 1];
            keys[j - 1] = t;
            j--;
        }
    }
    for (i = 0; i < n; i++)
        json_object_set(sorted, keys[i], json_object_get(m, keys[i]));
    free(keys);
    json_object_set_new(obj, key, sorted);
}

static int cli_node_edit_update(json_t *spec, const struct cli_args *a,
                                const json_t *node, struct err *err)
{
    json_t *labels = json_object_get(spec, "Labels");
    const char **list;
    size_t n;
    size_t i;

    (void)node;
    if (!json_is_object(labels)) {
        labels = json_object();
        json_object_set_new(spec, "Labels", labels);
    }
    if (cli_flag_changed(a, "role"))
        json_object_set_new(spec, "Role",
                            json_string(cli_flag_str(a, "role")));
    if (cli_flag_changed(a, "availability"))
        json_object_set_new(spec, "Availability",
                            json_string(cli_flag_str(a, "availability")));
    list = cli_flag_list(a, "label-add", &n);
    for (i = 0; i < n; i++) {
        const char *eq = strchr(list[i], '=');
        char *k = eq != NULL ? xstrndup(list[i], (size_t)(eq - list[i]))
                             : xstrdup(list[i]);

        json_object_set_new(labels, k, json_string(eq != NULL ? eq + 1 : ""));
        free(k);
    }
    list = cli_flag_list(a, "label-rm", &n);
    for (i = 0; i < n; i++) {
        if (json_object_get(labels, list[i]) == NULL)
            return err_set(err, ERR_NOTFOUND,
                           "key %s doesn't exist in node's labels", list[i]);
        json_object_del(labels, list[i]);
    }
    cli_node_sort_object(spec, "Labels");
    return 0;
}

int cli_node_update(struct cli *c, struct cli_args *a, struct err *err)
{
    int rv = cli_node_modify(c, a->argv[0], cli_node_edit_update, a, err);

    if (rv == 0)
        printf("%s\n", a->argv[0]);
    return rv;
}

/* Sentinel (outside the err codes): the node already has the role. */
#define CLI_NODE__UNCHANGED (ERR__COUNT + 1)

static int cli_node_edit_role(json_t *spec, const char *role,
                              const json_t *node)
{
    if (strcmp(cli_jstr(spec, "Role"), role) == 0) {
        /* docker names the node by its ID here, by the argument below */
        printf("Node %s is already a %s.\n", cli_jstr(node, "ID"), role);
        return -CLI_NODE__UNCHANGED;
    }
    json_object_set_new(spec, "Role", json_string(role));
    return 0;
}

static int cli_node_edit_promote(json_t *spec, const struct cli_args *a,
                                 const json_t *node, struct err *err)
{
    (void)a;
    (void)err;
    return cli_node_edit_role(spec, "manager", node);
}

static int cli_node_edit_demote(json_t *spec, const struct cli_args *a,
                                const json_t *node, struct err *err)
{
    (void)a;
    (void)err;
    return cli_node_edit_role(spec, "worker", node);
}

static int cli_node_set_role(struct cli *c, struct cli_args *a, bool promote,
                             struct err *err)
{
    int i;

    for (i = 0; i < a->argc; i++) {
        int rv = cli_node_modify(c, a->argv[i],
                                 promote ? cli_node_edit_promote
                                         : cli_node_edit_demote,
                                 a, err);

        if (rv == -CLI_NODE__UNCHANGED)
            continue;
        if (rv != 0)
            return rv;
        if (promote)
            printf("Node %s promoted to a manager in the swarm.\n",
                   a->argv[i]);
        else
            printf("Manager %s demoted in the swarm.\n", a->argv[i]);
    }
    return 0;
}

int cli_node_promote(struct cli *c, struct cli_args *a, struct err *err)
{
    return cli_node_set_role(c, a, true, err);
}

int cli_node_demote(struct cli *c, struct cli_args *a, struct err *err)
{
    return cli_node_set_role(c, a, false, err);
}

int cli_node_rm(struct cli *c, struct cli_args *a, struct err *err)
{
    struct buf errs;
    int i;
    int rv = 0;

    buf_init(&errs, 1 << 20);
    for (i = 0; i < a->argc; i++) {
        struct err e;
        char *path = cli_node_path(a->argv[i], cli_flag_bool(a, "force")
                                                   ? "?force=1"
                                                   : "");

        err_clear(&e);
        if (cli_http_json(c, "DELETE", path, NULL, NULL, &e) != 0)
            (void)buf_printf(&errs, "%s%s", errs.len ? "\n" : "", e.msg);
        else
            printf("%s\n", a->argv[i]);
        free(path);
    }
    if (errs.len > 0)
        rv = err_set(err, ERR_INVALID, "%s", errs.data);
    buf_release(&errs);
    return rv;
}

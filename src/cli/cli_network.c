/* SPDX-License-Identifier: Apache-2.0 */
/* `shoal network ls` and `shoal network inspect`, as docker prints them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "cli/cli_int.h"

#define CLI_NETWORK__TABLE \
    "table {{.ID}}\\t{{.Name}}\\t{{.Driver}}\\t{{.Scope}}"
#define CLI_NETWORK__ID_LEN 12

static int cli_network_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "k=v,k2=v2" with sorted keys (docker uses map order). */
static json_t *cli_network_labels(const json_t *labels)
{
    const char **items;
    const char *key;
    json_t *val;
    struct buf b;
    size_t n = 0;
    size_t i;

    if (!json_is_object(labels) || json_object_size(labels) == 0)
        return json_string("");
    items = xcalloc(json_object_size(labels), sizeof(*items));
    json_object_foreach((json_t *)labels, key, val) {
        const char *v = json_string_value(val);

        items[n++] = xasprintf("%s=%s", key, v != NULL ? v : "");
    }
    qsort(items, n, sizeof(*items), cli_network_cmp_str);
    buf_init(&b, 1 << 20);
    for (i = 0; i < n; i++) {
        (void)buf_printf(&b, "%s%s", i > 0 ? "," : "", items[i]);
        free((char *)items[i]);
    }
    free(items);
    val = json_string(b.data != NULL ? b.data : "");
    buf_release(&b);
    return val;
}

static json_t *cli_network_row(const json_t *net, bool no_trunc)
{
    const char *id = cli_jstr(net, "Id");
    char *created = cli_format_go_time(cli_jstr(net, "Created"));
    json_t *row = json_object();

    json_object_set_new(row, "CreatedAt", json_string(created));
    free(created);
    json_object_set_new(row, "Driver", json_string(cli_jstr(net, "Driver")));
    if (!no_trunc && strlen(id) > CLI_NETWORK__ID_LEN)
        json_object_set_new(row, "ID",
                            json_stringn(id, CLI_NETWORK__ID_LEN));
    else
        json_object_set_new(row, "ID", json_string(id));
    json_object_set_new(row, "IPv4",
                        json_string(cli_jbool(net, "EnableIPv4") ? "true"
                                                                 : "false"));
    json_object_set_new(row, "IPv6",
                        json_string(cli_jbool(net, "EnableIPv6") ? "true"
                                                                 : "false"));
    json_object_set_new(row, "Internal",
                        json_string(cli_jbool(net, "Internal") ? "true"
                                                               : "false"));
    json_object_set_new(row, "Labels",
                        cli_network_labels(cli_jget(net, "Labels")));
    json_object_set_new(row, "Name", json_string(cli_jstr(net, "Name")));
    json_object_set_new(row, "Scope", json_string(cli_jstr(net, "Scope")));
    return row;
}

static int cli_network_cmp(const void *a, const void *b)
{
    const char *x = cli_jstr(*(json_t *const *)a, "Name");
    const char *y = cli_jstr(*(json_t *const *)b, "Name");

    return cli_format_natural_cmp(x, y);
}

int cli_network_ls(struct cli *c, struct cli_args *a, struct err *err)
{
    struct cli_format f;
    json_t *nets = NULL;
    json_t **sorted = NULL;
    char *filters = cli_filters_query(a, "filter");
    bool no_trunc = cli_flag_bool(a, "no-trunc");
    char *path;
    size_t n;
    size_t i;
    int rv;

    /* docker asks the daemon before it parses --format */
    memset(&f, 0, sizeof(f));
    path = filters != NULL ? xasprintf("/networks?filters=%s", filters)
                           : xstrdup("/networks");
    free(filters);
    rv = cli_http_json(c, "GET", path, NULL, &nets, err);
    free(path);
    if (rv != 0)
        goto out;
    rv = cli_format_init(&f, cli_flag_str(a, "format"), CLI_NETWORK__TABLE,
                         cli_flag_bool(a, "quiet"), "{{.ID}}",
                         json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
                                   "CreatedAt", "CREATED AT", "Driver",
                                   "DRIVER", "ID", "NETWORK ID", "IPv4",
                                   "IPV4", "IPv6", "IPV6", "Internal",
                                   "INTERNAL", "Labels", "LABELS", "Name",
                                   "NAME", "Scope", "SCOPE"),
                         "*network.networkContext", err);
    if (rv != 0)
        goto out;
    n = json_array_size(nets);
    sorted = cli_jsorted(nets, cli_network_cmp);
    for (i = 0; i < n && rv == 0; i++) {
        json_t *row = cli_network_row(sorted[i], no_trunc);

        rv = cli_format_row(&f, row, err);
        json_decref(row);
    }
    if (rv == 0)
        rv = cli_format_flush(&f, stdout, err);
out:
    free(sorted);
    json_decref(nets);
    cli_format_release(&f);
    return rv;
}

int cli_network_inspect(struct cli *c, struct cli_args *a, struct err *err)
{
    char **paths = xcalloc((size_t)a->argc + 1, sizeof(*paths));
    size_t i;
    int rv;

    for (i = 0; i < (size_t)a->argc; i++) {
        char *esc = cli_http_escape(a->argv[i]);

        paths[i] = xasprintf("/networks/%s%s", esc,
                             cli_flag_bool(a, "verbose") ? "?verbose=true"
                                                         : "");
        free(esc);
    }
    rv = cli_format_inspect_paths(c, paths, (size_t)a->argc,
                                  cli_flag_str(a, "format"), err);
    for (i = 0; i < (size_t)a->argc; i++)
        free(paths[i]);
    free(paths);
    return rv;
}

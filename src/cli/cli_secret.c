/* SPDX-License-Identifier: Apache-2.0 */
/* shoal secret|config create/ls/inspect/rm: docker's tables and texts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/b64.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "cli/cli_int.h"

#define CLI_SECRET__MAX_FILE (1024 * 1024 + 1)

/* "secrets" or "configs", from the command path ("shoal config ls"). */
static const char *cli_secret_kind(const struct cli_args *a)
{
    return strstr(a->path, " config ") != NULL ? "configs" : "secrets";
}

/* "5 minutes ago" from an RFC 3339 time. */
static json_t *cli_secret_ago(const char *when)
{
    struct tm tm;
    char out[64];
    time_t t;

    memset(&tm, 0, sizeof(tm));
    if (when == NULL ||
        sscanf(when, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
               &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return json_string("");
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    t = timegm(&tm);
    cli_format_human_duration(((int64_t)time(NULL) - (int64_t)t) *
                                  1000000000LL,
                              out, sizeof(out) - 5);
    strcat(out, " ago");
    return json_string(out);
}

/* Read a file (or stdin for "-"), capped. */
static int cli_secret_read(const char *path, struct buf *out,
                           struct err *err)
{
    FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char chunk[8192];
    size_t n;

    if (fp == NULL)
        return err_sys(err, ERR_INVALID, errno, "open %s", path);
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
        if (buf_append(out, chunk, n) != 0) {
            if (fp != stdin)
                fclose(fp);
            return err_set(err, ERR_INVALID, "%s is too big", path);
        }
    }
    if (fp != stdin)
        fclose(fp);
    return 0;
}

int cli_secret_create(struct cli *c, struct cli_args *a, struct err *err)
{
    const char *kind = cli_secret_kind(a);
    const char *file = a->argc > 1 ? a->argv[1] : "-";
    size_t n_labels = 0;
    const char **labels = cli_flag_list(a, "label", &n_labels);
    json_t *spec;
    json_t *lab = json_object();
    json_t *out = NULL;
    struct buf data;
    char *enc;
    char *path;
    size_t i;
    int rv;

    buf_init(&data, CLI_SECRET__MAX_FILE);
    rv = cli_secret_read(file, &data, err);
    if (rv != 0) {
        json_decref(lab);
        buf_release(&data);
        return rv;
    }
    for (i = 0; i < n_labels; i++) {
        const char *eq = strchr(labels[i], '=');

        if (eq == NULL)
            json_object_set_new(lab, labels[i], json_string(""));
        else {
            char *k = xstrndup(labels[i], (size_t)(eq - labels[i]));

            json_object_set_new(lab, k, json_string(eq + 1));
            free(k);
        }
    }
    enc = b64_encode((const unsigned char *)data.data, data.len);
    buf_release(&data);
    spec = json_pack("{s:s, s:o, s:s}", "Name", a->argv[0], "Labels", lab,
                     "Data", enc);
    free(enc);
    path = xasprintf("/%s/create", kind);
    rv = cli_http_json(c, "POST", path, spec, &out, err);
    free(path);
    json_decref(spec);
    if (rv == 0)
        printf("%s\n", cli_jstr(out, "ID"));
    json_decref(out);
    return rv;
}

int cli_secret_ls(struct cli *c, struct cli_args *a, struct err *err)
{
    const char *kind = cli_secret_kind(a);
    bool secret = strcmp(kind, "secrets") == 0;
    struct cli_format f;
    json_t *list = NULL;
    char *filters = cli_filters_query(a, "filter");
    char *path;
    json_t *v;
    size_t i;
    int rv;

    memset(&f, 0, sizeof(f));
    path = filters != NULL ? xasprintf("/%s?filters=%s", kind, filters)
                           : xasprintf("/%s", kind);
    free(filters);
    rv = cli_http_json(c, "GET", path, NULL, &list, err);
    free(path);
    if (rv != 0)
        goto out;
    rv = cli_format_init(
        &f, cli_flag_str(a, "format"),
        secret ? "table {{.ID}}\\t{{.Name}}\\t{{.Driver}}\\t{{.CreatedAt}}"
                 "\\t{{.UpdatedAt}}"
               : "table {{.ID}}\\t{{.Name}}\\t{{.CreatedAt}}\\t"
                 "{{.UpdatedAt}}",
        cli_flag_bool(a, "quiet"), "{{.ID}}",
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "ID", "ID", "Name", "NAME",
                  "Driver", "DRIVER", "CreatedAt", "CREATED", "UpdatedAt",
                  "UPDATED", "Labels", "LABELS"),
        secret ? "*secret.secretContext" : "*config.configContext", err);
    if (rv != 0)
        goto out;
    json_array_foreach(list, i, v) {
        json_t *row = json_pack(
            "{s:s, s:s, s:s, s:o, s:o}", "ID", cli_jstr(v, "ID"), "Name",
            cli_jstr(v, "Spec.Name"), "Driver",
            cli_jstr(v, "Spec.Driver.Name") ? cli_jstr(v, "Spec.Driver.Name")
                                            : "",
            "CreatedAt", cli_secret_ago(cli_jstr(v, "CreatedAt")),
            "UpdatedAt", cli_secret_ago(cli_jstr(v, "UpdatedAt")));

        rv = cli_format_row(&f, row, err);
        json_decref(row);
        if (rv != 0)
            goto out;
    }
    rv = cli_format_flush(&f, stdout, err);
out:
    json_decref(list);
    cli_format_release(&f);
    return rv;
}

int cli_secret_inspect(struct cli *c, struct cli_args *a, struct err *err)
{
    const char *kind = cli_secret_kind(a);
    char **paths = xcalloc((size_t)a->argc + 1, sizeof(*paths));
    size_t i;
    int rv;

    for (i = 0; i < (size_t)a->argc; i++) {
        char *esc = cli_http_escape(a->argv[i]);

        paths[i] = xasprintf("/%s/%s", kind, esc);
        free(esc);
    }
    rv = cli_format_inspect_paths(c, paths, (size_t)a->argc,
                                  cli_flag_str(a, "format"), err);
    for (i = 0; i < (size_t)a->argc; i++)
        free(paths[i]);
    free(paths);
    return rv;
}

int cli_secret_rm(struct cli *c, struct cli_args *a, struct err *err)
{
    const char *kind = cli_secret_kind(a);
    struct buf errs;
    int i;
    int rv = 0;

    buf_init(&errs, 1 << 20);
    for (i = 0; i < a->argc; i++) {
        char *esc = cli_http_escape(a->argv[i]);
        char *path = xasprintf("/%s/%s", kind, esc);
        struct err e;

        err_clear(&e);
        if (cli_http_json(c, "DELETE", path, NULL, NULL, &e) != 0)
            (void)buf_printf(&errs, "%s%s", errs.len ? "\n" : "", e.msg);
        else
            printf("%s\n", a->argv[i]);
        free(path);
        free(esc);
    }
    if (errs.len > 0)
        rv = err_set(err, ERR_INVALID, "%s", errs.data);
    buf_release(&errs);
    return rv;
}

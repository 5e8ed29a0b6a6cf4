/* SPDX-License-Identifier: Apache-2.0 */
/* Go text/template subset: executes a parsed template with docker's funcs. */
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/compiler.h"
#include "base/err.h"
#include "base/mem.h"
#include "cli/cli_int.h"
#include "cli/cli_template_int.h"

/* ------------------------------------------------------------------ */
/* values: Go's %v and truth                                          */
/* ------------------------------------------------------------------ */

/* An object is struct-like (Go struct) when it has keys and all of them
 * start with an upper-case letter; maps print as map[k:v]. */
static bool cli_template_exec_is_struct(const json_t *v)
{
    const char *key;
    json_t *val;

    if (!json_is_object(v) || json_object_size(v) == 0)
        return false;
    json_object_foreach((json_t *)v, key, val) {
        (void)val;
        if (!isupper((unsigned char)key[0]))
            return false;
    }
    return true;
}

static int cli_template_exec_cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Go's %v of a value decoded from JSON; NULL is an invalid value. */
static void cli_template_exec_print(const json_t *v, struct buf *out)
{
    size_t i;

    if (v == NULL) {
        (void)buf_puts(out, "<no value>");
        return;
    }
    switch (json_typeof(v)) {
    case JSON_STRING:
        (void)buf_append(out, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        (void)buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        cli_format_float(json_real_value(v), false, out);
        break;
    case JSON_TRUE:
        (void)buf_puts(out, "true");
        break;
    case JSON_FALSE:
        (void)buf_puts(out, "false");
        break;
    case JSON_NULL:
        (void)buf_puts(out, "<nil>");
        break;
    case JSON_ARRAY:
        (void)buf_puts(out, "[");
        for (i = 0; i < json_array_size(v); i++) {
            if (i > 0)
                (void)buf_puts(out, " ");
            cli_template_exec_print(json_array_get(v, i), out);
        }
        (void)buf_puts(out, "]");
        break;
    case JSON_OBJECT: {
        const char **keys;
        size_t n = 0;
        const char *key;
        json_t *val;
        bool st = cli_template_exec_is_struct(v);

        keys = xcalloc(json_object_size(v) + 1, sizeof(*keys));
        json_object_foreach((json_t *)v, key, val) {
            (void)val;
            keys[n++] = key;
        }
        if (!st)
            qsort(keys, n, sizeof(*keys), cli_template_exec_cmp_keys);
        (void)buf_puts(out, st ? "{" : "map[");
        for (i = 0; i < n; i++) {
            if (i > 0)
                (void)buf_puts(out, " ");
            if (!st)
                (void)buf_printf(out, "%s:", keys[i]);
            cli_template_exec_print(json_object_get(v, keys[i]), out);
        }
        (void)buf_puts(out, st ? "}" : "]");
        free(keys);
        break;
    }
    }
}

static bool cli_template_exec_truth(const json_t *v)
{
    if (v == NULL)
        return false;
    switch (json_typeof(v)) {
    case JSON_STRING: return json_string_length(v) > 0;
    case JSON_INTEGER: return json_integer_value(v) != 0;
    case JSON_REAL: return json_real_value(v) != 0;
    case JSON_TRUE: return true;
    case JSON_FALSE: return false;
    case JSON_NULL: return false;
    case JSON_ARRAY: return json_array_size(v) > 0;
    case JSON_OBJECT:
        return json_object_size(v) > 0;
    }
    return false;
}

/* ------------------------------------------------------------------ */
/* execution                                                          */
/* ------------------------------------------------------------------ */

struct cli_template_exec_var
{
    char *name;   /* borrowed from the tree */
    json_t *val;  /* owned reference, may be NULL */
};

struct cli_template_exec
{
    const struct cli_template *t;
    bool header;
    const char *type_name;
    json_t *root;
    struct buf *out;
    struct err *err;
    json_t *omitted;                    /* owned: the zero value of an
                                         * omitted struct field */
    struct cli_template_exec_var *vars; /* owned stack */
    size_t n_vars;
    size_t cap_vars;
};

static int cli_template_exec_error(struct cli_template_exec *ex,
                                   const struct cli_template_arg *at,
                                   const char *fmt, ...) PRINTF_LIKE(3, 4);

static int cli_template_exec_error(struct cli_template_exec *ex,
                                   const struct cli_template_arg *at,
                                   const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    size_t col = at->pos;
    size_t i;
    int line = cli_template_line_of(ex->t->src, at->pos);

    for (i = at->pos; i > 0; i--) {
        if (ex->t->src[i - 1] == '\n') {
            col = at->pos - i;
            break;
        }
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return err_set(ex->err, ERR_INVALID,
                   "template: :%d:%zu: executing \"\" at <%s>: %s", line, col,
                   at->src, msg);
}

static void cli_template_exec_push_var(struct cli_template_exec *ex, char *name,
                                       json_t *val)
{
    if (ex->n_vars == ex->cap_vars) {
        ex->cap_vars = ex->cap_vars ? 2 * ex->cap_vars : 8;
        ex->vars = xrealloc(ex->vars, ex->cap_vars * sizeof(*ex->vars));
    }
    ex->vars[ex->n_vars].name = name;
    ex->vars[ex->n_vars].val = json_incref(val);
    ex->n_vars++;
}

static void cli_template_exec_pop_vars(struct cli_template_exec *ex,
                                       size_t mark)
{
    while (ex->n_vars > mark) {
        ex->n_vars--;
        json_decref(ex->vars[ex->n_vars].val);
    }
}

static int cli_template_exec_eval_pipe(struct cli_template_exec *ex,
                                       const struct cli_template_pipe *pipe,
                                       json_t *dot, json_t **out);

/* Apply .Field lookups; consumes a reference to v. */
static int cli_template_exec_fields(struct cli_template_exec *ex,
                                    const struct cli_template_arg *a, json_t *v,
                                    bool is_root, json_t **out)
{
    size_t i;

    for (i = 0; i < a->n_fields; i++) {
        json_t *next;

        if (v == NULL || json_is_null(v) || v == ex->omitted) {
            json_decref(v);
            *out = NULL;
            if (ex->header)
                return 0;
            return cli_template_exec_error(ex, a, "nil pointer evaluating "
                                                  "interface {}.%s",
                                           a->fields[i]);
        }
        if (!json_is_object(v)) {
            int rv = cli_template_exec_error(
                ex, a, "can't evaluate field %s in type %s", a->fields[i],
                json_is_array(v)     ? "[]interface {}"
                : json_is_string(v)  ? "string"
                : json_is_boolean(v) ? "bool"
                : json_is_integer(v) ? "int"
                                     : "float64");

            json_decref(v);
            *out = NULL;
            return rv;
        }
        next = json_object_get(v, a->fields[i]);
        /* Only the rows we build ourselves (type_name set) know all
         * their fields; an API object omits empty ones (omitempty), which
         * Go would see as zero values or nil pointers. */
        if (next == NULL && !ex->header && ex->type_name != NULL &&
            is_root && i == 0 && cli_template_exec_is_struct(v)) {
            int rv = cli_template_exec_error(
                ex, a, "can't evaluate field %s in type %s", a->fields[i],
                ex->type_name);

            json_decref(v);
            *out = NULL;
            return rv;
        }
        if (next == NULL && !ex->header && cli_template_exec_is_struct(v)) {
            /* an omitted (omitempty) struct field: it prints as "" and is
             * false, like Go's zero string or nil pointer */
            json_decref(v);
            v = json_incref(ex->omitted);
            continue;
        }
        json_incref(next);
        json_decref(v);
        v = next;
    }
    *out = v;
    return 0;
}

static int cli_template_exec_eval_arg(struct cli_template_exec *ex,
                                      const struct cli_template_arg *a,
                                      json_t *dot, json_t **out)
{
    json_t *v = NULL;
    size_t i;
    int rv;

    *out = NULL;
    switch (a->kind) {
    case CLI_TEMPLATE_ARG_FIELD:
        return cli_template_exec_fields(ex, a, json_incref(dot),
                                        dot == ex->root, out);
    case CLI_TEMPLATE_ARG_VAR:
        if (strcmp(a->name, "$") == 0) {
            return cli_template_exec_fields(ex, a, json_incref(ex->root), true,
                                            out);
        }
        for (i = ex->n_vars; i > 0; i--) {
            if (strcmp(ex->vars[i - 1].name, a->name) == 0) {
                v = ex->vars[i - 1].val;
                break;
            }
        }
        if (i == 0)
            return cli_template_exec_error(ex, a, "undefined variable: %s",
                                           a->name);
        return cli_template_exec_fields(ex, a, json_incref(v), false, out);
    case CLI_TEMPLATE_ARG_LIT:
        *out = json_incref(a->lit);
        return 0;
    case CLI_TEMPLATE_ARG_PIPE:
        rv = cli_template_exec_eval_pipe(ex, a->pipe, dot, &v);
        if (rv != 0)
            return rv;
        return cli_template_exec_fields(ex, a, v, false, out);
    case CLI_TEMPLATE_ARG_FUNC:
        return cli_template_exec_error(ex, a, "function %s used as a value",
                                       a->name);
    }
    return 0;
}

/* The string form of a value for string functions. */
static char *cli_template_exec_to_str(const json_t *v)
{
    struct buf b;

    if (v == NULL)
        return xstrdup("");
    buf_init(&b, CLI_OUT_MAX);
    cli_template_exec_print(v, &b);
    return buf_detach(&b, NULL);
}

static json_t *cli_template_exec_str_take(char *s)
{
    json_t *v = json_string(s);

    if (v == NULL)
        v = json_stringn(s, strlen(s));
    if (v == NULL)
        v = json_string("");
    free(s);
    return v;
}

static bool cli_template_exec_is_num(const json_t *v)
{
    return json_is_integer(v) || json_is_real(v);
}

/* -2, 0, 2 for lt/eq/gt; 3 when the kinds cannot be compared. */
static int cli_template_exec_compare(const json_t *a, const json_t *b)
{
    if (a == NULL || b == NULL)
        return a == b ? 0 : 3;
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a);
        json_int_t y = json_integer_value(b);

        return x < y ? -2 : x > y ? 2 : 0;
    }
    if (cli_template_exec_is_num(a) && cli_template_exec_is_num(b)) {
        double x = json_number_value(a);
        double y = json_number_value(b);

        return x < y ? -2 : x > y ? 2 : 0;
    }
    if (json_is_string(a) && json_is_string(b)) {
        int c = strcmp(json_string_value(a), json_string_value(b));

        return c < 0 ? -2 : c > 0 ? 2 : 0;
    }
    if (json_is_boolean(a) && json_is_boolean(b))
        return json_is_true(a) == json_is_true(b) ? 0 : 1;
    if (json_is_null(a) && json_is_null(b))
        return 0;
    return 3;
}

/* Minimal fmt.Sprintf: %s %v %d %q %t %x %X %% with '-'/'0' and width. */
static char *cli_template_exec_sprintf(const char *fmt, json_t **args, size_t n)
{
    struct buf b;
    size_t ai = 0;
    const char *p;

    buf_init(&b, CLI_OUT_MAX);
    for (p = fmt; *p != '\0'; p++) {
        bool left = false;
        bool zero = false;
        size_t width = 0;
        struct buf v;
        const json_t *arg;
        char *s;
        size_t len;

        if (*p != '%') {
            (void)buf_append(&b, p, 1);
            continue;
        }
        p++;
        while (*p == '-' || *p == '0' || *p == '+' || *p == ' ') {
            if (*p == '-')
                left = true;
            if (*p == '0')
                zero = true;
            p++;
        }
        while (isdigit((unsigned char)*p))
            width = width * 10 + (size_t)(*p++ - '0');
        if (*p == '\0')
            break;
        if (*p == '%') {
            (void)buf_append(&b, "%", 1);
            continue;
        }
        if (ai >= n) {
            (void)buf_printf(&b, "%%!%c(MISSING)", *p);
            continue;
        }
        arg = args[ai++];
        buf_init(&v, CLI_OUT_MAX);
        switch (*p) {
        case 'q':
            if (json_is_string(arg))
                cli_format_json_string(json_string_value(arg),
                                       json_string_length(arg), &v);
            else
                cli_template_exec_print(arg, &v);
            break;
        case 'x':
        case 'X':
            if (json_is_integer(arg)) {
                if (*p == 'x')
                    (void)buf_printf(&v, "%llx",
                                     (long long)json_integer_value(arg));
                else
                    (void)buf_printf(&v, "%llX",
                                     (long long)json_integer_value(arg));
            } else {
                const char *hx = *p == 'x' ? "0123456789abcdef"
                                           : "0123456789ABCDEF";
                char *str = cli_template_exec_to_str(arg);
                size_t k;

                for (k = 0; str[k] != '\0'; k++) {
                    char h[2] = {hx[(unsigned char)str[k] >> 4],
                                 hx[(unsigned char)str[k] & 15]};

                    (void)buf_append(&v, h, 2);
                }
                free(str);
            }
            break;
        default:
            cli_template_exec_print(arg, &v);
            break;
        }
        s = buf_detach(&v, &len);
        if (!left && len < width) {
            size_t k;

            for (k = len; k < width; k++)
                (void)buf_append(&b, zero ? "0" : " ", 1);
        }
        (void)buf_append(&b, s, len);
        if (left && len < width)
            cli_tabwriter_pad(&b, width - len);
        free(s);
    }
    while (ai < n) {
        char *s = cli_template_exec_to_str(args[ai++]);

        (void)buf_printf(&b, "%%!(EXTRA %s)", s);
        free(s);
    }
    return buf_detach(&b, NULL);
}

static char *cli_template_exec_title(const char *s)
{
    char *r = xstrdup(s);
    bool prev_sep = true;
    size_t i;

    for (i = 0; r[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)r[i];
        bool sep = !(isalnum(ch) || ch == '_' || ch >= 0x80);

        if (prev_sep && !sep)
            r[i] = (char)toupper(ch);
        prev_sep = sep;
    }
    return r;
}

static int cli_template_exec_call(struct cli_template_exec *ex,
                                  const struct cli_template_arg *fn,
                                  json_t **args, size_t n, json_t **out)
{
    const char *name = fn->name;
    char *s;
    size_t i;

    *out = NULL;
    if (ex->header &&
        (strcmp(name, "json") == 0 || strcmp(name, "split") == 0 ||
         strcmp(name, "join") == 0 || strcmp(name, "title") == 0 ||
         strcmp(name, "lower") == 0 || strcmp(name, "upper") == 0 ||
         strcmp(name, "truncate") == 0)) {
        /* docker's header functions leave the column title as it is */
        if (n < 1)
            return cli_template_exec_error(ex, fn, "wrong number of args for "
                                                   "%s", name);
        *out = json_incref(args[0]);
        return 0;
    }
    if (strcmp(name, "json") == 0) {
        if (n != 1)
            goto wrong_args;
        *out = cli_template_exec_str_take(cli_format_json_compact(args[0]));
        return 0;
    }
    if (strcmp(name, "upper") == 0 || strcmp(name, "lower") == 0) {
        if (n != 1)
            goto wrong_args;
        s = cli_template_exec_to_str(args[0]);
        for (i = 0; s[i] != '\0'; i++)
            s[i] = (char)(name[0] == 'u' ? toupper((unsigned char)s[i])
                                         : tolower((unsigned char)s[i]));
        *out = cli_template_exec_str_take(s);
        return 0;
    }
    if (strcmp(name, "title") == 0) {
        if (n != 1)
            goto wrong_args;
        s = cli_template_exec_to_str(args[0]);
        *out = cli_template_exec_str_take(cli_template_exec_title(s));
        free(s);
        return 0;
    }
    if (strcmp(name, "split") == 0) {
        char *sep;
        char *p;
        json_t *arr = json_array();

        if (n != 2)
            goto wrong_args;
        s = cli_template_exec_to_str(args[0]);
        sep = cli_template_exec_to_str(args[1]);
        p = s;
        if (*sep == '\0') {
            while (*p != '\0') {
                size_t k = 1;

                while (((unsigned char)p[k] & 0xC0) == 0x80)
                    k++;
                json_array_append_new(arr, json_stringn(p, k));
                p += k;
            }
        } else {
            for (;;) {
                char *q = strstr(p, sep);

                if (q == NULL) {
                    json_array_append_new(arr, json_string(p));
                    break;
                }
                json_array_append_new(arr, json_stringn(p, (size_t)(q - p)));
                p = q + strlen(sep);
            }
        }
        free(s);
        free(sep);
        *out = arr;
        return 0;
    }
    if (strcmp(name, "join") == 0) {
        struct buf b;
        char *sep;

        if (n != 2)
            goto wrong_args;
        if (!json_is_array(args[0]))
            return cli_template_exec_error(ex, fn, "wrong type for value; "
                                                   "expected []string");
        sep = cli_template_exec_to_str(args[1]);
        buf_init(&b, CLI_OUT_MAX);
        for (i = 0; i < json_array_size(args[0]); i++) {
            if (i > 0)
                (void)buf_puts(&b, sep);
            cli_template_exec_print(json_array_get(args[0], i), &b);
        }
        free(sep);
        *out = cli_template_exec_str_take(buf_detach(&b, NULL));
        return 0;
    }
    if (strcmp(name, "pad") == 0) {
        struct buf b;

        if (n != 3 || !json_is_integer(args[1]) || !json_is_integer(args[2]))
            goto wrong_args;
        s = cli_template_exec_to_str(args[0]);
        if (*s == '\0') {
            *out = cli_template_exec_str_take(s);
            return 0;
        }
        buf_init(&b, CLI_OUT_MAX);
        if (json_integer_value(args[1]) > 0)
            cli_tabwriter_pad(&b, (size_t)json_integer_value(args[1]));
        (void)buf_puts(&b, s);
        if (json_integer_value(args[2]) > 0)
            cli_tabwriter_pad(&b, (size_t)json_integer_value(args[2]));
        free(s);
        *out = cli_template_exec_str_take(buf_detach(&b, NULL));
        return 0;
    }
    if (strcmp(name, "truncate") == 0) {
        json_int_t len;

        if (n != 2 || !json_is_integer(args[1]))
            goto wrong_args;
        s = cli_template_exec_to_str(args[0]);
        len = json_integer_value(args[1]);
        if (len >= 0 && strlen(s) >= (size_t)len)
            s[len] = '\0';
        *out = cli_template_exec_str_take(s);
        return 0;
    }
    if (strcmp(name, "println") == 0 || strcmp(name, "print") == 0) {
        struct buf b;
        bool ln = name[5] == 'l';

        buf_init(&b, CLI_OUT_MAX);
        for (i = 0; i < n; i++) {
            /* Sprint adds spaces only between two non-strings. */
            if (i > 0 && (ln || (!json_is_string(args[i]) &&
                                 !json_is_string(args[i - 1]))))
                (void)buf_puts(&b, " ");
            cli_template_exec_print(args[i], &b);
        }
        if (ln)
            (void)buf_puts(&b, "\n");
        *out = cli_template_exec_str_take(buf_detach(&b, NULL));
        return 0;
    }
    if (strcmp(name, "printf") == 0) {
        if (n < 1)
            goto wrong_args;
        s = cli_template_exec_to_str(args[0]);
        *out = cli_template_exec_str_take(
            cli_template_exec_sprintf(s, args + 1, n - 1));
        free(s);
        return 0;
    }
    if (strcmp(name, "index") == 0) {
        json_t *v;

        if (n < 1)
            goto wrong_args;
        v = args[0];
        for (i = 1; i < n; i++) {
            if (json_is_object(v) && json_is_string(args[i])) {
                v = json_object_get(v, json_string_value(args[i]));
                if (v == NULL) {
                    /* a missing map key gives the zero value */
                    *out = json_string("");
                    return 0;
                }
            } else if (json_is_array(v) && json_is_integer(args[i])) {
                json_int_t k = json_integer_value(args[i]);

                if (k < 0 || (size_t)k >= json_array_size(v))
                    return cli_template_exec_error(
                        ex, fn, "error calling index: index out of range: %"
                        JSON_INTEGER_FORMAT, k);
                v = json_array_get(v, (size_t)k);
            } else {
                return cli_template_exec_error(ex, fn, "error calling index: "
                                                       "cannot index value");
            }
        }
        *out = json_incref(v);
        return 0;
    }
    if (strcmp(name, "len") == 0) {
        if (n != 1)
            goto wrong_args;
        if (json_is_string(args[0]))
            *out = json_integer((json_int_t)json_string_length(args[0]));
        else if (json_is_array(args[0]))
            *out = json_integer((json_int_t)json_array_size(args[0]));
        else if (json_is_object(args[0]))
            *out = json_integer((json_int_t)json_object_size(args[0]));
        else
            return cli_template_exec_error(ex, fn, "error calling len: len of "
                                                   "type %s",
                                           args[0] == NULL ? "<nil>" : "value");
        return 0;
    }
    if (strcmp(name, "not") == 0) {
        if (n != 1)
            goto wrong_args;
        *out = json_boolean(!cli_template_exec_truth(args[0]));
        return 0;
    }
    if (strcmp(name, "and") == 0 || strcmp(name, "or") == 0) {
        bool is_and = name[0] == 'a';

        if (n < 1)
            goto wrong_args;
        for (i = 0; i + 1 < n; i++) {
            if (cli_template_exec_truth(args[i]) != is_and)
                break;
        }
        *out = json_incref(args[i]);
        return 0;
    }
    if (strcmp(name, "eq") == 0) {
        bool eq = false;

        if (n < 2)
            goto wrong_args;
        for (i = 1; i < n; i++) {
            int c = cli_template_exec_compare(args[0], args[i]);

            if (c == 3)
                return cli_template_exec_error(ex, fn, "error calling eq: "
                                                       "incompatible types for "
                                                       "comparison");
            if (c == 0)
                eq = true;
        }
        *out = json_boolean(eq);
        return 0;
    }
    {
        int c;

        if (n != 2)
            goto wrong_args;
        c = cli_template_exec_compare(args[0], args[1]);
        if (c == 3 || (c == 1 && strcmp(name, "ne") != 0))
            return cli_template_exec_error(ex, fn, "error calling %s: "
                                                   "incompatible types for "
                                                   "comparison",
                                           name);
        if (strcmp(name, "ne") == 0)
            *out = json_boolean(c != 0);
        else if (strcmp(name, "lt") == 0)
            *out = json_boolean(c < 0);
        else if (strcmp(name, "le") == 0)
            *out = json_boolean(c <= 0);
        else if (strcmp(name, "gt") == 0)
            *out = json_boolean(c > 0);
        else
            *out = json_boolean(c >= 0);
        return 0;
    }

wrong_args:
    return cli_template_exec_error(ex, fn, "wrong number of args for %s", name);
}

static int cli_template_exec_eval_cmd(struct cli_template_exec *ex,
                                      const struct cli_template_cmd *cmd,
                                      json_t *dot, json_t *final,
                                      bool has_final, json_t **out)
{
    const struct cli_template_arg *first = &cmd->args[0];
    json_t **args;
    size_t n = 0;
    size_t i;
    int rv = 0;

    *out = NULL;
    if (first->kind != CLI_TEMPLATE_ARG_FUNC) {
        if (cmd->n_args > 1 || has_final)
            return cli_template_exec_error(ex, first, "can't give argument to "
                                                      "non-function %s",
                                           first->src);
        return cli_template_exec_eval_arg(ex, first, dot, out);
    }
    args = xcalloc(cmd->n_args + 1, sizeof(*args));
    for (i = 1; i < cmd->n_args; i++) {
        rv = cli_template_exec_eval_arg(ex, &cmd->args[i], dot, &args[n]);
        n++;
        if (rv != 0)
            goto out;
    }
    if (has_final)
        args[n++] = json_incref(final);
    rv = cli_template_exec_call(ex, first, args, n, out);
out:
    for (i = 0; i < n; i++)
        json_decref(args[i]);
    free(args);
    return rv;
}

static int cli_template_exec_eval_pipe(struct cli_template_exec *ex,
                                       const struct cli_template_pipe *pipe,
                                       json_t *dot, json_t **out)
{
    json_t *val = NULL;
    size_t i;
    int rv;

    *out = NULL;
    for (i = 0; i < pipe->n_cmds; i++) {
        json_t *next;

        rv = cli_template_exec_eval_cmd(ex, &pipe->cmds[i], dot, val, i > 0,
                                        &next);
        json_decref(val);
        if (rv != 0)
            return rv;
        val = next;
    }
    *out = val;
    return 0;
}

static int cli_template_exec_list(struct cli_template_exec *ex,
                                  const struct cli_template_node *n,
                                  json_t *dot);

static int cli_template_exec_range(struct cli_template_exec *ex,
                                   const struct cli_template_node *n,
                                   json_t *val)
{
    size_t mark = ex->n_vars;
    size_t i;
    int rv = 0;

    if (json_is_array(val) && json_array_size(val) > 0) {
        for (i = 0; i < json_array_size(val) && rv == 0; i++) {
            json_t *elem = json_array_get(val, i);
            json_t *idx = json_integer((json_int_t)i);

            if (n->pipe->n_decl == 2) {
                cli_template_exec_push_var(ex, n->pipe->decl[0], idx);
                cli_template_exec_push_var(ex, n->pipe->decl[1], elem);
            } else if (n->pipe->n_decl == 1) {
                cli_template_exec_push_var(ex, n->pipe->decl[0], elem);
            }
            json_decref(idx);
            rv = cli_template_exec_list(ex, n->list, elem);
            cli_template_exec_pop_vars(ex, mark);
        }
        return rv;
    }
    if (json_is_object(val) && json_object_size(val) > 0) {
        const char **keys = xcalloc(json_object_size(val), sizeof(*keys));
        const char *key;
        json_t *v;
        size_t nk = 0;

        json_object_foreach(val, key, v) {
            (void)v;
            keys[nk++] = key;
        }
        qsort(keys, nk, sizeof(*keys), cli_template_exec_cmp_keys);
        for (i = 0; i < nk && rv == 0; i++) {
            json_t *elem = json_object_get(val, keys[i]);
            json_t *k = json_string(keys[i]);

            if (n->pipe->n_decl == 2) {
                cli_template_exec_push_var(ex, n->pipe->decl[0], k);
                cli_template_exec_push_var(ex, n->pipe->decl[1], elem);
            } else if (n->pipe->n_decl == 1) {
                cli_template_exec_push_var(ex, n->pipe->decl[0], elem);
            }
            json_decref(k);
            rv = cli_template_exec_list(ex, n->list, elem);
            cli_template_exec_pop_vars(ex, mark);
        }
        free(keys);
        return rv;
    }
    if (n->else_list != NULL)
        return cli_template_exec_list(ex, n->else_list, NULL);
    return 0;
}

static int cli_template_exec_list(struct cli_template_exec *ex,
                                  const struct cli_template_node *n,
                                  json_t *dot)
{
    size_t mark = ex->n_vars;
    int rv = 0;

    for (; n != NULL && rv == 0; n = n->next) {
        json_t *val = NULL;

        switch (n->kind) {
        case CLI_TEMPLATE_NODE_TEXT:
            if (buf_append(ex->out, n->text, n->text_len) != 0)
                rv = err_set(ex->err, ERR_TOOBIG, "template output too big");
            break;
        case CLI_TEMPLATE_NODE_ACTION:
            rv = cli_template_exec_eval_pipe(ex, n->pipe, dot, &val);
            if (rv != 0)
                break;
            if (n->pipe->n_decl > 0)
                cli_template_exec_push_var(ex, n->pipe->decl[0], val);
            else
                cli_template_exec_print(val, ex->out);
            json_decref(val);
            break;
        case CLI_TEMPLATE_NODE_IF:
        case CLI_TEMPLATE_NODE_WITH: {
            size_t inner = ex->n_vars;

            rv = cli_template_exec_eval_pipe(ex, n->pipe, dot, &val);
            if (rv != 0)
                break;
            if (n->pipe->n_decl > 0)
                cli_template_exec_push_var(ex, n->pipe->decl[0], val);
            if (cli_template_exec_truth(val))
                rv = cli_template_exec_list(
                    ex, n->list, n->kind == CLI_TEMPLATE_NODE_WITH ? val : dot);
            else if (n->else_list != NULL)
                rv = cli_template_exec_list(ex, n->else_list, dot);
            cli_template_exec_pop_vars(ex, inner);
            json_decref(val);
            break;
        }
        case CLI_TEMPLATE_NODE_RANGE:
            rv = cli_template_exec_eval_pipe(ex, n->pipe, dot, &val);
            if (rv != 0)
                break;
            rv = cli_template_exec_range(ex, n, val);
            json_decref(val);
            break;
        }
    }
    cli_template_exec_pop_vars(ex, mark);
    return rv;
}

int cli_template_exec_run(const struct cli_template *t, json_t *data,
                          bool header, const char *type_name, struct buf *out,
                          struct err *err)
{
    struct cli_template_exec ex;
    int rv;

    memset(&ex, 0, sizeof(ex));
    ex.t = t;
    ex.header = header;
    ex.type_name = type_name;
    ex.root = data;
    ex.out = out;
    ex.err = err;
    ex.omitted = json_string("");
    rv = cli_template_exec_list(&ex, t->root, data);
    json_decref(ex.omitted);
    free(ex.vars);
    return rv;
}

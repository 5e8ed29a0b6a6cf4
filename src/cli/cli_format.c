/* SPDX-License-Identifier: Apache-2.0 */
/* docker's list and inspect output, and Go/go-units renderings of
 * durations, sizes, times, floats and JSON. */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/compiler.h"
#include "base/err.h"
#include "base/mem.h"
#include "cli/cli_int.h"

/* ------------------------------------------------------------------ */
/* docker's list and inspect output                                    */
/* ------------------------------------------------------------------ */

static char *cli_format_prepare(const char *src, bool *out_table)
{
    struct buf b;
    const char *p;
    size_t len;

    *out_table = strncmp(src, "table", 5) == 0;
    if (*out_table)
        src += 5;
    while (*src == ' ')
        src++;
    len = strlen(src);
    while (len > 0 && src[len - 1] == ' ')
        len--;
    buf_init(&b, CLI_OUT_MAX);
    for (p = src; p < src + len; p++) {
        if (p[0] == '\\' && p + 1 < src + len && (p[1] == 't' || p[1] == 'n')) {
            (void)buf_append(&b, p[1] == 't' ? "\t" : "\n", 1);
            p++;
            continue;
        }
        (void)buf_append(&b, p, 1);
    }
    return buf_detach(&b, NULL);
}

int cli_format_init(struct cli_format *f, const char *format,
                    const char *default_table, bool quiet,
                    const char *quiet_format, json_t *header,
                    const char *type_name, struct err *err)
{
    const char *src;
    char *body;
    int rv;

    memset(f, 0, sizeof(f[0]));
    f->header = header;
    f->type_name = type_name;
    buf_init(&f->body, CLI_OUT_MAX);
    if (format == NULL || *format == '\0' || strcmp(format, "table") == 0)
        src = quiet ? quiet_format : default_table;
    else if (strcmp(format, "json") == 0)
        src = "{{json .}}";
    else
        src = format;
    body = cli_format_prepare(src, &f->table);
    rv = cli_template_parse(body, &f->tmpl, err);
    free(body);
    if (rv != 0)
        return err_wrap(err, "template parsing error");
    return 0;
}

int cli_format_row(struct cli_format *f, json_t *row, struct err *err)
{
    int rv = cli_template_exec_run(f->tmpl, row, false, f->type_name,
                                   &f->body, err);

    if (rv != 0)
        return err_wrap(err, "template parsing error");
    (void)buf_append(&f->body, "\n", 1);
    return 0;
}

int cli_format_flush(struct cli_format *f, FILE *fp, struct err *err)
{
    struct buf all;
    struct buf out;
    int rv;

    if (!f->table) {
        if (f->body.len > 0)
            fwrite(f->body.data, 1, f->body.len, fp);
        return 0;
    }
    buf_init(&all, CLI_OUT_MAX);
    buf_init(&out, CLI_OUT_MAX);
    rv = cli_template_exec_run(f->tmpl, f->header, true, f->type_name, &all,
                               err);
    if (rv != 0) {
        buf_release(&all);
        return err_wrap(err, "template parsing error");
    }
    (void)buf_append(&all, "\n", 1);
    if (f->body.len > 0)
        (void)buf_append(&all, f->body.data, f->body.len);
    cli_tabwriter_format(all.data, all.len, 10, 3, &out);
    if (out.len > 0)
        fwrite(out.data, 1, out.len, fp);
    buf_release(&all);
    buf_release(&out);
    return 0;
}

void cli_format_release(struct cli_format *f)
{
    cli_template_free(f->tmpl);
    f->tmpl = NULL;
    json_decref(f->header);
    f->header = NULL;
    buf_release(&f->body);
}

int cli_format_inspect(struct cli_resp *raws, size_t n, const char *format,
                       struct err *err)
{
    struct buf all;
    struct buf out;
    size_t i;

    buf_init(&all, CLI_OUT_MAX);
    buf_init(&out, CLI_OUT_MAX);
    if (format == NULL || *format == '\0') {
        if (n == 0) {
            fputs("[]\n", stdout);
            return 0;
        }
        (void)buf_append(&all, "[", 1);
        for (i = 0; i < n; i++) {
            if (i > 0)
                (void)buf_append(&all, ",", 1);
            (void)buf_append(&all, raws[i].body.data, raws[i].body.len);
        }
        (void)buf_append(&all, "]", 1);
        cli_format_json_indent(all.data, all.len, &out);
        (void)buf_append(&out, "\n", 1);
        fwrite(out.data, 1, out.len, stdout);
        buf_release(&all);
        buf_release(&out);
        return 0;
    }
    if (strcmp(format, "json") == 0) {
        /* docker 28: one compact JSON array of all the objects */
        (void)buf_append(&out, "[", 1);
        for (i = 0; i < n; i++) {
            json_t *v = json_loadb(raws[i].body.data, raws[i].body.len,
                                   JSON_DECODE_ANY, NULL);
            char *s = cli_format_json_compact(v);

            if (i > 0)
                (void)buf_append(&out, ",", 1);
            (void)buf_puts(&out, s);
            free(s);
            json_decref(v);
        }
        (void)buf_append(&out, "]\n", 2);
        fwrite(out.data, 1, out.len, stdout);
        buf_release(&out);
        buf_release(&all);
        return 0;
    }
    {
        struct cli_template *t;
        char *src;
        bool table;
        int rv;

        src = cli_format_prepare(format, &table);
        rv = cli_template_parse(src, &t, err);
        free(src);
        if (rv != 0)
            return err_wrap(err, "template parsing error");
        for (i = 0; i < n && rv == 0; i++) {
            json_error_t jerr;
            json_t *v = json_loadb(raws[i].body.data, raws[i].body.len,
                                   JSON_DECODE_ANY, &jerr);

            if (v == NULL) {
                rv = err_set(err, ERR_PROTO, "invalid JSON from daemon: %s",
                             jerr.text);
                break;
            }
            rv = cli_template_exec_run(t, v, false, NULL, &out, err);
            json_decref(v);
            if (rv != 0)
                rv = err_wrap(err, "template parsing error");
            (void)buf_append(&out, "\n", 1);
        }
        cli_template_free(t);
        /* docker flushes what it has, even after a failed element */
        if (out.len > 0)
            fwrite(out.data, 1, out.len, stdout);
        buf_release(&out);
        buf_release(&all);
        return rv;
    }
}

int cli_format_inspect_paths(struct cli *c, char *const *paths, size_t n,
                             const char *format, struct err *err)
{
    struct cli_resp *raws = xcalloc(n + 1, sizeof(*raws));
    struct buf errs;
    size_t got = 0;
    size_t i;
    int rv;

    buf_init(&errs, 1 << 20);
    for (i = 0; i < n; i++) {
        struct err e;

        err_clear(&e);
        if (cli_http_request(c, "GET", paths[i], NULL, &raws[got], &e) == 0)
            got++;
        else
            (void)buf_printf(&errs, "%s%s", errs.len ? "\n" : "", e.msg);
    }
    rv = cli_format_inspect(raws, got, format, err);
    for (i = 0; i < got; i++)
        cli_resp_release(&raws[i]);
    free(raws);
    if (rv == 0 && errs.len > 0)
        rv = err_set(err, ERR_NOTFOUND, "%s", errs.data);
    buf_release(&errs);
    return rv;
}

/* ------------------------------------------------------------------ */
/* Go's floats and JSON encoding                                       */
/* ------------------------------------------------------------------ */

/* Go prints floats with %v as strconv 'g' with the shortest digits and an
 * exponent when exp < -4 || exp >= 6; JSON uses 'e' below 1e-6 or from
 * 1e21. */
void cli_format_float(double d, bool json_style, struct buf *out)
{
    char tmp[96];
    char digits[64];
    int prec;
    int exp10 = 0;
    bool use_exp;
    char *e;

    if (isnan(d) || isinf(d)) {
        (void)buf_puts(out, isnan(d) ? "NaN" : d > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (d == 0) {
        (void)buf_puts(out, signbit(d) && !json_style ? "-0" : "0");
        return;
    }
    for (prec = 0; prec < 17; prec++) {
        snprintf(digits, sizeof(digits), "%.*e", prec, d);
        if (strtod(digits, NULL) == d)
            break;
    }
    e = strchr(digits, 'e');
    if (e != NULL)
        exp10 = atoi(e + 1);
    if (json_style)
        use_exp = fabs(d) < 1e-6 || fabs(d) >= 1e21;
    else
        use_exp = exp10 < -4 || exp10 >= 6;
    if (use_exp) {
        /* digits is "d.ddde+XX"; Go JSON drops a leading 0 in the
         * exponent, %v keeps two digits. */
        if (json_style && e != NULL) {
            int ex = atoi(e + 1);

            *e = '\0';
            snprintf(tmp, sizeof(tmp), "%se%c%d", digits, ex < 0 ? '-' : '+',
                     ex < 0 ? -ex : ex);
            (void)buf_puts(out, tmp);
        } else {
            (void)buf_puts(out, digits);
        }
        return;
    }
    {
        int decimals = prec - exp10;

        if (decimals < 0)
            decimals = 0;
        snprintf(tmp, sizeof(tmp), "%.*f", decimals, d);
        (void)buf_puts(out, tmp);
    }
}

/* Go's JSON string escaping without HTML escapes. */
void cli_format_json_string(const char *s, size_t len, struct buf *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    (void)buf_append(out, "\"", 1);
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch == '"' || ch == '\\') {
            char e[2] = {'\\', (char)ch};

            (void)buf_append(out, e, 2);
        } else if (ch == '\n') {
            (void)buf_puts(out, "\\n");
        } else if (ch == '\r') {
            (void)buf_puts(out, "\\r");
        } else if (ch == '\t') {
            (void)buf_puts(out, "\\t");
        } else if (ch < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};

            (void)buf_append(out, e, 6);
        } else if (ch == 0xE2 && i + 2 < len &&
                   (unsigned char)s[i + 1] == 0x80 &&
                   ((unsigned char)s[i + 2] == 0xA8 ||
                    (unsigned char)s[i + 2] == 0xA9)) {
            (void)buf_puts(out, (unsigned char)s[i + 2] == 0xA8 ? "\\u2028"
                                                                 : "\\u2029");
            i += 2;
        } else {
            (void)buf_append(out, &s[i], 1);
        }
    }
    (void)buf_append(out, "\"", 1);
}

static void cli_format_json_value(const json_t *v, struct buf *out)
{
    size_t i;
    const char *key;
    json_t *val;
    bool first = true;

    if (v == NULL) {
        (void)buf_puts(out, "null");
        return;
    }
    switch (json_typeof(v)) {
    case JSON_STRING:
        cli_format_json_string(json_string_value(v), json_string_length(v),
                               out);
        break;
    case JSON_INTEGER:
        (void)buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        cli_format_float(json_real_value(v), true, out);
        break;
    case JSON_TRUE:
        (void)buf_puts(out, "true");
        break;
    case JSON_FALSE:
        (void)buf_puts(out, "false");
        break;
    case JSON_NULL:
        (void)buf_puts(out, "null");
        break;
    case JSON_ARRAY:
        (void)buf_puts(out, "[");
        for (i = 0; i < json_array_size(v); i++) {
            if (i > 0)
                (void)buf_puts(out, ",");
            cli_format_json_value(json_array_get(v, i), out);
        }
        (void)buf_puts(out, "]");
        break;
    case JSON_OBJECT:
        (void)buf_puts(out, "{");
        json_object_foreach((json_t *)v, key, val) {
            if (!first)
                (void)buf_puts(out, ",");
            first = false;
            cli_format_json_string(key, strlen(key), out);
            (void)buf_puts(out, ":");
            cli_format_json_value(val, out);
        }
        (void)buf_puts(out, "}");
        break;
    }
}

char *cli_format_json_compact(const json_t *v)
{
    struct buf b;

    buf_init(&b, CLI_OUT_MAX);
    cli_format_json_value(v, &b);
    return buf_detach(&b, NULL);
}

/* ------------------------------------------------------------------ */
/* durations, sizes, times, names                                      */
/* ------------------------------------------------------------------ */

void cli_format_human_duration(int64_t ns, char *out, size_t cap)
{
    int64_t seconds = ns / 1000000000LL;
    int64_t minutes = ns / 60000000000LL;
    int64_t hours;

    if (seconds < 1) {
        snprintf(out, cap, "Less than a second");
        return;
    }
    if (seconds == 1) {
        snprintf(out, cap, "1 second");
        return;
    }
    if (seconds < 60) {
        snprintf(out, cap, "%" PRId64 " seconds", seconds);
        return;
    }
    if (minutes == 1) {
        snprintf(out, cap, "About a minute");
        return;
    }
    if (minutes < 60) {
        snprintf(out, cap, "%" PRId64 " minutes", minutes);
        return;
    }
    /* hours rounded half away from zero, as time.Duration.Round */
    hours = (ns + 1800000000000LL) / 3600000000000LL;
    if (hours == 1)
        snprintf(out, cap, "About an hour");
    else if (hours < 48)
        snprintf(out, cap, "%" PRId64 " hours", hours);
    else if (hours < 24 * 7 * 2)
        snprintf(out, cap, "%" PRId64 " days", hours / 24);
    else if (hours < 24 * 30 * 2)
        snprintf(out, cap, "%" PRId64 " weeks", hours / 24 / 7);
    else if (hours < 24 * 365 * 2)
        snprintf(out, cap, "%" PRId64 " months", hours / 24 / 30);
    else
        snprintf(out, cap, "%" PRId64 " years",
                 (int64_t)(ns / 3600000000000LL / 24 / 365));
}

void cli_format_bytes_size(double size, char *out, size_t cap)
{
    static const char *const units[] = {"B",   "KiB", "MiB", "GiB", "TiB",
                                        "PiB", "EiB", "ZiB", "YiB"};
    size_t i = 0;

    while (size >= 1024.0 && i + 1 < ARRAY_SIZE(units)) {
        size /= 1024.0;
        i++;
    }
    snprintf(out, cap, "%.4g%s", size, units[i]);
}

/* Write v/10^prec's fraction (".123", no trailing zeros) before *w. */
static uint64_t cli_format_frac(char *buf, size_t *w, uint64_t v, int prec)
{
    bool print = false;
    int i;

    for (i = 0; i < prec; i++) {
        unsigned digit = (unsigned)(v % 10);

        print = print || digit != 0;
        if (print)
            buf[--*w] = (char)('0' + digit);
        v /= 10;
    }
    if (print)
        buf[--*w] = '.';
    return v;
}

static void cli_format_uint(char *buf, size_t *w, uint64_t v)
{
    if (v == 0) {
        buf[--*w] = '0';
        return;
    }
    while (v > 0) {
        buf[--*w] = (char)('0' + v % 10);
        v /= 10;
    }
}

void cli_format_duration_string(int64_t ns, char *out, size_t cap)
{
    char buf[40];
    size_t w = sizeof(buf) - 1;
    bool neg = ns < 0;
    uint64_t u = neg ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;

    buf[w] = '\0';
    if (u < 1000000000ULL) {
        int prec;

        if (u == 0) {
            snprintf(out, cap, "0s");
            return;
        }
        buf[--w] = 's';
        if (u < 1000ULL) {
            prec = 0;
            buf[--w] = 'n';
        } else if (u < 1000000ULL) {
            prec = 3;
            buf[--w] = '\xb5';
            buf[--w] = '\xc2';
        } else {
            prec = 6;
            buf[--w] = 'm';
        }
        u = cli_format_frac(buf, &w, u, prec);
        cli_format_uint(buf, &w, u);
    } else {
        buf[--w] = 's';
        u = cli_format_frac(buf, &w, u, 9);
        cli_format_uint(buf, &w, u % 60);
        u /= 60;
        if (u > 0) {
            buf[--w] = 'm';
            cli_format_uint(buf, &w, u % 60);
            u /= 60;
            if (u > 0) {
                buf[--w] = 'h';
                cli_format_uint(buf, &w, u);
            }
        }
    }
    if (neg)
        buf[--w] = '-';
    snprintf(out, cap, "%s", buf + w);
}

static const struct
{
    const char *name;
    uint64_t ns;
} cli_format_units[] = {
    {"ns", 1ULL},
    {"us", 1000ULL},
    {"\xc2\xb5s", 1000ULL}, /* U+00B5 micro sign */
    {"\xce\xbcs", 1000ULL}, /* U+03BC Greek mu */
    {"ms", 1000000ULL},
    {"s", 1000000000ULL},
    {"m", 60000000000ULL},
    {"h", 3600000000000ULL},
};

int cli_format_duration_parse(const char *s, int64_t *out, struct err *err)
{
    const char *orig = s;
    uint64_t d = 0;
    bool neg = false;

    *out = 0;
    if (*s == '-' || *s == '+') {
        neg = *s == '-';
        s++;
    }
    if (strcmp(s, "0") == 0)
        return 0;
    if (*s == '\0')
        goto invalid;
    while (*s != '\0') {
        uint64_t v = 0;
        uint64_t f = 0;
        double scale = 1;
        bool pre;
        bool post = false;
        const char *start;
        uint64_t unit = 0;
        size_t ul;
        size_t k;

        if (!(*s == '.' || isdigit((unsigned char)*s)))
            goto invalid;
        start = s;
        while (isdigit((unsigned char)*s)) {
            if (v > (UINT64_C(1) << 63) / 10)
                goto invalid;
            v = v * 10 + (uint64_t)(*s - '0');
            if (v > (UINT64_C(1) << 63))
                goto invalid;
            s++;
        }
        pre = s != start;
        if (*s == '.') {
            bool overflow = false;

            s++;
            start = s;
            while (isdigit((unsigned char)*s)) {
                if (!overflow) {
                    if (f > (UINT64_C(1) << 63) / 10) {
                        overflow = true;
                    } else {
                        f = f * 10 + (uint64_t)(*s - '0');
                        scale *= 10;
                    }
                }
                s++;
            }
            post = s != start;
        }
        if (!pre && !post)
            goto invalid;
        start = s;
        while (*s != '\0' && *s != '.' && !isdigit((unsigned char)*s))
            s++;
        ul = (size_t)(s - start);
        if (ul == 0)
            return err_set(err, ERR_INVALID,
                           "time: missing unit in duration \"%s\"", orig);
        for (k = 0; k < ARRAY_SIZE(cli_format_units); k++) {
            if (strlen(cli_format_units[k].name) == ul &&
                memcmp(cli_format_units[k].name, start, ul) == 0) {
                unit = cli_format_units[k].ns;
                break;
            }
        }
        if (unit == 0)
            return err_set(err, ERR_INVALID,
                           "time: unknown unit \"%.*s\" in duration \"%s\"",
                           (int)ul, start, orig);
        if (v > (UINT64_C(1) << 63) / unit)
            goto invalid;
        v *= unit;
        if (f > 0) {
            v += (uint64_t)((double)f * ((double)unit / scale));
            if (v > (UINT64_C(1) << 63))
                goto invalid;
        }
        d += v;
        if (d > (UINT64_C(1) << 63))
            goto invalid;
    }
    if (neg) {
        *out = d == (UINT64_C(1) << 63) ? INT64_MIN : -(int64_t)d;
        return 0;
    }
    if (d > (UINT64_C(1) << 63) - 1)
        goto invalid;
    *out = (int64_t)d;
    return 0;

invalid:
    return err_set(err, ERR_INVALID, "time: invalid duration \"%s\"", orig);
}

void cli_format_pretty(const char *s, char *out, size_t cap)
{
    size_t i;

    if (cap == 0)
        return;
    for (i = 0; s[i] != '\0' && i + 1 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];

        out[i] = (char)(i == 0 ? toupper(ch) : tolower(ch));
    }
    out[i] = '\0';
}

void cli_format_go_float(double d, char *out, size_t cap)
{
    struct buf b;

    buf_init(&b, 64);
    cli_format_float(d, false, &b);
    snprintf(out, cap, "%s", b.data != NULL ? b.data : "");
    buf_release(&b);
}

bool cli_format_natural_less(const char *a, const char *b)
{
    size_t i = 0;
    size_t j = 0;
    size_t la = strlen(a);
    size_t lb = strlen(b);

    while (i < la && j < lb) {
        bool da = isdigit((unsigned char)a[i]);
        bool db = isdigit((unsigned char)b[j]);
        size_t nz_a;
        size_t nz_b;
        size_t len_a;
        size_t len_b;
        int c;

        if (da != db)
            return da;
        if (!da) {
            if (a[i] != b[j])
                return (unsigned char)a[i] < (unsigned char)b[j];
            i++;
            j++;
            continue;
        }
        while (i < la && a[i] == '0')
            i++;
        while (j < lb && b[j] == '0')
            j++;
        nz_a = i;
        nz_b = j;
        while (i < la && isdigit((unsigned char)a[i]))
            i++;
        while (j < lb && isdigit((unsigned char)b[j]))
            j++;
        len_a = i - nz_a;
        len_b = j - nz_b;
        if (len_a != len_b)
            return len_a < len_b;
        c = memcmp(a + nz_a, b + nz_b, len_a);
        if (c != 0)
            return c < 0;
        if (nz_a != nz_b)
            return nz_a < nz_b;
    }
    return la - i < lb - j;
}

static void cli_format_indent_newline(struct buf *out, int depth)
{
    int k;

    (void)buf_append(out, "\n", 1);
    for (k = 0; k < depth; k++)
        (void)buf_append(out, "    ", 4);
}

void cli_format_json_indent(const char *src, size_t len, struct buf *out)
{
    size_t i;
    int depth = 0;
    bool need_indent = false;
    bool in_str = false;

    for (i = 0; i < len; i++) {
        char ch = src[i];

        if (in_str) {
            (void)buf_append(out, &ch, 1);
            if (ch == '\\' && i + 1 < len) {
                (void)buf_append(out, &src[++i], 1);
            } else if (ch == '"') {
                in_str = false;
            }
            continue;
        }
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r')
            continue;
        if (need_indent && ch != '}' && ch != ']') {
            need_indent = false;
            depth++;
            cli_format_indent_newline(out, depth);
        }
        switch (ch) {
        case '"':
            in_str = true;
            (void)buf_append(out, &ch, 1);
            break;
        case '{':
        case '[':
            /* delay the newline so that {} and [] stay empty */
            need_indent = true;
            (void)buf_append(out, &ch, 1);
            break;
        case ',':
            (void)buf_append(out, &ch, 1);
            cli_format_indent_newline(out, depth);
            break;
        case ':':
            (void)buf_append(out, ": ", 2);
            break;
        case '}':
        case ']':
            if (need_indent) {
                need_indent = false;
            } else {
                depth--;
                cli_format_indent_newline(out, depth);
            }
            (void)buf_append(out, &ch, 1);
            break;
        default:
            (void)buf_append(out, &ch, 1);
            break;
        }
    }
}

char *cli_format_go_time(const char *s)
{
    int y, mo, d, h, mi, sec;
    int n = 0;
    const char *p;
    char frac[16] = "";
    size_t fl = 0;
    char zone[32];

    if (s == NULL)
        return xstrdup("");
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
               &n) != 6 ||
        n != 19)
        return xstrdup(s);
    p = s + n;
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) {
            if (fl < 9)
                frac[fl++] = *p;
            p++;
        }
        while (fl > 0 && frac[fl - 1] == '0')
            fl--;
        frac[fl] = '\0';
    }
    if (strcmp(p, "Z") == 0) {
        snprintf(zone, sizeof(zone), "+0000 UTC");
    } else if ((p[0] == '+' || p[0] == '-') && strlen(p) == 6 &&
               p[3] == ':') {
        snprintf(zone, sizeof(zone), "%c%.2s%.2s %c%.2s%.2s", p[0], p + 1,
                 p + 4, p[0], p + 1, p + 4);
    } else {
        return xstrdup(s);
    }
    return xasprintf("%04d-%02d-%02d %02d:%02d:%02d%s%s %s", y, mo, d, h, mi,
                     sec, fl > 0 ? "." : "", frac, zone);
}

int cli_format_natural_cmp(const char *x, const char *y)
{
    if (cli_format_natural_less(x, y))
        return -1;
    if (cli_format_natural_less(y, x))
        return 1;
    return 0;
}

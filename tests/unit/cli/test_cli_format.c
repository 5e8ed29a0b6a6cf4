/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for cli/cli_format.c: docker's list output, and Go/go-units
 * renderings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"
#include "cli/cli_int.h"

/* ---- helpers ---- */

/* docker list output through cli_format_*, captured in memory. */
static char *run_list(const char *format, bool quiet, const char *rows_json)
{
    struct cli_format f;
    struct err err;
    json_t *rows = json_loads(rows_json, 0, NULL);
    char *mem = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&mem, &len);
    size_t i;
    int rv;

    assert_non_null(rows);
    assert_non_null(fp);
    err_clear(&err);
    rv = cli_format_init(&f, format,
                         "table {{.ID}}\\t{{.Name}}\\t{{.Driver}}", quiet,
                         "{{.ID}}",
                         json_pack("{s:s,s:s,s:s}", "ID", "NETWORK ID",
                                   "Name", "NAME", "Driver", "DRIVER"),
                         "ctx", &err);
    for (i = 0; rv == 0 && i < json_array_size(rows); i++)
        rv = cli_format_row(&f, json_array_get(rows, i), &err);
    if (rv == 0)
        rv = cli_format_flush(&f, fp, &err);
    if (rv != 0)
        fputs(err.msg, fp);
    fclose(fp);
    cli_format_release(&f);
    json_decref(rows);
    return mem;
}

/* ---- list output ---- */

static const char *const rows =
    "[{\"ID\":\"c3abfbb9fbbe\",\"Name\":\"bridge\",\"Driver\":\"bridge\"},"
    "{\"ID\":\"e8c209f64193\",\"Name\":\"host\",\"Driver\":\"host\"}]";

static void test_list_default_table(void **state)
{
    char *got = run_list("", false, rows);

    (void)state;
    assert_string_equal(got, "NETWORK ID     NAME      DRIVER\n"
                             "c3abfbb9fbbe   bridge    bridge\n"
                             "e8c209f64193   host      host\n");
    free(got);
    got = run_list("table", false, "[]");
    assert_string_equal(got, "NETWORK ID   NAME      DRIVER\n");
    free(got);
}

static void test_list_quiet_json_custom(void **state)
{
    char *got;

    (void)state;
    got = run_list("", true, rows);
    assert_string_equal(got, "c3abfbb9fbbe\ne8c209f64193\n");
    free(got);
    /* a custom format wins over -q, as in docker */
    got = run_list("{{.Name}}", true, rows);
    assert_string_equal(got, "bridge\nhost\n");
    free(got);
    got = run_list("json", false, rows);
    assert_string_equal(got,
                        "{\"ID\":\"c3abfbb9fbbe\",\"Name\":\"bridge\","
                        "\"Driver\":\"bridge\"}\n"
                        "{\"ID\":\"e8c209f64193\",\"Name\":\"host\","
                        "\"Driver\":\"host\"}\n");
    free(got);
    /* "table" prefix, literal \t, trimmed spaces */
    got = run_list("table  {{.Name}}\\t{{.ID}} ", false, rows);
    assert_string_equal(got, "NAME      NETWORK ID\n"
                             "bridge    c3abfbb9fbbe\n"
                             "host      e8c209f64193\n");
    free(got);
    got = run_list("{{.Nope}}", false, rows);
    assert_string_equal(got, "template parsing error: template: :1:2: "
                             "executing \"\" at <.Nope>: can't evaluate field "
                             "Nope in type ctx");
    free(got);
}

/* ---- durations, sizes, names, JSON, times ---- */

static void assert_human(int64_t ns, const char *want)
{
    char buf[64];

    cli_format_human_duration(ns, buf, sizeof(buf));
    assert_string_equal(buf, want);
}

#define SEC 1000000000LL
#define HOUR (3600 * SEC)

static void test_human_duration(void **state)
{
    (void)state;
    assert_human(0, "Less than a second");
    assert_human(SEC, "1 second");
    assert_human(5 * SEC, "5 seconds");
    assert_human(59 * SEC, "59 seconds");
    assert_human(60 * SEC, "About a minute");
    assert_human(119 * SEC, "About a minute");
    assert_human(30 * 60 * SEC, "30 minutes");
    assert_human(59 * 60 * SEC + 59 * SEC, "59 minutes");
    assert_human(HOUR + 29 * 60 * SEC, "About an hour");
    assert_human(90 * 60 * SEC, "2 hours");
    assert_human(47 * HOUR, "47 hours");
    assert_human(48 * HOUR, "2 days");
    assert_human(14 * 24 * HOUR, "2 weeks");
    assert_human(2160 * HOUR, "3 months");
    assert_human(2 * 365 * 24 * HOUR, "2 years");
}

static void assert_bytes(double n, const char *want)
{
    char buf[64];

    cli_format_bytes_size(n, buf, sizeof(buf));
    assert_string_equal(buf, want);
}

static void test_bytes_size(void **state)
{
    (void)state;
    assert_bytes(0, "0B");
    assert_bytes(1023, "1023B");
    assert_bytes(1024, "1KiB");
    assert_bytes(1536, "1.5KiB");
    assert_bytes(25276063744.0, "23.54GiB");
}

static void assert_dur_string(int64_t ns, const char *want)
{
    char buf[64];

    cli_format_duration_string(ns, buf, sizeof(buf));
    assert_string_equal(buf, want);
}

static void test_duration_string(void **state)
{
    (void)state;
    assert_dur_string(0, "0s");
    assert_dur_string(5 * SEC, "5s");
    assert_dur_string(2160 * HOUR, "2160h0m0s");
    assert_dur_string(90 * 60 * SEC, "1h30m0s");
    assert_dur_string(1500000, "1.5ms");
    assert_dur_string(1000, "1\xc2\xb5s");
    assert_dur_string(7, "7ns");
    assert_dur_string(-SEC - SEC / 2, "-1.5s");
}

static void assert_dur_parse(const char *s, int64_t want)
{
    struct err err;
    int64_t got = -1;

    err_clear(&err);
    assert_int_equal(cli_format_duration_parse(s, &got, &err), 0);
    assert_int_equal(got, want);
}

static void assert_dur_error(const char *s, const char *want)
{
    struct err err;
    int64_t got;

    err_clear(&err);
    assert_int_equal(cli_format_duration_parse(s, &got, &err), -ERR_INVALID);
    assert_string_equal(err.msg, want);
}

static void test_duration_parse(void **state)
{
    (void)state;
    assert_dur_parse("0", 0);
    assert_dur_parse("5s", 5 * SEC);
    assert_dur_parse("2160h0m0s", 2160 * HOUR);
    assert_dur_parse("1h30m", 90 * 60 * SEC);
    assert_dur_parse("1.5h", 90 * 60 * SEC);
    assert_dur_parse("300ms", 300000000);
    assert_dur_parse("-1s", -SEC);
    assert_dur_parse("+.5s", SEC / 2);
    assert_dur_parse("1\xc2\xb5s", 1000);
    assert_dur_error("", "time: invalid duration \"\"");
    assert_dur_error("xx", "time: invalid duration \"xx\"");
    assert_dur_error("5", "time: missing unit in duration \"5\"");
    assert_dur_error("5x", "time: unknown unit \"x\" in duration \"5x\"");
    assert_dur_error("9999999999999h",
                     "time: invalid duration \"9999999999999h\"");
}

static void test_pretty_and_natural(void **state)
{
    char buf[32];

    (void)state;
    cli_format_pretty("ready", buf, sizeof(buf));
    assert_string_equal(buf, "Ready");
    cli_format_pretty("UNREACHABLE", buf, sizeof(buf));
    assert_string_equal(buf, "Unreachable");
    cli_format_pretty("", buf, sizeof(buf));
    assert_string_equal(buf, "");
    cli_format_pretty("2026-11-25 +0000 UTC", buf, sizeof(buf));
    assert_string_equal(buf, "2026-11-25 +0000 utc");
    assert_true(cli_format_natural_less("node2", "node10"));
    assert_false(cli_format_natural_less("node10", "node2"));
    assert_true(cli_format_natural_less("a", "b"));
    assert_true(cli_format_natural_less("a1", "a01"));
    assert_true(cli_format_natural_less("a", "a0"));
    assert_false(cli_format_natural_less("x", "x"));
}

static void assert_indent(const char *src, const char *want)
{
    struct buf out;

    buf_init(&out, 1 << 20);
    cli_format_json_indent(src, strlen(src), &out);
    assert_string_equal(out.data != NULL ? out.data : "", want);
    buf_release(&out);
}

static void test_json_indent(void **state)
{
    (void)state;
    assert_indent("[{\"A\":1,\"B\":{},\"C\":[],\"D\":\"x{,}\\\"\"}]\n",
                  "[\n    {\n        \"A\": 1,\n        \"B\": {},\n"
                  "        \"C\": [],\n        \"D\": \"x{,}\\\"\"\n    }\n]");
    assert_indent(" [ 1 , 2 ] ", "[\n    1,\n    2\n]");
}

static void test_json_compact_and_time(void **state)
{
    json_t *v = json_pack("{s:s,s:s,s:f}", "a", "<&>\x01\xe2\x80\xa8", "b",
                          "q\"\\", "c", 0.5);
    char *s = cli_format_json_compact(v);
    char buf[64];

    (void)state;
    assert_string_equal(s, "{\"a\":\"<&>\\u0001\\u2028\",\"b\":\"q\\\"\\\\\","
                           "\"c\":0.5}");
    free(s);
    json_decref(v);
    s = cli_format_go_time("2026-11-25T16:14:07.246839539Z");
    assert_string_equal(s, "2026-11-25 16:14:07.246839539 +0000 UTC");
    free(s);
    s = cli_format_go_time("2026-11-25T16:14:07.100Z");
    assert_string_equal(s, "2026-11-25 16:14:07.1 +0000 UTC");
    free(s);
    s = cli_format_go_time("2026-11-25T16:14:07+02:00");
    assert_string_equal(s, "2026-11-25 16:14:07 +0200 +0200");
    free(s);
    s = cli_format_go_time("garbage");
    assert_string_equal(s, "garbage");
    free(s);
    cli_format_go_float(2.0, buf, sizeof(buf));
    assert_string_equal(buf, "2");
    cli_format_go_float(0.25, buf, sizeof(buf));
    assert_string_equal(buf, "0.25");
    cli_format_go_float(1234567.0, buf, sizeof(buf));
    assert_string_equal(buf, "1.234567e+06");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_default_table),
        cmocka_unit_test(test_list_quiet_json_custom),
        cmocka_unit_test(test_human_duration),
        cmocka_unit_test(test_bytes_size),
        cmocka_unit_test(test_duration_string),
        cmocka_unit_test(test_duration_parse),
        cmocka_unit_test(test_pretty_and_natural),
        cmocka_unit_test(test_json_indent),
        cmocka_unit_test(test_json_compact_and_time),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

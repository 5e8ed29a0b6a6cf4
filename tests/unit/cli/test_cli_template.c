/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for cli/cli_template.c and cli/cli_template_exec.c: parsing
 * and executing the Go-template subset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"
#include "cli/cli_int.h"

/* ---- helpers ---- */

/* Run a template over JSON text; returns the output or the error text. */
static char *run_tmpl(const char *src, const char *json, bool header)
{
    struct cli_template *t = NULL;
    struct buf out;
    struct err err;
    json_t *data = json_loads(json, JSON_DECODE_ANY, NULL);
    char *res;

    assert_non_null(data);
    err_clear(&err);
    buf_init(&out, 1 << 20);
    if (cli_template_parse(src, &t, &err) != 0) {
        json_decref(data);
        return strdup(err.msg);
    }
    if (cli_template_exec_run(t, data, header, "T", &out, &err) != 0) {
        buf_release(&out);
        res = strdup(err.msg);
    } else {
        res = buf_detach(&out, NULL);
    }
    cli_template_free(t);
    json_decref(data);
    return res;
}

static void assert_tmpl(const char *src, const char *json, const char *want)
{
    char *got = run_tmpl(src, json, false);

    assert_string_equal(got, want);
    free(got);
}

/* ---- templates ---- */

static void test_tmpl_fields(void **state)
{
    (void)state;
    assert_tmpl("{{.ID}}", "{\"ID\":\"abc\"}", "abc");
    assert_tmpl("{{.A.B}}-{{.A.C}}", "{\"A\":{\"B\":1,\"C\":true}}", "1-true");
    assert_tmpl("x{{.}}y", "\"s\"", "xsy");
    assert_tmpl("{{.N}} {{.F}} {{.Z}} {{.E}}",
                "{\"N\":null,\"F\":1.5,\"Z\":1000000.0,\"E\":[1,\"a\"]}",
                "<nil> 1.5 1e+06 [1 a]");
    /* maps print as map[...] sorted; struct-like objects as {...} */
    assert_tmpl("{{.L}} {{.S}}",
                "{\"L\":{\"b\":\"2\",\"a\":\"1\"},\"S\":{\"Role\":\"w\","
                "\"Av\":\"a\"}}",
                "map[a:1 b:2] {w a}");
    /* a missing map key is <no value>, index gives the zero value */
    assert_tmpl("{{.L.zz}}|{{index .L \"zz\"}}|{{index .L \"a\"}}",
                "{\"L\":{\"a\":\"1\"}}", "<no value>||1");
}

static void test_tmpl_missing_field_error(void **state)
{
    (void)state;
    /* Go's message, with the 0-based column of the field */
    assert_tmpl("{{.ID}} {{.Foo}}", "{\"ID\":\"x\"}",
                "template: :1:10: executing \"\" at <.Foo>: can't evaluate "
                "field Foo in type T");
    assert_tmpl("a\n {{.Foo}}", "{\"ID\":\"x\"}",
                "template: :2:3: executing \"\" at <.Foo>: can't evaluate "
                "field Foo in type T");
}

static void test_tmpl_parse_errors(void **state)
{
    (void)state;
    assert_tmpl("{{.ID", "{}", "template: :1: unclosed action");
    assert_tmpl("{{foo .ID}}", "{}",
                "template: :1: function \"foo\" not defined");
    assert_tmpl("{{if .A}}x", "{}", "template: :1: unexpected EOF");
    assert_tmpl("x{{end}}", "{}", "template: :1: unexpected {{end}}");
    assert_tmpl("{{}}", "{}", "template: :1: missing value for command");
}

static void test_tmpl_control(void **state)
{
    (void)state;
    assert_tmpl("{{if .A}}yes{{else}}no{{end}}", "{\"A\":true}", "yes");
    assert_tmpl("{{if .A}}yes{{else}}no{{end}}", "{\"A\":\"\"}", "no");
    assert_tmpl("{{if .A}}a{{else if .B}}b{{else}}c{{end}}",
                "{\"A\":0,\"B\":[1]}", "b");
    assert_tmpl("{{range .L}}[{{.}}]{{end}}", "{\"L\":[1,2,3]}", "[1][2][3]");
    assert_tmpl("{{range $i, $e := .L}}{{$i}}={{$e}} {{end}}",
                "{\"L\":[\"a\",\"b\"]}", "0=a 1=b ");
    assert_tmpl("{{range $k, $v := .M}}{{$k}}:{{$v}};{{end}}",
                "{\"M\":{\"z\":1,\"a\":2}}", "a:2;z:1;");
    assert_tmpl("{{range .L}}x{{else}}empty{{end}}", "{\"L\":[]}", "empty");
    assert_tmpl("{{with .A}}{{.B}}{{end}}", "{\"A\":{\"B\":\"in\"}}", "in");
    assert_tmpl("{{$x := .A}}{{$x}}{{$.A}}", "{\"A\":\"v\"}", "vv");
    /* trim markers and comments */
    assert_tmpl("a  {{- .A -}}  b{{/* c */}}", "{\"A\":\"v\"}", "avb");
}

static void test_tmpl_functions(void **state)
{
    (void)state;
    assert_tmpl("{{json .}}",
                "{\"A\":\"<x>\",\"B\":[1,2.5],\"C\":null,\"D\":\"\\n\"}",
                "{\"A\":\"<x>\",\"B\":[1,2.5],\"C\":null,\"D\":\"\\n\"}");
    assert_tmpl("{{upper .A}} {{lower .A}} {{title .B}}",
                "{\"A\":\"MiXed\",\"B\":\"hello big-world\"}",
                "MIXED mixed Hello Big-World");
    assert_tmpl("{{join .L \", \"}}|{{split .S \",\"}}",
                "{\"L\":[\"a\",\"b\"],\"S\":\"x,y\"}", "a, b|[x y]");
    assert_tmpl("[{{pad .A 1 2}}][{{pad .E 1 2}}][{{truncate .A 2}}]",
                "{\"A\":\"abc\",\"E\":\"\"}", "[ abc  ][][ab]");
    assert_tmpl("{{len .L}} {{len .S}} {{index .L 1}}",
                "{\"L\":[1,2,3],\"S\":\"ab\"}", "3 2 2");
    assert_tmpl("{{eq .A \"x\"}} {{ne .N 2}} {{lt .N 3}} {{not .B}}",
                "{\"A\":\"x\",\"N\":2,\"B\":false}", "true false true true");
    assert_tmpl("{{and .A .B}} {{or .C .A}}", "{\"A\":1,\"B\":2,\"C\":0}",
                "2 1");
    assert_tmpl("{{printf \"%s=%d|%-4s|%5v\" .K .V .K .V}}",
                "{\"K\":\"k\",\"V\":7}", "k=7|k   |    7");
    assert_tmpl("{{println .A .B}}", "{\"A\":\"a\",\"B\":1}", "a 1\n");
    assert_tmpl("{{.A | upper | printf \"<%s>\"}}", "{\"A\":\"v\"}", "<V>");
}

static void test_tmpl_header_mode(void **state)
{
    char *got;

    (void)state;
    /* docker's header functions leave titles alone; pad still pads */
    got = run_tmpl("{{json .ID}}|{{upper .Name}}|{{pad .ID 1 0}}",
                   "{\"ID\":\"NETWORK ID\",\"Name\":\"Name\"}", true);
    assert_string_equal(got, "NETWORK ID|Name| NETWORK ID");
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tmpl_fields),
        cmocka_unit_test(test_tmpl_missing_field_error),
        cmocka_unit_test(test_tmpl_parse_errors),
        cmocka_unit_test(test_tmpl_control),
        cmocka_unit_test(test_tmpl_functions),
        cmocka_unit_test(test_tmpl_header_mode),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

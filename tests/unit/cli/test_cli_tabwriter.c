/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for cli/cli_tabwriter.c: Go tabwriter layout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "cli/cli_int.h"

/* ---- helpers ---- */

static char *tabw(const char *text, size_t minwidth, size_t padding)
{
    struct buf out;

    buf_init(&out, 1 << 20);
    cli_tabwriter_format(text, strlen(text), minwidth, padding, &out);
    return buf_detach(&out, NULL);
}

static void assert_tabw(const char *text, const char *want)
{
    char *got = tabw(text, 10, 3);

    assert_string_equal(got, want);
    free(got);
}

/* ---- tabwriter ---- */

static void test_tabwriter_docker_table(void **state)
{
    (void)state;
    /* the layout of `docker network ls`: minwidth 10, padding 3 */
    assert_tabw("NETWORK ID\tNAME\tDRIVER\tSCOPE\n"
                "c3abfbb9fbbe\tbridge\tbridge\tlocal\n"
                "e8c209f64193\thost\thost\tlocal\n",
                "NETWORK ID     NAME      DRIVER    SCOPE\n"
                "c3abfbb9fbbe   bridge    bridge    local\n"
                "e8c209f64193   host      host      local\n");
}

static void test_tabwriter_min_width_and_last_cell(void **state)
{
    (void)state;
    /* short columns get minwidth; the last cell is never padded */
    assert_tabw("a\tb\n", "a         b\n");
    assert_tabw("a\tb\t\n", "a         b         \n");
    assert_tabw("abcdefghijk\tx\n", "abcdefghijk   x\n");
}

static void test_tabwriter_blocks(void **state)
{
    (void)state;
    /* a line without tabs ends the column block above it */
    assert_tabw("aaaaaaaaaaaaaaa\tb\nplain\nc\td\n",
                "aaaaaaaaaaaaaaa   b\nplain\nc         d\n");
    /* a column block is only the run of lines having that column */
    assert_tabw("a\tb\tc\nlonglonglonglong\td\n",
                "a                  b         c\nlonglonglonglong   d\n");
}

static void test_tabwriter_utf8_and_partial(void **state)
{
    char *got;

    (void)state;
    /* widths count runes, not bytes */
    assert_tabw("\xc3\xa9t\xc3\xa9\tx\nab\ty\n",
                "\xc3\xa9t\xc3\xa9       x\nab        y\n");
    /* no trailing newline: the last line is written as it is */
    assert_tabw("a\tb", "a         b");
    assert_tabw("", "");
    got = tabw(" Version:\t1\n API version:\t2\n", 20, 1);
    assert_string_equal(got, " Version:           1\n"
                             " API version:       2\n");
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tabwriter_docker_table),
        cmocka_unit_test(test_tabwriter_min_width_and_last_cell),
        cmocka_unit_test(test_tabwriter_blocks),
        cmocka_unit_test(test_tabwriter_utf8_and_partial),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Matching of parsed filters, shared by the API and the engine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/jfilter.h"

static void test_any(void **state)
{
    json_t *f = json_pack("{s:[s, s], s:[], s:[i, s]}", "id", "abc", "de",
                          "empty", "odd", 3, "x");

    (void)state;
    assert_true(jfilter_any(f, "missing", "v", false));
    assert_true(jfilter_any(f, "empty", NULL, false));
    assert_true(jfilter_any(f, "id", "abc", false));
    assert_false(jfilter_any(f, "id", "abcd", false));
    assert_true(jfilter_any(f, "id", "abcd", true));
    assert_true(jfilter_any(f, "id", "def", true));
    assert_false(jfilter_any(f, "id", "d", true));
    assert_false(jfilter_any(f, "id", NULL, true));
    /* a value that is not a string is skipped, never a crash */
    assert_true(jfilter_any(f, "odd", "x", false));
    assert_false(jfilter_any(f, "odd", "3", false));
    assert_true(jfilter_any(NULL, "id", "v", false));
    json_decref(f);
}

static void test_labels(void **state)
{
    json_t *labels = json_pack("{s:s, s:s, s:s}", "a", "1", "b", "x=y",
                               "ab", "2");
    json_t *f;

    (void)state;
    f = json_pack("{s:[s, s]}", "label", "a", "b=x=y");
    assert_true(jfilter_labels(f, "label", labels));
    json_decref(f);
    f = json_pack("{s:[s, s]}", "label", "a=1", "c");
    assert_false(jfilter_labels(f, "label", labels)); /* ANDed */
    json_decref(f);
    f = json_pack("{s:[s]}", "label", "a=2");
    assert_false(jfilter_labels(f, "label", labels));
    json_decref(f);
    f = json_pack("{s:[s]}", "label", "=1");
    assert_false(jfilter_labels(f, "label", labels));
    json_decref(f);
    f = json_pack("{s:[i]}", "label", 1);
    assert_false(jfilter_labels(f, "label", labels));
    json_decref(f);
    f = json_pack("{s:[s]}", "label", "a");
    assert_false(jfilter_labels(f, "label", NULL));
    assert_true(jfilter_labels(f, "other", NULL));
    json_decref(f);
    json_decref(labels);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_any),
        cmocka_unit_test(test_labels),
    };

    return cmocka_run_group_tests_name("base/jfilter", tests, NULL, NULL);
}

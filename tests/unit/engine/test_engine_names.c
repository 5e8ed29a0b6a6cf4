/* SPDX-License-Identifier: Apache-2.0 */
/* Container names: Docker's validity rule, generated names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/engine_int.h"

static void test_valid_names(void **state)
{
    (void)state;
    assert_true(engine_names_valid("web"));
    assert_true(engine_names_valid("/web"));
    assert_true(engine_names_valid("a1"));
    assert_true(engine_names_valid("my_app.v2-blue"));
    assert_true(engine_names_valid("9lives"));
}

static void test_invalid_names(void **state)
{
    (void)state;
    assert_false(engine_names_valid(""));
    assert_false(engine_names_valid("/"));
    assert_false(engine_names_valid("a"));       /* two characters at least */
    assert_false(engine_names_valid("_web"));
    assert_false(engine_names_valid("-web"));
    assert_false(engine_names_valid(".web"));
    assert_false(engine_names_valid("we b"));
    assert_false(engine_names_valid("we/b"));
    assert_false(engine_names_valid("web$"));
    assert_false(engine_names_valid("//web"));
}

static void test_generated_names(void **state)
{
    char name[64];
    char first[64];
    bool differ = false;
    int i;

    (void)state;
    engine_names_generate(first, sizeof(first));
    for (i = 0; i < 200; i++) {
        const char *u;

        engine_names_generate(name, sizeof(name));
        assert_true(engine_names_valid(name));
        u = strchr(name, '_');
        assert_non_null(u);
        assert_null(strchr(u + 1, '_'));
        assert_true(u > name && u[1] != '\0');
        if (strcmp(name, first) != 0)
            differ = true;
    }
    assert_true(differ);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_names),
        cmocka_unit_test(test_invalid_names),
        cmocka_unit_test(test_generated_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

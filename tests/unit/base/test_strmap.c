/* SPDX-License-Identifier: Apache-2.0 */
/* The string -> pointer map, checked against a plain array. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/strmap.h"

#define N_KEYS 5000

static void test_set_get_replace_del(void **state)
{
    struct strmap *m = strmap_new();
    int a = 1;
    int b = 2;

    (void)state;
    assert_null(strmap_get(m, "x"));
    assert_null(strmap_set(m, "x", &a));
    assert_ptr_equal(strmap_get(m, "x"), &a);
    assert_ptr_equal(strmap_set(m, "x", &b), &a);
    assert_ptr_equal(strmap_get(m, "x"), &b);
    assert_int_equal(strmap_size(m), 1);
    assert_null(strmap_del(m, "y"));
    assert_ptr_equal(strmap_del(m, "x"), &b);
    assert_null(strmap_get(m, "x"));
    assert_int_equal(strmap_size(m), 0);
    strmap_free(m);
}

/* Many keys through growth, random deletions (backward shifts) and
 * reinsertions, always agreeing with the reference. */
static void test_against_reference(void **state)
{
    static char keys[N_KEYS][16];
    static int present[N_KEYS];
    struct strmap *m = strmap_new();
    size_t n = 0;
    int round;
    int i;

    (void)state;
    srand(7);
    for (i = 0; i < N_KEYS; i++)
        snprintf(keys[i], sizeof(keys[i]), "node%07d", i * 7919);
    for (round = 0; round < 20000; round++) {
        i = rand() % N_KEYS;
        if (rand() % 3 == 0) {
            void *was = strmap_del(m, keys[i]);

            assert_ptr_equal(was, present[i] ? keys[i] : NULL);
            n -= present[i] ? 1 : 0;
            present[i] = 0;
        } else {
            void *was = strmap_set(m, keys[i], keys[i]);

            assert_ptr_equal(was, present[i] ? keys[i] : NULL);
            n += present[i] ? 0 : 1;
            present[i] = 1;
        }
        assert_int_equal(strmap_size(m), n);
    }
    for (i = 0; i < N_KEYS; i++)
        assert_ptr_equal(strmap_get(m, keys[i]), present[i] ? keys[i] : NULL);
    strmap_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_get_replace_del),
        cmocka_unit_test(test_against_reference),
    };

    return cmocka_run_group_tests_name("base/strmap", tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Object IDs and the base-36 codec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/ids.h"

static void test_new_id_shape(void **state)
{
    char id[IDS_LEN + 1];
    char other[IDS_LEN + 1];
    int i;

    (void)state;
    for (i = 0; i < 1000; i++) {
        ids_new(id);
        assert_int_equal(strlen(id), IDS_LEN);
        assert_true(ids_is_valid(id));
    }
    ids_new(other);
    assert_string_not_equal(id, other);
}

static void test_is_valid_rejects(void **state)
{
    (void)state;
    assert_false(ids_is_valid("short"));
    assert_false(ids_is_valid("ABCDEFGHIJKLMNOPQRSTUVWXY"));
    assert_false(ids_is_valid("abcdefghijklmnopqrstuvwxyz"));
    assert_false(ids_is_valid("abcdefghijklmnopqrstuvwx-"));
    assert_true(ids_is_valid("dw02poa4vqvzxi5c10gm4pq2g"));
}

static void test_base36_known_values(void **state)
{
    uint8_t one[2] = {0x00, 0x24}; /* 36 */
    uint8_t big[2] = {0xff, 0xff}; /* 65535 = 1ekf */
    uint8_t back[2];
    char out[64];

    (void)state;
    assert_int_equal(ids_base36_encode(one, 2, 0, out, sizeof(out)), 2);
    assert_string_equal(out, "10");
    assert_int_equal(ids_base36_encode(big, 2, 6, out, sizeof(out)), 6);
    assert_string_equal(out, "001ekf");
    assert_int_equal(ids_base36_decode("001EKF", back, 2), 0);
    assert_memory_equal(back, big, 2);
    assert_int_equal(ids_base36_decode("1ekg", back, 2), -1); /* overflow */
    assert_int_equal(ids_base36_decode("1e-f", back, 2), -1);
    assert_int_equal(ids_base36_encode(big, 2, 0, out, 4), -1);
}

static void test_base36_roundtrip_256(void **state)
{
    uint8_t v[32];
    uint8_t back[32];
    char out[64];
    int i;

    (void)state;
    for (i = 0; i < 200; i++) {
        ids_random(v, sizeof(v));
        assert_int_equal(ids_base36_encode(v, 32, 50, out, sizeof(out)), 50);
        assert_int_equal(ids_base36_decode(out, back, 32), 0);
        assert_memory_equal(v, back, 32);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_id_shape),
        cmocka_unit_test(test_is_valid_rejects),
        cmocka_unit_test(test_base36_known_values),
        cmocka_unit_test(test_base36_roundtrip_256),
    };

    return cmocka_run_group_tests_name("base/ids", tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Join tokens, digests and unlock keys, checked against OpenSSL's BIGNUM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base/err.h"
#include "base/ids.h"
#include "manager/ca/ca.h"

#define TEST_ROOT_PEM                                                      \
    "-----BEGIN CERTIFICATE-----\n"                                        \
    "MIIBajCCARCgAwIBAgIUbQ2rl3E3Ey3mtQ9vYB2aQpdD2nAwCgYIKoZIzj0EAwIw\n" \
    "EzERMA8GA1UEAxMIc3dhcm0tY2EwHhcNMTcwNDI0MjE0MzAwWhcNMzcwNDE5MjE0\n" \
    "-----END CERTIFICATE-----\n"

/* The 50-digit base-36 form of a 64-hex-digit value, by another route:
 * OpenSSL's BIGNUM and repeated division by 36. */
static void test_hex_to_base36(const char *hex, char out[51])
{
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    BIGNUM *bn = NULL;
    char rev[64];
    size_t n = 0;
    size_t i;

    assert_int_equal(BN_hex2bn(&bn, hex), 64);
    while (!BN_is_zero(bn)) {
        BN_ULONG rem = BN_div_word(bn, 36);

        assert_true(rem < 36);
        assert_true(n < sizeof(rev));
        rev[n++] = digits[rem];
    }
    BN_free(bn);
    assert_true(n <= 50);
    for (i = 0; i < 50 - n; i++)
        out[i] = '0';
    for (i = 0; i < n; i++)
        out[50 - n + i] = rev[n - 1 - i];
    out[50] = '\0';
}

static void test_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    unsigned int i;

    assert_int_equal(EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL),
                     1);
    assert_int_equal(md_len, 32);
    for (i = 0; i < md_len; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static bool test_all_base36_lower(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z')))
            return false;
    }
    return true;
}

static void test_digest_hex_vectors(void **state)
{
    char hex[CA_DIGEST_HEX_LEN + 1];

    (void)state;
    ca_digest_hex("abc", 3, hex);
    assert_string_equal(
        hex,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ca_digest_hex("", 0, hex);
    assert_string_equal(
        hex,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_token_format(void **state)
{
    char token[CA_TOKEN_LEN + 1];
    char other[CA_TOKEN_LEN + 1];
    char hex[65];
    char want36[51];

    (void)state;
    ca_token_new(TEST_ROOT_PEM, token);
    assert_int_equal(strlen(token), CA_TOKEN_LEN);
    assert_memory_equal(token, "SWMTKN-1-", 9);
    assert_int_equal(token[59], '-');
    assert_true(test_all_base36_lower(token + 9, 50));
    assert_true(test_all_base36_lower(token + 60, 25));

    test_sha256_hex(TEST_ROOT_PEM, strlen(TEST_ROOT_PEM), hex);
    test_hex_to_base36(hex, want36);
    assert_memory_equal(token + 9, want36, 50);

    /* Same root, same digest part; a fresh secret every time. */
    ca_token_new(TEST_ROOT_PEM, other);
    assert_memory_equal(token, other, 60);
    assert_memory_not_equal(token + 60, other + 60, 25);
}

static void test_token_digest_with_leading_zeros(void **state)
{
    const char *hex =
        "00000000000000000000000000000000000000000000000000000000000000ff";
    char want36[51];
    char token[CA_TOKEN_LEN + 1];
    char got[CA_DIGEST_HEX_LEN + 1];
    struct err err;

    (void)state;
    test_hex_to_base36(hex, want36);
    assert_string_equal(want36,
                        "00000000000000000000000000000000000000000000000073");
    snprintf(token, sizeof(token), "SWMTKN-1-%s-%s", want36,
             "0000000000000000000000001");
    assert_int_equal(ca_token_parse(token, got, &err), 0);
    assert_string_equal(got, hex);
}

static void test_token_parse_roundtrip(void **state)
{
    char token[CA_TOKEN_LEN + 1];
    char got[CA_DIGEST_HEX_LEN + 1];
    char want[CA_DIGEST_HEX_LEN + 1];
    char v2[CA_TOKEN_LEN + 3];
    struct err err;
    int i;

    (void)state;
    for (i = 0; i < 50; i++) {
        char pem[64];

        snprintf(pem, sizeof(pem), "root %d\n", i);
        ca_token_new(pem, token);
        err_clear(&err);
        assert_int_equal(ca_token_parse(token, got, &err), 0);
        ca_digest_hex(pem, strlen(pem), want);
        assert_string_equal(got, want);
    }

    /* v2 (FIPS flag 0 or 1) carries the same digest and secret. */
    snprintf(v2, sizeof(v2), "SWMTKN-2-1-%s", token + 9);
    assert_int_equal(ca_token_parse(v2, got, &err), 0);
    assert_string_equal(got, want);
    snprintf(v2, sizeof(v2), "SWMTKN-2-0-%s", token + 9);
    assert_int_equal(ca_token_parse(v2, got, &err), 0);
    assert_string_equal(got, want);
}

static void test_token_parse_uppercase(void **state)
{
    char token[CA_TOKEN_LEN + 1];
    char got[CA_DIGEST_HEX_LEN + 1];
    char want[CA_DIGEST_HEX_LEN + 1];
    struct err err;
    size_t i;

    (void)state;
    ca_token_new(TEST_ROOT_PEM, token);
    for (i = 9; i < CA_TOKEN_LEN; i++) {
        if (token[i] >= 'a' && token[i] <= 'z')
            token[i] = (char)(token[i] - 'a' + 'A');
    }
    /* Go's big.Int.SetString(s, 36) takes either case. */
    assert_int_equal(ca_token_parse(token, got, &err), 0);
    ca_digest_hex(TEST_ROOT_PEM, strlen(TEST_ROOT_PEM), want);
    assert_string_equal(got, want);
}

static void test_expect_invalid(const char *token)
{
    char got[CA_DIGEST_HEX_LEN + 1];
    struct err err;

    err_clear(&err);
    if (ca_token_parse(token, got, &err) != -ERR_INVALID)
        fail_msg("accepted: %s", token != NULL ? token : "(null)");
    assert_int_equal(err.code, ERR_INVALID);
    assert_string_equal(err.msg, "invalid join token");
}

static void test_token_parse_rejects(void **state)
{
    char good[CA_TOKEN_LEN + 1];
    char bad[256];
    const char *d;
    const char *s;

    (void)state;
    ca_token_new(TEST_ROOT_PEM, good);
    good[59] = '\0';
    d = good + 9;   /* 50-char digest */
    s = good + 60;  /* 25-char secret */

    test_expect_invalid(NULL);
    test_expect_invalid("");
    test_expect_invalid("SWMTKN");
    test_expect_invalid("SWMTKN-1");
    test_expect_invalid("---");

    /* wrong prefix */
    snprintf(bad, sizeof(bad), "SWMTKX-1-%s-%s", d, s);
    test_expect_invalid(bad);
    snprintf(bad, sizeof(bad), "swmtkn-1-%s-%s", d, s);
    test_expect_invalid(bad);
    snprintf(bad, sizeof(bad), "SWMKEY-1-%s-%s", d, s);
    test_expect_invalid(bad);
    snprintf(bad, sizeof(bad), " SWMTKN-1-%s-%s", d, s);
    test_expect_invalid(bad);

    /* wrong version or part count */
    snprintf(bad, sizeof(bad), "SWMTKN-3-%s-%s", d, s);
    test_expect_invalid(bad);
    snprintf(bad, sizeof(bad), "SWMTKN-11-%s-%s", d, s);
    test_expect_invalid(bad);
    snprintf(bad, sizeof(bad), "SWMTKN--%s-%s", d, s);
    test_expect_invalid(bad);
    snprintf(bad, sizeof(bad), "SWMTKN-1-%s%s", d, s);
    test_expect_invalid(bad);
    snprintf(bad, sizeof(bad), "SWMTKN-1-0-%s-%s", d, s);
    test_expect_invalid(bad);
    snprintf(bad, sizeof(bad), "SWMTKN-1-%s-%s-", d, s);
    test_expect_invalid(bad);
    snprintf(bad, sizeof(bad), "SWMTKN-2-%s-%s", d, s);
    test_expect_invalid(bad);
    snprintf(bad, sizeof(bad), "SWMTKN-2-2-%s-%s", d, s);
    test_expect_invalid(bad);
    snprintf(bad, sizeof(bad), "SWMTKN-2-01-%s-%s", d, s);
    test_expect_invalid(bad);
    snprintf(bad, sizeof(bad), "SWMTKN-2-1-x-%s-%s", d, s);
    test_expect_invalid(bad);

    /* digest of 49 and 51 characters */
    snprintf(bad, sizeof(bad), "SWMTKN-1-%.49s-%s", d, s);
    test_expect_invalid(bad);
    snprintf(bad, sizeof(bad), "SWMTKN-1-0%s-%s", d, s);
    test_expect_invalid(bad);
    snprintf(bad, sizeof(bad), "SWMTKN-2-1-%.49s-%s", d, s);
    test_expect_invalid(bad);

    /* secret of 24 and 26 characters */
    snprintf(bad, sizeof(bad), "SWMTKN-1-%s-%.24s", d, s);
    test_expect_invalid(bad);
    snprintf(bad, sizeof(bad), "SWMTKN-1-%s-%s0", d, s);
    test_expect_invalid(bad);

    /* characters outside base 36 */
    snprintf(bad, sizeof(bad), "SWMTKN-1-%.49s!-%s", d, s);
    test_expect_invalid(bad);
    snprintf(bad, sizeof(bad), "SWMTKN-1-_%.49s-%s", d + 1, s);
    test_expect_invalid(bad);
    snprintf(bad, sizeof(bad), "SWMTKN-1-%s-%.24s.", d, s);
    test_expect_invalid(bad);
    snprintf(bad, sizeof(bad), "SWMTKN-1-%s-+%.24s", d, s + 1);
    test_expect_invalid(bad);
    snprintf(bad, sizeof(bad), "SWMTKN-1-%s-%.24s\n", d, s);
    test_expect_invalid(bad);

    /* 50 base-36 digits can exceed 2^256 */
    snprintf(bad, sizeof(bad),
             "SWMTKN-1-zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-%s",
             s);
    test_expect_invalid(bad);
}

static void test_token_equal(void **state)
{
    char a[CA_TOKEN_LEN + 1];
    char b[CA_TOKEN_LEN + 1];

    (void)state;
    ca_token_new(TEST_ROOT_PEM, a);
    memcpy(b, a, sizeof(a));
    assert_true(ca_token_equal(a, b));
    b[CA_TOKEN_LEN - 1] = b[CA_TOKEN_LEN - 1] == 'a' ? 'b' : 'a';
    assert_false(ca_token_equal(a, b));
    b[CA_TOKEN_LEN - 1] = '\0';
    assert_false(ca_token_equal(a, b));
    assert_false(ca_token_equal(a, NULL));
    assert_false(ca_token_equal(NULL, a));
    assert_false(ca_token_equal(NULL, NULL));
    assert_true(ca_token_equal("", ""));
}

static void test_unlock_key_format(void **state)
{
    char key[CA_UNLOCK_KEY_LEN + 1];
    char other[CA_UNLOCK_KEY_LEN + 1];
    unsigned char raw[CA_UNLOCK_KEY_BYTES];
    unsigned char std[64];
    unsigned char back[64];
    struct err err;
    size_t i;

    (void)state;
    ca_unlock_key_new(key);
    assert_int_equal(strlen(key), CA_UNLOCK_KEY_LEN);
    assert_memory_equal(key, "SWMKEY-1-", 9);
    for (i = 9; i < CA_UNLOCK_KEY_LEN; i++)
        assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "abcdefghijklmnopqrstuvwxyz0123456789+/",
                               key[i]));
    ca_unlock_key_new(other);
    assert_string_not_equal(key, other);

    /* Decode with OpenSSL (padded) and compare with our parser. */
    assert_int_equal(ca_unlock_key_parse(key, raw, &err), 0);
    memcpy(std, key + 9, 43);
    std[43] = '=';
    std[44] = '\0';
    assert_int_equal(EVP_DecodeBlock(back, std, 44), 33); /* pads with 0 */
    assert_memory_equal(raw, back, CA_UNLOCK_KEY_BYTES);
}

static void test_unlock_key_parse_known(void **state)
{
    unsigned char in[CA_UNLOCK_KEY_BYTES];
    unsigned char raw[CA_UNLOCK_KEY_BYTES];
    unsigned char enc[64];
    char key[80];
    struct err err;
    int i;

    (void)state;
    /* Encode with OpenSSL, drop the padding, parse with ours. */
    for (i = 0; i < 20; i++) {
        ids_random(in, sizeof(in));
        assert_int_equal(EVP_EncodeBlock(enc, in, sizeof(in)), 44);
        assert_int_equal(enc[43], '=');
        enc[43] = '\0';
        snprintf(key, sizeof(key), "SWMKEY-1-%s", enc);
        assert_int_equal(ca_unlock_key_parse(key, raw, &err), 0);
        assert_memory_equal(raw, in, sizeof(in));
    }

    memset(in, 0, sizeof(in));
    assert_int_equal(ca_unlock_key_parse("SWMKEY-1-AAAAAAAAAAAAAAAAAAAAAAAAAA"
                                         "AAAAAAAAAAAAAAAAA",
                                         raw, &err),
                     0);
    assert_memory_equal(raw, in, sizeof(in));

    /* Go's decoder skips CR and LF. */
    assert_int_equal(
        ca_unlock_key_parse(
            "SWMKEY-1-AAAAAAAAAAAAAAAAAAAAA\r\nAAAAAAAAAAAAAAAAAAAAAA\n", raw,
            &err),
        0);
    assert_memory_equal(raw, in, sizeof(in));
}

static void test_unlock_expect_invalid(const char *s)
{
    unsigned char raw[CA_UNLOCK_KEY_BYTES];
    struct err err;

    err_clear(&err);
    if (ca_unlock_key_parse(s, raw, &err) != -ERR_INVALID)
        fail_msg("accepted: %s", s != NULL ? s : "(null)");
    assert_int_equal(err.code, ERR_INVALID);
    assert_string_equal(err.msg, "invalid key string");
}

static void test_unlock_key_parse_rejects(void **state)
{
    char good[CA_UNLOCK_KEY_LEN + 1];
    char bad[128];

    (void)state;
    ca_unlock_key_new(good);
    test_unlock_expect_invalid(NULL);
    test_unlock_expect_invalid("");
    test_unlock_expect_invalid("SWMKEY-1-");
    test_unlock_expect_invalid(good + 9);                   /* no prefix */
    snprintf(bad, sizeof(bad), "SWMKEY-2-%s", good + 9);    /* version */
    test_unlock_expect_invalid(bad);
    snprintf(bad, sizeof(bad), "swmkey-1-%s", good + 9);
    test_unlock_expect_invalid(bad);
    snprintf(bad, sizeof(bad), "SWMTKN-1-%s", good + 9);
    test_unlock_expect_invalid(bad);
    snprintf(bad, sizeof(bad), "%s=", good);                /* padding */
    test_unlock_expect_invalid(bad);
    snprintf(bad, sizeof(bad), "%.51s", good);              /* 31 bytes */
    test_unlock_expect_invalid(bad);
    snprintf(bad, sizeof(bad), "%sA", good);                /* 33 bytes */
    test_unlock_expect_invalid(bad);
    snprintf(bad, sizeof(bad), "%sAA", good);               /* dangling */
    test_unlock_expect_invalid(bad);
    snprintf(bad, sizeof(bad), "%.50s*", good);             /* bad char */
    test_unlock_expect_invalid(bad);
    snprintf(bad, sizeof(bad), "%.50s-", good);             /* URL alphabet */
    test_unlock_expect_invalid(bad);
    snprintf(bad, sizeof(bad), "%.30s %s", good, good + 30);
    test_unlock_expect_invalid(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digest_hex_vectors),
        cmocka_unit_test(test_token_format),
        cmocka_unit_test(test_token_digest_with_leading_zeros),
        cmocka_unit_test(test_token_parse_roundtrip),
        cmocka_unit_test(test_token_parse_uppercase),
        cmocka_unit_test(test_token_parse_rejects),
        cmocka_unit_test(test_token_equal),
        cmocka_unit_test(test_unlock_key_format),
        cmocka_unit_test(test_unlock_key_parse_known),
        cmocka_unit_test(test_unlock_key_parse_rejects),
    };

    return cmocka_run_group_tests_name("ca/token", tests, NULL, NULL);
}

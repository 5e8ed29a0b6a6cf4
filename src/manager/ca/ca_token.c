/* SPDX-License-Identifier: Apache-2.0 */
/* SWMTKN join tokens and SWMKEY unlock keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/ids.h"
#include "manager/ca/ca.h"

#define CA_TOKEN__PREFIX "SWMTKN"
#define CA_TOKEN__DIGEST_LEN 50 /* ceil(log36(2^256)) */
#define CA_TOKEN__SECRET_LEN 25 /* ceil(log36(2^128)) */
#define CA_TOKEN__SECRET_BYTES 16
#define CA_TOKEN__MAX_PARTS 5
#define CA_TOKEN__MSG "invalid join token"

#define CA_UNLOCK__PREFIX "SWMKEY-1-"
#define CA_UNLOCK__MSG "invalid key string"

static const char ca_token_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int ca_token_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static void ca_token_to_hex(const uint8_t *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

static bool ca_token_is_base36(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        char c = s[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
              (c >= 'A' && c <= 'Z')))
            return false;
    }
    return true;
}

void ca_token_new(const char *root_pem, char out[CA_TOKEN_LEN + 1])
{
    char hex[CA_DIGEST_HEX_LEN + 1];
    uint8_t digest[CA_DIGEST_HEX_LEN / 2];
    uint8_t secret[CA_TOKEN__SECRET_BYTES];
    char digest36[CA_TOKEN__DIGEST_LEN + 1];
    char secret36[CA_TOKEN__SECRET_LEN + 1];
    size_t i;
    int n;

    ca_digest_hex(root_pem, strlen(root_pem), hex);
    for (i = 0; i < sizeof(digest); i++)
        digest[i] = (uint8_t)(ca_token_hexval(hex[2 * i]) << 4 |
                              ca_token_hexval(hex[2 * i + 1]));
    ids_random(secret, sizeof(secret));

    /* Both values always fit their width: 36^50 > 2^256, 36^25 > 2^128. */
    n = ids_base36_encode(digest, sizeof(digest), CA_TOKEN__DIGEST_LEN,
                          digest36, sizeof(digest36));
    if (n != CA_TOKEN__DIGEST_LEN)
        abort();
    n = ids_base36_encode(secret, sizeof(secret), CA_TOKEN__SECRET_LEN,
                          secret36, sizeof(secret36));
    if (n != CA_TOKEN__SECRET_LEN)
        abort();
    n = snprintf(out, CA_TOKEN_LEN + 1, CA_TOKEN__PREFIX "-1-%s-%s", digest36,
                 secret36);
    if (n != CA_TOKEN_LEN)
        abort();
}

int ca_token_parse(const char *token,
                   char out_digest_hex[CA_DIGEST_HEX_LEN + 1], struct err *err)
{
    const char *part[CA_TOKEN__MAX_PARTS];
    size_t part_len[CA_TOKEN__MAX_PARTS];
    size_t n_parts = 0;
    const char *p;
    const char *digest;
    const char *secret;
    char digest36[CA_TOKEN__DIGEST_LEN + 1];
    uint8_t raw[CA_DIGEST_HEX_LEN / 2];

    if (token == NULL)
        return err_set(err, ERR_INVALID, CA_TOKEN__MSG);
    /* Split on '-', keeping empty parts as Go's strings.Split does. */
    p = token;
    for (;;) {
        const char *dash = strchr(p, '-');
        size_t len = dash != NULL ? (size_t)(dash - p) : strlen(p);

        if (n_parts == CA_TOKEN__MAX_PARTS)
            return err_set(err, ERR_INVALID, CA_TOKEN__MSG);
        part[n_parts] = p;
        part_len[n_parts] = len;
        n_parts++;
        if (dash == NULL)
            break;
        p = dash + 1;
    }
    if (n_parts < 4 || part_len[0] != strlen(CA_TOKEN__PREFIX) ||
        memcmp(part[0], CA_TOKEN__PREFIX, part_len[0]) != 0)
        return err_set(err, ERR_INVALID, CA_TOKEN__MSG);
    if (part_len[1] != 1)
        return err_set(err, ERR_INVALID, CA_TOKEN__MSG);
    if (part[1][0] == '1') {
        if (n_parts != 4)
            return err_set(err, ERR_INVALID, CA_TOKEN__MSG);
    } else if (part[1][0] == '2') {
        /* v2 carries the FIPS flag ("0" or "1") in part 2. */
        if (n_parts != 5 || part_len[2] != 1 ||
            (part[2][0] != '0' && part[2][0] != '1'))
            return err_set(err, ERR_INVALID, CA_TOKEN__MSG);
    } else {
        return err_set(err, ERR_INVALID, CA_TOKEN__MSG);
    }

    digest = part[n_parts - 2];
    secret = part[n_parts - 1];
    if (part_len[n_parts - 2] != CA_TOKEN__DIGEST_LEN ||
        part_len[n_parts - 1] != CA_TOKEN__SECRET_LEN ||
        !ca_token_is_base36(digest, CA_TOKEN__DIGEST_LEN) ||
        !ca_token_is_base36(secret, CA_TOKEN__SECRET_LEN))
        return err_set(err, ERR_INVALID, CA_TOKEN__MSG);

    memcpy(digest36, digest, CA_TOKEN__DIGEST_LEN);
    digest36[CA_TOKEN__DIGEST_LEN] = '\0';
    /* 36^50 exceeds 2^256, so a 50-digit value may not fit: refuse it. */
    if (ids_base36_decode(digest36, raw, sizeof(raw)) != 0)
        return err_set(err, ERR_INVALID, CA_TOKEN__MSG);
    ca_token_to_hex(raw, sizeof(raw), out_digest_hex);
    return 0;
}

bool ca_token_equal(const char *a, const char *b)
{
    size_t len;
    size_t i;
    unsigned char diff = 0;

    if (a == NULL || b == NULL)
        return false;
    len = strlen(a);
    if (len != strlen(b))
        return false;
    /* No early exit: the time taken does not reveal the first difference. */
    for (i = 0; i < len; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

void ca_unlock_key_new(char out[CA_UNLOCK_KEY_LEN + 1])
{
    unsigned char key[CA_UNLOCK_KEY_BYTES];
    char *o = out;
    size_t i;
    uint32_t v;

    ids_random(key, sizeof(key));
    memcpy(o, CA_UNLOCK__PREFIX, strlen(CA_UNLOCK__PREFIX));
    o += strlen(CA_UNLOCK__PREFIX);
    for (i = 0; i + 3 <= sizeof(key); i += 3) {
        v = (uint32_t)key[i] << 16 | (uint32_t)key[i + 1] << 8 | key[i + 2];
        *o++ = ca_token_b64[(v >> 18) & 0x3f];
        *o++ = ca_token_b64[(v >> 12) & 0x3f];
        *o++ = ca_token_b64[(v >> 6) & 0x3f];
        *o++ = ca_token_b64[v & 0x3f];
    }
    /* 32 = 10 * 3 + 2: the last two bytes give three digits, no padding. */
    v = (uint32_t)key[i] << 16 | (uint32_t)key[i + 1] << 8;
    *o++ = ca_token_b64[(v >> 18) & 0x3f];
    *o++ = ca_token_b64[(v >> 12) & 0x3f];
    *o++ = ca_token_b64[(v >> 6) & 0x3f];
    *o = '\0';
    if (o - out != CA_UNLOCK_KEY_LEN)
        abort();
}

static int ca_token_b64val(char c)
{
    const char *p;

    if (c == '\0')
        return -1;
    p = strchr(ca_token_b64, c);
    return p != NULL ? (int)(p - ca_token_b64) : -1;
}

int ca_unlock_key_parse(const char *s,
                        unsigned char out_key[CA_UNLOCK_KEY_BYTES],
                        struct err *err)
{
    size_t n_out = 0;
    uint32_t acc = 0;
    int n_bits = 0;
    int v;

    if (s == NULL || strncmp(s, CA_UNLOCK__PREFIX,
                             strlen(CA_UNLOCK__PREFIX)) != 0)
        return err_set(err, ERR_INVALID, CA_UNLOCK__MSG);
    s += strlen(CA_UNLOCK__PREFIX);
    for (; *s != '\0'; s++) {
        if (*s == '\r' || *s == '\n')
            continue;
        v = ca_token_b64val(*s);
        if (v < 0)
            return err_set(err, ERR_INVALID, CA_UNLOCK__MSG);
        acc = (acc << 6) | (uint32_t)v;
        n_bits += 6;
        if (n_bits >= 8) {
            n_bits -= 8;
            if (n_out == CA_UNLOCK_KEY_BYTES)
                return err_set(err, ERR_INVALID, CA_UNLOCK__MSG);
            out_key[n_out++] = (unsigned char)(acc >> n_bits);
            acc &= (1u << n_bits) - 1;
        }
    }
    /* A lone trailing digit (6 bits) cannot end a raw base64 string; the
     * 2 or 4 spare bits of a 2- or 3-digit tail are ignored, as Go does. */
    if (n_bits >= 6 || n_out != CA_UNLOCK_KEY_BYTES)
        return err_set(err, ERR_INVALID, CA_UNLOCK__MSG);
    return 0;
}

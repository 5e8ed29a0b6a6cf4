/* SPDX-License-Identifier: Apache-2.0 */
/* Object IDs and the base-36 big-number codec. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/ids.h"

#define IDS__RAND_BYTES 17
#define IDS__MAX_DIGITS 128

void ids_random(void *buf, size_t n)
{
    uint8_t *p = buf;
    ssize_t got;

    while (n > 0) {
        got = getrandom(p, n, 0);
        if (got == -1) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "shoal: getrandom: %s\n", strerror(errno));
            abort();
        }
        p += got;
        n -= (size_t)got;
    }
}

int ids_base36_encode(const uint8_t *bytes, size_t n, size_t width, char *out,
                      size_t out_cap)
{
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    uint8_t num[64];
    char rev[IDS__MAX_DIGITS];
    size_t n_rev = 0;
    size_t total;
    size_t i;
    bool zero;

    if (n > sizeof(num))
        return -1;
    memcpy(num, bytes, n);
    /* Repeated long division by 36 over the big-endian byte string. */
    for (;;) {
        unsigned rem = 0;

        zero = true;
        for (i = 0; i < n; i++) {
            unsigned cur = (rem << 8) | num[i];

            num[i] = (uint8_t)(cur / 36);
            rem = cur % 36;
            if (num[i] != 0)
                zero = false;
        }
        if (n_rev == sizeof(rev))
            return -1;
        rev[n_rev++] = digits[rem];
        if (zero)
            break;
    }
    /* A value of zero yields the single digit "0". */
    total = n_rev > width ? n_rev : width;
    if (total + 1 > out_cap)
        return -1;
    for (i = 0; i < total - n_rev; i++)
        out[i] = '0';
    for (i = 0; i < n_rev; i++)
        out[total - n_rev + i] = rev[n_rev - 1 - i];
    out[total] = '\0';
    return (int)total;
}

int ids_base36_decode(const char *s, uint8_t *out, size_t n)
{
    size_t i;

    memset(out, 0, n);
    for (; *s != '\0'; s++) {
        unsigned d;
        unsigned carry;

        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (*s >= 'a' && *s <= 'z')
            d = (unsigned)(*s - 'a') + 10;
        else if (*s >= 'A' && *s <= 'Z')
            d = (unsigned)(*s - 'A') + 10;
        else
            return -1;
        carry = d;
        for (i = n; i-- > 0;) {
            unsigned cur = out[i] * 36u + carry;

            out[i] = (uint8_t)(cur & 0xff);
            carry = cur >> 8;
        }
        if (carry != 0)
            return -1;
    }
    return 0;
}

void ids_new(char out[IDS_LEN + 1])
{
    uint8_t raw[IDS__RAND_BYTES];
    char full[IDS__MAX_DIGITS];
    int n;

    ids_random(raw, sizeof(raw));
    /* swarmkit forces the top bit so the number always has 27 digits, then
     * drops the first (biased) digit and keeps the next 25. */
    raw[0] |= 0x80;
    n = ids_base36_encode(raw, sizeof(raw), 0, full, sizeof(full));
    if (n < IDS_LEN + 1)
        abort();
    memcpy(out, full + 1, IDS_LEN);
    out[IDS_LEN] = '\0';
}

bool ids_is_valid(const char *s)
{
    size_t i;

    for (i = 0; i < IDS_LEN; i++) {
        char c = s[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')))
            return false;
    }
    return s[IDS_LEN] == '\0';
}

uint64_t ids_random_u64(void)
{
    uint64_t v;

    do {
        ids_random(&v, sizeof(v));
    } while (v == 0);
    return v;
}

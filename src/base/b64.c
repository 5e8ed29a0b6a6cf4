/* SPDX-License-Identifier: Apache-2.0 */
/* Standard padded base64 (see b64.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/b64.h"
#include "base/mem.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int b64_decode(const char *text, size_t len, unsigned char **out,
               size_t *out_len, size_t *out_bad)
{
    unsigned char *buf = xmalloc(len / 4 * 3 + 4);
    uint32_t acc = 0;
    size_t n = 0;
    size_t quad = 0;  /* symbols in the current group of four */
    size_t pad = 0;   /* '=' seen: only more '=' may follow */
    size_t pos = 0;   /* offset of the current group's first symbol */
    size_t i;

    for (i = 0; i < len; i++) {
        char c = text[i];
        int v;

        if (c == '\r' || c == '\n')
            continue;
        if (quad == 0)
            pos = i;
        if (c == '=') {
            if (quad < 2)
                goto bad;
            pad++;
            quad++;
        } else {
            v = b64_value(c);
            if (v < 0 || pad > 0)
                goto bad;
            acc = acc << 6 | (uint32_t)v;
            quad++;
        }
        if (quad == 4) {
            acc <<= 6 * pad;
            buf[n++] = (unsigned char)(acc >> 16);
            if (pad < 2)
                buf[n++] = (unsigned char)(acc >> 8);
            if (pad < 1)
                buf[n++] = (unsigned char)acc;
            acc = 0;
            quad = 0;
            if (pad > 0) {
                i++;
                while (i < len && (text[i] == '\r' || text[i] == '\n'))
                    i++;
                if (i < len) {
                    pos = i;
                    goto bad;
                }
                break;
            }
        }
    }
    if (quad != 0) {
        i = pos;
        goto bad;
    }
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return 0;
bad:
    free(buf);
    *out_bad = i < len ? i : pos;
    return -1;
}

char *b64_encode(const unsigned char *data, size_t n)
{
    char *out = xmalloc((n + 2) / 3 * 4 + 1);
    size_t o = 0;
    size_t i;

    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 |
                     data[i + 2];

        out[o++] = b64_alphabet[v >> 18 & 63];
        out[o++] = b64_alphabet[v >> 12 & 63];
        out[o++] = b64_alphabet[v >> 6 & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)data[i] << 16;

        if (i + 1 < n)
            v |= (uint32_t)data[i + 1] << 8;
        out[o++] = b64_alphabet[v >> 18 & 63];
        out[o++] = b64_alphabet[v >> 12 & 63];
        out[o++] = i + 1 < n ? b64_alphabet[v >> 6 & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}

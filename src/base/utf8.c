/* SPDX-License-Identifier: Apache-2.0 */
/* UTF-8 validation and repair (see utf8.h). */
#include "base/buf.h"
#include "base/utf8.h"

size_t utf8_seq(const unsigned char *s, size_t left)
{
    unsigned c = s[0];
    size_t n;
    size_t i;
    unsigned cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n > left)
        return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

char *utf8_fix(const char *s, size_t len, size_t *out_len)
{
    const unsigned char *p = (const unsigned char *)s;
    struct buf out;
    char *text;
    size_t n_out;

    buf_init(&out, (size_t)-1);
    while (len > 0) {
        size_t n = utf8_seq(p, len);

        if (n == 0) {
            buf_append(&out, "\xef\xbf\xbd", 3);
            n = 1;
        } else {
            buf_append(&out, p, n);
        }
        p += n;
        len -= n;
    }
    buf_append(&out, "", 1);
    text = buf_detach(&out, &n_out);
    if (out_len != NULL)
        *out_len = n_out - 1;
    return text;
}

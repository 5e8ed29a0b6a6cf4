/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Growable byte buffer with a hard cap fixed at init (curl's dynbuf): an
 * append past the cap fails with ERR_TOOBIG and leaves the buffer as it was.
 * The contents are always NUL-terminated for convenience.
 */
#ifndef SHOAL_BASE_BUF_H
#define SHOAL_BASE_BUF_H

#include <stddef.h>

#include "base/compiler.h"

struct buf
{
    char *data;  /* owned; NULL until the first append */
    size_t len;  /* bytes used, excluding the NUL */
    size_t cap;  /* bytes allocated */
    size_t max;  /* hard ceiling on len */
};

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
void buf_reset(struct buf *b);
/* 0, or -ERR_TOOBIG if len would exceed max. */
int buf_append(struct buf *b, const void *data, size_t len);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* Hand the data to the caller (NUL-terminated, possibly ""), reset b. */
char *buf_detach(struct buf *b, size_t *out_len);

#endif

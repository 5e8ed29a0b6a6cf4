/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Standard base64 (RFC 4648, padded) as Go's encoding/json reads and
 * writes []byte fields: secret and config payloads in the Engine API.
 */
#ifndef SHOAL_BASE_B64_H
#define SHOAL_BASE_B64_H

#include <stddef.h>

/* Decode len bytes of text; '\r' and '\n' are skipped as Go does. 0 with
 * *out (malloc'd, NUL-terminated for convenience, owned by the caller)
 * and *out_len, or -1 with *out_bad the offset of the first bad byte. */
int b64_decode(const char *text, size_t len, unsigned char **out,
               size_t *out_len, size_t *out_bad);

/* Encode n bytes: a new NUL-terminated string owned by the caller. */
char *b64_encode(const unsigned char *data, size_t n);

#endif

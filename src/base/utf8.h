/* SPDX-License-Identifier: Apache-2.0 */
/*
 * UTF-8 as Go's JSON encoder treats it: text from outside (error messages
 * quoting a client, a healthcheck's output) made valid before jansson,
 * which refuses invalid UTF-8, encodes it.
 */
#ifndef SHOAL_BASE_UTF8_H
#define SHOAL_BASE_UTF8_H

#include <stddef.h>

/* Length of the valid UTF-8 sequence at s (1..4, within left bytes), or 0
 * if invalid (overlong forms, surrogates and code points over U+10FFFF
 * included). left must be at least 1. */
size_t utf8_seq(const unsigned char *s, size_t left);

/* The len bytes at s with every byte that is not part of valid UTF-8
 * replaced by U+FFFD, as Go's JSON encoder does: a new NUL-terminated
 * string (NUL bytes of s kept) of *out_len bytes (out_len may be NULL),
 * owned by the caller. */
char *utf8_fix(const char *s, size_t len, size_t *out_len);

#endif

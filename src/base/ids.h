/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Swarm object IDs (25 lowercase base-36 characters, made exactly as
 * swarmkit's identity.NewID makes them), random bytes from the kernel, and
 * the big-number base-36 codec that IDs and join tokens share.
 */
#ifndef SHOAL_BASE_IDS_H
#define SHOAL_BASE_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDS_LEN 25

/* Fill buf with n bytes from getrandom(2); aborts if the kernel fails
 * (there is no safe fallback for key material). */
void ids_random(void *buf, size_t n);

/* A new object ID: out gets IDS_LEN characters and a NUL. */
void ids_new(char out[IDS_LEN + 1]);

/* True if s is exactly IDS_LEN characters of [0-9a-z]. */
bool ids_is_valid(const char *s);

/* Render the big-endian unsigned integer in bytes[0..n) in base 36,
 * lowercase, left-padded with '0' to width characters. Returns the number of
 * digits written (which exceeds width when the value needs more), or -1 if
 * out_cap cannot hold them plus the NUL. */
int ids_base36_encode(const uint8_t *bytes, size_t n, size_t width, char *out,
                      size_t out_cap);

/* Parse a base-36 string (0-9, a-z; case-insensitive) into a big-endian
 * n-byte integer. Returns 0, or -1 on a bad digit or overflow. */
int ids_base36_decode(const char *s, uint8_t *out, size_t n);

/* A random 64-bit number that is never 0 (raft member IDs). */
uint64_t ids_random_u64(void);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A map from strings to pointers (open addressing, linear probing). The
 * map copies its keys and owns them; it never owns the values. For
 * indexes over many objects where a JSON object's hashing would cost
 * too much (e.g. the dispatcher's sessions by node ID).
 */
#ifndef SHOAL_BASE_STRMAP_H
#define SHOAL_BASE_STRMAP_H

#include <stddef.h>

struct strmap;

struct strmap *strmap_new(void);
void strmap_free(struct strmap *m);

/* The value stored under key, or NULL. */
void *strmap_get(const struct strmap *m, const char *key);
/* Store value (not NULL) under key, replacing any value there; returns
 * the value replaced, or NULL. */
void *strmap_set(struct strmap *m, const char *key, void *value);
/* Remove key; returns its value, or NULL if it was not there. */
void *strmap_del(struct strmap *m, const char *key);
size_t strmap_size(const struct strmap *m);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Allocation: the x* family aborts on OOM (a node that cannot allocate
 * crashes and raft's durable log restores it); mem_try_alloc is for sizes a
 * peer chooses, after a cap check.
 */
#ifndef SHOAL_BASE_MEM_H
#define SHOAL_BASE_MEM_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Formatted allocation; aborts on OOM. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* NULL on failure (no abort). */
void *mem_try_alloc(size_t n);

#endif

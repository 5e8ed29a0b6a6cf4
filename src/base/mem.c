/* SPDX-License-Identifier: Apache-2.0 */
/* Allocation wrappers that abort on OOM. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

static void mem_oom(size_t n)
{
    fprintf(stderr, "shoal: out of memory allocating %zu bytes\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (p == NULL)
        mem_oom(n);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (p == NULL)
        mem_oom(n * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (q == NULL)
        mem_oom(n);
    return q;
}

char *xstrdup(const char *s)
{
    char *p = strdup(s);

    if (p == NULL)
        mem_oom(strlen(s));
    return p;
}

char *xstrndup(const char *s, size_t n)
{
    char *p = strndup(s, n);

    if (p == NULL)
        mem_oom(n);
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *p = NULL;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&p, fmt, ap);
    va_end(ap);
    if (n < 0)
        mem_oom(0);
    return p;
}

void *mem_try_alloc(size_t n)
{
    return malloc(n ? n : 1);
}

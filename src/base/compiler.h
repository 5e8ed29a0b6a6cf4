/* SPDX-License-Identifier: Apache-2.0 */
/* Small compiler helpers used everywhere. */
#ifndef SHOAL_BASE_COMPILER_H
#define SHOAL_BASE_COMPILER_H

#include <stddef.h>

#define UNUSED(x) ((void)(x))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define NORETURN __attribute__((noreturn))
#define container_of(ptr, type, member) \
    ((type *)((char *)(ptr) - offsetof(type, member)))

#endif

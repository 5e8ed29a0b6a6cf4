/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging: levels, subsystems, one sink. The macros test the level and the
 * subsystem's debug bit before evaluating any argument. Lines are logfmt,
 * like dockerd's: time=... level=... msg=...
 */
#ifndef SHOAL_BASE_LOG_H
#define SHOAL_BASE_LOG_H

#include <stdbool.h>

#include "base/compiler.h"

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

enum log_subsys {
    LOG_MAIN,
    LOG_API,
    LOG_CLUSTER,
    LOG_RAFT,
    LOG_STORE,
    LOG_CA,
    LOG_RPC,
    LOG_TLS,
    LOG__COUNT
};

extern int log_level;
extern unsigned log_debug_mask;

/* "error"|"warn"|"info"|"debug" -> level; -1 if unknown. */
int log_parse_level(const char *s);
/* Comma-separated subsystem names ("raft,api" or "all") -> debug bits. */
unsigned log_parse_debug(const char *s);
/* Where lines go; default stderr. */
void log_set_fd(int fd);

void log_emit(enum log_level level, enum log_subsys sub, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

#define LOG__ON(lvl, sub)                                          \
    ((lvl) <= log_level &&                                         \
     ((lvl) != LOG_LEVEL_DEBUG || (log_debug_mask & (1u << (sub)))))

#define log_error(sub, ...) \
    do { if (LOG__ON(LOG_LEVEL_ERROR, sub)) log_emit(LOG_LEVEL_ERROR, sub, __VA_ARGS__); } while (0)
#define log_warn(sub, ...) \
    do { if (LOG__ON(LOG_LEVEL_WARN, sub)) log_emit(LOG_LEVEL_WARN, sub, __VA_ARGS__); } while (0)
#define log_info(sub, ...) \
    do { if (LOG__ON(LOG_LEVEL_INFO, sub)) log_emit(LOG_LEVEL_INFO, sub, __VA_ARGS__); } while (0)
#define log_debug(sub, ...) \
    do { if (LOG__ON(LOG_LEVEL_DEBUG, sub)) log_emit(LOG_LEVEL_DEBUG, sub, __VA_ARGS__); } while (0)

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* logfmt log sink. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"

int log_level = LOG_LEVEL_INFO;
unsigned log_debug_mask = ~0u;
static int log_fd = STDERR_FILENO;

static const char *const log_level_names[] = {"error", "warning", "info", "debug"};
static const char *const log_sub_names[LOG__COUNT] = {
    "main", "api", "cluster", "raft", "store", "ca", "rpc", "tls",
};

int log_parse_level(const char *s)
{
    if (strcmp(s, "error") == 0 || strcmp(s, "fatal") == 0)
        return LOG_LEVEL_ERROR;
    if (strcmp(s, "warn") == 0 || strcmp(s, "warning") == 0)
        return LOG_LEVEL_WARN;
    if (strcmp(s, "info") == 0)
        return LOG_LEVEL_INFO;
    if (strcmp(s, "debug") == 0)
        return LOG_LEVEL_DEBUG;
    return -1;
}

unsigned log_parse_debug(const char *s)
{
    unsigned mask = 0;
    const char *p = s;

    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        int i;

        if (n == 3 && strncmp(p, "all", 3) == 0)
            return ~0u;
        for (i = 0; i < LOG__COUNT; i++) {
            if (strlen(log_sub_names[i]) == n &&
                strncmp(p, log_sub_names[i], n) == 0)
                mask |= 1u << i;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return mask;
}

void log_set_fd(int fd)
{
    log_fd = fd;
}

void log_emit(enum log_level level, enum log_subsys sub, const char *fmt, ...)
{
    char line[2048];
    char msg[1536];
    struct timespec ts;
    struct tm tm;
    va_list ap;
    size_t i;
    size_t o = 0;
    int n;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(line, sizeof(line),
                 "time=\"%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ\" level=%s "
                 "module=%s msg=\"",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000,
                 log_level_names[level], log_sub_names[sub]);
    if (n < 0)
        return;
    o = (size_t)n;
    for (i = 0; msg[i] != '\0' && o + 4 < sizeof(line); i++) {
        if (msg[i] == '"' || msg[i] == '\\')
            line[o++] = '\\';
        line[o++] = msg[i] == '\n' ? ' ' : msg[i];
    }
    line[o++] = '"';
    line[o++] = '\n';
    if (write(log_fd, line, o) == -1)
        return;
}

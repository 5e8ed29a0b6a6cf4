/* SPDX-License-Identifier: Apache-2.0 */
/* Error carrier and the code table. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"

static const struct
{
    const char *name;
    int status;
} err_table[] = {
#define ERR__ROW(name, status) {#name, status},
    ERR_CODE_MAP(ERR__ROW)
#undef ERR__ROW
};

void err_clear(struct err *err)
{
    if (err == NULL)
        return;
    err->code = ERR_OK;
    err->sys_errno = 0;
    err->msg[0] = '\0';
}

int err_set(struct err *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL) {
        err->code = code;
        err->sys_errno = 0;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return -code;
}

int err_sys(struct err *err, int code, int sys_errno, const char *fmt, ...)
{
    va_list ap;
    size_t n;

    if (err != NULL) {
        err->code = code;
        err->sys_errno = sys_errno;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        n = strlen(err->msg);
        snprintf(err->msg + n, sizeof(err->msg) - n, ": %s",
                 strerror(sys_errno));
    }
    return -code;
}

int err_wrap(struct err *err, const char *fmt, ...)
{
    char old[ERR_MSG_LEN];
    va_list ap;
    size_t room;
    size_t len;
    size_t n;

    if (err == NULL)
        return -ERR_INTERNAL;
    memcpy(old, err->msg, sizeof(old));
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    n = strlen(err->msg);
    if (n + 2 < sizeof(err->msg)) {
        memcpy(err->msg + n, ": ", 2);
        n += 2;
        room = sizeof(err->msg) - n - 1;
        len = strnlen(old, room);

        memcpy(err->msg + n, old, len); /* cut to fit, on purpose */
        err->msg[n + len] = '\0';
    }
    return -err->code;
}

int err_http_status(int code)
{
    if (code < 0 || code >= ERR__COUNT)
        return 500;
    return err_table[code].status;
}

const char *err_code_name(int code)
{
    if (code < 0 || code >= ERR__COUNT)
        return "UNKNOWN";
    return err_table[code].name;
}

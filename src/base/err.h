/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Errors as values: one table of codes (each with its HTTP status, the
 * classes copy Docker's), and a carrier with a fixed message buffer so that
 * building an error never allocates. Functions that can fail take
 * `struct err *err` last and return 0 or -code.
 */
#ifndef SHOAL_BASE_ERR_H
#define SHOAL_BASE_ERR_H

#include "base/compiler.h"

/* X(name, http status) */
#define ERR_CODE_MAP(X)        \
    X(OK, 200)                 \
    X(INVALID, 400)            \
    X(NOTFOUND, 404)           \
    X(CONFLICT, 409)           \
    X(UNAUTHORIZED, 401)       \
    X(FORBIDDEN, 403)          \
    X(UNAVAILABLE, 503)        \
    X(NOTIMPLEMENTED, 501)     \
    X(NOTMODIFIED, 304)        \
    X(INTERNAL, 500)           \
    X(IO, 500)                 \
    X(PROTO, 400)              \
    X(NOTLEADER, 503)          \
    X(NOQUORUM, 503)           \
    X(CANCELED, 500)           \
    X(TOOBIG, 413)

enum err_code {
#define ERR__ENUM(name, status) ERR_##name,
    ERR_CODE_MAP(ERR__ENUM)
#undef ERR__ENUM
        ERR__COUNT
};

#define ERR_MSG_LEN 512

struct err
{
    int code;               /* enum err_code; ERR_OK when unset */
    int sys_errno;          /* errno that caused it, or 0 */
    char msg[ERR_MSG_LEN];  /* user-facing text, NUL-terminated */
};

/* Reset to "no error". */
void err_clear(struct err *err);

/* Set code and message; returns -code so callers can `return err_set(...)`.
 * A NULL err is allowed (the message is dropped). */
int err_set(struct err *err, int code, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* Like err_set, appending ": <strerror(sys_errno)>". */
int err_sys(struct err *err, int code, int sys_errno, const char *fmt, ...)
    PRINTF_LIKE(4, 5);

/* Prefix the current message with context: "<context>: <old msg>".
 * Returns -err->code. */
int err_wrap(struct err *err, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* HTTP status for a code (500 for unknown codes). */
int err_http_status(int code);

/* Name of a code ("NOTFOUND"), for logs. */
const char *err_code_name(int code);

#endif

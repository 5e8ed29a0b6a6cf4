/* SPDX-License-Identifier: Apache-2.0 */
/* /containers: the local engine's containers (engine/engine.h): create,
 * list, inspect, start, stop, restart, kill, remove, wait, attach, logs,
 * rename, resize, prune. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "base/mem.h"
#include "engine/engine.h"

#define API_CONTAINERS__MUX "application/vnd.docker.multiplexed-stream"
#define API_CONTAINERS__RAW "application/vnd.docker.raw-stream"

bool api_containers_engine(struct api_req *req)
{
    if (req->engine != NULL)
        return true;
    api_reply_error(req, ERR_UNAVAILABLE,
                    "containers are not available on this daemon");
    return false;
}

/* An integer query parameter; absent gives def. 0 or -ERR_INVALID. */
int api_containers_int(const struct api_req *req, const char *name,
                       long def, long *out, struct err *err)
{
    char *v = api_query_get(req, name);
    char *end;
    long n;

    *out = def;
    if (v == NULL || v[0] == '\0') {
        free(v);
        return 0;
    }
    errno = 0;
    n = strtol(v, &end, 10);
    if (*end != '\0' || errno != 0) {
        err_set(err, ERR_INVALID, "strconv.Atoi: parsing \"%s\": invalid "
                                  "syntax", v);
        free(v);
        return -ERR_INVALID;
    }
    free(v);
    *out = n;
    return 0;
}

/* Frame (when not a TTY) and send one piece of output. */
void api_containers_frame(void *sink, bool tty, int stream, const char *buf,
                          size_t len,
                          int (*write)(void *sink, const void *b, size_t n))
{
    unsigned char hdr[8];

    if (len == 0)
        return;
    if (!tty) {
        hdr[0] = (unsigned char)stream;
        hdr[1] = 0;
        hdr[2] = 0;
        hdr[3] = 0;
        hdr[4] = (unsigned char)(len >> 24);
        hdr[5] = (unsigned char)(len >> 16);
        hdr[6] = (unsigned char)(len >> 8);
        hdr[7] = (unsigned char)len;
        write(sink, hdr, sizeof(hdr));
    }
    write(sink, buf, len);
}

static int api_containers_hijack_write(void *sink, const void *b, size_t n)
{
    return api_hijack_write(sink, b, n);
}

static int api_containers_stream_write(void *sink, const void *b, size_t n)
{
    return api_stream_write(sink, b, n);
}

static void api_containers_on_done(void *data, int status,
                                   const struct err *err)
{
    struct api_req *req = data;

    if (status < 0)
        api_reply_err(req, err);
    else
        api_reply_empty(req, 204);
}

/* --- create, list, inspect ---------------------------------------------- */

void api_containers_create(struct api_req *req)
{
    struct err err;
    json_t *body = NULL;
    char *name;
    char *id = NULL;

    if (!api_containers_engine(req))
        return;
    err_clear(&err);
    if (api_body_json(req, &body, &err) != 0) {
        api_reply_err(req, &err);
        return;
    }
    name = api_query_get(req, "name");
    if (engine_container_create(req->engine, name, body, &id, &err) != 0)
        api_reply_err(req, &err);
    else
        api_reply_json(req, 201, json_pack("{s:s, s:[]}", "Id", id,
                                           "Warnings"));
    free(id);
    free(name);
    json_decref(body);
}

void api_containers_list(struct api_req *req)
{
    static const char *const keys[] = {"name", "id", "label", "status",
                                       "exited", "ancestor", "health",
                                       NULL};
    struct err err;
    json_t *filters;
    json_t *out;
    long limit;

    if (!api_containers_engine(req))
        return;
    err_clear(&err);
    if (api_containers_int(req, "limit", -1, &limit, &err) != 0) {
        api_reply_err(req, &err);
        return;
    }
    filters = api_filters_parse(req, keys, &err);
    if (filters == NULL) {
        api_reply_err(req, &err);
        return;
    }
    out = engine_container_list(req->engine, api_query_bool(req, "all") ||
                                                 limit > 0,
                                filters, &err);
    json_decref(filters);
    if (out == NULL) {
        api_reply_err(req, &err);
        return;
    }
    while (limit > 0 && json_array_size(out) > (size_t)limit)
        json_array_remove(out, json_array_size(out) - 1);
    api_reply_json(req, 200, out);
}

void api_containers_inspect(struct api_req *req)
{
    struct err err;
    json_t *out;

    if (!api_containers_engine(req))
        return;
    err_clear(&err);
    out = engine_container_inspect(req->engine, req->params[0], &err);
    if (out == NULL)
        api_reply_err(req, &err);
    else
        api_reply_json(req, 200, out);
}

/* --- start, stop, restart, kill, remove --------------------------------- */

void api_containers_start(struct api_req *req)
{
    struct err err;

    if (!api_containers_engine(req))
        return;
    err_clear(&err);
    if (engine_container_start(req->engine, req->params[0],
                               api_containers_on_done, req, &err) != 0) {
        if (err.code == ERR_NOTMODIFIED)
            api_reply_empty(req, 304);
        else
            api_reply_err(req, &err);
    }
}

void api_containers_stop(struct api_req *req)
{
    struct err err;
    char *sig = NULL;
    long t;
    int rv = -1;

    if (!api_containers_engine(req))
        return;
    err_clear(&err);
    /* ?signal= came with API 1.42 */
    if (api_version_at_least(req, 1, 42))
        sig = api_query_get(req, "signal");
    if (api_containers_int(req, "t", -1, &t, &err) == 0)
        rv = engine_container_stop_sig(req->engine, req->params[0], (int)t,
                                       sig, api_containers_on_done, req,
                                       &err);
    free(sig);
    if (rv == 0)
        return;
    if (err.code == ERR_NOTMODIFIED)
        api_reply_empty(req, 304);
    else
        api_reply_err(req, &err);
}

void api_containers_restart(struct api_req *req)
{
    struct err err;
    long t;

    if (!api_containers_engine(req))
        return;
    err_clear(&err);
    if (api_containers_int(req, "t", -1, &t, &err) == 0 &&
        engine_container_restart(req->engine, req->params[0], (int)t,
                                 api_containers_on_done, req, &err) == 0)
        return;
    api_reply_err(req, &err);
}

void api_containers_kill(struct api_req *req)
{
    struct err err;
    char *sig;

    if (!api_containers_engine(req))
        return;
    err_clear(&err);
    sig = api_query_get(req, "signal");
    if (engine_container_kill(req->engine, req->params[0], sig, &err) != 0)
        api_reply_err(req, &err);
    else
        api_reply_empty(req, 204);
    free(sig);
}

void api_containers_delete(struct api_req *req)
{
    struct err err;

    if (!api_containers_engine(req))
        return;
    err_clear(&err);
    if (engine_container_remove(req->engine, req->params[0],
                                api_query_bool(req, "force"),
                                api_containers_on_done, req, &err) != 0)
        api_reply_err(req, &err);
}

void api_containers_prune(struct api_req *req)
{
    static const char *const keys[] = {"label", NULL};
    struct err err;
    json_t *filters;
    json_t *out;

    if (!api_containers_engine(req))
        return;
    err_clear(&err);
    filters = api_filters_parse(req, keys, &err);
    if (filters == NULL) {
        api_reply_err(req, &err);
        return;
    }
    out = engine_container_prune(req->engine, filters, &err);
    json_decref(filters);
    if (out == NULL)
        api_reply_err(req, &err);
    else
        api_reply_json(req, 200, out);
}

void api_containers_rename(struct api_req *req)
{
    struct err err;
    char *name;

    if (!api_containers_engine(req))
        return;
    err_clear(&err);
    name = api_query_get(req, "name");
    if (engine_container_rename(req->engine, req->params[0], name, &err) !=
        0)
        api_reply_err(req, &err);
    else
        api_reply_empty(req, 204);
    free(name);
}

void api_containers_resize(struct api_req *req)
{
    struct err err;
    long h;
    long w;

    if (!api_containers_engine(req))
        return;
    err_clear(&err);
    if (api_containers_int(req, "h", 0, &h, &err) != 0 ||
        api_containers_int(req, "w", 0, &w, &err) != 0 ||
        engine_container_resize(req->engine, req->params[0], (unsigned)h,
                                (unsigned)w, &err) != 0) {
        api_reply_err(req, &err);
        return;
    }
    api_reply_empty(req, 200);
}

/* --- wait --------------------------------------------------------------- */

static void api_containers_on_wait(void *data, int status,
                                   const struct err *err)
{
    struct api_req *req = data;
    json_t *body;
    char *text;

    if (status >= 0)
        body = json_pack("{s:i}", "StatusCode", status);
    else
        body = json_pack("{s:i, s:{s:s}}", "StatusCode", -1, "Error",
                         "Message", err ? err->msg : "wait canceled");
    text = json_dumps(body, JSON_COMPACT);
    api_stream_write(req, text, strlen(text));
    api_stream_write(req, "\n", 1);
    free(text);
    json_decref(body);
    api_stream_end(req);
}

void api_containers_wait(struct api_req *req)
{
    struct err err;
    char *cond;
    int code = 0;
    int rv;

    if (!api_containers_engine(req))
        return;
    err_clear(&err);
    cond = api_query_get(req, "condition");
    rv = engine_container_wait(req->engine, req->params[0], cond,
                               api_containers_on_wait, req, &code, &err);
    free(cond);
    if (rv < 0) {
        api_reply_err(req, &err);
        return;
    }
    /* Headers now: the client starts the container once it has them. */
    api_stream_begin(req, 200, "application/json");
    if (rv == 1)
        api_containers_on_wait(req, code, NULL);
}

/* --- attach ------------------------------------------------------------- */

struct api_attach
{
    struct api_hijack *h;        /* owned until closed */
    struct engine_attach *a;     /* owned until closed */
    bool tty;
    bool in;
};

static void api_attach_finish(struct api_attach *at)
{
    if (at->a != NULL)
        engine_attach_close(at->a);
    if (at->h != NULL)
        api_hijack_close(at->h);
    free(at);
}

static void api_attach_on_output(void *data, int stream, const char *buf,
                                 size_t len)
{
    struct api_attach *at = data;

    if (stream == 0) {
        api_attach_finish(at);
        return;
    }
    if (at->h != NULL)
        api_containers_frame(at->h, at->tty, stream, buf, len,
                             api_containers_hijack_write);
}

static void api_attach_on_read(void *data, const char *buf, long len)
{
    struct api_attach *at = data;

    if (len > 0) {
        if (at->in && at->a != NULL)
            engine_attach_write(at->a, buf, (size_t)len);
        return;
    }
    if (at->in && at->a != NULL)
        engine_attach_write(at->a, NULL, 0);
    if (api_hijack_write(at->h, "", 0) != 0) {
        /* The client is gone: detach. */
        api_attach_finish(at);
    }
}

void api_containers_attach(struct api_req *req)
{
    struct api_attach *at;
    struct err err;
    bool tty = false;

    if (!api_containers_engine(req))
        return;
    err_clear(&err);
    if (engine_container_tty(req->engine, req->params[0], &tty, &err) != 0) {
        api_reply_err(req, &err);
        return;
    }
    at = xcalloc(1, sizeof(*at));
    at->tty = tty;
    at->in = api_query_bool(req, "stdin");
    at->a = engine_container_attach(req->engine, req->params[0], at->in,
                                    api_query_bool(req, "stdout"),
                                    api_query_bool(req, "stderr"),
                                    api_attach_on_output, at, &err);
    if (at->a == NULL) {
        free(at);
        api_reply_err(req, &err);
        return;
    }
    at->h = api_hijack(req, tty ? API_CONTAINERS__RAW : API_CONTAINERS__MUX,
                       api_attach_on_read, at);
    if (at->h == NULL)
        api_attach_finish(at);
}

/* --- logs --------------------------------------------------------------- */

struct api_logs
{
    struct api_req *req;         /* borrowed until the stream ends */
    struct engine_logs *l;
    bool tty;
};

static void api_logs_on_output(void *data, int stream, const char *buf,
                               size_t len)
{
    struct api_logs *lg = data;

    if (stream == 0) {
        api_stream_end(lg->req);
        free(lg);
        return;
    }
    api_containers_frame(lg->req, lg->tty, stream, buf, len,
                         api_containers_stream_write);
}

static void api_logs_on_close(void *data)
{
    struct api_logs *lg = data;

    engine_logs_cancel(lg->l);
    api_stream_end(lg->req);
    free(lg);
}

static int api_logs_time(const struct api_req *req, const char *name,
                         double *out, struct err *err)
{
    char *v = api_query_get(req, name);
    char *end;

    *out = 0;
    if (v == NULL || v[0] == '\0') {
        free(v);
        return 0;
    }
    *out = strtod(v, &end);
    if (*end != '\0') {
        err_set(err, ERR_INVALID, "invalid value for %s: %s", name, v);
        free(v);
        return -ERR_INVALID;
    }
    free(v);
    return 0;
}

void api_containers_logs(struct api_req *req)
{
    struct engine_logs_opts o;
    struct api_logs *lg;
    struct err err;
    char *tail;
    bool tty = false;

    if (!api_containers_engine(req))
        return;
    err_clear(&err);
    memset(&o, 0, sizeof(o));
    o.out = api_query_bool(req, "stdout");
    o.errs = api_query_bool(req, "stderr");
    o.follow = api_query_bool(req, "follow");
    o.timestamps = api_query_bool(req, "timestamps");
    o.tail = -1;
    tail = api_query_get(req, "tail");
    if (tail != NULL && tail[0] != '\0' && strcmp(tail, "all") != 0) {
        char *end;

        o.tail = strtol(tail, &end, 10);
        if (*end != '\0' || o.tail < 0)
            o.tail = -1;
    }
    free(tail);
    if (engine_container_tty(req->engine, req->params[0], &tty, &err) != 0 ||
        api_logs_time(req, "since", &o.since, &err) != 0 ||
        api_logs_time(req, "until", &o.until, &err) != 0) {
        api_reply_err(req, &err);
        return;
    }
    if (!o.out && !o.errs) {
        api_reply_error(req, ERR_INVALID, "Bad parameters: you must choose "
                                          "at least one stream");
        return;
    }
    lg = xcalloc(1, sizeof(*lg));
    lg->req = req;
    lg->tty = tty;
    lg->l = engine_container_logs(req->engine, req->params[0], &o,
                                  api_logs_on_output, lg, &err);
    if (lg->l == NULL) {
        free(lg);
        api_reply_err(req, &err);
        return;
    }
    api_stream_begin(req, 200, tty ? API_CONTAINERS__RAW
                                   : API_CONTAINERS__MUX);
    api_req_on_close(req, api_logs_on_close, lg);
}

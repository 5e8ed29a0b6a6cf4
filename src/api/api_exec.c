/* SPDX-License-Identifier: Apache-2.0 */
/* /containers/{id}/exec and /exec/{id}: exec instances of the local
 * engine. */
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "base/mem.h"
#include "engine/engine.h"

void api_exec_create(struct api_req *req)
{
    struct err err;
    json_t *body = NULL;
    char *id = NULL;

    if (!api_containers_engine(req))
        return;
    err_clear(&err);
    if (api_body_json(req, &body, &err) != 0 ||
        engine_exec_create(req->engine, req->params[0], body, &id, &err) !=
            0)
        api_reply_err(req, &err);
    else
        api_reply_json(req, 201, json_pack("{s:s}", "Id", id));
    free(id);
    json_decref(body);
}

struct api_exec_io
{
    struct api_hijack *h;        /* owned until closed */
    struct engine_exec *x;       /* borrowed from the engine */
    bool tty;
};

static int api_exec_hijack_write(void *sink, const void *b, size_t n)
{
    return api_hijack_write(sink, b, n);
}

static void api_exec_on_output(void *data, int stream, const char *buf,
                               size_t len)
{
    struct api_exec_io *io = data;

    if (io->h != NULL)
        api_containers_frame(io->h, io->tty, stream, buf, len,
                             api_exec_hijack_write);
}

static void api_exec_on_exit(void *data, int exit_code)
{
    struct api_exec_io *io = data;

    UNUSED(exit_code);
    if (io->h != NULL)
        api_hijack_close(io->h);
    free(io);
}

static void api_exec_on_read(void *data, const char *buf, long len)
{
    struct api_exec_io *io = data;

    if (len > 0) {
        engine_exec_write(io->x, buf, (size_t)len);
        return;
    }
    engine_exec_write(io->x, NULL, 0);
    if (api_hijack_write(io->h, "", 0) != 0) {
        engine_exec_detach(io->x);
        api_hijack_close(io->h);
        free(io);
    }
}

void api_exec_start(struct api_req *req)
{
    struct api_exec_io *io;
    struct err err;
    json_t *body = NULL;
    bool tty = false;
    bool detach;

    if (!api_containers_engine(req))
        return;
    err_clear(&err);
    if (api_body_json(req, &body, &err) != 0) {
        api_reply_err(req, &err);
        return;
    }
    detach = json_is_true(json_object_get(body, "Detach"));
    json_decref(body);
    if (detach) {
        if (engine_exec_start(req->engine, req->params[0], &tty, NULL, NULL,
                              NULL, &err) == NULL)
            api_reply_err(req, &err);
        else
            api_reply_empty(req, 200);
        return;
    }
    io = xcalloc(1, sizeof(*io));
    io->x = engine_exec_start(req->engine, req->params[0], &tty,
                              api_exec_on_output, api_exec_on_exit, io,
                              &err);
    if (io->x == NULL) {
        free(io);
        api_reply_err(req, &err);
        return;
    }
    io->tty = tty;
    io->h = api_hijack(req,
                       tty ? "application/vnd.docker.raw-stream"
                           : "application/vnd.docker.multiplexed-stream",
                       api_exec_on_read, io);
    if (io->h == NULL) {
        engine_exec_detach(io->x);
        free(io);
    }
}

void api_exec_inspect(struct api_req *req)
{
    struct err err;
    json_t *out;

    if (!api_containers_engine(req))
        return;
    err_clear(&err);
    out = engine_exec_inspect(req->engine, req->params[0], &err);
    if (out == NULL)
        api_reply_err(req, &err);
    else
        api_reply_json(req, 200, out);
}

void api_exec_resize(struct api_req *req)
{
    struct err err;
    long h;
    long w;

    if (!api_containers_engine(req))
        return;
    err_clear(&err);
    if (api_containers_int(req, "h", 0, &h, &err) != 0 ||
        api_containers_int(req, "w", 0, &w, &err) != 0 ||
        engine_exec_resize(req->engine, req->params[0], (unsigned)h,
                           (unsigned)w, &err) != 0) {
        api_reply_err(req, &err);
        return;
    }
    api_reply_empty(req, 200);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The plain stream implementation over a libuv TCP or pipe handle. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/mem.h"
#include "base/stream.h"

struct stream_uv
{
    struct stream base;
    uv_stream_t *handle;      /* owned, malloc'd */
    stream_read_cb read_cb;
    stream_close_cb close_cb;
    void *close_data;
    bool closing;
};

struct stream_uv_write
{
    uv_write_t req;
    struct stream_uv *s;
    stream_write_cb cb;
    void *data;
    char bytes[];             /* the copy */
};

static void stream_uv_alloc(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    (void)h;
    b->base = xmalloc(n);
    b->len = n;
}

static void stream_uv_on_read(uv_stream_t *h, ssize_t n, const uv_buf_t *b)
{
    struct stream_uv *s = h->data;

    if (n != 0 && s->read_cb != NULL && !s->closing)
        s->read_cb(&s->base, n, b->base);
    free(b->base);
}

static int stream_uv_read_start(struct stream *base, stream_read_cb cb)
{
    struct stream_uv *s = (struct stream_uv *)base;

    s->read_cb = cb;
    return uv_read_start(s->handle, stream_uv_alloc, stream_uv_on_read);
}

static int stream_uv_read_stop(struct stream *base)
{
    struct stream_uv *s = (struct stream_uv *)base;

    return uv_read_stop(s->handle);
}

static void stream_uv_on_write(uv_write_t *req, int status)
{
    struct stream_uv_write *w = (struct stream_uv_write *)req;

    if (w->cb != NULL)
        w->cb(&w->s->base, status, w->data);
    free(w);
}

static int stream_uv_write(struct stream *base, const void *buf, size_t len,
                           stream_write_cb cb, void *data)
{
    struct stream_uv *s = (struct stream_uv *)base;
    struct stream_uv_write *w;
    uv_buf_t b;
    int rv;

    if (s->closing)
        return UV_ECANCELED;
    w = xmalloc(sizeof(*w) + len);
    w->s = s;
    w->cb = cb;
    w->data = data;
    memcpy(w->bytes, buf, len);
    b = uv_buf_init(w->bytes, (unsigned)len);
    rv = uv_write(&w->req, s->handle, &b, 1, stream_uv_on_write);
    if (rv != 0)
        free(w);
    return rv;
}

static void stream_uv_on_closed(uv_handle_t *h)
{
    struct stream_uv *s = h->data;

    if (s->close_cb != NULL)
        s->close_cb(&s->base, s->close_data);
    free(s->handle);
    free(s);
}

static void stream_uv_close(struct stream *base, stream_close_cb cb,
                            void *data)
{
    struct stream_uv *s = (struct stream_uv *)base;

    if (s->closing)
        return;
    s->closing = true;
    s->close_cb = cb;
    s->close_data = data;
    uv_close((uv_handle_t *)s->handle, stream_uv_on_closed);
}

static const struct stream_ops stream_uv_ops = {
    .read_start = stream_uv_read_start,
    .read_stop = stream_uv_read_stop,
    .write = stream_uv_write,
    .close = stream_uv_close,
};

int stream_uv_adopt(uv_stream_t *handle, struct stream **out,
                    struct err *err)
{
    struct stream_uv *s = xcalloc(1, sizeof(*s));
    struct sockaddr_storage ss;
    int len = sizeof(ss);

    (void)err;
    s->base.ops = &stream_uv_ops;
    s->handle = handle;
    handle->data = s;
    if (handle->type == UV_TCP &&
        uv_tcp_getpeername((uv_tcp_t *)handle, (struct sockaddr *)&ss,
                           &len) == 0) {
        char ip[INET6_ADDRSTRLEN];

        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

            uv_ip4_name(sin, ip, sizeof(ip));
            snprintf(s->base.peer.addr, sizeof(s->base.peer.addr), "%s:%d",
                     ip, ntohs(sin->sin_port));
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

            uv_ip6_name(sin6, ip, sizeof(ip));
            snprintf(s->base.peer.addr, sizeof(s->base.peer.addr),
                     "[%s]:%d", ip, ntohs(sin6->sin6_port));
        }
    }
    *out = &s->base;
    return 0;
}

static int stream_uv_open_fd(uv_loop_t *loop, int fd, struct stream **out,
                             struct err *err)
{
    uv_pipe_t *p = xmalloc(sizeof(*p));
    int rv;

    uv_pipe_init(loop, p, 0);
    rv = uv_pipe_open(p, fd);
    if (rv != 0) {
        free(p);
        return err_set(err, ERR_IO, "uv_pipe_open: %s", uv_strerror(rv));
    }
    return stream_uv_adopt((uv_stream_t *)p, out, err);
}

int stream_uv_pair(uv_loop_t *loop, struct stream **out_a,
                   struct stream **out_b, struct err *err)
{
    int fds[2];
    int rv;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
                   fds) == -1)
        return err_sys(err, ERR_IO, errno, "socketpair");
    rv = stream_uv_open_fd(loop, fds[0], out_a, err);
    if (rv != 0) {
        close(fds[0]);
        close(fds[1]);
        return rv;
    }
    rv = stream_uv_open_fd(loop, fds[1], out_b, err);
    if (rv != 0) {
        close(fds[1]);
        stream_close(*out_a, NULL, NULL);
        return rv;
    }
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A byte stream on the loop, behind a small vtable so that RPC and the Raft
 * bridge do not care whether bytes travel in clear (a uv TCP or unix
 * stream: stream_uv.c) or through TLS (tls_stream.c). The peer's identity
 * comes from the transport (a verified certificate), never from bytes the
 * peer sent.
 */
#ifndef SHOAL_BASE_STREAM_H
#define SHOAL_BASE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>
#include <sys/types.h>

#include <uv.h>

#include "base/err.h"

#define STREAM_ID_MAX 64

/* Who is on the other end. Filled by the transport before the stream is
 * handed to its user; all empty for an unauthenticated peer. */
struct stream_peer
{
    bool verified;               /* a certificate chained to our root */
    char node_id[STREAM_ID_MAX]; /* certificate CN */
    char role[32];               /* certificate OU: swarm-manager|swarm-worker */
    char org[STREAM_ID_MAX];     /* certificate O: the cluster ID */
    char addr[INET6_ADDRSTRLEN + 9]; /* remote "ip:port", "" for unix */
};

struct stream;

/* nread > 0: data[0..nread) is lent for the call. nread < 0: a libuv
 * error code, UV_EOF at the end; no more reads follow. */
typedef void (*stream_read_cb)(struct stream *s, ssize_t nread,
                               const char *data);
/* Fires once per write: 0 when the bytes were handed to the kernel (or
 * encrypted and handed), or a libuv error code; UV_ECANCELED on close. */
typedef void (*stream_write_cb)(struct stream *s, int status, void *data);
/* Fires once, after which the stream's memory is released by its owner
 * transport; the user must not touch s afterwards. */
typedef void (*stream_close_cb)(struct stream *s, void *data);

struct stream_ops
{
    int (*read_start)(struct stream *s, stream_read_cb cb);
    int (*read_stop)(struct stream *s);
    /* buf is copied before the call returns. 0 or a libuv error code (cb
     * does not fire then). */
    int (*write)(struct stream *s, const void *buf, size_t len,
                 stream_write_cb cb, void *data);
    /* Pending writes complete with UV_ECANCELED (or succeed), then cb. */
    void (*close)(struct stream *s, stream_close_cb cb, void *data);
};

struct stream
{
    const struct stream_ops *ops;
    void *data;               /* user's */
    struct stream_peer peer;
};

static inline int stream_read_start(struct stream *s, stream_read_cb cb)
{
    return s->ops->read_start(s, cb);
}

static inline int stream_read_stop(struct stream *s)
{
    return s->ops->read_stop(s);
}

static inline int stream_write(struct stream *s, const void *buf, size_t len,
                               stream_write_cb cb, void *data)
{
    return s->ops->write(s, buf, len, cb, data);
}

static inline void stream_close(struct stream *s, stream_close_cb cb,
                                void *data)
{
    s->ops->close(s, cb, data);
}

/*
 * Plain streams over libuv (stream_uv.c).
 * stream_uv_adopt: wrap an initialised, connected uv_tcp_t or uv_pipe_t
 * that the caller malloc'd; on 0 the stream owns the handle (and frees it
 * with free() after uv_close). *out is malloc'd and released by close.
 */
int stream_uv_adopt(uv_stream_t *handle, struct stream **out,
                    struct err *err);

/* A connected pair of plain streams over socketpair(AF_UNIX) on loop (for
 * tests and in-process bridges). */
int stream_uv_pair(uv_loop_t *loop, struct stream **out_a,
                   struct stream **out_b, struct err *err);

#endif

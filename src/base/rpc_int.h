/* SPDX-License-Identifier: Apache-2.0 */
/* Private to rpc_*.c: the connection object and the calls between the
 * conn, the server's request handling and the client's queue. */
#ifndef SHOAL_BASE_RPC_INT_H
#define SHOAL_BASE_RPC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "base/err.h"
#include "base/rpc.h"
#include "base/stream.h"

#define RPC_CONN__N_BUCKETS 256u   /* call id hash; a power of two */
#define RPC_CONN__MAX_REQS 4096u   /* a peer's requests open at once */
#define RPC_CONN__NAME_LEN 96

struct rpc_conn
{
    uv_loop_t *loop;                 /* borrowed */
    struct stream *stream;           /* owned; NULL once closed */
    const struct rpc_server *server; /* borrowed, may be NULL */
    struct stream_peer peer;         /* copied from the stream */
    char name[RPC_CONN__NAME_LEN];   /* for messages */
    struct rpc_frame_dec dec;
    rpc_conn_closed_cb closed_cb;
    void *data;                      /* closed_cb's */
    struct err why;                  /* why it closed */
    unsigned refs;                   /* open requests + frames in dispatch */
    unsigned in_read;                /* read callbacks on the stack */
    bool failed;                     /* closing has begun */
    bool stream_closing;             /* stream_close was called */
    unsigned n_handles;              /* stream + timer not yet closed */
    bool closed_fired;               /* closed_cb has run */
    bool warned;                     /* a refusal was logged as a warning */
    uint32_t next_id;                /* last call id used */
    struct rpc_call *calls;          /* pending, in send order */
    struct rpc_call *calls_tail;
    size_t n_calls;
    struct rpc_call *buckets[RPC_CONN__N_BUCKETS]; /* by id */
    struct rpc_req *reqs;            /* the peer's open requests */
    size_t n_reqs;
    uv_timer_t timer;                /* earliest call deadline */
    uint64_t timer_at;               /* 0 when not armed */
};

/* Start a call whose call->req ({method, body}) is ready, with an absolute
 * deadline (0 = none). Same contract as rpc_conn_call. */
int rpc_conn_start(struct rpc_conn *conn, struct rpc_call *call,
                   uint64_t deadline, struct err *err);
/* Begin closing for reason why (see rpc_conn_close); no-op when closing. */
void rpc_conn_abort(struct rpc_conn *conn, const struct err *why);
/* True until the conn begins closing. */
bool rpc_conn_is_open(const struct rpc_conn *conn);
/* Encode and write one frame; on a write failure the conn fails. payload
 * borrowed. 0 or -code (nothing sent). */
int rpc_conn_send(struct rpc_conn *conn, uint8_t type, uint8_t flags,
                  uint32_t call_id, const json_t *payload, struct err *err);
/* Unlink an answered request, free it and drop its conn ref. */
void rpc_conn_req_done(struct rpc_conn *conn, struct rpc_req *req);
/* {"status": -code, "message": msg} (+ body when non-NULL, borrowed). */
json_t *rpc_conn_status_payload(int status, const char *msg, json_t *body);

/* Log a refused request: a warning naming the peer, the method and why,
 * the first time on conn, debug lines after that. */
void rpc_server_log_refusal(struct rpc_conn *conn, const char *method,
                            const struct err *why);
/* Run a REQUEST frame from the peer (payload taken). */
void rpc_server_dispatch(struct rpc_conn *conn, uint32_t id, uint8_t flags,
                         json_t *payload);
/* The peer canceled its call id, or the conn closed: tell the handler. */
void rpc_server_cancel(struct rpc_req *req);

/* Remove a queued call from its client and complete it with -ERR_CANCELED. */
void rpc_client_cancel_queued(struct rpc_call *call);

#endif

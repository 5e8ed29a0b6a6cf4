/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RPC on the cluster port: length-prefixed frames carrying JSON, unary calls
 * with deadlines, server streams and cancellation over any struct stream
 * (plain or TLS). rpc_conn is one peer connection (either side may call),
 * rpc_server a method table with role checks against the peer certificate,
 * rpc_client a reconnecting connection manager for one remote address.
 * Everything runs on one uv loop; nothing here is thread-safe.
 *
 * Wire format (all integers big-endian), see also rpc_frame.c:
 *   u32 payload length | u8 type | u8 flags | u16 zero | u32 call id
 *   followed by `length` bytes of UTF-8 JSON (an object), at most
 *   RPC_FRAME_MAX bytes.
 *   REQUEST  {"method": str, "body": any}        flag STREAM: server stream
 *   RESPONSE {"status": 0|-code, "message": str, "body": any}
 *   STREAM   {"body": any}                        one server-stream message
 *   END      {"status": 0|-code, "message": str, "body": any}
 *   CANCEL   (no payload)                         client gives up call id
 * Call ids are chosen by the side that sends the REQUEST and are unique
 * among its calls in flight on that connection; RESPONSE, STREAM and END
 * refer to the requester's id. Status codes are enum err_code, negated.
 */
#ifndef SHOAL_BASE_RPC_H
#define SHOAL_BASE_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "base/err.h"
#include "base/stream.h"

/* Docker's gRPC message cap (swarmkit MaxMsgSize): 4 MiB per payload. */
#define RPC_FRAME_MAX (4u * 1024 * 1024)
#define RPC_FRAME_HDR_LEN 12

enum rpc_frame_type {
    RPC_FRAME_REQUEST = 1,
    RPC_FRAME_RESPONSE = 2,
    RPC_FRAME_STREAM = 3,
    RPC_FRAME_END = 4,
    RPC_FRAME_CANCEL = 5,
};

/* REQUEST flag: the caller opened a server stream (expects STREAM..END). */
#define RPC_FRAME_F_STREAM 0x01u

/* rpc_frame_feed results besides -code. */
#define RPC_FRAME_OK 0    /* a whole frame is in *out */
#define RPC_FRAME_AGAIN 1 /* all input consumed, more needed */

/* A decoded, validated frame. */
struct rpc_frame
{
    uint8_t type;       /* enum rpc_frame_type */
    uint8_t flags;      /* RPC_FRAME_F_* */
    uint32_t call_id;   /* never 0 */
    json_t *payload;    /* owned; an object; NULL for CANCEL */
};

/* Incremental decoder state; all of it lives here so any split of the input
 * gives the same frames. */
struct rpc_frame_dec
{
    unsigned char hdr[RPC_FRAME_HDR_LEN]; /* header bytes so far */
    size_t hdr_len;     /* bytes of hdr filled */
    uint32_t len;       /* payload length from the header */
    uint8_t type;
    uint8_t flags;
    uint32_t call_id;
    char *payload;      /* owned; mem_try_alloc'd once the header is valid */
    size_t payload_len; /* payload bytes filled */
    size_t max;         /* payload cap */
    bool failed;        /* a peer broke the format; feed refuses further */
};

/* Start a decoder with payload cap max (0 means RPC_FRAME_MAX). */
void rpc_frame_dec_init(struct rpc_frame_dec *dec, size_t max);
/* Free a partial payload. The decoder may be re-initialised afterwards. */
void rpc_frame_dec_release(struct rpc_frame_dec *dec);

/*
 * Consume bytes from data[0..len) until one frame is complete or the input
 * runs out. *out_used is set to the bytes consumed (always, also on error).
 * Returns RPC_FRAME_OK with *out filled (the caller owns out->payload and
 * must json_decref it; call again with the rest of the input),
 * RPC_FRAME_AGAIN when all len bytes were consumed without completing a
 * frame, or -ERR_PROTO (oversize, unknown type or flags, non-zero reserved
 * bits, call id 0, payload not a JSON object or missing required fields);
 * after an error every further call fails again.
 */
int rpc_frame_feed(struct rpc_frame_dec *dec, const char *data, size_t len,
                   size_t *out_used, struct rpc_frame *out, struct err *err);

/*
 * Encode one frame into a new buffer (*out, malloc'd, *out_len bytes) that
 * the caller frees. payload is borrowed; NULL only for CANCEL.
 * Returns 0, or -ERR_TOOBIG when the encoded payload would exceed
 * RPC_FRAME_MAX (nothing allocated then), -ERR_INVALID for a payload that
 * jansson cannot encode.
 */
int rpc_frame_encode(uint8_t type, uint8_t flags, uint32_t call_id,
                     const json_t *payload, char **out, size_t *out_len,
                     struct err *err);

/* ------------------------------------------------------------------ */
/* Calls (client side of a request). */

struct rpc_call;
struct rpc_conn;
struct rpc_client;
struct rpc_server;
struct rpc_req;

/*
 * Completion: fires exactly once per started call. status is 0 or -code
 * (call->err holds the message: the server's own text, or "deadline
 * exceeded", or the connection loss naming the peer, or ERR_CANCELED).
 * body is borrowed for the callback (JSON null when the server sent none,
 * NULL on error); json_incref it to keep it. The call struct is the
 * caller's again as soon as the callback starts (it may be freed or reused
 * inside the callback).
 */
typedef void (*rpc_call_cb)(struct rpc_call *call, int status, json_t *body);
/* One server-stream message; body borrowed for the callback. Never fires
 * after the completion callback. rpc_conn_cancel may be called from it. */
typedef void (*rpc_call_msg_cb)(struct rpc_call *call, json_t *body);

/* A call request, allocated by the caller (libuv style). Set data, cb and,
 * for a server stream, on_msg; the rest is private. */
struct rpc_call
{
    void *data;              /* user's */
    rpc_call_cb cb;          /* required */
    rpc_call_msg_cb on_msg;  /* non-NULL: open a server stream */
    struct err err;          /* filled before cb on failure */
    /* private */
    struct rpc_conn *conn;     /* borrowed: the conn it is in flight on */
    struct rpc_client *client; /* borrowed: the client queueing it */
    json_t *req;               /* owned: {method, body} until sent */
    uint32_t id;               /* call id on conn, 0 when not sent */
    uint64_t deadline;         /* uv_now() ms; 0 = none */
    uint64_t wait_until;       /* uv_now() ms a queued call gives up */
    struct rpc_call *prev;     /* pending list of conn or client queue */
    struct rpc_call *next;
    struct rpc_call *hnext;    /* conn's id hash chain */
};

/*
 * Cancel a call started with rpc_conn_call or rpc_client_call. If it has
 * not completed, its cb fires with -ERR_CANCELED before this returns and,
 * when it was sent, a CANCEL frame tells the server (whose handler is told
 * once). A call that already completed is left alone (no-op): do not cancel
 * a call struct that was freed or reused.
 */
void rpc_conn_cancel(struct rpc_call *call);

/* ------------------------------------------------------------------ */
/* Connections. */

/*
 * Fires exactly once per conn, after its stream is closed: why->code is
 * ERR_CANCELED for rpc_conn_close, ERR_UNAVAILABLE for loss of the peer,
 * ERR_PROTO when the peer broke the wire format. After this callback the
 * owner must not touch conn again (its memory goes when the last server
 * request on it has been answered).
 */
typedef void (*rpc_conn_closed_cb)(struct rpc_conn *conn,
                                   const struct err *why, void *data);

/*
 * Wrap a connected stream. On 0 the conn owns *stream (set to NULL) and
 * reads from it; requests from the peer go to server (borrowed, must
 * outlive the conn; NULL: every request gets ERR_NOTFOUND). name is copied
 * and used in messages ("connection to <name> lost"); NULL uses the peer
 * address or node id. closed_cb (may be NULL) fires once as described.
 * On failure (the stream refused to read) *stream stays the caller's.
 */
int rpc_conn_new(uv_loop_t *loop, struct stream **stream,
                 const struct rpc_server *server, const char *name,
                 rpc_conn_closed_cb closed_cb, void *data,
                 struct rpc_conn **out, struct err *err);

/*
 * Send call on conn: method (copied) with body (borrowed; NULL sends JSON
 * null), failing with ERR_UNAVAILABLE "deadline exceeded" after timeout_ms
 * (0 = no deadline; a late response is dropped). call->cb must be set.
 * Returns 0 and call->cb fires exactly once later (never before this
 * returns); or -code (ERR_TOOBIG body over the cap, ERR_UNAVAILABLE conn
 * closing) with err set, and cb never fires.
 */
int rpc_conn_call(struct rpc_conn *conn, struct rpc_call *call,
                  const char *method, json_t *body, uint64_t timeout_ms,
                  struct err *err);

/*
 * Begin closing: pending calls complete with -ERR_CANCELED, server
 * requests' handlers are told (cancel cb), the stream is closed and
 * closed_cb fires later with ERR_CANCELED. Safe from any callback of this
 * conn; a second call, or one after a failure, is a no-op.
 */
void rpc_conn_close(struct rpc_conn *conn);

/* The peer identity the transport gave (copied from the stream). */
const struct stream_peer *rpc_conn_peer(const struct rpc_conn *conn);
/* The stream conn reads and writes, borrowed: NULL once the conn is
 * closing. For checks on the transport (tls_stream_verify_peer); never
 * read, write or close it. */
struct stream *rpc_conn_stream(const struct rpc_conn *conn);
/* Calls this side has in flight on conn. */
size_t rpc_conn_n_calls(const struct rpc_conn *conn);

/* ------------------------------------------------------------------ */
/* Server side. */

enum rpc_role {
    RPC_ROLE_ANY,     /* any peer, unauthenticated too (CA bootstrap) */
    RPC_ROLE_NODE,    /* verified swarm-worker or swarm-manager */
    RPC_ROLE_MANAGER, /* verified swarm-manager */
};

/* The handler owns req until it answers it with rpc_server_reply or
 * rpc_server_fail, exactly once, now or later (even after the connection
 * died: the answer is then dropped). data is the server's. */
typedef void (*rpc_handler_cb)(struct rpc_req *req, void *data);
/* The client canceled or the connection closed before the answer: stop
 * producing and answer req (the answer is dropped). Fires at most once,
 * never after the answer. */
typedef void (*rpc_req_cancel_cb)(struct rpc_req *req, void *data);

struct rpc_method
{
    const char *name;       /* "ca.IssueNodeCertificate", static */
    enum rpc_role role;
    rpc_handler_cb handler;
};

/* A request from a peer. The public fields are read-only for handlers. */
struct rpc_req
{
    const struct stream_peer *peer; /* borrowed from the conn; valid until
                                       the answer */
    const char *method;       /* borrowed, valid until the answer */
    json_t *body;             /* borrowed, valid until the answer; never
                                 NULL (JSON null when absent) */
    bool stream;              /* the client opened a server stream */
    void *data;               /* handler's */
    /* private */
    struct rpc_conn *conn;    /* refcounted: the conn outlives req */
    json_t *payload;          /* owned: the REQUEST payload */
    uint32_t id;
    bool canceled;            /* told, or the conn is gone */
    rpc_req_cancel_cb cancel_cb;
    void *cancel_data;
    struct rpc_req *prev;     /* conn's open requests */
    struct rpc_req *next;
};

/* Method table. methods (and names) are borrowed and must outlive every
 * conn using the server. */
struct rpc_server
{
    const struct rpc_method *methods;
    size_t n_methods;
    void *data;               /* passed to handlers */
};

void rpc_server_init(struct rpc_server *srv, const struct rpc_method *methods,
                     size_t n_methods, void *data);

/*
 * 0 when peer may call a method of role role; otherwise -ERR_FORBIDDEN with
 * "permission denied: <method> needs a manager certificate" (or "a worker
 * or manager certificate") in err.
 */
int rpc_server_check_role(enum rpc_role role, const struct stream_peer *peer,
                          const char *method, struct err *err);

/*
 * Answer req with success: RESPONSE (or END for a stream) carrying body
 * (borrowed; NULL sends none). Consumes req; never fails for the caller: a
 * dead conn drops the answer, an oversize body becomes ERR_TOOBIG.
 */
void rpc_server_reply(struct rpc_req *req, json_t *body);
/* Answer req with err (code and message). Consumes req as above. A
 * permission refusal (ERR_FORBIDDEN, ERR_UNAUTHORIZED) is logged as
 * rpc_server_warn does. */
void rpc_server_fail(struct rpc_req *req, const struct err *err);
/* Log that req is refused for err: a warning with the peer's address and
 * certificate, once per connection (later refusals at debug). For refusals
 * that are not permission errors, e.g. a bad join token; call before
 * answering. */
void rpc_server_warn(const struct rpc_req *req, const struct err *err);

/*
 * Send one STREAM message (body borrowed) on a stream request.
 * 0, -ERR_INVALID (not a stream request), -ERR_CANCELED (canceled or the
 * conn is gone: stop and answer), -ERR_TOOBIG. req stays the handler's.
 * No flow control: messages queue in the stream's write queue.
 */
int rpc_server_send(struct rpc_req *req, json_t *body, struct err *err);

/*
 * True when req's connection is gone for a reason other than a close on
 * this side: the peer hung up (EOF, reset), its TLS failed or it broke
 * the wire format. False while the connection is open (a CANCEL frame:
 * the client gave up the call, not the connection) and after
 * rpc_conn_close. Meant for cancel callbacks that must tell "the client
 * is gone" from "the client gave up".
 */
bool rpc_server_peer_lost(const struct rpc_req *req);

/*
 * Install the cancel callback. Returns false (nothing installed, cb will
 * not fire) when req was already canceled.
 */
bool rpc_server_on_cancel(struct rpc_req *req, rpc_req_cancel_cb cb,
                          void *data);

/* ------------------------------------------------------------------ */
/* Client: one remote address, reconnecting. */

/*
 * Dialer: start connecting to address and answer with rpc_client_dialed
 * exactly once (later, or before returning). data is the client's
 * dial_data.
 */
typedef void (*rpc_client_dial_cb)(struct rpc_client *client,
                                   const char *address, void *data);
/* Fires once when rpc_client_close is done: the client may be freed. */
typedef void (*rpc_client_close_cb)(struct rpc_client *client);

/* Back-off after consecutive failed dials or a lost connection (Docker's
 * agent: 100 ms, then min(100 ms + 2 x previous, 8 s)). */
#define RPC_CLIENT_BACKOFF_INITIAL_MS 100u
#define RPC_CLIENT_BACKOFF_MAX_MS 8000u
/* Calls held while not connected; beyond this they fail at once. */
#define RPC_CLIENT_MAX_QUEUED 4096u
/* A queued call without a deadline gives up after this long unconnected. */
#define RPC_CLIENT_QUEUE_WAIT_MS 30000u

struct rpc_client
{
    void *data;                 /* user's */
    /* private */
    uv_loop_t *loop;            /* borrowed */
    char *address;              /* owned */
    rpc_client_dial_cb dial;
    void *dial_data;
    const struct rpc_server *server; /* borrowed, may be NULL */
    struct rpc_conn *conn;      /* owned; NULL unless connected */
    uv_timer_t retry_timer;     /* back-off before the next dial */
    uv_timer_t deadline_timer;  /* expiry of queued calls */
    struct rpc_call *queue;     /* calls waiting for a connection */
    struct rpc_call *queue_tail;
    size_t n_queued;
    uint64_t backoff_ms;        /* last delay used, 0 after a success */
    struct err last_err;        /* why the last dial or conn failed */
    unsigned n_dials;           /* dial attempts started (tests, stats) */
    bool dialing;               /* a dial is outstanding */
    bool closing;
    unsigned n_open_handles;    /* timers and conn still to close */
    rpc_client_close_cb close_cb;
};

/* The next back-off delay after prev_ms (0: the first). */
uint64_t rpc_client_backoff_next(uint64_t prev_ms);

/*
 * Start a client for address (copied) and dial at once. dial and dial_data
 * are required / borrowed; server (may be NULL) serves requests the remote
 * sends back on the same connection. Policy while not connected: calls are
 * queued (up to RPC_CLIENT_MAX_QUEUED) and sent in order when a connection
 * comes up; their deadline keeps running (a call without one waits at most
 * RPC_CLIENT_QUEUE_WAIT_MS), so none waits forever: expiry fails it with
 * ERR_UNAVAILABLE naming the last dial error. A call in
 * flight when the connection drops fails with ERR_UNAVAILABLE (not
 * retried: the server may have acted on it). Returns 0.
 */
int rpc_client_init(struct rpc_client *c, uv_loop_t *loop,
                    const char *address, rpc_client_dial_cb dial,
                    void *dial_data, const struct rpc_server *server,
                    struct err *err);

/*
 * Dialer's answer. On success pass the connected stream (*stream is taken,
 * set to NULL) and err NULL; on failure stream NULL and err describing it.
 * Must be called exactly once per dial callback, also while closing (the
 * stream is then closed).
 */
void rpc_client_dialed(struct rpc_client *c, struct stream **stream,
                       const struct err *err);

/* Like rpc_conn_call through the current or next connection. Returns 0
 * (cb fires exactly once later), or -ERR_UNAVAILABLE (closing, queue full)
 * / -ERR_TOOBIG with cb never firing. A queued call whose body turns out
 * too big when its connection comes up completes with -ERR_TOOBIG. */
int rpc_client_call(struct rpc_client *c, struct rpc_call *call,
                    const char *method, json_t *body, uint64_t timeout_ms,
                    struct err *err);

/* True while a connection is up. */
bool rpc_client_is_connected(const struct rpc_client *c);

/*
 * Stop: queued and in-flight calls complete with -ERR_CANCELED, the
 * connection and timers close, an outstanding dial is waited for, then cb
 * fires once. Do not call twice.
 */
void rpc_client_close(struct rpc_client *c, rpc_client_close_cb cb);

#endif

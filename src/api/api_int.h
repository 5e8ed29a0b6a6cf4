/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared inside api/: the request object handlers receive, the reply
 * functions (each request gets exactly one reply), and the handlers the
 * route table names.
 */
#ifndef SHOAL_API_INT_H
#define SHOAL_API_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/api.h"
#include "base/buf.h"
#include "base/err.h"

#define API_MAX_PARAMS 2

enum api_method { API_GET, API_HEAD, API_POST, API_PUT, API_DELETE, API_OTHER };

struct api_conn;
struct engine;

struct api_req
{
    struct api_conn *conn;        /* NULL once the peer went away */
    struct cluster *cluster;      /* borrowed from the server */
    enum api_method method;
    char *url;                    /* owned: raw request target */
    char *path;                   /* owned: path without /vX.Y, decoded */
    char *query;                  /* owned: raw query string or NULL */
    char *params[API_MAX_PARAMS]; /* owned: {name} path segments */
    struct buf body;              /* request body, capped */
    char *content_type;           /* owned or NULL */
    int version_major;            /* requested API version */
    int version_minor;
    bool keep_alive;
    bool replied;
    api_forward_cb sink;          /* set for a forwarded request: the reply
                                     goes here instead of a connection */
    void *sink_data;
    bool forwarded;               /* served for another manager: never
                                     forwarded again */
    struct engine *engine;        /* borrowed from the server (local
                                     containers and images) */
    char *body_path;              /* owned: for routes flagged body_file,
                                     the body spooled to this file (removed
                                     when the request is freed); body is
                                     then empty */
    bool upgrade;                 /* the client sent "Upgrade: tcp" */
    bool streaming;               /* api_stream_begin was called */
    int stream_status;
    char *stream_ctype;           /* owned */
    struct buf stream_buf;        /* a forwarded stream, sent at its end */
    void (*close_cb)(void *data); /* api_req_on_close */
    void *close_data;
};

typedef void (*api_handler_fn)(struct api_req *req);

/* Replies. Each request is answered exactly once; after the reply the
 * request is freed (possibly later, once the write completed), so a handler
 * must not touch req after calling one of these. */
void api_reply_json(struct api_req *req, int status, json_t *body); /* steals */
void api_reply_text(struct api_req *req, int status, const char *ctype,
                    const char *text);
void api_reply_empty(struct api_req *req, int status);
/* A reply made elsewhere (the leader's, for a forwarded request). */
void api_reply_raw(struct api_req *req, int status, const char *ctype,
                   const char *body, size_t len);
/* {"message": err->msg} with the status from the code table. */
void api_reply_err(struct api_req *req, const struct err *err);
void api_reply_error(struct api_req *req, int code, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

/*
 * Streaming replies (logs -f, wait, pull/load progress, save archives):
 * headers first with Transfer-Encoding: chunked, then any number of
 * chunks, then the end (which frees req). api_stream_write copies and
 * returns -1 once the peer is gone (req->conn NULL); the handler must
 * still call api_stream_end.
 */
void api_stream_begin(struct api_req *req, int status, const char *ctype);
int api_stream_write(struct api_req *req, const void *data, size_t len);
void api_stream_end(struct api_req *req);
/* Bytes written but not yet sent, and a one-shot callback for when they
 * all are (at once if none): producers of big streams (image archives)
 * pace themselves with these instead of queueing everything. */
size_t api_stream_queued(const struct api_req *req);
void api_stream_on_drain(struct api_req *req, void (*cb)(void *data),
                         void *data);
/* Tell cb (once) when the peer goes away while the handler still holds
 * req (a long wait, a follow); after it req->conn is NULL. The handler
 * still replies (into the void) to free req. Only one callback. */
void api_req_on_close(struct api_req *req, void (*cb)(void *data),
                      void *data);

/*
 * Hijacked connections (attach, exec start): the reply is Docker's
 * "101 UPGRADED" (Connection: Upgrade, Upgrade: tcp) when the client
 * asked to upgrade, else "200 OK", with ctype
 * (application/vnd.docker.raw-stream or .multiplexed-stream), and then the
 * connection is a raw byte stream both ways. req is freed by the call;
 * NULL when there is nothing to hijack (the peer is gone already).
 * fn gets the client's bytes, then len < 0 once when the client closed its
 * side or the connection went away (api_hijack_write fails after the
 * latter). api_hijack_close flushes what was written and closes; fn never
 * fires after it.
 */
struct api_hijack;
typedef void (*api_hijack_read_fn)(void *data, const char *buf, long len);
struct api_hijack *api_hijack(struct api_req *req, const char *ctype,
                              api_hijack_read_fn fn, void *data);
int api_hijack_write(struct api_hijack *h, const void *buf, size_t len);
void api_hijack_close(struct api_hijack *h);

/* /_ping's reply: body OK (none for HEAD) and Docker's ping headers. */
void api_reply_ping(struct api_req *req, const char *swarm_state);

/* A store object as the API shows it: a deep copy without the internal
 * ('_'-prefixed) fields. Caller owns it. */
json_t *api_public_copy(const json_t *obj);
/* The same as a shallow copy: the fields are the store's own, so it is
 * only for a reply encoded at once (api_reply_json) and never changed.
 * Lists of many objects (GET /tasks) cost no copy of each. */
json_t *api_public_view(const json_t *obj);
/* A node as the API shows it, with ManagerStatus filled from Raft. */
json_t *api_node_view(const struct api_req *req, const json_t *node);
/* Parse a ?version= value like Docker ("invalid <kind> version '<v>'..."). */
int api_version_param(const struct api_req *req, const char *kind,
                      uint64_t *out, struct err *err);

/* Query parameters: value of name (decoded, malloc'd) or NULL. */
char *api_query_get(const struct api_req *req, const char *name);
/* Docker's boolean query values: "1", "true", "True" ... -> true. */
bool api_query_bool(const struct api_req *req, const char *name);
/* The body as a JSON value; empty body -> NULL with 0; bad JSON -> 400. */
int api_body_json(struct api_req *req, json_t **out, struct err *err);
/* True if the request's version is >= major.minor. */
bool api_version_at_least(const struct api_req *req, int major, int minor);

/* Route table dispatch (api_router.c): parses the version prefix, finds
 * the handler and calls it, or replies with Docker's error. */
void api_router_dispatch(struct api_req *req);
/* Hand req to the leader as the client sent it; its reply answers req. */
void api_router_forward(struct api_req *req);
/* True if the route of url (for a POST/PUT when post) takes its body as a
 * file (route flag body_file): the server spools it to req->body_path. */
bool api_router_wants_body_file(const char *url, bool post);

/* Docker `filters=` parsing (api_filters.c): returns a JSON object
 * {key: [values...]} (both Docker encodings accepted), or NULL with err
 * "invalid filter". allowed is a NULL-terminated list of keys. */
json_t *api_filters_parse(const struct api_req *req,
                          const char *const *allowed, struct err *err);
/* True if the filter has no values for key or any value equals v. */
bool api_filters_match(const json_t *filters, const char *key, const char *v);
/* Same, with prefix matching (id filters). */
bool api_filters_match_prefix(const json_t *filters, const char *key,
                              const char *v);
/* Label filter: "k" or "k=v" against an object of labels. */
bool api_filters_match_labels(const json_t *filters, const char *key,
                              const json_t *labels);

/* Handlers */
void api_system_ping(struct api_req *req);
void api_system_version(struct api_req *req);
void api_system_info(struct api_req *req);
/* Read or make (durably) the engine ID that /info shows, so that no
 * request pays its first write (a new node's first /info is the one
 * `docker swarm join` makes). */
void api_system_load_id(const struct cluster *c);
void api_swarm_inspect(struct api_req *req);
void api_swarm_init(struct api_req *req);
void api_swarm_join(struct api_req *req);
void api_swarm_leave(struct api_req *req);
void api_swarm_update(struct api_req *req);
void api_swarm_unlockkey(struct api_req *req);
void api_swarm_unlock(struct api_req *req);
void api_nodes_list(struct api_req *req);
void api_nodes_inspect(struct api_req *req);
void api_nodes_update(struct api_req *req);
void api_nodes_delete(struct api_req *req);
void api_networks_list(struct api_req *req);
void api_networks_inspect(struct api_req *req);
void api_services_create(struct api_req *req);
void api_services_list(struct api_req *req);
void api_services_inspect(struct api_req *req);
void api_services_update(struct api_req *req);
void api_services_delete(struct api_req *req);
void api_services_logs(struct api_req *req);
void api_tasks_list(struct api_req *req);
/* /secrets and /configs (api_secrets.c). */
void api_secrets_list_secrets(struct api_req *req);
void api_secrets_list_configs(struct api_req *req);
void api_secrets_inspect_secret(struct api_req *req);
void api_secrets_inspect_config(struct api_req *req);
void api_secrets_create_secret(struct api_req *req);
void api_secrets_create_config(struct api_req *req);
void api_secrets_update_secret(struct api_req *req);
void api_secrets_update_config(struct api_req *req);
void api_secrets_delete_secret(struct api_req *req);
void api_secrets_delete_config(struct api_req *req);
void api_tasks_inspect(struct api_req *req);
/* Containers and exec (api_containers.c, api_exec.c), with their shared
 * helpers: the engine check (replies 503 when there is none), integer
 * query values, and output framing (multiplexed unless tty). */
bool api_containers_engine(struct api_req *req);
int api_containers_int(const struct api_req *req, const char *name,
                       long def, long *out, struct err *err);
void api_containers_frame(void *sink, bool tty, int stream, const char *buf,
                          size_t len,
                          int (*write)(void *sink, const void *b, size_t n));
void api_containers_create(struct api_req *req);
void api_containers_list(struct api_req *req);
void api_containers_inspect(struct api_req *req);
void api_containers_start(struct api_req *req);
void api_containers_stop(struct api_req *req);
void api_containers_restart(struct api_req *req);
void api_containers_kill(struct api_req *req);
void api_containers_delete(struct api_req *req);
void api_containers_prune(struct api_req *req);
void api_containers_rename(struct api_req *req);
void api_containers_resize(struct api_req *req);
void api_containers_wait(struct api_req *req);
void api_containers_attach(struct api_req *req);
void api_containers_logs(struct api_req *req);
void api_exec_create(struct api_req *req);
void api_exec_start(struct api_req *req);
void api_exec_inspect(struct api_req *req);
void api_exec_resize(struct api_req *req);
void api_images_create(struct api_req *req);
void api_images_load(struct api_req *req);
void api_images_get(struct api_req *req);
void api_images_get_one(struct api_req *req);
void api_images_list(struct api_req *req);
void api_images_inspect(struct api_req *req);
void api_images_tag(struct api_req *req);
void api_images_delete(struct api_req *req);
#ifdef SHOAL_TESTING
void api_debug_task_create(struct api_req *req);
void api_debug_task_update(struct api_req *req);
void api_debug_task_delete(struct api_req *req);
/*
 * Test seams for the fuzzer (tests/fuzz/fuzz_api_http.c).
 * api_server_test_feed serves data as everything one client sent on a new
 * connection before closing its side: the bytes arrive in pieces of the
 * sizes next(arg, left) picks (1..left; NULL: all at once), the loop runs
 * between pieces, and the call returns once the connection is closed.
 * Replies are written to a socketpair whose other end is already closed
 * (the caller ignores SIGPIPE). data is borrowed.
 * api_router_set_test_filter: routes for which allow(pattern, method)
 * returns false answer 403 instead of running (a fuzzer must not init or
 * join a swarm); NULL allows all again.
 */
void api_server_test_feed(struct api_server *srv, const void *data,
                          size_t len, size_t (*next)(void *arg, size_t left),
                          void *arg);
void api_router_set_test_filter(bool (*allow)(const char *pattern,
                                              enum api_method method));
void api_debug_store_digest(struct api_req *req);
void api_debug_stream(struct api_req *req);
void api_debug_hijack(struct api_req *req);
void api_debug_body_file(struct api_req *req);
void api_debug_params(struct api_req *req);
#endif

#endif

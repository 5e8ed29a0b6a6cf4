/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Docker Engine API server: HTTP/1.1 over a unix socket on the daemon's
 * loop, versioned (/vX.Y/...) and unversioned paths, Docker's JSON errors.
 * Routes are served from the cluster state of this node.
 */
#ifndef SHOAL_API_H
#define SHOAL_API_H

#include <stddef.h>

#include <uv.h>

#include "base/err.h"

#define API_VERSION_MAX "1.51"
#define API_VERSION_MIN "1.24"

struct api_server;
struct cluster;
struct engine;

/* Listen on host ("unix:///path"); the socket file is replaced if stale and
 * made 0660. cluster and engine (the local containers and images; may be
 * NULL) are borrowed for the server's lifetime. NULL on error. */
struct api_server *api_server_start(uv_loop_t *loop, const char *host,
                                    struct cluster *cluster,
                                    struct engine *engine, struct err *err);

/* Where the reply to a forwarded request goes: status, content type (NULL
 * for none) and body (lent for the call). Fires exactly once. */
typedef void (*api_forward_cb)(void *data, int status, const char *ctype,
                               const char *body, size_t len);

/*
 * Serve a request that another manager forwarded here because this node
 * leads: method ("GET", "POST", ...), url (path with its /vX.Y prefix and
 * query, as the client sent it) and body (copied). The reply reaches cb
 * instead of a socket; the request is never forwarded again, so two
 * managers that disagree about the leader cannot bounce it.
 */
void api_serve_forwarded(struct cluster *cluster, const char *method,
                         const char *url, const void *body, size_t len,
                         api_forward_cb cb, void *data);

/* Stop listening, close every connection (pending requests complete into
 * the void), free the server, then call cb. */
void api_server_close(struct api_server *srv, void (*cb)(void *data),
                      void *data);

#endif

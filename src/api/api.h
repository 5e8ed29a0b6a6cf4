/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Docker Engine API server: HTTP/1.1 over a unix socket on the daemon's
 * loop, versioned (/vX.Y/...) and unversioned paths, Docker's JSON errors.
 * Routes are served from the cluster state of this node.
 */
#ifndef SHOAL_API_H
#define SHOAL_API_H

#include <uv.h>

#include "base/err.h"

#define API_VERSION_MAX "1.51"
#define API_VERSION_MIN "1.24"

struct api_server;
struct cluster;

/* Listen on host ("unix:///path"); the socket file is replaced if stale and
 * made 0660. cluster is borrowed for the server's lifetime. NULL on error. */
struct api_server *api_server_start(uv_loop_t *loop, const char *host,
                                    struct cluster *cluster, struct err *err);

/* Stop listening, close every connection (pending requests complete into
 * the void), free the server, then call cb. */
void api_server_close(struct api_server *srv, void (*cb)(void *data),
                      void *data);

#endif

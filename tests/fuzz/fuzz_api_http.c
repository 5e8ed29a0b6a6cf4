/* SPDX-License-Identifier: Apache-2.0 */
/* The Engine API's HTTP server (api/api_server.c over http-parser) and the
 * route table behind it: the input is everything a client sends on one
 * connection, arriving in pieces the first byte's split picks. The node is
 * a real one in the inactive swarm state, with no image store; routes that
 * would create or join a swarm (and so listen or dial) answer 403. */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "api/api_int.h"
#include "base/err.h"
#include "cluster/cluster.h"
#include "fuzz_util.h"

static uv_loop_t loop;
static char *dir;
static struct cluster *cluster;
static struct api_server *srv;

static bool allow(const char *pattern, enum api_method method)
{
    (void)method;
    return strcmp(pattern, "/swarm/init") != 0 &&
           strcmp(pattern, "/swarm/join") != 0;
}

static size_t next_piece(void *arg, size_t left)
{
    return fuzz_split_next(arg, left);
}

static void cleanup(void)
{
    fuzz_rm_rf(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct err err;
    char host[4200];

    (void)argc;
    (void)argv;
    fuzz_quiet();
    signal(SIGPIPE, SIG_IGN);
    dir = fuzz_tmpdir("fuzz-api");
    atexit(cleanup);
    uv_loop_init(&loop);
    err_clear(&err);
    cluster = cluster_new(&loop, dir, &err);
    if (cluster == NULL)
        abort();
    snprintf(host, sizeof(host), "unix://%s/api.sock", dir);
    srv = api_server_start(&loop, host, cluster, NULL, &err);
    if (srv == NULL)
        abort();
    api_router_set_test_filter(allow);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_split split;

    if (size < 1)
        return 0;
    fuzz_split_init(&split, data[0]);
    api_server_test_feed(srv, data + 1, size - 1,
                         (data[0] & 0x80) ? NULL : next_piece, &split);
    return 0;
}

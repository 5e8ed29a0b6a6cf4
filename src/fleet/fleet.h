/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A simulated fleet for scale benchmarks (`shoal bench agents N`): one
 * process, one loop, N worker nodes, each a real struct cluster that joins
 * through the real ca.root/ca.join path with its own key and certificate
 * (data under <data>/<prefix><i>/, so a rerun restores the same nodes
 * instead of joining again) and runs the real agent: heartbeats, the
 * assignments stream to the leader, task statuses. Only the engine is
 * simulated (fleet_engine.c): tasks go accepted -> preparing -> ready ->
 * starting -> running through the agent's executor without containers.
 */
#ifndef SHOAL_FLEET_H
#define SHOAL_FLEET_H

#include <stddef.h>

#include "base/err.h"

#define FLEET_MAX_NODES 100000u
#define FLEET_JOIN_CONCURRENCY 50u /* joins in flight at once */
#define FLEET_JOIN_TRIES 5u        /* attempts per node before giving up */

struct fleet_config
{
    size_t n_nodes;               /* 1..FLEET_MAX_NODES */
    const char *token;            /* SWMTKN-1-... worker (or manager) token */
    const char *manager;          /* "host:port" of a manager */
    const char *data_dir;         /* per-node data roots go under it */
    const char *hostname_prefix;  /* node i reports Hostname <prefix><i> */
    const char *listen_addr;      /* ListenAddr of every join ("ip:port";
                                     workers listen on it, so only for one
                                     node), NULL: 127.0.0.1 and a free
                                     port of its own for each node */
};

/*
 * Run the fleet until SIGINT or SIGTERM: raise RLIMIT_NOFILE for N nodes,
 * join (or restore) every node, FLEET_JOIN_CONCURRENCY at a time, and
 * print progress lines on stdout ("fleet: ..."), among them one when every
 * node is in the swarm. Returns 0 after a clean stop (every node closed,
 * the loop closed with no handle left), or -code with err set: invalid
 * configuration, too few file descriptors, or nodes that could not join.
 */
int fleet_run(const struct fleet_config *cfg, struct err *err);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Shared inside fleet/: the simulated engine the nodes' agents run on. */
#ifndef SHOAL_FLEET_INT_H
#define SHOAL_FLEET_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <uv.h>

#include "agent/agent_exec.h"

/*
 * The engine of every simulated node: containers are entries in a table,
 * create succeeds at once, start/stop/remove complete on the next loop turn
 * (the executor expects its callbacks after the call returns), no image is
 * missing, nothing runs. One fleet_engine serves all nodes; each node's ops
 * data is its struct fleet_engine_node.
 */
struct fleet_engine_done;

struct fleet_engine
{
    uv_timer_t timer;             /* runs the deferred completions */
    struct fleet_engine_done *head; /* owned: completions due, FIFO */
    struct fleet_engine_done *tail;
    size_t n_running;             /* containers started, not stopped */
    size_t n_started;             /* starts since the beginning */
    bool closing;
};

struct fleet_engine_node
{
    struct fleet_engine *e;       /* borrowed */
    json_t *containers;           /* owned: id -> true (running) / false */
};

extern const struct agent_exec_ops fleet_engine_ops;

void fleet_engine_init(struct fleet_engine *e, uv_loop_t *loop);
/* Run what is due, then close the timer; cb fires once from the loop. */
void fleet_engine_close(struct fleet_engine *e, void (*cb)(void *data),
                        void *data);
void fleet_engine_node_init(struct fleet_engine_node *n,
                            struct fleet_engine *e);
/* Forget the node's containers (they stop counting as running). */
void fleet_engine_node_release(struct fleet_engine_node *n);

#endif

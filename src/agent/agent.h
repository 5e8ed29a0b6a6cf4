/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's agent: while this node is in a swarm (state active, worker or
 * manager), it heartbeats the leader's dispatcher (SWARM-FACTS 6.1) by
 * calling "dispatcher.heartbeat" on a manager's cluster port over mutual
 * TLS with the node certificate (a follower relays the call to the
 * leader). The first heartbeat goes at once, the next one after the
 * Period the manager answered; a call has a 5 s deadline. On failure the
 * agent backs off (100 ms, then min(100 ms + 2 x previous, 8 s), Docker's
 * agent) and tries the next manager it knows. A manager tries its own port
 * first (served locally when it leads, relayed otherwise).
 *
 * Managers known: the list each heartbeat answer carries, else the
 * cluster's (joined-with list for workers, the store's for managers). A
 * worker saves a changed list to swarm/state.json, where the cluster reads
 * it at restart.
 *
 * The agent lives as long as the cluster object and follows its state by
 * itself (checked on every timer turn, AGENT_IDLE_MS when idle), so
 * init, join, restore and leave need no call; agent_kick only shortens the
 * wait.
 */
#ifndef SHOAL_AGENT_H
#define SHOAL_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "cluster/cluster.h"

#define AGENT_RPC_MS 5000u        /* heartbeat deadline, dial included */
#define AGENT_IDLE_MS 100u        /* state poll while not in a swarm */
#define AGENT_MIN_PERIOD_MS 10u
#define AGENT_MAX_PERIOD_MS 3600000u

#define AGENT_FLUSH_MS 20u        /* task statuses batched this long */
#define AGENT_GOODBYE_MS 200u     /* agent_close waits this long at most */

struct agent;
struct agent_exec_ops;

struct agent *agent_new(uv_loop_t *loop, struct cluster *c);
/*
 * Run the tasks assigned to this node through ops (borrowed, with data;
 * must outlive the agent). Without it the agent only heartbeats. With it,
 * once a heartbeat answer names the leader ("Leader"), the agent keeps a
 * "dispatcher.assignments" stream open to the leader's cluster port
 * (reopened after the next heartbeat when it ends), feeds it to its
 * executor (agent_exec.h) and sends the statuses it reports with
 * "dispatcher.update_task_status" in batches, resending all of them on
 * every new stream.
 */
void agent_set_exec(struct agent *a, const struct agent_exec_ops *ops,
                    void *data);
/* The cluster's state changed: look again now. NULL is a no-op. */
void agent_kick(struct agent *a);
/* Heartbeats answered since the start (tests, diagnostics). */
uint64_t agent_n_ok(const struct agent *a);
/* Stop: the call in flight is canceled, the connection and timer closed;
 * cb fires once from the loop and a is freed. NULL a: cb fires at once.
 * With an assignments stream open, the agent first tells the leader it is
 * leaving for a restart ("dispatcher.leaving" on the stream's connection,
 * at most AGENT_GOODBYE_MS), so the leader keeps the usual heartbeat
 * expiry for this node rather than the connection-loss grace. */
void agent_close(struct agent *a, void (*cb)(void *data), void *data);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Shared inside dispatcher/: what the task half needs of the dispatcher. */
#ifndef SHOAL_DISPATCHER_INT_H
#define SHOAL_DISPATCHER_INT_H

#include "manager/dispatcher/dispatcher.h"

struct dispatcher_tasks;

/* dispatcher.c */
bool dispatcher__leading(struct dispatcher *d);
/* The leader's store, or NULL (see dispatcher_ops.store). */
const struct store *dispatcher__store(struct dispatcher *d);
int dispatcher__propose(struct dispatcher *d, json_t *actions,
                        cluster_done_cb cb, void *cb_data, struct err *err);
struct dispatcher_tasks *dispatcher__tasks(const struct dispatcher *d);
/* A call for node_id can be served with store s: 0, or swarmkit's
 * "dispatcher is stopped" (s NULL) / "node not registered" texts. */
int dispatcher__check_node(const struct store *s, const char *node_id,
                           struct err *err);
/* node_id opened a session: it is alive (the usual expiry again) and no
 * longer leaving. */
void dispatcher__session_opened(struct dispatcher *d, const char *node_id);
/* node_id's session ended with its connection: the connection-loss grace
 * unless it said goodbye. */
void dispatcher__conn_lost(struct dispatcher *d, const char *node_id);

/* dispatcher_tasks.c */
struct dispatcher_tasks *dispatcher_tasks_new(struct dispatcher *d,
                                              uv_loop_t *loop);
/* Not leading any more: end every session with why, drop queued
 * statuses (a proposal in flight completes on its own). */
void dispatcher_tasks_drop(struct dispatcher_tasks *t, const struct err *why);
/* Drop, then close the flush timer; done() runs once it is closed and t
 * is freed. */
void dispatcher_tasks_close(struct dispatcher_tasks *t,
                            void (*done)(void *data), void *data);

#endif

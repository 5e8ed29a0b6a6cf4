/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The manager's in-memory object store. Objects are JSON documents shaped
 * like the Engine API's own objects (fields starting with '_' are internal
 * and never leave the daemon). Every change is a list of actions carried by
 * one Raft entry and applied all-or-nothing in log order by store_apply, so
 * all managers hold the same store; store_snapshot/store_restore save and
 * load it whole.
 */
#ifndef SHOAL_STORE_H
#define SHOAL_STORE_H

#include <stdint.h>

#include <jansson.h>

#include "base/err.h"

enum store_kind {
    STORE_CLUSTER,
    STORE_NODE,
    STORE_NETWORK,
    STORE_TASK,
    STORE_SERVICE,  /* unused until services land (issue 5) */
    STORE_SECRET,   /* Spec.Data (base64) never leaves the managers but
                       in a node's assignments */
    STORE_CONFIG,
    STORE__KINDS
};

struct store;

struct store *store_new(void);
void store_free(struct store *s);

/* Name of a kind as used in actions and snapshots ("node"); NULL if bad. */
const char *store_kind_name(enum store_kind k);
/* -1 if the name is unknown. */
int store_kind_parse(const char *name);

/* The object with this exact ID, borrowed (valid until the next apply or
 * restore), or NULL. */
json_t *store_get(const struct store *s, enum store_kind k, const char *id);

/* All objects of a kind: a JSON object mapping ID -> object, in creation
 * order; borrowed like store_get. */
json_t *store_all(const struct store *s, enum store_kind k);

/* The only cluster object, or NULL before the swarm exists. Borrowed. */
json_t *store_cluster(const struct store *s);

/*
 * A watch on applied changes: fn runs once per object an entry changed,
 * after the whole entry is applied (all of it is visible in s), in action
 * order. old is the object before (NULL for a create), cur after (NULL for
 * a delete); both borrowed for the call. fn must not apply entries or
 * restore the store. After store_restore fn runs once with id NULL and
 * both objects NULL for every kind ("everything may have changed").
 */
typedef void (*store_watch_fn)(void *data, enum store_kind k, const char *id,
                               const json_t *old, const json_t *cur);
/* Actions in one entry at most (swarmkit's MaxChangesPerTransaction);
 * store_apply refuses a longer list. */
#define STORE_MAX_ACTIONS 200u

/* Add a watch; returns a handle for store_unwatch. At most
 * STORE_MAX_WATCHES. */
#define STORE_MAX_WATCHES 8
int store_watch(struct store *s, store_watch_fn fn, void *data);
void store_unwatch(struct store *s, int handle);

/* Task states (SWARM-FACTS 6.3): numeric, a task never moves back. */
#define STORE_TASK_STATES(X)                                                  \
    X(NEW, "new", 0)                                                         \
    X(PENDING, "pending", 64)                                                \
    X(ASSIGNED, "assigned", 192)                                             \
    X(ACCEPTED, "accepted", 256)                                             \
    X(PREPARING, "preparing", 320)                                           \
    X(READY, "ready", 384)                                                   \
    X(STARTING, "starting", 448)                                             \
    X(RUNNING, "running", 512)                                               \
    X(COMPLETE, "complete", 576)                                             \
    X(SHUTDOWN, "shutdown", 640)                                             \
    X(FAILED, "failed", 704)                                                 \
    X(REJECTED, "rejected", 768)                                             \
    X(REMOVE, "remove", 800)                                                 \
    X(ORPHANED, "orphaned", 832)

enum store_task_state {
#define STORE__TS_ENUM(name, text, num) STORE_TASK_##name = num,
    STORE_TASK_STATES(STORE__TS_ENUM)
#undef STORE__TS_ENUM
};

/* The numeric state of a REST name (case-insensitive); -1 if unknown. */
int store_task_state_parse(const char *name);
/* The REST name of a state; NULL if not a state. */
const char *store_task_state_name(int state);
/* Status.State / DesiredState of a task object, numerically; -1 if
 * absent or unknown. */
int store_task_state(const json_t *task);
int store_task_desired(const json_t *task);

/* Index of the last applied entry. */
uint64_t store_index(const struct store *s);

/*
 * Building actions (on the proposing side). Each returns a new action that
 * the caller owns; append them to a list made by store_actions_new.
 *  create: the object must not exist; its ID is obj's "ID" (or "Id").
 *  update: replaces the object; when expect_version != 0 the stored
 *          Version.Index must equal it, else "update out of sequence".
 *  delete: the object must exist.
 * The store stamps Version.Index with the entry's index and CreatedAt /
 * UpdatedAt with the entry's time, so replicas agree.
 */
json_t *store_action_create(enum store_kind k, json_t *obj);
json_t *store_action_update(enum store_kind k, json_t *obj,
                            uint64_t expect_version);
json_t *store_action_delete(enum store_kind k, const char *id);
/* Like store_action_update, for a change of observed state only (a node's
 * Status): the object keeps its Version.Index, the guard clients send
 * back with spec updates, so liveness writes never make a user's update
 * "out of sequence". expect_version is still checked. */
json_t *store_action_update_status(enum store_kind k, json_t *obj,
                                   uint64_t expect_version);

/* An entry payload: {"ts": now, "actions": actions}; steals actions.
 * Returns malloc'd JSON text owned by the caller. */
char *store_entry_encode(json_t *actions, size_t *out_len);

/* Apply one entry payload at index. All or nothing: on error the store is
 * unchanged (the index still advances). Deterministic: no clock, no random.
 * Errors: ERR_PROTO (malformed entry), ERR_NOTFOUND, ERR_CONFLICT,
 * ERR_INTERNAL "update out of sequence", ERR_INVALID for a task whose
 * Status.State or DesiredState is not a state name, or whose Status.State
 * would move backwards. */
int store_apply(struct store *s, uint64_t index, const void *buf, size_t len,
                struct err *err);

/* Whole-store snapshot as JSON text (malloc'd, caller owns). */
char *store_snapshot(const struct store *s, size_t *out_len);
/* Replace the whole store from a snapshot; on error the store is unchanged. */
int store_restore(struct store *s, const void *buf, size_t len,
                  struct err *err);

/* Version.Index of an object (0 if absent). */
uint64_t store_obj_version(const json_t *obj);
/* The ID of an object ("ID", or "Id" for networks); NULL if none. */
const char *store_obj_id(const json_t *obj);

#endif

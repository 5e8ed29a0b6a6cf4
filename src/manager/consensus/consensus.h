/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Consensus: one raft member (canonical raft 0.15 with its libuv storage)
 * driving a caller-supplied state machine. Offers bootstrap of a one-voter
 * cluster, proposals whose callback carries the state machine's verdict, a
 * leadership watch, and the transport seam through which already
 * authenticated peer streams reach raft. No raft type appears here.
 *
 * Everything runs on the loop passed to consensus_new, on its thread.
 */
#ifndef SHOAL_MANAGER_CONSENSUS_CONSENSUS_H
#define SHOAL_MANAGER_CONSENSUS_CONSENSUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "base/err.h"

struct consensus;

/*
 * The state machine the log drives. apply, snapshot and restore run on the
 * loop thread, never concurrently (a consensus_close from inside them takes
 * effect at the end of the loop iteration). The vtable is copied by
 * consensus_new; `data` is borrowed and must stay valid until the close
 * callback has fired.
 */
struct consensus_fsm
{
    void *data; /* borrowed; passed back to every callback */
    /*
     * Apply committed entry `index` (payload borrowed for the call). Indexes
     * strictly increase but skip raft's own entries (the first one is 1,
     * the bootstrap configuration, so the first command is 2). Must be
     * deterministic: no clock, random or I/O, since every member and every
     * replay after a restart applies the same entries. Return 0, or -code
     * with err set to reject the entry: the FSM then leaves its state
     * unchanged, the log moves on (the entry stays in the log and is
     * rejected again on replay), and the code and err reach the proposer if
     * this member proposed it. `err` is never NULL.
     */
    int (*apply)(void *data, uint64_t index, const void *buf, size_t len,
                 struct err *err);
    /*
     * Serialize the whole state as of the last applied entry. On 0,
     * *out_buf is a malloc'd buffer (NULL allowed when *out_len is 0) that
     * consensus frees with free(); on -code nothing is handed over and the
     * snapshot is retried after a later entry.
     */
    int (*snapshot)(void *data, void **out_buf, size_t *out_len,
                    struct err *err);
    /*
     * Replace the whole state from a snapshot (buffer borrowed for the
     * call). Called by consensus_start when a snapshot is on disk, before
     * the entries that follow it are applied, and later when a leader
     * installs a snapshot on this member. On -code the state must be left
     * as it was.
     */
    int (*restore)(void *data, const void *buf, size_t len, struct err *err);
};

struct consensus_config
{
    const char *dir;               /* raft dir, created 0700 if missing; copied */
    uint64_t id;                   /* this member's raft id, non-zero */
    const char *address;           /* advertise "ip:port" for the raft configuration; copied */
    unsigned election_timeout_ms;  /* 0 means 1000 */
    unsigned heartbeat_ms;         /* 0 means 100; must be < election timeout */
    unsigned snapshot_threshold;   /* entries between snapshots; 0 means 10000 (Docker's SnapshotInterval) */
    unsigned snapshot_trailing;    /* entries kept after a snapshot; 0 means 500 (LogEntriesForSlowFollowers) */
};

#define CONSENSUS_ELECTION_TIMEOUT_MS 1000
#define CONSENSUS_HEARTBEAT_MS 100
#define CONSENSUS_SNAPSHOT_THRESHOLD 10000
#define CONSENSUS_SNAPSHOT_TRAILING 500

/*
 * Leadership watch: fires at the end of a loop iteration (uv_check phase)
 * in which this member became or stopped being leader, or the known leader
 * id changed. Read the new state with consensus_is_leader and
 * consensus_leader_id. Never fires once consensus_close has been called.
 */
typedef void (*consensus_leader_cb)(struct consensus *c, void *data);

/*
 * Create a member: creates cfg->dir if missing, probes it (raft checks for
 * direct I/O and kernel AIO, which is where most of the startup time goes),
 * and initialises raft without loading anything. cfg and fsm are copied;
 * fsm->data is borrowed. Returns NULL with err set (ERR_INVALID for a bad
 * config, ERR_IO for the dir) and nothing left on the loop, or an object
 * owned by the caller that must be released with consensus_close, even if
 * bootstrap or start later fail.
 */
struct consensus *consensus_new(uv_loop_t *loop,
                                const struct consensus_config *cfg,
                                const struct consensus_fsm *fsm,
                                struct err *err);

/*
 * Before consensus_start: if the dir holds no raft state, write a
 * configuration with this member as the single voter. 0 also when state is
 * already on disk (a restart, or a member that joined another cluster);
 * -ERR_INVALID after start, -ERR_IO on disk errors.
 */
int consensus_bootstrap(struct consensus *c, struct err *err);

/*
 * Load the snapshot and log from disk and start ticking. The FSM is fed
 * synchronously from here as far as the log is known to be committed
 * (restore with the latest snapshot, then apply for the entries after it);
 * a single voter elects itself before this returns and so replays the whole
 * log. Returns 0, -ERR_INVALID if already started, or -ERR_IO (corrupt or
 * unreadable state, or an FSM restore failure, whose message is kept).
 * Call once; on failure only consensus_close remains.
 */
int consensus_start(struct consensus *c, struct err *err);

/* Set (or clear with cb NULL) the leadership watch. */
void consensus_set_leader_cb(struct consensus *c, consensus_leader_cb cb,
                             void *data);

/* Live raft state, not the last value reported to the leader cb. */
bool consensus_is_leader(const struct consensus *c);
/* Raft id of the known leader (this member's own id when leader), 0 if none. */
uint64_t consensus_leader_id(const struct consensus *c);
/* Index of the last entry applied to the FSM (or restored from a snapshot). */
uint64_t consensus_applied_index(const struct consensus *c);
/* This member's raft id. */
uint64_t consensus_id(const struct consensus *c);

struct consensus_propose_req;
/* status is 0 or -code (with req->err set); see consensus_propose. */
typedef void (*consensus_propose_cb)(struct consensus_propose_req *req,
                                     int status);

/* A proposal, allocated by the caller; must stay valid until cb fires. */
struct consensus_propose_req
{
    void *data;              /* user */
    consensus_propose_cb cb; /* set by consensus_propose; fires exactly once */
    struct err err;          /* filled when status != 0 */
    uint64_t index;          /* log index given to the entry (set on return 0) */
    void *impl;              /* private */
};

/*
 * Append buf[0..len) (copied; the caller keeps buf) as one log entry.
 * Returns -code without firing cb: -ERR_NOTLEADER ("raft: failed to process
 * the request: node is not the leader"; also before start), -ERR_CANCELED
 * once consensus_close was called, -ERR_INVALID for len 0, -ERR_TOOBIG
 * beyond 4 GiB, -ERR_IO. The log entry is the payload behind an 8-byte
 * header, padded to a multiple of 8 (raft_uv needs that); the FSM only ever
 * sees the payload.
 * Returns 0 and later fires cb exactly once, never from inside this call:
 *   - the entry committed and the FSM applied it: status is what apply
 *     returned (0, or its -code with req->err as apply set it);
 *   - leadership was lost first: -ERR_NOTLEADER ("... node lost leader
 *     status"). The entry may still commit under the next leader; the
 *     outcome is unknown to this member, as in Docker;
 *   - consensus_close was called first: -ERR_CANCELED ("... node is
 *     stopped"), from inside consensus_close. An entry raft already had
 *     may still commit and be applied (now, or on the next start);
 *   - the disk write failed: -ERR_IO.
 * req->index is the entry's index; it is final only with status 0.
 */
int consensus_propose(struct consensus *c, struct consensus_propose_req *req,
                      const void *buf, size_t len, consensus_propose_cb cb,
                      struct err *err);

/*
 * Hand raft an incoming connection from peer `peer_id`: fd is one end of a
 * stream socket carrying raft's plaintext protocol (the TLS side of the
 * bridge has already authenticated the peer; take peer_id from its
 * certificate, never from bytes it sent). peer_address is copied by raft.
 * On 0 the fd belongs to raft, which closes it when the peer hangs up, on a
 * protocol error or at consensus_close. On error the fd stays the caller's:
 * -ERR_INVALID (peer_id 0 or our own id, bad fd), -ERR_UNAVAILABLE (not
 * started, or closing).
 */
int consensus_transport_accept(struct consensus *c, uint64_t peer_id,
                               const char *peer_address, int fd,
                               struct err *err);

/*
 * Stop raft and release everything. Call exactly once, after a successful
 * consensus_new. Every pending proposal's callback fires with -ERR_CANCELED
 * before this returns, and no proposal callback fires afterwards; the leader
 * cb stops too. raft itself stops once the entries it is writing are on
 * disk (at most 10 s; a raft 0.15 bug forbids stopping it earlier) or, when
 * called from inside an FSM or proposal callback, at the end of the current
 * loop iteration; until then the FSM may still apply committed entries, so
 * its data must stay valid until cb fires. Accepted peer streams are
 * closed. cb (may be NULL) fires from the loop once every handle is
 * closed, after which c is freed.
 */
void consensus_close(struct consensus *c, void (*cb)(void *data), void *data);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Consensus: one raft member (canonical raft 0.15 with its libuv storage)
 * driving a caller-supplied state machine. Offers bootstrap of a one-voter
 * cluster, joining an existing one, proposals whose callback carries the
 * state machine's verdict, membership changes (add, promote, demote,
 * remove), leadership transfer, barriers, a leadership watch, and the
 * transport seam through which already authenticated peer streams reach
 * raft (incoming: consensus_transport_accept_stream; outgoing: the dialer
 * hook). No raft type appears here.
 *
 * Pre-vote is on: a member cut off from the others cannot disrupt the
 * leader when it comes back.
 *
 * The process must ignore SIGPIPE (the daemon does): raft writes to its end
 * of each bridge socketpair with write(2).
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
    unsigned election_timeout_ms;  /* 0 means 400: see CONSENSUS_ELECTION_TIMEOUT_MS */
    unsigned heartbeat_ms;         /* 0 means 50 (raft's tick); must be < election timeout */
    unsigned snapshot_threshold;   /* entries between snapshots; 0 means 10000 (Docker's SnapshotInterval) */
    unsigned snapshot_trailing;    /* entries kept after a snapshot; 0 means 500 (LogEntriesForSlowFollowers) */
    const uint8_t *dek;            /* CONSENSUS_DEK_LEN bytes, copied: log entries and snapshots are encrypted at rest with it (clear records written before are still read); NULL: written in clear */
};

#define CONSENSUS_DEK_LEN 32

/*
 * Failover. raft 0.15 ticks once per heartbeat and randomizes the election
 * timeout E in [E, 2E); a follower that still has a leader refuses
 * (pre-)votes, so after the leader dies the survivors elect a new one when
 * the last of a majority has timed out: about E + 2E/3 after the last
 * heartbeat, at most 2E + one heartbeat. Two survivors timing out on the
 * same tick split the vote and cost another [E, 2E): with 100 ms ticks and
 * E = 500 that happened often enough to push a failover to 1.7 s, hence
 * short ticks and E = 400: measured on loopback with 3 members, new
 * leader in 0.5-0.9 s (see test_consensus_cluster.c). Ticks are 25 ms:
 * raft 0.15 sends a follower in probe mode (a new member, one coming
 * back) at most one append per tick, so the tick bounds how fast a joining
 * manager catches up (50 ms ticks made a join 1.6x slower); 16 heartbeats
 * per election timeout so one late heartbeat deposes no one.
 * Docker's defaults (10 s election) are far slower; the config fields
 * override both for slow disks or links.
 */
#define CONSENSUS_ELECTION_TIMEOUT_MS 400
#define CONSENSUS_HEARTBEAT_MS 25
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
 * Before consensus_start, on a member with state on disk: append a
 * configuration in which this member is the only voter, keeping the log
 * and snapshots (Docker's `swarm init --force-new-cluster`). Only safe
 * when no other member of the old configuration runs. -ERR_INVALID after
 * start, -ERR_IO on disk errors.
 */
int consensus_recover(struct consensus *c, struct err *err);

/*
 * Load the snapshot and log from disk and start ticking. The FSM is fed
 * synchronously from here as far as the log is known to be committed
 * (restore with the latest snapshot, then apply for the entries after it);
 * a single voter elects itself before this returns and so replays the whole
 * log. On an empty dir without consensus_bootstrap the member starts with
 * no configuration, never campaigns, and waits for a leader to add it
 * (consensus_add_member) and send it the log or a snapshot. Returns 0, -ERR_INVALID if already started, or -ERR_IO (corrupt or
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
/* The current Raft term as this member knows it. */
uint64_t consensus_term(const struct consensus *c);

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
 * Incoming peer stream. s carries only raft's own messages (no handshake):
 * peer_id is the peer's raft id as the caller established it (from the
 * verified certificate and the store), never read from the stream. On 0, s
 * belongs to consensus: a socketpair bridge copies bytes between s and raft
 * and closes s (stream_close) when either side hangs up, on
 * consensus_transport_disconnect and at consensus_close. On error s stays
 * the caller's: -ERR_INVALID (bad peer id or address, s NULL),
 * -ERR_UNAVAILABLE (not started, or closing), -ERR_IO.
 */
struct stream;
int consensus_transport_accept_stream(struct consensus *c, uint64_t peer_id,
                                      const char *peer_address,
                                      struct stream *s, struct err *err);

/*
 * Outgoing peer streams. raft connects to a peer (id, address from the raft
 * configuration) when it has a message for it; consensus then calls the
 * dialer, which must eventually call done(dial, s, err) exactly once: with
 * a connected stream to that peer (which then belongs to consensus, and is
 * bridged as above), or with s NULL on failure (err may be NULL; raft
 * retries after a second). done may be called from inside dial_fn, and may
 * be called after consensus_close (even after its cb): the stream is then
 * just closed. `dial` is consensus's and is freed by done. The dialer must
 * not send anything of its own on the stream, and must verify that the
 * peer it reached really is peer_id. Without a dialer (or with dial_fn
 * NULL) every connect fails, and the member can only answer peers that
 * dial it... which raft does not do: it needs both directions.
 */
struct consensus_dial;
typedef void (*consensus_dial_done_fn)(struct consensus_dial *dial,
                                       struct stream *s,
                                       const struct err *err);
typedef void (*consensus_dial_fn)(void *data, uint64_t peer_id,
                                  const char *address,
                                  consensus_dial_done_fn done,
                                  struct consensus_dial *dial);
/* Set (or clear) the dialer; data is borrowed until consensus_close's cb
 * (and until every started dial has called done). */
void consensus_set_dialer(struct consensus *c, consensus_dial_fn dial_fn,
                          void *data);

/*
 * Close every bridged stream (both directions) with peer_id, or with every
 * peer when peer_id is 0: for a peer that was removed, whose certificate
 * was revoked, or to cut a member off in tests. raft reconnects through
 * the dialer when it next has something to send.
 */
void consensus_transport_disconnect(struct consensus *c, uint64_t peer_id);

/* ---- membership ------------------------------------------------------ */

/*
 * Raft roles (libraft 0.15): a spare is in the configuration but gets no
 * log; a standby replicates the log but neither votes nor counts for
 * quorum; a voter does both.
 */
enum consensus_role
{
    CONSENSUS_SPARE = 0,
    CONSENSUS_STANDBY = 1,
    CONSENSUS_VOTER = 2,
};

struct consensus_member
{
    uint64_t id;
    const char *address;     /* points into the array's allocation */
    enum consensus_role role;
    /* Only meaningful on the leader (false elsewhere, except for self):
     * this member answered the leader within the last election timeout
     * (sampled from raft's per-follower progress). Self is always true. */
    bool reachable;
    /* A bridged stream to or from this member is open here. Self: true. */
    bool connected;
};

/*
 * The current configuration (the latest one, committed or not), in raft's
 * order. On 0 *out is one malloc'd block (free() it; addresses included)
 * of *n members (*out may be NULL when *n is 0: a joiner not yet added).
 */
int consensus_members(const struct consensus *c,
                      struct consensus_member **out, size_t *n,
                      struct err *err);

/*
 * An asynchronous membership, transfer or barrier operation, allocated by
 * the caller; must stay valid until cb fires. Each operation returns -code
 * without firing cb, or 0 and later fires cb exactly once, never from
 * inside the call, with status:
 *   0;
 *   -ERR_NOTLEADER: leadership was lost (a change may still commit under
 *     the next leader);
 *   -ERR_CANCELED: consensus_close was called (fires from inside it);
 *   -ERR_UNAVAILABLE: the member did not catch up in time to be promoted,
 *     another configuration change was in flight, or a transfer timed out;
 *   -ERR_NOTFOUND / -ERR_CONFLICT / -ERR_IO otherwise.
 * Synchronous errors: -ERR_NOTLEADER (not leader, not started, or a
 * leadership transfer is running), -ERR_CANCELED (closing), -ERR_INVALID,
 * -ERR_NOTFOUND (no such member), -ERR_NOQUORUM (see remove).
 * Configuration changes (add, assign, remove) are queued and run one at a
 * time, in call order.
 */
struct consensus_op_req;
typedef void (*consensus_op_cb)(struct consensus_op_req *req, int status);
struct consensus_op_req
{
    void *data;        /* user */
    consensus_op_cb cb; /* set by the operation */
    struct err err;    /* filled when status != 0 */
    void *impl;        /* private */
};

/*
 * Leader only: add member id at address (copied) and bring it up to `role`:
 * raft_add (as a spare), then standby (the leader now sends it the log or
 * a snapshot), then, for CONSENSUS_VOTER, voter: raft 0.15 first runs
 * catch-up rounds (up to 10, the last shorter than an election timeout;
 * aborted with -ERR_UNAVAILABLE after 5 s without progress) and only then
 * appends the configuration that makes it a voter. cb fires once the last
 * change has committed. Idempotent: steps already done (the member is in
 * the configuration with at least that role) are skipped, so a failed add
 * can simply be retried; the address of an existing member is not
 * changed. The new member must run consensus_start on an empty dir WITHOUT
 * consensus_bootstrap, reachable through the dialers.
 */
int consensus_add_member(struct consensus *c, struct consensus_op_req *req,
                         uint64_t id, const char *address,
                         enum consensus_role role, consensus_op_cb cb,
                         struct err *err);

/*
 * Leader only: change the role of member id (promote: as above, with
 * catch-up; demote a voter: refused with -ERR_NOQUORUM like remove).
 * Assigning the role it already has completes with 0.
 */
int consensus_assign(struct consensus *c, struct consensus_op_req *req,
                     uint64_t id, enum consensus_role role,
                     consensus_op_cb cb, struct err *err);

/*
 * Leader only: remove member id from the configuration. Removing (or
 * demoting) a voter is refused with -ERR_NOQUORUM "can't remove member
 * from the raft: this would result in a loss of quorum" unless the voters
 * other than id that are reachable from this leader (itself included)
 * number at least (N-1)/2+1, N the current number of voters (swarmkit's
 * rule; Docker reports it as a failed precondition, HTTP 400). A leader
 * may remove itself: it steps down once the change commits (transfer
 * leadership first to avoid an election). The removed member is not
 * told; close it and wipe its dir before it could rejoin.
 */
int consensus_remove_member(struct consensus *c, struct consensus_op_req *req,
                            uint64_t id, consensus_op_cb cb,
                            struct err *err);

/*
 * Leader only: whether removing (or demoting) member id keeps a quorum by
 * the rule of consensus_remove_member. False when not leading.
 */
bool consensus_can_remove(const struct consensus *c, uint64_t id);

/*
 * Leader only: hand leadership to voter id (0: the most up to date voter).
 * cb fires with 0 once this member sees id (or, for 0, another member) as
 * leader, or -ERR_UNAVAILABLE after an election timeout without that.
 * While a transfer runs, proposals and changes are refused (NOTLEADER).
 */
int consensus_transfer_leadership(struct consensus *c,
                                  struct consensus_op_req *req, uint64_t id,
                                  consensus_op_cb cb, struct err *err);

/*
 * Leader only: append a barrier entry; cb fires with 0 once it is applied,
 * i.e. every entry before it has been applied to the FSM here. raft 0.15
 * does not commit a no-op when a member becomes leader, so entries of
 * earlier terms may still be unapplied on a new leader until something of
 * its own term commits: call this after becoming leader (leader cb) before
 * serving reads from the FSM. The FSM does not see barrier entries.
 */
int consensus_barrier(struct consensus *c, struct consensus_op_req *req,
                      consensus_op_cb cb, struct err *err);

/*
 * Stop raft and release everything. Call exactly once, after a successful
 * consensus_new. Every pending proposal's callback fires with -ERR_CANCELED
 * before this returns, and no proposal callback fires afterwards; the leader
 * cb stops too. raft itself stops once the entries it is writing are on
 * disk (at most 10 s; a raft 0.15 bug forbids stopping it earlier) or, when
 * called from inside an FSM or proposal callback, at the end of the current
 * loop iteration; until then the FSM may still apply committed entries, so
 * its data must stay valid until cb fires. Pending membership, transfer
 * and barrier operations fire -ERR_CANCELED before this returns. Accepted
 * and dialed peer streams are closed. cb (may be NULL) fires from the loop once every handle is
 * closed, after which c is freed.
 */
void consensus_close(struct consensus *c, void (*cb)(void *data), void *data);

#endif

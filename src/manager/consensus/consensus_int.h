/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared inside consensus/ only: the layout of struct consensus and the
 * hooks its files give each other. The one header of shoal that includes
 * <raft.h>; nothing outside consensus/ (tests of this module aside) may
 * include it.
 */
#ifndef SHOAL_MANAGER_CONSENSUS_CONSENSUS_INT_H
#define SHOAL_MANAGER_CONSENSUS_CONSENSUS_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "base/err.h"
#include "manager/consensus/consensus.h"

/*
 * Entry framing. raft_uv 0.15 writes entry payloads unpadded but reads them
 * back as if padded to 8 bytes (uv_segment.c vs uv_encoding.c; the check is
 * an assert compiled out of Debian's build), so a batch of entries whose
 * lengths are not multiples of 8 reloads corrupt. Every entry is therefore
 * an 8-byte header, the payload, and zero padding to a multiple of 8:
 *   byte 0    format (CONSENSUS__ENTRY_V1)
 *   byte 1    flags (0; reserved for encrypted payloads)
 *   bytes 2-3 zero
 *   bytes 4-7 payload length, little endian
 */
#define CONSENSUS__ENTRY_HDR 8
#define CONSENSUS__ENTRY_V1 1
#define CONSENSUS__ENTRY_MAX ((size_t)UINT32_MAX - 2 * CONSENSUS__ENTRY_HDR)
#define CONSENSUS__PAD8(n) (((n) + 7) & ~(size_t)7)

/*
 * Raft data at rest (consensus_crypt.c, docs/internals/raft-encryption.md):
 * an encrypted record is an 8-byte header (CONSENSUS_CRYPT_MAGIC, the
 * algorithm, two zero bytes, the clear length little endian), a 12-byte
 * nonce, the 16-byte GCM tag, the ciphertext, and zero padding to a
 * multiple of 8. A record whose first byte is not the magic is a clear one
 * written before encryption existed and is read as it is.
 */
#define CONSENSUS_CRYPT_KEY_LEN CONSENSUS_DEK_LEN
#define CONSENSUS_CRYPT_MAGIC 0xE5
#define CONSENSUS_CRYPT_AES256GCM 1

struct consensus_crypt;

/* A piece of a record's clear data (borrowed). */
struct consensus_crypt_iov
{
    const void *base;
    size_t len;
};

/* Bytes of the sealed record for len bytes of clear data. */
size_t consensus_crypt_sealed_len(size_t len);
/*
 * Seal the concatenation of iov[0..n_iov) into out, which must hold
 * consensus_crypt_sealed_len(total) bytes. ad1/ad2 are authenticated with
 * it (entries: term and type; snapshots: index and 0x100). Returns 0,
 * -ERR_TOOBIG past 4 GiB or -ERR_INTERNAL.
 */
int consensus_crypt_seal(const uint8_t key[CONSENSUS_CRYPT_KEY_LEN],
                         uint64_t ad1, uint64_t ad2,
                         const struct consensus_crypt_iov *iov, size_t n_iov,
                         uint8_t *out, struct err *err);
/* Clear length of a record (rec_len itself for a clear legacy record), or
 * -ERR_IO for a malformed encrypted one. */
int consensus_crypt_open_len(const void *rec, size_t rec_len,
                             size_t *out_len, struct err *err);
/*
 * Open a record into out (consensus_crypt_open_len bytes). A clear legacy
 * record is copied. Returns 0, or -ERR_IO when the record is malformed,
 * tampered with, sealed under another key or with other ad1/ad2 (out is
 * then zeroed).
 */
int consensus_crypt_open(const uint8_t key[CONSENSUS_CRYPT_KEY_LEN],
                         uint64_t ad1, uint64_t ad2, const void *rec,
                         size_t rec_len, uint8_t *out, struct err *err);
/*
 * A raft_io around inner (borrowed; its data field is taken over) that
 * seals what append and snapshot_put write and opens what load and
 * snapshot_get read; everything else is forwarded. key is copied; NULL:
 * nothing is sealed or opened. Its close callback fires once even when
 * raft_uv's fires again (consensus_crypt.c): free it, and release inner
 * with raft_uv_close, only two loop closing phases after that callback.
 */
struct consensus_crypt *consensus_crypt_new(
    struct raft_io *inner, const uint8_t key[CONSENSUS_CRYPT_KEY_LEN]);
struct raft_io *consensus_crypt_io(struct consensus_crypt *k);
void consensus_crypt_free(struct consensus_crypt *k);
/* How many times raft_uv fired a close callback again (dropped), in this
 * process: the tests check that they reproduce it. */
unsigned consensus_crypt_refired(void);

/* One in-flight proposal; owned by consensus from propose until raft's
 * callback for it (which can come after the proposer was told "canceled"). */
struct consensus_proposal
{
    struct raft_apply apply;            /* raft's request; apply.data = this */
    struct consensus *c;                /* borrowed back-pointer */
    struct consensus_propose_req *req;  /* borrowed; NULL once its cb fired */
    struct consensus_proposal *prev;    /* c->pending list, oldest first */
    struct consensus_proposal *next;
    bool applied;                       /* the FSM ran on this entry */
    int fsm_status;                     /* what the FSM returned (0 or -code) */
};

struct consensus_dial;

/* A connect request raft made: waiting for the dialer (dial != NULL), or
 * answered and waiting to be delivered on the next loop turn (ready). */
struct consensus_transport_conn
{
    struct raft_uv_connect *req;          /* borrowed from raft */
    raft_uv_connect_cb cb;
    struct consensus_dial *dial;          /* in flight at the dialer */
    bool ready;                           /* status/stream are final */
    int status;                           /* 0 or a RAFT_* code */
    uv_stream_t *stream;                  /* raft's end on status 0 */
    struct consensus_transport_conn *next;
};

/* One dial handed to the user's dialer; outlives c if the dialer is slow
 * (conn is then NULL and the stream it brings is just closed). */
struct consensus_dial
{
    struct consensus *c;                  /* NULL once orphaned */
    struct consensus_transport_conn *conn; /* NULL once orphaned */
    uint64_t peer_id;
    char *address;                        /* owned */
};

/* A socketpair bridge between raft's uv stream and a struct stream. */
struct consensus_bridge
{
    struct consensus *c;                  /* borrowed */
    uint64_t peer_id;
    bool outgoing;
    uv_pipe_t pipe;                       /* our end of the socketpair */
    struct stream *s;                     /* owned */
    size_t s_pending;                     /* bytes queued on s */
    size_t p_pending;                     /* bytes queued on pipe */
    bool pipe_paused;                     /* pipe reads stopped: s is full */
    bool s_paused;                        /* s reads stopped: pipe is full */
    bool closing;
    bool pipe_closed;
    bool s_closed;
    struct consensus_bridge *prev;
    struct consensus_bridge *next;
};

/* What this member knows about one peer. */
struct consensus_peer
{
    uint64_t id;
    uint64_t last_seen;                   /* uv_now() the leader last saw recent_recv */
    uint64_t kicked;                      /* uv_now() of its last catch-up kick */
    unsigned n_kicks;                     /* catch-up kicks so far (a few) */
    unsigned n_in;                        /* open incoming bridges */
    unsigned n_out;                       /* open outgoing bridges */
};

enum consensus_op_kind
{
    CONSENSUS__OP_ADD,
    CONSENSUS__OP_ASSIGN,
    CONSENSUS__OP_REMOVE,
    CONSENSUS__OP_TRANSFER,
    CONSENSUS__OP_BARRIER,
};

/* One membership/transfer/barrier operation (consensus_membership.c). */
struct consensus_op
{
    union {
        struct raft_change change;
        struct raft_barrier barrier;
        struct raft_transfer transfer;
    } u;                                  /* raft's request; .data = this */
    struct consensus *c;
    struct consensus_op_req *req;         /* NULL once its cb fired */
    enum consensus_op_kind kind;
    uint64_t target;
    int role;                             /* RAFT_* role wanted */
    char *address;                        /* ADD: owned */
    bool started;                         /* its first step ran */
    bool in_raft;                         /* raft holds u until its cb */
    bool queued;                          /* next step runs from the check */
    bool finish;                          /* queued: complete with status */
    int status;
    struct consensus_op *prev;            /* c->ops, call order */
    struct consensus_op *next;
};

struct consensus
{
    uv_loop_t *loop;                    /* borrowed */
    uint64_t id;
    char *dir;                          /* owned */
    char *address;                      /* owned */
    struct consensus_fsm user_fsm;      /* copy; .data borrowed */

    struct raft raft;
    struct raft_io io;                  /* raft_uv; released after raft closes */
    struct consensus_crypt *crypt;      /* owned: wraps io, seals with a DEK */
    struct raft_fsm fsm;                /* adapter over user_fsm */
    struct raft_tracer tracer;          /* routes raft traces to log_debug */
    struct raft_uv_transport transport; /* see consensus_transport.c */

    /* Transport state. */
    raft_uv_accept_cb accept_cb;        /* set by listen, NULL before/after */
    uv_timer_t conn_timer;              /* fails connects on the next turn */
    bool conn_timer_init;
    bool transport_closing;
    struct consensus_transport_conn *conns; /* pending connects, owned */
    raft_uv_transport_close_cb transport_close_cb;
    consensus_dial_fn dial_fn;
    void *dial_data;
    struct consensus_bridge *bridges;   /* open or closing, owned */
    struct consensus_peer *peers;       /* owned array */
    size_t n_peers;

    /* Membership, transfer and barrier operations. */
    struct consensus_op *ops_head;      /* call order */
    struct consensus_op *ops_tail;
    struct consensus_op *graveyard;     /* transfers raft may still touch */
    bool ops_queued;                    /* some op waits for the check */

    /* Leadership watch. */
    uv_check_t check;                   /* end-of-iteration hook */
    consensus_leader_cb leader_cb;
    void *leader_data;
    bool seen_leader;                   /* last reported consensus_is_leader */
    uint64_t seen_leader_id;            /* last reported leader id */

    /* Proposals. */
    struct consensus_proposal *pending_head; /* oldest first */
    struct consensus_proposal *pending_tail;

    struct err fsm_err;                 /* last FSM restore failure */
    unsigned n_dispatch;                /* depth of user callbacks run for raft */
    bool started;
    bool closing;                       /* consensus_close was called */
    bool close_deferred;                /* raft_close waits for the check */
    uint64_t close_deadline;            /* uv_now() limit for the drain */
    void (*close_cb)(void *data);
    void *close_data;
};

/* consensus_fsm.c: point c->fsm at the adapter over c->user_fsm. */
void consensus_fsm_init(struct consensus *c);

/* consensus_propose.c: the in-flight proposal for entry index, or NULL. */
struct consensus_proposal *consensus_propose_find(struct consensus *c,
                                                  uint64_t index);

/* consensus_propose.c: fire -ERR_CANCELED for every proposal not yet
 * told; raft's own callbacks for them later just free them. */
void consensus_propose_cancel_all(struct consensus *c);

/* consensus_propose.c: after raft has closed, free what is left. */
void consensus_propose_release(struct consensus *c);

/* consensus_transport.c: fill c->transport (raft calls init, listen,
 * connect and close through raft_uv). */
void consensus_transport_init(struct consensus *c);

/* consensus_transport.c: the peer record for id, created if missing. */
struct consensus_peer *consensus_peer_get(struct consensus *c, uint64_t id);
/* consensus_transport.c: the peer record for id, or NULL. */
const struct consensus_peer *consensus_peer_find(const struct consensus *c,
                                                 uint64_t id);

/* consensus_membership.c: run queued steps (from the check). */
void consensus_ops_run(struct consensus *c);
/* consensus_membership.c: leader only, sample raft's recent_recv flags. */
void consensus_ops_sample(struct consensus *c);
/* consensus_membership.c: fire -ERR_CANCELED for every op not yet told. */
void consensus_ops_cancel_all(struct consensus *c);
/* consensus_membership.c: after raft has closed, free what is left. */
void consensus_ops_release(struct consensus *c);

#endif

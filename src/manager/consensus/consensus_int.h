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

/* A connect request raft made that is waiting to be failed asynchronously. */
struct consensus_transport_conn
{
    struct raft_uv_connect *req;          /* borrowed from raft */
    raft_uv_connect_cb cb;
    struct consensus_transport_conn *next;
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
    struct raft_fsm fsm;                /* adapter over user_fsm */
    struct raft_tracer tracer;          /* routes raft traces to log_debug */
    struct raft_uv_transport transport; /* see consensus_transport.c */

    /* Transport state. */
    raft_uv_accept_cb accept_cb;        /* set by listen, NULL before/after */
    uv_timer_t conn_timer;              /* fails connects on the next turn */
    bool conn_timer_init;
    bool transport_closing;
    struct consensus_transport_conn *conns; /* pending connect failures, owned */
    raft_uv_transport_close_cb transport_close_cb;

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

#endif

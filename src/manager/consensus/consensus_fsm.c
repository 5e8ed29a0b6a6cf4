/* SPDX-License-Identifier: Apache-2.0 */
/* The raft_fsm adapter: raft's apply/snapshot/restore over struct consensus_fsm. */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <raft.h>

#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "manager/consensus/consensus.h"
#include "manager/consensus/consensus_int.h"

/* Unframe an entry (consensus_int.h); false if it is not ours. */
static bool consensus_fsm_unframe(const struct raft_buffer *buf,
                                  const uint8_t **out, size_t *out_len)
{
    const uint8_t *p = buf->base;
    size_t n;

    if (buf->len < CONSENSUS__ENTRY_HDR || p == NULL)
        return false;
    if (p[0] != CONSENSUS__ENTRY_V1 || p[1] != 0 || p[2] != 0 || p[3] != 0)
        return false;
    n = (size_t)p[4] | (size_t)p[5] << 8 | (size_t)p[6] << 16 |
        (size_t)p[7] << 24;
    if (CONSENSUS__PAD8(CONSENSUS__ENTRY_HDR + n) != buf->len)
        return false;
    *out = p + CONSENSUS__ENTRY_HDR;
    *out_len = n;
    return true;
}

/*
 * raft 0.15 stops applying (and retries the same entry later) when apply
 * returns non-zero, so an FSM rejection must never reach raft: it travels to
 * the proposer through its proposal record instead of raft's `result`, which
 * needs no allocation and so nothing to free on followers or on replay.
 */
static int consensus_fsm_apply(struct raft_fsm *fsm,
                               const struct raft_buffer *buf, void **result)
{
    struct consensus *c = fsm->data;
    struct consensus_proposal *p;
    struct err local;
    struct err *err;
    const uint8_t *payload;
    size_t len;
    uint64_t index;
    int rv;

    /* raft applies last_applied + 1 and bumps last_applied afterwards. */
    index = raft_last_applied(&c->raft) + 1;
    p = consensus_propose_find(c, index);
    err_clear(&local);
    err = p != NULL && p->req != NULL ? &p->req->err : &local;
    err_clear(err);
    *result = NULL;

    if (!consensus_fsm_unframe(buf, &payload, &len)) {
        /* Same bytes everywhere, so every member rejects it alike. */
        rv = err_set(err, ERR_PROTO, "raft: entry %llu is malformed",
                     (unsigned long long)index);
        log_error(LOG_RAFT, "%s (%zu bytes)", err->msg, buf->len);
        goto out;
    }
    c->n_dispatch++;
    rv = c->user_fsm.apply(c->user_fsm.data, index, payload, len, err);
    c->n_dispatch--;
    if (rv > 0)
        rv = -rv;
    if (rv != 0 && err->code == ERR_OK)
        err_set(err, -rv < ERR__COUNT ? -rv : ERR_INTERNAL,
                "raft: entry %llu rejected", (unsigned long long)index);
    if (rv != 0 && err == &local)
        log_debug(LOG_RAFT, "entry %llu rejected by the state machine: %s",
                  (unsigned long long)index, err->msg);
out:
    if (p != NULL) {
        p->applied = true;
        p->fsm_status = rv;
    }
    return 0;
}

/* Version 2: raft hands the buffers back through snapshot_finalize instead
 * of raft_free'ing them, so the FSM's malloc'd buffer is freed with free(). */
static int consensus_fsm_snapshot(struct raft_fsm *fsm,
                                  struct raft_buffer *bufs[], unsigned *n_bufs)
{
    struct consensus *c = fsm->data;
    struct raft_buffer *out;
    struct err err;
    void *data = NULL;
    size_t len = 0;
    int rv;

    err_clear(&err);
    c->n_dispatch++;
    rv = c->user_fsm.snapshot(c->user_fsm.data, &data, &len, &err);
    c->n_dispatch--;
    if (rv != 0) {
        log_warn(LOG_RAFT, "snapshot at %llu failed, retrying later: %s",
                 c->raft.last_applied, err.msg);
        /* RAFT_BUSY makes raft skip this round instead of failing the
         * apply path that triggered it. */
        return RAFT_BUSY;
    }
    out = xmalloc(sizeof(*out));
    out->base = data;
    out->len = len;
    *bufs = out;
    *n_bufs = 1;
    log_debug(LOG_RAFT, "snapshot at %llu: %zu bytes", c->raft.last_applied,
              len);
    return 0;
}

static int consensus_fsm_snapshot_finalize(struct raft_fsm *fsm,
                                           struct raft_buffer *bufs[],
                                           unsigned *n_bufs)
{
    unsigned i;

    (void)fsm;
    if (*bufs == NULL)
        return 0;
    for (i = 0; i < *n_bufs; i++)
        free((*bufs)[i].base);
    free(*bufs);
    *bufs = NULL;
    *n_bufs = 0;
    return 0;
}

/* raft 0.15 gives the FSM ownership of buf->base when restore returns 0
 * (snapshotRestore does not free it) and frees it itself on failure. */
static int consensus_fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    struct consensus *c = fsm->data;
    struct err err;
    int rv;

    err_clear(&err);
    c->n_dispatch++;
    rv = c->user_fsm.restore(c->user_fsm.data, buf->base, buf->len, &err);
    c->n_dispatch--;
    if (rv != 0) {
        if (err.code == ERR_OK)
            err_set(&err, ERR_IO, "state machine restore failed");
        err_wrap(&err, "raft: restore snapshot");
        log_error(LOG_RAFT, "%s", err.msg);
        c->fsm_err = err;
        return RAFT_CORRUPT;
    }
    raft_free(buf->base);
    buf->base = NULL;
    log_debug(LOG_RAFT, "restored a snapshot of %zu bytes", buf->len);
    return 0;
}

void consensus_fsm_init(struct consensus *c)
{
    c->fsm.version = 2;
    c->fsm.data = c;
    c->fsm.apply = consensus_fsm_apply;
    c->fsm.snapshot = consensus_fsm_snapshot;
    c->fsm.restore = consensus_fsm_restore;
    c->fsm.snapshot_finalize = consensus_fsm_snapshot_finalize;
    c->fsm.snapshot_async = NULL;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Proposals: payload -> raft_apply; commit, loss or close -> the proposer's callback. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <raft.h>

#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "manager/consensus/consensus.h"
#include "manager/consensus/consensus_int.h"

#define CONSENSUS__NOT_LEADER \
    "raft: failed to process the request: node is not the leader"
#define CONSENSUS__LOST_LEADER \
    "raft: failed to process the request: node lost leader status"
#define CONSENSUS__STOPPED \
    "raft: failed to process the request: node is stopped"

/* See the framing in consensus_int.h; out is zeroed and large enough. */
static void consensus_propose_frame(uint8_t *out, const void *buf, size_t len)
{
    uint32_t n = (uint32_t)len;

    out[0] = CONSENSUS__ENTRY_V1;
    out[4] = (uint8_t)n;
    out[5] = (uint8_t)(n >> 8);
    out[6] = (uint8_t)(n >> 16);
    out[7] = (uint8_t)(n >> 24);
    memcpy(out + CONSENSUS__ENTRY_HDR, buf, len);
}

static void consensus_propose_link(struct consensus *c,
                                   struct consensus_proposal *p)
{
    p->prev = c->pending_tail;
    p->next = NULL;
    if (c->pending_tail != NULL)
        c->pending_tail->next = p;
    else
        c->pending_head = p;
    c->pending_tail = p;
}

static void consensus_propose_unlink(struct consensus *c,
                                     struct consensus_proposal *p)
{
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        c->pending_head = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    else
        c->pending_tail = p->prev;
    p->prev = NULL;
    p->next = NULL;
}

/* Fire the proposer's callback once and detach p from it: raft still holds
 * p->apply until its own callback, which then only frees p. The proposer
 * may reuse or free req from inside its callback. */
static void consensus_propose_notify(struct consensus *c,
                                     struct consensus_proposal *p, int status)
{
    struct consensus_propose_req *req = p->req;

    assert(req != NULL);
    p->req = NULL;
    req->impl = NULL;
    c->n_dispatch++;
    req->cb(req, status);
    c->n_dispatch--;
}

static void consensus_propose_apply_cb(struct raft_apply *apply, int status,
                                       void *result)
{
    struct consensus_proposal *p = apply->data;
    struct consensus *c = p->c;
    struct err *err;
    int rv;

    (void)result;
    consensus_propose_unlink(c, p);
    if (p->req == NULL) {
        /* Already told (canceled by consensus_close). */
        free(p);
        return;
    }
    err = &p->req->err;
    if (status == 0) {
        /* raft fires this right after our FSM adapter ran on the entry. */
        assert(p->applied);
        rv = p->fsm_status;
    } else if (status == RAFT_LEADERSHIPLOST && !c->closing) {
        rv = err_set(err, ERR_NOTLEADER, CONSENSUS__LOST_LEADER);
    } else if (status == RAFT_LEADERSHIPLOST || status == RAFT_CANCELED ||
               status == RAFT_SHUTDOWN) {
        rv = err_set(err, ERR_CANCELED, CONSENSUS__STOPPED);
    } else {
        rv = err_set(err, ERR_IO, "raft: entry %llu: %s", apply->index,
                     raft_strerror(status));
    }
    consensus_propose_notify(c, p, rv);
    free(p);
}

int consensus_propose(struct consensus *c, struct consensus_propose_req *req,
                      const void *buf, size_t len, consensus_propose_cb cb,
                      struct err *err)
{
    struct consensus_proposal *p;
    struct raft_buffer payload;
    int rv;

    assert(cb != NULL);
    if (c->closing)
        return err_set(err, ERR_CANCELED, CONSENSUS__STOPPED);
    if (len == 0)
        return err_set(err, ERR_INVALID, "raft: empty proposal");
    if (len > CONSENSUS__ENTRY_MAX)
        return err_set(err, ERR_TOOBIG, "raft: proposal of %zu bytes is too "
                       "large", len);
    if (!c->started || raft_state(&c->raft) != RAFT_LEADER)
        return err_set(err, ERR_NOTLEADER, CONSENSUS__NOT_LEADER);

    payload.len = CONSENSUS__PAD8(CONSENSUS__ENTRY_HDR + len);
    payload.base = raft_calloc(1, payload.len);
    if (payload.base == NULL)
        return err_set(err, ERR_INTERNAL, "raft: out of memory");
    consensus_propose_frame(payload.base, buf, len);

    p = xcalloc(1, sizeof(*p));
    p->apply.data = p;
    p->c = c;
    p->req = req;
    req->cb = cb;
    req->impl = p;
    req->index = 0;
    err_clear(&req->err);

    /* Linked first so that the FSM adapter can always find it. */
    consensus_propose_link(c, p);
    rv = raft_apply(&c->raft, &p->apply, &payload, 1,
                    consensus_propose_apply_cb);
    if (rv != 0) {
        /* Not taken: the payload is still ours (raft 0.15 detaches the
         * entry without freeing it). */
        consensus_propose_unlink(c, p);
        free(p);
        req->impl = NULL;
        raft_free(payload.base);
        if (rv == RAFT_NOTLEADER)
            return err_set(err, ERR_NOTLEADER, CONSENSUS__NOT_LEADER);
        return err_set(err, rv == RAFT_NOMEM ? ERR_INTERNAL : ERR_IO,
                       "raft: propose: %s", raft_errmsg(&c->raft));
    }
    req->index = p->apply.index;
    return 0;
}

struct consensus_proposal *consensus_propose_find(struct consensus *c,
                                                  uint64_t index)
{
    struct consensus_proposal *p;

    /* Oldest first, and entries apply in order: normally the head. */
    for (p = c->pending_head; p != NULL; p = p->next) {
        if (p->apply.index == index)
            return p;
        if (p->apply.index > index)
            break;
    }
    return NULL;
}

void consensus_propose_cancel_all(struct consensus *c)
{
    struct consensus_proposal *p;

    /* Rescan from the head after each callback: it runs user code. */
    for (;;) {
        for (p = c->pending_head; p != NULL && p->req == NULL; p = p->next)
            ;
        if (p == NULL)
            break;
        err_set(&p->req->err, ERR_CANCELED, CONSENSUS__STOPPED);
        consensus_propose_notify(c, p, -ERR_CANCELED);
    }
}

void consensus_propose_release(struct consensus *c)
{
    struct consensus_proposal *p;

    consensus_propose_cancel_all(c);
    while (c->pending_head != NULL) {
        p = c->pending_head;
        consensus_propose_unlink(c, p);
        free(p);
    }
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Membership changes, leadership transfer, barriers and the member list.
 *
 * raft 0.15 allows one configuration change at a time (RAFT_CANTCHANGE
 * otherwise), so change operations queue in call order and only the oldest
 * one talks to raft. An add is a chain of changes (raft_add as a spare,
 * standby, voter) re-planned from the live configuration before each step,
 * which makes it idempotent. Steps after the first run from the check
 * handle, never from inside raft's change callback (raft is still in its
 * apply loop there).
 */
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
/* Catch-up kicks per member being added (consensus_ops_sample). */
#define CONSENSUS__MAX_KICKS 3
#define CONSENSUS__NO_QUORUM \
    "can't remove member from the raft: this would result in a loss of quorum"

/* A raft role's rank: spare < standby < voter. */
static int consensus_role_rank(int raft_role)
{
    switch (raft_role) {
    case RAFT_SPARE:
        return 0;
    case RAFT_STANDBY:
        return 1;
    default:
        return 2;
    }
}

static int consensus_role_to_raft(enum consensus_role role)
{
    switch (role) {
    case CONSENSUS_SPARE:
        return RAFT_SPARE;
    case CONSENSUS_STANDBY:
        return RAFT_STANDBY;
    case CONSENSUS_VOTER:
        return RAFT_VOTER;
    }
    return -1;
}

static enum consensus_role consensus_role_from_raft(int role)
{
    switch (role) {
    case RAFT_SPARE:
        return CONSENSUS_SPARE;
    case RAFT_STANDBY:
        return CONSENSUS_STANDBY;
    default:
        return CONSENSUS_VOTER;
    }
}

static bool consensus_op_is_change(const struct consensus_op *op)
{
    return op->kind == CONSENSUS__OP_ADD || op->kind == CONSENSUS__OP_ASSIGN ||
           op->kind == CONSENSUS__OP_REMOVE;
}

static const struct raft_server *consensus_server(struct consensus *c,
                                                  uint64_t id)
{
    unsigned i;

    for (i = 0; i < c->raft.configuration.n; i++)
        if (c->raft.configuration.servers[i].id == id)
            return &c->raft.configuration.servers[i];
    return NULL;
}

/* The leader heard from peer id within the last election timeout. */
static bool consensus_reachable(const struct consensus *c, uint64_t id)
{
    const struct consensus_peer *p;

    if (id == c->id)
        return true;
    if (c->raft.state != RAFT_LEADER)
        return false;
    p = consensus_peer_find(c, id);
    return p != NULL && p->last_seen != 0 &&
           uv_now(c->loop) - p->last_seen <= c->raft.election_timeout;
}

/* swarmkit's CanRemoveMember, over voters. */
static bool consensus_quorum_without(const struct consensus *c, uint64_t id)
{
    unsigned i;
    unsigned n = 0;
    unsigned reachable = 0;
    const struct raft_server *s;

    for (i = 0; i < c->raft.configuration.n; i++) {
        s = &c->raft.configuration.servers[i];
        if (s->role != RAFT_VOTER)
            continue;
        n++;
        if (s->id != id && consensus_reachable(c, s->id))
            reachable++;
    }
    return reachable >= (n - 1) / 2 + 1;
}

bool consensus_can_remove(const struct consensus *c, uint64_t id)
{
    return c->started && !c->closing && c->raft.state == RAFT_LEADER &&
           consensus_quorum_without(c, id);
}

static int consensus_op_raft_err(struct consensus *c, struct err *err, int rv)
{
    switch (rv) {
    case RAFT_NOTLEADER:
        return err_set(err, ERR_NOTLEADER, CONSENSUS__NOT_LEADER);
    case RAFT_LEADERSHIPLOST:
        if (c->closing)
            return err_set(err, ERR_CANCELED, CONSENSUS__STOPPED);
        return err_set(err, ERR_NOTLEADER, CONSENSUS__LOST_LEADER);
    case RAFT_CANCELED:
    case RAFT_SHUTDOWN:
        return err_set(err, ERR_CANCELED, CONSENSUS__STOPPED);
    case RAFT_CANTCHANGE:
        return err_set(err, ERR_UNAVAILABLE,
                       "raft: a configuration change is in progress");
    case RAFT_NOCONNECTION:
        return err_set(err, ERR_UNAVAILABLE,
                       "raft: the member did not catch up with the log");
    case RAFT_NOTFOUND:
    case RAFT_BADID:
        return err_set(err, ERR_NOTFOUND, "raft: no such member");
    case RAFT_DUPLICATEID:
    case RAFT_DUPLICATEADDRESS:
        return err_set(err, ERR_CONFLICT, "raft: %s", raft_strerror(rv));
    case RAFT_NOMEM:
        return err_set(err, ERR_INTERNAL, "raft: out of memory");
    default:
        return err_set(err, ERR_IO, "raft: %s", raft_strerror(rv));
    }
}

static void consensus_op_link(struct consensus *c, struct consensus_op *op)
{
    op->prev = c->ops_tail;
    op->next = NULL;
    if (c->ops_tail != NULL)
        c->ops_tail->next = op;
    else
        c->ops_head = op;
    c->ops_tail = op;
}

static void consensus_op_unlink(struct consensus *c, struct consensus_op *op)
{
    if (op->prev != NULL)
        op->prev->next = op->next;
    else
        c->ops_head = op->next;
    if (op->next != NULL)
        op->next->prev = op->prev;
    else
        c->ops_tail = op->prev;
    op->prev = NULL;
    op->next = NULL;
}

/* Forget op: freed now, or (transfers) kept until raft has closed since
 * raft_uv may still hold its TimeoutNow send request. */
static void consensus_op_drop(struct consensus *c, struct consensus_op *op)
{
    consensus_op_unlink(c, op);
    if (op->kind == CONSENSUS__OP_TRANSFER) {
        op->next = c->graveyard;
        c->graveyard = op;
        return;
    }
    free(op->address);
    free(op);
}

static void consensus_op_notify(struct consensus *c, struct consensus_op *op,
                                int status)
{
    struct consensus_op_req *req = op->req;

    assert(req != NULL);
    op->req = NULL;
    req->impl = NULL;
    c->n_dispatch++;
    req->cb(req, status);
    c->n_dispatch--;
}

/* The oldest change op that has not started waits for its turn: start it
 * from the check. */
static void consensus_ops_next_change(struct consensus *c)
{
    struct consensus_op *op;

    for (op = c->ops_head; op != NULL; op = op->next) {
        if (!consensus_op_is_change(op))
            continue;
        if (!op->in_raft && !op->queued && op->req != NULL) {
            op->queued = true;
            c->ops_queued = true;
        }
        return;
    }
}

/* Tell the proposer (status 0 or -code with req->err set) and drop op. */
static void consensus_op_finish(struct consensus *c, struct consensus_op *op,
                                int status)
{
    bool change = consensus_op_is_change(op);

    if (op->req != NULL)
        consensus_op_notify(c, op, status);
    if (!op->in_raft)
        consensus_op_drop(c, op);
    if (change && !c->closing)
        consensus_ops_next_change(c);
}

static void consensus_op_change_cb(struct raft_change *change, int status)
{
    struct consensus_op *op = change->data;
    struct consensus *c = op->c;

    op->in_raft = false;
    if (op->req == NULL) {
        consensus_op_drop(c, op);
        return;
    }
    if (status != 0) {
        consensus_op_finish(c, op,
                            consensus_op_raft_err(c, &op->req->err, status));
        return;
    }
    /* Next step (or completion) from the check: raft is mid-apply. */
    op->queued = true;
    c->ops_queued = true;
}

/*
 * One step of a change op: 0 when raft now holds a request, 1 when there
 * is nothing left to do, -code (req->err set) on failure.
 */
static int consensus_op_step(struct consensus *c, struct consensus_op *op,
                             bool first)
{
    struct err *err = &op->req->err;
    const struct raft_server *s;
    int rv = 0;

    if (c->closing)
        return err_set(err, ERR_CANCELED, CONSENSUS__STOPPED);
    if (!c->started || c->raft.state != RAFT_LEADER || c->raft.transfer != NULL)
        return err_set(err, ERR_NOTLEADER, CONSENSUS__NOT_LEADER);
    s = consensus_server(c, op->target);
    op->u.change.data = op;
    switch (op->kind) {
    case CONSENSUS__OP_ADD:
        if (s == NULL) {
            log_info(LOG_RAFT, "adding raft member %llx (%s)",
                     (unsigned long long)op->target, op->address);
            rv = raft_add(&c->raft, &op->u.change, op->target, op->address,
                          consensus_op_change_cb);
        } else if (consensus_role_rank(s->role) >= consensus_role_rank(op->role)) {
            return 1;
        } else if (s->role == RAFT_SPARE) {
            rv = raft_assign(&c->raft, &op->u.change, op->target, RAFT_STANDBY,
                             consensus_op_change_cb);
        } else {
            log_info(LOG_RAFT, "promoting raft member %llx to voter",
                     (unsigned long long)op->target);
            rv = raft_assign(&c->raft, &op->u.change, op->target, RAFT_VOTER,
                             consensus_op_change_cb);
        }
        break;
    case CONSENSUS__OP_ASSIGN:
        if (s == NULL)
            return err_set(err, ERR_NOTFOUND, "raft: no member %llx",
                           (unsigned long long)op->target);
        if (s->role == op->role)
            return 1;
        if (first && s->role == RAFT_VOTER &&
            !consensus_quorum_without(c, op->target))
            return err_set(err, ERR_NOQUORUM, CONSENSUS__NO_QUORUM);
        log_info(LOG_RAFT, "raft member %llx: role %d -> %d",
                 (unsigned long long)op->target, s->role, op->role);
        rv = raft_assign(&c->raft, &op->u.change, op->target, op->role,
                         consensus_op_change_cb);
        break;
    case CONSENSUS__OP_REMOVE:
        if (s == NULL) {
            if (first)
                return err_set(err, ERR_NOTFOUND, "raft: no member %llx",
                               (unsigned long long)op->target);
            return 1;
        }
        if (!first)
            return 1; /* raft_remove committed */
        if (s->role == RAFT_VOTER && !consensus_quorum_without(c, op->target))
            return err_set(err, ERR_NOQUORUM, CONSENSUS__NO_QUORUM);
        log_info(LOG_RAFT, "removing raft member %llx",
                 (unsigned long long)op->target);
        rv = raft_remove(&c->raft, &op->u.change, op->target,
                         consensus_op_change_cb);
        break;
    default:
        assert(0);
        return 1;
    }
    if (rv != 0)
        return consensus_op_raft_err(c, err, rv);
    op->in_raft = true;
    return 0;
}

/* Run the queued steps; restart the scan after every callback into user
 * code (it may add, cancel or close). */
void consensus_ops_run(struct consensus *c)
{
    struct consensus_op *op;
    bool first;
    int rv;

    c->ops_queued = false;
    for (;;) {
        for (op = c->ops_head; op != NULL && !op->queued; op = op->next)
            ;
        if (op == NULL || c->closing)
            return;
        op->queued = false;
        if (op->finish) {
            consensus_op_finish(c, op, op->status);
            continue;
        }
        first = !op->started;
        op->started = true;
        rv = consensus_op_step(c, op, first);
        if (rv == 0)
            continue;
        consensus_op_finish(c, op, rv == 1 ? 0 : rv);
    }
}

static int consensus_op_check(struct consensus *c, struct err *err)
{
    if (c->closing)
        return err_set(err, ERR_CANCELED, CONSENSUS__STOPPED);
    if (!c->started || c->raft.state != RAFT_LEADER || c->raft.transfer != NULL)
        return err_set(err, ERR_NOTLEADER, CONSENSUS__NOT_LEADER);
    return 0;
}

static struct consensus_op *consensus_op_new(struct consensus *c,
                                             struct consensus_op_req *req,
                                             enum consensus_op_kind kind,
                                             uint64_t target,
                                             consensus_op_cb cb)
{
    struct consensus_op *op = xcalloc(1, sizeof(*op));

    op->c = c;
    op->req = req;
    op->kind = kind;
    op->target = target;
    req->cb = cb;
    req->impl = op;
    err_clear(&req->err);
    return op;
}

/* Submit a change op: start it now if no other change is ahead. */
static int consensus_change_submit(struct consensus *c,
                                   struct consensus_op *op, struct err *err)
{
    struct consensus_op *o;
    struct consensus_op_req *req = op->req;
    int rv;

    for (o = c->ops_head; o != NULL; o = o->next)
        if (consensus_op_is_change(o))
            break;
    consensus_op_link(c, op);
    if (o != NULL)
        return 0; /* waits for its turn */
    op->started = true;
    rv = consensus_op_step(c, op, true);
    if (rv < 0) {
        *err = req->err;
        req->impl = NULL;
        consensus_op_unlink(c, op);
        free(op->address);
        free(op);
        return rv;
    }
    if (rv == 1) {
        op->finish = true;
        op->status = 0;
        op->queued = true;
        c->ops_queued = true;
    }
    return 0;
}

int consensus_add_member(struct consensus *c, struct consensus_op_req *req,
                         uint64_t id, const char *address,
                         enum consensus_role role, consensus_op_cb cb,
                         struct err *err)
{
    struct consensus_op *op;
    int rv;

    assert(cb != NULL);
    rv = consensus_op_check(c, err);
    if (rv != 0)
        return rv;
    if (id == 0 || address == NULL || address[0] == '\0' ||
        consensus_role_to_raft(role) < 0)
        return err_set(err, ERR_INVALID, "raft: bad member to add");
    op = consensus_op_new(c, req, CONSENSUS__OP_ADD, id, cb);
    op->address = xstrdup(address);
    op->role = consensus_role_to_raft(role);
    return consensus_change_submit(c, op, err);
}

int consensus_assign(struct consensus *c, struct consensus_op_req *req,
                     uint64_t id, enum consensus_role role,
                     consensus_op_cb cb, struct err *err)
{
    struct consensus_op *op;
    int rv;

    assert(cb != NULL);
    rv = consensus_op_check(c, err);
    if (rv != 0)
        return rv;
    if (id == 0 || consensus_role_to_raft(role) < 0)
        return err_set(err, ERR_INVALID, "raft: bad member or role");
    op = consensus_op_new(c, req, CONSENSUS__OP_ASSIGN, id, cb);
    op->role = consensus_role_to_raft(role);
    return consensus_change_submit(c, op, err);
}

int consensus_remove_member(struct consensus *c, struct consensus_op_req *req,
                            uint64_t id, consensus_op_cb cb, struct err *err)
{
    struct consensus_op *op;
    int rv;

    assert(cb != NULL);
    rv = consensus_op_check(c, err);
    if (rv != 0)
        return rv;
    if (id == 0)
        return err_set(err, ERR_INVALID, "raft: bad member id");
    op = consensus_op_new(c, req, CONSENSUS__OP_REMOVE, id, cb);
    return consensus_change_submit(c, op, err);
}

static void consensus_op_transfer_cb(struct raft_transfer *t)
{
    struct consensus_op *op = t->data;
    struct consensus *c = op->c;
    uint64_t leader;
    int status = 0;

    op->in_raft = false;
    if (op->req == NULL) {
        consensus_op_drop(c, op);
        return;
    }
    leader = consensus_leader_id(c);
    if (leader == 0 || leader == c->id || (t->id != 0 && leader != t->id))
        status = err_set(&op->req->err, ERR_UNAVAILABLE,
                         "raft: leadership transfer to %llx timed out",
                         (unsigned long long)t->id);
    consensus_op_finish(c, op, status);
}

int consensus_transfer_leadership(struct consensus *c,
                                  struct consensus_op_req *req, uint64_t id,
                                  consensus_op_cb cb, struct err *err)
{
    struct consensus_op *op;
    int rv;

    assert(cb != NULL);
    rv = consensus_op_check(c, err);
    if (rv != 0)
        return rv;
    if (id == c->id)
        return err_set(err, ERR_INVALID, "raft: already the leader");
    op = consensus_op_new(c, req, CONSENSUS__OP_TRANSFER, id, cb);
    op->u.transfer.data = op;
    rv = raft_transfer(&c->raft, &op->u.transfer, id,
                       consensus_op_transfer_cb);
    if (rv != 0) {
        req->impl = NULL;
        free(op);
        return consensus_op_raft_err(c, err, rv);
    }
    log_info(LOG_RAFT, "transferring raft leadership to %llx",
             (unsigned long long)op->u.transfer.id);
    op->in_raft = true;
    consensus_op_link(c, op);
    return 0;
}

static void consensus_op_barrier_cb(struct raft_barrier *b, int status)
{
    struct consensus_op *op = b->data;
    struct consensus *c = op->c;

    op->in_raft = false;
    if (op->req == NULL) {
        consensus_op_drop(c, op);
        return;
    }
    consensus_op_finish(c, op,
                        status == 0 ? 0
                                    : consensus_op_raft_err(c, &op->req->err,
                                                            status));
}

int consensus_barrier(struct consensus *c, struct consensus_op_req *req,
                      consensus_op_cb cb, struct err *err)
{
    struct consensus_op *op;
    int rv;

    assert(cb != NULL);
    rv = consensus_op_check(c, err);
    if (rv != 0)
        return rv;
    op = consensus_op_new(c, req, CONSENSUS__OP_BARRIER, 0, cb);
    op->u.barrier.data = op;
    rv = raft_barrier(&c->raft, &op->u.barrier, consensus_op_barrier_cb);
    if (rv != 0) {
        req->impl = NULL;
        free(op);
        return consensus_op_raft_err(c, err, rv);
    }
    op->in_raft = true;
    consensus_op_link(c, op);
    return 0;
}

/*
 * Send a member being added what it lacks now rather than at the next
 * heartbeat. The leader's first append to a new member names the last
 * entry of the log, which its empty log rejects; raft 0.15 then sends a
 * member in probe mode at most one append per heartbeat interval, so the
 * entries it needs waited up to a heartbeat (25 ms) for the next tick. A
 * barrier appended while the heartbeat timeout is zero makes raft
 * replicate to every member at once, the new one from where its
 * rejection put it (its own request, dropped when it completes).
 */
static void consensus_ops_kick(struct consensus *c, uint64_t id)
{
    struct consensus_op *op = xcalloc(1, sizeof(*op));
    unsigned heartbeat = c->raft.heartbeat_timeout;
    int rv;

    op->c = c;
    op->kind = CONSENSUS__OP_BARRIER;
    op->u.barrier.data = op;
    raft_set_heartbeat_timeout(&c->raft, 0);
    rv = raft_barrier(&c->raft, &op->u.barrier, consensus_op_barrier_cb);
    raft_set_heartbeat_timeout(&c->raft, heartbeat);
    if (rv != 0) {
        free(op);
        return;
    }
    log_debug(LOG_RAFT, "raft member %llx answered with an empty log: "
              "replicating at once", (unsigned long long)id);
    op->in_raft = true;
    consensus_op_link(c, op);
}

void consensus_ops_sample(struct consensus *c)
{
    const struct raft_progress *pr;
    const struct raft_server *s;
    struct consensus_peer *peer;
    uint64_t now = uv_now(c->loop);
    uint64_t kick = 0;
    unsigned i;

    if (c->raft.state != RAFT_LEADER || c->raft.leader_state.progress == NULL)
        return;
    for (i = 0; i < c->raft.configuration.n; i++) {
        s = &c->raft.configuration.servers[i];
        pr = &c->raft.leader_state.progress[i];
        if (s->id == c->id || !pr->recent_recv)
            continue;
        peer = consensus_peer_get(c, s->id);
        peer->last_seen = now;
        /* A member being added has answered and holds nothing yet (a
         * few times at most: one taking a snapshot stays so a while). */
        if ((s->role != RAFT_VOTER ||
             s->id == c->raft.leader_state.promotee_id) &&
            pr->match_index == 0 && peer->n_kicks < CONSENSUS__MAX_KICKS &&
            now - peer->kicked >= c->raft.heartbeat_timeout) {
            peer->kicked = now;
            peer->n_kicks++;
            kick = s->id;
        }
    }
    if (kick != 0 && c->raft.transfer == NULL)
        consensus_ops_kick(c, kick);
}

int consensus_members(const struct consensus *c,
                      struct consensus_member **out, size_t *n,
                      struct err *err)
{
    const struct raft_configuration *conf = &c->raft.configuration;
    const struct consensus_peer *p;
    struct consensus_member *m;
    size_t size;
    char *strings;
    unsigned i;

    (void)err;
    *out = NULL;
    *n = 0;
    if (conf->n == 0)
        return 0;
    size = conf->n * sizeof(*m);
    for (i = 0; i < conf->n; i++)
        size += strlen(conf->servers[i].address) + 1;
    m = xmalloc(size);
    strings = (char *)(m + conf->n);
    for (i = 0; i < conf->n; i++) {
        const struct raft_server *s = &conf->servers[i];
        size_t len = strlen(s->address) + 1;

        memcpy(strings, s->address, len);
        m[i].id = s->id;
        m[i].address = strings;
        strings += len;
        m[i].role = consensus_role_from_raft(s->role);
        m[i].reachable = consensus_reachable(c, s->id);
        p = consensus_peer_find(c, s->id);
        m[i].connected = s->id == c->id ||
                         (p != NULL && p->n_in + p->n_out > 0);
    }
    *out = m;
    *n = conf->n;
    return 0;
}

void consensus_ops_cancel_all(struct consensus *c)
{
    struct consensus_op *op;

    for (;;) {
        for (op = c->ops_head; op != NULL && op->req == NULL; op = op->next)
            ;
        if (op == NULL)
            break;
        err_set(&op->req->err, ERR_CANCELED, CONSENSUS__STOPPED);
        consensus_op_notify(c, op, -ERR_CANCELED);
        if (!op->in_raft)
            consensus_op_drop(c, op);
    }
}

void consensus_ops_release(struct consensus *c)
{
    struct consensus_op *op;

    consensus_ops_cancel_all(c);
    while (c->ops_head != NULL)
        consensus_op_drop(c, c->ops_head);
    while (c->graveyard != NULL) {
        op = c->graveyard;
        c->graveyard = op->next;
        free(op);
    }
    free(c->peers);
    c->peers = NULL;
    c->n_peers = 0;
}

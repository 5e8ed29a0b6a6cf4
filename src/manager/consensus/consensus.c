/* SPDX-License-Identifier: Apache-2.0 */
/* Member lifecycle (new, bootstrap, start, close) and the leadership watch. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/mem.h"
#include "manager/consensus/consensus.h"
#include "manager/consensus/consensus_int.h"

#define CONSENSUS__CONNECT_RETRY_MS 20

static void consensus_trace_emit(struct raft_tracer *t, const char *file,
                                 int line, const char *message)
{
    (void)t;
    log_debug(LOG_RAFT, "%s:%d %s", file, line, message);
}

/*
 * raft's heap, zeroing: raft 0.15 pads encoded configurations and entries
 * to 8 bytes without clearing the padding, so without this a few bytes of
 * stale heap go to disk and to peers (valgrind flags them too).
 */
static void *consensus_heap_malloc(void *data, size_t size)
{
    (void)data;
    return calloc(1, size ? size : 1);
}

static void consensus_heap_free(void *data, void *ptr)
{
    (void)data;
    free(ptr);
}

static void *consensus_heap_calloc(void *data, size_t nmemb, size_t size)
{
    (void)data;
    return calloc(nmemb, size);
}

static void *consensus_heap_realloc(void *data, void *ptr, size_t size)
{
    (void)data;
    return realloc(ptr, size);
}

static void *consensus_heap_aligned_alloc(void *data, size_t alignment,
                                          size_t size)
{
    void *p;

    (void)data;
    p = aligned_alloc(alignment, size);
    if (p != NULL)
        memset(p, 0, size);
    return p;
}

static void consensus_heap_aligned_free(void *data, size_t alignment,
                                        void *ptr)
{
    (void)data;
    (void)alignment;
    free(ptr);
}

static struct raft_heap consensus_heap = {
    .data = NULL,
    .malloc = consensus_heap_malloc,
    .free = consensus_heap_free,
    .calloc = consensus_heap_calloc,
    .realloc = consensus_heap_realloc,
    .aligned_alloc = consensus_heap_aligned_alloc,
    .aligned_free = consensus_heap_aligned_free,
};

/* raft_leader() wants a mutable raft; reading never changes it. */
static struct raft *consensus_raft(const struct consensus *c)
{
    return (struct raft *)&c->raft;
}

/* Longest wait in consensus_close for appends to reach the disk. */
#define CONSENSUS__DRAIN_MS 10000

static void consensus_check_cb(uv_check_t *handle);

static int consensus_config_check(const struct consensus_config *cfg,
                                  struct err *err)
{
    unsigned election;
    unsigned heartbeat;

    if (cfg == NULL || cfg->dir == NULL || cfg->dir[0] == '\0')
        return err_set(err, ERR_INVALID, "raft: no data directory given");
    if (cfg->id == 0)
        return err_set(err, ERR_INVALID, "raft: member id must not be 0");
    if (cfg->address == NULL || cfg->address[0] == '\0')
        return err_set(err, ERR_INVALID, "raft: no advertise address given");
    election = cfg->election_timeout_ms ? cfg->election_timeout_ms
                                        : CONSENSUS_ELECTION_TIMEOUT_MS;
    heartbeat = cfg->heartbeat_ms ? cfg->heartbeat_ms : CONSENSUS_HEARTBEAT_MS;
    if (heartbeat >= election)
        return err_set(err, ERR_INVALID,
                       "raft: heartbeat (%u ms) must be shorter than the "
                       "election timeout (%u ms)",
                       heartbeat, election);
    return 0;
}

struct consensus *consensus_new(uv_loop_t *loop,
                                const struct consensus_config *cfg,
                                const struct consensus_fsm *fsm,
                                struct err *err)
{
    struct consensus *c;
    int rv;

    if (consensus_config_check(cfg, err) != 0)
        return NULL;
    if (fsm == NULL || fsm->apply == NULL || fsm->snapshot == NULL ||
        fsm->restore == NULL) {
        err_set(err, ERR_INVALID, "raft: incomplete state machine");
        return NULL;
    }
    if (fsutil_mkdir_p(cfg->dir, 0700, err) != 0) {
        err_wrap(err, "raft: create %s", cfg->dir);
        return NULL;
    }

    /* Process-wide and compatible with the default heap (both are libc's
     * allocator), so setting it again, or late, is harmless. */
    raft_heap_set(&consensus_heap);

    c = xcalloc(1, sizeof(*c));
    c->loop = loop;
    c->id = cfg->id;
    c->dir = xstrdup(cfg->dir);
    c->address = xstrdup(cfg->address);
    c->user_fsm = *fsm;
    err_clear(&c->fsm_err);

    c->tracer.impl = c;
    c->tracer.enabled = LOG__ON(LOG_LEVEL_DEBUG, LOG_RAFT);
    c->tracer.emit = consensus_trace_emit;

    consensus_fsm_init(c);
    consensus_transport_init(c);

    rv = raft_uv_init(&c->io, loop, c->dir, &c->transport);
    if (rv != 0) {
        err_set(err, rv == RAFT_NAMETOOLONG ? ERR_INVALID : ERR_IO,
                "raft: %s: %s", c->dir, c->io.errmsg);
        goto err_after_alloc;
    }
    raft_uv_set_tracer(&c->io, &c->tracer);
    /* Off: the Debian build links lz4 and would compress by default; we
     * want the on-disk snapshot to be exactly the FSM's bytes. */
    rv = raft_uv_set_snapshot_compression(&c->io, false);
    assert(rv == 0);
    /* libraft waits 1 s before redialling a peer it could not reach; a
     * manager that just joined (and opened its port a few ms after the
     * leader added it) or a peer back from a partition would sit out that
     * second. A dial to an unreachable loopback or LAN peer is cheap. */
    raft_uv_set_connect_retry_delay(&c->io, CONSENSUS__CONNECT_RETRY_MS);

    /* Always wrapped, even in clear: the wrapper also makes raft_uv's
     * close callback fire once (consensus_crypt_close_tramp). */
    c->crypt = consensus_crypt_new(&c->io, cfg->dek);

    /* raft_init calls the io's init, which probes the dir and inits the
     * transport; its failure leaves no handle on the loop. */
    rv = raft_init(&c->raft, consensus_crypt_io(c->crypt), &c->fsm, c->id,
                   c->address);
    if (rv != 0) {
        err_set(err, rv == RAFT_NOMEM ? ERR_INTERNAL : ERR_IO, "raft: %s",
                raft_errmsg(&c->raft));
        goto err_after_io_init;
    }
    c->raft.data = c;
    c->raft.tracer = &c->tracer;
    raft_set_election_timeout(&c->raft,
                              cfg->election_timeout_ms
                                  ? cfg->election_timeout_ms
                                  : CONSENSUS_ELECTION_TIMEOUT_MS);
    raft_set_heartbeat_timeout(&c->raft, cfg->heartbeat_ms
                                             ? cfg->heartbeat_ms
                                             : CONSENSUS_HEARTBEAT_MS);
    raft_set_snapshot_threshold(&c->raft, cfg->snapshot_threshold
                                              ? cfg->snapshot_threshold
                                              : CONSENSUS_SNAPSHOT_THRESHOLD);
    raft_set_snapshot_trailing(&c->raft, cfg->snapshot_trailing
                                             ? cfg->snapshot_trailing
                                             : CONSENSUS_SNAPSHOT_TRAILING);
    /* A member coming back from a partition must not depose a working
     * leader (it would with its bumped term, without pre-vote). */
    raft_set_pre_vote(&c->raft, true);

    rv = uv_check_init(loop, &c->check);
    assert(rv == 0);
    c->check.data = c;
    rv = uv_check_start(&c->check, consensus_check_cb);
    assert(rv == 0);
    /* The watch alone must not keep the loop running. */
    uv_unref((uv_handle_t *)&c->check);
    return c;

err_after_io_init:
    raft_uv_close(&c->io);
    consensus_crypt_free(c->crypt);
err_after_alloc:
    free(c->address);
    free(c->dir);
    free(c);
    return NULL;
}

int consensus_bootstrap(struct consensus *c, struct err *err)
{
    struct raft_configuration conf;
    int rv;

    if (c->started)
        return err_set(err, ERR_INVALID, "raft: bootstrap after start");
    raft_configuration_init(&conf);
    rv = raft_configuration_add(&conf, c->id, c->address, RAFT_VOTER);
    if (rv != 0) {
        raft_configuration_close(&conf);
        return err_set(err, ERR_INTERNAL, "raft: configuration: %s",
                       raft_strerror(rv));
    }
    rv = raft_bootstrap(&c->raft, &conf);
    raft_configuration_close(&conf);
    if (rv == RAFT_CANTBOOTSTRAP) {
        log_debug(LOG_RAFT, "raft state found in %s, not bootstrapping",
                  c->dir);
        return 0;
    }
    if (rv != 0)
        return err_set(err, ERR_IO, "raft: bootstrap %s: %s", c->dir,
                       c->io.errmsg[0] ? c->io.errmsg : raft_strerror(rv));
    log_info(LOG_RAFT, "bootstrapped raft in %s as single voter %llx (%s)",
             c->dir, (unsigned long long)c->id, c->address);
    return 0;
}

int consensus_recover(struct consensus *c, struct err *err)
{
    struct raft_configuration conf;
    int rv;

    if (c->started)
        return err_set(err, ERR_INVALID, "raft: recover after start");
    raft_configuration_init(&conf);
    rv = raft_configuration_add(&conf, c->id, c->address, RAFT_VOTER);
    if (rv != 0) {
        raft_configuration_close(&conf);
        return err_set(err, ERR_INTERNAL, "raft: configuration: %s",
                       raft_strerror(rv));
    }
    rv = raft_recover(&c->raft, &conf);
    raft_configuration_close(&conf);
    if (rv != 0)
        return err_set(err, ERR_IO, "raft: recover %s: %s", c->dir,
                       c->io.errmsg[0] ? c->io.errmsg : raft_strerror(rv));
    log_info(LOG_RAFT, "raft in %s recovered as single voter %llx (%s)",
             c->dir, (unsigned long long)c->id, c->address);
    return 0;
}

int consensus_start(struct consensus *c, struct err *err)
{
    int rv;

    if (c->started)
        return err_set(err, ERR_INVALID, "raft: already started");
    if (c->closing)
        return err_set(err, ERR_CANCELED, "raft: closing");
    c->started = true;
    err_clear(&c->fsm_err);
    c->n_dispatch++;
    rv = raft_start(&c->raft);
    c->n_dispatch--;
    if (rv != 0) {
        if (c->fsm_err.code != ERR_OK) {
            *err = c->fsm_err;
            return err_wrap(err, "raft: start %s", c->dir);
        }
        return err_set(err, rv == RAFT_NOMEM ? ERR_INTERNAL : ERR_IO,
                       "raft: start %s: %s", c->dir, raft_errmsg(&c->raft));
    }
    log_info(LOG_RAFT, "raft member %llx started in %s: term %llu, applied %llu",
             (unsigned long long)c->id, c->dir, c->raft.current_term,
             c->raft.last_applied);
    return 0;
}

void consensus_set_leader_cb(struct consensus *c, consensus_leader_cb cb,
                             void *data)
{
    c->leader_cb = cb;
    c->leader_data = data;
}

bool consensus_is_leader(const struct consensus *c)
{
    return raft_state(consensus_raft(c)) == RAFT_LEADER;
}

uint64_t consensus_leader_id(const struct consensus *c)
{
    raft_id id = 0;
    const char *address = NULL;

    if (raft_state(consensus_raft(c)) == RAFT_UNAVAILABLE)
        return 0;
    raft_leader(consensus_raft(c), &id, &address);
    return id;
}

uint64_t consensus_applied_index(const struct consensus *c)
{
    return raft_last_applied(consensus_raft(c));
}

uint64_t consensus_term(const struct consensus *c)
{
    return c->raft.current_term;
}

uint64_t consensus_id(const struct consensus *c)
{
    return c->id;
}

static void consensus_check_close_cb(uv_handle_t *handle)
{
    struct consensus *c = handle->data;
    void (*cb)(void *data) = c->close_cb;
    void *data = c->close_data;

    /* Every handle raft_uv closed is closed now: nothing of libraft calls
     * into the io again. */
    raft_uv_close(&c->io);
    consensus_crypt_free(c->crypt);
    free(c->address);
    free(c->dir);
    free(c);
    if (cb != NULL)
        cb(data);
}

/*
 * First closing phase after raft's close callback: handles raft_uv closed
 * during this one (the writer's, after their siblings' callbacks) finish
 * in the next; so close the check handle once more.
 */
static void consensus_check_hop_cb(uv_handle_t *handle)
{
    struct consensus *c = handle->data;
    int rv;

    rv = uv_check_init(c->loop, &c->check);
    assert(rv == 0);
    c->check.data = c;
    uv_close((uv_handle_t *)&c->check, consensus_check_close_cb);
}

static void consensus_raft_close_cb(struct raft *raft)
{
    struct consensus *c = raft->data;

    /* raft_uv closed the transport before this fires. */
    assert(c->conns == NULL);
    consensus_propose_release(c);
    consensus_ops_release(c);
    /* raft_uv may still call its close callback again from handles of its
     * own that are closing (consensus_crypt_close_tramp drops the call):
     * its impl and the wrapper are released two closing phases later. */
    uv_close((uv_handle_t *)&c->check, consensus_check_hop_cb);
}

/*
 * raft 0.15 must not be closed while two or more leader appends wait in
 * raft_uv's queue: each is failed with RAFT_CANCELED and appendLeaderCb
 * truncates the log from its index without checking that the previous one
 * already did, which runs past the end of the log (memory corruption in
 * Debian's build, an assert in a debug build; fixed upstream in 0.17).
 * So close only once every entry in the log is on disk.
 */
static bool consensus_is_drained(struct consensus *c)
{
    if (raft_state(&c->raft) == RAFT_UNAVAILABLE)
        return true;
    return c->raft.last_stored >= raft_last_index(&c->raft);
}

static void consensus_close_now(struct consensus *c)
{
    c->close_deferred = false;
    /* Proposals raft still holds fail with RAFT_LEADERSHIPLOST; their
     * proposers were told already, so consensus_propose just frees them. */
    raft_close(&c->raft, consensus_raft_close_cb);
}

void consensus_close(struct consensus *c, void (*cb)(void *data), void *data)
{
    assert(!c->closing);
    c->closing = true;
    c->close_cb = cb;
    c->close_data = data;
    log_debug(LOG_RAFT, "closing raft member %llx", (unsigned long long)c->id);
    /* Every proposer learns now, whatever raft does next; an entry already
     * handed to raft may still commit (and is applied again on restart). */
    consensus_propose_cancel_all(c);
    consensus_ops_cancel_all(c);
    if (c->n_dispatch == 0 && consensus_is_drained(c)) {
        consensus_close_now(c);
        return;
    }
    /* raft is up the stack, or appends are in flight: finish at the end
     * of a loop iteration. */
    c->close_deferred = true;
    c->close_deadline = uv_now(c->loop) + CONSENSUS__DRAIN_MS;
    uv_ref((uv_handle_t *)&c->check);
}

static void consensus_check_cb(uv_check_t *handle)
{
    struct consensus *c = handle->data;
    bool is_leader;
    uint64_t leader_id;

    if (c->close_deferred) {
        if (c->n_dispatch > 0)
            return;
        if (!consensus_is_drained(c)) {
            if (uv_now(c->loop) < c->close_deadline)
                return;
            log_warn(LOG_RAFT, "closing with entries %llu..%llu not on disk",
                     c->raft.last_stored + 1, raft_last_index(&c->raft));
        }
        consensus_close_now(c);
        return;
    }
    if (c->closing)
        return;
    consensus_ops_sample(c);
    if (c->ops_queued)
        consensus_ops_run(c);
    if (c->closing)
        return;
    is_leader = consensus_is_leader(c);
    leader_id = consensus_leader_id(c);
    if (is_leader == c->seen_leader && leader_id == c->seen_leader_id)
        return;
    log_info(LOG_RAFT, "raft member %llx: %s, leader %llx, term %llu",
             (unsigned long long)c->id, is_leader ? "leader" : "not leader",
             (unsigned long long)leader_id, c->raft.current_term);
    c->seen_leader = is_leader;
    c->seen_leader_id = leader_id;
    if (c->leader_cb != NULL)
        c->leader_cb(c, c->leader_data);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* consensus_crypt: the record codec, and raft_uv wrapped by it on a temp
 * dir (nothing in clear on disk, wrong key refused, clear logs read, members
 * closed in every way the daemon closes them). */
#include <dirent.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "manager/consensus/consensus.h"
#include "manager/consensus/consensus_int.h"

/* ---- fixture ---------------------------------------------------------- */

#define T_WAIT_NS (10ull * 1000 * 1000 * 1000)
#define T_STATE_MAX 65536

/* The FSM: the applied payloads, concatenated (the snapshot is the text). */
struct tfsm
{
    char text[T_STATE_MAX];
    size_t len;
    unsigned n_restore;
    /* Applying close_on closes c from inside raft's callback, as a role
     * change seen in the store does in the daemon. */
    const char *close_on;
    struct consensus *c;
    void *close_data;
};

struct fixture
{
    uv_loop_t loop;
    char dir[64];
    struct tfsm fsm;
    struct consensus *c;
    bool closed;
};

struct tprop
{
    struct consensus_propose_req req;
    unsigned n_cb;
    int status;
};

/* ---- parameters ------------------------------------------------------- */

#define T_ID 0x77aa11ull
#define T_ADDR "127.0.0.1:2377"

static const uint8_t t_key[CONSENSUS_DEK_LEN] = {
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t t_other[CONSENSUS_DEK_LEN] = {
    9, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

/* ---- helpers ---------------------------------------------------------- */

#define RUN_UNTIL(fx, cond)                                              \
    do {                                                                 \
        uint64_t dl_ = uv_hrtime() + T_WAIT_NS;                          \
        while (!(cond)) {                                                \
            if (uv_hrtime() > dl_)                                       \
                fail_msg("timed out waiting for %s", #cond);             \
            uv_run(&(fx)->loop, UV_RUN_ONCE);                            \
        }                                                                \
    } while (0)

static void close_cb(void *data);

static int tfsm_apply(void *data, uint64_t index, const void *buf, size_t len,
                      struct err *err)
{
    struct tfsm *f = data;

    (void)index;
    (void)err;
    if (f->close_on != NULL && len == strlen(f->close_on) &&
        memcmp(buf, f->close_on, len) == 0) {
        f->close_on = NULL;
        consensus_close(f->c, close_cb, f->close_data);
    }
    assert_true(f->len + len + 1 < sizeof(f->text));
    memcpy(f->text + f->len, buf, len);
    f->len += len;
    f->text[f->len++] = ';';
    f->text[f->len] = '\0';
    return 0;
}

static int tfsm_snapshot(void *data, void **out_buf, size_t *out_len,
                         struct err *err)
{
    struct tfsm *f = data;
    void *buf = malloc(f->len + 1);

    (void)err;
    assert_non_null(buf);
    memcpy(buf, f->text, f->len);
    *out_buf = buf;
    *out_len = f->len;
    return 0;
}

static int tfsm_restore(void *data, const void *buf, size_t len,
                        struct err *err)
{
    struct tfsm *f = data;

    (void)err;
    assert_true(len < sizeof(f->text));
    memcpy(f->text, buf, len);
    f->len = len;
    f->text[len] = '\0';
    f->n_restore++;
    return 0;
}

static const struct consensus_fsm tfsm_vtable = {
    .apply = tfsm_apply,
    .snapshot = tfsm_snapshot,
    .restore = tfsm_restore,
};

static void close_cb(void *data)
{
    struct fixture *fx = data;

    fx->closed = true;
}

static void prop_cb(struct consensus_propose_req *req, int status)
{
    struct tprop *p = req->data;

    p->n_cb++;
    p->status = status;
}

/* Open a member on fx->dir with key (NULL: clear); 0 or start's -code. */
static int open_member(struct fixture *fx, const uint8_t *key,
                       unsigned threshold, struct err *err)
{
    struct consensus_config cfg = {
        .dir = fx->dir,
        .id = T_ID,
        .address = T_ADDR,
        .snapshot_threshold = threshold,
        .snapshot_trailing = 2,
        .dek = key,
    };
    struct consensus_fsm vt = tfsm_vtable;

    memset(&fx->fsm, 0, sizeof(fx->fsm));
    vt.data = &fx->fsm;
    fx->c = consensus_new(&fx->loop, &cfg, &vt, err);
    if (fx->c == NULL)
        fail_msg("consensus_new: %s", err->msg);
    fx->closed = false;
    assert_int_equal(consensus_bootstrap(fx->c, err), 0);
    return consensus_start(fx->c, err);
}

static void close_member(struct fixture *fx)
{
    consensus_close(fx->c, close_cb, fx);
    RUN_UNTIL(fx, fx->closed);
    fx->c = NULL;
}

/* Commit "<prefix>-<i>" for i in [from, to). */
static void propose_markers(struct fixture *fx, const char *prefix,
                            unsigned from, unsigned to)
{
    struct tprop p[64];
    char text[64];
    struct err err;
    unsigned i;
    unsigned n = to - from;

    assert_true(n <= 64);
    memset(p, 0, sizeof(p));
    for (i = 0; i < n; i++) {
        snprintf(text, sizeof(text), "%s-%u", prefix, from + i);
        p[i].req.data = &p[i];
        err_clear(&err);
        if (consensus_propose(fx->c, &p[i].req, text, strlen(text), prop_cb,
                              &err) != 0)
            fail_msg("propose: %s", err.msg);
        /* One at a time: leader appends in flight are never cancelled. */
        RUN_UNTIL(fx, p[i].n_cb == 1);
        assert_int_equal(p[i].status, 0);
    }
}

/* Does any file under dir contain needle? */
static bool dir_contains(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    bool found = false;

    assert_non_null(d);
    while (!found && (e = readdir(d)) != NULL) {
        char path[512];
        char *text = NULL;
        size_t len = 0;
        size_t i;
        size_t n = strlen(needle);
        struct err err;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (fsutil_read_all(path, 64u << 20, &text, &len, &err) != 0)
            continue;
        for (i = 0; i + n <= len; i++)
            if (memcmp(text + i, needle, n) == 0) {
                found = true;
                break;
            }
        free(text);
    }
    closedir(d);
    return found;
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/shoal-crypt-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    struct err err;
    int rv;

    if (fx->c != NULL)
        close_member(fx);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    rv = fsutil_empty_dir(fx->dir, &err);
    if (rv == 0)
        rv = rmdir(fx->dir);
    assert_int_equal(rv, 0);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    free(fx);
    return 0;
}

/* ---- tests: the codec ------------------------------------------------- */

static void seal(const char *text, uint8_t *out)
{
    struct consensus_crypt_iov iov = {text, strlen(text)};
    struct err err;

    err_clear(&err);
    assert_int_equal(consensus_crypt_seal(t_key, 7, 1, &iov, 1, out, &err),
                     0);
}

static void test_codec_round_trip(void **state)
{
    static const char text[] = "a secret payload of 33 bytes long";
    uint8_t rec[128];
    uint8_t out[128];
    struct consensus_crypt_iov iov[2] = {{text, 10}, {text + 10, 23}};
    size_t rec_len = consensus_crypt_sealed_len(33);
    size_t len;
    struct err err;

    (void)state;
    err_clear(&err);
    assert_int_equal(rec_len % 8, 0);
    assert_int_equal(consensus_crypt_seal(t_key, 7, 1, iov, 2, rec, &err), 0);
    assert_int_equal(rec[0], CONSENSUS_CRYPT_MAGIC);
    assert_null(memmem(rec, rec_len, "secret", 6));
    assert_int_equal(consensus_crypt_open_len(rec, rec_len, &len, &err), 0);
    assert_int_equal(len, 33);
    assert_int_equal(consensus_crypt_open(t_key, 7, 1, rec, rec_len, out,
                                          &err), 0);
    assert_memory_equal(out, text, 33);
    /* Two seals of the same data differ: a random nonce per record. */
    seal(text, out);
    assert_memory_not_equal(out, rec, rec_len);
}

static void test_codec_tampered_refused(void **state)
{
    uint8_t rec[128];
    uint8_t bad[128];
    uint8_t out[128];
    size_t rec_len = consensus_crypt_sealed_len(strlen("payload-xyz"));
    size_t len;
    size_t i;
    struct err err;

    (void)state;
    seal("payload-xyz", rec);
    /* Every byte but the padding and the magic (which would make it a
     * "clear" record) is covered. */
    for (i = 1; i < 8 + 12 + 16 + 11; i++) {
        memcpy(bad, rec, rec_len);
        bad[i] ^= 0x01;
        err_clear(&err);
        if (consensus_crypt_open_len(bad, rec_len, &len, &err) == 0 &&
            len <= sizeof(out))
            assert_int_not_equal(
                consensus_crypt_open(t_key, 7, 1, bad, rec_len, out, &err),
                0);
        assert_int_equal(err.code, ERR_IO);
    }
    /* Non-zero padding. */
    memcpy(bad, rec, rec_len);
    bad[rec_len - 1] = 1;
    assert_int_equal(consensus_crypt_open(t_key, 7, 1, bad, rec_len, out,
                                          &err), -ERR_IO);
    /* Truncated. */
    assert_int_equal(consensus_crypt_open(t_key, 7, 1, rec, rec_len - 8, out,
                                          &err), -ERR_IO);
}

static void test_codec_wrong_key_or_context(void **state)
{
    uint8_t rec[128];
    uint8_t out[128];
    size_t rec_len = consensus_crypt_sealed_len(strlen("payload-xyz"));
    struct err err;

    (void)state;
    seal("payload-xyz", rec);
    err_clear(&err);
    assert_int_equal(consensus_crypt_open(t_other, 7, 1, rec, rec_len, out,
                                          &err), -ERR_IO);
    assert_non_null(strstr(err.msg, "wrong key"));
    /* Moved to another term or type. */
    assert_int_equal(consensus_crypt_open(t_key, 8, 1, rec, rec_len, out,
                                          &err), -ERR_IO);
    assert_int_equal(consensus_crypt_open(t_key, 7, 2, rec, rec_len, out,
                                          &err), -ERR_IO);
}

static void test_codec_clear_legacy(void **state)
{
    /* A framed command as written before encryption (consensus_int.h). */
    static const uint8_t legacy[16] = {1, 0, 0, 0, 3, 0, 0, 0, 'a', 'b', 'c'};
    uint8_t out[16];
    size_t len;
    struct err err;

    (void)state;
    err_clear(&err);
    assert_int_equal(consensus_crypt_open_len(legacy, sizeof(legacy), &len,
                                              &err), 0);
    assert_int_equal(len, sizeof(legacy));
    assert_int_equal(consensus_crypt_open(t_key, 7, 1, legacy, sizeof(legacy),
                                          out, &err), 0);
    assert_memory_equal(out, legacy, sizeof(legacy));
}

/* ---- tests: raft_uv wrapped ------------------------------------------- */

static void test_io_nothing_clear_on_disk(void **state)
{
    struct fixture *fx = *state;
    struct err err;

    err_clear(&err);
    /* Threshold 8: the log and a snapshot both hold markers. */
    assert_int_equal(open_member(fx, t_key, 8, &err), 0);
    propose_markers(fx, "MARKER-crypt", 0, 20);
    close_member(fx);
    assert_false(dir_contains(fx->dir, "MARKER-crypt"));

    assert_int_equal(open_member(fx, t_key, 8, &err), 0);
    assert_true(fx->fsm.n_restore > 0);
    assert_non_null(strstr(fx->fsm.text, "MARKER-crypt-0;"));
    assert_non_null(strstr(fx->fsm.text, "MARKER-crypt-19;"));
    propose_markers(fx, "MARKER-crypt", 20, 25);
    assert_non_null(strstr(fx->fsm.text, "MARKER-crypt-24;"));
    close_member(fx);
    assert_false(dir_contains(fx->dir, "MARKER-crypt"));
}

static void test_io_wrong_key_refused(void **state)
{
    struct fixture *fx = *state;
    struct err err;

    err_clear(&err);
    assert_int_equal(open_member(fx, t_key, 1000, &err), 0);
    propose_markers(fx, "MARKER-key", 0, 5);
    close_member(fx);
    assert_int_equal(open_member(fx, t_other, 1000, &err), -ERR_IO);
    assert_non_null(strstr(err.msg, "cannot be decrypted"));
    assert_null(strstr(fx->fsm.text, "MARKER-key"));
    close_member(fx);
    /* The right key still reads it all. */
    assert_int_equal(open_member(fx, t_key, 1000, &err), 0);
    assert_non_null(strstr(fx->fsm.text, "MARKER-key-4;"));
}

static void test_io_wrong_key_snapshot_refused(void **state)
{
    struct fixture *fx = *state;
    struct err err;

    err_clear(&err);
    assert_int_equal(open_member(fx, t_key, 4, &err), 0);
    propose_markers(fx, "MARKER-snap", 0, 12);
    close_member(fx);
    assert_int_equal(open_member(fx, t_other, 4, &err), -ERR_IO);
    assert_int_equal(fx->fsm.n_restore, 0);
    close_member(fx);
}

static void test_io_reads_clear_legacy_log(void **state)
{
    struct fixture *fx = *state;
    struct err err;

    err_clear(&err);
    /* A data dir from before encryption: entries and a snapshot in clear. */
    assert_int_equal(open_member(fx, NULL, 8, &err), 0);
    propose_markers(fx, "MARKER-old", 0, 12);
    close_member(fx);
    assert_true(dir_contains(fx->dir, "MARKER-old"));

    assert_int_equal(open_member(fx, t_key, 8, &err), 0);
    assert_non_null(strstr(fx->fsm.text, "MARKER-old-0;"));
    assert_non_null(strstr(fx->fsm.text, "MARKER-old-11;"));
    propose_markers(fx, "MARKER-new", 0, 12);
    close_member(fx);
    assert_false(dir_contains(fx->dir, "MARKER-new"));

    assert_int_equal(open_member(fx, t_key, 8, &err), 0);
    assert_non_null(strstr(fx->fsm.text, "MARKER-old-11;"));
    assert_non_null(strstr(fx->fsm.text, "MARKER-new-11;"));
}


/* ---- tests: closing ---------------------------------------------------- */

/*
 * The daemon closes a member from wherever it learns it must: a signal or
 * an API call (the poll phase of the loop), a role change (a timer or a
 * check callback), with appends in flight or a snapshot being written. Each
 * shape is run with and without a DEK, a few times over; ASan reports any
 * use of the member, raft_uv's impl or the wrapper after they were freed.
 */
#define T_CLOSE_ROUNDS 4

/* One item of libuv's thread pool that only says it ran. */
struct tjob
{
    uv_work_t work;
    atomic_bool ran;
    bool done;
};

static void tjob_work(uv_work_t *w)
{
    struct tjob *j = w->data;

    atomic_store(&j->ran, true);
}

static void tjob_after(uv_work_t *w, int status)
{
    struct tjob *j = w->data;

    (void)status;
    j->done = true;
}

/* Closing from an fd callback with a thread pool completion due in the
 * same poll: raft_uv's last segment is finalized in the pool, and the
 * finalization's after-work callback runs before the closing phase that
 * still holds that segment's writer handles. */
struct tpoke
{
    struct fixture *fx;
    uv_poll_t poll;
    int fds[2];
    struct tjob job;
    bool fired;
};

static void tpoke_closed(uv_handle_t *h)
{
    struct tpoke *k = h->data;

    close(k->fds[0]);
    close(k->fds[1]);
    k->fds[0] = k->fds[1] = -1;
}

static void tpoke_cb(uv_poll_t *h, int status, int events)
{
    struct tpoke *k = h->data;
    uint64_t dl = uv_hrtime() + T_WAIT_NS;

    (void)status;
    (void)events;
    k->fired = true;
    uv_poll_stop(h);
    uv_close((uv_handle_t *)h, tpoke_closed);
    consensus_close(k->fx->c, close_cb, k->fx);
    /* The pool has one thread (main), so once this job has run, every
     * job raft_uv queued while closing has run and is due back. */
    k->job.work.data = &k->job;
    assert_int_equal(uv_queue_work(&k->fx->loop, &k->job.work, tjob_work,
                                   tjob_after), 0);
    while (!atomic_load(&k->job.ran))
        if (uv_hrtime() > dl)
            fail_msg("timed out waiting for the thread pool");
}

static void kick_cb(uv_async_t *a)
{
    (void)a;
}

static void close_in_poll_phase(struct fixture *fx)
{
    struct tpoke k;
    uv_async_t kick;
    char byte = 'x';

    memset(&k, 0, sizeof(k));
    k.fx = fx;
    assert_int_equal(pipe(k.fds), 0);
    assert_int_equal(uv_poll_init(&fx->loop, &k.poll, k.fds[0]), 0);
    k.poll.data = &k;
    assert_int_equal(uv_poll_start(&k.poll, UV_READABLE, tpoke_cb), 0);
    assert_int_equal(uv_async_init(&fx->loop, &kick, kick_cb), 0);
    /* The pipe is ready first, the loop's async fd second: one poll
     * (epoll lists them in that order once both are registered). */
    uv_run(&fx->loop, UV_RUN_NOWAIT);
    assert_int_equal(write(k.fds[1], &byte, 1), 1);
    assert_int_equal(uv_async_send(&kick), 0);
    RUN_UNTIL(fx, k.fired);
    uv_close((uv_handle_t *)&kick, NULL);
    RUN_UNTIL(fx, fx->closed && k.job.done && k.fds[0] == -1);
    fx->c = NULL;
}

static void test_close_in_poll_phase(void **state)
{
    struct fixture *fx = *state;
    const uint8_t *keys[2] = {t_key, NULL};
    struct err err;
    unsigned refired = consensus_crypt_refired();
    unsigned i;

    err_clear(&err);
    for (i = 0; i < 2 * T_CLOSE_ROUNDS; i++) {
        assert_int_equal(open_member(fx, keys[i % 2], 1000, &err), 0);
        propose_markers(fx, "MARKER-poll", i * 3, i * 3 + 3);
        close_in_poll_phase(fx);
        assert_int_equal(fsutil_empty_dir(fx->dir, &err), 0);
    }
    /* The shape that freed raft_uv's impl under it: it did happen here,
     * and raft heard of the close once. */
    assert_true(consensus_crypt_refired() > refired);
}

static void test_close_right_after_start(void **state)
{
    struct fixture *fx = *state;
    const uint8_t *keys[2] = {t_key, NULL};
    struct err err;
    unsigned i;

    err_clear(&err);
    for (i = 0; i < 2 * T_CLOSE_ROUNDS; i++) {
        assert_int_equal(open_member(fx, keys[i % 2], 1000, &err), 0);
        close_member(fx);
        assert_int_equal(open_member(fx, keys[i % 2], 1000, &err), 0);
        close_in_poll_phase(fx);
        assert_int_equal(fsutil_empty_dir(fx->dir, &err), 0);
    }
}

/* Proposals not waited for: leader appends (and, with threshold 4, a
 * snapshot) in flight when the member is closed. */
static void close_with_proposals(struct fixture *fx, bool in_poll_phase,
                                 unsigned round)
{
    struct tprop p[12];
    char text[64];
    struct err err;
    unsigned i;

    memset(p, 0, sizeof(p));
    for (i = 0; i < 12; i++) {
        snprintf(text, sizeof(text), "MARKER-flight-%u-%u", round, i);
        p[i].req.data = &p[i];
        err_clear(&err);
        if (consensus_propose(fx->c, &p[i].req, text, strlen(text), prop_cb,
                              &err) != 0)
            fail_msg("propose: %s", err.msg);
        /* A few loop turns between proposals, fewer every round, so the
         * close lands at different stages of the writes. */
        if (i % 4 == 3 && round % 3 != 0)
            uv_run(&fx->loop, UV_RUN_NOWAIT);
    }
    if (in_poll_phase) {
        close_in_poll_phase(fx);
    } else {
        close_member(fx);
    }
    /* Every proposer is told exactly once, committed or canceled. */
    for (i = 0; i < 12; i++)
        assert_int_equal(p[i].n_cb, 1);
}

/* The member closes itself while applying an entry, more proposed after. */
static void test_close_from_apply(void **state)
{
    struct fixture *fx = *state;
    const uint8_t *keys[2] = {t_key, NULL};
    struct tprop p[8];
    char text[64];
    struct err err;
    unsigned i;
    unsigned j;
    unsigned n;

    for (i = 0; i < 2 * T_CLOSE_ROUNDS; i++) {
        err_clear(&err);
        assert_int_equal(open_member(fx, keys[i % 2], 4, &err), 0);
        fx->fsm.c = fx->c;
        fx->fsm.close_data = fx;
        fx->fsm.close_on = "MARKER-bye-3";
        memset(p, 0, sizeof(p));
        for (n = 0; n < 8 && !fx->closed; n++) {
            snprintf(text, sizeof(text), "MARKER-bye-%u", n);
            p[n].req.data = &p[n];
            /* With loop turns in between, the close can come first. */
            if (consensus_propose(fx->c, &p[n].req, text, strlen(text),
                                  prop_cb, &err) != 0) {
                assert_true(n > 3);
                assert_int_equal(err.code, ERR_CANCELED);
                break;
            }
            if (n % 2 == 1 && i % 2 == 0)
                uv_run(&fx->loop, UV_RUN_NOWAIT);
        }
        RUN_UNTIL(fx, fx->closed);
        fx->c = NULL;
        for (j = 0; j < n; j++)
            assert_int_equal(p[j].n_cb, 1);
        assert_non_null(strstr(fx->fsm.text, "MARKER-bye-3;"));
        assert_int_equal(fsutil_empty_dir(fx->dir, &err), 0);
    }
}

static void test_close_with_appends_in_flight(void **state)
{
    struct fixture *fx = *state;
    const uint8_t *keys[2] = {t_key, NULL};
    struct err err;
    unsigned i;

    err_clear(&err);
    for (i = 0; i < 2 * T_CLOSE_ROUNDS; i++) {
        assert_int_equal(open_member(fx, keys[i % 2], 4, &err), 0);
        propose_markers(fx, "MARKER-warm", i * 2, i * 2 + 2);
        close_with_proposals(fx, (i / 2) % 2 == 0, i);
        /* What reached the disk reads back with the same key. */
        assert_int_equal(open_member(fx, keys[i % 2], 4, &err), 0);
        assert_non_null(strstr(fx->fsm.text, "MARKER-warm-"));
        close_member(fx);
        assert_int_equal(fsutil_empty_dir(fx->dir, &err), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_round_trip),
        cmocka_unit_test(test_codec_tampered_refused),
        cmocka_unit_test(test_codec_wrong_key_or_context),
        cmocka_unit_test(test_codec_clear_legacy),
        cmocka_unit_test_setup_teardown(test_io_nothing_clear_on_disk, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_io_wrong_key_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_io_wrong_key_snapshot_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_io_reads_clear_legacy_log, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_in_poll_phase, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_right_after_start, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_with_appends_in_flight,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_from_apply, setup,
                                        teardown),
    };

    /* One thread in libuv's pool (before its first use): the close tests
     * order raft_uv's jobs against their own. */
    setenv("UV_THREADPOOL_SIZE", "1", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

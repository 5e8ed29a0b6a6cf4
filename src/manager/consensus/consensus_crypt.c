/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Raft data at rest, encrypted with the manager's DEK: the record codec
 * (docs/internals/raft-encryption.md) and a struct raft_io wrapped around
 * raft_uv's that seals entry payloads in append and snapshot data in
 * snapshot_put, and opens them in load and snapshot_get. Messages to peers
 * go through untouched (each peer has its own DEK; the link is TLS).
 * Without a DEK it forwards everything and is there for its close
 * (consensus_crypt_close_tramp).
 */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <raft.h>

#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "manager/consensus/consensus_int.h"

#define CONSENSUS_CRYPT__NONCE 12
#define CONSENSUS_CRYPT__TAG 16
#define CONSENSUS_CRYPT__OVERHEAD \
    (CONSENSUS__ENTRY_HDR + CONSENSUS_CRYPT__NONCE + CONSENSUS_CRYPT__TAG)
/* Associated data tag of snapshot records (entry types are 1..3). */
#define CONSENSUS_CRYPT__AD_SNAPSHOT 0x100

struct consensus_crypt
{
    struct raft_io io;                 /* what raft is given */
    struct raft_io *inner;             /* borrowed: raft_uv's */
    uint8_t key[CONSENSUS_CRYPT_KEY_LEN];
    bool has_key;                      /* false: nothing sealed or opened */
    raft_io_tick_cb tick;
    raft_io_recv_cb recv;
    raft_io_close_cb close_cb;
    bool closing;                      /* close was called */
    bool closed;                       /* close_cb fired */
};

/* --- the record codec --------------------------------------------------- */

static void consensus_crypt_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void consensus_crypt_put64(uint8_t *p, uint64_t v)
{
    consensus_crypt_put32(p, (uint32_t)v);
    consensus_crypt_put32(p + 4, (uint32_t)(v >> 32));
}

static size_t consensus_crypt_get32(const uint8_t *p)
{
    return (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 |
           (size_t)p[3] << 24;
}

/* Associated data: the record header, then ad1 and ad2 little endian. */
static void consensus_crypt_ad(uint8_t ad[CONSENSUS__ENTRY_HDR + 16],
                               const uint8_t *hdr, uint64_t ad1, uint64_t ad2)
{
    memcpy(ad, hdr, CONSENSUS__ENTRY_HDR);
    consensus_crypt_put64(ad + CONSENSUS__ENTRY_HDR, ad1);
    consensus_crypt_put64(ad + CONSENSUS__ENTRY_HDR + 8, ad2);
}

size_t consensus_crypt_sealed_len(size_t len)
{
    return CONSENSUS__PAD8(CONSENSUS_CRYPT__OVERHEAD + len);
}

int consensus_crypt_seal(const uint8_t key[CONSENSUS_CRYPT_KEY_LEN],
                         uint64_t ad1, uint64_t ad2,
                         const struct consensus_crypt_iov *iov, size_t n_iov,
                         uint8_t *out, struct err *err)
{
    uint8_t ad[CONSENSUS__ENTRY_HDR + 16];
    uint8_t *nonce = out + CONSENSUS__ENTRY_HDR;
    uint8_t *tag = nonce + CONSENSUS_CRYPT__NONCE;
    uint8_t *ct = tag + CONSENSUS_CRYPT__TAG;
    EVP_CIPHER_CTX *ctx;
    size_t len = 0;
    size_t total;
    size_t i;
    int n;
    int rv = -ERR_INTERNAL;

    for (i = 0; i < n_iov; i++)
        len += iov[i].len;
    if (len > CONSENSUS__ENTRY_MAX - CONSENSUS_CRYPT__OVERHEAD)
        return err_set(err, ERR_TOOBIG, "raft: record of %zu bytes is too "
                                        "large to encrypt", len);
    total = consensus_crypt_sealed_len(len);
    memset(out, 0, total);
    out[0] = CONSENSUS_CRYPT_MAGIC;
    out[1] = CONSENSUS_CRYPT_AES256GCM;
    consensus_crypt_put32(out + 4, (uint32_t)len);
    if (RAND_bytes(nonce, CONSENSUS_CRYPT__NONCE) != 1)
        return err_set(err, ERR_INTERNAL, "raft: no random nonce");
    consensus_crypt_ad(ad, out, ad1, ad2);
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return err_set(err, ERR_INTERNAL, "raft: cipher context");
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN,
                            CONSENSUS_CRYPT__NONCE, NULL) != 1 ||
        EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &n, ad, (int)sizeof(ad)) != 1)
        goto out;
    for (i = 0; i < n_iov; i++) {
        const uint8_t *p = iov[i].base;
        size_t left = iov[i].len;

        /* EVP lengths are ints: feed large buffers in pieces. */
        while (left > 0) {
            int chunk = left > (1u << 30) ? 1 << 30 : (int)left;

            if (EVP_EncryptUpdate(ctx, ct, &n, p, chunk) != 1)
                goto out;
            ct += n;
            p += chunk;
            left -= (size_t)chunk;
        }
    }
    if (EVP_EncryptFinal_ex(ctx, ct, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CONSENSUS_CRYPT__TAG,
                            tag) != 1)
        goto out;
    rv = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    if (rv != 0)
        err_set(err, ERR_INTERNAL, "raft: encryption failed");
    return rv;
}

int consensus_crypt_open_len(const void *rec, size_t rec_len,
                             size_t *out_len, struct err *err)
{
    const uint8_t *p = rec;
    size_t len;

    if (rec_len == 0 || p[0] != CONSENSUS_CRYPT_MAGIC) {
        *out_len = rec_len; /* a clear record from before encryption */
        return 0;
    }
    if (rec_len < CONSENSUS_CRYPT__OVERHEAD ||
        p[1] != CONSENSUS_CRYPT_AES256GCM || p[2] != 0 || p[3] != 0)
        return err_set(err, ERR_IO, "raft: unknown encrypted record format");
    len = consensus_crypt_get32(p + 4);
    if (consensus_crypt_sealed_len(len) != rec_len)
        return err_set(err, ERR_IO, "raft: encrypted record of %zu bytes "
                                    "claims %zu bytes of data",
                       rec_len, len);
    *out_len = len;
    return 0;
}

int consensus_crypt_open(const uint8_t key[CONSENSUS_CRYPT_KEY_LEN],
                         uint64_t ad1, uint64_t ad2, const void *rec,
                         size_t rec_len, uint8_t *out, struct err *err)
{
    const uint8_t *p = rec;
    uint8_t ad[CONSENSUS__ENTRY_HDR + 16];
    uint8_t tag[CONSENSUS_CRYPT__TAG];
    const uint8_t *ct;
    EVP_CIPHER_CTX *ctx;
    size_t len;
    size_t i;
    int n;
    int ok = 0;

    if (consensus_crypt_open_len(rec, rec_len, &len, err) != 0)
        return -err->code;
    if (rec_len == 0 || p[0] != CONSENSUS_CRYPT_MAGIC) {
        if (rec_len > 0)
            memcpy(out, rec, rec_len);
        return 0;
    }
    /* The padding is not authenticated, so insist that it is zero. */
    for (i = CONSENSUS_CRYPT__OVERHEAD + len; i < rec_len; i++)
        if (p[i] != 0)
            return err_set(err, ERR_IO, "raft: encrypted record has "
                                        "garbage after its data");
    memcpy(tag, p + CONSENSUS__ENTRY_HDR + CONSENSUS_CRYPT__NONCE,
           sizeof(tag));
    ct = p + CONSENSUS_CRYPT__OVERHEAD;
    consensus_crypt_ad(ad, p, ad1, ad2);
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return err_set(err, ERR_INTERNAL, "raft: cipher context");
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN,
                            CONSENSUS_CRYPT__NONCE, NULL) != 1 ||
        EVP_DecryptInit_ex(ctx, NULL, NULL, key,
                           p + CONSENSUS__ENTRY_HDR) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &n, ad, (int)sizeof(ad)) != 1)
        goto out;
    for (i = 0; i < len;) {
        int chunk = len - i > (1u << 30) ? 1 << 30 : (int)(len - i);

        if (EVP_DecryptUpdate(ctx, out + i, &n, ct + i, chunk) != 1)
            goto out;
        i += (size_t)chunk;
    }
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CONSENSUS_CRYPT__TAG,
                            tag) != 1 ||
        EVP_DecryptFinal_ex(ctx, out + len, &n) != 1)
        goto out;
    ok = 1;
out:
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        if (len > 0)
            memset(out, 0, len);
        return err_set(err, ERR_IO, "raft: a record cannot be decrypted "
                                    "(wrong key or corrupt data)");
    }
    return 0;
}

/* --- the raft_io wrapper ------------------------------------------------ */

static struct consensus_crypt *consensus_crypt_of(struct raft_io *io)
{
    return io->impl;
}

static void consensus_crypt_set_errmsg(struct raft_io *io, const char *msg)
{
    size_t n = strlen(msg);

    /* Cut to raft's buffer, on purpose. */
    if (n >= sizeof(io->errmsg))
        n = sizeof(io->errmsg) - 1;
    memcpy(io->errmsg, msg, n);
    io->errmsg[n] = '\0';
}

static void consensus_crypt_errmsg(struct consensus_crypt *k)
{
    memcpy(k->io.errmsg, k->inner->errmsg, sizeof(k->io.errmsg));
}

static int consensus_crypt_init_io(struct raft_io *io, raft_id id,
                                   const char *address)
{
    struct consensus_crypt *k = consensus_crypt_of(io);
    int rv = k->inner->init(k->inner, id, address);

    consensus_crypt_errmsg(k);
    return rv;
}

/*
 * raft_uv 0.15 fires its close callback once its own queues are empty, but
 * the writer of the segment it finalized last may still be closing: its
 * handles' close callbacks call uvMaybeFireCloseCb again, which fires the
 * callback a second time (when the finalization's after-work callback ran
 * first, in the same loop turn). So raft is told once, here, and the owner
 * keeps raft_uv's impl and this wrapper until two closing phases later
 * (consensus.c); the late calls then land on live memory and are dropped.
 */
static unsigned consensus_crypt_n_refired;

static void consensus_crypt_close_tramp(struct raft_io *inner)
{
    struct consensus_crypt *k = inner->data;

    if (k->closed) {
        consensus_crypt_n_refired++;
        log_debug(LOG_RAFT, "raft_uv fired its close callback again");
        return;
    }
    k->closed = true;
    if (k->close_cb != NULL)
        k->close_cb(&k->io);
}

unsigned consensus_crypt_refired(void)
{
    return consensus_crypt_n_refired;
}

static void consensus_crypt_close(struct raft_io *io, raft_io_close_cb cb)
{
    struct consensus_crypt *k = consensus_crypt_of(io);

    /* raft closes its io once (raft_close asserts as much). */
    assert(!k->closing);
    k->closing = true;
    k->close_cb = cb;
    k->inner->close(k->inner, consensus_crypt_close_tramp);
}

/* Free what raft_uv's load handed over (entries share batches). */
static void consensus_crypt_free_entries(struct raft_entry *entries, size_t n)
{
    void *batch = NULL;
    size_t i;

    for (i = 0; i < n; i++) {
        if (entries[i].batch == NULL) {
            raft_free(entries[i].buf.base);
        } else if (entries[i].batch != batch) {
            batch = entries[i].batch;
            raft_free(batch);
        }
    }
    raft_free(entries);
}

static void consensus_crypt_free_snapshot(struct raft_snapshot *s)
{
    unsigned i;

    if (s == NULL)
        return;
    raft_configuration_close(&s->configuration);
    for (i = 0; i < s->n_bufs; i++)
        raft_free(s->bufs[i].base);
    raft_free(s->bufs);
    raft_free(s);
}

/* Replace a snapshot's data by its clear form; on failure it is kept. */
static int consensus_crypt_open_snapshot(struct consensus_crypt *k,
                                         struct raft_snapshot *s,
                                         struct err *err)
{
    struct raft_buffer *b;
    size_t len;
    void *clear;

    if (s->n_bufs != 1)
        return err_set(err, ERR_IO, "raft: snapshot in %u buffers",
                       s->n_bufs);
    b = &s->bufs[0];
    if (consensus_crypt_open_len(b->base, b->len, &len, err) != 0)
        return -err->code;
    clear = raft_malloc(len ? len : 1);
    if (clear == NULL)
        return err_set(err, ERR_INTERNAL, "raft: out of memory");
    if (consensus_crypt_open(k->key, s->index, CONSENSUS_CRYPT__AD_SNAPSHOT,
                             b->base, b->len, clear, err) != 0) {
        raft_free(clear);
        return err_wrap(err, "snapshot %llu", (unsigned long long)s->index);
    }
    raft_free(b->base);
    b->base = clear;
    b->len = len;
    return 0;
}

/* Open every entry into one new batch (raft frees loaded entries per
 * batch and asserts that each has one). */
static int consensus_crypt_open_entries(struct consensus_crypt *k,
                                        struct raft_entry *entries, size_t n,
                                        struct err *err)
{
    size_t *lens = xcalloc(n, sizeof(*lens));
    size_t total = 0;
    size_t i;
    uint8_t *batch = NULL;
    uint8_t *cur;
    void *old = NULL;
    int rv;

    for (i = 0; i < n; i++) {
        rv = consensus_crypt_open_len(entries[i].buf.base, entries[i].buf.len,
                                      &lens[i], err);
        if (rv != 0)
            goto out;
        total += lens[i];
    }
    batch = raft_malloc(total ? total : 1);
    if (batch == NULL) {
        rv = err_set(err, ERR_INTERNAL, "raft: out of memory");
        goto out;
    }
    cur = batch;
    for (i = 0; i < n; i++) {
        rv = consensus_crypt_open(k->key, entries[i].term, entries[i].type,
                                  entries[i].buf.base, entries[i].buf.len,
                                  cur, err);
        if (rv != 0) {
            raft_free(batch);
            err_wrap(err, "log entry %zu of %zu loaded", i + 1, n);
            goto out;
        }
        cur += lens[i];
    }
    /* Free the old batches (raft_uv's) only once nothing reads them. */
    for (i = 0; i < n; i++) {
        if (entries[i].batch == NULL) {
            raft_free(entries[i].buf.base);
        } else if (entries[i].batch != old) {
            old = entries[i].batch;
            raft_free(old);
        }
    }
    cur = batch;
    for (i = 0; i < n; i++) {
        entries[i].buf.base = cur;
        entries[i].buf.len = lens[i];
        entries[i].batch = batch;
        cur += lens[i];
    }
    rv = 0;
out:
    free(lens);
    return rv;
}

static int consensus_crypt_load(struct raft_io *io, raft_term *term,
                                raft_id *voted_for,
                                struct raft_snapshot **snapshot,
                                raft_index *start_index,
                                struct raft_entry *entries[],
                                size_t *n_entries)
{
    struct consensus_crypt *k = consensus_crypt_of(io);
    struct err err;
    int rv;

    rv = k->inner->load(k->inner, term, voted_for, snapshot, start_index,
                        entries, n_entries);
    consensus_crypt_errmsg(k);
    if (rv != 0 || !k->has_key)
        return rv;
    err_clear(&err);
    if (*snapshot != NULL &&
        consensus_crypt_open_snapshot(k, *snapshot, &err) != 0)
        goto fail;
    if (*n_entries > 0 &&
        consensus_crypt_open_entries(k, *entries, *n_entries, &err) != 0)
        goto fail;
    return 0;

fail:
    log_error(LOG_RAFT, "%s", err.msg);
    consensus_crypt_set_errmsg(io, err.msg);
    consensus_crypt_free_snapshot(*snapshot);
    *snapshot = NULL;
    if (*n_entries > 0)
        consensus_crypt_free_entries(*entries, *n_entries);
    *entries = NULL;
    *n_entries = 0;
    return RAFT_CORRUPT;
}

static void consensus_crypt_tick_tramp(struct raft_io *inner)
{
    struct consensus_crypt *k = inner->data;

    k->tick(&k->io);
}

static void consensus_crypt_recv_tramp(struct raft_io *inner,
                                       struct raft_message *msg)
{
    struct consensus_crypt *k = inner->data;

    k->recv(&k->io, msg);
}

static int consensus_crypt_start(struct raft_io *io, unsigned msecs,
                                 raft_io_tick_cb tick, raft_io_recv_cb recv)
{
    struct consensus_crypt *k = consensus_crypt_of(io);
    int rv;

    k->tick = tick;
    k->recv = recv;
    rv = k->inner->start(k->inner, msecs, consensus_crypt_tick_tramp,
                         consensus_crypt_recv_tramp);
    consensus_crypt_errmsg(k);
    return rv;
}

static int consensus_crypt_bootstrap(struct raft_io *io,
                                     const struct raft_configuration *conf)
{
    struct consensus_crypt *k = consensus_crypt_of(io);
    int rv = k->inner->bootstrap(k->inner, conf);

    consensus_crypt_errmsg(k);
    return rv;
}

static int consensus_crypt_recover(struct raft_io *io,
                                   const struct raft_configuration *conf)
{
    struct consensus_crypt *k = consensus_crypt_of(io);
    int rv = k->inner->recover(k->inner, conf);

    consensus_crypt_errmsg(k);
    return rv;
}

static int consensus_crypt_set_term(struct raft_io *io, raft_term term)
{
    struct consensus_crypt *k = consensus_crypt_of(io);
    int rv = k->inner->set_term(k->inner, term);

    consensus_crypt_errmsg(k);
    return rv;
}

static int consensus_crypt_set_vote(struct raft_io *io, raft_id server_id)
{
    struct consensus_crypt *k = consensus_crypt_of(io);
    int rv = k->inner->set_vote(k->inner, server_id);

    consensus_crypt_errmsg(k);
    return rv;
}

static int consensus_crypt_send(struct raft_io *io, struct raft_io_send *req,
                                const struct raft_message *message,
                                raft_io_send_cb cb)
{
    struct consensus_crypt *k = consensus_crypt_of(io);

    return k->inner->send(k->inner, req, message, cb);
}

/* One append in flight: the sealed copies raft_uv reads until its cb. */
struct consensus_crypt_append
{
    struct raft_io_append req;        /* given to raft_uv */
    struct raft_io_append *orig;      /* raft's, borrowed */
    raft_io_append_cb cb;
    struct raft_entry *entries;       /* owned */
    uint8_t *batch;                   /* owned: every sealed payload */
};

static void consensus_crypt_append_free(struct consensus_crypt_append *a)
{
    free(a->batch);
    free(a->entries);
    free(a);
}

static void consensus_crypt_append_cb(struct raft_io_append *req, int status)
{
    struct consensus_crypt_append *a = req->data;
    struct raft_io_append *orig = a->orig;
    raft_io_append_cb cb = a->cb;

    consensus_crypt_append_free(a);
    cb(orig, status);
}

static int consensus_crypt_append(struct raft_io *io,
                                  struct raft_io_append *req,
                                  const struct raft_entry entries[],
                                  unsigned n, raft_io_append_cb cb)
{
    struct consensus_crypt *k = consensus_crypt_of(io);
    struct consensus_crypt_append *a;
    struct consensus_crypt_iov iov;
    struct err err;
    size_t total = 0;
    uint8_t *cur;
    unsigned i;
    int rv;

    if (!k->has_key) {
        rv = k->inner->append(k->inner, req, entries, n, cb);
        consensus_crypt_errmsg(k);
        return rv;
    }
    for (i = 0; i < n; i++)
        total += consensus_crypt_sealed_len(entries[i].buf.len);
    a = xcalloc(1, sizeof(*a));
    a->orig = req;
    a->cb = cb;
    a->req.data = a;
    a->entries = xcalloc(n ? n : 1, sizeof(*a->entries));
    a->batch = xmalloc(total ? total : 1);
    cur = a->batch;
    err_clear(&err);
    for (i = 0; i < n; i++) {
        iov.base = entries[i].buf.base;
        iov.len = entries[i].buf.len;
        if (consensus_crypt_seal(k->key, entries[i].term, entries[i].type,
                                 &iov, 1, cur, &err) != 0) {
            consensus_crypt_set_errmsg(io, err.msg);
            consensus_crypt_append_free(a);
            return err.code == ERR_TOOBIG ? RAFT_TOOBIG : RAFT_IOERR;
        }
        a->entries[i].term = entries[i].term;
        a->entries[i].type = entries[i].type;
        a->entries[i].buf.base = cur;
        a->entries[i].buf.len = consensus_crypt_sealed_len(entries[i].buf.len);
        a->entries[i].batch = a->batch;
        cur += a->entries[i].buf.len;
    }
    req->cb = cb;
    rv = k->inner->append(k->inner, &a->req, a->entries, n,
                          consensus_crypt_append_cb);
    consensus_crypt_errmsg(k);
    if (rv != 0)
        consensus_crypt_append_free(a);
    return rv;
}

static int consensus_crypt_truncate(struct raft_io *io, raft_index index)
{
    struct consensus_crypt *k = consensus_crypt_of(io);
    int rv = k->inner->truncate(k->inner, index);

    consensus_crypt_errmsg(k);
    return rv;
}

/* One snapshot_put in flight: raft_uv writes the sealed copy in its
 * thread pool; raft keeps (and may restore from) its clear original. */
struct consensus_crypt_put
{
    struct raft_io_snapshot_put req;  /* given to raft_uv */
    struct raft_io_snapshot_put *orig;
    raft_io_snapshot_put_cb cb;
    struct raft_snapshot sealed;      /* shallow copy, bufs -> buf */
    struct raft_buffer buf;           /* owned base */
};

static void consensus_crypt_put_cb(struct raft_io_snapshot_put *req,
                                   int status)
{
    struct consensus_crypt_put *p = req->data;
    struct raft_io_snapshot_put *orig = p->orig;
    raft_io_snapshot_put_cb cb = p->cb;

    free(p->buf.base);
    free(p);
    cb(orig, status);
}

static int consensus_crypt_snapshot_put(struct raft_io *io, unsigned trailing,
                                        struct raft_io_snapshot_put *req,
                                        const struct raft_snapshot *snapshot,
                                        raft_io_snapshot_put_cb cb)
{
    struct consensus_crypt *k = consensus_crypt_of(io);
    struct consensus_crypt_put *p;
    struct consensus_crypt_iov *iov;
    struct err err;
    size_t len = 0;
    unsigned i;
    int rv;

    if (!k->has_key) {
        rv = k->inner->snapshot_put(k->inner, trailing, req, snapshot, cb);
        consensus_crypt_errmsg(k);
        return rv;
    }
    iov = xcalloc(snapshot->n_bufs ? snapshot->n_bufs : 1, sizeof(*iov));
    for (i = 0; i < snapshot->n_bufs; i++) {
        iov[i].base = snapshot->bufs[i].base;
        iov[i].len = snapshot->bufs[i].len;
        len += iov[i].len;
    }
    p = xcalloc(1, sizeof(*p));
    p->orig = req;
    p->cb = cb;
    p->req.data = p;
    p->sealed = *snapshot;
    p->buf.len = consensus_crypt_sealed_len(len);
    p->buf.base = xmalloc(p->buf.len);
    p->sealed.bufs = &p->buf;
    p->sealed.n_bufs = 1;
    err_clear(&err);
    rv = consensus_crypt_seal(k->key, snapshot->index,
                              CONSENSUS_CRYPT__AD_SNAPSHOT, iov,
                              snapshot->n_bufs, p->buf.base, &err);
    free(iov);
    if (rv != 0) {
        consensus_crypt_set_errmsg(io, err.msg);
        free(p->buf.base);
        free(p);
        return err.code == ERR_TOOBIG ? RAFT_TOOBIG : RAFT_IOERR;
    }
    req->cb = cb;
    rv = k->inner->snapshot_put(k->inner, trailing, &p->req, &p->sealed,
                                consensus_crypt_put_cb);
    consensus_crypt_errmsg(k);
    if (rv != 0) {
        free(p->buf.base);
        free(p);
    }
    return rv;
}

struct consensus_crypt_get
{
    struct raft_io_snapshot_get req;  /* given to raft_uv */
    struct raft_io_snapshot_get *orig;
    raft_io_snapshot_get_cb cb;
    struct consensus_crypt *k;
};

static void consensus_crypt_get_cb(struct raft_io_snapshot_get *req,
                                   struct raft_snapshot *snapshot, int status)
{
    struct consensus_crypt_get *g = req->data;
    struct raft_io_snapshot_get *orig = g->orig;
    raft_io_snapshot_get_cb cb = g->cb;
    struct err err;

    err_clear(&err);
    if (status == 0 && snapshot != NULL &&
        consensus_crypt_open_snapshot(g->k, snapshot, &err) != 0) {
        log_error(LOG_RAFT, "%s", err.msg);
        consensus_crypt_free_snapshot(snapshot);
        snapshot = NULL;
        status = RAFT_CORRUPT;
    }
    free(g);
    cb(orig, snapshot, status);
}

static int consensus_crypt_snapshot_get(struct raft_io *io,
                                        struct raft_io_snapshot_get *req,
                                        raft_io_snapshot_get_cb cb)
{
    struct consensus_crypt *k = consensus_crypt_of(io);
    struct consensus_crypt_get *g;
    int rv;

    if (!k->has_key) {
        rv = k->inner->snapshot_get(k->inner, req, cb);
        consensus_crypt_errmsg(k);
        return rv;
    }
    g = xcalloc(1, sizeof(*g));
    g->req.data = g;
    g->orig = req;
    g->cb = cb;
    g->k = k;
    req->cb = cb;
    rv = k->inner->snapshot_get(k->inner, &g->req, consensus_crypt_get_cb);
    consensus_crypt_errmsg(k);
    if (rv != 0)
        free(g);
    return rv;
}

static raft_time consensus_crypt_time(struct raft_io *io)
{
    struct consensus_crypt *k = consensus_crypt_of(io);

    return k->inner->time(k->inner);
}

static int consensus_crypt_random(struct raft_io *io, int min, int max)
{
    struct consensus_crypt *k = consensus_crypt_of(io);

    return k->inner->random(k->inner, min, max);
}

static int consensus_crypt_async_work(struct raft_io *io,
                                      struct raft_io_async_work *req,
                                      raft_io_async_work_cb cb)
{
    struct consensus_crypt *k = consensus_crypt_of(io);

    return k->inner->async_work(k->inner, req, cb);
}

struct consensus_crypt *consensus_crypt_new(
    struct raft_io *inner, const uint8_t key[CONSENSUS_CRYPT_KEY_LEN])
{
    struct consensus_crypt *k = xcalloc(1, sizeof(*k));

    k->inner = inner;
    inner->data = k;
    if (key != NULL) {
        memcpy(k->key, key, sizeof(k->key));
        k->has_key = true;
    }
    k->io.version = inner->version;
    k->io.impl = k;
    k->io.init = consensus_crypt_init_io;
    k->io.close = consensus_crypt_close;
    k->io.load = consensus_crypt_load;
    k->io.start = consensus_crypt_start;
    k->io.bootstrap = consensus_crypt_bootstrap;
    k->io.recover = consensus_crypt_recover;
    k->io.set_term = consensus_crypt_set_term;
    k->io.set_vote = consensus_crypt_set_vote;
    k->io.send = consensus_crypt_send;
    k->io.append = consensus_crypt_append;
    k->io.truncate = consensus_crypt_truncate;
    k->io.snapshot_put = consensus_crypt_snapshot_put;
    k->io.snapshot_get = consensus_crypt_snapshot_get;
    k->io.time = consensus_crypt_time;
    k->io.random = consensus_crypt_random;
    k->io.async_work =
        inner->version >= 2 && inner->async_work ? consensus_crypt_async_work
                                                 : NULL;
    return k;
}

struct raft_io *consensus_crypt_io(struct consensus_crypt *k)
{
    return &k->io;
}

void consensus_crypt_free(struct consensus_crypt *k)
{
    if (k == NULL)
        return;
    OPENSSL_cleanse(k->key, sizeof(k->key));
    free(k);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The RPC frame decoder (base/rpc_frame.c): the input is the byte stream a
 * peer sends on the cluster port. It is decoded whole and again in pieces
 * of fuzzer-chosen sizes; both must give the same frames and the same
 * verdict, and every frame must encode back to one that decodes equal. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/err.h"
#include "base/rpc.h"
#include "fuzz_util.h"

#define FUZZ_MAX_FRAMES 64
#define FUZZ_FRAME_CAP (64u * 1024) /* payload cap, like a small peer */

struct result
{
    size_t n;
    struct rpc_frame f[FUZZ_MAX_FRAMES];
    int status;            /* last non-AGAIN result; AGAIN if none */
    int code;              /* err.code when status < 0 */
};

static void result_release(struct result *r)
{
    size_t i;

    for (i = 0; i < r->n; i++)
        json_decref(r->f[i].payload);
}

/* Feed data in pieces (all at once when split is NULL). */
static void decode(const uint8_t *data, size_t size, struct fuzz_split *split,
                   struct result *r)
{
    struct rpc_frame_dec dec;
    struct err err;
    size_t off = 0;

    memset(r, 0, sizeof(*r));
    r->status = RPC_FRAME_AGAIN;
    rpc_frame_dec_init(&dec, FUZZ_FRAME_CAP);
    while (off < size && r->n < FUZZ_MAX_FRAMES) {
        size_t piece = split ? fuzz_split_next(split, size - off)
                             : size - off;
        size_t used = 0;
        int rv;

        /* Within one piece the decoder may stop after each frame. */
        while (piece > 0 && r->n < FUZZ_MAX_FRAMES) {
            struct rpc_frame f;

            err_clear(&err);
            memset(&f, 0, sizeof(f));
            rv = rpc_frame_feed(&dec, (const char *)data + off, piece,
                                &used, &f, &err);
            if (used > piece)
                abort();
            off += used;
            piece -= used;
            if (rv < 0) {
                r->status = rv;
                r->code = err.code;
                if (err.msg[0] == '\0')
                    abort(); /* every failure says why */
                /* A failed decoder stays failed. */
                err_clear(&err);
                if (rpc_frame_feed(&dec, "x", 1, &used, &f, &err) >= 0)
                    abort();
                goto out;
            }
            if (rv == RPC_FRAME_OK) {
                if (f.call_id == 0 ||
                    (f.type != RPC_FRAME_CANCEL && !json_is_object(f.payload)))
                    abort();
                r->f[r->n++] = f;
            } else if (used == 0 && piece > 0) {
                abort(); /* AGAIN without progress would spin */
            }
        }
    }
out:
    rpc_frame_dec_release(&dec);
}

static void check_roundtrip(const struct rpc_frame *f)
{
    struct rpc_frame_dec dec;
    struct rpc_frame g;
    struct err err;
    char *buf = NULL;
    size_t len = 0;
    size_t used = 0;

    err_clear(&err);
    if (rpc_frame_encode(f->type, f->flags, f->call_id, f->payload, &buf,
                         &len, &err) != 0)
        abort();
    rpc_frame_dec_init(&dec, 0);
    memset(&g, 0, sizeof(g));
    if (rpc_frame_feed(&dec, buf, len, &used, &g, &err) != RPC_FRAME_OK ||
        used != len || g.type != f->type || g.flags != f->flags ||
        g.call_id != f->call_id ||
        (f->payload != NULL && !json_equal(g.payload, f->payload)) ||
        (f->payload == NULL && g.payload != NULL))
        abort();
    json_decref(g.payload);
    rpc_frame_dec_release(&dec);
    free(buf);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct result whole;
    struct result parts;
    struct fuzz_split split;
    size_t i;

    if (size < 1)
        return 0;
    fuzz_split_init(&split, data[0]);
    decode(data + 1, size - 1, NULL, &whole);
    decode(data + 1, size - 1, &split, &parts);
    if (whole.n != parts.n || whole.status != parts.status ||
        whole.code != parts.code)
        abort();
    for (i = 0; i < whole.n; i++) {
        const struct rpc_frame *a = &whole.f[i];
        const struct rpc_frame *b = &parts.f[i];

        if (a->type != b->type || a->flags != b->flags ||
            a->call_id != b->call_id ||
            (a->payload != b->payload && !json_equal(a->payload, b->payload)))
            abort();
        check_roundtrip(a);
    }
    result_release(&whole);
    result_release(&parts);
    return 0;
}

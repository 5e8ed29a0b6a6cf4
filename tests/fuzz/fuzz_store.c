/* SPDX-License-Identifier: Apache-2.0 */
/* Store entries (manager/store/store.c): a replicated Raft entry or an
 * installed snapshot comes from a peer manager, so store_apply and
 * store_restore take arbitrary bytes. The input is up to 16 payloads
 * separated by 0xff bytes (never part of UTF-8 JSON); with bit 0 of the
 * first byte set the first payload is restored as a snapshot. Checks:
 * apply is all or nothing, and snapshot -> restore -> snapshot is stable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/err.h"
#include "manager/store/store.h"
#include "fuzz_util.h"

#define FUZZ_MAX_ENTRIES 16

/* The objects part of a snapshot (the index advances even on failure). */
static json_t *objects_of(const struct store *s)
{
    size_t len;
    char *text = store_snapshot(s, &len);
    json_t *snap = json_loadb(text, len, 0, NULL);
    json_t *objs;

    free(text);
    if (snap == NULL)
        abort();
    objs = json_incref(json_object_get(snap, "objects"));
    json_decref(snap);
    if (objs == NULL)
        abort();
    return objs;
}

/* Reads every object the way the API and the managers do. */
static void walk(const struct store *s)
{
    const char *id;
    json_t *obj;
    int k;

    for (k = 0; k < STORE__KINDS; k++) {
        json_object_foreach(store_all(s, (enum store_kind)k), id, obj) {
            const char *oid = store_obj_id(obj);

            /* Every object is an object filed under its own ID. */
            if (store_get(s, (enum store_kind)k, id) != obj ||
                !json_is_object(obj) || oid == NULL || strcmp(oid, id) != 0)
                abort();
            (void)store_obj_version(obj);
            (void)store_obj_id(obj);
        }
    }
    (void)store_cluster(s);
}

static void check_snapshot_stable(const struct store *s)
{
    struct store *t = store_new();
    struct err err;
    size_t a_len;
    size_t b_len;
    char *a = store_snapshot(s, &a_len);
    char *b;

    err_clear(&err);
    if (store_restore(t, a, a_len, &err) != 0)
        abort();
    b = store_snapshot(t, &b_len);
    if (a_len != b_len || memcmp(a, b, a_len) != 0)
        abort();
    free(a);
    free(b);
    store_free(t);
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
    struct store *s;
    struct err err;
    bool restore;
    size_t off = 1;
    uint64_t index = 1;
    int n = 0;

    if (size < 1)
        return 0;
    restore = data[0] & 1;
    s = store_new();
    while (off <= size && n < FUZZ_MAX_ENTRIES) {
        const uint8_t *sep = memchr(data + off, 0xff, size - off);
        size_t len = sep ? (size_t)(sep - (data + off)) : size - off;
        json_t *before = objects_of(s);
        int rv;

        err_clear(&err);
        if (n == 0 && restore)
            rv = store_restore(s, data + off, len, &err);
        else
            rv = store_apply(s, index++, data + off, len, &err);
        if (rv != 0) {
            json_t *after = objects_of(s);

            if (err.msg[0] == '\0' || !json_equal(before, after))
                abort(); /* a failure says why and changes nothing */
            json_decref(after);
        }
        json_decref(before);
        walk(s);
        n++;
        off += len + 1;
    }
    check_snapshot_stable(s);
    store_free(s);
    return 0;
}

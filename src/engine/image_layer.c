/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layers: made once per chain ID on the thread pool (unpacked under
 * <data-root>/overlay2/<cache-id>/diff, recorded under
 * layerdb/sha256/<chain-id>/ by one directory rename, the commit point),
 * and collected on the loop once no image uses them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/log.h"
#include "base/mem.h"
#include "engine/image_int.h"

void image_paths_copy(struct image_paths *p, const struct image_store *s)
{
    p->dir = xstrdup(s->dir);
    p->layers_dir = xstrdup(s->layers_dir);
}

void image_paths_release(struct image_paths *p)
{
    free(p->dir);
    free(p->layers_dir);
    p->dir = NULL;
    p->layers_dir = NULL;
}

/* Read a layer's record from layerdb/sha256/<hex>: a new object or NULL. */
static json_t *image_layer_read(const char *ldir, const char *chain,
                                const char *diff)
{
    char *path;
    char *cache = NULL;
    char *size = NULL;
    size_t len;
    json_t *rec = NULL;

    path = xasprintf("%s/cache-id", ldir);
    if (fsutil_read_all(path, 128, &cache, &len, NULL) != 0)
        goto out;
    free(path);
    path = xasprintf("%s/size", ldir);
    if (fsutil_read_all(path, 64, &size, &len, NULL) != 0)
        goto out;
    rec = json_pack("{s:s, s:s, s:s, s:I}", "chain", chain, "diff", diff,
                    "cache", cache, "size", (json_int_t)atoll(size));
out:
    free(path);
    free(cache);
    free(size);
    return rec;
}

static int image_layer_write(const char *dir, const char *name,
                             const char *text, struct err *err)
{
    char *path = xasprintf("%s/%s", dir, name);
    int rv = fsutil_write_atomic(path, text, strlen(text), 0644, err);

    free(path);
    return rv;
}

/* Record the unpacked layer in stage (a new directory) then commit it as
 * ldir by rename. 1 if another job committed the same chain first. */
static int image_layer_commit(const char *stage, const char *ldir,
                              const char *tar, json_t *rec,
                              const char *parent, struct err *err)
{
    char size[32];
    char *tarpath;
    int rv;

    if (mkdir(stage, 0700) == -1)
        return err_sys(err, ERR_IO, errno, "mkdir %s", stage);
    snprintf(size, sizeof(size), "%lld",
             (long long)json_integer_value(json_object_get(rec, "size")));
    rv = image_layer_write(stage, "diff",
                           json_string_value(json_object_get(rec, "diff")),
                           err);
    if (rv == 0)
        rv = image_layer_write(stage, "size", size, err);
    if (rv == 0)
        rv = image_layer_write(
            stage, "cache-id",
            json_string_value(json_object_get(rec, "cache")), err);
    if (rv == 0 && parent != NULL)
        rv = image_layer_write(stage, "parent", parent, err);
    if (rv != 0)
        return rv;
    /* Docker keeps tar-split metadata to rebuild the exact tar; shoal
     * keeps the tar itself, so save reproduces the diff ID byte for
     * byte. */
    tarpath = xasprintf("%s/layer.tar", stage);
    if (rename(tar, tarpath) == -1) {
        rv = err_sys(err, ERR_IO, errno, "rename %s", tar);
        free(tarpath);
        return rv;
    }
    free(tarpath);
    if (rename(stage, ldir) == -1) {
        if (errno == EEXIST || errno == ENOTEMPTY)
            return 1;
        return err_sys(err, ERR_IO, errno, "rename %s", stage);
    }
    return 0;
}

int image_layer_make(const struct image_paths *p, int src,
                     const char *parent, const char *want_diff,
                     json_t **out, struct err *err)
{
    char rnd[65];
    char cache[65];
    char diff[IMAGE_DIGEST_LEN];
    char chain[IMAGE_DIGEST_LEN];
    char *tar;
    char *stage = NULL;
    char *ldir = NULL;
    char *cdir = NULL;
    char *ddir = NULL;
    json_t *rec = NULL;
    struct err ign;
    int64_t size = 0;
    int rv;

    *out = NULL;
    image_random_hex(rnd);
    tar = xasprintf("%s/tmp/%s.tar", p->dir, rnd);
    rv = image_archive_decompress(src, tar, diff, err);
    if (rv != 0) {
        free(tar);
        return rv;
    }
    if (want_diff != NULL && strcmp(want_diff, diff) != 0) {
        rv = err_set(err, ERR_INVALID,
                     "invalid archive: layer content has digest %s, the "
                     "image config expects %s", diff, want_diff);
        goto out;
    }
    image_digest_chain(parent, diff, chain);
    ldir = xasprintf("%s/layerdb/sha256/%s", p->dir, chain + 7);
    rec = image_layer_read(ldir, chain, diff);
    if (rec != NULL)
        goto out;
    image_random_hex(cache);
    cdir = xasprintf("%s/%s", p->layers_dir, cache);
    ddir = xasprintf("%s/diff", cdir);
    if (mkdir(cdir, 0700) == -1 || mkdir(ddir, 0755) == -1) {
        rv = err_sys(err, ERR_IO, errno, "mkdir %s", ddir);
        goto out;
    }
    rv = image_archive_unpack(tar, ddir, &size, err);
    if (rv != 0)
        goto out;
    rec = json_pack("{s:s, s:s, s:s, s:I}", "chain", chain, "diff", diff,
                    "cache", cache, "size", (json_int_t)size);
    stage = xasprintf("%s/tmp/%s.layer", p->dir, rnd);
    rv = image_layer_commit(stage, ldir, tar, rec, parent, err);
    if (rv == 1) {
        /* Made meanwhile by another job: use that one. */
        json_decref(rec);
        rec = image_layer_read(ldir, chain, diff);
        rv = rec ? 0 : err_set(err, ERR_IO, "layer %s vanished", chain);
        image_rmtree(stage, &ign);
        image_rmtree(cdir, &ign);
    } else if (rv != 0) {
        image_rmtree(stage, &ign);
    }
out:
    if (rv != 0) {
        json_decref(rec);
        rec = NULL;
        if (cdir != NULL)
            image_rmtree(cdir, &ign);
    }
    unlink(tar);
    free(tar);
    free(stage);
    free(ldir);
    free(cdir);
    free(ddir);
    *out = rec;
    return rv;
}

void image_layer_collect(struct image_store *s, json_t *deleted)
{
    json_t *used = json_object();
    const char *id;
    const char *chain;
    json_t *img;
    json_t *rec;
    json_t *gone = json_array();
    size_t i;
    json_t *c;
    void *tmp;

    if (s->busy > 0) {
        json_decref(used);
        json_decref(gone);
        return;
    }
    json_object_foreach(s->images, id, img) {
        json_array_foreach(json_object_get(img, "chains"), i, c) {
            json_object_set_new(used, json_string_value(c), json_true());
        }
    }
    json_object_foreach_safe(s->layers, tmp, chain, rec) {
        char rnd[65];
        char *ldir;
        char *trash;
        char *cdir;
        struct err err;

        if (json_object_get(used, chain) != NULL)
            continue;
        image_random_hex(rnd);
        ldir = xasprintf("%s/layerdb/sha256/%s", s->dir, chain + 7);
        trash = xasprintf("%s/tmp/%s.gone", s->dir, rnd);
        cdir = xasprintf("%s/%s", s->layers_dir,
                         json_string_value(json_object_get(rec, "cache")));
        /* The rename is the commit point; the rest is garbage either way
         * (swept at the next open). */
        if (rename(ldir, trash) == 0) {
            err_clear(&err);
            if (image_rmtree(cdir, &err) != 0 ||
                image_rmtree(trash, &err) != 0)
                log_warn(LOG_MAIN, "remove layer %s: %s", chain, err.msg);
            if (deleted != NULL)
                json_array_append_new(deleted, json_string(chain));
            json_array_append_new(gone, json_string(chain));
        } else {
            log_warn(LOG_MAIN, "remove layer %s: %s", chain,
                     strerror(errno));
        }
        free(ldir);
        free(trash);
        free(cdir);
    }
    json_array_foreach(gone, i, c) {
        json_object_del(s->layers, json_string_value(c));
    }
    json_decref(gone);
    json_decref(used);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * docker load: a docker-save archive (manifest.json) or an OCI layout
 * (index.json). The archive is unpacked in a private stage on the thread
 * pool, every digest it names is checked, layers are made, and only then
 * does the loop record the images and their tags.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/mem.h"
#include "engine/image_int.h"

#define IMAGE_LOAD_MAX_IMAGES 256
#define IMAGE_LOAD_MAX_LAYERS 256

struct image_load
{
    uv_work_t work;
    struct image_store *s;
    struct image_paths paths; /* owned copies for the thread pool */
    char *src;                /* owned */
    char *stage;              /* owned: where the archive is unpacked */
    json_t *images;           /* owned: [{"raw", "layers": [rec], "tags"}] */
    json_t *made;             /* owned: every layer made or reused, even
                                 when the load fails (collected then) */
    struct err err;
    int rv;
    image_done_cb cb;
    void *data;
};

/* Read a file of the stage (never outside it), at most max bytes. */
static int image_load_read(const char *stage, const char *path, size_t max,
                           char **out, size_t *len, struct err *err)
{
    struct buf b;
    char chunk[8192];
    int fd = image_archive_open_in(stage, path, O_RDONLY);
    int rv = 0;

    *out = NULL;
    if (fd == -1)
        return err_set(err, ERR_INVALID,
                       "invalid archive: %s is missing", path);
    buf_init(&b, max);
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1) {
            rv = err_sys(err, ERR_IO, errno, "read %s", path);
            break;
        }
        if (n == 0)
            break;
        if (buf_append(&b, chunk, (size_t)n) != 0) {
            rv = err_set(err, ERR_INVALID,
                         "invalid archive: %s is larger than %zu bytes",
                         path, max);
            break;
        }
    }
    close(fd);
    if (rv != 0) {
        buf_release(&b);
        return rv;
    }
    *out = buf_detach(&b, len);
    return 0;
}

static json_t *image_load_json(const char *stage, const char *path,
                               size_t max, struct err *err)
{
    char *raw;
    size_t len;
    json_error_t jerr;
    json_t *v;

    if (image_load_read(stage, path, max, &raw, &len, err) != 0)
        return NULL;
    v = json_loadb(raw, len, 0, &jerr);
    free(raw);
    if (v == NULL)
        err_set(err, ERR_INVALID, "invalid archive: %s: %s", path,
                jerr.text);
    return v;
}

/* The digest a path names ("blobs/sha256/<hex>" or "<hex>.json"), or
 * false. */
static bool image_load_named(const char *path, char out[IMAGE_DIGEST_LEN])
{
    const char *base = strrchr(path, '/');
    size_t n;

    base = base ? base + 1 : path;
    n = strlen(base);
    if (n == 69 && strcmp(base + 64, ".json") == 0)
        snprintf(out, IMAGE_DIGEST_LEN, "sha256:%.64s", base);
    else if (n == 64 && strstr(path, "sha256/") != NULL)
        snprintf(out, IMAGE_DIGEST_LEN, "sha256:%s", base);
    else
        return false;
    return image_digest_valid(out);
}

static char *image_load_blob(const char *digest)
{
    if (!image_digest_valid(digest))
        return NULL;
    return xasprintf("blobs/sha256/%s", digest + 7);
}

/* One image: config at cpath, layer files lpaths (strings), tags. */
static int image_load_one(struct image_load *job, const char *cpath,
                          const json_t *lpaths, json_t *tags, json_t *out,
                          struct err *err)
{
    char named[IMAGE_DIGEST_LEN];
    char got[IMAGE_DIGEST_LEN];
    const char *parent = NULL;
    json_t *config = NULL;
    json_t *diffs;
    json_t *layers;
    char *raw = NULL;
    size_t len;
    size_t i;
    json_t *lp;
    int rv;

    if (cpath == NULL || !json_is_array(lpaths))
        return err_set(err, ERR_INVALID, "invalid archive: bad manifest");
    layers = json_array();
    rv = image_load_read(job->stage, cpath, IMAGE_CONFIG_MAX, &raw, &len,
                         err);
    if (rv != 0)
        goto out;
    image_digest_buf(raw, len, got);
    if (image_load_named(cpath, named) && strcmp(named, got) != 0) {
        rv = err_set(err, ERR_INVALID, "invalid archive: config %s has "
                                       "digest %s", cpath, got);
        goto out;
    }
    config = json_loadb(raw, len, 0, NULL);
    diffs = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
    if (!json_is_array(diffs) ||
        json_array_size(diffs) != json_array_size(lpaths) ||
        json_array_size(diffs) == 0 ||
        json_array_size(diffs) > IMAGE_LOAD_MAX_LAYERS) {
        rv = err_set(err, ERR_INVALID, "invalid archive: config %s does "
                                       "not match the manifest's layers",
                     cpath);
        goto out;
    }
    json_array_foreach(lpaths, i, lp) {
        const char *path = json_string_value(lp);
        const char *want = json_string_value(json_array_get(diffs, i));
        json_t *rec = NULL;
        int fd;

        if (path == NULL || !image_digest_valid(want)) {
            rv = err_set(err, ERR_INVALID, "invalid archive: bad layer "
                                           "entry");
            goto out;
        }
        fd = image_archive_open_in(job->stage, path, O_RDONLY);
        if (fd == -1) {
            rv = err_set(err, ERR_INVALID, "invalid archive: layer %s is "
                                           "missing", path);
            goto out;
        }
        if (image_load_named(path, named)) {
            rv = image_digest_fd(fd, got, err);
            if (rv == 0 && strcmp(named, got) != 0)
                rv = err_set(err, ERR_INVALID, "invalid archive: layer %s "
                                               "has digest %s", path, got);
        }
        if (rv == 0)
            rv = image_layer_make(&job->paths, fd, parent, want, &rec, err);
        close(fd);
        if (rv != 0)
            goto out;
        json_array_append(job->made, rec);
        json_array_append_new(layers, rec);
        parent = json_string_value(json_object_get(rec, "chain"));
    }
    json_array_append_new(out, json_pack("{s:s%, s:O, s:O}", "raw", raw, len,
                                         "layers", layers, "tags", tags));
out:
    json_decref(config);
    json_decref(layers);
    free(raw);
    return rv;
}

/* docker save's manifest.json. */
static int image_load_docker(struct image_load *job, const json_t *manifest,
                             struct err *err)
{
    size_t i;
    json_t *m;

    if (!json_is_array(manifest) ||
        json_array_size(manifest) > IMAGE_LOAD_MAX_IMAGES)
        return err_set(err, ERR_INVALID, "invalid archive: manifest.json "
                                         "is not a list of images");
    json_array_foreach(manifest, i, m) {
        json_t *tags = json_object_get(m, "RepoTags");
        json_t *t = json_is_array(tags) ? json_incref(tags) : json_array();
        int rv = image_load_one(
            job, json_string_value(json_object_get(m, "Config")),
            json_object_get(m, "Layers"), t, job->images, err);

        json_decref(t);
        if (rv != 0)
            return rv;
    }
    return 0;
}

/* The manifest blob of an OCI descriptor (an index is followed to its
 * first manifest for this platform, else its first). */
static json_t *image_load_oci_manifest(struct image_load *job,
                                       const json_t *desc, int depth,
                                       struct err *err)
{
    const char *digest = json_string_value(json_object_get(desc, "digest"));
    char *path = image_load_blob(digest);
    char *raw = NULL;
    char got[IMAGE_DIGEST_LEN];
    json_t *doc = NULL;
    json_t *list;
    size_t len;

    if (path == NULL || depth > 2) {
        err_set(err, ERR_INVALID, "invalid archive: bad descriptor in "
                                  "index.json");
        goto out;
    }
    if (image_load_read(job->stage, path, IMAGE_JSON_MAX, &raw, &len, err) !=
        0)
        goto out;
    image_digest_buf(raw, len, got);
    if (strcmp(got, digest) != 0) {
        err_set(err, ERR_INVALID, "invalid archive: %s has digest %s", path,
                got);
        goto out;
    }
    doc = json_loadb(raw, len, 0, NULL);
    list = json_object_get(doc, "manifests");
    if (json_is_array(list)) {
        const json_t *pick = json_array_get(list, 0);
        size_t i;
        json_t *d;
        json_t *inner;

        json_array_foreach(list, i, d) {
            json_t *pf = json_object_get(d, "platform");
            const char *os = json_string_value(json_object_get(pf, "os"));
            const char *arch = json_string_value(json_object_get(
                pf, "architecture"));

            if (os && arch && strcmp(os, "linux") == 0 &&
                strcmp(arch, "amd64") == 0) {
                pick = d;
                break;
            }
        }
        inner = pick ? image_load_oci_manifest(job, pick, depth + 1, err)
                     : NULL;
        if (pick == NULL)
            err_set(err, ERR_INVALID, "invalid archive: empty index %s",
                    path);
        json_decref(doc);
        doc = inner;
    } else if (!json_is_object(json_object_get(doc, "config"))) {
        json_decref(doc);
        doc = NULL;
        err_set(err, ERR_INVALID, "invalid archive: %s is not an image "
                                  "manifest", path);
    }
out:
    free(path);
    free(raw);
    return doc;
}

static int image_load_oci(struct image_load *job, const json_t *index,
                          struct err *err)
{
    json_t *list = json_object_get(index, "manifests");
    size_t i;
    json_t *desc;

    if (!json_is_array(list) || json_array_size(list) == 0 ||
        json_array_size(list) > IMAGE_LOAD_MAX_IMAGES)
        return err_set(err, ERR_INVALID, "invalid archive: index.json has "
                                         "no manifests");
    json_array_foreach(list, i, desc) {
        json_t *ann = json_object_get(desc, "annotations");
        const char *name = json_string_value(
            json_object_get(ann, "io.containerd.image.name"));
        json_t *man = image_load_oci_manifest(job, desc, 0, err);
        json_t *tags = json_array();
        json_t *lpaths = json_array();
        char *cpath;
        size_t j;
        json_t *l;
        int rv;

        if (man == NULL) {
            json_decref(tags);
            json_decref(lpaths);
            return -err->code;
        }
        if (name != NULL)
            json_array_append_new(tags, json_string(name));
        cpath = image_load_blob(json_string_value(
            json_object_get(json_object_get(man, "config"), "digest")));
        json_array_foreach(json_object_get(man, "layers"), j, l) {
            char *p = image_load_blob(
                json_string_value(json_object_get(l, "digest")));

            json_array_append_new(lpaths, p ? json_string(p) : json_null());
            free(p);
        }
        rv = image_load_one(job, cpath, lpaths, tags, job->images, err);
        free(cpath);
        json_decref(man);
        json_decref(tags);
        json_decref(lpaths);
        if (rv != 0)
            return rv;
    }
    return 0;
}

static void image_load_work(uv_work_t *w)
{
    struct image_load *job = w->data;
    struct err ign;
    json_t *doc;

    if (mkdir(job->stage, 0700) == -1) {
        job->rv = err_sys(&job->err, ERR_IO, errno, "mkdir %s", job->stage);
        return;
    }
    job->rv = image_archive_unpack_outer(job->src, job->stage, &job->err);
    if (job->rv != 0)
        goto out;
    doc = image_load_json(job->stage, "manifest.json", IMAGE_JSON_MAX,
                          &job->err);
    if (doc != NULL) {
        job->rv = image_load_docker(job, doc, &job->err);
        json_decref(doc);
        goto out;
    }
    if (strstr(job->err.msg, "is missing") == NULL) {
        job->rv = -job->err.code;
        goto out;
    }
    err_clear(&job->err);
    doc = image_load_json(job->stage, "index.json", IMAGE_JSON_MAX,
                          &job->err);
    if (doc == NULL) {
        if (strstr(job->err.msg, "is missing") != NULL)
            err_set(&job->err, ERR_INVALID, "invalid archive: neither "
                                            "manifest.json nor index.json "
                                            "found");
        job->rv = -job->err.code;
        goto out;
    }
    job->rv = image_load_oci(job, doc, &job->err);
    json_decref(doc);
out:
    image_rmtree(job->stage, &ign);
    image_archive_thread_done();
}

static void image_load_free(struct image_load *job)
{
    image_paths_release(&job->paths);
    free(job->src);
    free(job->stage);
    json_decref(job->images);
    json_decref(job->made);
    free(job);
}

/* Record one loaded image; appends the lines Docker prints to msgs. */
static int image_load_commit(struct image_store *s, const json_t *img,
                             json_t *msgs, struct err *err)
{
    const char *raw = json_string_value(json_object_get(img, "raw"));
    size_t len = json_string_length(json_object_get(img, "raw"));
    char id[IMAGE_DIGEST_LEN];
    size_t i;
    json_t *v;
    int rv;

    json_array_foreach(json_object_get(img, "layers"), i, v) {
        json_object_set(s->layers,
                        json_string_value(json_object_get(v, "chain")), v);
    }
    image_digest_buf(raw, len, id);
    rv = image_store_add(s, raw, len, err);
    if (rv != 0)
        return rv;
    if (json_array_size(json_object_get(img, "tags")) == 0) {
        json_array_append_new(msgs,
                              json_sprintf("Loaded image ID: %s", id));
        return 0;
    }
    json_array_foreach(json_object_get(img, "tags"), i, v) {
        char *repo;
        char *tag;
        char *old;
        char *key;

        if (!json_is_string(v) ||
            image_ref_parse(json_string_value(v), &repo, &tag, NULL) != 0)
            continue;
        rv = image_store_set_tag(s, repo, tag, id, &old, err);
        key = image_ref_join(repo, tag);
        if (rv == 0 && old != NULL)
            json_array_append_new(
                msgs, json_sprintf("The image %s already exists, renaming "
                                   "the old one with ID %s to empty string",
                                   key, old));
        if (rv == 0)
            json_array_append_new(msgs,
                                  json_sprintf("Loaded image: %s", key));
        free(key);
        free(old);
        free(repo);
        free(tag);
        if (rv != 0)
            return rv;
    }
    return 0;
}

static void image_load_done(uv_work_t *w, int status)
{
    struct image_load *job = w->data;
    struct image_store *s = job->s;
    json_t *msgs = json_array();
    size_t i;
    json_t *img;

    s->busy--;
    if (status == UV_ECANCELED && job->rv == 0)
        job->rv = err_set(&job->err, ERR_CANCELED, "load canceled");
    /* Known to the index, so the collection below removes those no image
     * ends up using. */
    json_array_foreach(job->made, i, img) {
        json_object_set(s->layers,
                        json_string_value(json_object_get(img, "chain")),
                        img);
    }
    if (job->rv == 0) {
        json_array_foreach(job->images, i, img) {
            job->rv = image_load_commit(s, img, msgs, &job->err);
            if (job->rv != 0)
                break;
        }
    }
    if (job->rv != 0)
        job->cb(job->data, job->rv, &job->err, NULL);
    else
        job->cb(job->data, 0, NULL, msgs);
    json_decref(msgs);
    image_layer_collect(s, NULL);
    image_load_free(job);
}

int image_store_load(struct image_store *s, const char *tar_path,
                     image_done_cb cb, void *data, struct err *err)
{
    struct image_load *job = xcalloc(1, sizeof(*job));
    char rnd[65];
    int rv;

    job->s = s;
    image_paths_copy(&job->paths, s);
    job->src = xstrdup(tar_path);
    image_random_hex(rnd);
    job->stage = xasprintf("%s/tmp/%s.load", s->dir, rnd);
    job->images = json_array();
    job->made = json_array();
    job->cb = cb;
    job->data = data;
    job->work.data = job;
    rv = uv_queue_work(s->loop, &job->work, image_load_work,
                       image_load_done);
    if (rv != 0) {
        image_load_free(job);
        return err_set(err, ERR_INTERNAL, "queue load: %s", uv_strerror(rv));
    }
    s->busy++;
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * docker save: the archive Docker 25+ writes, an OCI layout (blobs/,
 * index.json, oci-layout) that is also a docker-save archive
 * (manifest.json, repositories, and <id>.json and <layer>/layer.tar as
 * symlinks into blobs/ for older readers). Written on the thread pool.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "base/mem.h"
#include "engine/image_int.h"

#define IMAGE_SAVE_BLOCK (1 << 16)

struct image_save
{
    uv_work_t work;
    struct image_store *s;
    char *out_path;   /* owned */
    json_t *images;   /* owned: [{"id", "config" (path), "tags",
                         "layers": [{"diff", "tar" (path)}]}] */
    struct err err;
    int rv;
    image_done_cb cb;
    void *data;
};

static int image_save_header(struct archive *a, const char *name,
                             mode_t type, int64_t size, const char *link,
                             struct err *err)
{
    struct archive_entry *e = archive_entry_new();
    int rv = 0;

    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
    archive_entry_set_size(e, type == AE_IFREG ? size : 0);
    archive_entry_set_mtime(e, 0, 0);
    if (link != NULL)
        archive_entry_set_symlink(e, link);
    if (archive_write_header(a, e) != ARCHIVE_OK)
        rv = err_set(err, ERR_IO, "write archive: %s",
                     archive_error_string(a));
    archive_entry_free(e);
    return rv;
}

static int image_save_bytes(struct archive *a, const char *name,
                            const char *data, size_t len, struct err *err)
{
    int rv = image_save_header(a, name, AE_IFREG, (int64_t)len, NULL, err);

    if (rv == 0 && len > 0 && archive_write_data(a, data, len) !=
                                  (la_ssize_t)len)
        rv = err_set(err, ERR_IO, "write archive: %s",
                     archive_error_string(a));
    return rv;
}

static int image_save_file(struct archive *a, const char *name,
                           const char *path, struct err *err)
{
    struct stat st;
    char *chunk;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rv;

    if (fd == -1)
        return err_sys(err, ERR_IO, errno, "open %s", path);
    if (fstat(fd, &st) == -1) {
        rv = err_sys(err, ERR_IO, errno, "stat %s", path);
        close(fd);
        return rv;
    }
    rv = image_save_header(a, name, AE_IFREG, st.st_size, NULL, err);
    chunk = xmalloc(IMAGE_SAVE_BLOCK);
    while (rv == 0) {
        ssize_t n = read(fd, chunk, IMAGE_SAVE_BLOCK);

        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            rv = err_sys(err, ERR_IO, errno, "read %s", path);
        if (n <= 0)
            break;
        if (archive_write_data(a, chunk, (size_t)n) != n)
            rv = err_set(err, ERR_IO, "write archive: %s",
                         archive_error_string(a));
    }
    free(chunk);
    close(fd);
    return rv;
}

/* Write a JSON document as a blob; its descriptor into *desc. */
static int image_save_json_blob(struct archive *a, json_t *doc,
                                const char *media, json_t *seen,
                                json_t **desc, struct err *err)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    size_t len = strlen(text);
    char digest[IMAGE_DIGEST_LEN];
    char *name;
    int rv = 0;

    image_digest_buf(text, len, digest);
    name = xasprintf("blobs/sha256/%s", digest + 7);
    if (json_object_get(seen, name) == NULL) {
        rv = image_save_bytes(a, name, text, len, err);
        json_object_set_new(seen, name, json_true());
    }
    *desc = json_pack("{s:s, s:s, s:I}", "mediaType", media, "digest",
                      digest, "size", (json_int_t)len);
    free(name);
    free(text);
    return rv;
}

static int image_save_image(struct archive *a, const json_t *img,
                            json_t *seen, json_t *manifest, json_t *index,
                            json_t *repos, struct err *err)
{
    const char *id = json_string_value(json_object_get(img, "id"));
    json_t *layers = json_array();
    json_t *lnames = json_array();
    json_t *oci = NULL;
    json_t *desc = NULL;
    char *cname = xasprintf("blobs/sha256/%s", id + 7);
    char *legacy = xasprintf("%s.json", id + 7);
    struct stat st;
    size_t i;
    json_t *l;
    json_t *t;
    int rv = 0;

    if (json_object_get(seen, cname) == NULL) {
        rv = image_save_file(a, cname,
                             json_string_value(json_object_get(img,
                                                               "config")),
                             err);
        if (rv == 0)
            rv = image_save_header(a, legacy, AE_IFLNK, 0, cname, err);
        json_object_set_new(seen, cname, json_true());
    }
    json_array_foreach(json_object_get(img, "layers"), i, l) {
        const char *diff = json_string_value(json_object_get(l, "diff"));
        const char *tar = json_string_value(json_object_get(l, "tar"));
        char *lname = xasprintf("blobs/sha256/%s", diff + 7);

        if (rv == 0 && json_object_get(seen, lname) == NULL) {
            char *dir = xstrdup(diff + 7);
            char *lt = xasprintf("%s/layer.tar", diff + 7);
            char *target = xasprintf("../%s", lname);

            rv = image_save_file(a, lname, tar, err);
            if (rv == 0)
                rv = image_save_header(a, dir, AE_IFDIR, 0, NULL, err);
            if (rv == 0)
                rv = image_save_header(a, lt, AE_IFLNK, 0, target, err);
            json_object_set_new(seen, lname, json_true());
            free(dir);
            free(lt);
            free(target);
        }
        st.st_size = 0;
        stat(tar, &st);
        json_array_append_new(
            layers, json_pack("{s:s, s:s, s:I}", "mediaType",
                              "application/vnd.oci.image.layer.v1.tar",
                              "digest", diff, "size",
                              (json_int_t)st.st_size));
        json_array_append_new(lnames, json_string(lname));
        free(lname);
    }
    if (rv != 0)
        goto out;
    st.st_size = 0;
    stat(json_string_value(json_object_get(img, "config")), &st);
    oci = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:O}", "schemaVersion", 2,
                    "mediaType", "application/vnd.oci.image.manifest.v1+json",
                    "config", "mediaType",
                    "application/vnd.oci.image.config.v1+json", "digest", id,
                    "size", (json_int_t)st.st_size, "layers", layers);
    rv = image_save_json_blob(a, oci,
                              "application/vnd.oci.image.manifest.v1+json",
                              seen, &desc, err);
    if (rv != 0)
        goto out;
    json_array_append_new(manifest,
                          json_pack("{s:s, s:O, s:O}", "Config", cname,
                                    "RepoTags", json_object_get(img, "tags"),
                                    "Layers", lnames));
    if (json_array_size(json_object_get(img, "tags")) == 0)
        json_array_append(index, desc);
    json_array_foreach(json_object_get(img, "tags"), i, t) {
        const char *key = json_string_value(t);
        const char *colon = strrchr(key, ':');
        char *repo = xstrndup(key, (size_t)(colon - key));
        json_t *d = json_deep_copy(desc);
        char *full = strchr(repo, '/') == NULL
                         ? xasprintf("docker.io/library/%s", key)
                         : (strchr(repo, '.') || strchr(repo, ':') ||
                            strncmp(repo, "localhost/", 10) == 0)
                               ? xstrdup(key)
                               : xasprintf("docker.io/%s", key);
        json_t *r = json_object_get(repos, repo);

        json_object_set_new(d, "annotations",
                            json_pack("{s:s, s:s}",
                                      "io.containerd.image.name", full,
                                      "org.opencontainers.image.ref.name",
                                      colon + 1));
        json_array_append_new(index, d);
        if (r == NULL) {
            r = json_object();
            json_object_set_new(repos, repo, r);
        }
        json_object_set_new(r, colon + 1, json_string(id + 7));
        free(full);
        free(repo);
    }
out:
    json_decref(oci);
    json_decref(desc);
    json_decref(layers);
    json_decref(lnames);
    free(cname);
    free(legacy);
    return rv;
}

static int image_save_doc(struct archive *a, const char *name, json_t *doc,
                          struct err *err)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    int rv = image_save_bytes(a, name, text, strlen(text), err);

    free(text);
    return rv;
}

static void image_save_work(uv_work_t *w)
{
    struct image_save *job = w->data;
    struct archive *a = archive_write_new();
    json_t *seen = json_object();
    json_t *manifest = json_array();
    json_t *index = json_array();
    json_t *repos = json_object();
    json_t *doc;
    size_t i;
    json_t *img;
    int rv = 0;

    archive_write_set_format_pax_restricted(a);
    if (archive_write_open_filename(a, job->out_path) != ARCHIVE_OK) {
        rv = err_set(&job->err, ERR_IO, "create %s: %s", job->out_path,
                     archive_error_string(a));
        goto out;
    }
    rv = image_save_header(a, "blobs", AE_IFDIR, 0, NULL, &job->err);
    if (rv == 0)
        rv = image_save_header(a, "blobs/sha256", AE_IFDIR, 0, NULL,
                               &job->err);
    json_array_foreach(job->images, i, img) {
        if (rv == 0)
            rv = image_save_image(a, img, seen, manifest, index, repos,
                                  &job->err);
    }
    doc = json_pack("{s:i, s:s, s:O}", "schemaVersion", 2, "mediaType",
                    "application/vnd.oci.image.index.v1+json", "manifests",
                    index);
    if (rv == 0)
        rv = image_save_doc(a, "index.json", doc, &job->err);
    json_decref(doc);
    if (rv == 0)
        rv = image_save_doc(a, "manifest.json", manifest, &job->err);
    doc = json_pack("{s:s}", "imageLayoutVersion", "1.0.0");
    if (rv == 0)
        rv = image_save_doc(a, "oci-layout", doc, &job->err);
    json_decref(doc);
    if (rv == 0 && json_object_size(repos) > 0)
        rv = image_save_doc(a, "repositories", repos, &job->err);
    if (rv == 0 && archive_write_close(a) != ARCHIVE_OK)
        rv = err_set(&job->err, ERR_IO, "write archive: %s",
                     archive_error_string(a));
out:
    archive_write_free(a);
    if (rv != 0)
        unlink(job->out_path);
    job->rv = rv;
    json_decref(seen);
    json_decref(manifest);
    json_decref(index);
    json_decref(repos);
    image_archive_thread_done();
}

static void image_save_done(uv_work_t *w, int status)
{
    struct image_save *job = w->data;

    job->s->busy--;
    if (status == UV_ECANCELED && job->rv == 0)
        job->rv = err_set(&job->err, ERR_CANCELED, "save canceled");
    job->cb(job->data, job->rv, job->rv ? &job->err : NULL, NULL);
    image_layer_collect(job->s, NULL);
    free(job->out_path);
    json_decref(job->images);
    free(job);
}

/* What the worker needs of image id, with the tags ref selects. */
static json_t *image_save_describe(struct image_store *s, const char *id,
                                   const char *ref)
{
    const json_t *img = json_object_get(s->images, id);
    json_t *layers = json_array();
    json_t *tags;
    json_t *diffs = json_object_get(json_object_get(json_object_get(
                                        img, "config"), "rootfs"),
                                    "diff_ids");
    size_t i;
    json_t *c;
    char *repo;
    char *tag;

    json_array_foreach(json_object_get(img, "chains"), i, c) {
        char *tar = xasprintf("%s/layerdb/sha256/%s/layer.tar", s->dir,
                              json_string_value(c) + 7);

        json_array_append_new(layers,
                              json_pack("{s:O, s:s}", "diff",
                                        json_array_get(diffs, i), "tar",
                                        tar));
        free(tar);
    }
    /* Docker: a name saves that tag; an ID saves the image untagged. */
    tags = json_array();
    if (strncmp(ref, "sha256:", 7) != 0 &&
        image_ref_parse(ref, &repo, &tag, NULL) == 0) {
        char *key = image_ref_join(repo, tag);
        json_t *all = image_store_tags_of(s, id);
        json_t *t;

        json_array_foreach(all, i, t) {
            if (strcmp(json_string_value(t), key) == 0)
                json_array_append(tags, t);
        }
        json_decref(all);
        free(key);
        free(repo);
        free(tag);
    }
    {
        char *config = xasprintf("%s/imagedb/content/sha256/%s", s->dir,
                                 id + 7);
        json_t *out = json_pack("{s:s, s:s, s:o, s:o}", "id", id, "config",
                                config, "tags", tags, "layers", layers);

        free(config);
        return out;
    }
}

int image_store_save(struct image_store *s, const char *const *refs,
                     const char *out_path, image_done_cb cb, void *data,
                     struct err *err)
{
    struct image_save *job;
    json_t *images = json_array();
    json_t *byid = json_object();
    size_t i;
    int rv;

    for (i = 0; refs[i] != NULL; i++) {
        const char *id = image_store_find(s, refs[i], err);
        json_t *d;

        if (id == NULL) {
            json_decref(images);
            json_decref(byid);
            return -ERR_NOTFOUND;
        }
        d = image_save_describe(s, id, refs[i]);
        if (json_object_get(byid, id) != NULL) {
            /* Same image twice: one entry with both tags. */
            json_array_extend(json_object_get(json_object_get(byid, id),
                                              "tags"),
                              json_object_get(d, "tags"));
            json_decref(d);
            continue;
        }
        json_object_set(byid, id, d);
        json_array_append_new(images, d);
    }
    json_decref(byid);
    if (json_array_size(images) == 0) {
        json_decref(images);
        return err_set(err, ERR_INVALID, "no images to save");
    }
    job = xcalloc(1, sizeof(*job));
    job->s = s;
    job->out_path = xstrdup(out_path);
    job->images = images;
    job->cb = cb;
    job->data = data;
    job->work.data = job;
    rv = uv_queue_work(s->loop, &job->work, image_save_work,
                       image_save_done);
    if (rv != 0) {
        free(job->out_path);
        json_decref(job->images);
        free(job);
        return err_set(err, ERR_INTERNAL, "queue save: %s", uv_strerror(rv));
    }
    s->busy++;
    return 0;
}

char *image_store_tmp_path(struct image_store *s, const char *suffix)
{
    char rnd[65];

    image_random_hex(rnd);
    return xasprintf("%s/tmp/%s%s", s->dir, rnd, suffix ? suffix : "");
}

/* SPDX-License-Identifier: Apache-2.0 */
/* docker import: a rootfs tarball becomes a one-layer image. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/mem.h"
#include "engine/image_int.h"
#include "version.h"

#if defined(__x86_64__)
#define IMAGE_ARCH "amd64"
#elif defined(__aarch64__)
#define IMAGE_ARCH "arm64"
#else
#define IMAGE_ARCH "unknown"
#endif

struct image_import
{
    uv_work_t work;
    struct image_store *s;
    struct image_paths paths; /* owned copies for the thread pool */
    char *src;                /* owned */
    json_t *cfg;              /* owned: container config with changes */
    char *comment;            /* owned */
    char *repo;               /* owned or NULL */
    char *tag;                /* owned or NULL */
    json_t *layer;            /* owned: result of the work */
    struct err err;
    int rv;
    image_done_cb cb;
    void *data;
};

static void image_import_work(uv_work_t *w)
{
    struct image_import *job = w->data;
    int fd = open(job->src, O_RDONLY | O_CLOEXEC);

    if (fd == -1) {
        job->rv = err_sys(&job->err, ERR_IO, errno, "open %s", job->src);
        return;
    }
    job->rv = image_layer_make(&job->paths, fd, NULL, NULL, &job->layer,
                               &job->err);
    close(fd);
    image_archive_thread_done();
}

static void image_import_free(struct image_import *job)
{
    image_paths_release(&job->paths);
    free(job->src);
    json_decref(job->cfg);
    free(job->comment);
    free(job->repo);
    free(job->tag);
    json_decref(job->layer);
    free(job);
}

/* The image config document, as Docker writes an imported image's. */
static char *image_import_config(struct image_import *job, size_t *len)
{
    char now[40];
    json_t *doc;
    char *raw;

    image_time_now(now);
    doc = json_pack(
        "{s:s, s:s, s:O, s:s, s:s, s:[{s:s, s:s}], s:s, s:{s:s, s:[O]}}",
        "architecture", IMAGE_ARCH, "comment", job->comment, "config",
        job->cfg, "created", now, "docker_version", SHOAL_VERSION,
        "history", "created", now, "comment", job->comment, "os", "linux",
        "rootfs", "type", "layers", "diff_ids",
        json_object_get(job->layer, "diff"));
    raw = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    *len = strlen(raw);
    return raw;
}

static void image_import_done(uv_work_t *w, int status)
{
    struct image_import *job = w->data;
    struct image_store *s = job->s;
    char id[IMAGE_DIGEST_LEN];
    json_t *result;
    size_t len;
    char *raw;

    s->busy--;
    if (status == UV_ECANCELED && job->rv == 0)
        job->rv = err_set(&job->err, ERR_CANCELED, "import canceled");
    if (job->rv != 0) {
        job->cb(job->data, job->rv, &job->err, NULL);
        goto out;
    }
    json_object_set(s->layers,
                    json_string_value(json_object_get(job->layer, "chain")),
                    job->layer);
    raw = image_import_config(job, &len);
    image_digest_buf(raw, len, id);
    job->rv = image_store_add(s, raw, len, &job->err);
    free(raw);
    if (job->rv == 0 && job->repo != NULL)
        job->rv = image_store_set_tag(s, job->repo, job->tag, id, NULL,
                                      &job->err);
    if (job->rv != 0) {
        job->cb(job->data, job->rv, &job->err, NULL);
        goto out;
    }
    result = json_string(id);
    job->cb(job->data, 0, NULL, result);
    json_decref(result);
out:
    image_layer_collect(s, NULL);
    image_import_free(job);
}

int image_store_import(struct image_store *s, const char *tar_path,
                       const char *repo_tag, const json_t *changes,
                       const char *message, image_done_cb cb, void *data,
                       struct err *err)
{
    struct image_import *job = xcalloc(1, sizeof(*job));
    int rv;

    job->cfg = json_object();
    if (changes != NULL &&
        (rv = image_changes_apply(job->cfg, changes, err)) != 0)
        goto fail;
    if (repo_tag != NULL && repo_tag[0] != '\0' &&
        (rv = image_ref_parse(repo_tag, &job->repo, &job->tag, err)) != 0)
        goto fail;
    job->s = s;
    image_paths_copy(&job->paths, s);
    job->src = xstrdup(tar_path);
    /* Docker: the message, else "Imported from <source>". */
    job->comment = xstrdup(message != NULL && message[0] != '\0'
                               ? message : "Imported from -");
    job->cb = cb;
    job->data = data;
    job->work.data = job;
    rv = uv_queue_work(s->loop, &job->work, image_import_work,
                       image_import_done);
    if (rv != 0) {
        rv = err_set(err, ERR_INTERNAL, "queue import: %s", uv_strerror(rv));
        goto fail;
    }
    s->busy++;
    return 0;
fail:
    image_import_free(job);
    return rv;
}

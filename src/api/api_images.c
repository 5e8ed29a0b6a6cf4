/* SPDX-License-Identifier: Apache-2.0 */
/* /images: import, load, save, list, inspect, tag, remove. */
#include <ctype.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_int.h"
#include "base/mem.h"
#include "engine/engine.h"
#include "engine/image_store.h"

#define API_IMAGES_CHUNK (256 * 1024)

static struct image_store *api_images_store(struct api_req *req)
{
    struct image_store *s = req->engine ? engine_images(req->engine) : NULL;

    if (s == NULL)
        api_reply_error(req, ERR_UNAVAILABLE,
                        "this daemon has no local image store");
    return s;
}

static int api_images_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* Every value of a repeated query parameter (changes=, names=), decoded:
 * a new array of strings. */
static json_t *api_images_query_all(const struct api_req *req,
                                    const char *name)
{
    json_t *out = json_array();
    const char *p = req->query;
    size_t nlen = strlen(name);

    while (p != NULL && *p != '\0') {
        size_t seg = strcspn(p, "&");
        const char *eq = memchr(p, '=', seg);

        if (eq != NULL && (size_t)(eq - p) == nlen &&
            strncmp(p, name, nlen) == 0) {
            const char *v = eq + 1;
            size_t vlen = seg - nlen - 1;
            char *dec = xmalloc(vlen + 1);
            size_t i;
            size_t o = 0;
            bool bad = false;

            for (i = 0; i < vlen && !bad; i++) {
                int hi;
                int lo;

                if (v[i] != '%') {
                    dec[o++] = v[i] == '+' ? ' ' : v[i];
                    continue;
                }
                hi = i + 2 < vlen + 1 && i + 1 < vlen
                         ? api_images_hex(v[i + 1]) : -1;
                lo = i + 2 < vlen ? api_images_hex(v[i + 2]) : -1;
                if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                    bad = true;
                else
                    dec[o++] = (char)(hi * 16 + lo);
                i += 2;
            }
            dec[o] = '\0';
            if (!bad)
                json_array_append_new(out, json_string(dec));
            free(dec);
        }
        p += seg;
        if (*p == '&')
            p++;
    }
    return out;
}

static void api_images_on_import(void *data, int status,
                                 const struct err *err, json_t *result)
{
    struct api_req *req = data;
    char *line;

    if (status != 0) {
        api_reply_err(req, err);
        return;
    }
    line = xasprintf("{\"status\":\"%s\"}\r\n", json_string_value(result));
    api_reply_text(req, 200, "application/json", line);
    free(line);
}

/* POST /images/create: fromSrc=- imports the body; there is no registry
 * to pull from yet. */
void api_images_create(struct api_req *req)
{
    struct image_store *s;
    char *src = api_query_get(req, "fromSrc");
    char *from = api_query_get(req, "fromImage");
    char *repo = NULL;
    char *tag = NULL;
    char *msg = NULL;
    char *repo_tag = NULL;
    json_t *changes = NULL;
    struct err err;

    if (from != NULL && from[0] != '\0') {
        char *ftag = api_query_get(req, "tag");

        api_reply_error(req, ERR_NOTFOUND,
                        "pull access denied for %s, repository does not "
                        "exist or may require 'docker login'", from);
        free(ftag);
        goto out;
    }
    if (src == NULL || src[0] == '\0') {
        api_reply_error(req, ERR_INVALID, "fromImage or fromSrc is required");
        goto out;
    }
    if (strcmp(src, "-") != 0) {
        api_reply_error(req, ERR_NOTIMPLEMENTED,
                        "importing from a URL (%s) is not supported: send "
                        "the tarball as the request body", src);
        goto out;
    }
    s = api_images_store(req);
    if (s == NULL)
        goto out;
    if (req->body_path == NULL) {
        api_reply_error(req, ERR_INTERNAL, "the request body was not kept");
        goto out;
    }
    repo = api_query_get(req, "repo");
    tag = api_query_get(req, "tag");
    msg = api_query_get(req, "message");
    changes = api_images_query_all(req, "changes");
    if (repo != NULL && repo[0] != '\0')
        repo_tag = tag != NULL && tag[0] != '\0'
                       ? xasprintf("%s:%s", repo, tag)
                       : xstrdup(repo);
    err_clear(&err);
    if (image_store_import(s, req->body_path, repo_tag, changes, msg,
                           api_images_on_import, req, &err) != 0)
        api_reply_err(req, &err);
out:
    free(src);
    free(from);
    free(repo);
    free(tag);
    free(msg);
    free(repo_tag);
    json_decref(changes);
}

static void api_images_on_load(void *data, int status, const struct err *err,
                               json_t *result)
{
    struct api_req *req = data;
    json_t *line;
    size_t i;
    json_t *m;

    if (status != 0) {
        api_reply_err(req, err);
        return;
    }
    api_stream_begin(req, 200, "application/json");
    json_array_foreach(result, i, m) {
        char *text;

        line = json_pack("{s:s+}", "stream", json_string_value(m), "\n");
        text = json_dumps(line, JSON_COMPACT);
        api_stream_write(req, text, strlen(text));
        api_stream_write(req, "\r\n", 2);
        free(text);
        json_decref(line);
    }
    api_stream_end(req);
}

/* POST /images/load: the body is a docker-save archive or OCI layout. */
void api_images_load(struct api_req *req)
{
    struct image_store *s = api_images_store(req);
    struct err err;

    if (s == NULL)
        return;
    if (req->body_path == NULL) {
        api_reply_error(req, ERR_INTERNAL, "the request body was not kept");
        return;
    }
    err_clear(&err);
    if (image_store_load(s, req->body_path, api_images_on_load, req,
                         &err) != 0)
        api_reply_err(req, &err);
}

/* A save archive on its way out, read in chunks as the peer takes them. */
struct api_images_send
{
    struct api_req *req;
    uv_loop_t *loop;
    uv_fs_t fs;
    int fd;
    char *path; /* owned: removed at the end */
    char *chunk;
};

static void api_images_send_end(struct api_images_send *st)
{
    close(st->fd);
    unlink(st->path);
    api_stream_end(st->req);
    free(st->path);
    free(st->chunk);
    free(st);
}

static void api_images_send_next(void *data);

static void api_images_on_chunk(uv_fs_t *fs)
{
    struct api_images_send *st = fs->data;
    ssize_t n = fs->result;

    uv_fs_req_cleanup(fs);
    if (n <= 0 || api_stream_write(st->req, st->chunk, (size_t)n) != 0) {
        api_images_send_end(st);
        return;
    }
    api_stream_on_drain(st->req, api_images_send_next, st);
}

static void api_images_send_next(void *data)
{
    struct api_images_send *st = data;
    uv_buf_t b = uv_buf_init(st->chunk, API_IMAGES_CHUNK);

    st->fs.data = st;
    if (uv_fs_read(st->loop, &st->fs, st->fd, &b, 1, -1,
                   api_images_on_chunk) != 0)
        api_images_send_end(st);
}

struct api_images_save
{
    struct api_req *req;
    uv_loop_t *loop;
    char *path; /* owned */
};

static void api_images_on_save(void *data, int status, const struct err *err,
                               json_t *result)
{
    struct api_images_save *sv = data;
    struct api_images_send *st;
    int fd;

    (void)result;
    if (status != 0) {
        api_reply_err(sv->req, err);
        unlink(sv->path);
        goto out;
    }
    fd = open(sv->path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        api_reply_error(sv->req, ERR_IO, "open the archive: %m");
        goto out;
    }
    st = xcalloc(1, sizeof(*st));
    st->req = sv->req;
    st->fd = fd;
    st->path = sv->path;
    sv->path = NULL;
    st->chunk = xmalloc(API_IMAGES_CHUNK);
    st->loop = sv->loop;
    api_stream_begin(sv->req, 200, "application/x-tar");
    api_images_send_next(st);
out:
    free(sv->path);
    free(sv);
}

static void api_images_save_refs(struct api_req *req, json_t *names)
{
    struct image_store *s = api_images_store(req);
    struct api_images_save *sv;
    const char **refs;
    struct err err;
    size_t i;
    json_t *n;

    if (s == NULL)
        return;
    if (json_array_size(names) == 0) {
        api_reply_error(req, ERR_INVALID, "no images to save");
        return;
    }
    refs = xcalloc(json_array_size(names) + 1, sizeof(*refs));
    json_array_foreach(names, i, n) {
        refs[i] = json_string_value(n);
    }
    sv = xcalloc(1, sizeof(*sv));
    sv->req = req;
    sv->loop = image_store_loop(s);
    sv->path = image_store_tmp_path(s, ".tar");
    err_clear(&err);
    if (image_store_save(s, refs, sv->path, api_images_on_save, sv, &err) !=
        0) {
        api_reply_err(req, &err);
        free(sv->path);
        free(sv);
    }
    free(refs);
}

/* GET /images/get?names=..: several images in one archive. */
void api_images_get(struct api_req *req)
{
    json_t *names = api_images_query_all(req, "names");

    api_images_save_refs(req, names);
    json_decref(names);
}

/* GET /images/{name}/get. */
void api_images_get_one(struct api_req *req)
{
    json_t *names = json_pack("[s]", req->params[0]);

    api_images_save_refs(req, names);
    json_decref(names);
}

/* GET /images/json */
void api_images_list(struct api_req *req)
{
    static const char *const keys[] = {"before", "dangling", "label",
                                       "reference", "since", "until",
                                       NULL};
    struct image_store *s = api_images_store(req);
    bool legacy = !api_version_at_least(req, 1, 44);
    struct err err;
    json_t *filters;
    json_t *out;
    size_t i;
    json_t *img;

    if (s == NULL)
        return;
    err_clear(&err);
    filters = api_filters_parse(req, keys, &err);
    if (filters == NULL) {
        api_reply_err(req, &err);
        return;
    }
    out = image_store_list(s, api_query_bool(req, "all"), filters, &err);
    json_decref(filters);
    if (out == NULL) {
        api_reply_err(req, &err);
        return;
    }
    json_array_foreach(out, i, img) {
        /* API 1.44 dropped VirtualSize and the "<none>" placeholders. */
        if (!legacy) {
            json_object_del(img, "VirtualSize");
            continue;
        }
        if (json_array_size(json_object_get(img, "RepoTags")) == 0) {
            json_object_set_new(img, "RepoTags", json_pack("[s]",
                                                           "<none>:<none>"));
            json_object_set_new(img, "RepoDigests",
                                json_pack("[s]", "<none>@<none>"));
        }
    }
    api_reply_json(req, 200, out);
}

/* GET /images/{name}/json */
void api_images_inspect(struct api_req *req)
{
    struct image_store *s = api_images_store(req);
    struct err err;
    json_t *out;

    if (s == NULL)
        return;
    err_clear(&err);
    out = image_store_inspect(s, req->params[0], &err);
    if (out == NULL) {
        api_reply_err(req, &err);
        return;
    }
    if (api_version_at_least(req, 1, 44))
        json_object_del(out, "VirtualSize");
    api_reply_json(req, 200, out);
}

/* POST /images/{name}/tag?repo=..&tag=.. */
void api_images_tag(struct api_req *req)
{
    struct image_store *s = api_images_store(req);
    char *repo;
    char *tag;
    struct err err;

    if (s == NULL)
        return;
    repo = api_query_get(req, "repo");
    tag = api_query_get(req, "tag");
    err_clear(&err);
    if (repo == NULL || repo[0] == '\0')
        api_reply_error(req, ERR_INVALID,
                        "repository name must have at least one component");
    else if (image_store_tag(s, req->params[0], repo, tag, &err) != 0)
        api_reply_err(req, &err);
    else
        api_reply_empty(req, 201);
    free(repo);
    free(tag);
}

/* DELETE /images/{name}?force=..&noprune=.. */
void api_images_delete(struct api_req *req)
{
    struct image_store *s = api_images_store(req);
    struct err err;
    json_t *out;

    if (s == NULL)
        return;
    err_clear(&err);
    out = image_store_remove(s, req->params[0], api_query_bool(req, "force"),
                             api_query_bool(req, "noprune"), &err);
    if (out == NULL) {
        api_reply_err(req, &err);
        return;
    }
    api_reply_json(req, 200, out);
}

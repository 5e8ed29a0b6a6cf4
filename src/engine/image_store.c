/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The image index (loop thread only): open and load from disk, resolve,
 * list, inspect, tag, remove. Every index change is one atomic file write
 * (an image's config under imagedb/content/sha256/, or
 * repositories.json), so a kill -9 leaves either the old or the new index.
 */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/log.h"
#include "base/mem.h"
#include "engine/image_int.h"

#define IMAGE_STORE_SHORT 12

/* Read layerdb/sha256/ into s->layers. */
static void image_store_load_layers(struct image_store *s)
{
    char *base = xasprintf("%s/layerdb/sha256", s->dir);
    DIR *d = opendir(base);
    struct dirent *de;

    while (d != NULL && (de = readdir(d)) != NULL) {
        char chain[IMAGE_DIGEST_LEN];
        char *ldir;
        char *path;
        char *diff = NULL;
        size_t len;
        json_t *rec = NULL;
        char *cache = NULL;
        char *size = NULL;

        if (de->d_name[0] == '.')
            continue;
        if (strlen(de->d_name) != 64)
            continue;
        snprintf(chain, sizeof(chain), "sha256:%.64s", de->d_name);
        if (!image_digest_valid(chain))
            continue;
        ldir = xasprintf("%s/%s", base, de->d_name);
        path = xasprintf("%s/diff", ldir);
        if (fsutil_read_all(path, 128, &diff, &len, NULL) == 0 &&
            image_digest_valid(diff)) {
            free(path);
            path = xasprintf("%s/cache-id", ldir);
            if (fsutil_read_all(path, 128, &cache, &len, NULL) == 0) {
                free(path);
                path = xasprintf("%s/size", ldir);
                if (fsutil_read_all(path, 64, &size, &len, NULL) == 0)
                    rec = json_pack("{s:s, s:s, s:s, s:I}", "chain", chain,
                                    "diff", diff, "cache", cache, "size",
                                    (json_int_t)atoll(size));
            }
        }
        if (rec != NULL)
            json_object_set_new(s->layers, chain, rec);
        else
            log_warn(LOG_MAIN, "image store: ignoring broken layer %s",
                     ldir);
        free(ldir);
        free(path);
        free(diff);
        free(cache);
        free(size);
    }
    if (d != NULL)
        closedir(d);
    free(base);
}

/* The image record of a config document: chains and size from the layers
 * known, or NULL with err. */
static json_t *image_store_record(struct image_store *s, json_t *config,
                                  struct err *err)
{
    json_t *rootfs = json_object_get(config, "rootfs");
    json_t *diffs = json_object_get(rootfs, "diff_ids");
    json_t *chains = json_array();
    char chain[IMAGE_DIGEST_LEN];
    const char *parent = NULL;
    json_int_t size = 0;
    size_t i;
    json_t *d;

    if (!json_is_object(config) || !json_is_array(diffs) ||
        json_array_size(diffs) == 0 ||
        strcmp(json_string_value(json_object_get(rootfs, "type")) ?: "",
               "layers") != 0) {
        json_decref(chains);
        err_set(err, ERR_INVALID, "invalid image config: no rootfs layers");
        return NULL;
    }
    json_array_foreach(diffs, i, d) {
        json_t *rec;

        if (!image_digest_valid(json_string_value(d))) {
            json_decref(chains);
            err_set(err, ERR_INVALID, "invalid image config: bad diff ID");
            return NULL;
        }
        image_digest_chain(parent, json_string_value(d), chain);
        rec = json_object_get(s->layers, chain);
        if (rec == NULL) {
            json_decref(chains);
            err_set(err, ERR_NOTFOUND, "layer %s is missing", chain);
            return NULL;
        }
        size += json_integer_value(json_object_get(rec, "size"));
        json_array_append_new(chains, json_string(chain));
        parent = json_string_value(json_array_get(chains, i));
    }
    return json_pack("{s:O, s:o, s:I, s:s}", "config", config, "chains",
                     chains, "size", size, "tagged", "");
}

static void image_store_load_images(struct image_store *s)
{
    char *base = xasprintf("%s/imagedb/content/sha256", s->dir);
    DIR *d = opendir(base);
    struct dirent *de;

    while (d != NULL && (de = readdir(d)) != NULL) {
        char want[IMAGE_DIGEST_LEN];
        char got[IMAGE_DIGEST_LEN];
        char *path;
        char *raw = NULL;
        size_t len;
        json_t *config;
        json_t *rec = NULL;
        struct err err;

        if (de->d_name[0] == '.')
            continue;
        if (strlen(de->d_name) != 64)
            continue;
        snprintf(want, sizeof(want), "sha256:%.64s", de->d_name);
        if (!image_digest_valid(want))
            continue;
        path = xasprintf("%s/%s", base, de->d_name);
        err_clear(&err);
        if (fsutil_read_all(path, IMAGE_CONFIG_MAX, &raw, &len, &err) == 0) {
            image_digest_buf(raw, len, got);
            config = strcmp(got, want) == 0
                         ? json_loadb(raw, len, 0, NULL) : NULL;
            if (config != NULL)
                rec = image_store_record(s, config, &err);
            json_decref(config);
        }
        if (rec != NULL)
            json_object_set_new(s->images, want, rec);
        else
            log_warn(LOG_MAIN, "image store: ignoring image %s: %s", want,
                     err.msg[0] ? err.msg : "bad content");
        free(raw);
        free(path);
    }
    if (d != NULL)
        closedir(d);
    free(base);
}

static int image_store_save_repos(struct image_store *s, struct err *err)
{
    json_t *doc = json_pack("{s:O}", "Repositories", s->repos);
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    char *path = xasprintf("%s/repositories.json", s->dir);
    int rv = fsutil_write_atomic(path, text, strlen(text), 0600, err);

    free(path);
    free(text);
    json_decref(doc);
    return rv;
}

static void image_store_load_repos(struct image_store *s)
{
    char *path = xasprintf("%s/repositories.json", s->dir);
    char *raw = NULL;
    size_t len;
    json_t *doc = NULL;
    json_t *repos;
    const char *repo;
    json_t *tags;

    if (fsutil_read_all(path, IMAGE_CONFIG_MAX, &raw, &len, NULL) == 0)
        doc = json_loadb(raw, len, 0, NULL);
    repos = json_object_get(doc, "Repositories");
    json_object_foreach(repos, repo, tags) {
        const char *key;
        json_t *id;
        json_t *keep = json_object();

        json_object_foreach(tags, key, id) {
            if (json_object_get(s->images, json_string_value(id)) != NULL)
                json_object_set(keep, key, id);
        }
        if (json_object_size(keep) > 0)
            json_object_set(s->repos, repo, keep);
        json_decref(keep);
    }
    json_decref(doc);
    free(raw);
    free(path);
}

/* Cache directories no layer records: leftovers of a crash mid-import. */
static void image_store_sweep(struct image_store *s)
{
    json_t *known = json_object();
    const char *chain;
    json_t *rec;
    DIR *d;
    struct dirent *de;

    json_object_foreach(s->layers, chain, rec) {
        json_object_set_new(known,
                            json_string_value(json_object_get(rec, "cache")),
                            json_true());
    }
    d = opendir(s->layers_dir);
    while (d != NULL && (de = readdir(d)) != NULL) {
        char *path;
        struct err err;

        if (strlen(de->d_name) != 64 ||
            json_object_get(known, de->d_name) != NULL)
            continue;
        path = xasprintf("%s/%s", s->layers_dir, de->d_name);
        err_clear(&err);
        if (image_rmtree(path, &err) != 0)
            log_warn(LOG_MAIN, "image store: %s", err.msg);
        free(path);
    }
    if (d != NULL)
        closedir(d);
    json_decref(known);
}

struct image_store *image_store_open(uv_loop_t *loop, const char *data_root,
                                     struct err *err)
{
    struct image_store *s = xcalloc(1, sizeof(*s));
    static const char *const subdirs[] = {"imagedb/content/sha256",
                                          "layerdb/sha256", "tmp"};
    size_t i;

    s->loop = loop;
    s->data_root = xstrdup(data_root);
    s->dir = xasprintf("%s/image/overlay2", data_root);
    s->layers_dir = xasprintf("%s/overlay2", data_root);
    s->images = json_object();
    s->layers = json_object();
    s->repos = json_object();
    for (i = 0; i < ARRAY_SIZE(subdirs); i++) {
        char *p = xasprintf("%s/%s", s->dir, subdirs[i]);
        int rv = fsutil_mkdir_p(p, 0700, err);

        free(p);
        if (rv != 0)
            goto fail;
    }
    if (fsutil_mkdir_p(s->layers_dir, 0710, err) != 0)
        goto fail;
    {
        char *tmp = xasprintf("%s/tmp", s->dir);
        int rv = fsutil_empty_dir(tmp, err);

        free(tmp);
        if (rv != 0)
            goto fail;
    }
    image_store_load_layers(s);
    image_store_load_images(s);
    image_store_load_repos(s);
    image_layer_collect(s, NULL);
    image_store_sweep(s);
    return s;
fail:
    image_store_free(s);
    return NULL;
}

uv_loop_t *image_store_loop(const struct image_store *s)
{
    return s->loop;
}

void image_store_free(struct image_store *s)
{
    if (s == NULL)
        return;
    json_decref(s->images);
    json_decref(s->layers);
    json_decref(s->repos);
    free(s->data_root);
    free(s->dir);
    free(s->layers_dir);
    free(s);
}

void image_store_set_in_use(struct image_store *s, image_in_use_fn fn,
                            void *data)
{
    s->in_use = fn;
    s->in_use_data = data;
}

/* The key of id in s->images (borrowed), or NULL. */
static const char *image_store_key(const struct image_store *s,
                                   const char *id)
{
    void *it = json_object_iter_at(s->images, id);

    return it ? json_object_iter_key(it) : NULL;
}

static const char *image_store_by_prefix(const struct image_store *s,
                                         const char *hex)
{
    size_t n = strlen(hex);
    const char *found = NULL;
    const char *id;
    json_t *img;

    if (n == 0 || n > 64 || strspn(hex, "0123456789abcdef") != n)
        return NULL;
    json_object_foreach(s->images, id, img) {
        if (strncmp(id + 7, hex, n) == 0) {
            if (found != NULL)
                return NULL;
            found = id;
        }
    }
    (void)img;
    return found;
}

/* The tag key ("repo:tag") ref names, malloc'd, with its repo; NULL if
 * ref is not a name or the tag does not exist. */
static char *image_store_tag_key(const struct image_store *s, const char *ref,
                                 char **repo_out)
{
    char *repo;
    char *tag;
    char *key;

    *repo_out = NULL;
    if (image_ref_parse(ref, &repo, &tag, NULL) != 0)
        return NULL;
    key = image_ref_join(repo, tag);
    free(tag);
    if (json_object_get(json_object_get(s->repos, repo), key) == NULL) {
        free(repo);
        free(key);
        return NULL;
    }
    *repo_out = repo;
    return key;
}

const char *image_store_find(const struct image_store *s, const char *ref,
                             struct err *err)
{
    const char *id = NULL;
    char *repo;
    char *key;

    if (strncmp(ref, "sha256:", 7) == 0) {
        id = image_store_by_prefix(s, ref + 7);
    } else {
        key = image_store_tag_key(s, ref, &repo);
        if (key != NULL) {
            id = image_store_key(
                s, json_string_value(json_object_get(
                       json_object_get(s->repos, repo), key)));
            free(key);
            free(repo);
        }
        if (id == NULL)
            id = image_store_by_prefix(s, ref);
    }
    if (id == NULL)
        err_set(err, ERR_NOTFOUND, "No such image: %s", ref);
    return id;
}

int image_store_resolve(struct image_store *s, const char *ref, char **id_out,
                        json_t **config_out, char ***layers_out,
                        struct err *err)
{
    const char *id = image_store_find(s, ref, err);
    json_t *img;

    if (id == NULL)
        return -ERR_NOTFOUND;
    img = json_object_get(s->images, id);
    if (id_out != NULL)
        *id_out = xstrdup(id);
    if (config_out != NULL)
        *config_out = json_deep_copy(json_object_get(img, "config"));
    if (layers_out != NULL) {
        json_t *chains = json_object_get(img, "chains");
        char **dirs = xcalloc(json_array_size(chains) + 1, sizeof(*dirs));
        size_t i;
        json_t *c;

        json_array_foreach(chains, i, c) {
            json_t *rec = json_object_get(s->layers, json_string_value(c));

            dirs[i] = xasprintf("%s/%s/diff", s->layers_dir,
                                json_string_value(
                                    json_object_get(rec, "cache")));
        }
        *layers_out = dirs;
    }
    return 0;
}

void image_store_free_dirs(char **dirs)
{
    size_t i;

    if (dirs == NULL)
        return;
    for (i = 0; dirs[i] != NULL; i++)
        free(dirs[i]);
    free(dirs);
}

int image_store_add(struct image_store *s, const char *raw, size_t raw_len,
                    struct err *err)
{
    char id[IMAGE_DIGEST_LEN];
    json_error_t jerr;
    json_t *config;
    json_t *rec;
    char *path;
    int rv;

    image_digest_buf(raw, raw_len, id);
    config = json_loadb(raw, raw_len, 0, &jerr);
    if (config == NULL)
        return err_set(err, ERR_INVALID, "invalid image config: %s",
                       jerr.text);
    rec = image_store_record(s, config, err);
    json_decref(config);
    if (rec == NULL)
        return -err->code;
    path = xasprintf("%s/imagedb/content/sha256/%s", s->dir, id + 7);
    rv = fsutil_write_atomic(path, raw, raw_len, 0600, err);
    free(path);
    if (rv != 0) {
        json_decref(rec);
        return rv;
    }
    json_object_set_new(s->images, id, rec);
    return 0;
}

json_t *image_store_tags_of(const struct image_store *s, const char *id)
{
    json_t *out = json_array();
    const char *repo;
    json_t *tags;
    const char *key;
    json_t *v;

    json_object_foreach(s->repos, repo, tags) {
        json_object_foreach(tags, key, v) {
            if (strcmp(json_string_value(v), id) == 0)
                json_array_append_new(out, json_string(key));
        }
    }
    return out;
}

int image_store_set_tag(struct image_store *s, const char *repo,
                        const char *tag, const char *id, char **old,
                        struct err *err)
{
    json_t *tags = json_object_get(s->repos, repo);
    char *key = image_ref_join(repo, tag);
    char now[40];
    const char *prev;
    int rv;

    if (old != NULL)
        *old = NULL;
    if (tags == NULL) {
        tags = json_object();
        json_object_set_new(s->repos, repo, tags);
    }
    prev = json_string_value(json_object_get(tags, key));
    if (old != NULL && prev != NULL && strcmp(prev, id) != 0)
        *old = xstrdup(prev);
    json_object_set_new(tags, key, json_string(id));
    free(key);
    rv = image_store_save_repos(s, err);
    image_time_now(now);
    json_object_set_new(json_object_get(s->images, id), "tagged",
                        json_string(now));
    return rv;
}

int image_store_tag(struct image_store *s, const char *ref, const char *repo,
                    const char *tag, struct err *err)
{
    const char *id = image_store_find(s, ref, err);
    char *full;
    char *r;
    char *t;
    int rv;

    if (id == NULL)
        return -ERR_NOTFOUND;
    full = (tag != NULL && tag[0] != '\0') ? image_ref_join(repo, tag)
                                           : xstrdup(repo);
    rv = image_ref_parse(full, &r, &t, err);
    free(full);
    if (rv != 0)
        return rv;
    if (strlen(r) == 64 && strspn(r, "0123456789abcdef") == 64)
        rv = err_set(err, ERR_INVALID, "refusing to create an ambiguous "
                                       "tag using digest algorithm as name");
    else
        rv = image_store_set_tag(s, r, t, id, NULL, err);
    free(r);
    free(t);
    return rv;
}

/* Drop one tag key ("repo:tag") of repo. */
static void image_store_untag(struct image_store *s, const char *key)
{
    const char *colon = strrchr(key, ':');
    char *repo = xstrndup(key, (size_t)(colon - key));
    json_t *tags = json_object_get(s->repos, repo);

    json_object_del(tags, key);
    if (json_object_size(tags) == 0)
        json_object_del(s->repos, repo);
    free(repo);
}

/* Forget image id (its tags are gone already) and collect its layers;
 * appends {"Deleted": ...} entries to out. */
static int image_store_delete(struct image_store *s, const char *id,
                              json_t *out, struct err *err)
{
    char *path = xasprintf("%s/imagedb/content/sha256/%s", s->dir, id + 7);
    json_t *layers = json_array();
    char *copy = xstrdup(id);
    size_t i;
    json_t *c;

    if (unlink(path) == -1 && errno != ENOENT) {
        int rv = err_sys(err, ERR_IO, errno, "remove %s", path);

        free(path);
        free(copy);
        json_decref(layers);
        return rv;
    }
    free(path);
    json_object_del(s->images, copy);
    json_array_append_new(out, json_pack("{s:s}", "Deleted", copy));
    free(copy);
    image_layer_collect(s, layers);
    json_array_foreach(layers, i, c) {
        json_array_append_new(out, json_pack("{s:O}", "Deleted", c));
    }
    json_decref(layers);
    return 0;
}

json_t *image_store_remove(struct image_store *s, const char *ref, bool force,
                           bool noprune, struct err *err)
{
    const char *found = image_store_find(s, ref, err);
    char who[65] = "";
    char *id;
    char *repo = NULL;
    char *key;
    json_t *tags;
    json_t *out;
    bool used;
    size_t i;
    json_t *t;

    (void)noprune; /* no parent images: nothing to prune */
    if (found == NULL)
        return NULL;
    id = xstrdup(found);
    used = s->in_use != NULL && s->in_use(s->in_use_data, id, who);
    key = strncmp(ref, "sha256:", 7) == 0 ? NULL
                                          : image_store_tag_key(s, ref, &repo);
    tags = image_store_tags_of(s, id);
    out = json_array();
    if (key != NULL) {
        if (json_array_size(tags) == 1 && used && !force) {
            err_set(err, ERR_CONFLICT,
                    "conflict: unable to remove repository reference "
                    "\"%s\" (must force) - container %.*s is using its "
                    "referenced image %.*s", ref, IMAGE_STORE_SHORT, who,
                    IMAGE_STORE_SHORT, id + 7);
            goto fail;
        }
        image_store_untag(s, key);
        if (image_store_save_repos(s, err) != 0)
            goto fail;
        json_array_append_new(out, json_pack("{s:s}", "Untagged", key));
        if (json_array_size(tags) > 1 || used)
            goto done;
    } else {
        if (json_array_size(tags) > 1 && !force) {
            err_set(err, ERR_CONFLICT,
                    "conflict: unable to delete %.*s (must be forced) - "
                    "image is referenced in multiple repositories",
                    IMAGE_STORE_SHORT, id + 7);
            goto fail;
        }
        if (used && !force) {
            err_set(err, ERR_CONFLICT,
                    "conflict: unable to delete %.*s (must be forced) - "
                    "image is being used by stopped container %.*s",
                    IMAGE_STORE_SHORT, id + 7, IMAGE_STORE_SHORT, who);
            goto fail;
        }
        json_array_foreach(tags, i, t) {
            image_store_untag(s, json_string_value(t));
            json_array_append_new(out, json_pack("{s:O}", "Untagged", t));
        }
        if (json_array_size(tags) > 0 && image_store_save_repos(s, err) != 0)
            goto fail;
        /* Unlike Docker, a forced removal keeps an image a container
         * still runs from: its layers are the container's root. */
        if (used)
            goto done;
    }
    if (image_store_delete(s, id, out, err) != 0)
        goto fail;
done:
    free(id);
    free(repo);
    free(key);
    json_decref(tags);
    return out;
fail:
    free(id);
    free(repo);
    free(key);
    json_decref(tags);
    json_decref(out);
    return NULL;
}

/* Docker's ImageSummary. */
static json_t *image_store_summary(const struct image_store *s,
                                   const char *id, const json_t *img)
{
    const json_t *config = json_object_get(img, "config");
    json_t *labels = json_object_get(json_object_get(config, "config"),
                                     "Labels");
    json_int_t size = json_integer_value(json_object_get(img, "size"));

    return json_pack(
        "{s:i, s:I, s:s, s:O, s:s, s:[], s:o, s:i, s:I, s:I}", "Containers",
        -1, "Created",
        (json_int_t)image_time_parse(
            json_string_value(json_object_get(config, "created"))),
        "Id", id, "Labels", json_is_object(labels) ? labels : json_null(),
        "ParentId", "", "RepoDigests", "RepoTags",
        image_store_tags_of(s, id), "SharedSize", -1, "Size", size,
        "VirtualSize", size);
}

static bool image_store_match(const struct image_store *s, const char *id,
                              const json_t *img, const json_t *filters,
                              int64_t before, int64_t since)
{
    json_t *tags = image_store_tags_of(s, id);
    json_t *refs = json_object_get(filters, "reference");
    json_t *dangling = json_object_get(filters, "dangling");
    json_t *labels = json_object_get(json_object_get(
                                         json_object_get(img, "config"),
                                         "config"),
                                     "Labels");
    int64_t created = image_time_parse(json_string_value(
        json_object_get(json_object_get(img, "config"), "created")));
    bool ok = true;
    size_t i;
    json_t *v;

    if (json_array_size(dangling) > 0) {
        const char *d = json_string_value(json_array_get(dangling, 0));
        bool want = d != NULL && (strcmp(d, "true") == 0 ||
                                  strcmp(d, "1") == 0);

        ok = want == (json_array_size(tags) == 0);
    }
    if (ok && json_array_size(refs) > 0) {
        ok = false;
        json_array_foreach(refs, i, v) {
            const char *pat = json_string_value(v);
            size_t j;
            json_t *t;

            json_array_foreach(tags, j, t) {
                const char *tag = json_string_value(t);
                char *repo = xstrndup(tag, (size_t)(strrchr(tag, ':') - tag));

                if (fnmatch(pat, tag, 0) == 0 || fnmatch(pat, repo, 0) == 0)
                    ok = true;
                free(repo);
            }
        }
    }
    json_array_foreach(json_object_get(filters, "label"), i, v) {
        const char *want = json_string_value(v);
        const char *eq = strchr(want, '=');
        char *k = eq ? xstrndup(want, (size_t)(eq - want)) : xstrdup(want);
        const char *have = json_string_value(json_object_get(labels, k));

        if (json_object_get(labels, k) == NULL ||
            (eq != NULL && (have == NULL || strcmp(have, eq + 1) != 0)))
            ok = false;
        free(k);
    }
    if (before > 0 && created >= before)
        ok = false;
    if (since > 0 && created <= since)
        ok = false;
    json_decref(tags);
    return ok;
}

/* Created time of the image a before/since filter names; -1 if none. */
static int64_t image_store_filter_time(const struct image_store *s,
                                       const json_t *filters,
                                       const char *key, struct err *err)
{
    const char *ref = json_string_value(
        json_array_get(json_object_get(filters, key), 0));
    const char *id;

    if (ref == NULL)
        return 0;
    id = image_store_find(s, ref, err);
    if (id == NULL)
        return -1;
    return image_time_parse(json_string_value(json_object_get(
        json_object_get(json_object_get(s->images, id), "config"),
        "created")));
}

static int image_store_cmp_created(const void *a, const void *b)
{
    json_int_t ca = json_integer_value(
        json_object_get(*(json_t *const *)a, "Created"));
    json_int_t cb = json_integer_value(
        json_object_get(*(json_t *const *)b, "Created"));

    return ca < cb ? 1 : ca > cb ? -1 : 0;
}

json_t *image_store_list(struct image_store *s, bool all,
                         const json_t *filters, struct err *err)
{
    int64_t before = image_store_filter_time(s, filters, "before", err);
    int64_t since = image_store_filter_time(s, filters, "since", err);
    json_t **rows;
    json_t *out;
    const char *id;
    json_t *img;
    size_t n = 0;
    size_t i;

    (void)all; /* there are no intermediate images */
    if (before < 0 || since < 0)
        return NULL;
    rows = xcalloc(json_object_size(s->images) + 1, sizeof(*rows));
    json_object_foreach(s->images, id, img) {
        if (image_store_match(s, id, img, filters, before, since))
            rows[n++] = image_store_summary(s, id, img);
    }
    qsort(rows, n, sizeof(*rows), image_store_cmp_created);
    out = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(out, rows[i]);
    free(rows);
    return out;
}

json_t *image_store_inspect(struct image_store *s, const char *ref,
                            struct err *err)
{
    static const char *const defaults[] = {"Cmd", "Entrypoint", "Env",
                                           "Labels", "OnBuild", "Volumes"};
    const char *id = image_store_find(s, ref, err);
    const json_t *img;
    const json_t *config;
    json_t *cc;
    json_t *diffs;
    json_t *chains;
    const char *top_cache;
    const char *tagged;
    char *lower = NULL;
    size_t i;
    json_t *c;
    json_t *out;

    if (id == NULL)
        return NULL;
    img = json_object_get(s->images, id);
    config = json_object_get(img, "config");
    cc = json_deep_copy(json_object_get(config, "config"));
    if (!json_is_object(cc)) {
        json_decref(cc);
        cc = json_object();
    }
    for (i = 0; i < ARRAY_SIZE(defaults); i++) {
        if (json_object_get(cc, defaults[i]) == NULL)
            json_object_set_new(cc, defaults[i], json_null());
    }
    if (json_object_get(cc, "WorkingDir") == NULL)
        json_object_set_new(cc, "WorkingDir", json_string(""));
    if (json_object_get(cc, "User") == NULL)
        json_object_set_new(cc, "User", json_string(""));
    diffs = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
    chains = json_object_get(img, "chains");
    /* overlay2's GraphDriver data: the top layer's diff is UpperDir, the
     * ones below it LowerDir, topmost first. */
    for (i = json_array_size(chains) - 1; i > 0; i--) {
        const json_t *rec = json_object_get(
            s->layers, json_string_value(json_array_get(chains, i - 1)));
        char *d = xasprintf("%s%s%s/%s/diff", lower ? lower : "",
                            lower ? ":" : "", s->layers_dir,
                            json_string_value(json_object_get(rec, "cache")));

        free(lower);
        lower = d;
    }
    c = json_object_get(s->layers, json_string_value(json_array_get(
                                       chains, json_array_size(chains) - 1)));
    top_cache = json_string_value(json_object_get(c, "cache"));
    tagged = json_string_value(json_object_get(img, "tagged"));
    out = json_pack(
        "{s:s, s:o, s:[], s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:I, "
        "s:I, s:{s:s, s:o}, s:{s:s, s:O}, s:{s:s}}",
        "Id", id, "RepoTags", image_store_tags_of(s, id), "RepoDigests",
        "Parent", "", "Comment",
        json_string_value(json_object_get(config, "comment")) ?: "",
        "Created", json_string_value(json_object_get(config, "created")) ?: "",
        "DockerVersion",
        json_string_value(json_object_get(config, "docker_version")) ?: "",
        "Author", json_string_value(json_object_get(config, "author")) ?: "",
        "Config", cc, "Architecture",
        json_string_value(json_object_get(config, "architecture")) ?: "",
        "Os", json_string_value(json_object_get(config, "os")) ?: "",
        "Size", json_integer_value(json_object_get(img, "size")),
        "VirtualSize", json_integer_value(json_object_get(img, "size")),
        "GraphDriver", "Name", "overlay2", "Data",
        json_pack("{s:s*, s:s, s:s, s:s}", "LowerDir", lower, "MergedDir",
                  "<no value>", "UpperDir",
                  top_cache ? top_cache : "", "WorkDir", "<no value>"),
        "RootFS", "Type", "layers", "Layers", diffs, "Metadata",
        "LastTagTime",
        tagged && *tagged ? tagged : "0001-01-01T00:00:00Z");
    free(lower);
    /* UpperDir as a full path; MergedDir/WorkDir only exist for
     * containers. */
    if (top_cache != NULL) {
        char *up = xasprintf("%s/%s/diff", s->layers_dir, top_cache);
        json_t *data = json_object_get(json_object_get(out, "GraphDriver"),
                                       "Data");

        json_object_set_new(data, "UpperDir", json_string(up));
        json_object_del(data, "MergedDir");
        json_object_del(data, "WorkDir");
        if (json_object_get(data, "LowerDir") == json_null() ||
            json_object_get(data, "LowerDir") == NULL)
            json_object_del(data, "LowerDir");
        free(up);
    }
    if (json_string_value(json_object_get(config, "variant")) != NULL)
        json_object_set(out, "Variant", json_object_get(config, "variant"));
    return out;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared inside the image store: the in-memory index (loop thread only),
 * the layer maker and the tar reader the thread-pool jobs use (they touch
 * no index, only their own copies and content-addressed files), digests,
 * references.
 */
#ifndef SHOAL_ENGINE_IMAGE_INT_H
#define SHOAL_ENGINE_IMAGE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "base/err.h"
#include "engine/image_store.h"

/* "sha256:" + 64 hex + NUL */
#define IMAGE_DIGEST_LEN 72
/* Caps on JSON documents read from archives (manifest.json, index.json,
 * OCI manifests) and on image configs. */
#define IMAGE_JSON_MAX (1u << 20)
#define IMAGE_CONFIG_MAX (8u << 20)

struct image_store
{
    uv_loop_t *loop;
    char *data_root;     /* owned */
    char *dir;           /* owned: <data-root>/image/overlay2 */
    char *layers_dir;    /* owned: <data-root>/overlay2 */
    json_t *images;      /* owned: id -> {"config": doc, "chains": [..],
                            "size": n, "tagged": time} */
    json_t *layers;      /* owned: chain id -> {"diff", "cache", "size"} */
    json_t *repos;       /* owned: repositories.json's "Repositories" */
    int busy;            /* jobs in flight: layers are not collected while
                            a job may reuse them */
    image_in_use_fn in_use;
    void *in_use_data;
};

/* Paths a job needs, copied for the thread pool. */
struct image_paths
{
    char *dir;        /* <data-root>/image/overlay2 */
    char *layers_dir; /* <data-root>/overlay2 */
};
void image_paths_copy(struct image_paths *p, const struct image_store *s);
void image_paths_release(struct image_paths *p);

/* Digests (image_digest.c). out gets "sha256:<hex>". */
void image_digest_buf(const void *data, size_t len,
                      char out[IMAGE_DIGEST_LEN]);
/* Digest of what fd holds from offset 0 (fd's offset is left at 0). */
int image_digest_fd(int fd, char out[IMAGE_DIGEST_LEN], struct err *err);
/* The OCI chain ID of a layer over parent (parent NULL: diff itself). */
void image_digest_chain(const char *parent, const char *diff,
                        char out[IMAGE_DIGEST_LEN]);
/* True if s is "sha256:" and 64 lowercase hex digits. */
bool image_digest_valid(const char *s);
/* 64 random hex digits (a layer's cache ID, temp names). */
void image_random_hex(char out[65]);
/* rm -rf path; missing is fine. */
int image_rmtree(const char *path, struct err *err);

/* Layer tar extraction (image_archive.c, thread pool). Decompress src
 * (plain, gzip, xz, bzip2, zstd) to the plain tar dst, giving its digest
 * (the diff ID). A truncated or corrupted stream fails and removes dst. */
int image_archive_decompress(int src, const char *dst,
                             char diff[IMAGE_DIGEST_LEN], struct err *err);
/* Unpack the plain tar at tar_path into the empty directory dir, refusing
 * hostile entries (see image_store.h) with ERR_INVALID; whiteouts become
 * overlay whiteouts. *size gets the bytes of regular files. On failure
 * dir may hold a partial tree: the caller removes it. */
int image_archive_unpack(const char *tar_path, const char *dir,
                         int64_t *size, struct err *err);
/* Unpack an outer archive (docker save / OCI layout) into the empty dir
 * stage: regular files, directories and symlinks that stay inside only. */
int image_archive_unpack_outer(const char *tar_path, const char *stage,
                               struct err *err);
/* The end of a pool job that used OpenSSL: frees this thread's OpenSSL
 * state (error queue, random generators). OpenSSL's own atexit cleanup
 * runs before libuv joins its pool, so it would outlive the thread. */
void image_archive_thread_done(void);
/* Open path inside root (no escape, even through symlinks). fd or -1. */
int image_archive_open_in(const char *root, const char *path, int flags);

/* Layers (image_layer.c, thread pool). Make the layer of the tarball read
 * from the fd src (compressed or not) over parent (a chain ID or NULL): its diff ID and
 * chain ID go into a new {"chain","diff","cache","size"} object (*out).
 * An existing layer with that chain ID is reused (nothing unpacked).
 * want_diff, when set, must equal the diff ID (ERR_INVALID otherwise).
 * Nothing is left behind on failure. */
int image_layer_make(const struct image_paths *p, int src,
                     const char *parent, const char *want_diff,
                     json_t **out, struct err *err);
/* Loop thread: remove the layers no image references (not while a job is
 * in flight); chain IDs removed are appended to deleted (may be NULL). */
void image_layer_collect(struct image_store *s, json_t *deleted);

/* References (image_ref.c). Split "repo[:tag]" into Docker's familiar
 * repository and tag ("latest" when absent), both malloc'd; Docker's
 * "invalid reference format" texts. */
int image_ref_parse(const char *ref, char **repo, char **tag,
                    struct err *err);
/* "repo:tag" malloc'd. */
char *image_ref_join(const char *repo, const char *tag);

/* Index (image_store.c, loop thread). */
/* Add (or refresh) an image: config_raw is its config's bytes; its
 * layers must be in s->layers. Writes the config atomically. */
int image_store_add(struct image_store *s, const char *raw, size_t raw_len,
                    struct err *err);
/* Point repo_tag ("repo:tag") at id; *old gets the ID it pointed to
 * before (malloc'd) or NULL. Saves repositories.json. */
int image_store_set_tag(struct image_store *s, const char *repo,
                        const char *tag, const char *id, char **old,
                        struct err *err);
/* The image's "repo:tag" names, sorted: new array. */
json_t *image_store_tags_of(const struct image_store *s, const char *id);
/* Find an image: id ("sha256:<hex>") borrowed from s->images, or NULL with
 * Docker's "No such image: <ref>". */
const char *image_store_find(const struct image_store *s, const char *ref,
                             struct err *err);
/* Stamp created times like Docker's RFC 3339 with nanoseconds. */
void image_time_now(char out[40]);
/* Parse that format back to seconds since the epoch (0 if unparseable). */
int64_t image_time_parse(const char *s);

/* Import changes (image_changes.c): apply Dockerfile-like lines to the
 * container config object cfg. */
int image_changes_apply(json_t *cfg, const json_t *changes, struct err *err);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Local images (issue 4, item 1): content-addressed under
 * <data-root>/image/overlay2/ (imagedb/content/sha256/<id> holds each image
 * config, layerdb/sha256/<chain-id>/{diff,size,cache-id,parent} each layer,
 * repositories.json the tags) with every layer unpacked once under
 * <data-root>/overlay2/<cache-id>/diff and shared through overlayfs.
 *
 * Tarballs (import, load) are read with libarchive on the loop's thread
 * pool and refused whole on any hostile entry (absolute or ".." paths,
 * device nodes, links leaving the root, bad digests): nothing is left
 * behind. Index changes happen on the loop thread only.
 */
#ifndef SHOAL_ENGINE_IMAGE_STORE_H
#define SHOAL_ENGINE_IMAGE_STORE_H

#include <stdbool.h>

#include <jansson.h>
#include <uv.h>

#include "base/err.h"

struct image_store;

/* Open (creating) the store under data_root; loads the index. */
struct image_store *image_store_open(uv_loop_t *loop, const char *data_root,
                                     struct err *err);
/* The loop the store runs on. */
uv_loop_t *image_store_loop(const struct image_store *s);
/* Free; no operation may be in flight. */
void image_store_free(struct image_store *s);

/* Who uses an image (containers): return true and fill who (a container
 * ID, <= 64 chars) if image_id is in use. Consulted by image_store_remove. */
typedef bool (*image_in_use_fn)(void *data, const char *image_id,
                                char who[65]);
void image_store_set_in_use(struct image_store *s, image_in_use_fn fn,
                            void *data);

/* Resolve a reference ("busybox", "busybox:latest", "sha256:<id>", a
 * unique ID prefix) to an image. On success *id_out is "sha256:<hex>"
 * (malloc'd), *config_out the image config (new reference: the
 * {"architecture","os","config":{Env,Cmd,Entrypoint,WorkingDir,User,...},
 * "rootfs":{...},"history":[...]} document), and *layers_out a
 * NULL-terminated malloc'd array of malloc'd absolute paths to the layer
 * diff directories, lowest layer first (free with image_store_free_dirs).
 * Any out pointer may be NULL. Not found: ERR_NOTFOUND with Docker's
 * "No such image: <ref>". */
int image_store_resolve(struct image_store *s, const char *ref, char **id_out,
                        json_t **config_out, char ***layers_out,
                        struct err *err);
void image_store_free_dirs(char **dirs);

/* Completion of an asynchronous operation: status 0 or -code with err;
 * fires exactly once per accepted operation, on the loop thread. err and
 * result are lent for the call. */
typedef void (*image_done_cb)(void *data, int status, const struct err *err,
                              json_t *result);

/* The Engine API operations (api/api_images.c calls these). */
/* The operations below that take a callback return 0 once the operation
 * is queued (cb fires later) or -code with err (cb never fires). Input
 * files stay the caller's: they may be removed once cb fired. */
/* POST /images/create?fromSrc=-: tar_path is a rootfs tarball (plain or
 * gzip/xz/bzip2); repo_tag may be NULL; changes are Dockerfile-like lines
 * ("CMD ...", "ENV ..."); result is a JSON string "sha256:<id>". */
int image_store_import(struct image_store *s, const char *tar_path,
                       const char *repo_tag, const json_t *changes,
                       const char *message, image_done_cb cb, void *data,
                       struct err *err);
/* POST /images/load: a docker-save archive or an OCI layout; result is
 * an array of strings ("Loaded image: busybox:latest" /
 * "Loaded image ID: sha256:..."). */
int image_store_load(struct image_store *s, const char *tar_path,
                     image_done_cb cb, void *data, struct err *err);
/* GET /images/get?names=..: writes a docker-save archive of refs to
 * out_path; result NULL. */
int image_store_save(struct image_store *s, const char *const *refs,
                     const char *out_path, image_done_cb cb, void *data,
                     struct err *err);
/* A fresh path under the store's temp directory (<data-root>/image/
 * overlay2/tmp, emptied at open) for a save archive; malloc'd. */
char *image_store_tmp_path(struct image_store *s, const char *suffix);
/* GET /images/json (Engine shape; filters as parsed by api_filters_parse,
 * may be NULL) and GET /images/{name}/json: new references. */
json_t *image_store_list(struct image_store *s, bool all,
                         const json_t *filters, struct err *err);
json_t *image_store_inspect(struct image_store *s, const char *ref,
                            struct err *err);
/* POST /images/{name}/tag. */
int image_store_tag(struct image_store *s, const char *ref, const char *repo,
                    const char *tag, struct err *err);
/* DELETE /images/{name}: result array [{"Untagged":..},{"Deleted":..}]
 * as Docker answers, or Docker's conflict texts. */
json_t *image_store_remove(struct image_store *s, const char *ref, bool force,
                           bool noprune, struct err *err);

#endif

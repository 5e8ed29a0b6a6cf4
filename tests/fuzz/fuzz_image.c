/* SPDX-License-Identifier: Apache-2.0 */
/* Image tarballs (engine/image_*.c): bit 0 of the first byte picks an
 * import of a rootfs tarball (POST /images/create?fromSrc=-) or a load of
 * a docker-save archive (POST /images/load); the rest is the tarball. Each
 * input goes into a fresh data root, which must open again afterwards and
 * list what was stored. Runs in a mount namespace where only the scratch
 * directory is writable (layers are written as root). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <jansson.h>
#include <uv.h>

#include "base/err.h"
#include "engine/image_store.h"
#include "fuzz_util.h"

static uv_loop_t loop;
static char *scratch;

struct done
{
    bool fired;
    int status;
};

static void on_done(void *data, int status, const struct err *err,
                    json_t *result)
{
    struct done *d = data;

    if (d->fired || (status != 0 && err->msg[0] == '\0') ||
        (status == 0 && result == NULL))
        abort();
    if (getenv("FUZZ_VERBOSE") != NULL)
        fprintf(stderr, "fuzz_image: %d %s\n", status,
                status != 0 ? err->msg : "ok");
    d->fired = true;
    d->status = status;
}

static void cleanup(void)
{
    fuzz_rm_rf(scratch);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet();
    scratch = fuzz_tmpdir("fuzz-image");
    atexit(cleanup);
    fuzz_sandbox_fs(scratch);
    uv_loop_init(&loop);
    return 0;
}

static void write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "w");

    if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char root[4200];
    char tar[4300];
    struct image_store *s;
    struct done d = {false, 0};
    struct err err;
    json_t *list;
    int rv;

    if (size < 1)
        return 0;
    snprintf(root, sizeof(root), "%s/root", scratch);
    snprintf(tar, sizeof(tar), "%s/in.tar", scratch);
    fuzz_rm_rf(root);
    write_file(tar, data + 1, size - 1);
    err_clear(&err);
    s = image_store_open(&loop, root, &err);
    if (s == NULL)
        abort();
    if (data[0] & 1)
        rv = image_store_load(s, tar, on_done, &d, &err);
    else
        rv = image_store_import(s, tar, (data[0] & 2) ? "fuzz:latest" : NULL,
                                NULL, NULL, on_done, &d, &err);
    if (rv == 0) {
        uv_run(&loop, UV_RUN_DEFAULT);
        if (!d.fired)
            abort();
    }
    image_store_free(s);

    /* What was stored must read back. */
    s = image_store_open(&loop, root, &err);
    if (s == NULL)
        abort();
    list = image_store_list(s, true, NULL, &err);
    if (list == NULL || (d.status == 0 && rv == 0 && json_array_size(list) == 0))
        abort();
    json_decref(list);
    image_store_free(s);
    fuzz_rm_rf(root);
    return 0;
}

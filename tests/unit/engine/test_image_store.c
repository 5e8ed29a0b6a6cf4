/* SPDX-License-Identifier: Apache-2.0 */
/* The image store: import, hostile tarballs, save/load, tag/rm/in-use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>

#include "base/err.h"
#include "base/fsutil.h"
#include "base/mem.h"
#include "engine/image_store.h"

/* Fixture */

struct fx
{
    uv_loop_t loop;
    char root[64];
    struct image_store *s;
    /* last completion */
    bool done;
    int status;
    struct err err;
    json_t *result;
    char in_use_by[65]; /* "" : nothing uses images */
};

static int fx_setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof(*f));
    struct err err;

    uv_loop_init(&f->loop);
    snprintf(f->root, sizeof(f->root), "/tmp/test-image-XXXXXX");
    assert_non_null(mkdtemp(f->root));
    f->s = image_store_open(&f->loop, f->root, &err);
    assert_non_null(f->s);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    struct err err;
    char *cmd;

    image_store_free(f->s);
    json_decref(f->result);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    cmd = xasprintf("%s", f->root);
    fsutil_empty_dir(cmd, &err);
    rmdir(cmd);
    free(cmd);
    free(f);
    return 0;
}

static void fx_done(void *data, int status, const struct err *err,
                    json_t *result)
{
    struct fx *f = data;

    f->done = true;
    f->status = status;
    if (err != NULL)
        f->err = *err;
    json_decref(f->result);
    f->result = json_incref(result);
}

/* Run the loop until the operation completed (bounded by the loop having
 * nothing left to do). */
static int fx_wait(struct fx *f)
{
    while (!f->done && uv_run(&f->loop, UV_RUN_ONCE) != 0)
        ;
    assert_true(f->done);
    f->done = false;
    return f->status;
}

static bool fx_in_use(void *data, const char *image_id, char who[65])
{
    struct fx *f = data;

    (void)image_id;
    if (f->in_use_by[0] == '\0')
        return false;
    snprintf(who, 65, "%s", f->in_use_by);
    return true;
}

/* Tarballs */

struct ent
{
    const char *name;
    mode_t type;      /* AE_IFREG ... ; 0 ends the list */
    const char *data; /* file content, or link target */
    bool hard;        /* data is a hard link target */
    dev_t rdev;
    mode_t perm;
};

static char *mk_tar(struct fx *f, const char *name, const struct ent *e,
                    const char *filter)
{
    char *path = xasprintf("%s/%s", f->root, name);
    struct archive *a = archive_write_new();
    size_t i;

    archive_write_set_format_pax_restricted(a);
    if (filter != NULL)
        archive_write_add_filter_by_name(a, filter);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (i = 0; e[i].type != 0; i++) {
        struct archive_entry *ae = archive_entry_new();
        size_t len = e[i].type == AE_IFREG && !e[i].hard && e[i].data
                         ? strlen(e[i].data) : 0;

        archive_entry_set_pathname(ae, e[i].name);
        archive_entry_set_filetype(ae, e[i].type);
        archive_entry_set_perm(ae, e[i].perm ? e[i].perm : 0644);
        archive_entry_set_size(ae, (la_int64_t)len);
        archive_entry_set_mtime(ae, 1700000000, 0);
        if (e[i].type == AE_IFLNK)
            archive_entry_set_symlink(ae, e[i].data);
        if (e[i].hard) {
            archive_entry_set_hardlink(ae, e[i].data);
            archive_entry_set_size(ae, 0);
        }
        if (e[i].type == AE_IFCHR || e[i].type == AE_IFBLK)
            archive_entry_set_rdev(ae, e[i].rdev);
        assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
        if (len > 0)
            archive_write_data(a, e[i].data, len);
        archive_entry_free(ae);
    }
    archive_write_close(a);
    archive_write_free(a);
    return path;
}

static const struct ent good[] = {
    {"./", AE_IFDIR, NULL, false, 0, 0755},
    {"bin/", AE_IFDIR, NULL, false, 0, 0755},
    {"bin/busybox", AE_IFREG, "#!binary", false, 0, 04755},
    {"bin/sh", AE_IFLNK, "busybox", false, 0, 0777},
    {"bin/abs", AE_IFLNK, "/bin/busybox", false, 0, 0777},
    {"bin/ash", AE_IFREG, "bin/busybox", true, 0, 0755},
    {"etc/passwd", AE_IFREG, "root:x:0:0::/root:/bin/sh\n", false, 0, 0},
    {"run/fifo", AE_IFIFO, NULL, false, 0, 0600},
    {"var/.wh.gone", AE_IFREG, "", false, 0, 0},
    {"opq/.wh..wh..opq", AE_IFREG, "", false, 0, 0},
    {NULL, 0, NULL, false, 0, 0},
};

/* Assertions */

static int count_entries(const char *dir)
{
    char *cmd = xasprintf("ls -A %s | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;

    assert_non_null(p);
    assert_int_equal(fscanf(p, "%d", &n), 1);
    pclose(p);
    free(cmd);
    return n;
}

/* Nothing left behind: no layer, no cache dir, no temp file, no image. */
static void assert_empty_store(struct fx *f)
{
    char *p;
    json_t *list;
    struct err err;

    p = xasprintf("%s/overlay2", f->root);
    assert_int_equal(count_entries(p), 0);
    free(p);
    p = xasprintf("%s/image/overlay2/layerdb/sha256", f->root);
    assert_int_equal(count_entries(p), 0);
    free(p);
    p = xasprintf("%s/image/overlay2/tmp", f->root);
    assert_int_equal(count_entries(p), 0);
    free(p);
    p = xasprintf("%s/image/overlay2/imagedb/content/sha256", f->root);
    assert_int_equal(count_entries(p), 0);
    free(p);
    list = image_store_list(f->s, false, NULL, &err);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
}

static int do_import(struct fx *f, const char *tar, const char *tag,
                     json_t *changes)
{
    struct err err;
    int rv = image_store_import(f->s, tar, tag, changes, NULL, fx_done, f,
                                &err);

    if (rv != 0) {
        f->err = err;
        return rv;
    }
    return fx_wait(f);
}

/* Tests */

static void test_import_good(void **state)
{
    struct fx *f = *state;
    char *tar = mk_tar(f, "good.tar", good, "gzip");
    json_t *changes = json_pack("[s,s,s,s,s,s,s]", "CMD [\"sh\"]",
                                "ENV A=b C=\"d e\"", "WORKDIR /w",
                                "ENTRYPOINT /bin/x", "USER nobody",
                                "EXPOSE 80 53/udp", "LABEL k=v");
    char *id = NULL;
    json_t *config = NULL;
    char **dirs = NULL;
    struct err err;
    struct stat st;
    char *p;
    char val[4] = "";
    json_t *cfg;

    assert_int_equal(do_import(f, tar, "busybox", changes), 0);
    assert_true(json_is_string(f->result));
    assert_int_equal(image_store_resolve(f->s, "busybox:latest", &id,
                                         &config, &dirs, &err), 0);
    assert_string_equal(id, json_string_value(f->result));
    cfg = json_object_get(config, "config");
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(cfg, "Cmd"), 0)), "sh");
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(cfg, "Env"), 1)), "C=d e");
    assert_string_equal(json_string_value(json_object_get(cfg, "WorkingDir")),
                        "/w");
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(cfg, "Entrypoint"), 2)),
                        "/bin/x");
    assert_non_null(json_object_get(json_object_get(cfg, "ExposedPorts"),
                                    "53/udp"));
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(cfg, "Labels"), "k")), "v");
    assert_non_null(dirs[0]);
    assert_null(dirs[1]);
    /* setuid kept, symlinks, hard link, fifo, whiteouts */
    p = xasprintf("%s/bin/busybox", dirs[0]);
    assert_int_equal(lstat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 04755);
    free(p);
    p = xasprintf("%s/bin/ash", dirs[0]);
    assert_int_equal(lstat(p, &st), 0);
    assert_int_equal(st.st_nlink, 2);
    free(p);
    p = xasprintf("%s/bin/abs", dirs[0]);
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    free(p);
    p = xasprintf("%s/run/fifo", dirs[0]);
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    free(p);
    p = xasprintf("%s/var/gone", dirs[0]);
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(st.st_rdev, makedev(0, 0));
    free(p);
    p = xasprintf("%s/var/.wh.gone", dirs[0]);
    assert_int_not_equal(lstat(p, &st), 0);
    free(p);
    p = xasprintf("%s/opq", dirs[0]);
    assert_int_equal(getxattr(p, "trusted.overlay.opaque", val, 3), 1);
    assert_int_equal(val[0], 'y');
    free(p);
    /* Short ID prefix and sha256: prefix resolve too. */
    {
        char pre[20];

        snprintf(pre, sizeof(pre), "%.12s", id + 7);
        assert_int_equal(image_store_resolve(f->s, pre, NULL, NULL, NULL,
                                             &err), 0);
        snprintf(pre, sizeof(pre), "%.17s", id);
        assert_int_equal(image_store_resolve(f->s, pre, NULL, NULL, NULL,
                                             &err), 0);
    }
    assert_int_equal(image_store_resolve(f->s, "nope", NULL, NULL, NULL,
                                         &err), -ERR_NOTFOUND);
    assert_string_equal(err.msg, "No such image: nope");
    image_store_free_dirs(dirs);
    json_decref(config);
    json_decref(changes);
    free(id);
    free(tar);
}

static void check_refused(struct fx *f, const struct ent *e,
                          const char *filter, const char *want)
{
    char *tar = mk_tar(f, "bad.tar", e, filter);

    assert_int_not_equal(do_import(f, tar, "bad", NULL), 0);
    assert_int_equal(f->err.code, ERR_INVALID);
    if (strstr(f->err.msg, want) == NULL)
        fail_msg("error [%s] lacks [%s]", f->err.msg, want);
    unlink(tar);
    free(tar);
    assert_empty_store(f);
}

static void test_import_hostile(void **state)
{
    struct fx *f = *state;
    static const struct ent abs_path[] = {
        {"ok", AE_IFREG, "x", false, 0, 0},
        {"/etc/evil", AE_IFREG, "x", false, 0, 0},
        {NULL, 0, NULL, false, 0, 0}};
    static const struct ent dotdot[] = {
        {"a/../../evil", AE_IFREG, "x", false, 0, 0},
        {NULL, 0, NULL, false, 0, 0}};
    static const struct ent sym_out[] = {
        {"a/l", AE_IFLNK, "../../../etc", false, 0, 0},
        {NULL, 0, NULL, false, 0, 0}};
    static const struct ent sym_through[] = {
        {"l", AE_IFLNK, "/tmp", false, 0, 0},
        {"l/evil", AE_IFREG, "x", false, 0, 0},
        {NULL, 0, NULL, false, 0, 0}};
    static const struct ent hard_out[] = {
        {"h", AE_IFREG, "../etc/passwd", true, 0, 0},
        {NULL, 0, NULL, false, 0, 0}};
    static const struct ent hard_abs[] = {
        {"h", AE_IFREG, "/etc/passwd", true, 0, 0},
        {NULL, 0, NULL, false, 0, 0}};
    static const struct ent blockdev[] = {
        {"dev/sda", AE_IFBLK, NULL, false, 0x801, 0600},
        {NULL, 0, NULL, false, 0, 0}};
    static const struct ent chardev[] = {
        {"dev/null", AE_IFCHR, NULL, false, 0x103, 0666},
        {NULL, 0, NULL, false, 0, 0}};

    check_refused(f, abs_path, NULL, "absolute path");
    check_refused(f, dotdot, NULL, "leaves the root");
    check_refused(f, sym_out, NULL, "symbolic link to \"../../../etc\"");
    check_refused(f, sym_through, "gzip", "through the symbolic link");
    check_refused(f, hard_out, NULL, "leaves the root");
    check_refused(f, hard_abs, NULL, "absolute path");
    check_refused(f, blockdev, "xz", "device nodes are not allowed");
    check_refused(f, chardev, "bzip2", "device nodes are not allowed");
    assert_false(fsutil_exists("/tmp/evil"));
}

static void truncate_half(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(truncate(path, st.st_size / 2), 0);
}

static void test_import_corrupt(void **state)
{
    struct fx *f = *state;
    static const struct ent big[] = {
        {"a", AE_IFREG,
         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
         false, 0, 0},
        {"b", AE_IFREG, "more", false, 0, 0},
        {NULL, 0, NULL, false, 0, 0}};
    char *tar;
    char *junk = xasprintf("%s/junk.tar", f->root);

    tar = mk_tar(f, "trunc.tar", big, NULL);
    truncate_half(tar);
    assert_int_not_equal(do_import(f, tar, NULL, NULL), 0);
    assert_int_equal(f->err.code, ERR_INVALID);
    assert_empty_store(f);
    unlink(tar);
    free(tar);
    tar = mk_tar(f, "trunc.tgz", big, "gzip");
    truncate_half(tar);
    assert_int_not_equal(do_import(f, tar, NULL, NULL), 0);
    assert_int_equal(f->err.code, ERR_INVALID);
    assert_empty_store(f);
    unlink(tar);
    free(tar);
    {
        char text[1024];

        memset(text, 'x', sizeof(text));
        memcpy(text, "this is no tarball", 18);
        assert_int_equal(fsutil_write_atomic(junk, text, sizeof(text), 0600,
                                             NULL), 0);
    }
    assert_int_not_equal(do_import(f, junk, NULL, NULL), 0);
    assert_int_equal(f->err.code, ERR_INVALID);
    assert_empty_store(f);
    unlink(junk);
    free(junk);
}

static void test_bad_changes_and_refs(void **state)
{
    struct fx *f = *state;
    char *tar = mk_tar(f, "good.tar", good, NULL);
    json_t *bad = json_pack("[s]", "RUN rm -rf /");
    struct err err;

    assert_int_equal(image_store_import(f->s, tar, NULL, bad, NULL, fx_done,
                                        f, &err), -ERR_INVALID);
    assert_string_equal(err.msg, "run is not a valid change command");
    assert_int_equal(image_store_import(f->s, tar, "Busy:x", NULL, NULL,
                                        fx_done, f, &err), -ERR_INVALID);
    assert_string_equal(err.msg, "invalid reference format: repository "
                                 "name (Busy) must be lowercase");
    assert_int_equal(image_store_import(f->s, tar, "a:b:c", NULL, NULL,
                                        fx_done, f, &err), -ERR_INVALID);
    assert_string_equal(err.msg, "invalid reference format");
    assert_empty_store(f);
    json_decref(bad);
    free(tar);
}

static void test_tag_rm_in_use(void **state)
{
    struct fx *f = *state;
    char *tar = mk_tar(f, "good.tar", good, NULL);
    char *id;
    char want[300];
    struct err err;
    json_t *out;
    json_t *list;

    image_store_set_in_use(f->s, fx_in_use, f);
    assert_int_equal(do_import(f, tar, "busybox", NULL), 0);
    id = xstrdup(json_string_value(f->result));
    assert_int_equal(image_store_tag(f->s, "busybox", "docker.io/library/bb",
                                     "v1", &err), 0);
    assert_int_equal(image_store_tag(f->s, "nothere", "x", NULL, &err),
                     -ERR_NOTFOUND);
    list = image_store_list(f->s, false, NULL, &err);
    assert_int_equal(json_array_size(json_object_get(json_array_get(list, 0),
                                                     "RepoTags")), 2);
    json_decref(list);
    /* By ID with two tags: must force. */
    out = image_store_remove(f->s, id + 7, false, false, &err);
    assert_null(out);
    assert_int_equal(err.code, ERR_CONFLICT);
    snprintf(want, sizeof(want), "conflict: unable to delete %.12s (must be "
             "forced) - image is referenced in multiple repositories",
             id + 7);
    assert_string_equal(err.msg, want);
    /* One tag of two: untag only. */
    out = image_store_remove(f->s, "bb:v1", false, false, &err);
    assert_non_null(out);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(out, 0), "Untagged")), "bb:v1");
    assert_int_equal(json_array_size(out), 1);
    json_decref(out);
    /* Last tag, a container uses it. */
    snprintf(f->in_use_by, sizeof(f->in_use_by), "%s",
             "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
             "ef");
    out = image_store_remove(f->s, "busybox", false, false, &err);
    assert_null(out);
    assert_int_equal(err.code, ERR_CONFLICT);
    snprintf(want, sizeof(want), "conflict: unable to remove repository "
             "reference \"busybox\" (must force) - container 0123456789ab is "
             "using its referenced image %.12s", id + 7);
    assert_string_equal(err.msg, want);
    f->in_use_by[0] = '\0';
    out = image_store_remove(f->s, "busybox", false, false, &err);
    assert_non_null(out);
    assert_int_equal(json_array_size(out), 3); /* untag, image, layer */
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(out, 1), "Deleted")), id);
    json_decref(out);
    assert_null(image_store_remove(f->s, "busybox", false, false, &err));
    assert_string_equal(err.msg, "No such image: busybox");
    assert_empty_store(f);
    free(id);
    free(tar);
}

static int do_save(struct fx *f, const char *ref, const char *out)
{
    const char *refs[] = {ref, NULL};
    struct err err;
    int rv = image_store_save(f->s, refs, out, fx_done, f, &err);

    if (rv != 0) {
        f->err = err;
        return rv;
    }
    return fx_wait(f);
}

static int do_load(struct fx *f, const char *path)
{
    struct err err;
    int rv = image_store_load(f->s, path, fx_done, f, &err);

    if (rv != 0) {
        f->err = err;
        return rv;
    }
    return fx_wait(f);
}

static void test_save_load_round_trip(void **state)
{
    struct fx *f = *state;
    char *tar = mk_tar(f, "good.tar", good, "gzip");
    char *saved = xasprintf("%s/saved.tar", f->root);
    char *id;
    char *id2 = NULL;
    struct err err;
    json_t *out;

    assert_int_equal(do_import(f, tar, "busybox:1", NULL), 0);
    id = xstrdup(json_string_value(f->result));
    assert_int_equal(do_save(f, "busybox:1", saved), 0);
    out = image_store_remove(f->s, "busybox:1", false, false, &err);
    json_decref(out);
    assert_empty_store(f);
    assert_int_equal(do_load(f, saved), 0);
    assert_string_equal(json_string_value(json_array_get(f->result, 0)),
                        "Loaded image: busybox:1");
    assert_int_equal(image_store_resolve(f->s, "busybox:1", &id2, NULL, NULL,
                                         &err), 0);
    assert_string_equal(id, id2);
    /* Loading again keeps one layer. */
    assert_int_equal(do_load(f, saved), 0);
    {
        char *p = xasprintf("%s/overlay2", f->root);

        assert_int_equal(count_entries(p), 1);
        free(p);
    }
    assert_int_equal(do_save(f, "nope", saved), -ERR_NOTFOUND);
    assert_string_equal(f->err.msg, "No such image: nope");
    free(id);
    free(id2);
    free(saved);
    free(tar);
}

static void check_load_refused(struct fx *f, const struct ent *e,
                               const char *want)
{
    char *tar = mk_tar(f, "load.tar", e, NULL);

    assert_int_not_equal(do_load(f, tar), 0);
    if (strstr(f->err.msg, want) == NULL)
        fail_msg("error [%s] lacks [%s]", f->err.msg, want);
    assert_empty_store(f);
    unlink(tar);
    free(tar);
}

static void test_load_hostile(void **state)
{
    struct fx *f = *state;
    static const char layer_tar_hex[] =
        "0000000000000000000000000000000000000000000000000000000000000000";
    char cfg[512];
    char cfgname[128];
    char manifest[512];
    char *big;
    struct ent e[6];
    char digest_cfg[72];

    (void)layer_tar_hex;
    /* manifest.json referencing missing files */
    memset(e, 0, sizeof(e));
    e[0] = (struct ent){"manifest.json", AE_IFREG,
                        "[{\"Config\":\"c.json\",\"RepoTags\":[\"x:1\"],"
                        "\"Layers\":[\"l/layer.tar\"]}]", false, 0, 0};
    check_load_refused(f, e, "c.json is missing");
    /* a layer whose content does not match the config's diff ID */
    snprintf(cfg, sizeof(cfg),
             "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},"
             "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:%s\"]}}",
             "1111111111111111111111111111111111111111111111111111111111111111");
    e[0] = (struct ent){"manifest.json", AE_IFREG,
                        "[{\"Config\":\"c.json\",\"RepoTags\":[\"x:1\"],"
                        "\"Layers\":[\"l/layer.tar\"]}]", false, 0, 0};
    e[1] = (struct ent){"c.json", AE_IFREG, cfg, false, 0, 0};
    e[2] = (struct ent){"l/layer.tar", AE_IFREG, "other bytes", false, 0, 0};
    check_load_refused(f, e, "the image config expects");
    /* a config whose name is not its digest */
    memset(digest_cfg, '2', 64);
    digest_cfg[64] = '\0';
    snprintf(cfgname, sizeof(cfgname), "blobs/sha256/%s", digest_cfg);
    snprintf(manifest, sizeof(manifest),
             "[{\"Config\":\"%s\",\"Layers\":[\"l/layer.tar\"]}]", cfgname);
    e[0] = (struct ent){"manifest.json", AE_IFREG, manifest, false, 0, 0};
    e[1] = (struct ent){cfgname, AE_IFREG, cfg, false, 0, 0};
    check_load_refused(f, e, "has digest");
    /* oversize manifest.json */
    big = xmalloc((1 << 20) + 16);
    memset(big, ' ', (1 << 20) + 15);
    big[0] = '[';
    big[(1 << 20) + 14] = ']';
    big[(1 << 20) + 15] = '\0';
    memset(e, 0, sizeof(e));
    e[0] = (struct ent){"manifest.json", AE_IFREG, big, false, 0, 0};
    check_load_refused(f, e, "larger than");
    free(big);
    /* outer archive escaping its stage */
    memset(e, 0, sizeof(e));
    e[0] = (struct ent){"manifest.json", AE_IFLNK, "/etc/passwd", false, 0,
                        0};
    check_load_refused(f, e, "leaves the root");
    e[0] = (struct ent){"../manifest.json", AE_IFREG, "[]", false, 0, 0};
    check_load_refused(f, e, "leaves the root");
    /* neither format */
    e[0] = (struct ent){"hello", AE_IFREG, "x", false, 0, 0};
    check_load_refused(f, e, "neither manifest.json nor index.json");
}

static void test_reopen_keeps_index(void **state)
{
    struct fx *f = *state;
    char *tar = mk_tar(f, "good.tar", good, NULL);
    struct err err;
    char *id;
    char *id2 = NULL;

    assert_int_equal(do_import(f, tar, "keep:me", NULL), 0);
    id = xstrdup(json_string_value(f->result));
    image_store_free(f->s);
    f->s = image_store_open(&f->loop, f->root, &err);
    assert_non_null(f->s);
    assert_int_equal(image_store_resolve(f->s, "keep:me", &id2, NULL, NULL,
                                         &err), 0);
    assert_string_equal(id, id2);
    free(id);
    free(id2);
    free(tar);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_import_good, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_import_hostile, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_import_corrupt, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_changes_and_refs, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_tag_rm_in_use, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_save_load_round_trip, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_load_hostile, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_index, fx_setup,
                                        fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

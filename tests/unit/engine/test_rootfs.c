/* SPDX-License-Identifier: Apache-2.0 */
/* The overlay root of a container, mounted for real (root only): layer
 * order, whiteouts, writes landing in the upper directory, many layers
 * with long paths, no layer, and unmounts that leave nothing behind. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/fsutil.h"
#include "base/mem.h"
#include "engine/rootfs.h"

/* ---- fixture ---- */

struct fixture
{
    char dir[64];
    char cdir[128];
    char upper[128];
    char target[160];
};

static int setup(void **state)
{
    struct fixture *f;

    if (geteuid() != 0) {
        print_message("test_rootfs: not root, skipped\n");
        skip();
    }
    f = xcalloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_rootfs.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->cdir, sizeof(f->cdir), "%s/ctr", f->dir);
    snprintf(f->upper, sizeof(f->upper), "%s/upper", f->dir);
    snprintf(f->target, sizeof(f->target), "%s/rootfs", f->cdir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];

    assert_int_equal(rootfs_unmount(f->cdir, NULL), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* ---- helpers ---- */

static void write_file(const char *dir, const char *name, const char *text)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    free(path);
}

/* The file's text, or NULL when it does not exist. */
static char *read_file(const char *dir, const char *name)
{
    char *path = xasprintf("%s/%s", dir, name);
    char *text = NULL;
    size_t len;

    if (fsutil_read_all(path, 4096, &text, &len, NULL) < 0)
        text = NULL;
    free(path);
    return text;
}

static void assert_file(const char *dir, const char *name, const char *text)
{
    char *got = read_file(dir, name);

    if (got == NULL)
        fail_msg("%s/%s missing", dir, name);
    assert_string_equal(got, text);
    free(got);
}

/* How many mounts /proc/self/mountinfo lists at path. */
static int mounts_at(const char *path)
{
    FILE *fp = fopen("/proc/self/mountinfo", "r");
    char line[4096];
    char mp[4096];
    int n = 0;

    assert_non_null(fp);
    while (fgets(line, sizeof(line), fp) != NULL) {
        if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 &&
            strcmp(mp, path) == 0)
            n++;
    }
    fclose(fp);
    return n;
}

static char *make_layer(const char *dir, const char *name)
{
    char *path = xasprintf("%s/%s", dir, name);

    assert_int_equal(fsutil_mkdir_p(path, 0755, NULL), 0);
    return path;
}

/* ---- tests ---- */

static void test_two_layers(void **state)
{
    struct fixture *f = *state;
    char *low = make_layer(f->dir, "layers/low/diff");
    char *top = make_layer(f->dir, "layers/top/diff");
    char *lowers[3] = {low, top, NULL};
    char *wh = xasprintf("%s/gone", top);
    char *upper_diff = xasprintf("%s/diff", f->upper);
    char *text;
    struct err err;

    write_file(low, "base", "low\n");
    write_file(low, "shadowed", "low\n");
    write_file(low, "gone", "low\n");
    write_file(top, "shadowed", "top\n");
    /* An overlay whiteout: a 0:0 character device. */
    assert_int_equal(mknod(wh, S_IFCHR | 0600, makedev(0, 0)), 0);

    assert_int_equal(rootfs_mount(f->cdir, lowers, f->upper, &err), 0);
    assert_int_equal(mounts_at(f->target), 1);
    /* Idempotent: a second mount is a no-op. */
    assert_int_equal(rootfs_mount(f->cdir, lowers, f->upper, &err), 0);
    assert_int_equal(mounts_at(f->target), 1);
    assert_file(f->target, "base", "low\n");
    assert_file(f->target, "shadowed", "top\n");
    text = read_file(f->target, "gone");
    assert_null(text);
    /* A write lands in the upper directory, the layers stay as they were. */
    write_file(f->target, "base", "changed\n");
    write_file(f->target, "new", "new\n");
    assert_file(f->target, "base", "changed\n");
    assert_file(upper_diff, "base", "changed\n");
    assert_file(upper_diff, "new", "new\n");
    assert_file(low, "base", "low\n");

    assert_int_equal(rootfs_unmount(f->cdir, &err), 0);
    assert_int_equal(mounts_at(f->target), 0);
    assert_null(read_file(f->target, "base"));
    /* Unmounting again, or a container that never had a root: fine. */
    assert_int_equal(rootfs_unmount(f->cdir, &err), 0);
    assert_int_equal(rootfs_unmount("/nonexistent/dir", &err), 0);
    /* Mounted again, the container's changes are still there. */
    assert_int_equal(rootfs_mount(f->cdir, lowers, f->upper, &err), 0);
    assert_file(f->target, "base", "changed\n");
    assert_file(f->target, "new", "new\n");
    assert_int_equal(rootfs_unmount(f->cdir, &err), 0);
    assert_int_equal(mounts_at(f->target), 0);
    free(upper_diff);
    free(wh);
    free(top);
    free(low);
}

static void test_single_and_no_layer(void **state)
{
    struct fixture *f = *state;
    char *only = make_layer(f->dir, "only");
    char *lowers[2] = {only, NULL};
    char *none[1] = {NULL};
    struct err err;

    write_file(only, "a", "a\n");
    assert_int_equal(rootfs_mount(f->cdir, lowers, f->upper, &err), 0);
    assert_file(f->target, "a", "a\n");
    assert_int_equal(rootfs_unmount(f->cdir, &err), 0);

    assert_int_equal(rootfs_mount(f->cdir, none, f->upper, &err), 0);
    assert_int_equal(mounts_at(f->target), 1);
    write_file(f->target, "b", "b\n");
    assert_file(f->target, "b", "b\n");
    assert_int_equal(rootfs_unmount(f->cdir, &err), 0);
    assert_int_equal(mounts_at(f->target), 0);
    free(only);
}

/* 60 layers of ~150-byte paths: the option string is longer than a page. */
static void test_many_long_layers(void **state)
{
    struct fixture *f = *state;
    char *lowers[61];
    char name[256];
    struct err err;
    size_t total = 0;
    int i;

    for (i = 0; i < 60; i++) {
        snprintf(name, sizeof(name),
                 "overlay2/%02d%0120d/diff", i, 0);
        lowers[i] = make_layer(f->dir, name);
        total += strlen(lowers[i]) + 1;
        snprintf(name, sizeof(name), "layer%02d", i);
        write_file(lowers[i], name, "x\n");
        write_file(lowers[i], "top", name);
    }
    lowers[60] = NULL;
    assert_true(total > 4096);
    assert_int_equal(rootfs_mount(f->cdir, lowers, f->upper, &err), 0);
    assert_int_equal(mounts_at(f->target), 1);
    assert_file(f->target, "layer00", "x\n");
    assert_file(f->target, "layer59", "x\n");
    /* The last layer of the list is the top one. */
    assert_file(f->target, "top", "layer59");
    assert_int_equal(rootfs_unmount(f->cdir, &err), 0);
    assert_int_equal(mounts_at(f->target), 0);
    for (i = 0; i < 60; i++)
        free(lowers[i]);
}

static void test_bad_layers(void **state)
{
    struct fixture *f = *state;
    char m[] = "/nonexistent/layer";
    char r[] = "rel/layer";
    char c[] = "/tmp/a,b";
    char *missing[2] = {m, NULL};
    char *relative[2] = {r, NULL};
    char *comma[2] = {c, NULL};
    struct err err;

    assert_int_equal(rootfs_mount(f->cdir, missing, f->upper, &err), -ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent/layer"));
    assert_int_equal(rootfs_mount(f->cdir, relative, f->upper, &err),
                     -ERR_INVALID);
    assert_int_equal(rootfs_mount(f->cdir, comma, f->upper, &err),
                     -ERR_INVALID);
    assert_int_equal(mounts_at(f->target), 0);
}

/* Busy (a process has its cwd inside): detached, nothing left listed. */
static void test_unmount_busy(void **state)
{
    struct fixture *f = *state;
    char *only = make_layer(f->dir, "only");
    char *lowers[2] = {only, NULL};
    struct err err;
    int fd;

    assert_int_equal(rootfs_mount(f->cdir, lowers, f->upper, &err), 0);
    write_file(f->target, "held", "h\n");
    fd = open(f->target, O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    assert_int_equal(fchdir(fd), 0);
    assert_int_equal(rootfs_unmount(f->cdir, &err), 0);
    assert_int_equal(mounts_at(f->target), 0);
    assert_int_equal(chdir("/"), 0);
    close(fd);
    free(only);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_layers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_single_and_no_layer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_many_long_layers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_layers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unmount_busy, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* fsutil_openat2: the user space walk used without openat2 gives what
 * the kernel's openat2 gives, on a tree with inside, absolute, dangling
 * and escaping symlinks. Atomic replace with and without its fsyncs: same
 * content, mode, no temporary left behind; failures reported. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/fsutil.h"
#include "base/mem.h"

#define IN_ROOT (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)
#define BENEATH (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)

struct tree {
    char dir[64];
    int fd;
};

static void tree_file(int fd, const char *rel, const char *text)
{
    int f = openat(fd, rel, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    assert_true(f >= 0);
    assert_int_equal(write(f, text, strlen(text)), (ssize_t)strlen(text));
    close(f);
}

static int setup(void **state)
{
    struct tree *t = calloc(1, sizeof(*t));

    snprintf(t->dir, sizeof(t->dir), "/tmp/test_fsutil.XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    t->fd = open(t->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(t->fd >= 0);
    assert_int_equal(mkdirat(t->fd, "etc", 0755), 0);
    assert_int_equal(mkdirat(t->fd, "blobs", 0755), 0);
    assert_int_equal(mkdirat(t->fd, "blobs/sha256", 0755), 0);
    tree_file(t->fd, "etc/passwd", "inside\n");
    tree_file(t->fd, "blobs/sha256/aa", "layer\n");
    assert_int_equal(mkdirat(t->fd, "id", 0755), 0);
    assert_int_equal(symlinkat("../blobs/sha256/aa", t->fd, "id/layer.tar"),
                     0);
    assert_int_equal(symlinkat("/etc", t->fd, "abs"), 0);
    assert_int_equal(symlinkat("../../../../../../etc/passwd", t->fd, "up"),
                     0);
    assert_int_equal(symlinkat("nowhere", t->fd, "dangling"), 0);
    assert_int_equal(symlinkat("loop", t->fd, "loop"), 0);
    assert_int_equal(symlinkat("blobs", t->fd, "bl"), 0);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tree *t = *state;
    char cmd[128];

    close(t->fd);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
    assert_int_equal(system(cmd), 0);
    free(t);
    return 0;
}

/* Open path both ways: the same file (device and inode) or both fail. */
static void same_both_ways(struct tree *t, const char *path, int flags,
                           uint64_t resolve, bool ok)
{
    struct stat a;
    struct stat b;
    int fa;
    int fb;

    fsutil_testing_no_openat2(false);
    fa = fsutil_openat2(t->fd, path, flags, 0, resolve);
    fsutil_testing_no_openat2(true);
    fb = fsutil_openat2(t->fd, path, flags, 0, resolve);
    fsutil_testing_no_openat2(false);
    if (!ok) {
        assert_int_equal(fa, -1);
        assert_int_equal(fb, -1);
        return;
    }
    assert_true(fa >= 0);
    assert_true(fb >= 0);
    assert_int_equal(fstat(fa, &a), 0);
    assert_int_equal(fstat(fb, &b), 0);
    assert_int_equal(a.st_dev, b.st_dev);
    assert_int_equal(a.st_ino, b.st_ino);
    assert_true((fcntl(fb, F_GETFD) & FD_CLOEXEC) != 0);
    close(fa);
    close(fb);
}

static void test_in_root_matches_kernel(void **state)
{
    struct tree *t = *state;

    same_both_ways(t, "etc/passwd", O_RDONLY, IN_ROOT, true);
    same_both_ways(t, "./etc//passwd", O_RDONLY, IN_ROOT, true);
    same_both_ways(t, "/etc/passwd", O_RDONLY, IN_ROOT, true);
    same_both_ways(t, "../../etc/passwd", O_RDONLY, IN_ROOT, true);
    same_both_ways(t, "id/layer.tar", O_RDONLY, IN_ROOT, true);
    same_both_ways(t, "abs/passwd", O_RDONLY, IN_ROOT, true);
    same_both_ways(t, "up", O_RDONLY, IN_ROOT, true);
    same_both_ways(t, "bl/sha256/../sha256/aa", O_RDONLY, IN_ROOT, true);
    same_both_ways(t, "", O_RDONLY, IN_ROOT, false);
    same_both_ways(t, ".", O_RDONLY | O_DIRECTORY, IN_ROOT, true);
    same_both_ways(t, "dangling", O_RDONLY, IN_ROOT, false);
    same_both_ways(t, "loop", O_RDONLY, IN_ROOT, false);
    same_both_ways(t, "etc/passwd/x", O_RDONLY, IN_ROOT, false);
    same_both_ways(t, "missing", O_RDONLY, IN_ROOT, false);
    same_both_ways(t, "etc/passwd/", O_RDONLY, IN_ROOT, false);
    same_both_ways(t, "id/layer.tar/", O_RDONLY, IN_ROOT, false);
    same_both_ways(t, "abs/", O_RDONLY, IN_ROOT, true);
    same_both_ways(t, "bl", O_RDONLY, IN_ROOT, true);
}

static void test_beneath_one_component(void **state)
{
    struct tree *t = *state;

    same_both_ways(t, "etc", O_RDONLY | O_DIRECTORY, BENEATH, true);
    same_both_ways(t, ".", O_RDONLY | O_DIRECTORY, BENEATH, true);
    same_both_ways(t, "..", O_RDONLY | O_DIRECTORY, BENEATH, false);
    same_both_ways(t, "abs", O_RDONLY | O_DIRECTORY, BENEATH, false);
    same_both_ways(t, "bl", O_RDONLY | O_DIRECTORY, BENEATH, false);
    same_both_ways(t, "up", O_RDONLY, BENEATH, false);
}

static void test_fallback_refuses_other_uses(void **state)
{
    struct tree *t = *state;

    fsutil_testing_no_openat2(true);
    errno = 0;
    assert_int_equal(fsutil_openat2(t->fd, "etc/passwd", O_RDONLY, 0,
                                    RESOLVE_BENEATH),
                     -1);
    assert_int_equal(errno, ENOSYS);
    assert_int_equal(fsutil_openat2(t->fd, "new", O_WRONLY | O_CREAT, 0600,
                                    IN_ROOT),
                     -1);
    assert_int_equal(errno, ENOSYS);
    fsutil_testing_no_openat2(false);
}

static void check_file(const char *path, const char *want, mode_t mode)
{
    struct stat st;
    struct err err;
    char *text = NULL;
    char *tmp = xasprintf("%s.tmp", path);
    size_t len = 0;

    err_clear(&err);
    assert_int_equal(fsutil_read_all(path, 1024, &text, &len, &err), 0);
    assert_int_equal(len, strlen(want));
    assert_string_equal(text, want);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, mode);
    assert_false(fsutil_exists(tmp));
    free(text);
    free(tmp);
}

static void test_write_flags(void **state)
{
    static const unsigned flags[] = {0, FSUTIL_NO_DIR_SYNC, FSUTIL_NO_SYNC};
    char dir[] = "/tmp/test_fsutil.XXXXXX";
    struct err err;
    char *path;
    char *missing;
    size_t i;

    (void)state;
    err_clear(&err);
    assert_non_null(mkdtemp(dir));
    path = xasprintf("%s/f", dir);
    missing = xasprintf("%s/no/f", dir);
    assert_int_equal(fsutil_write_atomic(path, "one", 3, 0600, &err), 0);
    check_file(path, "one", 0600);
    for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        char text[16];

        snprintf(text, sizeof(text), "v%zu", i);
        assert_int_equal(fsutil_write_atomic_ex(path, text, strlen(text),
                                                0644, flags[i], &err),
                         0);
        check_file(path, text, 0644);
        err_clear(&err);
        assert_int_equal(fsutil_write_atomic_ex(missing, "x", 1, 0600,
                                                flags[i], &err),
                         -ERR_IO);
        assert_non_null(strstr(err.msg, "/no/f.tmp"));
    }
    err_clear(&err);
    assert_int_equal(fsutil_fsync_dir(dir, &err), 0);
    assert_int_equal(fsutil_fsync_dir(missing, &err), -ERR_IO);
    assert_int_equal(fsutil_empty_dir(dir, &err), 0);
    assert_int_equal(rmdir(dir), 0);
    free(path);
    free(missing);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_root_matches_kernel),
        cmocka_unit_test(test_beneath_one_component),
        cmocka_unit_test(test_fallback_refuses_other_uses),
        cmocka_unit_test(test_write_flags),
    };

    return cmocka_run_group_tests_name("base/fsutil", tests, setup,
                                       teardown);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Atomic replace with and without its fsyncs: same content, mode, no
 * temporary left behind; failures reported. */
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
        cmocka_unit_test(test_write_flags),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

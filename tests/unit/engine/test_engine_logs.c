/* SPDX-License-Identifier: Apache-2.0 */
/* Multiplexed-stream framing and reading a json-file log (tail, since,
 * timestamps, stream selection) on a real loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/fsutil.h"
#include "base/mem.h"
#include "engine/engine_int.h"

#define ID "feedface00000000000000000000000000000000000000000000000000000000"

/* --- fixture --- */

struct fx
{
    uv_loop_t loop;
    struct engine e;
    char root[64];
    struct buf out;          /* "<stream>:<text>" records */
    bool ended;
};

static const char log_text[] =
    "{\"log\":\"one\\n\",\"stream\":\"stdout\",\"time\":"
    "\"2026-01-01T00:00:01.000000000Z\"}\n"
    "{\"log\":\"oops\\n\",\"stream\":\"stderr\",\"time\":"
    "\"2026-01-01T00:00:02.000000000Z\"}\n"
    "not json\n"
    "{\"log\":\"three\\n\",\"stream\":\"stdout\",\"time\":"
    "\"2026-01-01T00:00:03.5Z\"}\n"
    "{\"log\":\"partial";

static int setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof(*f));
    struct engine_ctr *c = xcalloc(1, sizeof(*c));
    struct err err;
    char *p;

    uv_loop_init(&f->loop);
    snprintf(f->root, sizeof(f->root), "/tmp/test_engine_logs.XXXXXX");
    assert_non_null(mkdtemp(f->root));
    f->e.loop = &f->loop;
    f->e.cdir_root = f->root;
    memcpy(c->id, ID, sizeof(c->id));
    c->name = xstrdup("/logger");
    c->e = &f->e;
    c->status = ENGINE_EXITED;
    f->e.ctrs = c;
    p = engine_state_dir(f->root, ID);
    assert_int_equal(fsutil_mkdir_p(p, 0700, &err), 0);
    free(p);
    p = engine_state_log_path(f->root, ID);
    assert_int_equal(fsutil_write_atomic(p, log_text, strlen(log_text), 0600,
                                         &err),
                     0);
    free(p);
    buf_init(&f->out, 1 << 20);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    struct err err;

    engine_state_free_ctr(f->e.ctrs);
    assert_int_equal(fsutil_empty_dir(f->root, &err), 0);
    rmdir(f->root);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    buf_release(&f->out);
    free(f);
    return 0;
}

static void on_output(void *data, int stream, const char *buf, size_t len)
{
    struct fx *f = data;

    if (stream == 0) {
        f->ended = true;
        return;
    }
    buf_printf(&f->out, "%d:%.*s", stream, (int)len, buf);
}

static const char *read_logs(struct fx *f, struct engine_logs_opts *o)
{
    struct err err;

    buf_reset(&f->out);
    f->ended = false;
    assert_non_null(engine_container_logs(&f->e, "logger", o, on_output, f,
                                          &err));
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_true(f->ended);
    return f->out.data ? f->out.data : "";
}

/* --- tests --- */

static void test_frame_header(void **state)
{
    unsigned char h[8];
    static const unsigned char want[8] = {2, 0, 0, 0, 0x01, 0x02, 0x03, 0x04};

    (void)state;
    engine_logs_frame_header(h, 2, 0x01020304);
    assert_memory_equal(h, want, 8);
    engine_logs_frame_header(h, 1, 5);
    assert_int_equal(h[0], 1);
    assert_int_equal(h[7], 5);
}

static void test_parse_line(void **state)
{
    const char *line = "{\"log\":\"a\\u0000b\\n\",\"stream\":\"stderr\","
                       "\"time\":\"2026-01-01T00:00:00Z\"}\n";
    const char *text;
    const char *time;
    size_t len;
    int stream;
    json_t *doc;

    (void)state;
    doc = engine_logs_parse_line(line, strlen(line), &stream, &text, &len,
                                 &time);
    assert_non_null(doc);
    assert_int_equal(stream, 2);
    assert_int_equal(len, 4);
    assert_memory_equal(text, "a\0b\n", 4);
    assert_string_equal(time, "2026-01-01T00:00:00Z");
    json_decref(doc);
    assert_null(engine_logs_parse_line("[1]", 3, &stream, &text, &len,
                                       &time));
    assert_null(engine_logs_parse_line("{\"log\":1}", 9, &stream, &text,
                                       &len, &time));
}

static void test_read_all_and_streams(void **state)
{
    struct fx *f = *state;
    struct engine_logs_opts o = {.out = true, .errs = true, .tail = -1};

    assert_string_equal(read_logs(f, &o), "1:one\n2:oops\n1:three\n");
    o.errs = false;
    assert_string_equal(read_logs(f, &o), "1:one\n1:three\n");
    o.errs = true;
    o.out = false;
    assert_string_equal(read_logs(f, &o), "2:oops\n");
}

static void test_tail_since_timestamps(void **state)
{
    struct fx *f = *state;
    struct engine_logs_opts o = {.out = true, .errs = true, .tail = 1};

    /* tail counts complete lines in the file (the bad one included). */
    assert_string_equal(read_logs(f, &o), "1:three\n");
    o.tail = 0;
    assert_string_equal(read_logs(f, &o), "");
    o.tail = -1;
    o.since = engine_view_parse_time("2026-01-01T00:00:02Z");
    assert_string_equal(read_logs(f, &o), "2:oops\n1:three\n");
    o.until = engine_view_parse_time("2026-01-01T00:00:02.5Z");
    assert_string_equal(read_logs(f, &o), "2:oops\n");
    o.since = 0;
    o.until = 0;
    o.timestamps = true;
    o.errs = false;
    assert_string_equal(read_logs(f, &o),
                        "1:2026-01-01T00:00:01.000000000Z one\n"
                        "1:2026-01-01T00:00:03.500000000Z three\n");
}

static void test_unknown_container(void **state)
{
    struct fx *f = *state;
    struct engine_logs_opts o = {.out = true, .tail = -1};
    struct err err;

    err_clear(&err);
    assert_null(engine_container_logs(&f->e, "nope", &o, on_output, f,
                                      &err));
    assert_int_equal(err.code, ERR_NOTFOUND);
    assert_string_equal(err.msg, "No such container: nope");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_header),
        cmocka_unit_test(test_parse_line),
        cmocka_unit_test_setup_teardown(test_read_all_and_streams, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tail_since_timestamps, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unknown_container, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

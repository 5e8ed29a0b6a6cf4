/* SPDX-License-Identifier: Apache-2.0 */
/* Plain streams: a socketpair, bytes both ways, EOF, close with writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/stream.h"

struct side
{
    struct buf got;
    ssize_t last;     /* last negative nread seen, 0 if none */
    int writes_done;
    int closed;
};

static void on_read(struct stream *s, ssize_t n, const char *data)
{
    struct side *d = s->data;

    if (n > 0)
        assert_int_equal(buf_append(&d->got, data, (size_t)n), 0);
    else
        d->last = n;
}

static void on_write(struct stream *s, int status, void *data)
{
    struct side *d = s->data;

    (void)data;
    assert_true(status == 0 || status == UV_ECANCELED);
    d->writes_done++;
}

static void on_close(struct stream *s, void *data)
{
    struct side *d = data;

    (void)s;
    d->closed++;
}

static void test_pair_echo_eof_close(void **state)
{
    uv_loop_t loop;
    struct stream *a;
    struct stream *b;
    struct side da;
    struct side db;
    struct err err;
    char *big = malloc(1 << 20);
    int i;

    (void)state;
    memset(&da, 0, sizeof(da));
    memset(&db, 0, sizeof(db));
    buf_init(&da.got, 4u << 20);
    buf_init(&db.got, 4u << 20);
    memset(big, 'x', 1 << 20);
    uv_loop_init(&loop);
    assert_int_equal(stream_uv_pair(&loop, &a, &b, &err), 0);
    a->data = &da;
    b->data = &db;
    assert_false(a->peer.verified);
    assert_int_equal(stream_read_start(a, on_read), 0);
    assert_int_equal(stream_read_start(b, on_read), 0);
    for (i = 0; i < 4; i++)
        assert_int_equal(stream_write(a, big, 1 << 20, on_write, NULL), 0);
    assert_int_equal(stream_write(b, "pong", 4, on_write, NULL), 0);
    for (i = 0; i < 10000 && (db.got.len < (4u << 20) || da.got.len < 4); i++)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(db.got.len, 4u << 20);
    assert_memory_equal(da.got.data, "pong", 4);
    assert_int_equal(da.writes_done, 4);
    stream_close(a, on_close, &da);
    for (i = 0; i < 1000 && db.last == 0; i++)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(db.last, UV_EOF);
    stream_close(b, on_close, &db);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(da.closed + db.closed, 2);
    assert_int_equal(uv_loop_close(&loop), 0);
    buf_release(&da.got);
    buf_release(&db.got);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pair_echo_eof_close),
    };

    return cmocka_run_group_tests_name("base/stream_uv", tests, NULL, NULL);
}

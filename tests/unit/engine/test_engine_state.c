/* SPDX-License-Identifier: Apache-2.0 */
/* config.v2.json and hostconfig.json: round trip in memory and on disk,
 * damaged documents refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/fsutil.h"
#include "base/mem.h"
#include "engine/engine_int.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static struct engine_ctr *make_ctr(void)
{
    struct engine_ctr *c = xcalloc(1, sizeof(*c));

    memcpy(c->id, ID, sizeof(c->id));
    c->name = xstrdup("/kind_knuth");
    c->image_id = xstrdup("sha256:1111");
    c->path = xstrdup("/bin/sh");
    c->args = json_pack("[s,s]", "-c", "sleep 5");
    c->config = json_pack("{s:s, s:b, s:[s], s:{s:s}}", "Image", "busybox",
                          "Tty", 1, "Env", "A=1", "Labels", "k", "v");
    c->host = json_pack("{s:s, s:I, s:b}", "NetworkMode", "none", "Memory",
                        (json_int_t)64 << 20, "AutoRemove", 1);
    snprintf(c->created, sizeof(c->created), "2026-02-03T04:05:06.1Z");
    snprintf(c->started_at, sizeof(c->started_at), "2026-02-03T04:05:07Z");
    snprintf(c->finished_at, sizeof(c->finished_at), ENGINE_ZERO_TIME);
    c->status = ENGINE_RUNNING;
    c->started_before = true;
    c->pid = 4242;
    c->restart_count = 2;
    c->error = xstrdup("");
    return c;
}

static void check_same(const struct engine_ctr *a, const struct engine_ctr *b)
{
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->image_id, b->image_id);
    assert_string_equal(a->path, b->path);
    assert_true(json_equal(a->args, b->args));
    assert_true(json_equal(a->config, b->config));
    assert_true(json_equal(a->host, b->host));
    assert_string_equal(a->created, b->created);
    assert_string_equal(a->started_at, b->started_at);
    assert_string_equal(a->finished_at, b->finished_at);
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->pid, b->pid);
    assert_int_equal(a->exit_code, b->exit_code);
    assert_int_equal(a->restart_count, b->restart_count);
    assert_int_equal(a->started_before, b->started_before);
    assert_string_equal(a->error, b->error);
}

static void test_roundtrip_memory(void **state)
{
    struct engine_ctr *c = make_ctr();
    struct engine_ctr *back;
    json_t *doc;
    struct err err;

    (void)state;
    err_clear(&err);
    doc = engine_state_to_json(c);
    assert_true(json_is_true(json_object_get(json_object_get(doc, "State"),
                                             "Running")));
    back = engine_state_from_json(doc, c->host, &err);
    assert_non_null(back);
    check_same(c, back);
    engine_state_free_ctr(back);

    /* An exited container comes back exited, a never started one created. */
    c->status = ENGINE_EXITED;
    c->pid = 0;
    c->exit_code = 137;
    free(c->error);
    c->error = xstrdup("killed");
    json_decref(doc);
    doc = engine_state_to_json(c);
    back = engine_state_from_json(doc, c->host, &err);
    check_same(c, back);
    engine_state_free_ctr(back);
    c->started_before = false;
    c->status = ENGINE_CREATED;
    json_decref(doc);
    doc = engine_state_to_json(c);
    back = engine_state_from_json(doc, c->host, &err);
    check_same(c, back);
    engine_state_free_ctr(back);
    json_decref(doc);
    engine_state_free_ctr(c);
}

static void test_roundtrip_disk(void **state)
{
    char tmpl[] = "/tmp/test_engine_state.XXXXXX";
    struct engine_ctr *c = make_ctr();
    struct engine_ctr *back;
    struct err err;
    char *dir;
    char *p;

    (void)state;
    err_clear(&err);
    assert_non_null(mkdtemp(tmpl));
    dir = engine_state_dir(tmpl, c->id);
    assert_int_equal(fsutil_mkdir_p(dir, 0700, &err), 0);
    assert_int_equal(engine_state_save(c, tmpl, &err), 0);
    back = engine_state_load(dir, &err);
    assert_non_null(back);
    check_same(c, back);
    engine_state_free_ctr(back);

    /* A damaged file is refused with a message, not loaded half-way. */
    p = xasprintf("%s/config.v2.json", dir);
    assert_int_equal(fsutil_write_atomic(p, "{\"ID\": 3}", 9, 0600, &err),
                     0);
    err_clear(&err);
    assert_null(engine_state_load(dir, &err));
    assert_int_not_equal(err.code, ERR_OK);
    assert_int_equal(fsutil_write_atomic(p, "{nope", 5, 0600, &err), 0);
    err_clear(&err);
    assert_null(engine_state_load(dir, &err));
    assert_int_equal(err.code, ERR_INVALID);
    free(p);

    p = engine_state_log_path(tmpl, c->id);
    assert_true(strstr(p, "/" ID "/" ID "-json.log") != NULL);
    free(p);
    assert_int_equal(fsutil_empty_dir(tmpl, &err), 0);
    rmdir(tmpl);
    free(dir);
    engine_state_free_ctr(c);
}

/* What a start records replaces config.v2.json alone, atomically. */
static void test_save_started(void **state)
{
    char tmpl[] = "/tmp/test_engine_state.XXXXXX";
    struct engine_ctr *c = make_ctr();
    struct engine_ctr *back;
    struct err err;
    char *dir;
    char *p;

    (void)state;
    err_clear(&err);
    assert_non_null(mkdtemp(tmpl));
    dir = engine_state_dir(tmpl, c->id);
    assert_int_equal(fsutil_mkdir_p(dir, 0700, &err), 0);
    c->status = ENGINE_CREATED;
    c->started_before = false;
    c->pid = 0;
    assert_int_equal(engine_state_save(c, tmpl, &err), 0);
    c->status = ENGINE_RUNNING;
    c->started_before = true;
    c->pid = 4343;
    assert_int_equal(engine_state_save_started(c, tmpl, &err), 0);
    back = engine_state_load(dir, &err);
    assert_non_null(back);
    check_same(c, back);
    engine_state_free_ctr(back);
    p = xasprintf("%s/config.v2.json.tmp", dir);
    assert_false(fsutil_exists(p));
    free(p);

    /* Without the directory: an error, not a crash. */
    assert_int_equal(fsutil_empty_dir(tmpl, &err), 0);
    err_clear(&err);
    assert_int_equal(engine_state_save_started(c, tmpl, &err), -ERR_IO);
    err_clear(&err);
    assert_int_equal(engine_state_save(c, tmpl, &err), -ERR_IO);
    rmdir(tmpl);
    free(dir);
    engine_state_free_ctr(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_memory),
        cmocka_unit_test(test_roundtrip_disk),
        cmocka_unit_test(test_save_started),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

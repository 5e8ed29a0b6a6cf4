/* SPDX-License-Identifier: Apache-2.0 */
/* Lookup by ID, prefix and name; ps filters; status texts; the inspect
 * and list shapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "engine/engine_int.h"

/* --- fixture --- */

static struct engine_ctr *add_ctr(struct engine *e, const char *id,
                                  const char *name, enum engine_status st,
                                  int code, const char *labels_json)
{
    struct engine_ctr *c = xcalloc(1, sizeof(*c));

    c->e = e;
    snprintf(c->id, sizeof(c->id), "%s", id);
    c->name = xasprintf("/%s", name);
    c->image_id = xstrdup("sha256:aaaabbbbccccdddd");
    c->path = xstrdup("sh");
    c->args = json_pack("[s,s]", "-c", "echo hi");
    c->config = json_pack("{s:s, s:o, s:b}", "Image", "busybox", "Labels",
                          json_loads(labels_json, 0, NULL), "Tty", 0);
    c->host = json_pack("{s:s}", "NetworkMode", "bridge");
    snprintf(c->created, sizeof(c->created), "2026-01-01T00:00:00.5Z");
    snprintf(c->started_at, sizeof(c->started_at),
             "2026-01-01T00:00:01.000000000Z");
    snprintf(c->finished_at, sizeof(c->finished_at),
             "2026-01-01T00:00:03.000000000Z");
    c->status = st;
    c->exit_code = code;
    c->error = xstrdup("");
    c->next = e->ctrs;
    e->ctrs = c;
    return c;
}

static int setup(void **state)
{
    struct engine *e = xcalloc(1, sizeof(*e));

    e->cdir_root = xstrdup("/var/lib/shoal/containers");
    add_ctr(e, "abc1230000000000000000000000000000000000000000000000000000000000",
            "web", ENGINE_RUNNING, 0, "{\"tier\":\"front\",\"x\":\"1\"}");
    add_ctr(e, "abc4560000000000000000000000000000000000000000000000000000000000",
            "db", ENGINE_EXITED, 3, "{\"tier\":\"back\"}");
    add_ctr(e, "def0000000000000000000000000000000000000000000000000000000000000",
            "abc", ENGINE_CREATED, 0, "{}");
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct engine *e = *state;
    struct engine_ctr *c;

    while ((c = e->ctrs) != NULL) {
        e->ctrs = c->next;
        engine_state_free_ctr(c);
    }
    free(e->cdir_root);
    free(e);
    return 0;
}

/* --- tests --- */

static void test_lookup(void **state)
{
    struct engine *e = *state;
    struct engine_ctr *c;
    struct err err;

    err_clear(&err);
    c = engine_view_lookup(
        e, "abc1230000000000000000000000000000000000000000000000000000000000",
        &err);
    assert_non_null(c);
    assert_string_equal(c->name, "/web");
    assert_ptr_equal(engine_view_lookup(e, "web", &err), c);
    assert_ptr_equal(engine_view_lookup(e, "/web", &err), c);
    assert_ptr_equal(engine_view_lookup(e, "abc1", &err), c);
    c = engine_view_lookup(e, "de", &err);
    assert_non_null(c);
    assert_string_equal(c->name, "/abc");
    /* A name wins over an ID prefix. */
    c = engine_view_lookup(e, "abc", &err);
    assert_string_equal(c->name, "/abc");
    assert_null(engine_view_lookup(e, "ab", &err));
    assert_int_equal(err.code, ERR_INVALID);
    assert_string_equal(err.msg,
                        "multiple IDs found with provided prefix: ab");
    err_clear(&err);
    assert_null(engine_view_lookup(e, "nope", &err));
    assert_int_equal(err.code, ERR_NOTFOUND);
    assert_string_equal(err.msg, "No such container: nope");
    assert_null(engine_view_lookup(e, "", &err));
}

static bool match(struct engine *e, const char *name, const char *filters)
{
    json_t *f = json_loads(filters, 0, NULL);
    bool r;

    r = engine_view_matches(engine_view_by_name(e, name), f);
    json_decref(f);
    return r;
}

static void test_filters(void **state)
{
    struct engine *e = *state;
    struct err err;
    json_t *f;

    assert_true(match(e, "web", "{}"));
    assert_true(match(e, "web", "{\"name\":[\"we\"]}"));
    assert_false(match(e, "db", "{\"name\":[\"we\"]}"));
    assert_true(match(e, "web", "{\"name\":[\"^web\"]}"));
    assert_true(match(e, "db", "{\"id\":[\"abc4\"]}"));
    assert_false(match(e, "web", "{\"id\":[\"abc4\"]}"));
    assert_true(match(e, "web", "{\"label\":[\"tier=front\",\"x\"]}"));
    assert_false(match(e, "web", "{\"label\":[\"tier=back\"]}"));
    assert_false(match(e, "abc", "{\"label\":[\"tier\"]}"));
    assert_true(match(e, "db", "{\"status\":[\"exited\"]}"));
    assert_false(match(e, "web", "{\"status\":[\"exited\",\"created\"]}"));
    assert_true(match(e, "abc", "{\"status\":[\"exited\",\"created\"]}"));
    assert_true(match(e, "db", "{\"exited\":[\"3\"]}"));
    assert_false(match(e, "db", "{\"exited\":[\"0\"]}"));
    assert_false(match(e, "web", "{\"exited\":[\"0\"]}"));
    assert_true(match(e, "web", "{\"ancestor\":[\"busybox\"]}"));
    assert_true(match(e, "web", "{\"ancestor\":[\"busybox:latest\"]}"));
    assert_true(match(e, "web", "{\"ancestor\":[\"aaaabbbb\"]}"));
    assert_false(match(e, "web", "{\"ancestor\":[\"alpine\"]}"));

    err_clear(&err);
    f = json_loads("{\"status\":[\"sleeping\"]}", 0, NULL);
    assert_int_equal(engine_view_check_filters(f, &err), -ERR_INVALID);
    assert_string_equal(err.msg, "invalid filter 'status=sleeping'");
    json_decref(f);
    f = json_loads("{\"exited\":[\"x\"]}", 0, NULL);
    assert_int_equal(engine_view_check_filters(f, &err), -ERR_INVALID);
    json_decref(f);
    f = json_loads("{\"color\":[\"red\"]}", 0, NULL);
    assert_int_equal(engine_view_check_filters(f, &err), -ERR_INVALID);
    json_decref(f);
    f = json_loads("{\"status\":[\"running\"],\"exited\":[\"0\"]}", 0, NULL);
    assert_int_equal(engine_view_check_filters(f, &err), 0);
    json_decref(f);
}

static void test_human_and_status(void **state)
{
    struct engine *e = *state;
    char out[96];
    double t0 = engine_view_parse_time("2026-01-01T00:00:01.000000000Z");

    engine_view_human(0.3, out, sizeof(out));
    assert_string_equal(out, "Less than a second");
    engine_view_human(1, out, sizeof(out));
    assert_string_equal(out, "1 second");
    engine_view_human(42, out, sizeof(out));
    assert_string_equal(out, "42 seconds");
    engine_view_human(61, out, sizeof(out));
    assert_string_equal(out, "About a minute");
    engine_view_human(600, out, sizeof(out));
    assert_string_equal(out, "10 minutes");
    engine_view_human(3700, out, sizeof(out));
    assert_string_equal(out, "About an hour");
    engine_view_human(5 * 3600, out, sizeof(out));
    assert_string_equal(out, "5 hours");
    engine_view_human(3 * 86400, out, sizeof(out));
    assert_string_equal(out, "3 days");

    assert_true(t0 > 1.7e9);
    assert_true(engine_view_parse_time("2026-01-01T00:00:00.5Z") ==
                t0 - 0.5);
    assert_true(engine_view_parse_time("garbage") < 0);
    engine_view_status_text(engine_view_by_name(e, "web"), t0 + 3, out,
                            sizeof(out));
    assert_string_equal(out, "Up 3 seconds");
    engine_view_status_text(engine_view_by_name(e, "db"), t0 + 2.5, out,
                            sizeof(out));
    assert_string_equal(out, "Exited (3) Less than a second ago");
    engine_view_status_text(engine_view_by_name(e, "db"), t0 + 62, out,
                            sizeof(out));
    assert_string_equal(out, "Exited (3) About a minute ago");
    engine_view_by_name(e, "db")->restarting = true;
    engine_view_status_text(engine_view_by_name(e, "db"), t0 + 62, out,
                            sizeof(out));
    assert_string_equal(out, "Restarting (3) About a minute ago");
    assert_string_equal(engine_view_ctr_status(engine_view_by_name(e, "db")),
                        "restarting");
    engine_view_by_name(e, "db")->restarting = false;
    assert_string_equal(engine_view_ctr_status(engine_view_by_name(e, "db")),
                        "exited");
    engine_view_status_text(engine_view_by_name(e, "abc"), t0, out,
                            sizeof(out));
    assert_string_equal(out, "Created");
}

/* State.Health in ps's status, the health filter and inspect. */
static void test_health(void **state)
{
    struct engine *e = *state;
    struct engine_ctr *web = engine_view_by_name(e, "web");
    double t0 = engine_view_parse_time("2026-01-01T00:00:00.5Z");
    struct err err;
    json_t *f;
    json_t *doc;
    char out[96];

    err_clear(&err);
    web->health = engine_health_new();
    engine_view_status_text(web, t0 + 3.5, out, sizeof(out));
    assert_string_equal(out, "Up 3 seconds (health: starting)");
    f = json_pack("{s:[s]}", "health", "starting");
    assert_int_equal(engine_view_check_filters(f, &err), 0);
    assert_true(engine_view_matches(web, f));
    assert_false(engine_view_matches(engine_view_by_name(e, "db"), f));
    json_decref(f);
    engine_health_record(web->health, "a", "b", 0, "", 0, false, 3);
    engine_view_status_text(web, t0 + 3.5, out, sizeof(out));
    assert_string_equal(out, "Up 3 seconds (healthy)");
    f = json_pack("{s:[s, s]}", "health", "none", "unhealthy");
    assert_false(engine_view_matches(web, f));
    assert_true(engine_view_matches(engine_view_by_name(e, "db"), f));
    json_decref(f);
    doc = engine_view_inspect(web);
    assert_string_equal(json_string_value(json_object_get(json_object_get(
                            json_object_get(doc, "State"), "Health"),
                                                          "Status")),
                        "healthy");
    json_decref(doc);
    doc = engine_view_inspect(engine_view_by_name(e, "db"));
    assert_null(json_object_get(json_object_get(doc, "State"), "Health"));
    json_decref(doc);
    /* the state file keeps it */
    doc = engine_state_to_json(web);
    assert_int_equal(json_array_size(json_object_get(json_object_get(
                         json_object_get(doc, "State"), "Health"), "Log")),
                     1);
    json_decref(doc);
    f = json_pack("{s:[s]}", "health", "bogus");
    assert_int_equal(engine_view_check_filters(f, &err), -ERR_INVALID);
    assert_string_equal(err.msg, "Unrecognised filter value for health: "
                                 "bogus");
    json_decref(f);
}

static void test_shapes(void **state)
{
    struct engine *e = *state;
    struct engine_ctr *c = engine_view_by_name(e, "db");
    json_t *s = engine_view_summary(c, engine_view_parse_time(c->finished_at)
                                           + 5);
    json_t *i = engine_view_inspect(c);
    json_t *st = json_object_get(i, "State");

    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(s, "Names"), 0)),
                        "/db");
    assert_string_equal(json_string_value(json_object_get(s, "Command")),
                        "sh -c echo hi");
    assert_string_equal(json_string_value(json_object_get(s, "Status")),
                        "Exited (3) 5 seconds ago");
    assert_string_equal(json_string_value(json_object_get(s, "State")),
                        "exited");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(s, "HostConfig"),
                            "NetworkMode")),
                        "bridge");
    assert_true(json_is_array(json_object_get(s, "Ports")));

    assert_string_equal(json_string_value(json_object_get(i, "Name")), "/db");
    assert_string_equal(json_string_value(json_object_get(i, "Driver")),
                        "overlay2");
    assert_string_equal(json_string_value(json_object_get(i, "Platform")),
                        "linux");
    assert_string_equal(json_string_value(json_object_get(st, "Status")),
                        "exited");
    assert_int_equal(json_integer_value(json_object_get(st, "ExitCode")), 3);
    assert_true(json_is_false(json_object_get(st, "Running")));
    assert_string_equal(
        json_string_value(json_object_get(i, "LogPath")),
        "/var/lib/shoal/containers/abc4560000000000000000000000000000000000"
        "000000000000000000000000/abc45600000000000000000000000000000000000"
        "00000000000000000000000-json.log");
    json_decref(s);
    json_decref(i);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_health, setup, teardown),
        cmocka_unit_test_setup_teardown(test_human_and_status, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_shapes, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

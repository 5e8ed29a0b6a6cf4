/* SPDX-License-Identifier: Apache-2.0 */
/* Healthchecks' pure parts: the config with Docker's defaults, the state
 * transitions (streak, start period, retries), the log's trimming, the
 * output's cap and the timeout's duration text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/engine_int.h"

#define S "2026-01-01T00:00:00.000000000Z"

static void test_config(void **state)
{
    struct engine_health_cfg cfg;
    json_t *c;

    (void)state;
    c = json_pack("{s:{s:[s, s]}}", "Healthcheck", "Test", "CMD-SHELL",
                  "test -f /x");
    assert_int_equal(engine_health_config(c, &cfg), 1);
    assert_int_equal(json_array_size(cfg.cmd), 3);
    assert_string_equal(json_string_value(json_array_get(cfg.cmd, 0)),
                        "/bin/sh");
    assert_string_equal(json_string_value(json_array_get(cfg.cmd, 2)),
                        "test -f /x");
    assert_int_equal(cfg.interval_ms, 30000);
    assert_int_equal(cfg.timeout_ms, 30000);
    assert_int_equal(cfg.start_period_ms, 0);
    assert_int_equal(cfg.start_interval_ms, 5000);
    assert_int_equal(cfg.retries, 3);
    engine_health_cfg_free(&cfg);
    json_decref(c);

    /* CMD, durations in ns, Config.Shell for CMD-SHELL */
    c = json_pack("{s:{s:[s, s, s], s:I, s:I, s:I, s:I, s:i}}",
                  "Healthcheck", "Test", "CMD", "ls", "/", "Interval",
                  (json_int_t)1000000000, "Timeout", (json_int_t)500000000,
                  "StartPeriod", (json_int_t)2000000000, "StartInterval",
                  (json_int_t)100000000, "Retries", 2);
    assert_int_equal(engine_health_config(c, &cfg), 1);
    assert_int_equal(json_array_size(cfg.cmd), 2);
    assert_string_equal(json_string_value(json_array_get(cfg.cmd, 0)),
                        "ls");
    assert_int_equal(cfg.interval_ms, 1000);
    assert_int_equal(cfg.timeout_ms, 500);
    assert_int_equal(cfg.timeout_ns, 500000000);
    assert_int_equal(cfg.start_period_ms, 2000);
    assert_int_equal(cfg.start_interval_ms, 100);
    assert_int_equal(cfg.retries, 2);
    engine_health_cfg_free(&cfg);
    json_decref(c);
    c = json_pack("{s:[s, s], s:{s:[s, s]}}", "Shell", "/bin/ash", "-ec",
                  "Healthcheck", "Test", "CMD-SHELL", "true");
    assert_int_equal(engine_health_config(c, &cfg), 1);
    assert_string_equal(json_string_value(json_array_get(cfg.cmd, 1)),
                        "-ec");
    engine_health_cfg_free(&cfg);
    json_decref(c);

    /* nothing to run */
    c = json_pack("{s:{s:[s]}}", "Healthcheck", "Test", "NONE");
    assert_int_equal(engine_health_config(c, &cfg), 0);
    json_decref(c);
    c = json_pack("{s:{s:[s]}}", "Healthcheck", "Test", "CMD");
    assert_int_equal(engine_health_config(c, &cfg), 0);
    json_decref(c);
    c = json_pack("{s:{s:[s, i]}}", "Healthcheck", "Test", "CMD", 3);
    assert_int_equal(engine_health_config(c, &cfg), 0);
    json_decref(c);
    c = json_pack("{s:{}}", "Healthcheck");
    assert_int_equal(engine_health_config(c, &cfg), 0);
    json_decref(c);
    assert_int_equal(engine_health_config(NULL, &cfg), 0);
}

static const char *status(const json_t *h)
{
    return engine_health_status(h);
}

static int streak(const json_t *h)
{
    return (int)json_integer_value(json_object_get(h, "FailingStreak"));
}

static void test_transitions(void **state)
{
    json_t *h = engine_health_new();

    (void)state;
    assert_string_equal(status(h), "starting");
    assert_string_equal(status(NULL), "none");
    /* failures within the start period do not count */
    assert_false(engine_health_record(h, S, S, 1, "no", 2, true, 2));
    assert_false(engine_health_record(h, S, S, 1, "no", 2, true, 2));
    assert_int_equal(streak(h), 0);
    assert_string_equal(status(h), "starting");
    /* after it they do: retries of them make it unhealthy */
    assert_false(engine_health_record(h, S, S, 1, "no", 2, false, 2));
    assert_int_equal(streak(h), 1);
    assert_true(engine_health_record(h, S, S, 1, "no", 2, false, 2));
    assert_string_equal(status(h), "unhealthy");
    assert_int_equal(streak(h), 2);
    assert_false(engine_health_record(h, S, S, 7, "no", 2, false, 2));
    assert_int_equal(streak(h), 3);
    /* a success: healthy, streak ended */
    assert_true(engine_health_record(h, S, S, 0, "ok", 2, false, 2));
    assert_string_equal(status(h), "healthy");
    assert_int_equal(streak(h), 0);
    /* healthy: the start period no longer shields failures */
    assert_false(engine_health_record(h, S, S, 1, "", 0, true, 2));
    assert_int_equal(streak(h), 1);
    assert_string_equal(status(h), "healthy");
    assert_true(engine_health_record(h, S, S, -1, "", 0, true, 2));
    assert_string_equal(status(h), "unhealthy");
    /* a start: starting again, log kept */
    engine_health_reset(h);
    assert_string_equal(status(h), "starting");
    assert_int_equal(streak(h), 0);
    assert_int_equal(json_array_size(json_object_get(h, "Log")), 5);
    /* a success while starting within the start period: healthy */
    assert_true(engine_health_record(h, S, S, 0, "", 0, true, 3));
    assert_string_equal(status(h), "healthy");
    json_decref(h);
}

static void test_log(void **state)
{
    json_t *h = engine_health_new();
    json_t *log;
    json_t *last;
    char out[16];
    char big[5000];
    int i;

    (void)state;
    for (i = 0; i < 8; i++) {
        snprintf(out, sizeof(out), "r%d\n", i);
        engine_health_record(h, S, "2026-01-01T00:00:01Z", i, out,
                             strlen(out), false, 3);
    }
    log = json_object_get(h, "Log");
    assert_int_equal(json_array_size(log), ENGINE_HEALTH_LOG_MAX);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(log, 0), "Output")),
        "r3\n");
    last = json_array_get(log, 4);
    assert_string_equal(json_string_value(json_object_get(last, "Output")),
                        "r7\n");
    assert_int_equal(json_integer_value(json_object_get(last, "ExitCode")),
                     7);
    assert_string_equal(json_string_value(json_object_get(last, "Start")),
                        S);
    assert_string_equal(json_string_value(json_object_get(last, "End")),
                        "2026-01-01T00:00:01Z");
    /* output that is not UTF-8 is made so (jansson refuses it) */
    engine_health_record(h, S, S, 1, "a\xff" "b", 3, false, 3);
    last = json_array_get(log, 4);
    assert_string_equal(json_string_value(json_object_get(last, "Output")),
                        "a\xef\xbf\xbd" "b");
    /* the monitor keeps 4096 bytes; the record keeps what it is given */
    memset(big, 'x', sizeof(big));
    engine_health_record(h, S, S, 1, big, ENGINE_HEALTH_OUTPUT_MAX, false,
                         3);
    last = json_array_get(log, 4);
    assert_int_equal(json_string_length(json_object_get(last, "Output")),
                     ENGINE_HEALTH_OUTPUT_MAX);
    json_decref(h);
}

static void test_duration(void **state)
{
    char out[48];

    (void)state;
    engine_health_duration(1000000000LL, out, sizeof(out));
    assert_string_equal(out, "1s");
    engine_health_duration(1500000000LL, out, sizeof(out));
    assert_string_equal(out, "1.5s");
    engine_health_duration(500000000LL, out, sizeof(out));
    assert_string_equal(out, "500ms");
    engine_health_duration(1250000LL, out, sizeof(out));
    assert_string_equal(out, "1.25ms");
    engine_health_duration(90000000000LL, out, sizeof(out));
    assert_string_equal(out, "1m30s");
    engine_health_duration(3600000000000LL, out, sizeof(out));
    assert_string_equal(out, "1h0m0s");
    engine_health_duration(30000000000LL, out, sizeof(out));
    assert_string_equal(out, "30s");
    engine_health_duration(1500LL, out, sizeof(out));
    assert_string_equal(out, "1.5\xc2\xb5s");
    engine_health_duration(0, out, sizeof(out));
    assert_string_equal(out, "0s");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_transitions),
        cmocka_unit_test(test_log),
        cmocka_unit_test(test_duration),
    };

    return cmocka_run_group_tests_name("engine/health", tests, NULL, NULL);
}

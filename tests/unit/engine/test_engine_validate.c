/* SPDX-License-Identifier: Apache-2.0 */
/* The ContainerCreate body checks: JSON types, values, Docker's texts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <string.h>

#include <cmocka.h>

#include "engine/engine_int.h"

static int check(const char *body, struct err *err)
{
    json_t *b = json_loads(body, JSON_DECODE_ANY, NULL);
    int rv;

    err_clear(err);
    rv = engine_validate_create(b, err);
    json_decref(b);
    return rv;
}

static void test_accepts(void **state)
{
    struct err err;

    (void)state;
    assert_int_equal(check("{\"Image\":\"busybox\"}", &err), 0);
    assert_int_equal(
        check("{\"Image\":\"busybox\",\"Cmd\":\"echo hi\",\"Entrypoint\":"
              "null,\"Env\":[\"A=1\"],\"Labels\":{\"a\":\"b\"},\"Tty\":true,"
              "\"StopSignal\":\"SIGUSR1\",\"HostConfig\":{\"Binds\":"
              "[\"/tmp:/data:ro\"],\"Memory\":67108864,\"NanoCpus\":"
              "500000000,\"PidsLimit\":null,\"NetworkMode\":\"none\","
              "\"Mounts\":[{\"Type\":\"tmpfs\",\"Target\":\"/t\"},{\"Type\":"
              "\"bind\",\"Source\":\"/tmp\",\"Target\":\"/b\"}],\"Tmpfs\":"
              "{\"/run\":\"size=1m\"},\"RestartPolicy\":{\"Name\":\"no\"},"
              "\"AutoRemove\":true,\"Init\":true}}",
              &err),
        0);
}

static void test_types(void **state)
{
    struct err err;

    (void)state;
    assert_int_equal(check("[1]", &err), -ERR_INVALID);
    assert_string_equal(err.msg,
                        "invalid JSON: json: cannot unmarshal array into Go "
                        "value of type container.CreateRequest");
    assert_int_equal(check("{\"Image\":\"b\",\"Tty\":\"yes\"}", &err),
                     -ERR_INVALID);
    assert_string_equal(err.msg,
                        "invalid JSON: json: cannot unmarshal string into Go "
                        "struct field CreateRequest.Config.Tty of type bool");
    assert_int_equal(check("{\"Image\":\"b\",\"Env\":[1]}", &err),
                     -ERR_INVALID);
    assert_int_equal(check("{\"Image\":\"b\",\"Cmd\":{}}", &err),
                     -ERR_INVALID);
    assert_int_equal(check("{\"Image\":\"b\",\"Labels\":{\"a\":1}}", &err),
                     -ERR_INVALID);
    assert_int_equal(check("{\"Image\":\"b\",\"HostConfig\":3}", &err),
                     -ERR_INVALID);
    assert_int_equal(
        check("{\"Image\":\"b\",\"HostConfig\":{\"Memory\":\"1g\"}}", &err),
        -ERR_INVALID);
    assert_string_equal(err.msg,
                        "invalid JSON: json: cannot unmarshal string into Go "
                        "struct field HostConfig.HostConfig.Memory of type "
                        "int64");
    assert_int_equal(check("{\"Image\":7}", &err), -ERR_INVALID);
    assert_int_equal(check("{}", &err), -ERR_INVALID);
    assert_int_equal(check("null", &err), -ERR_INVALID);
}

static void test_values(void **state)
{
    struct err err;

    (void)state;
    assert_int_equal(
        check("{\"Image\":\"b\",\"HostConfig\":{\"Memory\":1000}}", &err),
        -ERR_INVALID);
    assert_string_equal(err.msg, "Minimum memory limit allowed is 6MB");
    assert_int_equal(
        check("{\"Image\":\"b\",\"HostConfig\":{\"NanoCpus\":"
              "900000000000}}",
              &err),
        -ERR_INVALID);
    assert_non_null(strstr(err.msg, "Range of CPUs is from 0.01 to"));
    assert_int_equal(
        check("{\"Image\":\"b\",\"HostConfig\":{\"NetworkMode\":\"blue\"}}",
              &err),
        -ERR_INVALID);
    assert_string_equal(err.msg, "network blue not found");
    assert_int_equal(
        check("{\"Image\":\"b\",\"HostConfig\":{\"RestartPolicy\":{\"Name\":"
              "\"sometimes\"}}}",
              &err),
        -ERR_INVALID);
    assert_int_equal(
        check("{\"Image\":\"b\",\"HostConfig\":{\"AutoRemove\":true,"
              "\"RestartPolicy\":{\"Name\":\"always\"}}}",
              &err),
        -ERR_INVALID);
    assert_string_equal(err.msg, "can't create 'AutoRemove' container with "
                                 "restart policy");
    assert_int_equal(
        check("{\"Image\":\"b\",\"HostConfig\":{\"RestartPolicy\":{\"Name\":"
              "\"always\",\"MaximumRetryCount\":2}}}",
              &err),
        -ERR_INVALID);
    assert_string_equal(err.msg, "invalid restart policy: maximum retry "
                                 "count can only be used with 'on-failure'");
    assert_int_equal(
        check("{\"Image\":\"b\",\"HostConfig\":{\"RestartPolicy\":{\"Name\":"
              "\"no\",\"MaximumRetryCount\":-2}}}",
              &err),
        -ERR_INVALID);
    assert_string_equal(err.msg, "invalid restart policy: maximum retry "
                                 "count can only be used with 'on-failure' "
                                 "and cannot be negative");
    assert_int_equal(
        check("{\"Image\":\"b\",\"HostConfig\":{\"RestartPolicy\":{\"Name\":"
              "\"on-failure\",\"MaximumRetryCount\":-1}}}",
              &err),
        -ERR_INVALID);
    assert_string_equal(err.msg, "invalid restart policy: maximum retry "
                                 "count cannot be negative");
    assert_int_equal(
        check("{\"Image\":\"b\",\"HostConfig\":{\"RestartPolicy\":{\"Name\":"
              "\"on-failure\",\"MaximumRetryCount\":true}}}",
              &err),
        -ERR_INVALID);
    assert_non_null(strstr(err.msg, "cannot unmarshal bool into Go struct "
                                    "field RestartPolicy.HostConfig."
                                    "RestartPolicy.MaximumRetryCount"));
    assert_int_equal(
        check("{\"Image\":\"b\",\"HostConfig\":{\"RestartPolicy\":{\"Name\":"
              "\"on-failure\",\"MaximumRetryCount\":5}}}",
              &err),
        0);
    assert_int_equal(
        check("{\"Image\":\"b\",\"HostConfig\":{\"Binds\":[\"/a:rel\"]}}",
              &err),
        -ERR_INVALID);
    assert_non_null(strstr(err.msg, "mount path must be absolute"));
    assert_int_equal(
        check("{\"Image\":\"b\",\"HostConfig\":{\"Binds\":[\"/a:/b:xx\"]}}",
              &err),
        -ERR_INVALID);
    assert_int_equal(
        check("{\"Image\":\"b\",\"HostConfig\":{\"Binds\":[\"/a:/\"]}}",
              &err),
        -ERR_INVALID);
    assert_int_equal(
        check("{\"Image\":\"b\",\"HostConfig\":{\"Mounts\":[{\"Type\":"
              "\"bind\",\"Source\":\"/no/such/dir/x\",\"Target\":\"/x\"}]}}",
              &err),
        -ERR_INVALID);
    assert_string_equal(err.msg,
                        "invalid mount config for type \"bind\": bind source "
                        "path does not exist: /no/such/dir/x");
    assert_int_equal(
        check("{\"Image\":\"b\",\"HostConfig\":{\"Mounts\":[{\"Type\":"
              "\"tmpfs\",\"Source\":\"/x\",\"Target\":\"/x\"}]}}",
              &err),
        -ERR_INVALID);
    assert_int_equal(
        check("{\"Image\":\"b\",\"HostConfig\":{\"Mounts\":[{\"Type\":"
              "\"nfs\",\"Target\":\"/x\"}]}}",
              &err),
        -ERR_INVALID);
    assert_int_equal(
        check("{\"Image\":\"b\",\"HostConfig\":{\"Tmpfs\":{\"rel\":\"\"}}}",
              &err),
        -ERR_INVALID);
    assert_int_equal(
        check("{\"Image\":\"b\",\"HostConfig\":{\"LogConfig\":{\"Type\":"
              "\"syslog\"}}}",
              &err),
        -ERR_INVALID);
    assert_string_equal(err.msg,
                        "logger: no log driver named 'syslog' is registered");
    assert_int_equal(check("{\"Image\":\"b\",\"StopSignal\":\"SIGNOPE\"}",
                           &err),
                     -ERR_INVALID);
    assert_string_equal(err.msg, "Invalid signal: SIGNOPE");
    /* healthchecks: Docker's bounds and Go's type errors */
    assert_int_equal(check("{\"Image\":\"b\",\"Healthcheck\":{\"Test\":"
                           "[\"CMD\",\"true\"],\"Interval\":1000000,"
                           "\"Retries\":0}}",
                           &err),
                     0);
    assert_int_equal(check("{\"Image\":\"b\",\"Healthcheck\":"
                           "{\"Interval\":999}}",
                           &err),
                     -ERR_INVALID);
    assert_string_equal(err.msg,
                        "Interval in Healthcheck cannot be less than 1ms");
    assert_int_equal(check("{\"Image\":\"b\",\"Healthcheck\":"
                           "{\"StartPeriod\":-5}}",
                           &err),
                     -ERR_INVALID);
    assert_string_equal(err.msg,
                        "StartPeriod in Healthcheck cannot be less than 1ms");
    assert_int_equal(check("{\"Image\":\"b\",\"Healthcheck\":"
                           "{\"Retries\":-1}}",
                           &err),
                     -ERR_INVALID);
    assert_string_equal(err.msg, "Retries in Healthcheck cannot be negative");
    assert_int_equal(check("{\"Image\":\"b\",\"Healthcheck\":"
                           "{\"Timeout\":\"1s\"}}",
                           &err),
                     -ERR_INVALID);
    assert_string_equal(err.msg,
                        "invalid JSON: json: cannot unmarshal string into "
                        "Go struct field CreateRequest.Config.Healthcheck."
                        "Timeout of type time.Duration");
    assert_int_equal(check("{\"Image\":\"b\",\"Healthcheck\":3}", &err),
                     -ERR_INVALID);
}

static void test_signals(void **state)
{
    (void)state;
    assert_int_equal(engine_validate_signal("SIGTERM"), SIGTERM);
    assert_int_equal(engine_validate_signal("term"), SIGTERM);
    assert_int_equal(engine_validate_signal("KILL"), SIGKILL);
    assert_int_equal(engine_validate_signal("9"), 9);
    assert_int_equal(engine_validate_signal("0"), -1);
    assert_int_equal(engine_validate_signal("99"), -1);
    assert_int_equal(engine_validate_signal("SIGFOO"), -1);
    assert_int_equal(engine_validate_signal(""), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_signals),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Control API for services: spec validation texts, defaults, create with
 * name conflicts, update immutables and rollback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "manager/controlapi/ctl.h"

/* Helpers. */
static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);

    if (v == NULL)
        fail_msg("bad test JSON %s: %s", text, je.text);
    return v;
}

static json_t *good_spec(void)
{
    return parse("{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":"
                 "{\"Image\":\"busybox:latest\"}}}");
}

/* A spec made from good_spec with one member replaced (path "A.B"). */
static json_t *spec_with(const char *path, const char *value_json)
{
    json_t *spec = good_spec();
    json_t *at = spec;
    char buf[128];
    char *dot;
    char *key = buf;

    strcpy(buf, path);
    while ((dot = strchr(key, '.')) != NULL) {
        json_t *next;

        *dot = '\0';
        next = json_object_get(at, key);
        if (next == NULL) {
            next = json_object();
            json_object_set_new(at, key, next);
        }
        at = next;
        key = dot + 1;
    }
    json_object_set_new(at, key, parse(value_json));
    return spec;
}

/* Tests. */
static void test_spec_errors(void **state)
{
    static const struct
    {
        const char *path;
        const char *value;
        const char *msg;
    } cases[] = {
        {"Name", "\"\"", "rpc error: code = InvalidArgument desc = meta: "
                         "name must be provided"},
        {"Name", "\"bad name\"", "rpc error: code = InvalidArgument desc = "
                                 "name must be valid as a DNS name "
                                 "component"},
        {"Name", "\"-x\"", "rpc error: code = InvalidArgument desc = name "
                           "must be valid as a DNS name component"},
        {"Name",
         "\"a123456789012345678901234567890123456789012345678901234567890123"
         "\"",
         "rpc error: code = InvalidArgument desc = name must be 63 "
         "characters or fewer"},
        {"TaskTemplate.ContainerSpec.Image", "\"\"",
         "rpc error: code = InvalidArgument desc = ContainerSpec: image "
         "reference must be provided"},
        {"TaskTemplate.RestartPolicy.Condition", "\"always\"",
         "invalid RestartCondition: \"always\""},
        {"TaskTemplate.RestartPolicy.Delay", "-1",
         "rpc error: code = InvalidArgument desc = TaskSpec: restart-delay "
         "cannot be negative"},
        {"TaskTemplate.Placement.Constraints", "[\"node.role\"]",
         "rpc error: code = InvalidArgument desc = constraint expected one "
         "operator from ==, !="},
        {"TaskTemplate.Placement.Constraints", "[\"node.labels.a==b!c\"]",
         "rpc error: code = InvalidArgument desc = value 'b!c' is invalid"},
        {"TaskTemplate.Resources.Reservations.MemoryBytes", "1024",
         "rpc error: code = InvalidArgument desc = invalid memory value "
         "1024: Must be at least 4MiB"},
        {"UpdateConfig.FailureAction", "\"explode\"",
         "unrecognized update failure action explode"},
        {"RollbackConfig.FailureAction", "\"rollback\"",
         "unrecognized rollback failure action rollback"},
        {"UpdateConfig.Order", "\"any-first\"",
         "unrecognized update order any-first"},
        {"UpdateConfig.MaxFailureRatio", "1.5",
         "rpc error: code = InvalidArgument desc = TaskSpec: "
         "update-maxfailureratio cannot be less than 0 or bigger than 1"},
        {"UpdateConfig.Monitor", "-5",
         "rpc error: code = InvalidArgument desc = TaskSpec: update-monitor "
         "cannot be negative"},
        {"Mode", "{\"Replicated\":{},\"Global\":{}}",
         "must specify only one service mode"},
        {"Mode", "{\"GlobalJob\":{}}", NULL}, /* replaced below */
        {"EndpointSpec.Ports",
         "[{\"TargetPort\":80,\"PublishedPort\":8080},"
         "{\"TargetPort\":81,\"PublishedPort\":8080}]",
         "rpc error: code = InvalidArgument desc = EndpointSpec: duplicate "
         "published ports provided"},
        {"EndpointSpec", "{\"Mode\":\"dnsrr\",\"Ports\":[{\"TargetPort\":80,"
                         "\"PublishedPort\":8080}]}",
         "rpc error: code = InvalidArgument desc = EndpointSpec: port "
         "published with ingress mode can't be used with dnsrr mode"},
        {"EndpointSpec.Ports", "[{\"TargetPort\":80,\"Protocol\":\"icmp\"}]",
         "invalid protocol: \"icmp\""},
    };
    struct err err;
    json_t *spec;
    json_t *out;
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        spec = spec_with(cases[i].path, cases[i].value);
        if (cases[i].msg == NULL) {
            /* A job with an update config. */
            json_object_set_new(spec, "UpdateConfig", json_object());
        }
        err_clear(&err);
        out = ctl_service_spec_check(spec, &err);
        if (out != NULL)
            fail_msg("case %zu (%s) accepted", i, cases[i].path);
        assert_int_equal(err.code, ERR_INVALID);
        assert_string_equal(err.msg,
                            cases[i].msg ? cases[i].msg
                                         : "rpc error: code = "
                                           "InvalidArgument desc = Jobs may "
                                           "not have an update config");
        json_decref(spec);
    }
}

static void test_spec_defaults(void **state)
{
    struct err err;
    json_t *spec = spec_with("EndpointSpec.Ports",
                             "[{\"TargetPort\":80,\"PublishedPort\":8080,"
                             "\"PublishMode\":\"host\"},{\"TargetPort\":53,"
                             "\"Protocol\":\"udp\"}]");
    json_t *out = ctl_service_spec_check(spec, &err);
    json_t *full;
    json_t *p;

    (void)state;
    assert_non_null(out);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(out, "Mode"),
                                         "Replicated"),
                         "Replicas")),
                     1);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(out, "EndpointSpec"), "Mode")),
                        "vip");
    p = json_array_get(json_object_get(json_object_get(out, "EndpointSpec"),
                                       "Ports"),
                       0);
    assert_string_equal(json_string_value(json_object_get(p, "Protocol")),
                        "tcp");
    assert_string_equal(json_string_value(json_object_get(p, "PublishMode")),
                        "host");
    p = json_array_get(json_object_get(json_object_get(out, "EndpointSpec"),
                                       "Ports"),
                       1);
    assert_string_equal(json_string_value(json_object_get(p, "PublishMode")),
                        "ingress");
    assert_true(json_is_object(json_object_get(out, "Labels")));
    full = ctl_service_spec_defaults(out);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(full, "TaskTemplate"),
                            "RestartPolicy"),
            "Condition")),
        "any");
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(json_object_get(full, "TaskTemplate"),
                            "RestartPolicy"),
            "Delay")),
        5000000000LL);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(full, "UpdateConfig"), "Order")),
                        "stop-first");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(full, "RollbackConfig"),
                         "Monitor")),
                     5000000000LL);
    json_decref(full);
    json_decref(out);
    json_decref(spec);

    /* Jobs: MaxConcurrent 1, TotalCompletions follows it; no update
     * config in the defaults. */
    spec = spec_with("Mode", "{\"ReplicatedJob\":{\"MaxConcurrent\":3}}");
    out = ctl_service_spec_check(spec, &err);
    assert_non_null(out);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(out, "Mode"),
                                         "ReplicatedJob"),
                         "TotalCompletions")),
                     3);
    full = ctl_service_spec_defaults(out);
    assert_null(json_object_get(full, "UpdateConfig"));
    json_decref(full);
    json_decref(out);
    json_decref(spec);
}

static void test_create_and_conflict(void **state)
{
    json_t *services = json_object();
    json_t *spec = good_spec();
    struct err err;
    json_t *svc;
    json_t *again;

    (void)state;
    svc = ctl_service_create(services, spec, &err);
    assert_non_null(svc);
    assert_int_equal(strlen(json_string_value(json_object_get(svc, "ID"))),
                     25);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(svc, "Endpoint"),
                                            "Spec"),
                            "Mode")),
                        "vip");
    json_object_set(services, json_string_value(json_object_get(svc, "ID")),
                    svc);
    again = ctl_service_create(services, spec, &err);
    assert_null(again);
    assert_int_equal(err.code, ERR_CONFLICT);
    assert_string_equal(err.msg,
                        "rpc error: code = AlreadyExists desc = name "
                        "conflicts with an existing object: service web "
                        "already exists");
    assert_ptr_equal(ctl_service_lookup(services, "web", &err), svc);
    assert_null(ctl_service_lookup(services, "nope", &err));
    assert_string_equal(err.msg, "service nope not found");
    json_decref(svc);
    json_decref(spec);
    json_decref(services);
}

static void test_update(void **state)
{
    json_t *services = json_object();
    json_t *spec = good_spec();
    struct err err;
    json_t *svc;
    json_t *next;
    json_t *back;
    char id[32];

    (void)state;
    svc = ctl_service_create(services, spec, &err);
    json_object_set_new(svc, "Version", json_pack("{s:i}", "Index", 10));
    strcpy(id, json_string_value(json_object_get(svc, "ID")));
    json_object_set_new(services, id, svc);

    assert_null(ctl_service_update(services, id, 9, spec, false, "t", &err));
    assert_string_equal(err.msg, "rpc error: code = Unknown desc = update "
                                 "out of sequence");
    assert_null(ctl_service_update(services, id, 10, spec, true, "t", &err));
    assert_non_null(strstr(err.msg, id));
    assert_non_null(strstr(err.msg, " does not have a previous spec"));

    json_object_set_new(spec, "Name", json_string("other"));
    assert_null(ctl_service_update(services, id, 10, spec, false, "t", &err));
    assert_int_equal(err.code, ERR_NOTIMPLEMENTED);
    assert_string_equal(err.msg, "rpc error: code = Unimplemented desc = "
                                 "renaming services is not supported");
    json_object_set_new(spec, "Name", json_string("web"));
    json_object_set_new(spec, "Mode", parse("{\"Global\":{}}"));
    assert_null(ctl_service_update(services, id, 10, spec, false, "t", &err));
    assert_string_equal(err.msg, "rpc error: code = Unimplemented desc = "
                                 "service mode change is not allowed");
    json_object_del(spec, "Mode");
    json_object_set_new(json_object_get(spec, "TaskTemplate"), "ForceUpdate",
                        json_integer(1));
    next = ctl_service_update(services, "web", 10, spec, false, "t", &err);
    assert_non_null(next);
    assert_true(json_equal(json_object_get(next, "PreviousSpec"),
                           json_object_get(svc, "Spec")));
    assert_null(json_object_get(next, "UpdateStatus"));
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(next, "Spec"),
                                         "TaskTemplate"),
                         "ForceUpdate")),
                     1);
    json_object_set(services, id, next);
    svc = NULL;
    back = ctl_service_update(services, id, 10, NULL, true,
                              "2024-05-01T10:00:00Z", &err);
    assert_non_null(back);
    assert_true(json_equal(json_object_get(back, "Spec"),
                           json_object_get(next, "PreviousSpec")));
    assert_true(json_equal(json_object_get(back, "PreviousSpec"),
                           json_object_get(next, "Spec")));
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(back, "UpdateStatus"), "Message")),
                        "manually requested rollback");
    json_decref(back);
    json_decref(next);
    json_decref(spec);
    json_decref(services);
}

static void test_job_iteration(void **state)
{
    json_t *services = json_object();
    json_t *spec = good_spec();
    struct err err;
    json_t *svc;
    json_t *next;
    const json_t *js;

    (void)state;
    json_object_set_new(spec, "Mode",
                        parse("{\"ReplicatedJob\":{\"MaxConcurrent\":2}}"));
    svc = ctl_service_create(services, spec, &err);
    assert_non_null(svc);
    js = json_object_get(svc, "JobStatus");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(js, "JobIteration"), "Index")),
                     0);
    json_object_set_new(svc, "Version", json_pack("{s:i}", "Index", 4));
    json_object_set_new(services, "j1", svc);
    next = ctl_service_update(services, "j1", 4, spec, false,
                              "2024-05-01T10:00:00Z", &err);
    assert_non_null(next);
    js = json_object_get(next, "JobStatus");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(js, "JobIteration"), "Index")),
                     1);
    assert_string_equal(
        json_string_value(json_object_get(js, "LastExecution")),
        "2024-05-01T10:00:00Z");
    json_decref(next);
    /* Not a job: no JobStatus. */
    json_object_set_new(spec, "Name", json_string("svc"));
    json_object_del(spec, "Mode");
    svc = ctl_service_create(services, spec, &err);
    assert_non_null(svc);
    assert_null(json_object_get(svc, "JobStatus"));
    json_decref(svc);
    json_decref(spec);
    json_decref(services);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_errors),
        cmocka_unit_test(test_spec_defaults),
        cmocka_unit_test(test_create_and_conflict),
        cmocka_unit_test(test_update),
        cmocka_unit_test(test_job_iteration),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

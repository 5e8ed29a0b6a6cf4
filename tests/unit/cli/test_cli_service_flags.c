/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for cli/cli_service_flags.c: docker's service create/update
 * flags -> the service spec, -add/-rm on an existing spec, and bad values
 * with docker's texts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "base/err.h"
#include "base/mem.h"
#include "cli/cli_int.h"

static const struct cli_cmd create_cmd = {
    "create", NULL, "", "", CLI_ARGS_MIN, 1,
    cli_service_flags_create_table, NULL, NULL};
static const struct cli_cmd update_cmd = {
    "update", NULL, "", "", CLI_ARGS_EXACT, 1,
    cli_service_flags_update_table, NULL, NULL};

/* Names resolve to "id-<name>"; "nosuch" is not found. */
static int fake_resolve(void *data, const char *kind, const char *name,
                        char **out_id, struct err *err)
{
    (void)data;
    if (strcmp(name, "nosuch") == 0)
        return err_set(err, ERR_NOTFOUND, "%s not found: %s", kind, name);
    *out_id = xasprintf("id-%s", name);
    return 0;
}

/* Parse a NULL-terminated argv for cmd; 0 or the parse error in err. */
static int parse(const struct cli_cmd *cmd, const char **argv,
                 struct cli_args *a, struct err *err)
{
    int argc = 0;

    while (argv[argc] != NULL)
        argc++;
    err_clear(err);
    return cli_args_parse(cmd, cmd == &update_cmd, argc, (char **)argv, a,
                          err);
}

static json_t *create_spec(const char **argv, struct err *err)
{
    struct cli_args a;
    json_t *spec = NULL;

    if (parse(&create_cmd, argv, &a, err) == 0)
        (void)cli_service_flags_create(&a, fake_resolve, NULL, &spec, err);
    cli_args_release(&a);
    return spec;
}

static void assert_json(const json_t *v, const char *want)
{
    json_t *w = json_loads(want, 0, NULL);
    char *got = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT);

    assert_non_null(w);
    if (!json_equal(v, w))
        fail_msg("got %s\nwant %s", got, want);
    free(got);
    json_decref(w);
}

static void test_create_defaults(void **state)
{
    const char *argv[] = {"busybox", "sleep", "1d", NULL};
    struct err err;
    json_t *spec = create_spec(argv, &err);

    (void)state;
    assert_non_null(spec);
    assert_json(spec,
                "{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"
                "\"busybox:latest\",\"Args\":[\"sleep\",\"1d\"],\"Init\":"
                "false,\"DNSConfig\":{}},\"Resources\":{\"Limits\":{},"
                "\"Reservations\":{}},\"Placement\":{},\"ForceUpdate\":0},"
                "\"Mode\":{\"Replicated\":{}},\"EndpointSpec\":{\"Mode\":"
                "\"vip\"}}");
    json_decref(spec);
}

static void test_create_flags(void **state)
{
    const char *argv[] = {
        "--name", "web", "-l", "a=b", "-e", "X=1", "-e", "X=2",
        "--publish", "8080:80", "-p", "target=90,published=91,mode=host",
        "--mount", "type=tmpfs,dst=/x,tmpfs-size=1k,ro",
        "--secret", "source=s,target=t,mode=0400", "--config", "c",
        "--limit-memory", "64m", "--limit-cpu", "0.5",
        "--reserve-memory", "1.5k", "--update-parallelism", "2",
        "--update-max-failure-ratio", "0.5", "--restart-delay", "1m30s",
        "--health-cmd", "true", "--health-retries", "3",
        "--entrypoint", "sh -c 'a b'", "--host", "db:10.0.0.1",
        "--cap-add", "net_admin", "--placement-pref", "spread=node.id",
        "--replicas", "2", "--replicas-max-per-node", "1", "--init",
        "-t", "busybox:1", NULL};
    struct err err;
    json_t *spec = create_spec(argv, &err);
    json_t *cs;

    (void)state;
    assert_non_null(spec);
    cs = cli_jget(spec, "TaskTemplate.ContainerSpec");
    assert_string_equal(cli_jstr(spec, "Name"), "web");
    assert_json(json_object_get(spec, "Labels"), "{\"a\":\"b\"}");
    assert_json(json_object_get(cs, "Env"), "[\"X=2\"]");
    assert_json(cli_jget(spec, "EndpointSpec.Ports"),
                "[{\"Protocol\":\"tcp\",\"TargetPort\":80,"
                "\"PublishedPort\":8080,\"PublishMode\":\"ingress\"},"
                "{\"Protocol\":\"tcp\",\"TargetPort\":90,"
                "\"PublishedPort\":91,\"PublishMode\":\"host\"}]");
    assert_json(json_object_get(cs, "Mounts"),
                "[{\"Type\":\"tmpfs\",\"Target\":\"/x\",\"ReadOnly\":true,"
                "\"TmpfsOptions\":{\"SizeBytes\":1024}}]");
    assert_json(json_object_get(cs, "Secrets"),
                "[{\"File\":{\"Name\":\"t\",\"UID\":\"0\",\"GID\":\"0\","
                "\"Mode\":256},\"SecretName\":\"s\",\"SecretID\":\"id-s\"}]");
    assert_json(json_object_get(cs, "Configs"),
                "[{\"File\":{\"Name\":\"c\",\"UID\":\"0\",\"GID\":\"0\","
                "\"Mode\":292},\"ConfigName\":\"c\",\"ConfigID\":\"id-c\"}]");
    assert_json(cli_jget(spec, "TaskTemplate.Resources"),
                "{\"Limits\":{\"MemoryBytes\":67108864,\"NanoCPUs\":"
                "500000000},\"Reservations\":{\"MemoryBytes\":1536}}");
    assert_json(json_object_get(spec, "UpdateConfig"),
                "{\"Parallelism\":2,\"FailureAction\":\"pause\",\"Monitor\":"
                "5000000000,\"MaxFailureRatio\":0.5,\"Order\":"
                "\"stop-first\"}");
    assert_json(cli_jget(spec, "TaskTemplate.RestartPolicy"),
                "{\"Condition\":\"any\",\"Delay\":90000000000,"
                "\"MaxAttempts\":0}");
    assert_json(json_object_get(cs, "Healthcheck"),
                "{\"Test\":[\"CMD-SHELL\",\"true\"],\"Retries\":3}");
    assert_json(json_object_get(cs, "Command"), "[\"sh\",\"-c\",\"a b\"]");
    assert_json(json_object_get(cs, "Hosts"), "[\"10.0.0.1 db\"]");
    assert_json(json_object_get(cs, "CapabilityAdd"), "[\"CAP_NET_ADMIN\"]");
    assert_json(cli_jget(spec, "TaskTemplate.Placement"),
                "{\"Preferences\":[{\"Spread\":{\"SpreadDescriptor\":"
                "\"node.id\"}}],\"MaxReplicas\":1}");
    assert_json(json_object_get(spec, "Mode"),
                "{\"Replicated\":{\"Replicas\":2}}");
    assert_true(cli_jbool(cs, "Init"));
    assert_true(cli_jbool(cs, "TTY"));
    assert_string_equal(cli_jstr(cs, "Image"), "busybox:1");
    json_decref(spec);
}

static void test_update_add_rm(void **state)
{
    const char *argv[] = {
        "--label-add", "n=1", "--label-rm", "a", "--env-add", "X=9",
        "--env-rm", "Y", "--mount-add", "type=bind,src=/s,dst=/b",
        "--mount-rm", "/x", "--publish-rm", "80", "--publish-add", "81:81",
        "--secret-rm", "s", "--secret-add", "s2",
        "--constraint-add", "node.role==worker", "--constraint-rm",
        "node.id==1", "--replicas", "5", "--force", "--image", "alpine",
        "--update-delay", "2s", "--no-healthcheck", "--args", "echo hi",
        "svc", NULL};
    const char *spec_text =
        "{\"Name\":\"svc\",\"Labels\":{\"a\":\"b\",\"k\":\"v\"},"
        "\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox:latest\","
        "\"Env\":[\"X=1\",\"Y=2\",\"Z=3\"],\"Mounts\":[{\"Type\":\"tmpfs\","
        "\"Target\":\"/x\"}],\"Secrets\":[{\"File\":{\"Name\":\"s\","
        "\"UID\":\"0\",\"GID\":\"0\",\"Mode\":292},\"SecretName\":\"s\","
        "\"SecretID\":\"id-s\"}]},\"Placement\":{\"Constraints\":["
        "\"node.id==1\"]},\"ForceUpdate\":3},\"Mode\":{\"Replicated\":"
        "{\"Replicas\":1}},\"UpdateConfig\":{\"Parallelism\":4},"
        "\"EndpointSpec\":{\"Mode\":\"vip\",\"Ports\":[{\"Protocol\":"
        "\"tcp\",\"TargetPort\":80,\"PublishedPort\":8080,\"PublishMode\":"
        "\"ingress\"}]}}";
    json_t *spec = json_loads(spec_text, 0, NULL);
    struct cli_args a;
    struct err err;
    json_t *cs;

    (void)state;
    assert_int_equal(parse(&update_cmd, argv, &a, &err), 0);
    assert_int_equal(cli_service_flags_update(&a, spec, fake_resolve, NULL,
                                              &err),
                     0);
    cli_args_release(&a);
    cs = cli_jget(spec, "TaskTemplate.ContainerSpec");
    assert_json(json_object_get(spec, "Labels"), "{\"k\":\"v\",\"n\":\"1\"}");
    assert_json(json_object_get(cs, "Env"), "[\"X=9\",\"Z=3\"]");
    assert_json(json_object_get(cs, "Mounts"),
                "[{\"Type\":\"bind\",\"Source\":\"/s\",\"Target\":\"/b\"}]");
    assert_json(cli_jget(spec, "EndpointSpec.Ports"),
                "[{\"Protocol\":\"tcp\",\"TargetPort\":81,"
                "\"PublishedPort\":81,\"PublishMode\":\"ingress\"}]");
    assert_json(json_object_get(cs, "Secrets"),
                "[{\"File\":{\"Name\":\"s2\",\"UID\":\"0\",\"GID\":\"0\","
                "\"Mode\":292},\"SecretName\":\"s2\","
                "\"SecretID\":\"id-s2\"}]");
    assert_json(cli_jget(spec, "TaskTemplate.Placement"),
                "{\"Constraints\":[\"node.role==worker\"]}");
    assert_int_equal(cli_jint(spec, "Mode.Replicated.Replicas"), 5);
    assert_int_equal(cli_jint(spec, "TaskTemplate.ForceUpdate"), 4);
    assert_string_equal(cli_jstr(cs, "Image"), "alpine:latest");
    assert_json(json_object_get(spec, "UpdateConfig"),
                "{\"Parallelism\":4,\"Delay\":2000000000}");
    assert_json(json_object_get(cs, "Healthcheck"), "{\"Test\":[\"NONE\"]}");
    assert_json(json_object_get(cs, "Args"), "[\"echo\",\"hi\"]");
    json_decref(spec);
}

static void test_update_mode_errors(void **state)
{
    const char *argv[] = {"--replicas", "2", "svc", NULL};
    json_t *spec = json_pack("{s:{s:{}}}", "Mode", "Global");
    struct cli_args a;
    struct err err;

    (void)state;
    assert_int_equal(parse(&update_cmd, argv, &a, &err), 0);
    assert_int_equal(cli_service_flags_update(&a, spec, fake_resolve, NULL,
                                              &err),
                     -ERR_INVALID);
    assert_string_equal(err.msg, "replicas can only be used with replicated "
                                 "or replicated-job mode");
    cli_args_release(&a);
    json_decref(spec);
}

/* One bad flag value: the parse fails with pflag's message. */
static void check_bad(const char *flag, const char *val, const char *want)
{
    const char *argv[] = {flag, val, "busybox", NULL};
    struct cli_args a;
    struct err err;

    assert_int_equal(parse(&create_cmd, argv, &a, &err), -ERR_INVALID);
    assert_string_equal(err.msg, want);
    cli_args_release(&a);
}

static void test_bad_values(void **state)
{
    (void)state;
    check_bad("--limit-memory", "12x",
              "invalid argument \"12x\" for \"--limit-memory\" flag: "
              "invalid size: '12x'");
    check_bad("--limit-cpu", "abc",
              "invalid argument \"abc\" for \"--limit-cpu\" flag: failed "
              "to parse abc as a rational number");
    check_bad("--limit-cpu", "0.0000000001",
              "invalid argument \"0.0000000001\" for \"--limit-cpu\" flag: "
              "value is too precise");
    check_bad("--update-max-failure-ratio", "x",
              "invalid argument \"x\" for \"--update-max-failure-ratio\" "
              "flag: strconv.ParseFloat: parsing \"x\": invalid syntax");
    check_bad("--mount", "type=tmpfs",
              "invalid argument \"type=tmpfs\" for \"--mount\" flag: target "
              "is required");
    check_bad("--mount", "type=bind,dst=/x,volume-nocopy",
              "invalid argument \"type=bind,dst=/x,volume-nocopy\" for "
              "\"--mount\" flag: cannot mix 'volume-*' options with mount "
              "type 'bind'");
    check_bad("--mount", "dst=/x,bogus=1",
              "invalid argument \"dst=/x,bogus=1\" for \"--mount\" flag: "
              "unexpected key 'bogus' in 'dst=/x,bogus=1'");
    check_bad("-p", "published=1",
              "invalid argument \"published=1\" for \"-p, --publish\" flag: "
              "missing mandatory field 'target'");
    check_bad("-p", "target=1,mode=x",
              "invalid argument \"target=1,mode=x\" for \"-p, --publish\" "
              "flag: invalid publish mode value (x): must be either "
              "'ingress' or 'host'");
    check_bad("-p", "1.2.3.4:80:80",
              "invalid argument \"1.2.3.4:80:80\" for \"-p, --publish\" "
              "flag: hostip is not supported");
    check_bad("--secret", "target=x",
              "invalid argument \"target=x\" for \"--secret\" flag: source "
              "is required");
    check_bad("--placement-pref", "pack=x",
              "invalid argument \"pack=x\" for \"--placement-pref\" flag: "
              "unsupported placement preference pack (only spread is "
              "supported)");
    check_bad("--host", "nocolon",
              "invalid argument \"nocolon\" for \"--host\" flag: bad format "
              "for add-host: \"nocolon\"");
    check_bad("--dns", "1.2.3",
              "invalid argument \"1.2.3\" for \"--dns\" flag: IP address is "
              "not correctly formatted: 1.2.3");
    check_bad("--entrypoint", "sh 'x",
              "invalid argument \"sh 'x\" for \"--entrypoint\" flag: EOF "
              "found when expecting closing quote");
}

static void test_create_errors(void **state)
{
    const char *unknown[] = {"--secret", "nosuch", "busybox", NULL};
    const char *global[] = {"--mode", "global", "--replicas", "1",
                            "busybox", NULL};
    const char *mode[] = {"--mode", "daily", "busybox", NULL};
    const char *health[] = {"--no-healthcheck", "--health-cmd", "x",
                            "busybox", NULL};
    struct err err;

    (void)state;
    assert_null(create_spec(unknown, &err));
    assert_string_equal(err.msg, "secret not found: nosuch");
    assert_null(create_spec(global, &err));
    assert_string_equal(err.msg, "replicas can only be used with replicated "
                                 "or replicated-job mode");
    assert_null(create_spec(mode, &err));
    assert_string_equal(err.msg, "Unknown mode: daily, only replicated and "
                                 "global supported");
    assert_null(create_spec(health, &err));
    assert_string_equal(err.msg,
                        "--no-healthcheck conflicts with --health-* options");
}

static void test_units(void **state)
{
    struct err err;
    int64_t v;

    (void)state;
    assert_int_equal(cli_service_flags_parse_bytes("1g", &v, &err), 0);
    assert_int_equal(v, 1073741824);
    assert_int_equal(cli_service_flags_parse_bytes("64MiB", &v, &err), 0);
    assert_int_equal(v, 67108864);
    assert_int_equal(cli_service_flags_parse_bytes("512", &v, &err), 0);
    assert_int_equal(v, 512);
    assert_int_equal(cli_service_flags_parse_cpus("1.5", &v, &err), 0);
    assert_int_equal(v, 1500000000);
    assert_int_equal(cli_service_flags_parse_cpus("1/4", &v, &err), 0);
    assert_int_equal(v, 250000000);
    assert_int_equal(cli_service_flags_parse_bytes("-1", &v, &err),
                     -ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_defaults),
        cmocka_unit_test(test_create_flags),
        cmocka_unit_test(test_update_add_rm),
        cmocka_unit_test(test_update_mode_errors),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_units),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

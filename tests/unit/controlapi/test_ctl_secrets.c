/* SPDX-License-Identifier: Apache-2.0 */
/* Control API for secrets and configs: swarmkit's texts for names, sizes,
 * drivers, conflicts, label-only updates, removal while in use; base64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/b64.h"
#include "manager/controlapi/ctl.h"

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);

    if (v == NULL)
        fail_msg("bad test JSON %s: %s", text, je.text);
    return v;
}

/* Apply actions (stolen) to s as one entry at index. */
static void apply(struct store *s, uint64_t index, json_t *actions)
{
    struct err err;
    size_t len;
    char *text = store_entry_encode(actions, &len);

    assert_int_equal(store_apply(s, index, text, len, &err), 0);
    free(text);
}

static void apply_one(struct store *s, uint64_t index, json_t *action)
{
    json_t *actions = json_array();

    json_array_append_new(actions, action);
    apply(s, index, actions);
}

/* The message of checking spec_json as a kind k spec ("" if fine). */
static void check_spec(enum store_kind k, const char *spec_json,
                         const char *want)
{
    json_t *spec = parse(spec_json);
    struct err err;
    int rv;

    err_clear(&err);
    rv = ctl_secret_spec_check(k, spec, &err);
    json_decref(spec);
    if (want[0] == '\0') {
        assert_int_equal(rv, 0);
        return;
    }
    assert_int_equal(rv, -ERR_INVALID);
    assert_string_equal(err.msg, want);
}

static void test_names(void **state)
{
    char long_name[70];

    (void)state;
    assert_true(ctl_secret_name_is_valid("a"));
    assert_true(ctl_secret_name_is_valid("db_pass.v-1"));
    assert_false(ctl_secret_name_is_valid(""));
    assert_false(ctl_secret_name_is_valid("-a"));
    assert_false(ctl_secret_name_is_valid("a_"));
    assert_false(ctl_secret_name_is_valid("a/b"));
    memset(long_name, 'a', 64);
    long_name[64] = '\0';
    assert_true(ctl_secret_name_is_valid(long_name));
    long_name[64] = 'a';
    long_name[65] = '\0';
    assert_false(ctl_secret_name_is_valid(long_name));
}

static void test_spec_errors(void **state)
{
    static const char *const bad_name =
        "rpc error: code = InvalidArgument desc = invalid name, only 64 "
        "[a-zA-Z0-9-_.] characters allowed, and the start and end "
        "character must be [a-zA-Z0-9]";

    (void)state;
    check_spec(STORE_SECRET, "{\"Name\":\"x\",\"Data\":\"eA==\"}", "");
    check_spec(STORE_SECRET, "{\"Data\":\"eA==\"}",
                 "rpc error: code = InvalidArgument desc = name must be "
                 "provided");
    check_spec(STORE_SECRET, "{\"Name\":\"x!\",\"Data\":\"eA==\"}",
                 bad_name);
    check_spec(STORE_SECRET, "{\"Name\":\"x\"}",
                 "rpc error: code = InvalidArgument desc = secret data must "
                 "be larger than 0 and less than 512000 bytes");
    check_spec(STORE_CONFIG, "{\"Name\":\"x\",\"Data\":\"\"}",
                 "rpc error: code = InvalidArgument desc = config data must "
                 "be larger than 0 and less than 1024000 bytes");
    check_spec(STORE_SECRET, "{\"Name\":\"x\",\"Data\":\"eA=\"}",
                 "illegal base64 data at input byte 0");
    check_spec(STORE_SECRET, "{\"Name\":\"x\",\"Data\":\"eA==eA==\"}",
                 "illegal base64 data at input byte 4");
    check_spec(STORE_SECRET, "{\"Name\":\"x\",\"Data\":1}",
                 "json: cannot unmarshal value into Go struct field "
                 "SecretSpec.Data of type []uint8");
    check_spec(STORE_CONFIG, "{\"Name\":\"x\",\"Labels\":[]}",
                 "json: cannot unmarshal value into Go struct field "
                 "ConfigSpec.Labels of type map[string]string");
    check_spec(STORE_SECRET, "[]",
                 "json: cannot unmarshal value into Go value of type "
                 "swarm.SecretSpec");
    check_spec(STORE_SECRET,
                 "{\"Name\":\"x\",\"Data\":\"eA==\",\"Driver\":{}}",
                 "rpc error: code = InvalidArgument desc = secret driver "
                 "must have a name");
    check_spec(STORE_CONFIG,
                 "{\"Name\":\"x\",\"Data\":\"eA==\",\"Templating\":"
                 "{\"Name\":\"golang\"}}",
                 "rpc error: code = InvalidArgument desc = templating is not "
                 "supported by shoal (templating driver \"golang\")");
}

static void test_size_limit(void **state)
{
    unsigned char *raw = calloc(1, CTL_SECRET_MAX_SIZE);
    char *text;
    json_t *spec;
    struct err err;

    (void)state;
    text = b64_encode(raw, CTL_SECRET_MAX_SIZE - 1);
    spec = json_pack("{s:s, s:s}", "Name", "x", "Data", text);
    assert_int_equal(ctl_secret_spec_check(STORE_SECRET, spec, &err), 0);
    json_decref(spec);
    free(text);
    text = b64_encode(raw, CTL_SECRET_MAX_SIZE);
    spec = json_pack("{s:s, s:s}", "Name", "x", "Data", text);
    assert_int_equal(ctl_secret_spec_check(STORE_SECRET, spec, &err),
                     -ERR_INVALID);
    /* a config may be that big */
    assert_int_equal(ctl_secret_spec_check(STORE_CONFIG, spec, &err), 0);
    json_decref(spec);
    free(text);
    free(raw);
}

static void test_b64(void **state)
{
    unsigned char *out;
    size_t n;
    size_t bad;
    char *enc;

    (void)state;
    assert_int_equal(b64_decode("aGVsbG8=\n", 9, &out, &n, &bad), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(out, "hello", 5);
    free(out);
    assert_int_equal(b64_decode("aGVsbG8", 7, &out, &n, &bad), -1);
    assert_int_equal(b64_decode("aG$s", 4, &out, &n, &bad), -1);
    assert_int_equal(bad, 2);
    enc = b64_encode((const unsigned char *)"hello", 5);
    assert_string_equal(enc, "aGVsbG8=");
    free(enc);
    enc = b64_encode((const unsigned char *)"hi!", 3);
    assert_string_equal(enc, "aGkh");
    free(enc);
}

static void test_lifecycle(void **state)
{
    struct store *s = store_new();
    json_t *spec = parse("{\"Name\":\"db\",\"Data\":\"eA==\",\"Labels\":"
                         "{\"a\":\"b\"}}");
    json_t *a;
    json_t *view;
    json_t *obj;
    struct err err;
    char id[32];

    (void)state;
    a = ctl_secret_create(s, STORE_SECRET, spec, &err);
    assert_non_null(a);
    snprintf(id, sizeof(id), "%s", store_obj_id(json_object_get(a, "obj")));
    apply_one(s, 1, a);
    assert_null(ctl_secret_create(s, STORE_SECRET, spec, &err));
    assert_int_equal(err.code, ERR_CONFLICT);
    assert_string_equal(err.msg, "rpc error: code = AlreadyExists desc = "
                                 "secret db already exists");
    /* a config of the same name is another object */
    a = ctl_secret_create(s, STORE_CONFIG, spec, &err);
    assert_non_null(a);
    apply_one(s, 2, a);
    json_decref(spec);

    obj = ctl_secret_lookup(s, STORE_SECRET, "db", &err);
    assert_non_null(obj);
    assert_string_equal(store_obj_id(obj), id);
    assert_ptr_equal(ctl_secret_lookup(s, STORE_SECRET, "", &err), NULL);
    assert_null(ctl_secret_lookup(s, STORE_SECRET, "nope", &err));
    assert_string_equal(err.msg, "secret nope not found");
    view = ctl_secret_view(STORE_SECRET, obj);
    assert_null(json_object_get(json_object_get(view, "Spec"), "Data"));
    json_decref(view);
    view = ctl_secret_view(STORE_CONFIG,
                           ctl_secret_lookup(s, STORE_CONFIG, "db", &err));
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(view, "Spec"), "Data")),
                        "eA==");
    json_decref(view);

    /* only labels change */
    spec = parse("{\"Name\":\"db2\"}");
    assert_null(ctl_secret_update(s, STORE_SECRET, id, 1, spec, &err));
    assert_string_equal(err.msg, "rpc error: code = InvalidArgument desc = "
                                 "only updates to Labels are allowed");
    json_decref(spec);
    spec = parse("{\"Name\":\"db\",\"Data\":\"eQ==\"}");
    assert_null(ctl_secret_update(s, STORE_SECRET, id, 1, spec, &err));
    json_decref(spec);
    spec = parse("{\"Name\":\"db\",\"Labels\":{\"c\":\"d\"}}");
    assert_null(ctl_secret_update(s, STORE_SECRET, id, 7, spec, &err));
    assert_string_equal(err.msg, "rpc error: code = Unknown desc = update "
                                 "out of sequence");
    a = ctl_secret_update(s, STORE_SECRET, id, 1, spec, &err);
    assert_non_null(a);
    apply_one(s, 3, a);
    json_decref(spec);
    obj = store_get(s, STORE_SECRET, id);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(obj, "Spec"),
                                            "Labels"),
                            "c")),
                        "d");
    assert_non_null(json_object_get(json_object_get(obj, "Spec"), "Data"));

    /* in use by services */
    a = json_pack("{s:s, s:{s:s, s:{s:{s:[{s:s}]}}}}", "ID",
                  "svc000000000000000000000a", "Spec", "Name", "web",
                  "TaskTemplate", "ContainerSpec", "Secrets", "SecretID", id);
    apply_one(s, 4, store_action_create(STORE_SERVICE, a));
    a = json_pack("{s:s, s:{s:s, s:{s:{s:[{s:s}]}}}}", "ID",
                  "svc000000000000000000000b", "Spec", "Name", "api",
                  "TaskTemplate", "ContainerSpec", "Secrets", "SecretID", id);
    apply_one(s, 5, store_action_create(STORE_SERVICE, a));
    assert_null(ctl_secret_remove(s, STORE_SECRET, "db", &err));
    assert_int_equal(err.code, ERR_INVALID);
    assert_string_equal(err.msg, "rpc error: code = InvalidArgument desc = "
                                 "secret 'db' is in use by the following "
                                 "services: web, api");
    apply_one(s, 6, store_action_delete(STORE_SERVICE,
                                        "svc000000000000000000000b"));
    assert_null(ctl_secret_remove(s, STORE_SECRET, "db", &err));
    assert_string_equal(err.msg, "rpc error: code = InvalidArgument desc = "
                                 "secret 'db' is in use by the following "
                                 "service: web");
    /* the config is not used by it */
    a = ctl_secret_remove(s, STORE_CONFIG, "db", &err);
    assert_non_null(a);
    json_decref(a);
    apply_one(s, 7, store_action_delete(STORE_SERVICE,
                                        "svc000000000000000000000a"));
    a = ctl_secret_remove(s, STORE_SECRET, id, &err);
    assert_non_null(a);
    apply_one(s, 8, a);
    assert_null(store_get(s, STORE_SECRET, id));
    store_free(s);
}

/* ctl_secret_refs_check of a service with ContainerSpec cs_json: want is
 * its message ("" if fine). */
static void check_refs(const struct store *s, const char *cs_json,
                       const char *want)
{
    json_t *svc = json_pack("{s:{s:{s:o}}}", "Spec", "TaskTemplate",
                            "ContainerSpec", parse(cs_json));
    struct err err;
    int rv;

    err_clear(&err);
    rv = ctl_secret_refs_check(s, svc, &err);
    json_decref(svc);
    if (want[0] == '\0') {
        assert_int_equal(rv, 0);
        return;
    }
    assert_int_equal(rv, -ERR_INVALID);
    assert_string_equal(err.msg, want);
}

static void test_refs(void **state)
{
    struct store *s = store_new();
    json_t *spec = parse("{\"Name\":\"db\",\"Data\":\"eA==\"}");
    json_t *a;
    struct err err;
    char sid[32];
    char cid[32];
    char cs[512];

    (void)state;
    a = ctl_secret_create(s, STORE_SECRET, spec, &err);
    snprintf(sid, sizeof(sid), "%s", store_obj_id(json_object_get(a, "obj")));
    apply_one(s, 1, a);
    a = ctl_secret_create(s, STORE_CONFIG, spec, &err);
    snprintf(cid, sizeof(cid), "%s", store_obj_id(json_object_get(a, "obj")));
    apply_one(s, 2, a);
    json_decref(spec);

    check_refs(s, "{}", "");
    snprintf(cs, sizeof(cs), "{\"Secrets\":[{\"SecretID\":\"%s\","
             "\"SecretName\":\"db\",\"File\":{\"Name\":\"a\"}},"
             "{\"SecretID\":\"%s\",\"SecretName\":\"db\",\"File\":"
             "{\"Name\":\"b\"}}],\"Configs\":[{\"ConfigID\":\"%s\","
             "\"ConfigName\":\"db\",\"Runtime\":{}}]}", sid, sid, cid);
    check_refs(s, cs, "");
    /* the name must be the stored one's */
    snprintf(cs, sizeof(cs), "{\"Secrets\":[{\"SecretID\":\"%s\","
             "\"SecretName\":\"x\",\"File\":{\"Name\":\"a\"}}]}", sid);
    check_refs(s, cs, "rpc error: code = InvalidArgument desc = secret not "
                      "found: x");
    check_refs(s, "{\"Configs\":[{\"ConfigID\":\"n1\",\"ConfigName\":"
                  "\"a\",\"File\":{\"Name\":\"/a\"}},{\"ConfigID\":"
                  "\"n2\",\"ConfigName\":\"b\",\"File\":{\"Name\":"
                  "\"/b\"}}]}",
               "rpc error: code = InvalidArgument desc = configs not found: "
               "a, b");
    check_refs(s, "{\"Secrets\":[{\"SecretName\":\"x\"}]}",
               "rpc error: code = InvalidArgument desc = malformed secret "
               "reference");
    check_refs(s, "{\"Secrets\":[{\"SecretID\":\"i\",\"SecretName\":"
                  "\"x\",\"Runtime\":{}}]}",
               "rpc error: code = InvalidArgument desc = malformed secret "
               "reference, no target provided");
    check_refs(s, "{\"Configs\":[{\"ConfigID\":\"i\",\"ConfigName\":"
                  "\"x\",\"File\":{\"Name\":\"\"}}]}",
               "rpc error: code = InvalidArgument desc = malformed file "
               "config reference, invalid target file name provided");
    check_refs(s, "{\"Secrets\":[{\"SecretID\":\"i\",\"SecretName\":"
                  "\"x\",\"File\":{\"Name\":\"t\"}},{\"SecretID\":"
                  "\"j\",\"SecretName\":\"y\",\"File\":{\"Name\":"
                  "\"t\"}}]}",
               "rpc error: code = InvalidArgument desc = secret references "
               "'x' and 'y' have a conflicting target: 't'");
    store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_spec_errors),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_b64),
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_refs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

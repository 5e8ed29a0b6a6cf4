/* SPDX-License-Identifier: Apache-2.0 */
/* Container events for the agent: subscribers get action, ID and the
 * labels plus name, image and extras; unsubscribing inside a callback is
 * safe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "engine/engine_int.h"

struct seen
{
    struct engine *e;
    void *sub;
    int n;
    char last[256];
    bool unsubscribe;   /* drop the subscription from the callback */
};

static void on_event(void *data, const char *action, const char *id,
                     const json_t *attrs)
{
    struct seen *s = data;

    s->n++;
    snprintf(s->last, sizeof(s->last), "%s %.12s %s %s %s %s", action, id,
             json_string_value(json_object_get(attrs, "name")),
             json_string_value(json_object_get(attrs, "image")),
             json_string_value(json_object_get(attrs, "app")) ?: "-",
             json_string_value(json_object_get(attrs, "exitCode")) ?: "-");
    if (s->unsubscribe) {
        engine_unsubscribe(s->e, s->sub);
        s->sub = NULL;
    }
}

static void test_subscribe_emit(void **state)
{
    struct engine e;
    struct engine_ctr c;
    struct seen a;
    struct seen b;
    char name[] = "/web";
    char image[] = "sha256:feed";

    (void)state;
    memset(&e, 0, sizeof(e));
    memset(&c, 0, sizeof(c));
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    snprintf(c.id, sizeof(c.id), "%s",
             "0123456789ab0000000000000000000000000000000000000000000000000000");
    c.name = name;
    c.image_id = image;
    c.config = json_pack("{s:s, s:{s:s}}", "Image", "busybox", "Labels",
                         "app", "shop");
    a.e = &e;
    b.e = &e;
    a.sub = engine_subscribe(&e, on_event, &a);
    b.sub = engine_subscribe(&e, on_event, &b);
    b.unsubscribe = true;

    engine_emit(&e, "create", &c, NULL, NULL);
    assert_int_equal(a.n, 1);
    assert_int_equal(b.n, 1);
    assert_string_equal(a.last, "create 0123456789ab web busybox shop -");
    assert_null(b.sub);

    engine_emit(&e, "die", &c, "exitCode", "137");
    assert_int_equal(a.n, 2);
    assert_int_equal(b.n, 1);
    assert_string_equal(a.last, "die 0123456789ab web busybox shop 137");

    engine_unsubscribe(&e, a.sub);
    engine_emit(&e, "destroy", &c, NULL, NULL);
    assert_int_equal(a.n, 2);
    assert_null(e.subs);
    json_decref(c.config);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subscribe_emit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

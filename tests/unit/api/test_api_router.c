/* SPDX-License-Identifier: Apache-2.0 */
/* The Engine API server in-process: routing, versions, query and filter
 * parsing, error shapes, body limits, teardown with no handle left. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "api/api.h"
#include "base/buf.h"
#include "base/fsutil.h"
#include "cluster/cluster.h"

struct fixture
{
    uv_loop_t loop;
    char dir[64];
    char host[128];
    struct cluster *cluster;
    struct api_server *srv;
};

struct client
{
    uv_pipe_t pipe;
    uv_connect_t conn;
    uv_write_t wr;
    uv_shutdown_t shut;
    struct buf out;
    bool done;
};

static void on_alloc(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    (void)h;
    b->base = malloc(n);
    b->len = n;
}

static void on_closed(uv_handle_t *h)
{
    struct client *c = h->data;

    c->done = true;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct client *c = s->data;

    if (n > 0)
        assert_int_equal(buf_append(&c->out, b->base, (size_t)n), 0);
    free(b->base);
    if (n < 0)
        uv_close((uv_handle_t *)&c->pipe, on_closed);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct client *c = req->data;

    assert_int_equal(status, 0);
    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

/* Send raw bytes on a new connection (then close the sending side when
 * shut) and return everything the server answers until it closes.
 * Caller frees. */
static char *request_ex(struct fixture *f, const char *raw, size_t len,
                        bool shut)
{
    struct client c;
    uv_buf_t b = uv_buf_init((char *)raw, (unsigned)len);
    char path[160];
    int i;

    memset(&c, 0, sizeof(c));
    buf_init(&c.out, 64u << 20);
    uv_pipe_init(&f->loop, &c.pipe, 0);
    c.pipe.data = &c;
    c.conn.data = &c;
    snprintf(path, sizeof(path), "%s", f->host + 7);
    uv_pipe_connect(&c.conn, &c.pipe, path, on_connect);
    uv_write(&c.wr, (uv_stream_t *)&c.pipe, &b, 1, NULL);
    if (shut)
        uv_shutdown(&c.shut, (uv_stream_t *)&c.pipe, NULL);
    for (i = 0; i < 100000 && !c.done; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(c.done);
    return buf_detach(&c.out, NULL);
}

static char *request(struct fixture *f, const char *raw, size_t len)
{
    return request_ex(f, raw, len, false);
}

static char *get(struct fixture *f, const char *method, const char *target)
{
    char raw[1024];
    int n = snprintf(raw, sizeof(raw),
                     "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     method, target);

    return request(f, raw, (size_t)n);
}

static int status_of(const char *resp)
{
    return atoi(resp + 9);
}

static const char *body_of(const char *resp)
{
    const char *p = strstr(resp, "\r\n\r\n");

    return p ? p + 4 : "";
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct err err;

    snprintf(f->dir, sizeof(f->dir), "/tmp/shoal-api-test.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->host, sizeof(f->host), "unix://%s/s.sock", f->dir);
    uv_loop_init(&f->loop);
    f->cluster = cluster_new(&f->loop, f->dir, &err);
    assert_non_null(f->cluster);
    f->srv = api_server_start(&f->loop, f->host, f->cluster, NULL, &err);
    assert_non_null(f->srv);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    struct err err;

    api_server_close(f->srv, NULL, NULL);
    cluster_close(f->cluster, NULL, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    assert_int_equal(fsutil_empty_dir(f->dir, &err), 0);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void test_ping(void **state)
{
    struct fixture *f = *state;
    char *r = get(f, "GET", "/_ping");

    assert_int_equal(status_of(r), 200);
    assert_string_equal(body_of(r), "OK");
    assert_non_null(strstr(r, "Swarm: inactive\r\n"));
    assert_non_null(strstr(r, "Api-Version: " API_VERSION_MAX "\r\n"));
    free(r);
    r = get(f, "HEAD", "/v1.40/_ping");
    assert_int_equal(status_of(r), 200);
    assert_string_equal(body_of(r), "");
    free(r);
}

/* A message quoting what the client sent stays valid JSON: bytes that are
 * not UTF-8 become U+FFFD, as Go's encoder writes them (found by
 * fuzz_api_http: the daemon aborted). */
static void test_error_invalid_utf8(void **state)
{
    struct fixture *f = *state;
    char *r = get(f, "GET", "/v1.41/nodes/\x82\xff/%zz");

    assert_int_equal(status_of(r), 400);
    assert_non_null(strstr(body_of(r), "invalid URL escape in "
                                       "/v1.41/nodes/\xef\xbf\xbd\xef\xbf\xbd/%zz"));
    free(r);
}

static void test_versions(void **state)
{
    struct fixture *f = *state;
    char *r;

    r = get(f, "GET", "/v1.24/version");
    assert_int_equal(status_of(r), 200);
    free(r);
    r = get(f, "GET", "/v1.23/version");
    assert_int_equal(status_of(r), 400);
    assert_non_null(strstr(body_of(r), "client version 1.23 is too old"));
    free(r);
    r = get(f, "GET", "/v1.52/version");
    assert_int_equal(status_of(r), 400);
    assert_non_null(strstr(body_of(r), "Maximum supported API version is 1.51"));
    free(r);
    /* Not a version prefix: an unknown path. */
    r = get(f, "GET", "/vx.1/version");
    assert_int_equal(status_of(r), 404);
    free(r);
}

static void test_routes_and_methods(void **state)
{
    struct fixture *f = *state;
    char *r;

    r = get(f, "GET", "/nope");
    assert_int_equal(status_of(r), 404);
    assert_string_equal(body_of(r), "{\"message\":\"page not found\"}\n");
    free(r);
    r = get(f, "PUT", "/version");
    assert_int_equal(status_of(r), 405);
    free(r);
    r = get(f, "GET", "/version/");
    assert_int_equal(status_of(r), 200);
    free(r);
    r = get(f, "GET", "/nodes/abc/extra");
    assert_int_equal(status_of(r), 404);
    free(r);
    r = get(f, "GET", "/nod%65s");
    assert_int_equal(status_of(r), 503); /* decoded to /nodes */
    free(r);
    r = get(f, "GET", "/nodes%zz");
    assert_int_equal(status_of(r), 400);
    free(r);
    r = get(f, "GET", "/nodes");
    assert_int_equal(status_of(r), 503);
    assert_non_null(strstr(body_of(r), "This node is not a swarm manager."));
    assert_non_null(strstr(r, "Content-Type: application/json\r\n"));
    free(r);
}

static void test_bodies(void **state)
{
    struct fixture *f = *state;
    static const char bad[] =
        "POST /swarm/init HTTP/1.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 5\r\nConnection: close\r\n\r\n{\"a\":";
    static const char chunked[] =
        "POST /swarm/init HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n4\r\n{\"Ad\r\n0\r\n\r\n";
    size_t big = (16u << 20) + 10;
    char *raw;
    char *r;
    int n;

    r = request(f, bad, sizeof(bad) - 1);
    assert_int_equal(status_of(r), 400);
    assert_non_null(strstr(body_of(r), "invalid JSON"));
    free(r);
    r = request(f, chunked, sizeof(chunked) - 1);
    assert_int_equal(status_of(r), 400);
    free(r);
    raw = malloc(big + 200);
    n = snprintf(raw, 200,
                 "POST /swarm/init HTTP/1.1\r\nContent-Length: %zu\r\n\r\n",
                 big);
    memset(raw + n, 'a', big);
    r = request(f, raw, (size_t)n + big);
    assert_int_equal(status_of(r), 413);
    free(r);
    free(raw);
    r = request(f, "\x01\x02\r\n\r\n", 6);
    assert_int_equal(status_of(r), 400);
    free(r);
}

static void test_pipelined(void **state)
{
    struct fixture *f = *state;
    static const char raw[] =
        "GET /_ping HTTP/1.1\r\n\r\nGET /_ping HTTP/1.1\r\n\r\n"
        "GET /info HTTP/1.1\r\nConnection: close\r\n\r\n";
    char *r = request(f, raw, sizeof(raw) - 1);
    const char *p = r;
    int n = 0;

    while ((p = strstr(p, "HTTP/1.1 200 OK")) != NULL) {
        n++;
        p++;
    }
    assert_int_equal(n, 3);
    assert_non_null(strstr(r, "\"LocalNodeState\":\"inactive\""));
    free(r);
}

static void test_filters(void **state)
{
    struct fixture *f = *state;
    char *r;

    /* Filters are parsed before the manager check only for networks. */
    r = get(f, "GET", "/networks?filters=%7B%22bogus%22%3A%7B%22x%22%3Atrue%7D%7D");
    assert_int_equal(status_of(r), 400);
    assert_string_equal(body_of(r), "{\"message\":\"invalid filter 'bogus'\"}\n");
    free(r);
    r = get(f, "GET", "/networks?filters=notjson");
    assert_int_equal(status_of(r), 400);
    assert_string_equal(body_of(r), "{\"message\":\"invalid filter\"}\n");
    free(r);
    r = get(f, "GET", "/networks?filters=%7B%22name%22%3A%5B%22ingress%22%5D%7D");
    assert_int_equal(status_of(r), 200);
    assert_string_equal(body_of(r), "[]\n");
    free(r);
}

struct fwd_result
{
    int calls;
    int status;
    char body[512];
};

static void on_forwarded(void *data, int status, const char *ctype,
                         const char *body, size_t len)
{
    struct fwd_result *r = data;

    (void)ctype;
    r->calls++;
    r->status = status;
    snprintf(r->body, sizeof(r->body), "%.*s", (int)len, body);
}

static void test_forwarded(void **state)
{
    struct fixture *f = *state;
    struct fwd_result r;

    memset(&r, 0, sizeof(r));
    api_serve_forwarded(f->cluster, "GET", "/v1.44/nodes?filters=%7B%7D",
                        NULL, 0, on_forwarded, &r);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body, "This node is not a swarm manager."));
    memset(&r, 0, sizeof(r));
    api_serve_forwarded(f->cluster, "POST", "/v1.51/swarm/init", "{\"x", 3,
                        on_forwarded, &r);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "invalid JSON"));
    memset(&r, 0, sizeof(r));
    api_serve_forwarded(f->cluster, "PATCH", "/info", NULL, 0, on_forwarded,
                        &r);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 405);
}

/* A chunked stream, paced by the drain callback, ends with the last
 * chunk and the connection goes on to the next request. */
static void test_stream(void **state)
{
    struct fixture *f = *state;
    static const char raw[] =
        "GET /v1.51/_shoal/debug/stream?n=3 HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char *resp = request(f, raw, sizeof(raw) - 1);

    assert_int_equal(status_of(resp), 200);
    assert_non_null(strstr(resp, "Transfer-Encoding: chunked\r\n"));
    /* No length in the streamed reply's headers (the /_ping reply after
     * it has one). */
    assert_true(strstr(resp, "Content-Length") > body_of(resp));
    assert_non_null(strstr(resp, "\r\n\r\n8\r\nchunk 0\n\r\n"
                                 "8\r\nchunk 1\n\r\n8\r\nchunk 2\n\r\n"
                                 "0\r\n\r\nHTTP/1.1 200 OK"));
    assert_non_null(strstr(resp, "\r\n\r\nOK"));
    free(resp);
}

/* A hijacked connection: 101 UPGRADED, bytes sent right behind the request
 * reach the handler, the client's half-close is seen, the server's output
 * goes on after it and ends the connection. */
static void test_hijack(void **state)
{
    struct fixture *f = *state;
    static const char raw[] =
        "POST /v1.51/_shoal/debug/hijack HTTP/1.1\r\nHost: x\r\n"
        "Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n"
        "hello, raw stream";
    static const char plain[] =
        "POST /_shoal/debug/hijack HTTP/1.1\r\nHost: x\r\n"
        "Content-Length: 0\r\n\r\nabc";
    char *resp = request_ex(f, raw, sizeof(raw) - 1, true);
    const char *body = body_of(resp);

    assert_non_null(strstr(resp, "HTTP/1.1 101 UPGRADED\r\n"));
    assert_non_null(strstr(resp, "Connection: Upgrade\r\nUpgrade: tcp\r\n"));
    assert_non_null(
        strstr(resp, "Content-Type: application/vnd.docker.raw-stream\r\n"));
    assert_string_equal(body, "HELLO, RAW STREAMbye\n");
    free(resp);
    /* Without Upgrade: 200 and the raw stream all the same. */
    resp = request_ex(f, plain, sizeof(plain) - 1, true);
    assert_int_equal(status_of(resp), 200);
    assert_null(strstr(resp, "Connection: close"));
    assert_string_equal(body_of(resp), "ABCbye\n");
    free(resp);
}

/* A body_file route gets its body in a file (no memory cap), removed once
 * the request is done; other routes keep the 16 MiB cap. */
static void test_body_file(void **state)
{
    struct fixture *f = *state;
    size_t n = (17u << 20);
    struct buf raw;
    char *resp;
    char tmp[160];

    buf_init(&raw, (size_t)-1);
    buf_printf(&raw,
               "POST /v1.51/_shoal/debug/body-file HTTP/1.1\r\nHost: x\r\n"
               "Connection: close\r\nContent-Length: %zu\r\n\r\n", n);
    while (raw.len < n + 200 && raw.len < (size_t)-1) {
        char chunk[4096];

        memset(chunk, 'x', sizeof(chunk));
        buf_append(&raw, chunk, sizeof(chunk));
    }
    raw.len = strstr(raw.data, "\r\n\r\n") - raw.data + 4 + n;
    resp = request(f, raw.data, raw.len);
    assert_int_equal(status_of(resp), 200);
    assert_non_null(strstr(body_of(resp), "\"Size\":17825792"));
    assert_non_null(strstr(body_of(resp), "\"InMemory\":0"));
    free(resp);
    snprintf(tmp, sizeof(tmp), "%s/tmp", f->dir);
    assert_int_equal(rmdir(tmp), 0); /* empty: the file is gone */
    buf_release(&raw);
}

/* "{+}" takes one or more segments, as long as the rest still matches. */
static void test_multi_segment_params(void **state)
{
    struct fixture *f = *state;
    char *resp = get(f, "GET", "/_shoal/debug/params/library/busybox/tail/x");

    assert_int_equal(status_of(resp), 200);
    assert_string_equal(body_of(resp), "[\"library/busybox\",\"x\"]\n");
    free(resp);
    resp = get(f, "GET", "/_shoal/debug/params/a/tail/tail/b");
    assert_string_equal(body_of(resp), "[\"a/tail\",\"b\"]\n");
    free(resp);
    resp = get(f, "GET", "/_shoal/debug/params/tail/x");
    assert_int_equal(status_of(resp), 404);
    free(resp);
    resp = get(f, "GET", "/_shoal/debug/params//a/tail/x");
    assert_int_equal(status_of(resp), 404);
    free(resp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_invalid_utf8, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_routes_and_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forwarded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hijack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi_segment_params, setup,
                                        teardown),
    };

    return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}

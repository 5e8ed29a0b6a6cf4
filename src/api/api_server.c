/* SPDX-License-Identifier: Apache-2.0 */
/* Unix-socket listener, connections, HTTP/1.1 parsing and replies. */
#include <errno.h>
#include <http_parser.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/api_int.h"
#include "base/log.h"
#include "base/mem.h"
#include "version.h"

#define API__MAX_BODY (16u << 20)   /* request bodies: 16 MiB */
#define API__MAX_URL 8192
#define API__MAX_HEADER 8192
#define API__MAX_PENDING_IN (32u << 20)

struct api_server
{
    uv_loop_t *loop;          /* borrowed */
    uv_pipe_t listener;
    struct cluster *cluster;  /* borrowed */
    char *path;               /* owned: socket path */
    struct api_conn *conns;   /* owned: list of open connections */
    void (*close_cb)(void *data);
    void *close_data;
    unsigned n_open;          /* handles still open (listener + conns) */
};

struct api_conn
{
    uv_pipe_t handle;
    struct api_server *srv;   /* borrowed */
    struct api_conn *prev, *next;
    http_parser parser;
    struct buf in;            /* received, not yet parsed */
    struct api_req *cur;      /* owned: request being parsed */
    struct api_req *busy;     /* owned: dispatched, waiting for its reply */
    struct buf hfield;        /* header being parsed */
    struct buf hvalue;
    bool in_value;            /* last header callback was a value */
    bool in_process;          /* api_conn_process is on the stack */
    bool closing;
    bool close_after_write;
    unsigned writes;          /* writes in flight */
};

struct api_write
{
    uv_write_t req;
    struct api_conn *conn;
    char *data;               /* owned */
};

static void api_conn_process(struct api_conn *conn);
static void api_conn_close(struct api_conn *conn);

static void api_req_free(struct api_req *req)
{
    int i;

    if (req == NULL)
        return;
    free(req->url);
    free(req->path);
    free(req->query);
    for (i = 0; i < API_MAX_PARAMS; i++)
        free(req->params[i]);
    free(req->content_type);
    buf_release(&req->body);
    free(req);
}

static struct api_req *api_req_new(struct api_conn *conn)
{
    struct api_req *req = xcalloc(1, sizeof(*req));

    req->conn = conn;
    req->cluster = conn->srv->cluster;
    buf_init(&req->body, API__MAX_BODY);
    return req;
}

/* --- http-parser callbacks ---------------------------------------------- */

static struct api_conn *api_conn_of(http_parser *p)
{
    return p->data;
}

static int api_on_message_begin(http_parser *p)
{
    struct api_conn *conn = api_conn_of(p);

    api_req_free(conn->cur);
    conn->cur = api_req_new(conn);
    buf_reset(&conn->hfield);
    buf_reset(&conn->hvalue);
    conn->in_value = false;
    return 0;
}

static int api_on_url(http_parser *p, const char *at, size_t len)
{
    struct api_conn *conn = api_conn_of(p);
    char *old = conn->cur->url;
    size_t n = old ? strlen(old) : 0;

    if (n + len > API__MAX_URL)
        return 1;
    conn->cur->url = xrealloc(old, n + len + 1);
    memcpy(conn->cur->url + n, at, len);
    conn->cur->url[n + len] = '\0';
    return 0;
}

static void api_header_done(struct api_conn *conn)
{
    if (conn->hfield.len > 0 &&
        strcasecmp(conn->hfield.data, "Content-Type") == 0) {
        free(conn->cur->content_type);
        conn->cur->content_type = xstrdup(conn->hvalue.data ? conn->hvalue.data : "");
    }
    buf_reset(&conn->hfield);
    buf_reset(&conn->hvalue);
}

static int api_on_header_field(http_parser *p, const char *at, size_t len)
{
    struct api_conn *conn = api_conn_of(p);

    if (conn->in_value) {
        api_header_done(conn);
        conn->in_value = false;
    }
    return buf_append(&conn->hfield, at, len) == 0 ? 0 : 1;
}

static int api_on_header_value(http_parser *p, const char *at, size_t len)
{
    struct api_conn *conn = api_conn_of(p);

    conn->in_value = true;
    return buf_append(&conn->hvalue, at, len) == 0 ? 0 : 1;
}

static int api_on_headers_complete(http_parser *p)
{
    struct api_conn *conn = api_conn_of(p);

    if (conn->in_value)
        api_header_done(conn);
    conn->in_value = false;
    return 0;
}

static int api_on_body(http_parser *p, const char *at, size_t len)
{
    struct api_conn *conn = api_conn_of(p);

    return buf_append(&conn->cur->body, at, len) == 0 ? 0 : 1;
}

static enum api_method api_method_of(unsigned m)
{
    switch (m) {
    case HTTP_GET:
        return API_GET;
    case HTTP_HEAD:
        return API_HEAD;
    case HTTP_POST:
        return API_POST;
    case HTTP_PUT:
        return API_PUT;
    case HTTP_DELETE:
        return API_DELETE;
    default:
        return API_OTHER;
    }
}

static int api_on_message_complete(http_parser *p)
{
    struct api_conn *conn = api_conn_of(p);

    conn->cur->method = api_method_of(p->method);
    conn->cur->keep_alive = http_should_keep_alive(p) != 0;
    if (conn->cur->url == NULL)
        conn->cur->url = xstrdup("/");
    /* One request at a time: stop here and dispatch. */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings api_parser_settings = {
    .on_message_begin = api_on_message_begin,
    .on_url = api_on_url,
    .on_header_field = api_on_header_field,
    .on_header_value = api_on_header_value,
    .on_headers_complete = api_on_headers_complete,
    .on_body = api_on_body,
    .on_message_complete = api_on_message_complete,
};

/* --- writing ------------------------------------------------------------ */

static void api_on_write(uv_write_t *wr, int status)
{
    struct api_write *w = container_of(wr, struct api_write, req);
    struct api_conn *conn = w->conn;

    UNUSED(status);
    free(w->data);
    free(w);
    conn->writes--;
    if (conn->writes == 0 && conn->close_after_write)
        api_conn_close(conn);
}

static const char *api_status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Request Entity Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

/* Queue raw bytes on the connection; takes data. */
static void api_conn_write(struct api_conn *conn, char *data, size_t len)
{
    struct api_write *w;
    uv_buf_t b;

    if (conn->closing) {
        free(data);
        return;
    }
    w = xmalloc(sizeof(*w));
    w->conn = conn;
    w->data = data;
    b = uv_buf_init(data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&conn->handle, &b, 1,
                 api_on_write) != 0) {
        free(data);
        free(w);
        api_conn_close(conn);
        return;
    }
    conn->writes++;
}

/* Send a whole response for req and release it. */
static void api_send(struct api_req *req, int status, const char *ctype,
                     const char *body, size_t body_len, const char *extra)
{
    struct api_conn *conn = req->conn;
    struct buf out;
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    bool head = req->method == API_HEAD;
    bool keep = req->keep_alive;

    if (req->replied) {
        log_error(LOG_API, "BUG: second reply to %s", req->url);
        return;
    }
    req->replied = true;
    if (req->sink != NULL) {
        req->sink(req->sink_data, status, ctype, body, body_len);
        api_req_free(req);
        return;
    }
    if (conn == NULL) {
        api_req_free(req);
        return;
    }
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    buf_init(&out, (size_t)-1);
    buf_printf(&out,
               "HTTP/1.1 %d %s\r\nApi-Version: %s\r\n"
               "Docker-Experimental: false\r\nOstype: linux\r\n"
               "Server: Docker/%s (linux)\r\nDate: %s\r\n",
               status, api_status_text(status), API_VERSION_MAX,
               SHOAL_VERSION, date);
    if (ctype != NULL)
        buf_printf(&out, "Content-Type: %s\r\n", ctype);
    if (extra != NULL)
        buf_puts(&out, extra);
    if (status != 204 && status != 304)
        buf_printf(&out, "Content-Length: %zu\r\n", body_len);
    if (!keep)
        buf_puts(&out, "Connection: close\r\n");
    buf_puts(&out, "\r\n");
    if (!head && body_len > 0)
        buf_append(&out, body, body_len);
    log_debug(LOG_API, "%s -> %d", req->url, status);
    conn->busy = NULL;
    api_req_free(req);
    if (!keep)
        conn->close_after_write = true;
    {
        size_t n;
        char *data = buf_detach(&out, &n);

        api_conn_write(conn, data, n);
    }
    if (!conn->in_process && !conn->closing)
        api_conn_process(conn);
}

void api_reply_json(struct api_req *req, int status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t n;

    json_decref(body);
    if (text == NULL)
        abort();
    n = strlen(text);
    text = xrealloc(text, n + 2);
    text[n++] = '\n'; /* Go's json.Encoder ends documents with a newline */
    text[n] = '\0';
    api_send(req, status, "application/json", text, n, NULL);
    free(text);
}

void api_reply_text(struct api_req *req, int status, const char *ctype,
                    const char *text)
{
    api_send(req, status, ctype, text, strlen(text), NULL);
}

void api_reply_raw(struct api_req *req, int status, const char *ctype,
                   const char *body, size_t len)
{
    api_send(req, status, ctype, body, len, NULL);
}

void api_reply_empty(struct api_req *req, int status)
{
    api_send(req, status, status == 204 ? NULL : "text/plain; charset=utf-8",
             "", 0, NULL);
}

void api_reply_err(struct api_req *req, const struct err *err)
{
    int status = err_http_status(err->code);
    json_t *body = json_pack("{s:s}", "message", err->msg);

    if (status == 200)
        status = 500;
    api_reply_json(req, status, body);
}

void api_reply_error(struct api_req *req, int code, const char *fmt, ...)
{
    struct err err;
    va_list ap;

    err.code = code;
    err.sys_errno = 0;
    va_start(ap, fmt);
    vsnprintf(err.msg, sizeof(err.msg), fmt, ap);
    va_end(ap);
    api_reply_err(req, &err);
}

void api_reply_ping(struct api_req *req, const char *swarm_state)
{
    char extra[256];

    snprintf(extra, sizeof(extra),
             "Cache-Control: no-cache, no-store, must-revalidate\r\n"
             "Pragma: no-cache\r\nBuilder-Version: 1\r\nSwarm: %s\r\n",
             swarm_state);
    api_send(req, 200, "text/plain; charset=utf-8",
             req->method == API_HEAD ? "" : "OK",
             req->method == API_HEAD ? 0 : 2, extra);
}

void api_serve_forwarded(struct cluster *cluster, const char *method,
                         const char *url, const void *body, size_t len,
                         api_forward_cb cb, void *data)
{
    static const struct
    {
        const char *name;
        enum api_method m;
    } methods[] = {
        {"GET", API_GET},   {"HEAD", API_HEAD},     {"POST", API_POST},
        {"PUT", API_PUT},   {"DELETE", API_DELETE},
    };
    struct api_req *req = xcalloc(1, sizeof(*req));
    size_t i;

    req->cluster = cluster;
    req->method = API_OTHER;
    for (i = 0; i < ARRAY_SIZE(methods); i++) {
        if (strcmp(methods[i].name, method) == 0)
            req->method = methods[i].m;
    }
    req->url = xstrdup(url);
    req->sink = cb;
    req->sink_data = data;
    req->forwarded = true;
    req->keep_alive = true;
    buf_init(&req->body, API__MAX_BODY);
    if (buf_append(&req->body, body, len) != 0) {
        api_reply_error(req, ERR_TOOBIG,
                        "request body too large (limit %u bytes)",
                        API__MAX_BODY);
        return;
    }
    api_router_dispatch(req);
}

/* --- connections -------------------------------------------------------- */

static void api_server_maybe_done(struct api_server *srv)
{
    if (srv->n_open > 0 || srv->close_cb == NULL)
        return;
    srv->close_cb(srv->close_data);
    free(srv->path);
    free(srv);
}

static void api_on_conn_closed(uv_handle_t *h)
{
    struct api_conn *conn = container_of((uv_pipe_t *)h, struct api_conn,
                                         handle);
    struct api_server *srv = conn->srv;

    api_req_free(conn->cur);
    if (conn->busy != NULL)
        conn->busy->conn = NULL; /* its handler still owns it */
    buf_release(&conn->in);
    buf_release(&conn->hfield);
    buf_release(&conn->hvalue);
    free(conn);
    srv->n_open--;
    api_server_maybe_done(srv);
}

static void api_conn_close(struct api_conn *conn)
{
    struct api_server *srv = conn->srv;

    if (conn->closing)
        return;
    conn->closing = true;
    if (conn->prev != NULL)
        conn->prev->next = conn->next;
    else
        srv->conns = conn->next;
    if (conn->next != NULL)
        conn->next->prev = conn->prev;
    uv_close((uv_handle_t *)&conn->handle, api_on_conn_closed);
}

static void api_conn_bad_request(struct api_conn *conn, const char *why)
{
    struct api_req *req = conn->cur ? conn->cur : api_req_new(conn);
    json_t *body = json_pack("{s:s}", "message", why);

    conn->cur = NULL;
    req->keep_alive = false;
    if (req->url == NULL)
        req->url = xstrdup("?");
    conn->busy = req;
    api_reply_json(req, strstr(why, "too large") ? 413 : 400, body);
}

static void api_conn_process(struct api_conn *conn)
{
    conn->in_process = true;
    while (!conn->closing && conn->busy == NULL && !conn->close_after_write &&
           conn->in.len > 0) {
        size_t n = http_parser_execute(&conn->parser, &api_parser_settings,
                                       conn->in.data, conn->in.len);
        enum http_errno e = HTTP_PARSER_ERRNO(&conn->parser);

        if (e != HPE_OK && e != HPE_PAUSED) {
            char why[160];

            if (e == HPE_CB_body)
                snprintf(why, sizeof(why),
                         "request body too large (limit %u bytes)",
                         API__MAX_BODY);
            else
                snprintf(why, sizeof(why), "malformed HTTP request: %s",
                         http_errno_description(e));
            conn->in.len = 0;
            api_conn_bad_request(conn, why);
            break;
        }
        memmove(conn->in.data, conn->in.data + n, conn->in.len - n);
        conn->in.len -= n;
        if (e == HPE_PAUSED) {
            struct api_req *req = conn->cur;

            http_parser_pause(&conn->parser, 0);
            conn->cur = NULL;
            conn->busy = req;
            api_router_dispatch(req);
        } else if (n == 0) {
            break;
        }
    }
    conn->in_process = false;
}

static void api_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    UNUSED(h);
    b->base = xmalloc(suggested);
    b->len = suggested;
}

static void api_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct api_conn *conn = container_of((uv_pipe_t *)s, struct api_conn,
                                         handle);

    if (nread < 0) {
        free(b->base);
        /* Peer closed or failed: drop the connection; a handler still
         * working on a request keeps it and replies into the void. */
        api_conn_close(conn);
        return;
    }
    if (nread > 0 &&
        buf_append(&conn->in, b->base, (size_t)nread) != 0) {
        free(b->base);
        api_conn_close(conn);
        return;
    }
    free(b->base);
    if (!conn->in_process)
        api_conn_process(conn);
}

static void api_on_connection(uv_stream_t *listener, int status)
{
    struct api_server *srv = container_of((uv_pipe_t *)listener,
                                          struct api_server, listener);
    struct api_conn *conn;

    if (status < 0) {
        log_warn(LOG_API, "accept: %s", uv_strerror(status));
        return;
    }
    conn = xcalloc(1, sizeof(*conn));
    conn->srv = srv;
    buf_init(&conn->in, API__MAX_PENDING_IN);
    buf_init(&conn->hfield, API__MAX_HEADER);
    buf_init(&conn->hvalue, API__MAX_HEADER);
    http_parser_init(&conn->parser, HTTP_REQUEST);
    conn->parser.data = conn;
    uv_pipe_init(srv->loop, &conn->handle, 0);
    srv->n_open++;
    conn->next = srv->conns;
    if (srv->conns != NULL)
        srv->conns->prev = conn;
    srv->conns = conn;
    if (uv_accept(listener, (uv_stream_t *)&conn->handle) != 0 ||
        uv_read_start((uv_stream_t *)&conn->handle, api_on_alloc,
                      api_on_read) != 0)
        api_conn_close(conn);
}

struct api_server *api_server_start(uv_loop_t *loop, const char *host,
                                    struct cluster *cluster, struct err *err)
{
    struct api_server *srv;
    const char *path;
    int rv;

    if (strncmp(host, "unix://", 7) != 0) {
        err_set(err, ERR_INVALID,
                "unsupported host %s: only unix:///path is supported", host);
        return NULL;
    }
    path = host + 7;
    if (path[0] != '/') {
        err_set(err, ERR_INVALID, "invalid host %s: the path must be absolute",
                host);
        return NULL;
    }
    srv = xcalloc(1, sizeof(*srv));
    srv->loop = loop;
    srv->cluster = cluster;
    srv->path = xstrdup(path);
    uv_pipe_init(loop, &srv->listener, 0);
    srv->n_open = 1;
    if (unlink(path) == -1 && errno != ENOENT)
        log_warn(LOG_API, "remove stale socket %s: %s", path, strerror(errno));
    rv = uv_pipe_bind(&srv->listener, path);
    if (rv == 0)
        rv = uv_listen((uv_stream_t *)&srv->listener, 128, api_on_connection);
    if (rv != 0) {
        err_set(err, ERR_IO, "listen on %s: %s", host, uv_strerror(rv));
        srv->close_cb = NULL;
        uv_close((uv_handle_t *)&srv->listener, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
        free(srv->path);
        free(srv);
        return NULL;
    }
    chmod(path, 0660);
    log_info(LOG_API, "API listen on %s", path);
    return srv;
}

static void api_on_listener_closed(uv_handle_t *h)
{
    struct api_server *srv = container_of((uv_pipe_t *)h, struct api_server,
                                          listener);

    unlink(srv->path);
    srv->n_open--;
    api_server_maybe_done(srv);
}

static void api_server_noop(void *data)
{
    UNUSED(data);
}

void api_server_close(struct api_server *srv, void (*cb)(void *data),
                      void *data)
{
    srv->close_cb = cb ? cb : api_server_noop;
    srv->close_data = data;
    while (srv->conns != NULL)
        api_conn_close(srv->conns);
    uv_close((uv_handle_t *)&srv->listener, api_on_listener_closed);
}

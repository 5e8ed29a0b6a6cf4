/* SPDX-License-Identifier: Apache-2.0 */
/* Unix-socket listener, connections, HTTP/1.1 parsing and replies. */
#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/api_int.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/utf8.h"
#include "cluster/cluster.h"
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
    struct engine *engine;    /* borrowed */
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
    bool saw_upgrade;         /* the request has "Upgrade: tcp" */
    int body_fd;              /* spooling the body to cur->body_path */
    struct api_hijack *hijack; /* the connection was hijacked */
    void (*drain_cb)(void *data); /* api_stream_on_drain */
    void *drain_data;
};

/* A hijacked connection (api_int.h). Freed once both the handler let go
 * (api_hijack_close) and the connection is closed. */
struct api_hijack
{
    struct api_conn *conn;    /* NULL once the connection is closed */
    api_hijack_read_fn fn;
    void *data;
    uv_timer_t kick;          /* delivers bytes read before the hijack */
    struct buf early;
    bool released;            /* the handler called api_hijack_close */
    bool eof;                 /* fn got its len < 0 */
    bool kick_open;
    bool eof_pending;         /* EOF came while early bytes waited */
};

struct api_write
{
    uv_write_t req;
    struct api_conn *conn;
    char *data;               /* owned */
};

static void api_conn_process(struct api_conn *conn);
static void api_conn_close(struct api_conn *conn);
static int api_body_file_open(struct api_conn *conn);

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
    if (req->body_path != NULL) {
        unlink(req->body_path);
        free(req->body_path);
    }
    buf_release(&req->stream_buf);
    free(req->stream_ctype);
    free(req);
}

static struct api_req *api_req_new(struct api_conn *conn)
{
    struct api_req *req = xcalloc(1, sizeof(*req));

    req->conn = conn;
    req->cluster = conn->srv->cluster;
    req->engine = conn->srv->engine;
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
    conn->saw_upgrade = false;
    if (conn->body_fd >= 0) {
        close(conn->body_fd);
        conn->body_fd = -1;
    }
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
    } else if (conn->hfield.len > 0 &&
               strcasecmp(conn->hfield.data, "Upgrade") == 0) {
        conn->saw_upgrade = true;
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
    conn->cur->upgrade = conn->saw_upgrade;
    if (conn->cur->url != NULL &&
        api_router_wants_body_file(conn->cur->url, p->method == HTTP_POST ||
                                                       p->method == HTTP_PUT))
        return api_body_file_open(conn);
    return 0;
}

/* A route that takes large bodies (image tarballs): spool the body to a
 * file under <data-root>/tmp instead of memory. */
static int api_body_file_open(struct api_conn *conn)
{
    char path[4096];
    struct err err;

    snprintf(path, sizeof(path), "%s/tmp",
             cluster_data_root(conn->srv->cluster));
    err_clear(&err);
    if (fsutil_mkdir_p(path, 0700, &err) != 0) {
        log_error(LOG_API, "request body: %s", err.msg);
        return 1;
    }
    snprintf(path, sizeof(path), "%s/tmp/api-body-XXXXXX",
             cluster_data_root(conn->srv->cluster));
    conn->body_fd = mkostemp(path, O_CLOEXEC);
    if (conn->body_fd < 0) {
        log_error(LOG_API, "request body: create %s: %s", path,
                  strerror(errno));
        return 1;
    }
    conn->cur->body_path = xstrdup(path);
    return 0;
}

static int api_on_body(http_parser *p, const char *at, size_t len)
{
    struct api_conn *conn = api_conn_of(p);

    if (conn->body_fd >= 0) {
        while (len > 0) {
            ssize_t n = write(conn->body_fd, at, len);

            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                log_error(LOG_API, "request body: write %s: %s",
                          conn->cur->body_path, strerror(errno));
                return 1;
            }
            at += n;
            len -= (size_t)n;
        }
        return 0;
    }
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
    if (conn->body_fd >= 0) {
        int rv = close(conn->body_fd);

        conn->body_fd = -1;
        if (rv != 0)
            return 1;
    }
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
    if (conn->writes == 0 && conn->close_after_write) {
        api_conn_close(conn);
    } else if (conn->writes == 0 && conn->drain_cb != NULL) {
        void (*cb)(void *) = conn->drain_cb;

        conn->drain_cb = NULL;
        cb(conn->drain_data);
    }
}

static const char *api_status_text(int status)
{
    switch (status) {
    case 101: return "UPGRADED";
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

/* Status line and the headers every reply carries. */
static void api_headers(struct buf *out, const struct api_req *req,
                        int status, const char *ctype, const char *extra)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    buf_printf(out,
               "HTTP/1.1 %d %s\r\nApi-Version: %s\r\n"
               "Docker-Experimental: false\r\nOstype: linux\r\n"
               "Server: Docker/%s (linux)\r\nDate: %s\r\n",
               status, api_status_text(status), API_VERSION_MAX,
               SHOAL_VERSION, date);
    if (ctype != NULL)
        buf_printf(out, "Content-Type: %s\r\n", ctype);
    if (extra != NULL)
        buf_puts(out, extra);
    if (!req->keep_alive)
        buf_puts(out, "Connection: close\r\n");
}

static void api_conn_write_buf(struct api_conn *conn, struct buf *out)
{
    size_t n;
    char *data = buf_detach(out, &n);

    api_conn_write(conn, data, n);
}

/* The request is answered: free it and go on with the connection. */
static void api_req_done(struct api_req *req)
{
    struct api_conn *conn = req->conn;

    if (conn == NULL) {
        api_req_free(req);
        return;
    }
    conn->busy = NULL;
    conn->drain_cb = NULL;
    if (!req->keep_alive)
        conn->close_after_write = true;
    api_req_free(req);
    if (conn->close_after_write && conn->writes == 0)
        api_conn_close(conn);
    else if (!conn->in_process && !conn->closing)
        api_conn_process(conn);
}

/* Send a whole response for req and release it. */
static void api_send(struct api_req *req, int status, const char *ctype,
                     const char *body, size_t body_len, const char *extra)
{
    struct api_conn *conn = req->conn;
    struct buf out;

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
    buf_init(&out, (size_t)-1);
    api_headers(&out, req, status, ctype, extra);
    if (status != 204 && status != 304)
        buf_printf(&out, "Content-Length: %zu\r\n", body_len);
    buf_puts(&out, "\r\n");
    if (req->method != API_HEAD && body_len > 0)
        buf_append(&out, body, body_len);
    log_debug(LOG_API, "%s -> %d", req->url, status);
    api_conn_write_buf(conn, &out);
    api_req_done(req);
}

/* --- streaming replies --------------------------------------------------- */

void api_stream_begin(struct api_req *req, int status, const char *ctype)
{
    struct buf out;

    if (req->replied || req->streaming) {
        log_error(LOG_API, "BUG: second reply to %s", req->url);
        return;
    }
    req->streaming = true;
    req->stream_status = status;
    free(req->stream_ctype);
    req->stream_ctype = ctype ? xstrdup(ctype) : NULL;
    if (req->sink != NULL) {
        /* A forwarded request: the leader answers in one piece. */
        buf_init(&req->stream_buf, (size_t)-1);
        return;
    }
    if (req->conn == NULL || req->method == API_HEAD)
        return;
    buf_init(&out, (size_t)-1);
    api_headers(&out, req, status, ctype, "Transfer-Encoding: chunked\r\n");
    buf_puts(&out, "\r\n");
    api_conn_write_buf(req->conn, &out);
}

int api_stream_write(struct api_req *req, const void *data, size_t len)
{
    struct buf out;

    if (!req->streaming || req->replied)
        return -1;
    if (req->sink != NULL)
        return buf_append(&req->stream_buf, data, len) == 0 ? 0 : -1;
    if (req->conn == NULL || req->conn->closing)
        return -1;
    if (len == 0 || req->method == API_HEAD)
        return 0;
    buf_init(&out, (size_t)-1);
    buf_printf(&out, "%zx\r\n", len);
    buf_append(&out, data, len);
    buf_puts(&out, "\r\n");
    api_conn_write_buf(req->conn, &out);
    return 0;
}

size_t api_stream_queued(const struct api_req *req)
{
    if (req->conn == NULL || req->conn->closing)
        return 0;
    return uv_stream_get_write_queue_size(
        (const uv_stream_t *)&req->conn->handle);
}

void api_stream_on_drain(struct api_req *req, void (*cb)(void *data),
                         void *data)
{
    if (req->conn == NULL || req->conn->closing || req->conn->writes == 0) {
        cb(data);
        return;
    }
    req->conn->drain_cb = cb;
    req->conn->drain_data = data;
}

void api_stream_end(struct api_req *req)
{
    if (!req->streaming || req->replied) {
        log_error(LOG_API, "BUG: stream end without a stream for %s",
                  req->url);
        return;
    }
    req->replied = true;
    if (req->sink != NULL) {
        req->sink(req->sink_data, req->stream_status, req->stream_ctype,
                  req->stream_buf.data ? req->stream_buf.data : "",
                  req->stream_buf.len);
        api_req_free(req);
        return;
    }
    if (req->conn != NULL && req->method != API_HEAD)
        api_conn_write(req->conn, xstrdup("0\r\n\r\n"), 5);
    log_debug(LOG_API, "%s -> %d (streamed)", req->url, req->stream_status);
    api_req_done(req);
}

void api_req_on_close(struct api_req *req, void (*cb)(void *data),
                      void *data)
{
    req->close_cb = cb;
    req->close_data = data;
}

/* --- hijacked connections ------------------------------------------------ */

static void api_hijack_free_if_done(struct api_hijack *h)
{
    if (!h->released || h->conn != NULL || h->kick_open)
        return;
    buf_release(&h->early);
    free(h);
}

static void api_hijack_on_kick_closed(uv_handle_t *t)
{
    struct api_hijack *h = container_of((uv_timer_t *)t, struct api_hijack,
                                        kick);

    h->kick_open = false;
    api_hijack_free_if_done(h);
}

static void api_hijack_deliver(struct api_hijack *h, const char *buf,
                               long len)
{
    if (h->released || h->eof)
        return;
    if (len < 0)
        h->eof = true;
    h->fn(h->data, buf, len);
}

static void api_hijack_on_kick(uv_timer_t *t)
{
    struct api_hijack *h = container_of(t, struct api_hijack, kick);

    if (h->early.len > 0) {
        struct buf early = h->early;

        buf_init(&h->early, (size_t)-1);
        api_hijack_deliver(h, early.data, (long)early.len);
        buf_release(&early);
    }
    if (h->conn == NULL || h->eof_pending)
        api_hijack_deliver(h, NULL, -1);
    uv_close((uv_handle_t *)&h->kick, api_hijack_on_kick_closed);
}

struct api_hijack *api_hijack(struct api_req *req, const char *ctype,
                              api_hijack_read_fn fn, void *data)
{
    struct api_conn *conn = req->conn;
    struct api_hijack *h;
    struct buf out;

    if (req->replied || req->streaming) {
        log_error(LOG_API, "BUG: hijack after a reply to %s", req->url);
        return NULL;
    }
    req->replied = true;
    if (req->sink != NULL || conn == NULL || conn->closing) {
        /* Forwarded (never: these routes are local) or the peer is gone. */
        static const char msg[] =
            "{\"message\":\"cannot hijack a forwarded request\"}\n";

        if (req->sink != NULL)
            req->sink(req->sink_data, 500, "application/json", msg,
                      sizeof(msg) - 1);
        api_req_free(req);
        return NULL;
    }
    h = xcalloc(1, sizeof(*h));
    h->fn = fn;
    h->data = data;
    buf_init(&h->early, (size_t)-1);
    uv_timer_init(conn->srv->loop, &h->kick);
    h->kick_open = true;
    buf_init(&out, (size_t)-1);
    if (req->upgrade) {
        api_headers(&out, req, 101, ctype,
                    "Connection: Upgrade\r\nUpgrade: tcp\r\n");
    } else {
        req->keep_alive = true; /* no "Connection: close" header */
        api_headers(&out, req, 200, ctype, NULL);
    }
    buf_puts(&out, "\r\n");
    api_conn_write_buf(conn, &out);
    log_debug(LOG_API, "%s -> hijacked", req->url);
    conn->busy = NULL;
    conn->hijack = h;
    h->conn = conn;
    /* Bytes that came after the request belong to the raw stream. */
    if (conn->in.len > 0) {
        buf_append(&h->early, conn->in.data, conn->in.len);
        conn->in.len = 0;
    }
    api_req_free(req);
    uv_timer_start(&h->kick, api_hijack_on_kick, 0, 0);
    return h;
}

int api_hijack_write(struct api_hijack *h, const void *buf, size_t len)
{
    char *copy;

    if (h->conn == NULL || h->conn->closing || h->conn->close_after_write)
        return -1;
    if (len == 0)
        return 0;
    copy = xmalloc(len);
    memcpy(copy, buf, len);
    api_conn_write(h->conn, copy, len);
    return 0;
}

void api_hijack_close(struct api_hijack *h)
{
    struct api_conn *conn = h->conn;

    h->released = true;
    if (conn != NULL) {
        conn->close_after_write = true;
        if (conn->writes == 0)
            api_conn_close(conn);
    }
    api_hijack_free_if_done(h);
}

void api_reply_json(struct api_req *req, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY)
                      : NULL;
    size_t n;

    json_decref(body);
    if (text == NULL) {
        /* A handler built no body (jansson refuses invalid UTF-8): a
         * server error, not a crash. */
        log_error(LOG_API, "BUG: no JSON body for %s", req->url);
        status = 500;
        text = xstrdup("{\"message\":\"reply could not be encoded\"}");
    }
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
    char *msg = utf8_fix(err->msg, strlen(err->msg), NULL);
    json_t *body = json_pack("{s:s}", "message", msg);

    free(msg);
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

    struct api_req *busy = conn->busy;
    struct api_hijack *hj = conn->hijack;

    api_req_free(conn->cur);
    if (conn->body_fd >= 0)
        close(conn->body_fd);
    buf_release(&conn->in);
    buf_release(&conn->hfield);
    buf_release(&conn->hvalue);
    free(conn);
    srv->n_open--;
    if (busy != NULL) {
        /* Its handler still owns it and replies into the void. */
        busy->conn = NULL;
        if (busy->close_cb != NULL) {
            void (*cb)(void *) = busy->close_cb;

            busy->close_cb = NULL;
            cb(busy->close_data);
        }
    }
    if (hj != NULL) {
        hj->conn = NULL;
        if (!hj->kick_open || !uv_is_active((uv_handle_t *)&hj->kick))
            api_hijack_deliver(hj, NULL, -1);
        api_hijack_free_if_done(hj);
    }
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
    while (!conn->closing && conn->busy == NULL && conn->hijack == NULL &&
           !conn->close_after_write && conn->in.len > 0) {
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

/* Bytes from the client (nread > 0) or its EOF or a read error
 * (nread < 0, a UV_* code); data is borrowed. */
static void api_conn_input(struct api_conn *conn, const char *data,
                           ssize_t nread)
{
    if (conn->hijack != NULL) {
        struct api_hijack *hj = conn->hijack;

        if (nread > 0) {
            if (uv_is_active((uv_handle_t *)&hj->kick))
                buf_append(&hj->early, data, (size_t)nread);
            else
                api_hijack_deliver(hj, data, (long)nread);
        } else if (nread < 0) {
            /* The client closed its side (stdin's end): output may go on.
             * A real error closes the connection. */
            uv_read_stop((uv_stream_t *)&conn->handle);
            if (nread != UV_EOF)
                api_conn_close(conn);
            else if (!uv_is_active((uv_handle_t *)&hj->kick))
                api_hijack_deliver(hj, NULL, -1);
            else
                hj->eof_pending = true;
        }
        return;
    }
    if (nread < 0) {
        /* Peer closed or failed: drop the connection; a handler still
         * working on a request keeps it and replies into the void. */
        api_conn_close(conn);
        return;
    }
    if (nread > 0 && buf_append(&conn->in, data, (size_t)nread) != 0) {
        api_conn_close(conn);
        return;
    }
    if (!conn->in_process)
        api_conn_process(conn);
}

static void api_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct api_conn *conn = container_of((uv_pipe_t *)s, struct api_conn,
                                         handle);

    api_conn_input(conn, b->base, nread);
    free(b->base);
}

/* A connection of srv, linked in, with its handle initialised (not yet
 * connected). */
static struct api_conn *api_conn_new(struct api_server *srv)
{
    struct api_conn *conn = xcalloc(1, sizeof(*conn));

    conn->srv = srv;
    buf_init(&conn->in, API__MAX_PENDING_IN);
    buf_init(&conn->hfield, API__MAX_HEADER);
    buf_init(&conn->hvalue, API__MAX_HEADER);
    http_parser_init(&conn->parser, HTTP_REQUEST);
    conn->parser.data = conn;
    conn->body_fd = -1;
    uv_pipe_init(srv->loop, &conn->handle, 0);
    srv->n_open++;
    conn->next = srv->conns;
    if (srv->conns != NULL)
        srv->conns->prev = conn;
    srv->conns = conn;
    return conn;
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
    conn = api_conn_new(srv);
    if (uv_accept(listener, (uv_stream_t *)&conn->handle) != 0 ||
        uv_read_start((uv_stream_t *)&conn->handle, api_on_alloc,
                      api_on_read) != 0)
        api_conn_close(conn);
}

#ifdef SHOAL_TESTING
static bool api_server_has_conn(const struct api_server *srv,
                                const struct api_conn *conn)
{
    const struct api_conn *c;

    for (c = srv->conns; c != NULL; c = c->next) {
        if (c == conn)
            return true;
    }
    return false;
}

void api_server_test_feed(struct api_server *srv, const void *data,
                          size_t len, size_t (*next)(void *arg, size_t left),
                          void *arg)
{
    const char *p = data;
    struct api_conn *conn;
    unsigned n_open = srv->n_open;
    int fds[2];
    int i;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
        abort();
    close(fds[1]);
    conn = api_conn_new(srv);
    if (uv_pipe_open(&conn->handle, fds[0]) != 0)
        abort();
    while (len > 0 && api_server_has_conn(srv, conn)) {
        size_t n = next != NULL ? next(arg, len) : len;

        if (n == 0 || n > len)
            n = len;
        api_conn_input(conn, p, (ssize_t)n);
        p += n;
        len -= n;
        uv_run(srv->loop, UV_RUN_NOWAIT);
    }
    /* The client's EOF; a hijacked connection stays open for output
     * until its handler closes it. */
    if (api_server_has_conn(srv, conn))
        api_conn_input(conn, NULL, UV_EOF);
    for (i = 0; i < 1000 && srv->n_open > n_open; i++)
        uv_run(srv->loop, UV_RUN_NOWAIT);
}
#endif

struct api_server *api_server_start(uv_loop_t *loop, const char *host,
                                    struct cluster *cluster,
                                    struct engine *engine, struct err *err)
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
    api_system_load_id(cluster);
    srv = xcalloc(1, sizeof(*srv));
    srv->loop = loop;
    srv->cluster = cluster;
    srv->engine = engine;
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

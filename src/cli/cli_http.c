/* SPDX-License-Identifier: Apache-2.0 */
/* Engine API client: libcurl over the daemon's unix socket (or plain TCP),
 * API version negotiation like the docker CLI, and docker's client-side
 * error texts. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include "base/buf.h"
#include "base/dlcurl.h"
#include "base/err.h"
#include "base/mem.h"
#include "cli/cli_int.h"

int cli_http_init(struct cli *c, const char *host, struct err *err)
{
    const char *rest;

    memset(c, 0, sizeof(*c));
    if (strncmp(host, "unix://", 7) == 0) {
        rest = host + 7;
        if (*rest == '\0')
            rest = &CLI_DEFAULT_HOST[7];
        c->sock_path = xstrdup(rest);
        c->host = xasprintf("unix://%s", rest);
        c->base_url = xstrdup("http://localhost");
        return 0;
    }
    if (host[0] == '/') {
        /* a bare socket path: friendlier than docker's tcp guess */
        c->sock_path = xstrdup(host);
        c->host = xasprintf("unix://%s", host);
        c->base_url = xstrdup("http://localhost");
        return 0;
    }
    rest = host;
    if (strncmp(host, "tcp://", 6) == 0)
        rest = host + 6;
    else if (strstr(host, "://") != NULL)
        return err_set(err, ERR_INVALID,
                       "unable to parse " CLI_PROG " host \"%s\"", host);
    if (*rest == '\0' || strchr(rest, '/') != NULL)
        return err_set(err, ERR_INVALID,
                       "unable to parse " CLI_PROG " host \"%s\"", host);
    /* docker's default TCP port when none is given */
    if (strchr(rest, ':') == NULL ||
        (rest[0] == '[' && strstr(rest, "]:") == NULL))
        c->host = xasprintf("tcp://%s:2375", rest);
    else
        c->host = xasprintf("tcp://%s", rest);
    c->base_url = xasprintf("http://%s", c->host + 6);
    return 0;
}

void cli_http_release(struct cli *c)
{
    /* A handle exists only if libcurl was loaded. */
    if (c->curl != NULL)
        dlcurl_get(NULL)->easy_cleanup(c->curl);
    free(c->host);
    free(c->sock_path);
    free(c->base_url);
    memset(c, 0, sizeof(*c));
}

void cli_resp_release(struct cli_resp *r)
{
    buf_release(&r->body);
}

static size_t cli_http_write_cb(char *data, size_t size, size_t nmemb,
                                void *userdata)
{
    struct cli_resp *r = userdata;

    if (buf_append(&r->body, data, size * nmemb) != 0)
        return 0; /* too big: abort the transfer */
    return size * nmemb;
}

static void cli_http_header_value(const char *line, size_t len,
                                  const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    size_t i;
    size_t end;

    if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    i = nl + 1;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    end = len;
    while (end > i && isspace((unsigned char)line[end - 1]))
        end--;
    snprintf(out, cap, "%.*s", (int)(end - i), line + i);
}

static size_t cli_http_header_cb(char *data, size_t size, size_t nmemb,
                                 void *userdata)
{
    struct cli_resp *r = userdata;
    size_t len = size * nmemb;

    /* a new status line (redirect, 100-continue) resets the headers */
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        r->content_type[0] = '\0';
        r->api_version[0] = '\0';
    }
    cli_http_header_value(data, len, "Content-Type", r->content_type,
                          sizeof(r->content_type));
    cli_http_header_value(data, len, "Api-Version", r->api_version,
                          sizeof(r->api_version));
    return len;
}

static const char *cli_http_status_text(long status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Request Entity Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Unknown Status";
    }
}

static int cli_http_status_code(long status)
{
    switch (status) {
    case 400: return ERR_INVALID;
    case 401: return ERR_UNAUTHORIZED;
    case 403: return ERR_FORBIDDEN;
    case 404: return ERR_NOTFOUND;
    case 409: return ERR_CONFLICT;
    case 501: return ERR_NOTIMPLEMENTED;
    case 503: return ERR_UNAVAILABLE;
    default: return ERR_INTERNAL;
    }
}

/* One exchange; url is complete. Transport failures become docker's
 * connection messages; any HTTP status is returned in resp. */
static int cli_http_perform(struct cli *c, const char *method,
                            const char *url, const char *body,
                            struct cli_resp *resp, struct err *err)
{
    const struct dlcurl *lc = dlcurl_get(err);
    struct curl_slist *hdrs = NULL;
    CURLcode cc;
    long os_errno = 0;
    CURL *h;

    if (lc == NULL)
        return -err->code;
    if (c->curl == NULL) {
        c->curl = lc->easy_init();
        if (c->curl == NULL)
            return err_set(err, ERR_INTERNAL, "cannot initialise libcurl");
    }
    h = c->curl;
    lc->easy_reset(h);
    memset(resp, 0, sizeof(*resp));
    buf_init(&resp->body, CLI_BODY_MAX);
    if (c->sock_path != NULL)
        lc->easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->sock_path);
    lc->easy_setopt(h, CURLOPT_URL, url);
    lc->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    lc->easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    lc->easy_setopt(h, CURLOPT_USERAGENT,
                     CLI_PROG "-Client/" CLI_VERSION " (linux)");
    lc->easy_setopt(h, CURLOPT_WRITEFUNCTION, cli_http_write_cb);
    lc->easy_setopt(h, CURLOPT_WRITEDATA, resp);
    lc->easy_setopt(h, CURLOPT_HEADERFUNCTION, cli_http_header_cb);
    lc->easy_setopt(h, CURLOPT_HEADERDATA, resp);
    if (strcmp(method, "HEAD") == 0) {
        lc->easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0) {
        lc->easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    if (body != NULL) {
        hdrs = lc->slist_append(hdrs, "Content-Type: application/json");
        lc->easy_setopt(h, CURLOPT_POSTFIELDS, body);
        lc->easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else if (strcmp(method, "POST") == 0) {
        /* an empty POST, without curl's form Content-Type */
        hdrs = lc->slist_append(hdrs, "Content-Type:");
        lc->easy_setopt(h, CURLOPT_POSTFIELDS, "");
        lc->easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    }
    hdrs = lc->slist_append(hdrs, "Expect:");
    lc->easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    cc = lc->easy_perform(h);
    lc->slist_free_all(hdrs);
    lc->easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    if (cc != CURLE_OK) {
        lc->easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
        buf_release(&resp->body);
        if (cc == CURLE_WRITE_ERROR)
            return err_set(err, ERR_TOOBIG, "response from daemon is too "
                                            "large");
        if (cc == CURLE_COULDNT_CONNECT && os_errno == EACCES)
            return err_set(err, ERR_UNAVAILABLE,
                           "permission denied while trying to connect to the "
                           CLI_PROG " daemon socket at %s: %s: connect: "
                           "permission denied",
                           c->host, url);
        if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST)
            return err_set(err, ERR_UNAVAILABLE,
                           "Cannot connect to the " CLI_PROG
                           " daemon at %s. Is the " CLI_PROG
                           " daemon running?",
                           c->host);
        return err_set(err, ERR_UNAVAILABLE, "error during connect: %s %s: %s",
                       method, url, lc->easy_strerror(cc));
    }
    lc->easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    return 0;
}

/* "1.41" < "1.51" */
static int cli_http_version_cmp(const char *a, const char *b)
{
    char *end;

    while (*a != '\0' || *b != '\0') {
        long x = strtol(a, &end, 10);
        long y;

        a = end;
        y = strtol(b, &end, 10);
        b = end;
        if (x != y)
            return x < y ? -1 : 1;
        if (*a == '.')
            a++;
        if (*b == '.')
            b++;
        if ((*a != '\0' && !isdigit((unsigned char)*a)) ||
            (*b != '\0' && !isdigit((unsigned char)*b)))
            break;
    }
    return 0;
}

int cli_http_negotiate(struct cli *c, struct err *err)
{
    const char *pinned = getenv(CLI_ENV_API_VERSION);
    struct cli_resp resp;
    char *url;
    int rv;

    if (c->negotiated)
        return 0;
    if (pinned != NULL && *pinned != '\0') {
        snprintf(c->api_version, sizeof(c->api_version), "%s", pinned);
        c->negotiated = true;
        return 0;
    }
    url = xasprintf("%s/_ping", c->base_url);
    rv = cli_http_perform(c, "HEAD", url, NULL, &resp, err);
    if (rv == 0 && resp.status != 200 && resp.status != 500) {
        cli_resp_release(&resp);
        rv = cli_http_perform(c, "GET", url, NULL, &resp, err);
    }
    free(url);
    if (rv != 0)
        return rv;
    if (resp.api_version[0] == '\0')
        snprintf(c->api_version, sizeof(c->api_version), "%s",
                 CLI_API_FALLBACK);
    else if (cli_http_version_cmp(resp.api_version, CLI_API_VERSION) < 0)
        snprintf(c->api_version, sizeof(c->api_version), "%s",
                 resp.api_version);
    else
        snprintf(c->api_version, sizeof(c->api_version), "%s",
                 CLI_API_VERSION);
    cli_resp_release(&resp);
    c->negotiated = true;
    return 0;
}

static int cli_http_api_error(struct cli_resp *resp, const char *url,
                              struct err *err)
{
    int code = cli_http_status_code(resp->status);
    const char *ct = resp->content_type;
    size_t len = resp->body.len;
    const char *body = resp->body.data != NULL ? resp->body.data : "";
    int rv;

    while (len > 0 && isspace((unsigned char)body[len - 1]))
        len--;
    if (len == 0) {
        rv = err_set(err, code,
                     "Error response from daemon: request returned %s for "
                     "API route and version %s, check if the server "
                     "supports the requested API version",
                     cli_http_status_text(resp->status), url);
    } else if (strncmp(ct, "application/json", 16) == 0) {
        json_error_t jerr;
        json_t *v = json_loadb(body, len, 0, &jerr);
        const char *msg = v != NULL ? cli_jstr(v, "message") : NULL;

        size_t ml = msg != NULL ? strlen(msg) : 0;

        /* docker trims the daemon's message */
        while (ml > 0 && isspace((unsigned char)msg[ml - 1]))
            ml--;
        while (ml > 0 && isspace((unsigned char)*msg)) {
            msg++;
            ml--;
        }
        if (v == NULL)
            rv = err_set(err, code, "Error reading JSON: %s", jerr.text);
        else
            rv = err_set(err, code, "Error response from daemon: %.*s",
                         (int)ml, msg);
        json_decref(v);
    } else {
        rv = err_set(err, code, "Error response from daemon: %.*s", (int)len,
                     body);
    }
    return rv;
}

int cli_http_request(struct cli *c, const char *method, const char *path,
                     const json_t *body, struct cli_resp *resp,
                     struct err *err)
{
    char *url;
    char *text = NULL;
    int rv;

    memset(resp, 0, sizeof(*resp));
    rv = cli_http_negotiate(c, err);
    if (rv != 0)
        return rv;
    url = xasprintf("%s/v%s%s", c->base_url, c->api_version, path);
    if (body != NULL)
        text = cli_format_json_compact(body);
    rv = cli_http_perform(c, method, url, text, resp, err);
    free(text);
    if (rv == 0 && (resp->status < 200 || resp->status >= 300)) {
        rv = cli_http_api_error(resp, url, err);
        cli_resp_release(resp);
    }
    free(url);
    return rv;
}

int cli_http_json(struct cli *c, const char *method, const char *path,
                  const json_t *body, json_t **out, struct err *err)
{
    struct cli_resp resp;
    json_error_t jerr;
    json_t *v;
    int rv;

    if (out != NULL)
        *out = NULL;
    rv = cli_http_request(c, method, path, body, &resp, err);
    if (rv != 0)
        return rv;
    if (out == NULL || resp.body.len == 0) {
        cli_resp_release(&resp);
        return 0;
    }
    v = json_loadb(resp.body.data, resp.body.len, JSON_DECODE_ANY, &jerr);
    cli_resp_release(&resp);
    if (v == NULL)
        return err_set(err, ERR_PROTO, "Error reading JSON: %s", jerr.text);
    *out = v;
    return 0;
}

char *cli_http_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    struct buf b;

    buf_init(&b, CLI_BODY_MAX);
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;

        if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            (void)buf_append(&b, s, 1);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};

            (void)buf_append(&b, e, 3);
        }
    }
    return buf_detach(&b, NULL);
}

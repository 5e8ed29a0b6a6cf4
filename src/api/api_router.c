/* SPDX-License-Identifier: Apache-2.0 */
/* THE route table, /vX.Y handling, query and body helpers. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "base/mem.h"
#include "cluster/cluster.h"

#define API__MAX_PATH 4096

struct api_route
{
    enum api_method method;
    const char *pattern; /* "{}" matches one path segment */
    api_handler_fn handler;
    bool leader;         /* served with the leader's authority: a follower
                            manager forwards it to the leader */
    bool body_file;      /* the body (an image tarball, unbounded) is
                            spooled to req->body_path, not memory */
};

#ifdef SHOAL_TESTING
static bool (*api_router_test_allow)(const char *pattern,
                                     enum api_method method);

void api_router_set_test_filter(bool (*allow)(const char *pattern,
                                              enum api_method method))
{
    api_router_test_allow = allow;
}
#endif

static const struct api_route api_routes[] = {
    {API_GET, "/_ping", api_system_ping, false, false},
    {API_HEAD, "/_ping", api_system_ping, false, false},
    {API_GET, "/version", api_system_version, false, false},
    {API_GET, "/info", api_system_info, false, false},
    {API_GET, "/swarm", api_swarm_inspect, true, false},
    {API_POST, "/swarm/init", api_swarm_init, false, false},
    {API_POST, "/swarm/join", api_swarm_join, false, false},
    {API_POST, "/swarm/leave", api_swarm_leave, false, false},
    {API_POST, "/swarm/update", api_swarm_update, true, false},
    {API_GET, "/swarm/unlockkey", api_swarm_unlockkey, true, false},
    {API_POST, "/swarm/unlock", api_swarm_unlock, false, false},
    {API_GET, "/nodes", api_nodes_list, true, false},
    {API_GET, "/nodes/{}", api_nodes_inspect, true, false},
    {API_POST, "/nodes/{}/update", api_nodes_update, true, false},
    {API_DELETE, "/nodes/{}", api_nodes_delete, true, false},
    {API_GET, "/networks", api_networks_list, true, false},
    {API_GET, "/networks/{}", api_networks_inspect, true, false},
    {API_GET, "/services", api_services_list, true, false},
    {API_POST, "/services/create", api_services_create, true, false},
    {API_GET, "/services/{}", api_services_inspect, true, false},
    {API_POST, "/services/{}/update", api_services_update, true, false},
    {API_DELETE, "/services/{}", api_services_delete, true, false},
    {API_GET, "/services/{}/logs", api_services_logs, false, false},
    {API_GET, "/tasks", api_tasks_list, true, false},
    {API_GET, "/tasks/{}", api_tasks_inspect, true, false},
    {API_GET, "/secrets", api_secrets_list_secrets, true, false},
    {API_POST, "/secrets/create", api_secrets_create_secret, true, false},
    {API_GET, "/secrets/{}", api_secrets_inspect_secret, true, false},
    {API_POST, "/secrets/{}/update", api_secrets_update_secret, true, false},
    {API_DELETE, "/secrets/{}", api_secrets_delete_secret, true, false},
    {API_GET, "/configs", api_secrets_list_configs, true, false},
    {API_POST, "/configs/create", api_secrets_create_config, true, false},
    {API_GET, "/configs/{}", api_secrets_inspect_config, true, false},
    {API_POST, "/configs/{}/update", api_secrets_update_config, true, false},
    {API_DELETE, "/configs/{}", api_secrets_delete_config, true, false},
    {API_GET, "/containers/json", api_containers_list, false, false},
    {API_POST, "/containers/create", api_containers_create, false, false},
    {API_POST, "/containers/prune", api_containers_prune, false, false},
    {API_GET, "/containers/{}/json", api_containers_inspect, false, false},
    {API_POST, "/containers/{}/start", api_containers_start, false, false},
    {API_POST, "/containers/{}/stop", api_containers_stop, false, false},
    {API_POST, "/containers/{}/restart", api_containers_restart, false,
     false},
    {API_POST, "/containers/{}/kill", api_containers_kill, false, false},
    {API_POST, "/containers/{}/wait", api_containers_wait, false, false},
    {API_POST, "/containers/{}/attach", api_containers_attach, false, false},
    {API_GET, "/containers/{}/logs", api_containers_logs, false, false},
    {API_POST, "/containers/{}/rename", api_containers_rename, false, false},
    {API_POST, "/containers/{}/resize", api_containers_resize, false, false},
    {API_POST, "/containers/{}/exec", api_exec_create, false, false},
    {API_DELETE, "/containers/{}", api_containers_delete, false, false},
    {API_POST, "/exec/{}/start", api_exec_start, false, false},
    {API_POST, "/exec/{}/resize", api_exec_resize, false, false},
    {API_GET, "/exec/{}/json", api_exec_inspect, false, false},
    {API_POST, "/images/create", api_images_create, false, true},
    {API_POST, "/images/load", api_images_load, false, true},
    {API_GET, "/images/json", api_images_list, false, false},
    {API_GET, "/images/get", api_images_get, false, false},
    {API_GET, "/images/{+}/get", api_images_get_one, false, false},
    {API_GET, "/images/{+}/json", api_images_inspect, false, false},
    {API_POST, "/images/{+}/tag", api_images_tag, false, false},
    {API_DELETE, "/images/{+}", api_images_delete, false, false},
#ifdef SHOAL_TESTING
    {API_POST, "/_shoal/debug/tasks", api_debug_task_create, true, false},
    {API_POST, "/_shoal/debug/tasks/{}/update", api_debug_task_update, true,
     false},
    {API_DELETE, "/_shoal/debug/tasks/{}", api_debug_task_delete, true,
     false},
    {API_GET, "/_shoal/debug/store-digest", api_debug_store_digest, false, false},
    {API_GET, "/_shoal/debug/stream", api_debug_stream, false, false},
    {API_POST, "/_shoal/debug/hijack", api_debug_hijack, false, false},
    {API_POST, "/_shoal/debug/body-file", api_debug_body_file, false, true},
    {API_GET, "/_shoal/debug/params/{+}/tail/{}", api_debug_params, false,
     false},
#endif
};

static int api_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Percent-decode [s, s+len); '+' becomes ' ' when plus is set. NULL if a
 * bad escape or a NUL byte shows up. */
static char *api_unescape(const char *s, size_t len, bool plus)
{
    char *out = xmalloc(len + 1);
    size_t i;
    size_t o = 0;

    for (i = 0; i < len; i++) {
        if (s[i] == '%') {
            int hi;
            int lo;

            if (i + 2 >= len)
                goto bad;
            hi = api_hexval(s[i + 1]);
            lo = api_hexval(s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                goto bad;
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (plus && s[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
bad:
    free(out);
    return NULL;
}

char *api_query_get(const struct api_req *req, const char *name)
{
    const char *p = req->query;
    size_t nlen = strlen(name);

    while (p != NULL && *p != '\0') {
        size_t seg = strcspn(p, "&");
        const char *eq = memchr(p, '=', seg);
        size_t klen = eq ? (size_t)(eq - p) : seg;

        if (klen == nlen && strncmp(p, name, nlen) == 0) {
            if (eq == NULL)
                return xstrdup("");
            return api_unescape(eq + 1, seg - klen - 1, true);
        }
        p += seg;
        if (*p == '&')
            p++;
    }
    return NULL;
}

bool api_query_bool(const struct api_req *req, const char *name)
{
    char *v = api_query_get(req, name);
    bool on;

    if (v == NULL)
        return false;
    /* Docker's BoolValue: anything but "", "0", "no", "false", "none". */
    on = !(v[0] == '\0' || strcmp(v, "0") == 0 || strcasecmp(v, "no") == 0 ||
           strcasecmp(v, "false") == 0 || strcasecmp(v, "none") == 0);
    free(v);
    return on;
}

int api_body_json(struct api_req *req, json_t **out, struct err *err)
{
    json_error_t jerr;
    json_t *v;

    *out = NULL;
    if (req->body.len == 0)
        return 0;
    v = json_loadb(req->body.data, req->body.len,
                   JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (v == NULL)
        return err_set(err, ERR_INVALID, "invalid JSON: %s (line %d column %d)",
                       jerr.text, jerr.line, jerr.column);
    *out = v;
    return 0;
}

bool api_version_at_least(const struct api_req *req, int major, int minor)
{
    return req->version_major > major ||
           (req->version_major == major && req->version_minor >= minor);
}

/* Split "/v1.44/rest" into version and rest; 0 if there is no prefix,
 * 1 if parsed, -1 if malformed. */
static int api_parse_version(const char *path, int *major, int *minor,
                             const char **rest)
{
    const char *p = path;
    char *end;
    long ma;
    long mi;

    if (p[0] != '/' || p[1] != 'v' || !isdigit((unsigned char)p[2]))
        return 0;
    ma = strtol(p + 2, &end, 10);
    if (*end != '.' || !isdigit((unsigned char)end[1]))
        return 0;
    mi = strtol(end + 1, &end, 10);
    if (*end != '/' && *end != '\0')
        return 0;
    if (ma > 1000 || mi > 1000)
        return -1;
    *major = (int)ma;
    *minor = (int)mi;
    *rest = *end ? end : "/";
    return 1;
}

static int api_version_cmp(int ma, int mi, const char *v)
{
    int vma = atoi(v);
    int vmi = atoi(strchr(v, '.') + 1);

    if (ma != vma)
        return ma < vma ? -1 : 1;
    if (mi != vmi)
        return mi < vmi ? -1 : 1;
    return 0;
}

/* Match path against pattern from parameter n on. "{}" matches one path
 * segment, "{+}" one or more (image names hold slashes: the longest that
 * lets the rest of the pattern match). params may be NULL (test only). */
static bool api_match_from(char **params, int n, const char *pattern,
                           const char *path)
{
    while (*pattern != '\0' && *path != '\0') {
        if (pattern[0] == '{' && pattern[1] == '+' && pattern[2] == '}') {
            size_t len = strlen(path);

            if (n == API_MAX_PARAMS)
                return false;
            for (; len > 0; len--) {
                if (len < strlen(path) && path[len] != '/')
                    continue;
                if (path[len - 1] == '/' || path[0] == '/')
                    continue;
                if (api_match_from(params, n + 1, pattern + 3, path + len)) {
                    if (params != NULL)
                        params[n] = xstrndup(path, len);
                    return true;
                }
            }
            return false;
        }
        if (pattern[0] == '{' && pattern[1] == '}') {
            size_t seg = strcspn(path, "/");

            if (seg == 0 || n == API_MAX_PARAMS)
                return false;
            if (!api_match_from(params, n + 1, pattern + 2, path + seg))
                return false;
            if (params != NULL)
                params[n] = xstrndup(path, seg);
            return true;
        }
        if (*pattern != *path)
            return false;
        pattern++;
        path++;
    }
    /* Docker's router ignores one trailing slash. */
    return *pattern == '\0' && (*path == '\0' || strcmp(path, "/") == 0);
}

/* Match path against pattern, filling req->params. */
static bool api_match(struct api_req *req, const char *pattern,
                      const char *path)
{
    return api_match_from(req->params, 0, pattern, path);
}

bool api_router_wants_body_file(const char *url, bool post)
{
    char path[API__MAX_PATH];
    const char *rest = url;
    size_t n = strcspn(url, "?");
    int ma;
    int mi;
    size_t i;

    if (!post || n >= sizeof(path))
        return false;
    memcpy(path, url, n);
    path[n] = '\0';
    if (api_parse_version(path, &ma, &mi, &rest) <= 0)
        rest = path;
    for (i = 0; i < ARRAY_SIZE(api_routes); i++) {
        if (api_routes[i].body_file && api_routes[i].method == API_POST &&
            api_match_from(NULL, 0, api_routes[i].pattern, rest))
            return true;
    }
    return false;
}

static void api_router_on_forwarded(void *data, int status,
                                    const char *ctype, const char *body,
                                    size_t len)
{
    api_reply_raw(data, status, ctype, body, len);
}

static const char *api_method_name(enum api_method m)
{
    switch (m) {
    case API_GET: return "GET";
    case API_HEAD: return "HEAD";
    case API_POST: return "POST";
    case API_PUT: return "PUT";
    case API_DELETE: return "DELETE";
    case API_OTHER: break;
    }
    return "OTHER";
}

void api_router_forward(struct api_req *req)
{
    struct err err;

    err_clear(&err);
    if (cluster_forward(req->cluster, api_method_name(req->method), req->url,
                        req->body.data, req->body.len,
                        api_router_on_forwarded, req, &err) != 0)
        api_reply_err(req, &err);
}

void api_router_dispatch(struct api_req *req)
{
    const char *rest = req->url;
    const char *q;
    bool path_known = false;
    size_t i;
    int rv;

    q = strchr(req->url, '?');
    req->path = api_unescape(req->url, q ? (size_t)(q - req->url)
                                         : strlen(req->url), false);
    req->query = q ? xstrdup(q + 1) : NULL;
    req->version_major = atoi(API_VERSION_MAX);
    req->version_minor = atoi(strchr(API_VERSION_MAX, '.') + 1);
    if (req->path == NULL) {
        api_reply_error(req, ERR_INVALID, "invalid URL escape in %s",
                        req->url);
        return;
    }
    rv = api_parse_version(req->path, &req->version_major,
                           &req->version_minor, &rest);
    if (rv < 0) {
        api_reply_error(req, ERR_NOTFOUND, "page not found");
        return;
    }
    if (rv > 0) {
        if (api_version_cmp(req->version_major, req->version_minor,
                            API_VERSION_MIN) < 0) {
            api_reply_error(req, ERR_INVALID,
                            "client version %d.%d is too old. Minimum "
                            "supported API version is %s, please upgrade "
                            "your client to a newer version",
                            req->version_major, req->version_minor,
                            API_VERSION_MIN);
            return;
        }
        if (api_version_cmp(req->version_major, req->version_minor,
                            API_VERSION_MAX) > 0) {
            api_reply_error(req, ERR_INVALID,
                            "client version %d.%d is too new. Maximum "
                            "supported API version is %s",
                            req->version_major, req->version_minor,
                            API_VERSION_MAX);
            return;
        }
    } else {
        rest = req->path;
    }
    for (i = 0; i < sizeof(api_routes) / sizeof(api_routes[0]); i++) {
        if (!api_match(req, api_routes[i].pattern, rest))
            continue;
        path_known = true;
        if (api_routes[i].method == req->method) {
            if (api_routes[i].leader && !req->forwarded &&
                cluster_should_forward(req->cluster)) {
                api_router_forward(req);
                return;
            }
#ifdef SHOAL_TESTING
            if (api_router_test_allow != NULL &&
                !api_router_test_allow(api_routes[i].pattern, req->method)) {
                api_reply_error(req, ERR_FORBIDDEN,
                                "route disabled in this test");
                return;
            }
#endif
            api_routes[i].handler(req);
            return;
        }
        for (rv = 0; rv < API_MAX_PARAMS; rv++) {
            free(req->params[rv]);
            req->params[rv] = NULL;
        }
    }
    if (path_known)
        api_reply_json(req, 405,
                       json_pack("{s:s}", "message", "method not allowed"));
    else
        api_reply_error(req, ERR_NOTFOUND, "page not found");
}

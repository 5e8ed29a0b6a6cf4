/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's side of container processes: spawns one shoal-monitor per
 * container (monitor/monitor.h has the protocol), talks to it over its
 * unix socket (one control connection, one per attach client), and runs
 * `runc exec` and `runc delete` itself. Nothing here blocks the loop but
 * a connect(2) to a local unix socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "base/buf.h"
#include "base/fsutil.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/mem.h"
#include "engine/runtime.h"
#include "monitor/monitor.h"

#define RUNTIME_ID_MAX 64
#define RUNTIME_LINE_MAX 8192

struct runtime_ctr;

/* One connection to a monitor; freed by its close callback. */
struct runtime_conn
{
    uv_pipe_t pipe;
    struct runtime *rt;
    struct runtime_ctr *ctr;     /* NULL once detached */
    struct runtime_attach *att;  /* NULL: the control connection */
    struct buf in;               /* bytes read, not yet a whole frame */
    bool got_exit;
    bool closing;
};

struct runtime_ctr
{
    struct runtime *rt;
    struct runtime_ctr *next;
    char id[RUNTIME_ID_MAX + 1];
    char *cdir;                    /* owned */
    uv_pipe_t startup;             /* the monitor's stdout */
    bool startup_open;
    struct buf line;
    struct runtime_conn *ctl;
    runtime_started_fn started_cb; /* a start in flight */
    void *started_data;
    bool starting;                 /* monitor spawned, 'P'/'F' not yet */
    bool start_sent;
    bool start_failed;
    bool run_mode;                 /* monitor runs `runc run --detach` */
    bool running;
    int n_waiting;                 /* pre-start attaches not yet accepted */
    int busy;                      /* in a callback: not to be freed */
    pid_t pid;
    struct runtime_attach *attaches;
};

struct runtime_attach
{
    struct runtime_ctr *ctr;
    struct runtime_attach *next;
    struct runtime_conn *conn;
    struct runtime_attach_opts opts;
    runtime_output_fn fn;
    void *data;
    bool waiting;                  /* counted in ctr->n_waiting */
    bool ended;
};

struct runtime_exec
{
    struct runtime *rt;
    struct runtime_exec *next;
    uv_process_t proc;
    uv_pipe_t pipes[4];            /* stdin, stdout, stderr; tty: resize */
    bool tty;                      /* through `shoal-monitor exec` */
    int n_open;
    bool exited;
    int exit_code;
    int eofs;
    bool released;
    bool delivered;
    runtime_output_fn out;
    runtime_exec_exit_fn exit_fn;
    void *data;
    char *spec_path;               /* owned */
    char *pid_path;                /* owned */
};

struct runtime
{
    uv_loop_t *loop;
    char *state_root;              /* <data-root>/containers */
    char *runc_root;               /* <data-root>/runc */
    char *monitor_bin;
    char *runc_bin;                /* runc's path, looked up once */
    runtime_exit_fn exit_fn;
    void *exit_data;
    struct runtime_ctr *ctrs;
    struct runtime_exec *execs;
    uv_signal_t sigchld;           /* reaps runtime_kids */
    int n_handles;                 /* handles not yet closed */
    bool closing;
    void (*close_cb)(void *data);
    void *close_data;
    char rec_finished[64];         /* runtime_recover's strings */
    char rec_error[ERR_MSG_LEN];
};

struct runtime_wreq
{
    uv_write_t req;
    char data[];
};

/* Monitors this process spawned and has not reaped yet. They are its
 * children (in their own session: they survive the daemon), so reaping
 * them is its job, not PID 1's; process-wide, as children are, so that a
 * runtime reopened in the same process (tests) reaps what an earlier one
 * spawned. Only these PIDs are waited for: libuv reaps its own. */
static pid_t *runtime_kids;
static size_t runtime_n_kids;
static size_t runtime_cap_kids;

static void runtime_ctr_maybe_free(struct runtime_ctr *c);
static void runtime_conn_close(struct runtime_conn *conn);
static void runtime_ctr_send_start(struct runtime_ctr *c);

/* ------------------------------------------------------------ helpers */

static bool runtime_id_is_valid(const char *id)
{
    size_t i;
    size_t n = strlen(id);

    if (n == 0 || n > RUNTIME_ID_MAX || id[0] == '.')
        return false;
    for (i = 0; i < n; i++) {
        char c = id[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

static void runtime_kids_reap(void)
{
    size_t i = 0;
    pid_t r;

    while (i < runtime_n_kids) {
        r = waitpid(runtime_kids[i], NULL, WNOHANG);
        if (r == 0 || (r == -1 && errno == EINTR)) {
            i++;
            continue;
        }
        runtime_kids[i] = runtime_kids[--runtime_n_kids];
    }
    if (runtime_n_kids == 0) {
        free(runtime_kids);
        runtime_kids = NULL;
        runtime_cap_kids = 0;
    }
}

static void runtime_kids_add(pid_t pid)
{
    if (runtime_n_kids == runtime_cap_kids) {
        runtime_cap_kids = runtime_cap_kids ? 2 * runtime_cap_kids : 8;
        runtime_kids = xrealloc(runtime_kids,
                                runtime_cap_kids * sizeof(*runtime_kids));
    }
    runtime_kids[runtime_n_kids++] = pid;
}

static void runtime_on_sigchld(uv_signal_t *h, int signum)
{
    (void)h;
    (void)signum;
    runtime_kids_reap();
}

static void runtime_maybe_closed(struct runtime *rt)
{
    if (!rt->closing || rt->n_handles > 0 || rt->ctrs || rt->execs)
        return;
    if (rt->close_cb)
        rt->close_cb(rt->close_data);
    free(rt->state_root);
    free(rt->runc_root);
    free(rt->monitor_bin);
    free(rt->runc_bin);
    free(rt);
}

static void runtime_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)h;
    (void)hint;
    b->base = xmalloc(16384);
    b->len = 16384;
}

static struct runtime_ctr *runtime_ctr_find(struct runtime *rt,
                                            const char *id)
{
    struct runtime_ctr *c;

    for (c = rt->ctrs; c; c = c->next)
        if (strcmp(c->id, id) == 0)
            return c;
    return NULL;
}

static struct runtime_ctr *runtime_ctr_get(struct runtime *rt,
                                           const char *id)
{
    struct runtime_ctr *c = runtime_ctr_find(rt, id);

    if (c)
        return c;
    c = xcalloc(1, sizeof(*c));
    c->rt = rt;
    snprintf(c->id, sizeof(c->id), "%s", id);
    c->cdir = xasprintf("%s/%s", rt->state_root, id);
    buf_init(&c->line, RUNTIME_LINE_MAX);
    c->next = rt->ctrs;
    rt->ctrs = c;
    return c;
}

static void runtime_ctr_maybe_free(struct runtime_ctr *c)
{
    struct runtime_ctr **pp;
    struct runtime *rt = c->rt;

    if (c->startup_open || c->ctl || c->starting ||
        c->attaches || c->busy > 0)
        return;
    for (pp = &rt->ctrs; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    buf_release(&c->line);
    free(c->cdir);
    free(c);
    runtime_maybe_closed(rt);
}

/* A blocking connect to <cdir>/monitor.sock (local, immediate), through
 * /proc/self/fd so that long data roots fit in sun_path. */
static int runtime_dial(const char *cdir, struct err *err)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int dfd;
    int fd;
    int e;

    dfd = open(cdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd == -1)
        return err_sys(err, ERR_IO, errno, "open %s", cdir);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dfd,
             MONITOR_SOCK);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
        e = errno;
        if (fd != -1)
            close(fd);
        close(dfd);
        return err_sys(err, ERR_UNAVAILABLE, e, "connect to the monitor of %s",
                       cdir);
    }
    close(dfd);
    return fd;
}

static void runtime_write_done(uv_write_t *req, int status)
{
    (void)status;
    free(container_of(req, struct runtime_wreq, req));
}

static int runtime_send(struct runtime_conn *conn, char type,
                        const void *data, size_t len)
{
    struct runtime_wreq *w;
    uv_buf_t b;
    int rv;

    if (conn == NULL || conn->closing || len > MONITOR_FRAME_MAX)
        return -ERR_IO;
    w = xmalloc(sizeof(*w) + MONITOR_HDR_LEN + len);
    w->data[0] = type;
    w->data[1] = (char)(len >> 24);
    w->data[2] = (char)(len >> 16);
    w->data[3] = (char)(len >> 8);
    w->data[4] = (char)len;
    if (len > 0)
        memcpy(w->data + MONITOR_HDR_LEN, data, len);
    b = uv_buf_init(w->data, (unsigned)(MONITOR_HDR_LEN + len));
    rv = uv_write(&w->req, (uv_stream_t *)&conn->pipe, &b, 1,
                  runtime_write_done);
    if (rv != 0) {
        free(w);
        return -ERR_IO;
    }
    return 0;
}

/* Parse the exit file's JSON into ex; strings into the given buffers. */
static int runtime_parse_exit(const char *text, size_t len,
                              struct runtime_exit *ex, char *fin,
                              size_t fin_cap, char *error, size_t error_cap)
{
    json_t *doc;
    json_error_t je;
    const char *s;

    doc = json_loadb(text, len, 0, &je);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return -ERR_PROTO;
    }
    ex->exit_code = (int)json_integer_value(json_object_get(doc, "ExitCode"));
    ex->oom_killed = json_is_true(json_object_get(doc, "OOMKilled"));
    s = json_string_value(json_object_get(doc, "FinishedAt"));
    snprintf(fin, fin_cap, "%s", s ? s : "");
    s = json_string_value(json_object_get(doc, "Error"));
    snprintf(error, error_cap, "%s", s ? s : "");
    ex->finished_at = fin;
    ex->error = error;
    json_decref(doc);
    return 0;
}

/* The exit as the monitor left it, or a made-up one if it died first. */
static void runtime_read_exit(const char *cdir, struct runtime_exit *ex,
                              char *fin, size_t fin_cap, char *error,
                              size_t error_cap)
{
    char *path = xasprintf("%s/%s", cdir, MONITOR_EXITFILE);
    char *text = NULL;
    size_t len = 0;
    struct err err;
    struct timespec ts;
    struct tm tm;

    if (fsutil_read_all(path, 65536, &text, &len, &err) == 0 &&
        runtime_parse_exit(text, len, ex, fin, fin_cap, error, error_cap) ==
            0) {
        free(text);
        free(path);
        return;
    }
    free(text);
    free(path);
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(fin, fin_cap, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, ts.tv_nsec);
    snprintf(error, error_cap, "shoal-monitor exited unexpectedly");
    ex->exit_code = 255;
    ex->oom_killed = false;
    ex->finished_at = fin;
    ex->error = error;
}

/* ------------------------------------------------------------ start */

static void runtime_start_done(struct runtime_ctr *c, int status,
                               const struct err *err, pid_t pid)
{
    runtime_started_fn cb = c->started_cb;
    void *data = c->started_data;

    c->started_cb = NULL;
    c->starting = false;
    if (status != 0)
        c->start_failed = true;
    if (cb)
        cb(data, status, err, pid);
}

static void runtime_exit_deliver(struct runtime_ctr *c,
                                 const struct runtime_exit *ex)
{
    struct runtime *rt = c->rt;
    bool was_running = c->running;

    c->running = false;
    if (was_running && !c->start_failed && rt->exit_fn && !rt->closing)
        rt->exit_fn(rt->exit_data, c->id, ex);
}

static void runtime_attach_end(struct runtime_attach *a)
{
    if (a->ended)
        return;
    a->ended = true;
    if (a->fn)
        a->fn(a->data, 0, NULL, 0);
}

static void runtime_frame(struct runtime_conn *conn, char type,
                          const char *p, size_t len)
{
    struct runtime_ctr *c = conn->ctr;
    struct runtime_attach *a = conn->att;
    struct runtime_exit ex;
    char fin[64];
    char error[ERR_MSG_LEN];
    struct err err;
    char num[32];

    if (c == NULL)
        return;
    if (a) {
        if (type == 'A' && a->waiting) {
            a->waiting = false;
            c->n_waiting--;
            runtime_ctr_send_start(c);
        } else if ((type == 'O' || type == 'E') && a->fn && !a->ended) {
            a->fn(a->data, type == 'O' ? 1 : 2, p, len);
        } else if (type == 'X') {
            conn->got_exit = true;
            runtime_attach_end(a);
        }
        return;
    }
    switch (type) {
    case 'P':
        snprintf(num, sizeof(num), "%.*s", (int)(len < 31 ? len : 31), p);
        c->pid = (pid_t)atoi(num);
        c->running = true;
        runtime_start_done(c, 0, NULL, c->pid);
        break;
    case 'F':
        err_set(&err, ERR_INTERNAL,
                "failed to create task for container: failed to start "
                "shim task: OCI runtime start failed: %.*s: unknown",
                (int)(len < 400 ? len : 400), p);
        runtime_start_done(c, -ERR_INTERNAL, &err, 0);
        break;
    case 'X':
        conn->got_exit = true;
        if (runtime_parse_exit(p, len, &ex, fin, sizeof(fin), error,
                               sizeof(error)) != 0)
            runtime_read_exit(c->cdir, &ex, fin, sizeof(fin), error,
                              sizeof(error));
        /* Closed first, so that the callback may start it again. */
        runtime_conn_close(conn);
        if (c->starting) {
            /* e.g. the monitor's start deadline passed */
            err_set(&err, ERR_INTERNAL,
                    "failed to create task for container: %s",
                    ex.error[0] ? ex.error : "exited before it started");
            runtime_start_done(c, -ERR_INTERNAL, &err, 0);
        }
        runtime_exit_deliver(c, &ex);
        break;
    default:
        break;
    }
}

static void runtime_conn_eof(struct runtime_conn *conn)
{
    struct runtime_ctr *c = conn->ctr;
    struct runtime_exit ex;
    char fin[64];
    char error[ERR_MSG_LEN];
    struct err err;

    if (c == NULL)
        return;
    if (conn->att) {
        runtime_attach_end(conn->att);
        if (conn->att->waiting) {
            conn->att->waiting = false;
            c->n_waiting--;
            runtime_ctr_send_start(c);
        }
        return;
    }
    if (c->starting) {
        err_set(&err, ERR_INTERNAL,
                "failed to create task for container: shoal-monitor exited "
                "before the container started");
        runtime_start_done(c, -ERR_INTERNAL, &err, 0);
    }
    if (!conn->got_exit && c->running) {
        runtime_read_exit(c->cdir, &ex, fin, sizeof(fin), error,
                          sizeof(error));
        runtime_exit_deliver(c, &ex);
    }
}

static void runtime_conn_closed(uv_handle_t *h)
{
    struct runtime_conn *conn = container_of(h, struct runtime_conn, pipe);
    struct runtime *rt = conn->rt;

    buf_release(&conn->in);
    free(conn);
    rt->n_handles--;
    runtime_maybe_closed(rt);
}

/* Detach from its owner and close; no callback fires after this. */
static void runtime_conn_close(struct runtime_conn *conn)
{
    struct runtime_ctr *c = conn->ctr;

    if (conn->closing)
        return;
    conn->closing = true;
    if (c && c->ctl == conn)
        c->ctl = NULL;
    if (conn->att)
        conn->att->conn = NULL;
    conn->ctr = NULL;
    conn->att = NULL;
    uv_close((uv_handle_t *)&conn->pipe, runtime_conn_closed);
    if (c)
        runtime_ctr_maybe_free(c);
}

static void runtime_conn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct runtime_conn *conn = container_of(s, struct runtime_conn, pipe);
    struct runtime_ctr *c;
    uint32_t plen;
    size_t off = 0;
    char *d;

    if (n < 0 || (n > 0 && buf_append(&conn->in, b->base, (size_t)n) != 0)) {
        free(b->base);
        c = conn->ctr;
        if (c)
            c->busy++;
        runtime_conn_eof(conn);
        runtime_conn_close(conn);
        if (c) {
            c->busy--;
            runtime_ctr_maybe_free(c);
        }
        return;
    }
    free(b->base);
    c = conn->ctr;
    if (c)
        c->busy++;
    d = conn->in.data;
    while (!conn->closing && conn->in.len - off >= MONITOR_HDR_LEN) {
        plen = ((uint32_t)(unsigned char)d[off + 1] << 24) |
               ((uint32_t)(unsigned char)d[off + 2] << 16) |
               ((uint32_t)(unsigned char)d[off + 3] << 8) |
               (uint32_t)(unsigned char)d[off + 4];
        if (plen > MONITOR_FRAME_MAX) {
            runtime_conn_eof(conn);
            runtime_conn_close(conn);
            break;
        }
        if (conn->in.len - off < MONITOR_HDR_LEN + plen)
            break;
        runtime_frame(conn, d[off], d + off + MONITOR_HDR_LEN, plen);
        off += MONITOR_HDR_LEN + plen;
    }
    if (c) {
        c->busy--;
        runtime_ctr_maybe_free(c);
    }
    if (conn->closing)
        return;
    if (off > 0) {
        memmove(conn->in.data, conn->in.data + off, conn->in.len - off);
        conn->in.len -= off;
    }
}

/* Connect to c's monitor; att NULL for the control connection. */
static struct runtime_conn *runtime_conn_open(struct runtime_ctr *c,
                                              struct runtime_attach *att,
                                              struct err *err)
{
    struct runtime_conn *conn;
    unsigned char want;
    int fd;

    fd = runtime_dial(c->cdir, err);
    if (fd < 0)
        return NULL;
    conn = xcalloc(1, sizeof(*conn));
    conn->rt = c->rt;
    conn->ctr = c;
    conn->att = att;
    buf_init(&conn->in, 2 * (MONITOR_FRAME_MAX + MONITOR_HDR_LEN));
    uv_pipe_init(c->rt->loop, &conn->pipe, 0);
    conn->pipe.data = c->rt;
    c->rt->n_handles++;
    if (uv_pipe_open(&conn->pipe, fd) != 0 ||
        uv_read_start((uv_stream_t *)&conn->pipe, runtime_alloc,
                      runtime_conn_read) != 0) {
        close(fd);
        conn->ctr = NULL;
        conn->att = NULL;
        conn->closing = true;
        uv_close((uv_handle_t *)&conn->pipe, runtime_conn_closed);
        err_set(err, ERR_IO, "monitor connection of %s failed", c->id);
        return NULL;
    }
    if (att) {
        want = (att->opts.in ? MONITOR_WANT_IN : 0) |
               (att->opts.out ? MONITOR_WANT_OUT : 0) |
               (att->opts.err ? MONITOR_WANT_ERR : 0);
        att->conn = conn;
    } else {
        want = MONITOR_WANT_CONTROL;
        c->ctl = conn;
    }
    runtime_send(conn, 'H', &want, 1);
    return conn;
}

static void runtime_ctr_send_start(struct runtime_ctr *c)
{
    if (!c->starting || c->start_sent || c->ctl == NULL || c->n_waiting > 0)
        return;
    c->start_sent = true;
    if (runtime_send(c->ctl, 'S', NULL, 0) != 0) {
        struct err err;

        err_set(&err, ERR_INTERNAL, "failed to start container %s", c->id);
        runtime_start_done(c, -ERR_INTERNAL, &err, 0);
    }
}

/* The monitor created the container: connect, then start it. In run mode
 * it runs already: connect, done (attaches opened meanwhile join late, as
 * they would on a running container). */
static void runtime_ctr_created(struct runtime_ctr *c)
{
    struct runtime_attach *a;
    struct err err;

    if (runtime_conn_open(c, NULL, &err) == NULL) {
        err_wrap(&err, "failed to create task for container");
        runtime_start_done(c, -ERR_INTERNAL, &err, 0);
        return;
    }
    for (a = c->attaches; a; a = a->next) {
        if (a->conn || a->ended)
            continue;
        if (runtime_conn_open(c, a, &err) == NULL) {
            runtime_attach_end(a);
            continue;
        }
        if (c->run_mode)
            continue;
        a->waiting = true;
        c->n_waiting++;
    }
    if (c->run_mode) {
        c->running = true;
        runtime_start_done(c, 0, NULL, c->pid);
        return;
    }
    runtime_ctr_send_start(c);
}

static void runtime_startup_line(struct runtime_ctr *c, const char *line)
{
    struct err err;

    if (strncmp(line, "ok ", 3) == 0) {
        c->pid = (pid_t)atoi(line + 3);
        runtime_ctr_created(c);
    } else if (strncmp(line, "err ", 4) == 0) {
        err_set(&err, ERR_INTERNAL,
                "failed to create task for container: failed to create shim "
                "task: OCI runtime create failed: %.400s: unknown", line + 4);
        runtime_start_done(c, -ERR_INTERNAL, &err, 0);
    } else {
        err_set(&err, ERR_INTERNAL,
                "failed to create task for container: shoal-monitor exited "
                "before creating the container");
        runtime_start_done(c, -ERR_INTERNAL, &err, 0);
    }
}

static void runtime_startup_closed(uv_handle_t *h)
{
    struct runtime_ctr *c = container_of(h, struct runtime_ctr, startup);
    struct runtime *rt = c->rt;

    c->startup_open = false;
    rt->n_handles--;
    runtime_ctr_maybe_free(c);
}

static void runtime_startup_read(uv_stream_t *s, ssize_t n,
                                 const uv_buf_t *b)
{
    struct runtime_ctr *c = container_of(s, struct runtime_ctr, startup);
    char *nl;

    if (n > 0)
        buf_append(&c->line, b->base, (size_t)n);
    free(b->base);
    if (n == 0)
        return;
    nl = c->line.data ? strchr(c->line.data, '\n') : NULL;
    if (nl == NULL && n > 0 && c->line.len < RUNTIME_LINE_MAX - 1)
        return;
    if (nl)
        *nl = '\0';
    uv_read_stop(s);
    uv_close((uv_handle_t *)s, runtime_startup_closed);
    c->busy++;
    runtime_startup_line(c, c->line.data ? c->line.data : "");
    c->busy--;
    runtime_ctr_maybe_free(c);
}

/* posix_spawn (a vfork: no copy of the daemon's page tables, which
 * uv_spawn's fork costs milliseconds for) of the monitor in its own
 * session, in cdir, stdout the write end of a pipe. */
static int runtime_spawn_monitor(struct runtime *rt, const char *cdir,
                                 char **args, int out_fd, pid_t *pid,
                                 struct err *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t all;
    sigset_t none;
    int rv;

    sigfillset(&all);
    sigemptyset(&none);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_addchdir_np(&fa, cdir);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID |
                                      POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETSIGMASK);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setsigmask(&at, &none);
    rv = posix_spawn(pid, rt->monitor_bin, &fa, &at, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rv != 0)
        return err_sys(err, ERR_INTERNAL, rv, "spawn %s", rt->monitor_bin);
    runtime_kids_add(*pid);
    return 0;
}

int runtime_start(struct runtime *rt, const struct runtime_start_opts *opts,
                  runtime_started_fn cb, void *data, struct err *err)
{
    struct runtime_ctr *c;
    char *args[16];
    int p[2];
    int i = 0;
    pid_t pid;

    if (!runtime_id_is_valid(opts->id))
        return err_set(err, ERR_INVALID, "invalid container ID %s", opts->id);
    c = runtime_ctr_get(rt, opts->id);
    if (c->starting || c->running || c->ctl || c->startup_open) {
        runtime_ctr_maybe_free(c);
        return err_set(err, ERR_CONFLICT, "container %s is already running",
                       opts->id);
    }
    args[i++] = rt->monitor_bin;
    args[i++] = (char *)"--runc";
    args[i++] = rt->runc_bin;
    args[i++] = (char *)"--root";
    args[i++] = rt->runc_root;
    args[i++] = (char *)"--bundle";
    args[i++] = (char *)opts->bundle;
    args[i++] = (char *)"--log";
    args[i++] = (char *)opts->log_path;
    if (opts->tty)
        args[i++] = (char *)"--tty";
    if (opts->open_stdin)
        args[i++] = (char *)"--stdin";
    /* No attach to wait for: runc run, one runc process instead of two
     * (create, then start). */
    c->run_mode = c->attaches == NULL;
    if (c->run_mode)
        args[i++] = (char *)"--run";
    args[i++] = c->id;
    args[i] = NULL;
    if (pipe2(p, O_CLOEXEC) == -1) {
        runtime_ctr_maybe_free(c);
        return err_sys(err, ERR_INTERNAL, errno, "pipe");
    }
    if (runtime_spawn_monitor(rt, c->cdir, args, p[1], &pid, err) != 0) {
        close(p[0]);
        close(p[1]);
        runtime_ctr_maybe_free(c);
        return -ERR_INTERNAL;
    }
    close(p[1]);
    uv_pipe_init(rt->loop, &c->startup, 0);
    c->startup.data = rt;
    rt->n_handles++;
    c->startup_open = true;
    if (uv_pipe_open(&c->startup, p[0]) != 0) {
        close(p[0]);
        uv_close((uv_handle_t *)&c->startup, runtime_startup_closed);
        return err_set(err, ERR_INTERNAL, "monitor pipe of %s", c->id);
    }
    buf_reset(&c->line);
    c->starting = true;
    c->start_sent = false;
    c->start_failed = false;
    c->started_cb = cb;
    c->started_data = data;
    uv_read_start((uv_stream_t *)&c->startup, runtime_alloc,
                  runtime_startup_read);
    return 0;
}

/* ------------------------------------------------------------ control */

int runtime_signal(struct runtime *rt, const char *id, int sig,
                   struct err *err)
{
    struct runtime_ctr *c = runtime_ctr_find(rt, id);
    unsigned char b[4];

    if (sig <= 0 || sig >= 65)
        return err_set(err, ERR_INVALID, "Invalid signal: %d", sig);
    if (c == NULL || !c->running || c->ctl == NULL)
        return err_set(err, ERR_CONFLICT, "Container %s is not running", id);
    b[0] = (unsigned char)(sig >> 24);
    b[1] = (unsigned char)(sig >> 16);
    b[2] = (unsigned char)(sig >> 8);
    b[3] = (unsigned char)sig;
    if (runtime_send(c->ctl, 'K', b, 4) != 0)
        return err_set(err, ERR_INTERNAL, "signal container %s failed", id);
    return 0;
}

int runtime_resize(struct runtime *rt, const char *id, unsigned rows,
                   unsigned cols, struct err *err)
{
    struct runtime_ctr *c = runtime_ctr_find(rt, id);
    unsigned char b[4];

    if (rows > 65535 || cols > 65535)
        return err_set(err, ERR_INVALID, "invalid tty size %ux%u", rows,
                       cols);
    if (c == NULL || c->ctl == NULL)
        return err_set(err, ERR_CONFLICT, "Container %s is not running", id);
    b[0] = (unsigned char)(rows >> 8);
    b[1] = (unsigned char)rows;
    b[2] = (unsigned char)(cols >> 8);
    b[3] = (unsigned char)cols;
    if (runtime_send(c->ctl, 'R', b, 4) != 0)
        return err_set(err, ERR_INTERNAL, "resize container %s failed", id);
    return 0;
}

static void runtime_delete_exit(uv_process_t *p, int64_t status, int sig)
{
    (void)status;
    (void)sig;
    uv_close((uv_handle_t *)p, (uv_close_cb)free);
}

int runtime_delete(struct runtime *rt, const char *id, struct err *err)
{
    struct runtime_ctr *c = runtime_ctr_find(rt, id);
    uv_process_options_t po;
    uv_stdio_container_t stdio[3];
    uv_process_t *p;
    char *state;
    char *path;
    char *args[9];
    bool exists;

    if (!runtime_id_is_valid(id))
        return err_set(err, ERR_INVALID, "invalid container ID %s", id);
    if (c && (c->running || c->starting))
        return err_set(err, ERR_CONFLICT,
                       "cannot delete container %s: it is running", id);
    path = xasprintf("%s/%s/%s", rt->state_root, id, MONITOR_EXITFILE);
    unlink(path);
    free(path);
    state = xasprintf("%s/%s", rt->runc_root, id);
    exists = fsutil_exists(state);
    free(state);
    if (!exists)
        return 0;
    /* The monitor deletes runc's state itself; this is for a monitor that
     * died (killed) with its container still there. */
    args[0] = rt->runc_bin;
    args[1] = (char *)"--root";
    args[2] = rt->runc_root;
    args[3] = (char *)"delete";
    args[4] = (char *)"--force";
    args[5] = (char *)id;
    args[6] = NULL;
    memset(&po, 0, sizeof(po));
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_IGNORE;
    stdio[2].flags = UV_IGNORE;
    po.file = rt->runc_bin;
    po.args = args;
    po.stdio = stdio;
    po.stdio_count = 3;
    po.exit_cb = runtime_delete_exit;
    p = xcalloc(1, sizeof(*p));
    if (uv_spawn(rt->loop, p, &po) != 0) {
        uv_close((uv_handle_t *)p, (uv_close_cb)free);
        return err_set(err, ERR_INTERNAL, "runc delete %s failed", id);
    }
    return 0;
}

int runtime_recover(struct runtime *rt, const char *id, pid_t *pid_out,
                    struct runtime_exit *ex, struct err *err)
{
    struct runtime_ctr *c;
    char *path;
    char *text = NULL;
    size_t len;
    struct err e2;

    if (!runtime_id_is_valid(id))
        return err_set(err, ERR_INVALID, "invalid container ID %s", id);
    c = runtime_ctr_get(rt, id);
    if (c->ctl || c->starting) {
        *pid_out = c->pid;
        return 1;
    }
    if (runtime_conn_open(c, NULL, &e2) != NULL) {
        path = xasprintf("%s/%s", c->cdir, MONITOR_INITPID);
        if (fsutil_read_all(path, 64, &text, &len, &e2) == 0)
            c->pid = (pid_t)atoi(text);
        free(text);
        free(path);
        c->running = true;
        *pid_out = c->pid;
        return 1;
    }
    runtime_read_exit(c->cdir, ex, rt->rec_finished,
                      sizeof(rt->rec_finished), rt->rec_error,
                      sizeof(rt->rec_error));
    runtime_ctr_maybe_free(c);
    *pid_out = 0;
    return 0;
}

/* ------------------------------------------------------------ attach */

struct runtime_attach *runtime_attach(struct runtime *rt, const char *id,
                                      const struct runtime_attach_opts *o,
                                      runtime_output_fn fn, void *data,
                                      struct err *err)
{
    struct runtime_ctr *c;
    struct runtime_attach *a;

    if (!runtime_id_is_valid(id)) {
        err_set(err, ERR_INVALID, "invalid container ID %s", id);
        return NULL;
    }
    c = runtime_ctr_get(rt, id);
    a = xcalloc(1, sizeof(*a));
    a->ctr = c;
    a->opts = *o;
    a->fn = fn;
    a->data = data;
    a->next = c->attaches;
    c->attaches = a;
    /* Running (or created and being started): connect now. Otherwise the
     * start connects it and waits for it. */
    if (c->ctl && (c->running || c->start_sent)) {
        if (runtime_conn_open(c, a, err) == NULL) {
            runtime_attach_close(a);
            return NULL;
        }
    }
    return a;
}

int runtime_attach_write(struct runtime_attach *a, const void *buf,
                         size_t len)
{
    const char *p = buf;
    size_t n;
    int rv;

    if (a->conn == NULL)
        return -ERR_IO;
    if (len == 0)
        return runtime_send(a->conn, 'I', NULL, 0);
    while (len > 0) {
        n = len > MONITOR_FRAME_MAX ? MONITOR_FRAME_MAX : len;
        rv = runtime_send(a->conn, 'I', p, n);
        if (rv != 0)
            return rv;
        p += n;
        len -= n;
    }
    return 0;
}

void runtime_attach_close(struct runtime_attach *a)
{
    struct runtime_ctr *c = a->ctr;
    struct runtime_attach **pp;

    a->fn = NULL;
    c->busy++;
    for (pp = &c->attaches; *pp; pp = &(*pp)->next)
        if (*pp == a) {
            *pp = a->next;
            break;
        }
    if (a->conn)
        runtime_conn_close(a->conn);
    if (a->waiting) {
        c->n_waiting--;
        runtime_ctr_send_start(c);
    }
    free(a);
    c->busy--;
    runtime_ctr_maybe_free(c);
}

/* ------------------------------------------------------------ exec */

static void runtime_exec_maybe_done(struct runtime_exec *x)
{
    struct runtime_exec **pp;
    struct runtime *rt = x->rt;

    if (!x->delivered && x->exited && x->eofs == 2) {
        x->delivered = true;
        if (!x->released && x->exit_fn)
            x->exit_fn(x->data, x->exit_code);
    }
    if (!x->released || x->n_open > 0)
        return;
    for (pp = &rt->execs; *pp; pp = &(*pp)->next)
        if (*pp == x) {
            *pp = x->next;
            break;
        }
    unlink(x->spec_path);
    unlink(x->pid_path);
    free(x->spec_path);
    free(x->pid_path);
    free(x);
    runtime_maybe_closed(rt);
}

static void runtime_exec_closed(uv_handle_t *h)
{
    struct runtime_exec *x = h->data;

    x->n_open--;
    runtime_exec_maybe_done(x);
}

static void runtime_exec_proc_exit(uv_process_t *p, int64_t status, int sig)
{
    struct runtime_exec *x = p->data;

    x->exited = true;
    x->exit_code = sig ? 128 + sig : (int)status;
    uv_close((uv_handle_t *)p, runtime_exec_closed);
    if (x->tty && !uv_is_closing((uv_handle_t *)&x->pipes[3]))
        uv_close((uv_handle_t *)&x->pipes[3], runtime_exec_closed);
    runtime_exec_maybe_done(x);
}

static void runtime_exec_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct runtime_exec *x = s->data;
    int stream = s == (uv_stream_t *)&x->pipes[1] ? 1 : 2;

    if (n > 0 && !x->released && x->out)
        x->out(x->data, stream, b->base, (size_t)n);
    free(b->base);
    if (n < 0) {
        uv_close((uv_handle_t *)s, runtime_exec_closed);
        x->eofs++;
        runtime_exec_maybe_done(x);
    }
}

struct runtime_exec *runtime_exec(struct runtime *rt, const char *id,
                                  const char *process_json, bool tty,
                                  runtime_output_fn out,
                                  runtime_exec_exit_fn exit_fn, void *data,
                                  struct err *err)
{
    struct runtime_ctr *c = runtime_ctr_find(rt, id);
    struct runtime_exec *x;
    uv_process_options_t po;
    uv_stdio_container_t stdio[4];
    char *args[20];
    unsigned char rnd[8];
    char tag[17];
    int n_stdio = tty ? 4 : 3;
    json_t *doc;
    char *text;
    int i = 0;
    int rv;

    if (c == NULL || !c->running) {
        err_set(err, ERR_CONFLICT, "Container %s is not running", id);
        return NULL;
    }
    x = xcalloc(1, sizeof(*x));
    x->rt = rt;
    x->out = out;
    x->exit_fn = exit_fn;
    x->data = data;
    x->tty = tty;
    ids_random(rnd, sizeof(rnd));
    for (i = 0; i < 8; i++)
        snprintf(tag + 2 * i, 3, "%02x", rnd[i]);
    x->spec_path = xasprintf("%s/exec-%s.json", c->cdir, tag);
    x->pid_path = xasprintf("%s/exec-%s.pid", c->cdir, tag);
    /* runc takes the terminal setting from the file, not from --tty */
    doc = json_loads(process_json, 0, NULL);
    text = json_is_object(doc) &&
                   json_object_set_new(doc, "terminal", json_boolean(tty)) ==
                       0
               ? json_dumps(doc, JSON_COMPACT)
               : NULL;
    json_decref(doc);
    if (text == NULL)
        rv = err_set(err, ERR_INVALID, "invalid exec process specification");
    else
        rv = fsutil_write_atomic(x->spec_path, text, strlen(text), 0600,
                                 err);
    free(text);
    if (rv != 0) {
        free(x->spec_path);
        free(x->pid_path);
        free(x);
        return NULL;
    }
    i = 0;
    /* tty: the helper holds the pty master, so that it can be resized */
    args[i++] = tty ? rt->monitor_bin : rt->runc_bin;
    if (tty) {
        args[i++] = (char *)"exec";
        args[i++] = (char *)"--runc";
        args[i++] = rt->runc_bin;
    }
    args[i++] = (char *)"--root";
    args[i++] = rt->runc_root;
    if (!tty) {
        args[i++] = (char *)"--log";
        args[i++] = (char *)"/dev/null";
        args[i++] = (char *)"exec";
    }
    args[i++] = (char *)"--process";
    args[i++] = x->spec_path;
    args[i++] = (char *)"--pid-file";
    args[i++] = x->pid_path;
    args[i++] = c->id;
    args[i] = NULL;
    for (i = 0; i < n_stdio; i++) {
        uv_pipe_init(rt->loop, &x->pipes[i], 0);
        x->pipes[i].data = x;
        x->n_open++;
        stdio[i].flags = UV_CREATE_PIPE |
                         (i == 0 || i == 3 ? UV_READABLE_PIPE
                                           : UV_WRITABLE_PIPE);
        stdio[i].data.stream = (uv_stream_t *)&x->pipes[i];
    }
    memset(&po, 0, sizeof(po));
    po.file = args[0];
    po.args = args;
    po.cwd = c->cdir;
    po.stdio = stdio;
    po.stdio_count = n_stdio;
    po.exit_cb = runtime_exec_proc_exit;
    x->next = rt->execs;
    rt->execs = x;
    rv = uv_spawn(rt->loop, &x->proc, &po);
    x->proc.data = x;
    x->n_open++;
    if (rv != 0) {
        err_set(err, ERR_INTERNAL, "runc exec: %s", uv_strerror(rv));
        x->released = true;
        x->delivered = true;
        uv_close((uv_handle_t *)&x->proc, runtime_exec_closed);
        for (i = 0; i < n_stdio; i++)
            uv_close((uv_handle_t *)&x->pipes[i], runtime_exec_closed);
        return NULL;
    }
    uv_read_start((uv_stream_t *)&x->pipes[1], runtime_alloc,
                  runtime_exec_read);
    uv_read_start((uv_stream_t *)&x->pipes[2], runtime_alloc,
                  runtime_exec_read);
    return x;
}

int runtime_exec_write(struct runtime_exec *x, const void *buf, size_t len)
{
    struct runtime_wreq *w;
    uv_buf_t b;

    if (x->released || uv_is_closing((uv_handle_t *)&x->pipes[0]))
        return -ERR_IO;
    if (len == 0) {
        uv_close((uv_handle_t *)&x->pipes[0], runtime_exec_closed);
        return 0;
    }
    w = xmalloc(sizeof(*w) + len);
    memcpy(w->data, buf, len);
    b = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&x->pipes[0], &b, 1,
                 runtime_write_done) != 0) {
        free(w);
        return -ERR_IO;
    }
    return 0;
}

int runtime_exec_resize(struct runtime_exec *x, unsigned rows,
                        unsigned cols)
{
    struct runtime_wreq *w;
    uv_buf_t b;

    if (rows > 65535 || cols > 65535)
        return -ERR_INVALID;
    if (!x->tty)
        return -ERR_CONFLICT;
    if (x->released || x->exited ||
        uv_is_closing((uv_handle_t *)&x->pipes[3]))
        return -ERR_IO;
    w = xmalloc(sizeof(*w) + 4);
    w->data[0] = (char)(rows >> 8);
    w->data[1] = (char)rows;
    w->data[2] = (char)(cols >> 8);
    w->data[3] = (char)cols;
    b = uv_buf_init(w->data, 4);
    if (uv_write(&w->req, (uv_stream_t *)&x->pipes[3], &b, 1,
                 runtime_write_done) != 0) {
        free(w);
        return -ERR_IO;
    }
    return 0;
}

pid_t runtime_exec_pid(const struct runtime_exec *x)
{
    char *text = NULL;
    size_t len;
    struct err err;
    pid_t pid = 0;

    if (fsutil_read_all(x->pid_path, 64, &text, &len, &err) == 0)
        pid = (pid_t)atoi(text);
    free(text);
    return pid;
}

void runtime_exec_kill(struct runtime_exec *x)
{
    pid_t pid;

    if (x->exited)
        return;
    /* runc exec waits for the process: while runc runs, the PID is its
     * unreaped child's, never a reused one */
    pid = runtime_exec_pid(x);
    if (pid > 0 && kill(pid, SIGKILL) == 0)
        return;
    uv_process_kill(&x->proc, SIGKILL);
}

void runtime_exec_release(struct runtime_exec *x)
{
    x->released = true;
    x->out = NULL;
    x->exit_fn = NULL;
    if (!uv_is_closing((uv_handle_t *)&x->pipes[0]))
        uv_close((uv_handle_t *)&x->pipes[0], runtime_exec_closed);
    if (x->tty && !uv_is_closing((uv_handle_t *)&x->pipes[3]))
        uv_close((uv_handle_t *)&x->pipes[3], runtime_exec_closed);
    runtime_exec_maybe_done(x);
}

/* ------------------------------------------------------------ lifecycle */

/* runc's absolute path from PATH (each exec of runc then skips the
 * search), or "runc" when not found (the exec reports it). */
static char *runtime_find_runc(void)
{
    const char *path = getenv("PATH");
    const char *p;
    const char *end;
    char *cand;

    for (p = path; p && *p; p = *end ? end + 1 : end) {
        end = strchrnul(p, ':');
        if (end == p || *p != '/')
            continue;
        cand = xasprintf("%.*s/runc", (int)(end - p), p);
        if (access(cand, X_OK) == 0)
            return cand;
        free(cand);
    }
    return xstrdup("runc");
}

static char *runtime_find_monitor(void)
{
    char exe[PATH_MAX];
    const char *env = getenv("SHOAL_MONITOR");
    ssize_t n;
    char *slash;

    if (env && env[0])
        return xstrdup(env);
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return xstrdup("shoal-monitor");
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash)
        slash[1] = '\0';
    return xasprintf("%sshoal-monitor", exe);
}

static void runtime_sigchld_closed(uv_handle_t *h)
{
    struct runtime *rt = container_of(h, struct runtime, sigchld);

    rt->n_handles--;
    runtime_maybe_closed(rt);
}

struct runtime *runtime_new(uv_loop_t *loop, const char *data_root,
                            struct err *err)
{
    struct runtime *rt;

    rt = xcalloc(1, sizeof(*rt));
    rt->loop = loop;
    rt->state_root = xasprintf("%s/containers", data_root);
    rt->runc_root = xasprintf("%s/runc", data_root);
    rt->monitor_bin = runtime_find_monitor();
    rt->runc_bin = runtime_find_runc();
    if (fsutil_mkdir_p(rt->state_root, 0710, err) != 0 ||
        fsutil_mkdir_p(rt->runc_root, 0700, err) != 0)
        goto fail;
    if (access(rt->monitor_bin, X_OK) != 0) {
        err_sys(err, ERR_INTERNAL, errno, "shoal-monitor at %s",
                rt->monitor_bin);
        goto fail;
    }
    uv_signal_init(loop, &rt->sigchld);
    uv_signal_start(&rt->sigchld, runtime_on_sigchld, SIGCHLD);
    uv_unref((uv_handle_t *)&rt->sigchld);
    rt->n_handles++;
    runtime_kids_reap();
    return rt;
fail:
    free(rt->state_root);
    free(rt->runc_root);
    free(rt->monitor_bin);
    free(rt->runc_bin);
    free(rt);
    return NULL;
}

void runtime_set_exit_cb(struct runtime *rt, runtime_exit_fn fn, void *data)
{
    rt->exit_fn = fn;
    rt->exit_data = data;
}

void runtime_close(struct runtime *rt, void (*cb)(void *data), void *data)
{
    struct runtime_ctr *c;
    struct runtime_ctr *next;
    struct runtime_exec *x;
    struct runtime_attach *a;
    struct err err;

    rt->closing = true;
    rt->n_handles++;    /* not freed before the end of this function */
    runtime_kids_reap();
    uv_close((uv_handle_t *)&rt->sigchld, runtime_sigchld_closed);
    rt->close_cb = cb;
    rt->close_data = data;
    err_set(&err, ERR_CANCELED, "the daemon is shutting down");
    for (x = rt->execs; x; x = x->next)
        if (!x->exited)
            uv_process_kill(&x->proc, SIGKILL);
    for (c = rt->ctrs; c; c = next) {
        next = c->next;
        if (c->starting)
            runtime_start_done(c, -ERR_CANCELED, &err, 0);
        while ((a = c->attaches) != NULL) {
            runtime_attach_end(a);
            c->attaches = a->next;
            if (a->conn)
                runtime_conn_close(a->conn);
            free(a);
        }
        c->n_waiting = 0;
        if (c->startup_open && !uv_is_closing((uv_handle_t *)&c->startup))
            uv_close((uv_handle_t *)&c->startup, runtime_startup_closed);
        if (c->ctl)
            runtime_conn_close(c->ctl);
        else
            runtime_ctr_maybe_free(c);
    }
    rt->n_handles--;
    runtime_maybe_closed(rt);
}

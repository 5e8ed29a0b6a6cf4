/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container processes with real runc on a busybox bundle: json-file log
 * and exit code, attach before start, stdin, tty and resize, signals,
 * exec, a daemon restart (close, reopen, recover: live and exited), the
 * create failure text, the monitor's resident size, start latency.
 * Needs root and runc; skipped otherwise.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <uv.h>

#include "base/buf.h"
#include "base/fsutil.h"
#include "base/ids.h"
#include "engine/runtime.h"

/* ------------------------------------------------------------ fixture */

struct fx
{
    char tmp[64];
    char root[128];
    uv_loop_t loop;
    uv_timer_t tick;
    struct runtime *rt;
    json_t *spec;          /* runc spec's template */
    int n_bundles;
};

/* What one container's callbacks saw. */
struct seen
{
    bool started;
    int start_status;
    char start_msg[ERR_MSG_LEN];
    pid_t pid;
    bool exited;
    struct runtime_exit ex;
    char error[ERR_MSG_LEN];
    struct buf out;
    struct buf err;
    bool ended;
    bool exec_exited;
    int exec_code;
    char id[65];
};

static struct seen *exits_of;   /* where the exit callback records */

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

/* Run the loop until *flag or ms elapsed (a bounded poll). */
static bool wait_flag(struct fx *f, const bool *flag, long ms)
{
    long end = now_ms() + ms;

    while (!*flag && now_ms() < end)
        uv_run(&f->loop, UV_RUN_ONCE);
    return *flag;
}

static bool wait_buf(struct fx *f, struct buf *b, const char *needle,
                     long ms)
{
    long end = now_ms() + ms;

    while ((b->data == NULL || strstr(b->data, needle) == NULL) &&
           now_ms() < end)
        uv_run(&f->loop, UV_RUN_ONCE);
    return b->data && strstr(b->data, needle);
}

static void on_exit_cb(void *data, const char *id,
                       const struct runtime_exit *ex)
{
    struct seen *s = exits_of;

    (void)data;
    if (s == NULL || strcmp(s->id, id) != 0)
        return;
    s->exited = true;
    s->ex = *ex;
    snprintf(s->error, sizeof(s->error), "%s", ex->error);
    s->ex.error = s->error;
    s->ex.finished_at = NULL;
}

static void on_started(void *data, int status, const struct err *err,
                       pid_t pid)
{
    struct seen *s = data;

    s->started = true;
    s->start_status = status;
    s->pid = pid;
    if (err)
        snprintf(s->start_msg, sizeof(s->start_msg), "%s", err->msg);
}

static void on_output(void *data, int stream, const char *b, size_t len)
{
    struct seen *s = data;

    if (stream == 0)
        s->ended = true;
    else
        buf_append(stream == 1 ? &s->out : &s->err, b, len);
}

static void on_exec_exit(void *data, int code)
{
    struct seen *s = data;

    s->exec_exited = true;
    s->exec_code = code;
}

static void seen_init(struct seen *s)
{
    memset(s, 0, sizeof(*s));
    buf_init(&s->out, 1 << 20);
    buf_init(&s->err, 1 << 20);
    exits_of = s;
}

static void seen_release(struct seen *s)
{
    buf_release(&s->out);
    buf_release(&s->err);
    if (exits_of == s)
        exits_of = NULL;
}

static int fx_setup(void **state)
{
    struct fx *f;
    char cmd[512];
    char exe[4096];
    char *mon;
    ssize_t n;
    struct err err;

    if (geteuid() != 0 || system("runc --version >/dev/null 2>&1") != 0 ||
        access("/bin/busybox", X_OK) != 0) {
        print_message("needs root, runc and /bin/busybox: skipped\n");
        *state = NULL;
        return 0;
    }
    f = calloc(1, sizeof(*f));
    snprintf(f->tmp, sizeof(f->tmp), "/tmp/shoal-rt.XXXXXX");
    assert_non_null(mkdtemp(f->tmp));
    snprintf(f->root, sizeof(f->root), "%s/root", f->tmp);
    /* busybox rootfs, like lib.sh's busybox_tar */
    snprintf(cmd, sizeof(cmd),
             "set -e; r=%s/rootfs; mkdir -p $r/bin $r/etc $r/tmp $r/root;"
             " cp /bin/busybox $r/bin/; for a in $(/bin/busybox --list); do"
             " [ $a = busybox ] || ln -sf busybox $r/bin/$a; done;"
             " echo 'root:x:0:0:root:/root:/bin/sh' >$r/etc/passwd;"
             " cd %s && runc spec",
             f->tmp, f->tmp);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "%s/config.json", f->tmp);
    f->spec = json_load_file(cmd, 0, NULL);
    assert_non_null(f->spec);
    /* the monitor next to the build's shoal: <build>/tests/unit/engine/ */
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    *strrchr(exe, '/') = '\0';
    mon = NULL;
    assert_true(asprintf(&mon, "%s/../../../shoal-monitor", exe) > 0);
    setenv("SHOAL_MONITOR", mon, 1);
    free(mon);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    uv_timer_init(&f->loop, &f->tick);
    uv_timer_start(&f->tick, on_tick, 10, 10);
    f->rt = runtime_new(&f->loop, f->root, &err);
    if (f->rt == NULL)
        fail_msg("runtime_new: %s", err.msg);
    runtime_set_exit_cb(f->rt, on_exit_cb, NULL);
    *state = f;
    return 0;
}

static void on_closed(void *data)
{
    *(bool *)data = true;
}

static void fx_close_runtime(struct fx *f)
{
    bool closed = false;

    runtime_close(f->rt, on_closed, &closed);
    assert_true(wait_flag(f, &closed, 5000));
    f->rt = NULL;
}

/* Zombie children of this process (monitors it spawned, not reaped). */
static int fx_zombies(void)
{
    char cmd[160];
    FILE *fp;
    int n = 0;

    snprintf(cmd, sizeof(cmd),
             "ps -o ppid=,stat= -e | awk '$1 == %d && $2 ~ /^Z/' | wc -l",
             (int)getpid());
    fp = popen(cmd, "r");
    if (fp == NULL || fscanf(fp, "%d", &n) != 1)
        n = -1;
    if (fp)
        pclose(fp);
    return n;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    char cmd[1024];
    long end;

    if (f == NULL)
        return 0;
    /* the runtime reaps the monitors it spawned: none stays a zombie */
    end = now_ms() + 3000;
    while (f->rt && fx_zombies() != 0 && now_ms() < end)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(fx_zombies(), 0);
    if (f->rt)
        fx_close_runtime(f);
    uv_close((uv_handle_t *)&f->tick, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    /* nothing may be left: a leftover is a failure, cleaned anyway */
    snprintf(cmd, sizeof(cmd),
             "n=0; for p in %s/containers/*/monitor.pid; do [ -f $p ] ||"
             " continue; k=$(cat $p 2>/dev/null) && kill -9 $k; n=1; done;"
             " for c in $(runc --root %s/runc list -q 2>/dev/null); do"
             " runc --root %s/runc delete -f $c; n=1; done;"
             " rm -rf %s; exit $n",
             f->root, f->root, f->root, f->tmp);
    assert_int_equal(system(cmd), 0);
    json_decref(f->spec);
    free(f);
    return 0;
}

/* ------------------------------------------------------------ helpers */

/* A bundle running args (NULL-terminated); fills id, returns the bundle
 * directory (static buffer). */
static const char *fx_bundle(struct fx *f, bool tty, char id[65], ...)
{
    static char dir[256];
    char path[320];
    unsigned char rnd[32];
    json_t *spec = json_deep_copy(f->spec);
    json_t *args = json_array();
    json_t *proc = json_object_get(spec, "process");
    const char *a;
    va_list ap;
    int i;

    va_start(ap, id);
    while ((a = va_arg(ap, const char *)) != NULL)
        json_array_append_new(args, json_string(a));
    va_end(ap);
    json_object_set_new(proc, "args", args);
    json_object_set_new(proc, "terminal", json_boolean(tty));
    snprintf(path, sizeof(path), "%s/rootfs", f->tmp);
    json_object_set_new(json_object_get(spec, "root"), "path",
                        json_string(path));
    snprintf(dir, sizeof(dir), "%s/b%d", f->tmp, f->n_bundles++);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/config.json", dir);
    assert_int_equal(json_dump_file(spec, path, 0), 0);
    json_decref(spec);
    ids_random(rnd, sizeof(rnd));
    for (i = 0; i < 32; i++)
        snprintf(id + 2 * i, 3, "%02x", rnd[i]);
    snprintf(path, sizeof(path), "%s/containers/%s", f->root, id);
    assert_int_equal(mkdir(path, 0700), 0);
    return dir;
}

static void fx_start(struct fx *f, struct seen *s, const char *bundle,
                     bool tty, bool in)
{
    char log[320];
    struct runtime_start_opts o;
    struct err err;

    snprintf(log, sizeof(log), "%s/containers/%s/%s-json.log", f->root,
             s->id, s->id);
    o.id = s->id;
    o.bundle = bundle;
    o.log_path = log;
    o.tty = tty;
    o.open_stdin = in;
    if (runtime_start(f->rt, &o, on_started, s, &err) != 0)
        fail_msg("runtime_start: %s", err.msg);
}

static void fx_assert_started(struct fx *f, struct seen *s)
{
    assert_true(wait_flag(f, &s->started, 10000));
    if (s->start_status != 0)
        fail_msg("start: %s", s->start_msg);
    assert_true(s->pid > 0);
}

static char *fx_read(struct fx *f, const char *id, const char *name)
{
    char path[320];
    char *text = NULL;
    size_t len;
    struct err err;

    snprintf(path, sizeof(path), "%s/containers/%s/%s", f->root, id, name);
    if (fsutil_read_all(path, 1 << 20, &text, &len, &err) != 0)
        return NULL;
    return text;
}

/* No monitor, runc state or pid files left for id (the monitor removes
 * its pid file last, just after telling its clients). */
static void fx_assert_gone(struct fx *f, const char *id)
{
    char path[320];
    long end = now_ms() + 2000;

    snprintf(path, sizeof(path), "%s/containers/%s/monitor.pid", f->root, id);
    while (fsutil_exists(path) && now_ms() < end)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_false(fsutil_exists(path));
    snprintf(path, sizeof(path), "%s/runc/%s", f->root, id);
    assert_false(fsutil_exists(path));
    snprintf(path, sizeof(path), "%s/containers/%s/monitor.sock", f->root,
             id);
    assert_false(fsutil_exists(path));
}

/* ------------------------------------------------------------ tests */

static void test_log_streams_exit_code(void **state)
{
    struct fx *f = *state;
    struct seen s;
    struct runtime_attach_opts ao = { .out = true, .err = true };
    struct runtime_attach *a;
    const char *b;
    char name[80];
    char *log;
    char *nl;
    json_t *l1;
    json_t *l2;

    if (f == NULL)
        skip();
    seen_init(&s);
    b = fx_bundle(f, false, s.id, "sh", "-c", "echo hi; echo err >&2; exit 3",
                  NULL);
    a = runtime_attach(f->rt, s.id, &ao, on_output, &s, NULL);
    assert_non_null(a);
    fx_start(f, &s, b, false, false);
    fx_assert_started(f, &s);
    assert_true(wait_flag(f, &s.exited, 10000));
    assert_int_equal(s.ex.exit_code, 3);
    assert_string_equal(s.ex.error, "");
    /* the attach, connected before the start, saw everything */
    assert_true(wait_flag(f, &s.ended, 5000));
    assert_string_equal(s.out.data, "hi\n");
    assert_string_equal(s.err.data, "err\n");
    runtime_attach_close(a);
    snprintf(name, sizeof(name), "%s-json.log", s.id);
    log = fx_read(f, s.id, name);
    assert_non_null(log);
    nl = strchr(log, '\n');
    assert_non_null(nl);
    l1 = json_loadb(log, (size_t)(nl - log), 0, NULL);
    l2 = json_loads(nl + 1, JSON_DISABLE_EOF_CHECK, NULL);
    assert_non_null(l1);
    assert_non_null(l2);
    assert_string_equal(json_string_value(json_object_get(l1, "log")), "hi\n");
    assert_string_equal(json_string_value(json_object_get(l1, "stream")),
                        "stdout");
    assert_string_equal(json_string_value(json_object_get(l2, "log")),
                        "err\n");
    assert_string_equal(json_string_value(json_object_get(l2, "stream")),
                        "stderr");
    assert_non_null(strstr(json_string_value(json_object_get(l1, "time")),
                           "Z"));
    assert_int_equal(json_object_size(l1), 3);
    json_decref(l1);
    json_decref(l2);
    free(log);
    fx_assert_gone(f, s.id);
    assert_int_equal(runtime_delete(f->rt, s.id, NULL), 0);
    seen_release(&s);
}

/* No attach before the start: the monitor runs `runc run --detach`; a
 * container that is done before runc is still logged and its exit code
 * kept (the init is reaped before its PID is known). */
static void test_run_without_attach(void **state)
{
    struct fx *f = *state;
    struct seen s;
    const char *b;
    char name[80];
    char *log;
    json_t *l1;

    if (f == NULL)
        skip();
    seen_init(&s);
    b = fx_bundle(f, false, s.id, "sh", "-c", "echo fast; exit 4", NULL);
    fx_start(f, &s, b, false, false);
    fx_assert_started(f, &s);
    assert_true(wait_flag(f, &s.exited, 10000));
    assert_int_equal(s.ex.exit_code, 4);
    assert_false(s.ex.oom_killed);
    assert_string_equal(s.ex.error, "");
    snprintf(name, sizeof(name), "%s-json.log", s.id);
    log = fx_read(f, s.id, name);
    assert_non_null(log);
    l1 = json_loads(log, JSON_DISABLE_EOF_CHECK, NULL);
    assert_non_null(l1);
    assert_string_equal(json_string_value(json_object_get(l1, "log")),
                        "fast\n");
    json_decref(l1);
    free(log);
    fx_assert_gone(f, s.id);
    seen_release(&s);
}

/* The bundle's memory limit (bytes, swap included) and cgroupsPath
 * "/shoal/<id>", as the engine writes them. */
static void fx_bundle_memory(const char *bundle, const char *id, long limit)
{
    char path[320];
    char cg[128];
    json_t *spec;
    json_t *lin;
    json_t *mem;

    snprintf(path, sizeof(path), "%s/config.json", bundle);
    spec = json_load_file(path, 0, NULL);
    assert_non_null(spec);
    lin = json_object_get(spec, "linux");
    snprintf(cg, sizeof(cg), "/shoal/%s", id);
    json_object_set_new(lin, "cgroupsPath", json_string(cg));
    mem = json_pack("{s:I}", "limit", (json_int_t)limit);
    if (access("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", F_OK) ==
        0)
        json_object_set_new(mem, "swap", json_integer(limit));
    json_object_set_new(json_object_get(lin, "resources"), "memory", mem);
    assert_int_equal(json_dump_file(spec, path, 0), 0);
    json_decref(spec);
}

/* Docker's State.OOMKilled: the kernel killed a process of the container's
 * memory cgroup; a container that merely exits 137 is not OOM-killed. */
static void test_oom_killed(void **state)
{
    struct fx *f = *state;
    struct seen s;
    struct err err;
    const char *b;

    if (f == NULL)
        skip();
    seen_init(&s);
    b = fx_bundle(f, false, s.id, "sh", "-c", "head -c 64m /dev/zero | tail",
                  NULL);
    fx_bundle_memory(b, s.id, 8L << 20);
    fx_start(f, &s, b, false, false);
    fx_assert_started(f, &s);
    assert_true(wait_flag(f, &s.exited, 20000));
    assert_int_equal(s.ex.exit_code, 137);
    assert_true(s.ex.oom_killed);
    fx_assert_gone(f, s.id);
    seen_release(&s);
    /* same limit, killed by a signal: not an OOM kill */
    seen_init(&s);
    b = fx_bundle(f, false, s.id, "sleep", "100", NULL);
    fx_bundle_memory(b, s.id, 8L << 20);
    fx_start(f, &s, b, false, false);
    fx_assert_started(f, &s);
    assert_int_equal(runtime_signal(f->rt, s.id, SIGKILL, &err), 0);
    assert_true(wait_flag(f, &s.exited, 5000));
    assert_int_equal(s.ex.exit_code, 137);
    assert_false(s.ex.oom_killed);
    fx_assert_gone(f, s.id);
    seen_release(&s);
}

static void test_stdin_through_attach(void **state)
{
    struct fx *f = *state;
    struct seen s;
    struct runtime_attach_opts ao = { .in = true, .out = true, .err = true };
    struct runtime_attach *a;
    const char *b;

    if (f == NULL)
        skip();
    seen_init(&s);
    b = fx_bundle(f, false, s.id, "cat", NULL);
    a = runtime_attach(f->rt, s.id, &ao, on_output, &s, NULL);
    fx_start(f, &s, b, false, true);
    fx_assert_started(f, &s);
    assert_int_equal(runtime_attach_write(a, "ping\n", 5), 0);
    assert_true(wait_buf(f, &s.out, "ping\n", 5000));
    assert_int_equal(runtime_attach_write(a, NULL, 0), 0);
    assert_true(wait_flag(f, &s.exited, 5000));
    assert_int_equal(s.ex.exit_code, 0);
    runtime_attach_close(a);
    fx_assert_gone(f, s.id);
    seen_release(&s);
}

static void test_tty_resize(void **state)
{
    struct fx *f = *state;
    struct seen s;
    struct runtime_attach_opts ao = { .in = true, .out = true, .err = true };
    struct runtime_attach *a;
    const char *b;
    struct err err;

    if (f == NULL)
        skip();
    seen_init(&s);
    b = fx_bundle(f, true, s.id, "sh", "-c",
                  "[ -t 0 ] && echo is-a-tty; read x; stty size; exit 5",
                  NULL);
    a = runtime_attach(f->rt, s.id, &ao, on_output, &s, NULL);
    fx_start(f, &s, b, true, true);
    fx_assert_started(f, &s);
    assert_true(wait_buf(f, &s.out, "is-a-tty", 5000));
    if (runtime_resize(f->rt, s.id, 33, 101, &err) != 0)
        fail_msg("resize: %s", err.msg);
    assert_int_equal(runtime_attach_write(a, "go\n", 3), 0);
    assert_true(wait_buf(f, &s.out, "33 101", 5000));
    assert_true(wait_flag(f, &s.exited, 5000));
    assert_int_equal(s.ex.exit_code, 5);
    assert_int_equal(s.err.len, 0);  /* a tty has one stream */
    runtime_attach_close(a);
    fx_assert_gone(f, s.id);
    seen_release(&s);
}

static void test_signals(void **state)
{
    struct fx *f = *state;
    struct seen s;
    struct runtime_attach_opts ao = { .out = true };
    struct runtime_attach *a;
    const char *b;
    struct err err;

    if (f == NULL)
        skip();
    seen_init(&s);
    b = fx_bundle(f, false, s.id, "sh", "-c",
                  "trap 'kill $p; exit 143' TERM; sleep 100 & p=$!; "
                  "echo ready; wait",
                  NULL);
    a = runtime_attach(f->rt, s.id, &ao, on_output, &s, NULL);
    fx_start(f, &s, b, false, false);
    fx_assert_started(f, &s);
    assert_true(wait_buf(f, &s.out, "ready", 5000));
    if (runtime_signal(f->rt, s.id, SIGTERM, &err) != 0)
        fail_msg("signal: %s", err.msg);
    assert_true(wait_flag(f, &s.exited, 5000));
    assert_int_equal(s.ex.exit_code, 143);
    runtime_attach_close(a);
    seen_release(&s);
    /* SIGKILL: 137; and a stopped container cannot be signalled */
    seen_init(&s);
    b = fx_bundle(f, false, s.id, "sleep", "100", NULL);
    fx_start(f, &s, b, false, false);
    fx_assert_started(f, &s);
    assert_int_equal(runtime_signal(f->rt, s.id, SIGKILL, &err), 0);
    assert_true(wait_flag(f, &s.exited, 5000));
    assert_int_equal(s.ex.exit_code, 137);
    assert_int_equal(runtime_signal(f->rt, s.id, SIGKILL, &err),
                     -ERR_CONFLICT);
    fx_assert_gone(f, s.id);
    seen_release(&s);
}

static long fx_rss_kb(struct fx *f, const char *id)
{
    char *pid = fx_read(f, id, "monitor.pid");
    char path[64];
    char line[256];
    FILE *fp;
    long kb = -1;

    assert_non_null(pid);
    snprintf(path, sizeof(path), "/proc/%d/status", atoi(pid));
    free(pid);
    fp = fopen(path, "r");
    assert_non_null(fp);
    while (fgets(line, sizeof(line), fp))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = atol(line + 6);
    fclose(fp);
    return kb;
}

static void test_exec_and_monitor_rss(void **state)
{
    struct fx *f = *state;
    struct seen s;
    struct seen x;
    struct runtime_exec *e;
    const char *b;
    struct err err;
    long kb;

    if (f == NULL)
        skip();
    seen_init(&s);
    b = fx_bundle(f, false, s.id, "sleep", "100", NULL);
    fx_start(f, &s, b, false, false);
    fx_assert_started(f, &s);
    kb = fx_rss_kb(f, s.id);
    print_message("monitor VmRSS %ld kB\n", kb);
    assert_true(kb > 0 && kb < 1024);
    memset(&x, 0, sizeof(x));
    buf_init(&x.out, 1 << 16);
    buf_init(&x.err, 1 << 16);
    e = runtime_exec(f->rt, s.id,
                     "{\"args\":[\"sh\",\"-c\",\"echo out; echo err >&2; "
                     "exit 7\"],\"cwd\":\"/\",\"env\":[\"PATH=/bin\"],"
                     "\"user\":{\"uid\":0,\"gid\":0}}",
                     false, on_output, on_exec_exit, &x, &err);
    if (e == NULL)
        fail_msg("exec: %s", err.msg);
    assert_true(wait_flag(f, &x.exec_exited, 10000));
    assert_int_equal(x.exec_code, 7);
    assert_string_equal(x.out.data, "out\n");
    assert_string_equal(x.err.data, "err\n");
    runtime_exec_release(e);
    assert_int_equal(runtime_signal(f->rt, s.id, SIGKILL, &err), 0);
    assert_true(wait_flag(f, &s.exited, 5000));
    assert_int_equal(s.ex.exit_code, 137);
    fx_assert_gone(f, s.id);
    buf_release(&x.out);
    buf_release(&x.err);
    seen_release(&s);
}

/* A tty exec: its output through the pty the helper holds, and a resize
 * seen by `stty size` inside; a non-tty exec cannot be resized. */
static void test_exec_tty_resize(void **state)
{
    struct fx *f = *state;
    struct seen s;
    struct seen x;
    struct runtime_exec *e;
    const char *b;
    struct err err;

    if (f == NULL)
        skip();
    seen_init(&s);
    b = fx_bundle(f, false, s.id, "sleep", "100", NULL);
    fx_start(f, &s, b, false, false);
    fx_assert_started(f, &s);
    memset(&x, 0, sizeof(x));
    buf_init(&x.out, 1 << 16);
    buf_init(&x.err, 1 << 16);
    e = runtime_exec(f->rt, s.id,
                     "{\"args\":[\"sh\",\"-c\",\"[ -t 1 ] && echo is-a-tty; "
                     "read x; stty size; exit 6\"],\"cwd\":\"/\","
                     "\"env\":[\"PATH=/bin\"],\"user\":{\"uid\":0,\"gid\":0}}",
                     true, on_output, on_exec_exit, &x, &err);
    if (e == NULL)
        fail_msg("exec: %s", err.msg);
    assert_true(wait_buf(f, &x.out, "is-a-tty", 10000));
    assert_int_equal(runtime_exec_resize(e, 42, 123), 0);
    assert_int_equal(runtime_exec_resize(e, 70000, 1), -ERR_INVALID);
    assert_int_equal(runtime_exec_write(e, "go\n", 3), 0);
    assert_true(wait_buf(f, &x.out, "42 123", 5000));
    assert_true(wait_flag(f, &x.exec_exited, 5000));
    assert_int_equal(x.exec_code, 6);
    assert_int_equal(x.err.len, 0);
    runtime_exec_release(e);
    buf_reset(&x.out);
    x.exec_exited = false;
    e = runtime_exec(f->rt, s.id,
                     "{\"args\":[\"true\"],\"cwd\":\"/\","
                     "\"env\":[\"PATH=/bin\"],\"user\":{\"uid\":0,\"gid\":0}}",
                     false, on_output, on_exec_exit, &x, &err);
    assert_non_null(e);
    assert_int_equal(runtime_exec_resize(e, 42, 123), -ERR_CONFLICT);
    assert_true(wait_flag(f, &x.exec_exited, 10000));
    assert_int_equal(x.exec_code, 0);
    runtime_exec_release(e);
    assert_int_equal(runtime_signal(f->rt, s.id, SIGKILL, &err), 0);
    assert_true(wait_flag(f, &s.exited, 5000));
    fx_assert_gone(f, s.id);
    buf_release(&x.out);
    buf_release(&x.err);
    seen_release(&s);
}

static void test_recover_after_restart(void **state)
{
    struct fx *f = *state;
    struct seen live;
    struct seen dead;
    struct runtime_exit ex;
    const char *b;
    struct err err;
    pid_t pid = 0;
    long end;
    char path[320];

    if (f == NULL)
        skip();
    seen_init(&dead);
    b = fx_bundle(f, false, dead.id, "sleep", "100", NULL);
    fx_start(f, &dead, b, false, false);
    fx_assert_started(f, &dead);
    seen_init(&live);
    b = fx_bundle(f, false, live.id, "sleep", "100", NULL);
    fx_start(f, &live, b, false, false);
    fx_assert_started(f, &live);
    /* "restart" the daemon: close, the containers keep running */
    fx_close_runtime(f);
    assert_int_equal(kill(live.pid, 0), 0);
    /* one exits while no daemon listens */
    assert_int_equal(kill(dead.pid, SIGKILL), 0);
    snprintf(path, sizeof(path), "%s/containers/%s/monitor.pid", f->root,
             dead.id);
    end = now_ms() + 5000;
    while (fsutil_exists(path) && now_ms() < end)
        uv_run(&f->loop, UV_RUN_ONCE);
    f->rt = runtime_new(&f->loop, f->root, &err);
    assert_non_null(f->rt);
    runtime_set_exit_cb(f->rt, on_exit_cb, NULL);
    assert_int_equal(runtime_recover(f->rt, dead.id, &pid, &ex, &err), 0);
    assert_int_equal(ex.exit_code, 137);
    assert_string_equal(ex.error, "");
    assert_non_null(strchr(ex.finished_at, 'Z'));
    fx_assert_gone(f, dead.id);
    assert_int_equal(runtime_delete(f->rt, dead.id, &err), 0);
    assert_int_equal(runtime_recover(f->rt, live.id, &pid, &ex, &err), 1);
    assert_int_equal(pid, live.pid);
    exits_of = &live;
    assert_int_equal(runtime_signal(f->rt, live.id, SIGKILL, &err), 0);
    assert_true(wait_flag(f, &live.exited, 5000));
    assert_int_equal(live.ex.exit_code, 137);
    fx_assert_gone(f, live.id);
    seen_release(&live);
    seen_release(&dead);
}

/* kill -9 of the daemon (a forked child running a runtime): the container
 * and its monitor live on, in their own session, and are recovered. */
static void test_survives_daemon_kill(void **state)
{
    struct fx *f = *state;
    struct seen s;
    struct runtime_exit ex;
    struct err err;
    const char *b;
    char *text;
    pid_t daemon;
    pid_t pid = 0;
    pid_t mon;
    int p[2];
    int st;

    if (f == NULL)
        skip();
    seen_init(&s);
    b = fx_bundle(f, false, s.id, "sleep", "100", NULL);
    assert_int_equal(pipe(p), 0);
    daemon = fork();
    assert_true(daemon >= 0);
    if (daemon == 0) {
        uv_loop_t loop;
        struct runtime *rt;
        char log[320];
        struct runtime_start_opts o = { .id = s.id, .bundle = b,
                                        .log_path = log };

        snprintf(log, sizeof(log), "%s/containers/%s/log", f->root, s.id);
        uv_loop_init(&loop);
        rt = runtime_new(&loop, f->root, &err);
        if (rt == NULL || runtime_start(rt, &o, on_started, &s, &err) != 0)
            _exit(1);
        while (!s.started)
            uv_run(&loop, UV_RUN_ONCE);
        if (write(p[1], &s.pid, sizeof(s.pid)) != sizeof(s.pid))
            _exit(1);
        for (;;)
            pause();
    }
    close(p[1]);
    assert_int_equal(read(p[0], &pid, sizeof(pid)), sizeof(pid));
    close(p[0]);
    assert_true(pid > 0);
    assert_int_equal(kill(daemon, SIGKILL), 0);
    assert_int_equal(waitpid(daemon, &st, 0), daemon);
    text = fx_read(f, s.id, "monitor.pid");
    assert_non_null(text);
    mon = (pid_t)atoi(text);
    free(text);
    assert_int_equal(kill(mon, 0), 0);
    assert_int_equal(kill(pid, 0), 0);
    assert_int_equal(runtime_recover(f->rt, s.id, &pid, &ex, &err), 1);
    assert_int_equal(runtime_signal(f->rt, s.id, SIGKILL, &err), 0);
    assert_true(wait_flag(f, &s.exited, 5000));
    assert_int_equal(s.ex.exit_code, 137);
    fx_assert_gone(f, s.id);
    seen_release(&s);
}

static void test_create_failure_message(void **state)
{
    struct fx *f = *state;
    struct seen s;
    const char *b;

    if (f == NULL)
        skip();
    seen_init(&s);
    b = fx_bundle(f, false, s.id, "nosuch", NULL);
    fx_start(f, &s, b, false, false);
    assert_true(wait_flag(f, &s.started, 10000));
    assert_int_equal(s.start_status, -ERR_INTERNAL);
    assert_string_equal(
        s.start_msg,
        "failed to create task for container: failed to create shim task: "
        "OCI runtime create failed: runc create failed: unable to start "
        "container process: exec: \"nosuch\": executable file not found in "
        "$PATH: unknown");
    assert_false(s.exited);
    fx_assert_gone(f, s.id);
    seen_release(&s);
}

/* The daemon dies between create and start (here: there is none, the
 * monitor is run by hand): the monitor gives up at its deadline, kills
 * the created container and records why. */
static void test_start_deadline(void **state)
{
    struct fx *f = *state;
    char id[65];
    char cdir[320];
    char runc_root[320];
    char log[400];
    char line[256];
    const char *b;
    char *text;
    json_t *ex;
    int p[2];
    int st;
    ssize_t n;
    pid_t mon;
    long end;

    if (f == NULL)
        skip();
    b = fx_bundle(f, false, id, "sleep", "100", NULL);
    snprintf(cdir, sizeof(cdir), "%s/containers/%s", f->root, id);
    snprintf(runc_root, sizeof(runc_root), "%s/runc", f->root);
    snprintf(log, sizeof(log), "%s/%s-json.log", cdir, id);
    assert_int_equal(pipe(p), 0);
    mon = fork();
    assert_true(mon >= 0);
    if (mon == 0) {
        if (chdir(cdir) != 0 || dup2(p[1], 1) == -1)
            _exit(127);
        setenv("SHOAL_MONITOR_START_TIMEOUT_MS", "300", 1);
        execl(getenv("SHOAL_MONITOR"), "shoal-monitor", "--runc", "runc",
              "--root", runc_root, "--bundle", b, "--log", log, id,
              (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    n = read(p[0], line, sizeof(line) - 1);
    close(p[0]);
    assert_true(n > 3);
    line[n] = '\0';
    assert_memory_equal(line, "ok ", 3);
    /* created, never started: then given up */
    end = now_ms() + 10000;
    while ((text = fx_read(f, id, "exit.json")) == NULL && now_ms() < end)
        usleep(20000);
    assert_non_null(text);
    ex = json_loads(text, 0, NULL);
    assert_non_null(ex);
    assert_string_equal(json_string_value(json_object_get(ex, "Error")),
                        "container start timed out");
    assert_int_equal(json_integer_value(json_object_get(ex, "ExitCode")),
                     128);
    json_decref(ex);
    free(text);
    assert_int_equal(waitpid(mon, &st, 0), mon);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    fx_assert_gone(f, id);
}

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* One runtime_start to its started callback, in microseconds. */
static double fx_time_start(struct fx *f)
{
    struct seen s;
    struct err err;
    const char *b;
    double t0;
    double dt;

    seen_init(&s);
    b = fx_bundle(f, false, s.id, "sleep", "100", NULL);
    t0 = now_us();
    fx_start(f, &s, b, false, false);
    fx_assert_started(f, &s);
    dt = now_us() - t0;
    assert_int_equal(runtime_signal(f->rt, s.id, SIGKILL, &err), 0);
    assert_true(wait_flag(f, &s.exited, 5000));
    seen_release(&s);
    return dt;
}

/* One `runc run --detach` of a like bundle, in microseconds. Its init,
 * orphaned by runc, comes to this process (a subreaper meanwhile), which
 * reaps it: no zombie left to PID 1. */
static double fx_time_runc(struct fx *f, int i)
{
    char id[65];
    char cmd[1024];
    char pidf[320];
    char *text;
    size_t len;
    struct err err;
    const char *b;
    double t0;
    double dt;
    pid_t pid;

    b = fx_bundle(f, false, id, "sleep", "100", NULL);
    snprintf(pidf, sizeof(pidf), "%s/lat%d.pid", f->tmp, i);
    snprintf(cmd, sizeof(cmd),
             "runc --root %s/runc run --detach --pid-file %s --bundle %s "
             "lat%d </dev/null >/dev/null 2>&1",
             f->root, pidf, b, i);
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    t0 = now_us();
    assert_int_equal(system(cmd), 0);
    dt = now_us() - t0;
    assert_int_equal(fsutil_read_all(pidf, 64, &text, &len, &err), 0);
    pid = (pid_t)atoi(text);
    free(text);
    snprintf(cmd, sizeof(cmd), "runc --root %s/runc delete -f lat%d",
             f->root, i);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
    return dt;
}

/* Start-to-running latency against `runc run --detach`, printed (the
 * issue's goal: within 1.3x); turns alternate which goes first. */
static void test_start_latency(void **state)
{
    struct fx *f = *state;
    double shoal[9];
    double runc[9];
    double shoal_sum = 0;
    double runc_sum = 0;
    const int runs = 9;
    int i;

    if (f == NULL)
        skip();
    for (i = 0; i < runs; i++) {
        if (i % 2 == 0) {
            shoal[i] = fx_time_start(f);
            runc[i] = fx_time_runc(f, i);
        } else {
            runc[i] = fx_time_runc(f, i);
            shoal[i] = fx_time_start(f);
        }
        shoal_sum += shoal[i];
        runc_sum += runc[i];
    }
    qsort(shoal, runs, sizeof(double), cmp_double);
    qsort(runc, runs, sizeof(double), cmp_double);
    print_message("start latency: runtime_start %.1f ms, runc run --detach "
                  "%.1f ms (mean of %d), ratio %.2f; medians %.1f, %.1f ms, "
                  "ratio %.2f\n",
                  shoal_sum / runs / 1000, runc_sum / runs / 1000, runs,
                  shoal_sum / runc_sum, shoal[runs / 2] / 1000,
                  runc[runs / 2] / 1000, shoal[runs / 2] / runc[runs / 2]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_log_streams_exit_code, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_run_without_attach, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_oom_killed, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_stdin_through_attach, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_tty_resize, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_signals, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_exec_and_monitor_rss, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_exec_tty_resize, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_recover_after_restart, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_survives_daemon_kill, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_create_failure_message, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_start_deadline, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_start_latency, fx_setup,
                                        fx_teardown),
    };

    return cmocka_run_group_tests_name("engine/runtime", tests, NULL, NULL);
}

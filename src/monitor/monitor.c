/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shoal-monitor: one per running container, libc only (its resident size
 * is the point). Runs runc create as a child subreaper so that the
 * container's init becomes its child, holds the container's stdio (pipes,
 * or the pty master runc hands over --console-socket), writes Docker's
 * json-file log, serves attach clients (monitor.h), starts the container
 * on request, and on the init's exit deletes runc's state, records the exit
 * in exit.json and exits. With --run it runs `runc run --detach` at once
 * (no attach client to wait for: one runc process fewer).
 *
 * usage: shoal-monitor --runc PATH --root RUNC_ROOT --bundle DIR
 *                      --log FILE [--tty] [--stdin] [--run] ID
 * run in the container's directory, stdout a pipe for the startup line.
 *
 * A tty exec goes through the same binary (see monitor_exec_main):
 *   shoal-monitor exec --runc PATH --root DIR --process FILE
 *                      --pid-file FILE ID
 *
 * SHOAL_MONITOR_START_TIMEOUT_MS (tests only) shortens the wait for the
 * daemon: for its start request after create, and for its control client
 * before the exit is recorded (default MONITOR_START_TIMEOUT_MS).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "monitor/monitor.h"

#define MONITOR_MAX_CLIENTS 32
#define MONITOR_LINE_MAX 16384     /* Docker splits longer lines too */
#define MONITOR_STDIN_MAX (1 << 20)
#define MONITOR_DRAIN_MS 2000
#define MONITOR_CAPTURE_MAX 4096
#define MONITOR_START_TIMEOUT_MS 60000
#define MONITOR_EARLY_MAX 8
#define MONITOR_REAP_MS 1000

struct monitor_client
{
    int fd;                  /* -1: free slot */
    unsigned want;           /* MONITOR_WANT_*, 0 before hello */
    unsigned char hdr[MONITOR_HDR_LEN];
    size_t hdr_got;
    char *payload;           /* owned, plen bytes */
    uint32_t plen;
    uint32_t pgot;
};

struct monitor_line
{
    char buf[MONITOR_LINE_MAX];
    size_t len;
};

static struct
{
    const char *runc;
    const char *root;
    const char *bundle;
    const char *log_path;
    const char *id;
    bool tty;
    bool open_stdin;
    bool run;                 /* runc run --detach, no start request */
    char cwd[PATH_MAX];
    char memcg[PATH_MAX];     /* the init's memory cgroup directory */
    bool cgroup2;             /* memcg is a unified (v2) cgroup */
    long start_deadline;      /* CLOCK_MONOTONIC ms: start, control */
    bool ctl_seen;            /* a control client said hello */
    pid_t early_pid[MONITOR_EARLY_MAX];  /* reaped before init_pid known */
    int early_st[MONITOR_EARLY_MAX];
    int n_early;
    int sigfd;
    int lsock;
    int logfd;
    int out_fd;               /* stdout pipe, or the pty master */
    int err_fd;               /* stderr pipe; -1 with a tty */
    int in_fd;                /* stdin pipe's write end, the master, -1 */
    bool stdin_eof;           /* close in_fd once inq is written */
    pid_t init_pid;
    bool started;
    bool exited;
    int exit_code;
    char *inq;
    size_t inq_len;
    struct monitor_client cl[MONITOR_MAX_CLIENTS];
    struct monitor_line lines[2];
    char capture[MONITOR_CAPTURE_MAX + 1];
    size_t capture_len;
} M;

static char monitor_json[MONITOR_LINE_MAX * 6 + 256];

static int monitor_setup(void);

/* ------------------------------------------------------------ helpers */

static void monitor_die(const char *what)
{
    fprintf(stderr, "shoal-monitor %.12s: %s: %s\n", M.id ? M.id : "?",
            what, strerror(errno));
    exit(1);
}

static int monitor_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    ssize_t n;

    while (len > 0) {
        n = write(fd, p, len);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static long monitor_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Write path atomically: tmp, rename; durable: fsync the file before and
 * the directory after (not for files a reboot makes stale anyway). */
static int monitor_write_file(const char *path, const char *data,
                              size_t len, bool durable)
{
    char tmp[PATH_MAX];
    int fd;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1)
        return -1;
    if (monitor_write_all(fd, data, len) == -1 ||
        (durable && fsync(fd) == -1)) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    close(fd);
    if (rename(tmp, path) == -1)
        return -1;
    if (!durable)
        return 0;
    fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd != -1) {
        fsync(fd);
        close(fd);
    }
    return 0;
}

/* RFC 3339 with nanoseconds, trailing zeros trimmed (Go's RFC3339Nano). */
static void monitor_now(char *out, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    char frac[16];
    int i;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(frac, sizeof(frac), ".%09ld", ts.tv_nsec);
    for (i = 9; i > 0 && frac[i] == '0'; i--)
        frac[i] = '\0';
    if (i == 0)
        frac[0] = '\0';
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d%sZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, frac);
}

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid. */
static size_t monitor_utf8_len(const unsigned char *p, size_t n)
{
    size_t len;
    size_t i;
    uint32_t cp;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2;
        cp = p[0] & 0x1f;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3;
        cp = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/* JSON string body of p[0..n) into out (6n + 1 bytes suffice), escaped
 * like Docker's json-file: <, >, & and U+2028/9 as \u, invalid UTF-8 as
 * U+FFFD. Returns the length written. */
static size_t monitor_escape(char *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    size_t i = 0;
    size_t l;

    while (i < n) {
        unsigned char c = p[i];

        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c == '\n') {
            memcpy(out + o, "\\n", 2);
            o += 2;
        } else if (c == '\r') {
            memcpy(out + o, "\\r", 2);
            o += 2;
        } else if (c == '\t') {
            memcpy(out + o, "\\t", 2);
            o += 2;
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            o += (size_t)sprintf(out + o, "\\u%04x", c);
        } else if (c < 0x80) {
            out[o++] = (char)c;
        } else {
            l = monitor_utf8_len(p + i, n - i);
            if (l == 0) {
                memcpy(out + o, "\\ufffd", 6);
                o += 6;
                i++;
                continue;
            }
            if (l == 3 && c == 0xe2 && p[i + 1] == 0x80 &&
                (p[i + 2] == 0xa8 || p[i + 2] == 0xa9)) {
                o += (size_t)sprintf(out + o, "\\u202%c",
                                     p[i + 2] == 0xa8 ? '8' : '9');
            } else {
                memcpy(out + o, p + i, l);
                o += l;
            }
            i += l;
            continue;
        }
        i++;
    }
    out[o] = '\0';
    return o;
}

/* ------------------------------------------------------------ the log */

static void monitor_log_entry(int stream, const char *p, size_t n)
{
    char now[64];
    size_t o;

    if (M.logfd == -1 || n == 0)
        return;
    monitor_now(now, sizeof(now));
    o = (size_t)sprintf(monitor_json, "{\"log\":\"");
    o += monitor_escape(monitor_json + o, p, n);
    o += (size_t)sprintf(monitor_json + o,
                         "\",\"stream\":\"%s\",\"time\":\"%s\"}\n",
                         stream == 2 ? "stderr" : "stdout", now);
    if (monitor_write_all(M.logfd, monitor_json, o) == -1)
        fprintf(stderr, "shoal-monitor: write %s: %s\n", M.log_path,
                strerror(errno));
}

/* One entry per line; a line longer than MONITOR_LINE_MAX is split. */
static void monitor_log(int stream, const char *p, size_t n)
{
    struct monitor_line *l = &M.lines[stream == 2];
    const char *nl;
    size_t take;

    while (n > 0) {
        nl = memchr(p, '\n', n);
        take = nl ? (size_t)(nl - p) + 1 : n;
        if (take > sizeof(l->buf) - l->len)
            take = sizeof(l->buf) - l->len;
        memcpy(l->buf + l->len, p, take);
        l->len += take;
        p += take;
        n -= take;
        if (l->buf[l->len - 1] == '\n' || l->len == sizeof(l->buf)) {
            monitor_log_entry(stream, l->buf, l->len);
            l->len = 0;
        }
    }
}

static void monitor_log_flush(void)
{
    int s;

    for (s = 1; s <= 2; s++) {
        monitor_log_entry(s, M.lines[s == 2].buf, M.lines[s == 2].len);
        M.lines[s == 2].len = 0;
    }
}

/* ------------------------------------------------------------ clients */

static void monitor_client_drop(struct monitor_client *c)
{
    close(c->fd);
    free(c->payload);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

static void monitor_send(struct monitor_client *c, char type,
                         const void *data, size_t len)
{
    unsigned char hdr[MONITOR_HDR_LEN];
    struct iovec iov[2];
    ssize_t n;
    size_t left = MONITOR_HDR_LEN + len;
    int i = 0;

    hdr[0] = (unsigned char)type;
    hdr[1] = (unsigned char)(len >> 24);
    hdr[2] = (unsigned char)(len >> 16);
    hdr[3] = (unsigned char)(len >> 8);
    hdr[4] = (unsigned char)len;
    iov[0].iov_base = hdr;
    iov[0].iov_len = sizeof(hdr);
    iov[1].iov_base = (void *)data;
    iov[1].iov_len = len;
    /* Blocking with a send timeout: a client that stops reading for that
     * long is dropped rather than stalling the container's output. */
    while (left > 0) {
        n = writev(c->fd, iov + i, 2 - i);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1) {
            monitor_client_drop(c);
            return;
        }
        left -= (size_t)n;
        while (i < 2 && (size_t)n >= iov[i].iov_len) {
            n -= (ssize_t)iov[i].iov_len;
            iov[i].iov_len = 0;
            i++;
        }
        if (i < 2) {
            iov[i].iov_base = (char *)iov[i].iov_base + n;
            iov[i].iov_len -= (size_t)n;
        }
    }
}

static void monitor_broadcast(char type, unsigned want, const void *data,
                              size_t len)
{
    int i;

    for (i = 0; i < MONITOR_MAX_CLIENTS; i++)
        if (M.cl[i].fd != -1 && (M.cl[i].want & want))
            monitor_send(&M.cl[i], type, data, len);
}

static void monitor_accept(void)
{
    struct timeval tv = { .tv_sec = 2 };
    int fd;
    int i;

    fd = accept4(M.lsock, NULL, NULL, SOCK_CLOEXEC);
    if (fd == -1)
        return;
    for (i = 0; i < MONITOR_MAX_CLIENTS; i++)
        if (M.cl[i].fd == -1)
            break;
    if (i == MONITOR_MAX_CLIENTS) {
        close(fd);
        return;
    }
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    M.cl[i].fd = fd;
}

/* ------------------------------------------------------------ runc */

static pid_t monitor_spawn(char *const argv[], int in, int out, int errfd)
{
    sigset_t none;
    pid_t pid;

    pid = fork();
    if (pid != 0)
        return pid;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    if (dup2(in, 0) == -1 || dup2(out, 1) == -1 || dup2(errfd, 2) == -1)
        _exit(127);
    execvp(argv[0], argv);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static ssize_t monitor_capture(int fd)
{
    char buf[1024];
    ssize_t n;
    size_t keep;

    n = read(fd, buf, sizeof(buf));
    if (n <= 0)
        return n;
    if ((size_t)n > MONITOR_CAPTURE_MAX)
        n = MONITOR_CAPTURE_MAX;
    if (M.capture_len + (size_t)n > MONITOR_CAPTURE_MAX) {
        keep = MONITOR_CAPTURE_MAX - (size_t)n;
        memmove(M.capture, M.capture + M.capture_len - keep, keep);
        M.capture_len = keep;
    }
    memcpy(M.capture + M.capture_len, buf, (size_t)n);
    M.capture_len += (size_t)n;
    M.capture[M.capture_len] = '\0';
    return n;
}

/* The last non-empty line of what runc printed, trimmed. */
static const char *monitor_capture_msg(void)
{
    char *end = M.capture + M.capture_len;
    char *start;

    while (end > M.capture && (end[-1] == '\n' || end[-1] == ' ' ||
                               end[-1] == '\r'))
        end--;
    *end = '\0';
    start = end;
    while (start > M.capture && start[-1] != '\n')
        start--;
    return start;
}

/* runc run says "runc run failed: ..." where Docker users read containerd's
 * "runc create failed: ..." (it creates, then starts): say the same. */
static void monitor_run_msg(void)
{
    static const char run[] = "runc run failed: ";
    static const char create[] = "runc create failed: ";
    char *p = strstr(M.capture, run);
    size_t grow = sizeof(create) - sizeof(run);

    if (p == NULL || M.capture_len + grow > MONITOR_CAPTURE_MAX)
        return;
    memmove(p + sizeof(create) - 1, p + sizeof(run) - 1,
            M.capture_len - (size_t)(p - M.capture) - (sizeof(run) - 1) + 1);
    memcpy(p, create, sizeof(create) - 1);
    M.capture_len += grow;
}

/* Run `runc <global flags> args...` to its end, output captured. */
static int monitor_runc(const char *cmd, const char *a1, const char *a2)
{
    char *argv[12];
    int p[2];
    int null;
    int st;
    int i = 0;
    pid_t pid;

    argv[i++] = (char *)M.runc;
    argv[i++] = (char *)"--root";
    argv[i++] = (char *)M.root;
    argv[i++] = (char *)"--log";
    argv[i++] = (char *)"/dev/null";
    argv[i++] = (char *)cmd;
    if (a1)
        argv[i++] = (char *)a1;
    if (a2)
        argv[i++] = (char *)a2;
    argv[i++] = (char *)M.id;
    argv[i] = NULL;
    M.capture_len = 0;
    M.capture[0] = '\0';
    null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null == -1 || pipe2(p, O_CLOEXEC) == -1)
        monitor_die("pipe");
    pid = monitor_spawn(argv, null, p[1], p[1]);
    close(p[1]);
    close(null);
    if (pid == -1) {
        close(p[0]);
        return -1;
    }
    for (;;) {
        char buf[256];
        ssize_t n = read(p[0], buf, sizeof(buf));

        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (M.capture_len + (size_t)n <= MONITOR_CAPTURE_MAX) {
            memcpy(M.capture + M.capture_len, buf, (size_t)n);
            M.capture_len += (size_t)n;
            M.capture[M.capture_len] = '\0';
        }
    }
    close(p[0]);
    while (waitpid(pid, &st, 0) == -1)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int monitor_recv_fd(int sock)
{
    char cbuf[CMSG_SPACE(sizeof(int))];
    char dummy[256];
    struct iovec iov = { dummy, sizeof(dummy) };
    struct msghdr mh = { 0 };
    struct cmsghdr *cm;
    int fd = -1;

    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof(cbuf);
    if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) == -1)
        return -1;
    cm = CMSG_FIRSTHDR(&mh);
    if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
        memcpy(&fd, CMSG_DATA(cm), sizeof(int));
    return fd;
}

static void monitor_try_console(int csock)
{
    int c;

    if (M.out_fd != -1)
        return;
    c = accept4(csock, NULL, NULL, SOCK_CLOEXEC);
    if (c == -1)
        return;
    M.out_fd = monitor_recv_fd(c);
    M.in_fd = M.out_fd;
    close(c);
}

/* Reap children; records the init's status. Returns true once runc_pid
 * (if > 0) was reaped, *runc_st its status. */
static bool monitor_reap(pid_t runc_pid, int *runc_st)
{
    struct signalfd_siginfo si;
    bool got = false;
    pid_t pid;
    int st;

    while (read(M.sigfd, &si, sizeof(si)) > 0)
        ;
    for (;;) {
        pid = waitpid(-1, &st, WNOHANG);
        if (pid <= 0)
            break;
        if (pid == runc_pid) {
            *runc_st = st;
            got = true;
        } else if (M.init_pid <= 0 && M.n_early < MONITOR_EARLY_MAX) {
            /* runc run: the init may end before runc does */
            M.early_pid[M.n_early] = pid;
            M.early_st[M.n_early++] = st;
        } else if (pid == M.init_pid && !M.exited) {
            M.exited = true;
            M.exit_code = WIFEXITED(st) ? WEXITSTATUS(st)
                                        : 128 + WTERMSIG(st);
        }
    }
    return got;
}

/* path's first cap - 1 bytes, NUL-terminated (stdio stays unlinked: the
 * monitor's resident size). */
static int monitor_read_small(const char *path, char *buf, size_t cap)
{
    ssize_t n;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1)
        return -1;
    n = read(fd, buf, cap - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

/* The init is gone already (runc run, a quick exit; a zombie's cgroups
 * read as the root ones): the cgroup is still there until runc delete,
 * named by the spec's "cgroupsPath" (a plain path: the cgroupfs driver).
 * A textual look-up: libc only here. */
static void monitor_memcg_from_spec(void)
{
    char path[PATH_MAX + 16];
    char text[65536];
    char *p;
    char *end;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "%s/config.json", M.bundle);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1)
        return;
    n = read(fd, text, sizeof(text) - 1);
    close(fd);
    text[n > 0 ? n : 0] = '\0';
    p = strstr(text, "\"cgroupsPath\"");
    if (p == NULL)
        return;
    p += 13;
    while (*p == ' ' || *p == ':' || *p == '\n' || *p == '\t')
        p++;
    if (*p++ != '"' || *p != '/')
        return;
    end = strchr(p, '"');
    if (end == NULL || memchr(p, '\\', (size_t)(end - p)) != NULL)
        return;
    *end = '\0';
    M.cgroup2 = access("/sys/fs/cgroup/memory", F_OK) != 0;
    snprintf(M.memcg, sizeof(M.memcg), "%s%s",
             M.cgroup2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory", p);
}

/* Before we exit: reap what is left (an init that runc delete killed, a
 * process an exec left behind), or it would be PID 1's zombie, and PID 1
 * may be slow to reap. Waits up to ms for those still dying; what still
 * runs then is left alone. */
static void monitor_reap_all(long ms)
{
    long end = monitor_ms() + ms;
    struct pollfd pfd = { .fd = M.sigfd, .events = POLLIN };
    struct signalfd_siginfo si;
    pid_t pid;

    for (;;) {
        pid = waitpid(-1, NULL, WNOHANG);
        if (pid > 0)
            continue;
        if (pid == -1 && errno == EINTR)
            continue;
        if (pid == -1 || monitor_ms() >= end)
            return;
        if (poll(&pfd, 1, (int)(end - monitor_ms())) > 0)
            while (read(M.sigfd, &si, sizeof(si)) > 0)
                ;
    }
}

/* The init's memory cgroup from /proc/<pid>/cgroup (host paths: we are in
 * the host's cgroup namespace), for the OOM kill count at the end. */
static void monitor_find_memcg(void)
{
    char path[64];
    char text[8192];
    char *line;
    char *save = NULL;
    char *rel;

    snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)M.init_pid);
    if (monitor_read_small(path, text, sizeof(text)) == -1) {
        monitor_memcg_from_spec();
        return;
    }
    for (line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        rel = strchr(line, ':');
        if (rel == NULL)
            continue;
        rel++;
        if (strncmp(rel, "memory:", 7) == 0 ||
            strstr(rel, ",memory:") != NULL) {
            rel = strchr(rel, ':') + 1;
            snprintf(M.memcg, sizeof(M.memcg), "/sys/fs/cgroup/memory%s",
                     rel);
            M.cgroup2 = false;
            break;
        }
        if (strncmp(line, "0::", 3) == 0 && M.memcg[0] == '\0') {
            snprintf(M.memcg, sizeof(M.memcg), "/sys/fs/cgroup%s", rel + 1);
            M.cgroup2 = true;
        }
    }
    if (strcmp(M.memcg, "/sys/fs/cgroup/memory/") == 0 ||
        strcmp(M.memcg, "/sys/fs/cgroup/") == 0 || M.memcg[0] == '\0') {
        M.memcg[0] = '\0';
        monitor_memcg_from_spec();
    }
}

/* Whether the kernel OOM-killed a process of the container's cgroup:
 * "oom_kill N" in memory.oom_control (v1) or memory.events (v2). Read
 * before runc delete removes the cgroup. */
static bool monitor_oom_killed(void)
{
    char path[PATH_MAX + 32];
    char text[1024];
    char *p;

    if (M.memcg[0] == '\0')
        return false;
    snprintf(path, sizeof(path), "%s/%s", M.memcg,
             M.cgroup2 ? "memory.events" : "memory.oom_control");
    if (monitor_read_small(path, text, sizeof(text)) == -1)
        return false;
    p = strstr(text, "oom_kill ");     /* "oom_kill_disable 0" is not it */
    return p && atol(p + 9) > 0;
}

/* The init is known: an exit reaped while runc was still running is its. */
static void monitor_init_known(void)
{
    int i;

    for (i = 0; i < M.n_early; i++)
        if (M.early_pid[i] == M.init_pid && !M.exited) {
            M.exited = true;
            M.exit_code = WIFEXITED(M.early_st[i])
                              ? WEXITSTATUS(M.early_st[i])
                              : 128 + WTERMSIG(M.early_st[i]);
        }
    M.n_early = 0;
    if (M.bundle)
        monitor_find_memcg();
}

/* runc create (or run --detach); on failure the startup line carries the
 * message. */
static int monitor_create(void)
{
    char pidfile[PATH_MAX + 16];
    char console[64];
    char buf[64];
    char *argv[16];
    int pin[2] = { -1, -1 };
    int pout[2];
    int perr[2];
    int csock = -1;
    int null;
    int i = 0;
    int st = 0;
    bool done = false;
    bool failed;
    int setup;
    /* run, no tty: the pipes are the container's stdio from its first
     * byte, left unread until runc is done; runc's own message is on them
     * only when it failed */
    bool raw = M.run && !M.tty;
    pid_t pid;
    struct pollfd pfd[4];
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    ssize_t n;

    snprintf(pidfile, sizeof(pidfile), "%s/%s", M.cwd, MONITOR_INITPID);
    null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null == -1 || pipe2(pout, O_CLOEXEC) == -1 ||
        pipe2(perr, O_CLOEXEC) == -1)
        monitor_die("pipe");
    if (!M.tty && M.open_stdin && pipe2(pin, O_CLOEXEC) == -1)
        monitor_die("pipe");
    argv[i++] = (char *)M.runc;
    argv[i++] = (char *)"--root";
    argv[i++] = (char *)M.root;
    argv[i++] = (char *)"--log";
    argv[i++] = (char *)"/dev/null";
    argv[i++] = (char *)"--systemd-cgroup=false";
    argv[i++] = (char *)(M.run ? "run" : "create");
    if (M.run)
        argv[i++] = (char *)"--detach";
    argv[i++] = (char *)"--bundle";
    argv[i++] = (char *)M.bundle;
    argv[i++] = (char *)"--pid-file";
    argv[i++] = pidfile;
    if (M.tty) {
        unlink("console.sock");
        csock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
                       0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "console.sock");
        if (csock == -1 ||
            bind(csock, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
            listen(csock, 1) == -1)
            monitor_die("console socket");
        /* runc dials it from the bundle directory: a path through /proc
         * is absolute and short, whatever the length of ours. */
        snprintf(console, sizeof(console), "/proc/%d/cwd/console.sock",
                 (int)getpid());
        argv[i++] = (char *)"--console-socket";
        argv[i++] = console;
    }
    argv[i++] = (char *)M.id;
    argv[i] = NULL;
    /* Non-tty: runc hands its stdio to the container; tty: the pipes only
     * catch runc's own messages. */
    pid = monitor_spawn(argv, pin[0] != -1 ? pin[0] : null, pout[1],
                        perr[1]);
    if (pid == -1)
        monitor_die("fork");
    setup = monitor_setup();
    close(null);
    close(pout[1]);
    close(perr[1]);
    if (pin[0] != -1) {
        close(pin[0]);
        M.in_fd = pin[1];
    }
    fcntl(pout[0], F_SETFL, O_NONBLOCK);
    fcntl(perr[0], F_SETFL, O_NONBLOCK);
    while (!done) {
        pfd[0] = (struct pollfd){ .fd = M.sigfd, .events = POLLIN };
        pfd[1] = (struct pollfd){ .fd = raw ? -1 : pout[0], .events = POLLIN };
        pfd[2] = (struct pollfd){ .fd = raw ? -1 : perr[0], .events = POLLIN };
        pfd[3] = (struct pollfd){ .fd = csock, .events = POLLIN };
        if (poll(pfd, 4, -1) == -1 && errno != EINTR)
            monitor_die("poll");
        if (pfd[1].revents)
            monitor_capture(pout[0]);
        if (pfd[2].revents)
            monitor_capture(perr[0]);
        if (csock != -1 && pfd[3].revents)
            monitor_try_console(csock);
        if (pfd[0].revents)
            done = monitor_reap(pid, &st);
    }
    failed = !WIFEXITED(st) || WEXITSTATUS(st) != 0 || setup != 0;
    /* Whatever is left in the pipes is runc's, not the container's. */
    if (!raw || failed) {
        while (read(pout[0], buf, sizeof(buf)) > 0)
            ;
        while (monitor_capture(perr[0]) > 0)
            ;
    }
    if (csock != -1) {
        monitor_try_console(csock);
        close(csock);
        unlink("console.sock");
    }
    if (M.tty) {
        close(pout[0]);
        close(perr[0]);
    } else {
        M.out_fd = pout[0];
        M.err_fd = perr[0];
    }
    if (setup != 0)
        snprintf(M.capture, sizeof(M.capture), "shoal-monitor: %s",
                 strerror(setup));
    if (failed) {
        monitor_run_msg();
        if (monitor_capture_msg()[0] == '\0')
            snprintf(M.capture, sizeof(M.capture),
                     "runc create exited with status %d",
                     WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        return -1;
    }
    if (M.tty && M.out_fd == -1) {
        snprintf(M.capture, sizeof(M.capture),
                 "runc create: no console received");
        return -1;
    }
    n = 0;
    i = open(pidfile, O_RDONLY | O_CLOEXEC);
    if (i != -1) {
        n = read(i, buf, sizeof(buf) - 1);
        close(i);
    }
    buf[n > 0 ? n : 0] = '\0';
    M.init_pid = (pid_t)atoi(buf);
    if (M.init_pid <= 0) {
        snprintf(M.capture, sizeof(M.capture), "runc create: no pid file");
        return -1;
    }
    M.started = M.run;
    monitor_init_known();
    return 0;
}

/* ------------------------------------------------------------ the end */

/* monitor.pid, the socket, the log: done while runc runs (off the start's
 * critical path). Returns 0 or an errno. */
static int monitor_setup(void)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    char line[32];
    int len;

    len = snprintf(line, sizeof(line), "%d\n", (int)getpid());
    if (monitor_write_file(MONITOR_PIDFILE, line, (size_t)len, false) == -1)
        goto fail;
    unlink(MONITOR_SOCK);
    M.lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", MONITOR_SOCK);
    if (M.lsock == -1 ||
        bind(M.lsock, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
        listen(M.lsock, 16) == -1)
        goto fail;
    M.logfd = open(M.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                   0640);
    if (M.logfd == -1)
        goto fail;
    return 0;
fail:
    return errno;
}

static void monitor_cleanup_files(void)
{
    unlink(MONITOR_SOCK);
    unlink(MONITOR_INITPID);
    unlink(MONITOR_PIDFILE);
}

static void monitor_finish(int code, const char *error) __attribute__((noreturn));
static void monitor_finish(int code, const char *error)
{
    char now[64];
    char *esc;
    char *doc;
    size_t elen = strlen(error);
    bool oom;
    int len;
    int i;

    monitor_log_flush();
    oom = monitor_oom_killed();
    monitor_runc("delete", "--force", NULL);
    monitor_reap_all(MONITOR_REAP_MS);
    /* No new client from here: a daemon connecting now finds exit.json. */
    close(M.lsock);
    unlink(MONITOR_SOCK);
    unlink(MONITOR_INITPID);
    monitor_now(now, sizeof(now));
    esc = malloc(elen * 6 + 1);
    doc = malloc(elen * 6 + 256);
    if (!esc || !doc)
        monitor_die("malloc");
    monitor_escape(esc, error, elen);
    len = sprintf(doc,
                  "{\"ExitCode\":%d,\"OOMKilled\":%s,\"FinishedAt\":\"%s\","
                  "\"Error\":\"%s\"}\n",
                  code, oom ? "true" : "false", now, esc);
    if (monitor_write_file(MONITOR_EXITFILE, doc, (size_t)len, true) == -1)
        fprintf(stderr, "shoal-monitor: write exit file: %s\n",
                strerror(errno));
    for (i = 0; i < MONITOR_MAX_CLIENTS; i++)
        if (M.cl[i].fd != -1) {
            monitor_send(&M.cl[i], 'X', doc, (size_t)len);
            if (M.cl[i].fd != -1)
                monitor_client_drop(&M.cl[i]);
        }
    free(esc);
    free(doc);
    unlink(MONITOR_PIDFILE);
    exit(0);
}

/* ------------------------------------------------------------ frames */

static void monitor_start(struct monitor_client *c)
{
    char buf[32];
    int n;

    if (M.started || M.exited) {
        monitor_send(c, 'F', "already started", 15);
        return;
    }
    if (monitor_runc("start", NULL, NULL) != 0) {
        const char *msg = monitor_capture_msg();

        if (msg[0] == '\0')
            msg = "runc start failed";
        monitor_send(c, 'F', msg, strlen(msg));
        monitor_finish(128, msg);
    }
    M.started = true;
    n = snprintf(buf, sizeof(buf), "%d", (int)M.init_pid);
    monitor_send(c, 'P', buf, (size_t)n);
}

static void monitor_frame(struct monitor_client *c, char type,
                          const char *p, uint32_t len)
{
    char buf[32];
    struct winsize ws = { 0 };
    int n;
    int sig;

    switch (type) {
    case 'H':
        c->want = len > 0 ? (unsigned char)p[0] : 0;
        if (c->want & MONITOR_WANT_CONTROL)
            M.ctl_seen = true;
        n = M.started ? snprintf(buf, sizeof(buf), "%d", (int)M.init_pid)
                      : 0;
        monitor_send(c, 'A', buf, (size_t)n);
        break;
    case 'I':
        if (M.in_fd == -1 || M.stdin_eof)
            break;
        if (len == 0) {
            if (!M.tty)
                M.stdin_eof = true;
            break;
        }
        if (M.inq_len + len > MONITOR_STDIN_MAX)
            break;
        M.inq = realloc(M.inq, M.inq_len + len);
        if (!M.inq)
            monitor_die("realloc");
        memcpy(M.inq + M.inq_len, p, len);
        M.inq_len += len;
        break;
    case 'R':
        if (!M.tty || M.out_fd == -1 || len != 4)
            break;
        ws.ws_row = (unsigned short)(((unsigned char)p[0] << 8) |
                                     (unsigned char)p[1]);
        ws.ws_col = (unsigned short)(((unsigned char)p[2] << 8) |
                                     (unsigned char)p[3]);
        ioctl(M.out_fd, TIOCSWINSZ, &ws);
        break;
    case 'S':
        monitor_start(c);
        break;
    case 'K':
        if (len != 4 || M.exited || M.init_pid <= 0)
            break;
        sig = (int)(((uint32_t)(unsigned char)p[0] << 24) |
                    ((uint32_t)(unsigned char)p[1] << 16) |
                    ((uint32_t)(unsigned char)p[2] << 8) |
                    (uint32_t)(unsigned char)p[3]);
        /* The init is our unreaped child: its PID cannot be reused. */
        if (sig > 0 && sig < 65)
            kill(M.init_pid, sig);
        break;
    default:
        monitor_client_drop(c);
        break;
    }
}

static void monitor_client_read(struct monitor_client *c)
{
    ssize_t n;

    if (c->hdr_got < MONITOR_HDR_LEN) {
        n = read(c->fd, c->hdr + c->hdr_got, MONITOR_HDR_LEN - c->hdr_got);
        if (n <= 0) {
            monitor_client_drop(c);
            return;
        }
        c->hdr_got += (size_t)n;
        if (c->hdr_got < MONITOR_HDR_LEN)
            return;
        c->plen = ((uint32_t)c->hdr[1] << 24) | ((uint32_t)c->hdr[2] << 16) |
                  ((uint32_t)c->hdr[3] << 8) | c->hdr[4];
        if (c->plen > MONITOR_FRAME_MAX) {
            monitor_client_drop(c);
            return;
        }
        c->pgot = 0;
        c->payload = malloc(c->plen + 1);
        if (!c->payload)
            monitor_die("malloc");
        if (c->plen > 0)
            return;
    } else {
        n = read(c->fd, c->payload + c->pgot, c->plen - c->pgot);
        if (n <= 0) {
            monitor_client_drop(c);
            return;
        }
        c->pgot += (uint32_t)n;
        if (c->pgot < c->plen)
            return;
    }
    c->hdr_got = 0;
    monitor_frame(c, (char)c->hdr[0], c->payload, c->plen);
    if (c->fd != -1) {
        free(c->payload);
        c->payload = NULL;
    }
}

/* ------------------------------------------------------------ stdio */

/* Returns false at EOF. */
static bool monitor_output(int fd, int stream)
{
    char buf[8192];
    ssize_t n;

    n = read(fd, buf, sizeof(buf));
    if (n == -1 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0)
        return false;   /* EOF, or EIO on a pty whose slave is closed */
    monitor_log(stream, buf, (size_t)n);
    monitor_broadcast(stream == 2 ? 'E' : 'O',
                      stream == 2 ? MONITOR_WANT_ERR : MONITOR_WANT_OUT, buf,
                      (size_t)n);
    return true;
}

static void monitor_stdin_flush(void)
{
    ssize_t n;

    if (M.inq_len > 0) {
        n = write(M.in_fd, M.inq, M.inq_len);
        if (n == -1 && errno != EAGAIN && errno != EINTR) {
            M.inq_len = 0;      /* the reader is gone */
            M.stdin_eof = true;
        } else if (n > 0) {
            memmove(M.inq, M.inq + n, M.inq_len - (size_t)n);
            M.inq_len -= (size_t)n;
        }
    }
    if (M.inq_len == 0 && M.stdin_eof && !M.tty && M.in_fd != -1) {
        close(M.in_fd);
        M.in_fd = -1;
    }
}

static void monitor_loop(void)
{
    struct pollfd pfd[5 + MONITOR_MAX_CLIENTS];
    int idx[MONITOR_MAX_CLIENTS];
    long deadline = 0;
    long now;
    bool drained;
    int timeout;
    int n;
    int i;
    int k;

    for (;;) {
        now = monitor_ms();
        timeout = -1;
        if (!M.started && !M.exited) {
            /* Created, and the daemon that was to start it went away:
             * containerd has no such state, so give up (item of the
             * issue: never wait forever). */
            if (now >= M.start_deadline)
                monitor_finish(128, "container start timed out");
            timeout = (int)(M.start_deadline - now);
        }
        if (M.exited) {
            if (deadline == 0)
                deadline = now + MONITOR_DRAIN_MS;
            drained = (M.out_fd == -1 && M.err_fd == -1) || now >= deadline;
            /* Not before the daemon's control client is here (runc run: it
             * connects after the startup line), or its connect could find
             * neither the socket nor exit.json. */
            if (drained && (M.ctl_seen || now >= M.start_deadline))
                monitor_finish(M.exit_code, "");
            timeout = (int)((drained ? M.start_deadline : deadline) - now);
        }
        n = 0;
        pfd[n++] = (struct pollfd){ .fd = M.sigfd, .events = POLLIN };
        pfd[n++] = (struct pollfd){ .fd = M.lsock, .events = POLLIN };
        pfd[n++] = (struct pollfd){ .fd = M.started ? M.out_fd : -1,
                                    .events = POLLIN };
        pfd[n++] = (struct pollfd){ .fd = M.started ? M.err_fd : -1,
                                    .events = POLLIN };
        pfd[n++] = (struct pollfd){ .fd = M.inq_len > 0 ? M.in_fd : -1,
                                    .events = POLLOUT };
        for (i = 0, k = 0; i < MONITOR_MAX_CLIENTS; i++) {
            if (M.cl[i].fd == -1)
                continue;
            idx[k++] = i;
            pfd[n++] = (struct pollfd){ .fd = M.cl[i].fd, .events = POLLIN };
        }
        if (timeout < -1)
            timeout = 0;
        if (poll(pfd, (nfds_t)n, timeout) == -1) {
            if (errno == EINTR)
                continue;
            monitor_die("poll");
        }
        if (pfd[0].revents)
            monitor_reap(0, &i);
        if (pfd[2].revents && !monitor_output(M.out_fd, 1)) {
            if (M.out_fd == M.in_fd)
                M.in_fd = -1;
            close(M.out_fd);
            M.out_fd = -1;
        }
        if (pfd[3].revents && !monitor_output(M.err_fd, 2)) {
            close(M.err_fd);
            M.err_fd = -1;
        }
        for (i = 5; i < n; i++)
            if (pfd[i].revents && M.cl[idx[i - 5]].fd == pfd[i].fd)
                monitor_client_read(&M.cl[idx[i - 5]]);
        if (M.in_fd != -1 && (M.inq_len > 0 || M.stdin_eof))
            monitor_stdin_flush();
        if (pfd[1].revents)
            monitor_accept();
    }
}

/* ------------------------------------------------------------ main */

static void monitor_usage(void) __attribute__((noreturn));
static void monitor_usage(void)
{
    fprintf(stderr, "usage: shoal-monitor --runc PATH --root DIR --bundle DIR"
                    " --log FILE [--tty] [--stdin] [--run] ID\n");
    exit(2);
}

static void monitor_args(int argc, char **argv)
{
    int i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tty") == 0)
            M.tty = true;
        else if (strcmp(argv[i], "--stdin") == 0)
            M.open_stdin = true;
        else if (strcmp(argv[i], "--run") == 0)
            M.run = true;
        else if (i + 1 < argc && strcmp(argv[i], "--runc") == 0)
            M.runc = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--root") == 0)
            M.root = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--bundle") == 0)
            M.bundle = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--log") == 0)
            M.log_path = argv[++i];
        else if (argv[i][0] != '-' && M.id == NULL)
            M.id = argv[i];
        else
            monitor_usage();
    }
    if (!M.runc || !M.root || !M.bundle || !M.log_path || !M.id)
        monitor_usage();
}

/* ------------------------------------------------------------ tty exec */

/* `runc exec --tty` keeps the pty master to itself and sizes it from its
 * own stdin; with --detach --console-socket the master comes here, and
 * the daemon can resize it: stdin (fd 0) goes to the master, its output
 * to fd 1, runc's errors to fd 2, and fd 3 carries resize requests (rows,
 * cols: 2 bytes each, big endian). As a child subreaper this process gets
 * the exec'd process once runc is gone, and exits with its exit code. Run
 * in the container's directory (the console socket is made there). */
static int monitor_exec_main(int argc, char **argv)
{
    const char *process = NULL;
    const char *pid_path = NULL;
    char console[64];
    char sock[32];
    char buf[8192];
    char *rargv[20];
    unsigned char rs[4];
    size_t rs_got = 0;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct pollfd pfd[4];
    struct winsize ws = { 0 };
    sigset_t set;
    bool done = false;
    bool in_open = true;
    bool rs_open = true;
    long drain_end = 0;
    int csock;
    int cap[2];
    int null;
    int st = 0;
    int fd;
    int i;
    ssize_t n;
    pid_t pid;

    for (i = 2; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--runc") == 0)
            M.runc = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--root") == 0)
            M.root = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--process") == 0)
            process = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--pid-file") == 0)
            pid_path = argv[++i];
        else if (argv[i][0] != '-' && M.id == NULL)
            M.id = argv[i];
        else
            monitor_usage();
    }
    if (!M.runc || !M.root || !process || !pid_path || !M.id)
        monitor_usage();
    M.out_fd = M.err_fd = M.in_fd = M.lsock = M.logfd = -1;
    signal(SIGPIPE, SIG_IGN);
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
        monitor_die("prctl");
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    M.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    snprintf(sock, sizeof(sock), "exec-%d.sock", (int)getpid());
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
    unlink(sock);
    csock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (M.sigfd == -1 || csock == -1 ||
        bind(csock, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
        listen(csock, 1) == -1)
        monitor_die("console socket");
    snprintf(console, sizeof(console), "/proc/%d/cwd/%s", (int)getpid(),
             sock);
    i = 0;
    rargv[i++] = (char *)M.runc;
    rargv[i++] = (char *)"--root";
    rargv[i++] = (char *)M.root;
    rargv[i++] = (char *)"--log";
    rargv[i++] = (char *)"/dev/null";
    rargv[i++] = (char *)"exec";
    rargv[i++] = (char *)"--detach";
    rargv[i++] = (char *)"--tty";
    rargv[i++] = (char *)"--console-socket";
    rargv[i++] = console;
    rargv[i++] = (char *)"--process";
    rargv[i++] = (char *)process;
    rargv[i++] = (char *)"--pid-file";
    rargv[i++] = (char *)pid_path;
    rargv[i++] = (char *)M.id;
    rargv[i] = NULL;
    null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null == -1 || pipe2(cap, O_CLOEXEC) == -1)
        monitor_die("pipe");
    pid = monitor_spawn(rargv, null, cap[1], cap[1]);
    if (pid == -1)
        monitor_die("fork");
    close(cap[1]);
    close(null);
    fcntl(cap[0], F_SETFL, O_NONBLOCK);
    while (!done) {
        pfd[0] = (struct pollfd){ .fd = M.sigfd, .events = POLLIN };
        pfd[1] = (struct pollfd){ .fd = cap[0], .events = POLLIN };
        pfd[2] = (struct pollfd){ .fd = csock, .events = POLLIN };
        if (poll(pfd, 3, -1) == -1 && errno != EINTR)
            monitor_die("poll");
        if (pfd[1].revents)
            monitor_capture(cap[0]);
        if (pfd[2].revents)
            monitor_try_console(csock);
        if (pfd[0].revents)
            done = monitor_reap(pid, &st);
    }
    while (monitor_capture(cap[0]) > 0)
        ;
    close(cap[0]);
    monitor_try_console(csock);
    close(csock);
    unlink(sock);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || M.out_fd == -1) {
        const char *msg = monitor_capture_msg();

        fprintf(stderr, "%s\n", msg[0] ? msg : "runc exec failed");
        return WIFEXITED(st) && WEXITSTATUS(st) != 0 ? WEXITSTATUS(st)
                                                     : 126;
    }
    fd = open(pid_path, O_RDONLY | O_CLOEXEC);
    n = fd == -1 ? -1 : read(fd, buf, sizeof(buf) - 1);
    if (fd != -1)
        close(fd);
    buf[n > 0 ? n : 0] = '\0';
    M.init_pid = (pid_t)atoi(buf);
    if (M.init_pid <= 0) {
        fprintf(stderr, "runc exec: no pid file\n");
        return 126;
    }
    monitor_init_known();
    fcntl(M.out_fd, F_SETFL, O_NONBLOCK);
    for (;;) {
        if (M.exited && drain_end == 0)
            drain_end = monitor_ms() + MONITOR_DRAIN_MS;
        if (M.exited && (M.out_fd == -1 || monitor_ms() >= drain_end)) {
            monitor_reap_all(0);
            return M.exit_code;
        }
        pfd[0] = (struct pollfd){ .fd = M.sigfd, .events = POLLIN };
        pfd[1] = (struct pollfd){ .fd = M.out_fd, .events = POLLIN };
        pfd[2] = (struct pollfd){ .fd = in_open ? 0 : -1, .events = POLLIN };
        pfd[3] = (struct pollfd){ .fd = rs_open ? 3 : -1, .events = POLLIN };
        if (poll(pfd, 4, M.exited ? 50 : -1) == -1) {
            if (errno == EINTR)
                continue;
            monitor_die("poll");
        }
        if (pfd[0].revents)
            monitor_reap(0, &st);
        if (pfd[1].revents) {
            n = read(M.out_fd, buf, sizeof(buf));
            if (n > 0) {
                if (monitor_write_all(1, buf, (size_t)n) == -1)
                    in_open = false;
            } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                close(M.out_fd);   /* EIO: every slave is closed */
                M.out_fd = -1;
            }
        }
        /* before stdin: a resize sent before some input is applied
         * before the process can read that input */
        if (pfd[3].revents) {
            n = read(3, rs + rs_got, sizeof(rs) - rs_got);
            if (n <= 0) {
                rs_open = false;
            } else if ((rs_got += (size_t)n) == sizeof(rs)) {
                rs_got = 0;
                ws.ws_row = (unsigned short)((rs[0] << 8) | rs[1]);
                ws.ws_col = (unsigned short)((rs[2] << 8) | rs[3]);
                if (M.out_fd != -1)
                    ioctl(M.out_fd, TIOCSWINSZ, &ws);
            }
        }
        if (pfd[2].revents) {
            n = read(0, buf, sizeof(buf));
            if (n > 0 && M.out_fd != -1)
                monitor_write_all(M.out_fd, buf, (size_t)n);
            else if (n == 0 || (errno != EINTR && errno != EAGAIN))
                in_open = false;   /* a tty's stdin is not closed */
        }
    }
}

int main(int argc, char **argv)
{
    char line[MONITOR_CAPTURE_MAX + 16];
    char *nl;
    const char *env;
    sigset_t set;
    int len;
    int i;

    if (argc > 1 && strcmp(argv[1], "exec") == 0)
        return monitor_exec_main(argc, argv);
    monitor_args(argc, argv);
    env = getenv("SHOAL_MONITOR_START_TIMEOUT_MS");
    M.start_deadline = monitor_ms() + (env && atol(env) > 0
                                           ? atol(env)
                                           : MONITOR_START_TIMEOUT_MS);
    M.sigfd = M.lsock = M.logfd = M.out_fd = M.err_fd = M.in_fd = -1;
    for (i = 0; i < MONITOR_MAX_CLIENTS; i++)
        M.cl[i].fd = -1;
    if (getcwd(M.cwd, sizeof(M.cwd)) == NULL)
        monitor_die("getcwd");
    signal(SIGPIPE, SIG_IGN);
    /* Our own session (the daemon spawns us with one already): signals
     * to the daemon's group leave us be, and we outlive it. We stay its
     * child, so it reaps us while it runs (no zombie left to PID 1). */
    setsid();
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
        monitor_die("prctl");
    unlink(MONITOR_EXITFILE);
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    M.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (M.sigfd == -1)
        monitor_die("signalfd");
    if (monitor_create() == -1) {
        const char *msg = monitor_capture_msg();

        len = snprintf(line, sizeof(line), "err %s\n", msg);
        for (nl = line + 4; nl < line + len - 1; nl++)
            if (*nl == '\n')
                *nl = ' ';
        monitor_runc("delete", "--force", NULL);
        monitor_reap_all(MONITOR_REAP_MS);
        monitor_cleanup_files();
        monitor_write_all(1, line, (size_t)len);
        return 1;
    }
    len = snprintf(line, sizeof(line), "ok %d\n", (int)M.init_pid);
    monitor_write_all(1, line, (size_t)len);
    i = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (i != -1) {
        dup2(i, 0);
        dup2(i, 1);
        close(i);
    }
    if (M.in_fd != -1)
        fcntl(M.in_fd, F_SETFL, O_NONBLOCK);
    monitor_loop();
    return 0;
}

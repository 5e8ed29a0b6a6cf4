/* SPDX-License-Identifier: Apache-2.0 */
/* Process wiring for `shoal daemon`. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "api/api.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/tls_ctx.h"
#include "cluster/cluster.h"
#include "daemon/daemon.h"
#include "agent/agent_engine.h"
#include "engine/engine.h"
#include "version.h"

#define DAEMON__DEFAULT_HOST "unix:///run/shoal/shoal.sock"
#define DAEMON__DEFAULT_ROOT "/var/lib/shoal"
#define DAEMON__DEFAULT_PIDFILE "/run/shoal/shoal.pid"

struct daemon
{
    uv_loop_t loop;
    uv_signal_t sigint;
    uv_signal_t sigterm;
    struct cluster *cluster;  /* owned */
    struct api_server *api;   /* owned */
    struct engine *engine;    /* owned: local containers and images */
    bool engine_closing;
    const char *pidfile;      /* borrowed from argv */
    bool stopping;
};

static void daemon_usage(FILE *f)
{
    fprintf(f,
            "Usage:  shoal daemon [OPTIONS]\n\n"
            "A self-sufficient runtime for swarms of containers\n\n"
            "Options:\n"
            "      --data-root string   Root directory of persistent shoal "
            "state (default \"%s\")\n"
            "  -D, --debug              Enable debug mode\n"
            "  -H, --host string        Daemon socket to connect to "
            "(default \"%s\")\n"
            "  -l, --log-level string   Set the logging level (\"debug\"|"
            "\"info\"|\"warn\"|\"error\"|\"fatal\") (default \"info\")\n"
            "  -p, --pidfile string     Path to use for daemon PID file "
            "(default \"%s\")\n"
            "  -v, --version            Print version information and "
            "quit\n",
            DAEMON__DEFAULT_ROOT, DAEMON__DEFAULT_HOST,
            DAEMON__DEFAULT_PIDFILE);
}

static int daemon_write_pidfile(const char *path, struct err *err)
{
    char dir[4096];
    char pid[32];
    char *slash;

    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        if (fsutil_mkdir_p(dir, 0755, err) != 0)
            return -err->code;
    }
    snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    return fsutil_write_atomic(path, pid, strlen(pid), 0644, err);
}

static void daemon_on_engine_closed(void *data)
{
    struct daemon *d = data;

    d->engine = NULL;
}

/* The engine closes after the API and the cluster: attach and exec
 * connections hold runtime handles until their connection is gone, and
 * the agent's executor uses the engine until the cluster closes it. */
static void daemon_maybe_close_engine(struct daemon *d)
{
    if (d->api == NULL && d->cluster == NULL && d->engine != NULL &&
        !d->engine_closing) {
        d->engine_closing = true;
        engine_close(d->engine, daemon_on_engine_closed, d);
    }
}

static void daemon_on_api_closed(void *data)
{
    struct daemon *d = data;

    d->api = NULL;
    daemon_maybe_close_engine(d);
}

static void daemon_on_cluster_closed(void *data)
{
    struct daemon *d = data;

    d->cluster = NULL;
    daemon_maybe_close_engine(d);
}

static void daemon_stop(struct daemon *d)
{
    if (d->stopping)
        return;
    d->stopping = true;
    log_info(LOG_MAIN, "shutting down");
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    if (d->api != NULL)
        api_server_close(d->api, daemon_on_api_closed, d);
    if (d->cluster != NULL)
        cluster_close(d->cluster, daemon_on_cluster_closed, d);
}

static void daemon_on_signal(uv_signal_t *h, int signum)
{
    struct daemon *d = h->data;

    log_info(LOG_MAIN, "received signal %d", signum);
    daemon_stop(d);
}

int daemon_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data-root", required_argument, NULL, 'r'},
        {"host", required_argument, NULL, 'H'},
        {"debug", no_argument, NULL, 'D'},
        {"log-level", required_argument, NULL, 'l'},
        {"pidfile", required_argument, NULL, 'p'},
        {"version", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *root = DAEMON__DEFAULT_ROOT;
    const char *host = DAEMON__DEFAULT_HOST;
    struct daemon d;
    struct err err;
    int c;
    int rv;

    memset(&d, 0, sizeof(d));
    d.pidfile = DAEMON__DEFAULT_PIDFILE;
    while ((c = getopt_long(argc, argv, "H:Dl:p:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            root = optarg;
            break;
        case 'H':
            host = optarg;
            break;
        case 'D':
            log_level = LOG_LEVEL_DEBUG;
            break;
        case 'l':
            rv = log_parse_level(optarg);
            if (rv < 0) {
                fprintf(stderr, "shoal daemon: unable to parse logging "
                                "level: %s\n", optarg);
                return 1;
            }
            log_level = rv;
            break;
        case 'p':
            d.pidfile = optarg;
            break;
        case 'v':
            printf("shoal version %s\n", SHOAL_VERSION);
            return 0;
        case 'h':
            daemon_usage(stdout);
            return 0;
        default:
            daemon_usage(stderr);
            return 125;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "shoal daemon: unexpected argument: %s\n",
                argv[optind]);
        return 125;
    }
    if (root[0] != '/') {
        fprintf(stderr, "shoal daemon: --data-root must be an absolute "
                        "path: %s\n", root);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    err_clear(&err);
    /* The data root holds the node's key and the swarm's Raft log: only
     * root may enter it (Docker: 0710 for a remapped root's group; shoal
     * has no user namespace remapping). An older, looser root is
     * tightened. */
    if (fsutil_mkdir_p(root, 0700, &err) != 0)
        goto fail;
    if (chmod(root, 0700) != 0) {
        err_sys(&err, ERR_IO, errno, "chmod %s", root);
        goto fail;
    }
    if (strncmp(host, "unix://", 7) == 0) {
        char dir[4096];
        char *slash;

        snprintf(dir, sizeof(dir), "%s", host + 7);
        slash = strrchr(dir, '/');
        if (slash != NULL && slash != dir) {
            *slash = '\0';
            if (fsutil_mkdir_p(dir, 0755, &err) != 0)
                goto fail;
        }
    }
    /* Off every request's path: a join's first handshake, an init's
     * cluster port. */
    tls_ctx_preload();
    uv_loop_init(&d.loop);
    d.cluster = cluster_new(&d.loop, root, &err);
    if (d.cluster == NULL)
        goto fail_loop;
    d.engine = engine_new(&d.loop, root, &err);
    if (d.engine == NULL)
        goto fail_cluster;
    cluster_set_task_engine(d.cluster, &agent_engine_ops, d.engine);
    cluster_set_engine(d.cluster, d.engine);
    d.api = api_server_start(&d.loop, host, d.cluster, d.engine, &err);
    if (d.api == NULL)
        goto fail_engine;
    if (d.pidfile[0] != '\0' && daemon_write_pidfile(d.pidfile, &err) != 0)
        goto fail_api;
    uv_signal_init(&d.loop, &d.sigint);
    uv_signal_init(&d.loop, &d.sigterm);
    d.sigint.data = &d;
    d.sigterm.data = &d;
    uv_signal_start(&d.sigint, daemon_on_signal, SIGINT);
    uv_signal_start(&d.sigterm, daemon_on_signal, SIGTERM);
    log_info(LOG_MAIN, "shoal %s started (data root %s)", SHOAL_VERSION,
             root);
    uv_run(&d.loop, UV_RUN_DEFAULT);
    rv = uv_loop_close(&d.loop);
    if (rv != 0)
        log_error(LOG_MAIN, "loop closed with open handles: %s",
                  uv_strerror(rv));
    if (d.pidfile[0] != '\0')
        unlink(d.pidfile);
    log_info(LOG_MAIN, "daemon exited");
    return rv == 0 ? 0 : 1;

fail_api:
    d.stopping = true;
    api_server_close(d.api, daemon_on_api_closed, &d);
    goto fail_cluster;
fail_engine:
    d.engine_closing = true;
    engine_close(d.engine, daemon_on_engine_closed, &d);
fail_cluster:
    cluster_close(d.cluster, daemon_on_cluster_closed, &d);
    uv_run(&d.loop, UV_RUN_DEFAULT);
fail_loop:
    uv_loop_close(&d.loop);
fail:
    fprintf(stderr, "shoal daemon: %s\n", err.msg);
    return 1;
}

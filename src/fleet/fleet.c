/* SPDX-License-Identifier: Apache-2.0 */
/* N simulated workers in one process (see fleet.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/compiler.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/mem.h"
#include "cluster/cluster.h"
#include "fleet/fleet.h"
#include "fleet/fleet_int.h"
#include "manager/ca/ca.h"

#define FLEET__TICK_MS 250u       /* progress lines (when changed) */
#define FLEET__RETRY_MS 1000u     /* a failed join waits this long */
#define FLEET__FDS_PER_NODE 3u    /* heartbeat + leader connections, slack */
#define FLEET__FDS_BASE 256u
#define FLEET__PEM_MAX (1u << 20)

struct fleet;

struct fleet_node
{
    struct fleet *f;
    struct cluster *c;            /* owned (closed by fleet_stop) */
    struct fleet_engine_node eng; /* the executor's ops data */
    size_t idx;
    unsigned tries;               /* join attempts so far */
    uint64_t retry_at;            /* uv_now() of the next attempt */
    bool in;                      /* in the swarm */
};

struct fleet
{
    uv_loop_t loop;
    const struct fleet_config *cfg; /* borrowed */
    uint8_t used_ports[65536 / 8]; /* ports handed to a node's ListenAddr */
    char digest[CA_DIGEST_HEX_LEN + 1]; /* the token's root CA digest */
    struct fleet_node *nodes;     /* owned: cfg->n_nodes of them */
    size_t *queue;                /* owned ring: nodes waiting to join */
    size_t q_head;
    size_t q_len;
    size_t n_joining;             /* joins in flight */
    size_t n_in;                  /* nodes in the swarm */
    size_t n_restored;            /* of which restored from data_dir */
    size_t n_failed;              /* nodes that gave up joining */
    size_t n_open;                /* clusters not closed yet */
    size_t last_in;               /* for the progress line */
    size_t last_running;
    uint64_t t0;                  /* uv_now() at the start */
    bool announced;               /* "all nodes in the swarm" printed */
    bool stopping;
    uv_timer_t tick;
    uv_timer_t kick;              /* next joins, outside join callbacks */
    uv_signal_t sigint;
    uv_signal_t sigterm;
    struct fleet_engine engine;
    unsigned n_handles;           /* handles of ours not closed yet */
};

static void fleet_pump(struct fleet *f);

/* --- helpers ------------------------------------------------------------ */

static long fleet_rss_kb(const char *field)
{
    char line[256];
    size_t len = strlen(field);
    long kb = -1;
    FILE *fp = fopen("/proc/self/status", "re");

    if (fp == NULL)
        return -1;
    while (fgets(line, sizeof(line), fp) != NULL) {
        if (strncmp(line, field, len) == 0 && line[len] == ':') {
            kb = strtol(line + len + 1, NULL, 10);
            break;
        }
    }
    fclose(fp);
    return kb;
}

/* Enough descriptors for every node's connections: the soft limit up to
 * the hard one, and the hard one too when it is short (root may). */
static int fleet_raise_nofile(size_t n_nodes, struct err *err)
{
    rlim_t need = (rlim_t)(n_nodes * FLEET__FDS_PER_NODE + FLEET__FDS_BASE);
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
        return err_sys(err, ERR_IO, errno, "getrlimit(RLIMIT_NOFILE)");
    if (rl.rlim_cur >= need)
        return 0;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
        rl.rlim_max = need;
    rl.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
        return err_sys(err, ERR_UNAVAILABLE, errno,
                       "%zu simulated nodes need about %llu file "
                       "descriptors: raising RLIMIT_NOFILE",
                       n_nodes, (unsigned long long)need);
    return 0;
}

/* 127.0.0.1 and a port free right now, never handed to another node of
 * this fleet: one node's ListenAddr (workers listen on their cluster port
 * since service logs, so every node needs its own). */
static int fleet_pick_listen(struct fleet *f, char *out, size_t out_len,
                             struct err *err)
{
    struct sockaddr_in sa;
    socklen_t len;
    unsigned port;
    int tries;
    int fd;

    for (tries = 0; tries < 64; tries++) {
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd == -1)
            return err_sys(err, ERR_IO, errno, "socket");
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(sa);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
            getsockname(fd, (struct sockaddr *)&sa, &len) == -1) {
            err_sys(err, ERR_IO, errno, "bind 127.0.0.1:0");
            close(fd);
            return -ERR_IO;
        }
        close(fd);
        port = ntohs(sa.sin_port);
        if (f->used_ports[port / 8] & (1u << (port % 8)))
            continue;
        f->used_ports[port / 8] |= (uint8_t)(1u << (port % 8));
        snprintf(out, out_len, "127.0.0.1:%u", port);
        return 0;
    }
    return err_set(err, ERR_IO, "no unused port on 127.0.0.1 for a node");
}

static int fleet_node_root(const struct fleet *f, size_t i, char *out,
                           size_t len)
{
    int n = snprintf(out, len, "%s/%s%zu", f->cfg->data_dir,
                     f->cfg->hostname_prefix, i);

    return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* A node kept from an earlier run belongs to the token's swarm only if it
 * trusts the same root: otherwise forget it (it joins again). */
static int fleet_check_cached(const struct fleet *f, const char *root,
                              struct err *err)
{
    char path[PATH_MAX];
    char digest[CA_DIGEST_HEX_LEN + 1];
    char *pem = NULL;
    size_t len = 0;

    if (snprintf(path, sizeof(path),
                 "%s/swarm/certificates/swarm-root-ca.crt",
                 root) >= (int)sizeof(path))
        return err_set(err, ERR_INVALID, "data path too long: %s", root);
    if (!fsutil_exists(path))
        return 0;
    if (fsutil_read_all(path, FLEET__PEM_MAX, &pem, &len, err) != 0)
        return -err->code;
    ca_digest_hex(pem, len, digest);
    free(pem);
    if (strcmp(digest, f->digest) == 0)
        return 0;
    if (snprintf(path, sizeof(path), "%s/swarm", root) >= (int)sizeof(path))
        return err_set(err, ERR_INVALID, "data path too long: %s", root);
    return fsutil_empty_dir(path, err);
}

/* --- progress ----------------------------------------------------------- */

static void fleet_progress(struct fleet *f)
{
    size_t running = f->engine.n_running;

    if (f->n_in == f->last_in && running == f->last_running)
        return;
    f->last_in = f->n_in;
    f->last_running = running;
    printf("fleet: %zu/%zu nodes in the swarm, %zu tasks running "
           "(%zu started), RSS %ld kB\n",
           f->n_in, f->cfg->n_nodes, running, f->engine.n_started,
           fleet_rss_kb("VmRSS"));
}

static void fleet_maybe_announce(struct fleet *f)
{
    long rss;

    if (f->announced || f->n_in + f->n_failed < f->cfg->n_nodes)
        return;
    f->announced = true;
    rss = fleet_rss_kb("VmRSS");
    printf("fleet: all %zu nodes in the swarm (%zu joined, %zu restored, "
           "%zu failed) after %llu ms; RSS %ld kB, %.1f kB per node\n",
           f->n_in, f->n_in - f->n_restored, f->n_restored, f->n_failed,
           (unsigned long long)(uv_now(&f->loop) - f->t0), rss,
           f->cfg->n_nodes ? (double)rss / (double)f->cfg->n_nodes : 0.0);
}

static void fleet_on_tick(uv_timer_t *t)
{
    struct fleet *f = t->data;

    fleet_pump(f);
    fleet_progress(f);
}

/* --- joins -------------------------------------------------------------- */

static void fleet_enqueue(struct fleet *f, size_t i)
{
    size_t n = f->cfg->n_nodes;

    f->queue[(f->q_head + f->q_len) % n] = i;
    f->q_len++;
}

static void fleet_on_joined(void *data, int status, const struct err *err,
                            json_t *result)
{
    struct fleet_node *node = data;
    struct fleet *f = node->f;

    UNUSED(result);
    f->n_joining--;
    if (status == 0) {
        node->in = true;
        f->n_in++;
        fleet_maybe_announce(f);
    } else if (!f->stopping) {
        node->tries++;
        if (node->tries >= FLEET_JOIN_TRIES) {
            log_error(LOG_MAIN, "fleet: node %s%zu gave up joining after "
                      "%u attempts: %s", f->cfg->hostname_prefix,
                      node->idx, node->tries, err ? err->msg : "?");
            f->n_failed++;
            fleet_maybe_announce(f);
        } else {
            log_warn(LOG_MAIN, "fleet: node %s%zu: join failed (will "
                     "retry): %s", f->cfg->hostname_prefix, node->idx,
                     err ? err->msg : "?");
            node->retry_at = uv_now(&f->loop) + FLEET__RETRY_MS;
            fleet_enqueue(f, node->idx);
        }
    }
    /* The join object is freed after this callback: start the next ones
     * from the loop. */
    if (!f->stopping)
        uv_timer_start(&f->kick, fleet_on_tick, 0, 0);
}

static void fleet_join(struct fleet *f, struct fleet_node *node)
{
    json_t *req;
    struct err err;
    char listen[64];
    int rv;

    err_clear(&err);
    if (f->cfg->listen_addr != NULL)
        snprintf(listen, sizeof(listen), "%s", f->cfg->listen_addr);
    else if (fleet_pick_listen(f, listen, sizeof(listen), &err) != 0)
        goto refused;
    req = json_pack("{s:[s], s:s, s:s, s:s}", "RemoteAddrs", f->cfg->manager,
                    "JoinToken", f->cfg->token, "ListenAddr", listen,
                    "Availability", "active");
    rv = cluster_join(node->c, req, fleet_on_joined, node, &err);
    json_decref(req);
    if (rv == 0) {
        f->n_joining++;
        return;
    }
    /* Refused before it began (bad token, bad address): all would be. */
refused:
    log_error(LOG_MAIN, "fleet: node %s%zu: %s", f->cfg->hostname_prefix,
              node->idx, err.msg);
    f->n_failed++;
    fleet_maybe_announce(f);
}

static void fleet_pump(struct fleet *f)
{
    uint64_t now = uv_now(&f->loop);
    struct fleet_node *node;

    while (!f->stopping && f->q_len > 0 &&
           f->n_joining < FLEET_JOIN_CONCURRENCY) {
        node = &f->nodes[f->queue[f->q_head]];
        if (node->retry_at > now)
            break; /* retries queue behind every first attempt */
        f->q_head = (f->q_head + 1) % f->cfg->n_nodes;
        f->q_len--;
        fleet_join(f, node);
    }
}

/* --- stopping ----------------------------------------------------------- */

static void fleet_on_handle_closed(uv_handle_t *h)
{
    struct fleet *f = h->data;

    f->n_handles--;
}

static void fleet_on_engine_closed(void *data)
{
    struct fleet *f = data;

    f->n_handles--;
    uv_close((uv_handle_t *)&f->tick, fleet_on_handle_closed);
    uv_close((uv_handle_t *)&f->kick, fleet_on_handle_closed);
    uv_close((uv_handle_t *)&f->sigint, fleet_on_handle_closed);
    uv_close((uv_handle_t *)&f->sigterm, fleet_on_handle_closed);
}

static void fleet_on_node_closed(void *data)
{
    struct fleet_node *node = data;
    struct fleet *f = node->f;

    node->c = NULL;
    fleet_engine_node_release(&node->eng);
    if (--f->n_open > 0)
        return;
    fleet_engine_close(&f->engine, fleet_on_engine_closed, f);
}

static void fleet_stop(struct fleet *f)
{
    size_t i;

    if (f->stopping)
        return;
    f->stopping = true;
    printf("fleet: stopping %zu nodes\n", f->n_open);
    uv_timer_stop(&f->tick);
    uv_timer_stop(&f->kick);
    if (f->n_open == 0) {
        fleet_engine_close(&f->engine, fleet_on_engine_closed, f);
        return;
    }
    for (i = 0; i < f->cfg->n_nodes; i++)
        if (f->nodes[i].c != NULL)
            cluster_close(f->nodes[i].c, fleet_on_node_closed,
                          &f->nodes[i]);
}

static void fleet_on_signal(uv_signal_t *h, int signum)
{
    UNUSED(signum);
    fleet_stop(h->data);
}

/* --- the run ------------------------------------------------------------ */

static int fleet_check(const struct fleet_config *cfg, struct err *err)
{
    if (cfg->n_nodes == 0 || cfg->n_nodes > FLEET_MAX_NODES)
        return err_set(err, ERR_INVALID,
                       "the number of nodes must be between 1 and %u",
                       FLEET_MAX_NODES);
    if (cfg->token == NULL || cfg->token[0] == '\0')
        return err_set(err, ERR_INVALID, "--token is required");
    if (cfg->manager == NULL || cfg->manager[0] == '\0')
        return err_set(err, ERR_INVALID, "--manager is required");
    if (cfg->data_dir == NULL || cfg->data_dir[0] == '\0')
        return err_set(err, ERR_INVALID, "--data must not be empty");
    if (cfg->hostname_prefix == NULL ||
        strchr(cfg->hostname_prefix, '/') != NULL ||
        strcmp(cfg->hostname_prefix, ".") == 0 ||
        strcmp(cfg->hostname_prefix, "..") == 0)
        return err_set(err, ERR_INVALID,
                       "invalid --hostname-prefix \"%s\": it names "
                       "directories under --data",
                       cfg->hostname_prefix ? cfg->hostname_prefix : "");
    return 0;
}

/* Every node: its cluster (restored when its data holds a node of this
 * swarm), its engine, and a place in the join queue unless restored. */
static int fleet_open_nodes(struct fleet *f, struct err *err)
{
    char root[PATH_MAX];
    char name[256];
    struct fleet_node *node;
    size_t i;

    for (i = 0; i < f->cfg->n_nodes; i++) {
        node = &f->nodes[i];
        node->f = f;
        node->idx = i;
        if (fleet_node_root(f, i, root, sizeof(root)) != 0)
            return err_set(err, ERR_INVALID, "data path too long: %s",
                           f->cfg->data_dir);
        if (fsutil_mkdir_p(root, 0700, err) != 0 ||
            fleet_check_cached(f, root, err) != 0)
            return -err->code;
        node->c = cluster_new(&f->loop, root, err);
        if (node->c == NULL)
            return -err->code;
        f->n_open++;
        snprintf(name, sizeof(name), "%s%zu", f->cfg->hostname_prefix, i);
        cluster_set_hostname(node->c, name);
        fleet_engine_node_init(&node->eng, &f->engine);
        cluster_set_task_engine(node->c, &fleet_engine_ops, &node->eng);
        if (cluster_state(node->c) == CLUSTER_ACTIVE) {
            node->in = true;
            f->n_in++;
            f->n_restored++;
        } else {
            fleet_enqueue(f, i);
        }
    }
    return 0;
}

int fleet_run(const struct fleet_config *cfg, struct err *err)
{
    struct fleet *f;
    int rv;

    rv = fleet_check(cfg, err);
    if (rv != 0)
        return rv;
    f = xcalloc(1, sizeof(*f));
    f->cfg = cfg;
    rv = ca_token_parse(cfg->token, f->digest, err);
    if (rv != 0) {
        rv = err_set(err, ERR_INVALID, "invalid join token");
        goto out;
    }
    rv = fleet_raise_nofile(cfg->n_nodes, err);
    if (rv != 0)
        goto out;
    rv = fsutil_mkdir_p(cfg->data_dir, 0700, err);
    if (rv != 0)
        goto out;
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (log_level > LOG_LEVEL_WARN)
        log_level = LOG_LEVEL_WARN; /* N nodes' info lines drown the rest */
    f->nodes = xcalloc(cfg->n_nodes, sizeof(*f->nodes));
    f->queue = xcalloc(cfg->n_nodes, sizeof(*f->queue));

    uv_loop_init(&f->loop);
    f->t0 = uv_now(&f->loop);
    fleet_engine_init(&f->engine, &f->loop);
    uv_timer_init(&f->loop, &f->tick);
    uv_timer_init(&f->loop, &f->kick);
    uv_signal_init(&f->loop, &f->sigint);
    uv_signal_init(&f->loop, &f->sigterm);
    f->tick.data = f;
    f->kick.data = f;
    f->sigint.data = f;
    f->sigterm.data = f;
    f->n_handles = 5;
    uv_signal_start(&f->sigint, fleet_on_signal, SIGINT);
    uv_signal_start(&f->sigterm, fleet_on_signal, SIGTERM);

    rv = fleet_open_nodes(f, err);
    if (rv != 0) {
        fleet_stop(f);
    } else {
        printf("fleet: %zu nodes (%zu restored from %s), joining %zu "
               "through %s, %u at a time\n",
               cfg->n_nodes, f->n_restored, cfg->data_dir, f->q_len,
               cfg->manager, FLEET_JOIN_CONCURRENCY);
        fleet_maybe_announce(f);
        uv_timer_start(&f->tick, fleet_on_tick, 0, FLEET__TICK_MS);
    }
    uv_run(&f->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&f->loop) != 0 || f->n_handles != 0) {
        fprintf(stderr, "fleet: handles left open at the end\n");
        abort();
    }
    if (rv == 0 && f->n_failed > 0)
        rv = err_set(err, ERR_UNAVAILABLE, "%zu of %zu nodes could not join",
                     f->n_failed, cfg->n_nodes);
    if (rv == 0)
        printf("fleet: stopped\n");

out:
    free(f->nodes);
    free(f->queue);
    free(f);
    return rv;
}

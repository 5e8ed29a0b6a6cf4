/* SPDX-License-Identifier: Apache-2.0 */
/* `shoal swarm ...`: init, join, join-token, leave, update, unlock,
 * unlock-key, ca; the same requests and texts as docker's. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "base/err.h"
#include "base/mem.h"
#include "cli/cli_int.h"

/* The longest we wait for a CA rotation to converge. */
#define CLI_SWARM__CA_WAIT_S 600

void cli_swarm_print_unlock(FILE *fp, const char *key)
{
    if (key == NULL || *key == '\0')
        return;
    fprintf(fp,
            "To unlock a swarm manager after it restarts, run the `" CLI_PROG
            " swarm unlock`\ncommand and provide the following key:\n\n"
            "    %s\n\n"
            "Remember to store this key in a password manager, since without "
            "it you\nwill not be able to restart the manager.\n",
            key);
}

/* docker validates --availability on the client for init and join. */
static int cli_swarm_availability(const struct cli_args *a, char *out,
                                  size_t cap, struct err *err)
{
    const char *v = cli_flag_str(a, "availability");
    size_t i;

    out[0] = '\0';
    if (!cli_flag_changed(a, "availability"))
        return 0;
    for (i = 0; v[i] != '\0' && i + 1 < cap; i++)
        out[i] = (char)tolower((unsigned char)v[i]);
    out[i] = '\0';
    if (strcmp(out, "active") != 0 && strcmp(out, "pause") != 0 &&
        strcmp(out, "drain") != 0)
        return err_set(err, ERR_INVALID,
                       "invalid availability \"%s\", only active, pause and "
                       "drain are supported",
                       v);
    return 0;
}

/* "10.1.2.3/8" -> "10.0.0.0/8", like Go's net.IPNet.String(). */
static char *cli_swarm_cidr_norm(const char *s, size_t len)
{
    char tmp[64];
    unsigned char addr[16];
    char text[INET6_ADDRSTRLEN];
    char *slash;
    int bits;
    int af;
    int nbytes;
    int i;

    if (len >= sizeof(tmp))
        return xstrndup(s, len);
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    slash = strchr(tmp, '/');
    if (slash == NULL)
        return xstrdup(tmp);
    *slash = '\0';
    bits = atoi(slash + 1);
    af = strchr(tmp, ':') != NULL ? AF_INET6 : AF_INET;
    if (inet_pton(af, tmp, addr) != 1)
        return xstrndup(s, len);
    nbytes = af == AF_INET ? 4 : 16;
    for (i = 0; i < nbytes; i++) {
        int keep = bits - 8 * i;

        if (keep <= 0)
            addr[i] = 0;
        else if (keep < 8)
            addr[i] &= (unsigned char)(0xFF << (8 - keep));
    }
    inet_ntop(af, addr, text, sizeof(text));
    return xasprintf("%s/%d", text, bits);
}

/* The Spec of an InitRequest: only fields whose flags were given. */
static json_t *cli_swarm_init_spec(const struct cli_args *a)
{
    json_t *spec = json_object();
    json_t *orch = json_object();
    json_t *raft = json_object();
    json_t *disp = json_object();
    json_t *ca = json_object();

    json_object_set_new(spec, "Labels", json_null());
    if (cli_flag_changed(a, "task-history-limit"))
        json_object_set_new(
            orch, "TaskHistoryRetentionLimit",
            json_integer(cli_flag_int(a, "task-history-limit")));
    json_object_set_new(spec, "Orchestration", orch);
    if (cli_flag_changed(a, "snapshot-interval") &&
        cli_flag_uint(a, "snapshot-interval") != 0)
        json_object_set_new(raft, "SnapshotInterval",
                            json_integer((json_int_t)cli_flag_uint(
                                a, "snapshot-interval")));
    if (cli_flag_changed(a, "max-snapshots"))
        json_object_set_new(raft, "KeepOldSnapshots",
                            json_integer((json_int_t)cli_flag_uint(
                                a, "max-snapshots")));
    json_object_set_new(raft, "ElectionTick", json_integer(0));
    json_object_set_new(raft, "HeartbeatTick", json_integer(0));
    json_object_set_new(spec, "Raft", raft);
    if (cli_flag_changed(a, "dispatcher-heartbeat") &&
        cli_flag_int(a, "dispatcher-heartbeat") != 0)
        json_object_set_new(disp, "HeartbeatPeriod",
                            json_integer(cli_flag_int(a,
                                                      "dispatcher-heartbeat")));
    json_object_set_new(spec, "Dispatcher", disp);
    if (cli_flag_changed(a, "cert-expiry") &&
        cli_flag_int(a, "cert-expiry") != 0)
        json_object_set_new(ca, "NodeCertExpiry",
                            json_integer(cli_flag_int(a, "cert-expiry")));
    json_object_set_new(spec, "CAConfig", ca);
    json_object_set_new(spec, "TaskDefaults", json_object());
    json_object_set_new(spec, "EncryptionConfig",
                        json_pack("{s:b}", "AutoLockManagers",
                                  cli_flag_bool(a, "autolock")));
    return spec;
}

/* "To add a worker to this swarm, run the following command: ..." with
 * the token of role and the address of the manager we talk to. */
static int cli_swarm_print_join(struct cli *c, const char *role,
                                const char *node_id, struct err *err)
{
    json_t *sw = NULL;
    json_t *node = NULL;
    char *path;
    char *esc;
    int rv;

    esc = cli_http_escape(node_id);
    path = xasprintf("/nodes/%s", esc);
    free(esc);
    rv = cli_http_json(c, "GET", path, NULL, &node, err);
    free(path);
    if (rv != 0)
        return rv;
    rv = cli_http_json(c, "GET", "/swarm", NULL, &sw, err);
    if (rv == 0) {
        printf("To add a %s to this swarm, run the following command:\n\n"
               "    " CLI_PROG " swarm join --token %s %s\n\n",
               role,
               cli_jstr(sw, strcmp(role, "manager") == 0
                                ? "JoinTokens.Manager"
                                : "JoinTokens.Worker"),
               cli_jstr(node, "ManagerStatus.Addr"));
    }
    json_decref(node);
    json_decref(sw);
    return rv;
}

int cli_swarm_init(struct cli *c, struct cli_args *a, struct err *err)
{
    char avail[16];
    json_t *req;
    json_t *pools;
    json_t *resp = NULL;
    const char **list;
    size_t n;
    size_t i;
    char *node_id = NULL;
    int rv;

    rv = cli_swarm_availability(a, avail, sizeof(avail), err);
    if (rv != 0)
        return rv;
    pools = json_array();
    list = cli_flag_list(a, "default-addr-pool", &n);
    for (i = 0; i < n; i++) {
        const char *p = list[i];

        while (*p != '\0') {
            size_t l = strcspn(p, ",");
            char *norm = cli_swarm_cidr_norm(p, l);

            json_array_append_new(pools, json_string(norm));
            free(norm);
            p += l;
            if (*p == ',')
                p++;
        }
    }
    req = json_object();
    json_object_set_new(req, "ListenAddr",
                        json_string(cli_flag_str(a, "listen-addr")));
    json_object_set_new(req, "AdvertiseAddr",
                        json_string(cli_flag_str(a, "advertise-addr")));
    json_object_set_new(req, "DataPathAddr",
                        json_string(cli_flag_str(a, "data-path-addr")));
    json_object_set_new(req, "DataPathPort",
                        json_integer((json_int_t)cli_flag_uint(
                            a, "data-path-port")));
    json_object_set_new(req, "ForceNewCluster",
                        json_boolean(cli_flag_bool(a, "force-new-cluster")));
    json_object_set_new(req, "Spec", cli_swarm_init_spec(a));
    json_object_set_new(req, "AutoLockManagers",
                        json_boolean(cli_flag_bool(a, "autolock")));
    json_object_set_new(req, "Availability", json_string(avail));
    json_object_set_new(req, "DefaultAddrPool", pools);
    json_object_set_new(req, "SubnetSize",
                        json_integer((json_int_t)cli_flag_uint(
                            a, "default-addr-pool-mask-length")));
    rv = cli_http_json(c, "POST", "/swarm/init", req, &resp, err);
    json_decref(req);
    if (rv != 0) {
        if (strstr(err->msg, "could not choose an IP address to advertise") !=
                NULL ||
            strstr(err->msg, "could not find the system's IP address") !=
                NULL) {
            size_t l = strlen(err->msg);

            snprintf(err->msg + l, sizeof(err->msg) - l,
                     " - specify one with --advertise-addr");
        }
        return rv;
    }
    node_id = xstrdup(json_is_string(resp) ? json_string_value(resp) : "");
    json_decref(resp);
    printf("Swarm initialized: current node (%s) is now a manager.\n\n",
           node_id);
    rv = cli_swarm_print_join(c, "worker", node_id, err);
    free(node_id);
    if (rv != 0)
        return rv;
    printf("To add a manager to this swarm, run '" CLI_PROG
           " swarm join-token manager' and follow the instructions.\n");
    if (cli_flag_bool(a, "autolock")) {
        json_t *key = NULL;

        rv = cli_http_json(c, "GET", "/swarm/unlockkey", NULL, &key, err);
        if (rv != 0)
            return err_wrap(err, "could not fetch unlock key");
        cli_swarm_print_unlock(stdout, cli_jstr(key, "UnlockKey"));
        json_decref(key);
    }
    return 0;
}

int cli_swarm_join(struct cli *c, struct cli_args *a, struct err *err)
{
    char avail[16];
    json_t *req;
    json_t *info = NULL;
    int rv;

    rv = cli_swarm_availability(a, avail, sizeof(avail), err);
    if (rv != 0)
        return rv;
    req = json_object();
    json_object_set_new(req, "ListenAddr",
                        json_string(cli_flag_str(a, "listen-addr")));
    json_object_set_new(req, "AdvertiseAddr",
                        json_string(cli_flag_str(a, "advertise-addr")));
    json_object_set_new(req, "DataPathAddr",
                        json_string(cli_flag_str(a, "data-path-addr")));
    json_object_set_new(req, "RemoteAddrs", json_pack("[s]", a->argv[0]));
    json_object_set_new(req, "JoinToken",
                        json_string(cli_flag_str(a, "token")));
    json_object_set_new(req, "Availability", json_string(avail));
    rv = cli_http_json(c, "POST", "/swarm/join", req, NULL, err);
    json_decref(req);
    if (rv != 0)
        return rv;
    rv = cli_http_json(c, "GET", "/info", NULL, &info, err);
    if (rv != 0)
        return rv;
    if (cli_jbool(info, "Swarm.ControlAvailable"))
        printf("This node joined a swarm as a manager.\n");
    else
        printf("This node joined a swarm as a worker.\n");
    json_decref(info);
    return 0;
}

/* POST /swarm/update with sw's Spec and version and the rotation flags. */
static int cli_swarm_post_update(struct cli *c, const json_t *sw,
                                 const json_t *spec, bool rot_worker,
                                 bool rot_manager, bool rot_unlock,
                                 struct err *err)
{
    char *path;
    int rv;

    /* Go sorts the query keys */
    path = xasprintf("/swarm/update?rotateManagerToken=%s"
                     "&rotateManagerUnlockKey=%s&rotateWorkerToken=%s"
                     "&version=%lld",
                     rot_manager ? "true" : "false",
                     rot_unlock ? "true" : "false",
                     rot_worker ? "true" : "false",
                     cli_jint(sw, "Version.Index"));
    rv = cli_http_json(c, "POST", path, spec, NULL, err);
    free(path);
    return rv;
}

int cli_swarm_join_token(struct cli *c, struct cli_args *a, struct err *err)
{
    const char *role = a->argv[0];
    bool worker = strcmp(role, "worker") == 0;
    bool manager = strcmp(role, "manager") == 0;
    bool quiet = cli_flag_bool(a, "quiet");
    json_t *sw = NULL;
    json_t *info = NULL;
    int rv;

    if (!worker && !manager)
        return err_set(err, ERR_INVALID, "unknown role %s", role);
    if (cli_flag_bool(a, "rotate")) {
        rv = cli_http_json(c, "GET", "/swarm", NULL, &sw, err);
        if (rv != 0)
            return rv;
        rv = cli_swarm_post_update(c, sw, cli_jget(sw, "Spec"), worker,
                                   manager, false, err);
        json_decref(sw);
        sw = NULL;
        if (rv != 0)
            return rv;
        if (!quiet)
            printf("Successfully rotated %s join token.\n\n", role);
    }
    /* docker reads the swarm (the token) before anything else */
    rv = cli_http_json(c, "GET", "/swarm", NULL, &sw, err);
    if (rv != 0)
        return rv;
    if (quiet) {
        printf("%s\n", cli_jstr(sw, worker ? "JoinTokens.Worker"
                                           : "JoinTokens.Manager"));
        json_decref(sw);
        return 0;
    }
    json_decref(sw);
    rv = cli_http_json(c, "GET", "/info", NULL, &info, err);
    if (rv != 0)
        return rv;
    rv = cli_swarm_print_join(c, role, cli_jstr(info, "Swarm.NodeID"), err);
    json_decref(info);
    return rv;
}

int cli_swarm_leave(struct cli *c, struct cli_args *a, struct err *err)
{
    int rv;

    rv = cli_http_json(c, "POST",
                       cli_flag_bool(a, "force") ? "/swarm/leave?force=1"
                                                 : "/swarm/leave",
                       NULL, NULL, err);
    if (rv != 0)
        return rv;
    printf("Node left the swarm.\n");
    return 0;
}

/* Apply the update flags that init and update share to a full Spec. */
static void cli_swarm_merge_spec(const struct cli_args *a, json_t *spec)
{
    if (cli_flag_changed(a, "task-history-limit"))
        cli_jset(spec, "Orchestration.TaskHistoryRetentionLimit",
                 json_integer(cli_flag_int(a, "task-history-limit")));
    if (cli_flag_changed(a, "dispatcher-heartbeat"))
        cli_jset(spec, "Dispatcher.HeartbeatPeriod",
                 json_integer(cli_flag_int(a, "dispatcher-heartbeat")));
    if (cli_flag_changed(a, "cert-expiry"))
        cli_jset(spec, "CAConfig.NodeCertExpiry",
                 json_integer(cli_flag_int(a, "cert-expiry")));
    if (cli_flag_changed(a, "snapshot-interval"))
        cli_jset(spec, "Raft.SnapshotInterval",
                 json_integer((json_int_t)cli_flag_uint(a,
                                                        "snapshot-interval")));
    if (cli_flag_changed(a, "max-snapshots"))
        cli_jset(spec, "Raft.KeepOldSnapshots",
                 json_integer((json_int_t)cli_flag_uint(a, "max-snapshots")));
    if (cli_flag_changed(a, "autolock"))
        cli_jset(spec, "EncryptionConfig.AutoLockManagers",
                 json_boolean(cli_flag_bool(a, "autolock")));
}

int cli_swarm_update(struct cli *c, struct cli_args *a, struct err *err)
{
    const struct cli_flag *f;
    json_t *sw = NULL;
    json_t *spec;
    bool any = false;
    bool prev_lock;
    int rv;

    for (f = a->cmd->flags; f->name != NULL; f++)
        any = any || cli_flag_changed(a, f->name);
    if (!any) {
        /* docker prints the command's help when nothing is to change */
        cli_print_help(stdout, a);
        return 0;
    }
    rv = cli_http_json(c, "GET", "/swarm", NULL, &sw, err);
    if (rv != 0)
        return rv;
    prev_lock = cli_jbool(sw, "Spec.EncryptionConfig.AutoLockManagers");
    spec = json_deep_copy(cli_jget(sw, "Spec"));
    if (spec == NULL)
        spec = json_object();
    cli_swarm_merge_spec(a, spec);
    rv = cli_swarm_post_update(c, sw, spec, false, false, false, err);
    json_decref(sw);
    if (rv != 0) {
        json_decref(spec);
        return rv;
    }
    printf("Swarm updated.\n");
    if (cli_jbool(spec, "EncryptionConfig.AutoLockManagers") && !prev_lock) {
        json_t *key = NULL;

        rv = cli_http_json(c, "GET", "/swarm/unlockkey", NULL, &key, err);
        if (rv != 0) {
            json_decref(spec);
            return err_wrap(err, "could not fetch unlock key");
        }
        cli_swarm_print_unlock(stdout, cli_jstr(key, "UnlockKey"));
        json_decref(key);
    }
    json_decref(spec);
    return 0;
}

/* Read the unlock key: prompt without echo on a terminal, else one line. */
static char *cli_swarm_read_key(void)
{
    struct termios old;
    struct termios quiet;
    char line[1024];
    bool tty = isatty(STDIN_FILENO) == 1;
    bool restored = true;
    char *s;
    size_t n;

    if (tty) {
        printf("Enter unlock key: ");
        fflush(stdout);
        if (tcgetattr(STDIN_FILENO, &old) == 0) {
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            restored = tcsetattr(STDIN_FILENO, TCSANOW, &quiet) != 0;
        }
    }
    s = fgets(line, sizeof(line), stdin);
    if (tty) {
        if (!restored)
            (void)tcsetattr(STDIN_FILENO, TCSANOW, &old);
        printf("\n");
    }
    if (s == NULL)
        return xstrdup("");
    while (isspace((unsigned char)*s))
        s++;
    n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    return xstrndup(s, n);
}

int cli_swarm_unlock(struct cli *c, struct cli_args *a, struct err *err)
{
    json_t *info = NULL;
    json_t *req;
    const char *state;
    char *key;
    int rv;

    (void)a;
    rv = cli_http_json(c, "GET", "/info", NULL, &info, err);
    if (rv != 0)
        return rv;
    state = cli_jstr(info, "Swarm.LocalNodeState");
    if (strcmp(state, "inactive") == 0)
        rv = err_set(err, ERR_UNAVAILABLE,
                     "Error: This node is not part of a swarm");
    else if (strcmp(state, "locked") != 0)
        rv = err_set(err, ERR_CONFLICT, "Error: swarm is not locked");
    json_decref(info);
    if (rv != 0)
        return rv;
    key = cli_swarm_read_key();
    req = json_pack("{s:s}", "UnlockKey", key);
    free(key);
    rv = cli_http_json(c, "POST", "/swarm/unlock", req, NULL, err);
    json_decref(req);
    return rv;
}

int cli_swarm_unlock_key(struct cli *c, struct cli_args *a, struct err *err)
{
    bool quiet = cli_flag_bool(a, "quiet");
    json_t *key = NULL;
    const char *k;
    int rv;

    if (cli_flag_bool(a, "rotate")) {
        json_t *sw = NULL;

        rv = cli_http_json(c, "GET", "/swarm", NULL, &sw, err);
        if (rv != 0)
            return rv;
        if (!cli_jbool(sw, "Spec.EncryptionConfig.AutoLockManagers")) {
            json_decref(sw);
            return err_set(err, ERR_INVALID,
                           "cannot rotate because autolock is not turned on");
        }
        rv = cli_swarm_post_update(c, sw, cli_jget(sw, "Spec"), false, false,
                                   true, err);
        json_decref(sw);
        if (rv != 0)
            return rv;
        if (!quiet)
            printf("Successfully rotated manager unlock key.\n");
    }
    rv = cli_http_json(c, "GET", "/swarm/unlockkey", NULL, &key, err);
    if (rv != 0)
        return err_wrap(err, "could not fetch unlock key");
    k = cli_jstr(key, "UnlockKey");
    if (*k == '\0') {
        json_decref(key);
        return err_set(err, ERR_NOTFOUND, "no unlock key is set");
    }
    if (quiet)
        printf("%s\n", k);
    else
        cli_swarm_print_unlock(stdout, k);
    json_decref(key);
    return 0;
}

static void cli_swarm_print_root(const json_t *sw)
{
    const char *root = cli_jstr(sw, "TLSInfo.TrustRoot");
    size_t n;

    while (isspace((unsigned char)*root))
        root++;
    n = strlen(root);
    while (n > 0 && isspace((unsigned char)root[n - 1]))
        n--;
    printf("%.*s\n", (int)n, root);
}

int cli_swarm_ca(struct cli *c, struct cli_args *a, struct err *err)
{
    json_t *sw = NULL;
    json_t *spec;
    time_t deadline;
    int rv;

    if (!cli_flag_changed(a, "rotate") && cli_flag_changed(a, "cert-expiry"))
        return err_set(err, ERR_INVALID,
                       "`--cert-expiry` flag requires the `--rotate` flag to "
                       "update the CA");
    rv = cli_http_json(c, "GET", "/swarm", NULL, &sw, err);
    if (rv != 0)
        return rv;
    if (!cli_flag_bool(a, "rotate")) {
        cli_swarm_print_root(sw);
        json_decref(sw);
        return 0;
    }
    spec = json_deep_copy(cli_jget(sw, "Spec"));
    if (spec == NULL)
        spec = json_object();
    cli_jset(spec, "CAConfig.ForceRotate",
             json_integer(cli_jint(spec, "CAConfig.ForceRotate") + 1));
    if (cli_flag_changed(a, "cert-expiry"))
        cli_jset(spec, "CAConfig.NodeCertExpiry",
                 json_integer(cli_flag_int(a, "cert-expiry")));
    rv = cli_swarm_post_update(c, sw, spec, false, false, false, err);
    json_decref(spec);
    json_decref(sw);
    if (rv != 0 || cli_flag_bool(a, "detach"))
        return rv;
    /* docker shows a progress display here; we wait quietly */
    deadline = time(NULL) + CLI_SWARM__CA_WAIT_S;
    for (;;) {
        rv = cli_http_json(c, "GET", "/swarm", NULL, &sw, err);
        if (rv != 0)
            return rv;
        if (!cli_jbool(sw, "RootRotationInProgress"))
            break;
        json_decref(sw);
        sw = NULL;
        if (time(NULL) >= deadline)
            return err_set(err, ERR_UNAVAILABLE,
                           "timed out waiting for the root CA rotation to "
                           "converge");
        sleep(1);
    }
    if (!cli_flag_bool(a, "quiet"))
        cli_swarm_print_root(sw);
    json_decref(sw);
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* /_ping, /version and /info. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "api/api_int.h"
#include "base/fsutil.h"
#include "base/ids.h"
#include "base/mem.h"
#include "cluster/cluster.h"
#include "manager/store/store.h"
#include "version.h"

void api_system_ping(struct api_req *req)
{
    api_reply_ping(req, cluster_ping_state(req->cluster));
}

/* Go's GOARCH names for uname's machine. */
static const char *api_goarch(const char *machine)
{
    if (strcmp(machine, "x86_64") == 0)
        return "amd64";
    if (strcmp(machine, "aarch64") == 0)
        return "arm64";
    if (strncmp(machine, "arm", 3) == 0)
        return "arm";
    return machine;
}

void api_system_version(struct api_req *req)
{
    struct utsname u;
    json_t *v;

    uname(&u);
    v = json_pack(
        "{s:{s:s}, s:[{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}}], s:s, s:s,"
        " s:s, s:s, s:s, s:s, s:s, s:s}",
        "Platform", "Name", "shoal", "Components", "Name", "Engine",
        "Version", SHOAL_VERSION, "Details", "ApiVersion", API_VERSION_MAX,
        "Arch", api_goarch(u.machine), "KernelVersion", u.release,
        "MinAPIVersion", API_VERSION_MIN, "Os", "linux", "Version",
        SHOAL_VERSION, "ApiVersion", API_VERSION_MAX, "MinAPIVersion",
        API_VERSION_MIN, "GitCommit", "", "GoVersion", "", "Os", "linux",
        "Arch", api_goarch(u.machine), "KernelVersion", u.release);
    api_reply_json(req, 200, v);
}

/* Drop the internal ('_'-prefixed) fields of out, a copy; returns it. */
static json_t *api_public_strip(json_t *out)
{
    const char *key;
    json_t *v;
    void *tmp;

    json_object_foreach_safe(out, tmp, key, v) {
        if (key[0] == '_')
            json_object_del(out, key);
    }
    return out;
}

json_t *api_public_copy(const json_t *obj)
{
    return api_public_strip(json_deep_copy(obj));
}

json_t *api_public_view(const json_t *obj)
{
    return api_public_strip(json_copy((json_t *)obj));
}

/* The daemon's engine ID: a UUID kept in <data-root>/engine-id. */
static const char *api_engine_id(const struct cluster *c)
{
    static char id[64];
    char path[4096];
    char *text = NULL;

    if (id[0] != '\0')
        return id;
    snprintf(path, sizeof(path), "%s/engine-id", cluster_data_root(c));
    if (fsutil_read_all(path, sizeof(id) - 1, &text, NULL, NULL) == 0 &&
        strlen(text) == 36) {
        snprintf(id, sizeof(id), "%s", text);
    } else {
        unsigned char r[16];

        ids_random(r, sizeof(r));
        r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
        r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
        snprintf(id, sizeof(id),
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                 "%02x%02x%02x%02x%02x%02x",
                 r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9],
                 r[10], r[11], r[12], r[13], r[14], r[15]);
        fsutil_write_atomic(path, id, strlen(id), 0600, NULL);
    }
    free(text);
    return id;
}

void api_system_load_id(const struct cluster *c)
{
    (void)api_engine_id(c);
}

/* The Swarm section of /info. */
static json_t *api_swarm_info(const struct api_req *req)
{
    struct cluster *c = req->cluster;
    enum cluster_state st = cluster_state(c);
    const struct store *s;
    json_t *info;
    json_t *remote = json_null();

    info = json_pack("{s:s, s:s, s:s, s:b, s:s}", "NodeID",
                     cluster_node_id(c), "NodeAddr", cluster_node_addr(c),
                     "LocalNodeState", cluster_state_name(st),
                     "ControlAvailable", cluster_is_manager(c), "Error",
                     cluster_error(c));
    s = cluster_is_manager(c) ? cluster_manager_store(c, NULL) : NULL;
    if (s != NULL) {
        const char *id;
        json_t *node;
        json_int_t n_nodes = 0;
        json_int_t n_managers = 0;

        remote = json_array();
        json_object_foreach(store_all(s, STORE_NODE), id, node) {
            json_t *raft = json_object_get(node, "_Raft");

            n_nodes++;
            if (raft == NULL)
                continue;
            n_managers++;
            json_array_append_new(
                remote, json_pack("{s:s, s:O}", "NodeID", id, "Addr",
                                  json_object_get(raft, "Addr")));
        }
        json_object_set_new(info, "Nodes", json_integer(n_nodes));
        json_object_set_new(info, "Managers", json_integer(n_managers));
        if (store_cluster(s) != NULL) {
            json_t *ci = api_public_copy(store_cluster(s));

            json_object_del(ci, "JoinTokens");
            json_object_set_new(info, "Cluster", ci);
        }
    }
    if (s == NULL && st == CLUSTER_ACTIVE &&
        cluster_remote_managers(c) != NULL)
        remote = json_deep_copy(cluster_remote_managers(c));
    json_object_set_new(info, "RemoteManagers", remote);
    return info;
}

void api_system_info(struct api_req *req)
{
    struct utsname u;
    char host[256] = "";
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    long pages = sysconf(_SC_PHYS_PAGES);
    long psize = sysconf(_SC_PAGESIZE);
    char *root;
    json_t *v;

    uname(&u);
    gethostname(host, sizeof(host) - 1);
    root = xstrdup(cluster_data_root(req->cluster));
    v = json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:s, s:[]}", "ID",
                  api_engine_id(req->cluster), "Containers", 0, "ContainersRunning", 0,
                  "ContainersPaused", 0, "ContainersStopped", 0, "Images", 0,
                  "Driver", "overlayfs", "DriverStatus");
    json_object_update_missing_new(
        v, json_pack("{s:{s:[], s:[], s:n, s:[]}}", "Plugins", "Volume",
                     "Network", "Authorization", "Log"));
    json_object_update_missing_new(
        v, json_pack("{s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b}",
                     "MemoryLimit", 1, "SwapLimit", 0, "KernelMemory", 0,
                     "CpuCfsPeriod", 1, "CpuCfsQuota", 1, "CPUShares", 1,
                     "CPUSet", 1, "PidsLimit", 1, "IPv4Forwarding", 1,
                     "Debug", 0));
    json_object_update_missing_new(
        v, json_pack("{s:i, s:i, s:b, s:s, s:s, s:s, s:i}", "NFd", 0,
                     "NGoroutines", 0, "OomKillDisable", 0, "LoggingDriver",
                     "json-file", "CgroupDriver", "cgroupfs", "CgroupVersion",
                     "1", "NEventsListener", 0));
    json_object_update_missing_new(
        v, json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s}",
                     "KernelVersion", u.release, "OperatingSystem", "linux",
                     "OSType", "linux", "Architecture", u.machine, "NCPU",
                     (json_int_t)(ncpu > 0 ? ncpu : 1), "Name", host,
                     "ServerVersion", SHOAL_VERSION, "DockerRootDir", root));
    json_object_update_missing_new(
        v, json_pack("{s:{s:{s:s}}, s:s, s:n}", "Runtimes", "runc", "path",
                     "runc", "DefaultRuntime", "runc", "Warnings"));
    free(root);
    json_object_set_new(v, "MemTotal",
                        json_integer((json_int_t)(pages > 0 && psize > 0
                                                      ? pages * psize
                                                      : 0)));
    {
        char now[64];
        time_t t = time(NULL);
        struct tm tm;

        localtime_r(&t, &tm);
        strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%S%z", &tm);
        json_object_set_new(v, "SystemTime", json_string(now));
    }
    json_object_set_new(v, "Swarm", api_swarm_info(req));
    json_object_set_new(v, "SecurityOptions", json_array());
    json_object_set_new(v, "Labels", json_array());
    json_object_set_new(v, "ExperimentalBuild", json_false());
    json_object_set_new(v, "LiveRestoreEnabled", json_false());
    json_object_set_new(v, "Isolation", json_string(""));
    json_object_set_new(v, "InitBinary", json_string(""));
    json_object_set_new(v, "ContainerdCommit",
                        json_pack("{s:s}", "ID", ""));
    json_object_set_new(v, "RuncCommit", json_pack("{s:s}", "ID", ""));
    json_object_set_new(v, "InitCommit", json_pack("{s:s}", "ID", ""));
    json_object_set_new(v, "IndexServerAddress",
                        json_string("https://index.docker.io/v1/"));
    json_object_set_new(
        v, "RegistryConfig",
        json_pack("{s:[], s:{}, s:[]}", "InsecureRegistryCIDRs",
                  "IndexConfigs", "Mirrors"));
    api_reply_json(req, 200, v);
}
